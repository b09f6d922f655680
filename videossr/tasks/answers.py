"""Extract answers from free model output: time intervals, class counts and clip orders.

Tolerant of what models wrap around an answer, strict about the answer itself:

* Wrappers that are ignored: surrounding whitespace, a trailing period, ``<answer>...</answer>`` tags (the last
  tagged block wins), a lead-in such as "The answer is" / "Answer:" (the text after the last one is read), quotes,
  backticks, ``**bold**``, brackets, full-width characters (NFKC-normalised: ``１４．５`` reads as ``14.5``), and
  en/em dashes, minus signs and tildes as range separators.
* The answer itself must be unambiguous: when the text holds two different candidate answers (for example two
  different intervals), the result is ``None``. A model that hedges earns nothing.

None of these functions raises on any string; anything that is not a ``str`` parses as ``None``. Digits are ASCII
``0-9`` after NFKC normalisation (which maps full-width and circled digits); other scripts' digits are not numbers here.
Parsing takes time linear in the length of the text: no pattern is retried from every position of a long run (many
``<answer>`` tags, long digit runs), so a runaway response of megabytes is read in about a second, not hours.

Decisions (the scorers in ``videossr.tasks.metrics`` rely on them):

``parse_interval``
    Returns ``(start, end)`` in seconds exactly as written, in the written order; a reversed interval is returned
    reversed and judged by the scorer (IoU 0). Numbers are non-negative decimals with at most 9 integer digits, or
    clock times ``m:ss`` / ``h:mm:ss`` (converted to seconds). Forms: ``14.5-26.2``, ``12.5 - 20``,
    ``from 12.5s to 20s``, ``12.5 to 20 seconds``, ``between 3 and 4.5 seconds``, ``[3.0, 4.5]``, ``(3.0, 4.5)``,
    ``start: 3.0, end: 4.5``. A signed number (``-1.0-2.0``) is not an interval.
``parse_counts``
    Exactly three non-negative integers (at most 9 digits each) separated by commas, optional spaces after the
    commas: ``3,1,4`` or ``3, 1, 4``; or the three counts written with their class names, in any order of the
    classes: ``circles: 3, squares: 1, triangles: 4``, ``3 circles, 1 square and 4 triangles``,
    ``Circles=3; Squares=1; Triangles=4``. Two or four numbers, decimals, signs, a class left out or given two
    different numbers, or a labelled reading that disagrees with a bare triple give ``None``.
``parse_order``
    A permutation of ``1..n`` written as ``n`` digits, either contiguous (``341562``) or separated by commas/spaces
    (``3,4,1,5,6,2``, ``3 4 1 5 6 2``). A wrong digit count, a repeated digit, a ``0`` or a digit above ``n`` give
    ``None`` (so both the smooth and the strict jigsaw score are 0: a non-permutation has no displacement).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "answer_region", "parse_interval", "parse_counts", "parse_order", "as_permutation"]

# Characters that NFKC leaves alone but that models use as a range dash.
_DASHES = str.maketrans(
    {
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2015": "-",  # horizontal bar
        "\u2212": "-",  # minus sign
        "\u301c": "~",  # wave dash
        "\u3001": ",",  # ideographic comma
        "\u3002": ".",  # ideographic full stop
    }
)

_TAG_RE = re.compile(r"<(/?)answer>", re.IGNORECASE | re.ASCII)  # an opening or a closing answer tag
_LEAD_IN_RE = re.compile(r"\b(?:final answer|answer)\b(?: is)?(?: ?[:=])?", re.IGNORECASE | re.ASCII)
WRAP_CHARS = " \t\n.;:!\"'`*_[](){}<>"  # around counts and orders, stripped before they are read
DIGITS = "0123456789"


def normalize(text: object) -> str | None:
    """NFKC-normalise, map dashes, collapse whitespace runs to one space; ``None`` for a non-``str``."""
    if not isinstance(text, str):
        return None
    return " ".join(unicodedata.normalize("NFKC", text).translate(_DASHES).split())


def answer_region(text: str) -> str:
    """The part of normalised ``text`` that holds the answer: the last <answer> block, else after the last lead-in.

    A block runs from an opening tag to the first closing tag after it, and the next block starts at the first
    opening tag after that (tags in between are text). With no complete block, an unclosed tag (the response was
    cut) leaves what follows the last opening tag. One pass over the tags: ``"<answer>" * 18725 + "341562"`` reads
    as ``341562``.
    """
    block = None  # (start, end) of the last complete block
    opened = None  # end of the opening tag of the block being read
    last_open = None  # end of the last opening tag
    for tag in _TAG_RE.finditer(text):
        if not tag[1]:
            last_open = tag.end()
            if opened is None:
                opened = last_open
        elif opened is not None:
            block, opened = (opened, tag.start()), None
    if block is not None:
        return text[block[0] : block[1]].strip()
    if last_open is not None:
        return text[last_open:].strip()
    lead = None
    for lead in _LEAD_IN_RE.finditer(text):
        pass
    if lead is not None and lead.end() < len(text):
        tail = text[lead.end() :].strip()
        if any(ch in DIGITS for ch in tail):
            return tail
    return text.strip()


def _strip_wrappers(region: str) -> str:
    return region.strip(WRAP_CHARS)


# ---------------------------------------------------------------------------------------------------------------
# Intervals

# A non-negative decimal (<= 9 integer digits) or a clock time m:ss(.f) / h:mm:ss(.f); never part of a longer number.
_NUM_TAIL = r"\d{0,8}(?::[0-5]\d){0,2}(?:\.\d{1,9})?)(?![\d:]|\.\d)"
_NUM = r"((?<![\d.:\-+])\d" + _NUM_TAIL  # first number of an interval: unsigned
_NUM2 = r"((?<![\d.:])\d" + _NUM_TAIL  # second number: may follow the "-" separator
_UNIT = r"(?: ?(?:s|sec|secs|second|seconds)\b)?"
_INTERVAL_RES = (
    # 14.5-26.2, from 12.5s to 20s, 12.5 ~ 20 seconds
    re.compile(
        _NUM + _UNIT + r" ?(?:-|~|\bto\b|\buntil\b|\btill\b|\bthrough\b) ?" + _NUM2 + _UNIT,
        re.IGNORECASE | re.ASCII,
    ),
    # [3.0, 4.5] or (3.0, 4.5)
    re.compile(r"[\[(] ?" + _NUM + _UNIT + r" ?[,;] ?" + _NUM + _UNIT + r" ?[\])]", re.IGNORECASE | re.ASCII),
    # between 3 and 4.5 seconds
    re.compile(r"\bbetween " + _NUM + _UNIT + r" and " + _NUM + _UNIT, re.IGNORECASE | re.ASCII),
    # start: 3.0, end: 4.5 / "start_time": 3.0, "end_time": 4.5 / start time is 3.0 s and end time is 4.5 s
    re.compile(
        r"\bstart(?:s|ing|ed)?(?:[ _]?time)?\W{0,3}(?: ?(?:is|at|=))*\W{0,2}"
        + _NUM
        + _UNIT
        + r"\W{0,4}(?:and )?(?:the )?(?:it )?end(?:s|ing|ed)?(?:[ _]?time)?\W{0,3}(?: ?(?:is|at|=))*\W{0,2}"
        + _NUM
        + _UNIT,
        re.IGNORECASE | re.ASCII,
    ),
)
# A whole answer that is just two numbers separated by a comma: "12.5, 20.0" (only as the entire answer, never
# searched for inside prose, where any two numbers would match).
_BARE_PAIR_RE = re.compile(_NUM + _UNIT + r" ?, ?" + _NUM + _UNIT, re.IGNORECASE | re.ASCII)
# Qwen3-VL prints frame times as "<12.5 seconds>"; models echo that form in answers.
_QWEN_TIME_RE = re.compile(r"<(\d[\d.:]*) ?(?:s|secs?|seconds?)?>", re.IGNORECASE | re.ASCII)


def _seconds(token: str) -> float:
    """Seconds of a matched number token (a decimal or a clock time)."""
    total = 0.0
    for part in token.split(":"):
        total = total * 60.0 + float(part)
    return total


def _intervals_in(text: str) -> set[tuple[float, float]]:
    return {(_seconds(a), _seconds(b)) for pattern in _INTERVAL_RES for a, b in pattern.findall(text)}


def parse_interval(text: str) -> tuple[float, float] | None:
    """The one interval (start, end) in seconds that ``text`` answers, as written; ``None`` if none or ambiguous."""
    norm = normalize(text)
    if not norm:
        return None
    norm = _QWEN_TIME_RE.sub(r"\1 s", norm)
    region = answer_region(norm)
    found = _intervals_in(region)
    if not found and region != norm and "<answer>" not in norm.lower():
        found = _intervals_in(norm)  # a lead-in matched but the interval sits elsewhere (a tag is final)
    if not found:
        m = _BARE_PAIR_RE.fullmatch(_strip_wrappers(region))
        if m:
            found = {(_seconds(m.group(1)), _seconds(m.group(2)))}
    if len(found) != 1:
        return None
    return found.pop()


# ---------------------------------------------------------------------------------------------------------------
# Counts

_COUNTS_FULL_RE = re.compile(r"(\d{1,9}), ?(\d{1,9}), ?(\d{1,9})", re.ASCII)
_COUNTS_SEARCH_RE = re.compile(r"((?<![\d.,\-+])\d{1,9}) ?, ?(\d{1,9}) ?, ?(\d{1,9})(?![\d,]|\.\d| ,)", re.ASCII)


def parse_counts(text: str) -> tuple[int, int, int] | None:
    """The (circles, squares, triangles) triple that ``text`` answers; ``None`` if absent, malformed or ambiguous."""
    norm = normalize(text)
    if not norm:
        return None
    region = answer_region(norm)
    m = _COUNTS_FULL_RE.fullmatch(_strip_wrappers(region))
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    found = {(int(a), int(b), int(c)) for a, b, c in _COUNTS_SEARCH_RE.findall(region)}
    labelled = _labelled_counts(region)
    if labelled is not None:
        found.add(labelled)
    if len(found) != 1:
        return None
    return found.pop()


# Labelled counts: "circles: 3, squares: 1, triangles: 4", "3 circles, 1 square and 4 triangles",
# "Circles=3; Squares=1; Triangles=4", in any order of the labels.
_CLASS_ORDER = ("circle", "square", "triangle")
_LABEL = r"(circle|square|triangle)s?\b"
_LABEL_THEN_NUMBER_RE = re.compile(
    r"\b" + _LABEL + r" ?(?::|=|-|\bis\b|\bare\b)? ?(\d{1,9})(?![\d.])", re.IGNORECASE | re.ASCII
)
_NUMBER_THEN_LABEL_RE = re.compile(r"((?<![\d.])\d{1,9}) ?" + _LABEL, re.IGNORECASE | re.ASCII)


def _complete(pairs: list[tuple[str, str]]) -> tuple[int, int, int] | None:
    """The triple from (class name, number) pairs if every class is named, always with the same number; else None."""
    counts: dict[str, int] = {}
    for label, number in pairs:
        if counts.setdefault(label.lower(), int(number)) != int(number):
            return None
    if len(counts) != len(_CLASS_ORDER):
        return None
    return counts["circle"], counts["square"], counts["triangle"]


def _labelled_counts(region: str) -> tuple[int, int, int] | None:
    """Counts written with their class names, in either word order; None unless exactly one reading is complete."""
    label_first = _complete(_LABEL_THEN_NUMBER_RE.findall(region))
    number_first = _complete([(label, n) for n, label in _NUMBER_THEN_LABEL_RE.findall(region)])
    if label_first is None or number_first is None or label_first == number_first:
        return label_first or number_first
    return None  # two complete readings that disagree


# ---------------------------------------------------------------------------------------------------------------
# Orders

# A run of digits, each after the one before or after a separator (",", ", " or " "). Where an order may start and
# end inside a run is decided by _order_tokens, in one pass over the run.
_DIGIT_RUN_RE = re.compile(r"\d(?:(?:, ?| )?\d)*", re.ASCII)
_TO_LAST_SPACED_DIGIT_RE = re.compile(r".*\d(?= )", re.ASCII | re.DOTALL)  # up to the last digit followed by " "


def _order_tokens(region: str) -> list[str]:
    """The candidate orders of ``region``, at most one per run of digits.

    A candidate starts at a digit that is not written after ``. , - +`` (a run's first digit) or after a space (a
    digit inside the run), and ends at the run's end, unless the run is followed by a ``,`` or a decimal point and
    digit: then it ends before the run's last plain space separator. It is the longest such stretch (the first start,
    the last end), so ``3 4 1 5 6 2,`` gives ``3 4 1 5 6`` and ``1.5 2 3`` gives ``2 3``.
    """
    tokens = []
    for run in _DIGIT_RUN_RE.finditer(region):
        start, end = run.span()
        after = region[end : end + 2]
        if after[:1] == "," or (after[:1] == "." and after[1:2] != "" and after[1:2] in DIGITS):
            last = _TO_LAST_SPACED_DIGIT_RE.match(region, start, end)  # not before ", ": that digit is followed by ","
            if last is None:
                continue
            end = last.end()
        if start > 0 and region[start - 1] in ".,-+":
            start = region.find(" ", start, end) + 1
            if start == 0:
                continue
        tokens.append(region[start:end])
    return tokens


_ORDER_FULL_RE = re.compile(r"\d(?:(?:, ?| )?\d)*", re.ASCII)


def as_permutation(token: str, n: int) -> tuple[int, ...] | None:
    """``token`` (ASCII digits, optionally with ``,``/``, ``/`` `` between them) as a permutation of 1..n, or None."""
    digits = token.replace(",", "").replace(" ", "")
    if len(digits) != n or set(digits) != set("123456789"[:n]):
        return None
    if digits != token:
        # the same separator between every pair of digits (no "34 1562", no "3,4 1,5,6,2")
        width, rest = divmod(len(token) - n, n - 1)
        if rest or width == 0 or token != token[1 : 1 + width].join(digits):
            return None
    return tuple(int(d) for d in digits)


def parse_order(text: str, n: int) -> tuple[int, ...] | None:
    """The permutation of 1..n that ``text`` answers (digit k = shown position of original clip k).

    ``None`` for a wrong digit count, a repeated digit, a digit out of 1..n, or two different candidates.
    Raises ValueError if ``n`` is not in 1..9 (a caller bug: orders are single digits).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9:
        raise ValueError(f"n must be an int in 1..9, got {n!r}")
    norm = normalize(text)
    if not norm:
        return None
    region = answer_region(norm)
    stripped = _strip_wrappers(region)
    if _ORDER_FULL_RE.fullmatch(stripped):
        return as_permutation(stripped, n)
    perms = set()
    for token in _order_tokens(region):
        perm = as_permutation(token, n)
        if perm is not None:
            perms.add(perm)
        elif len(token) > 1:  # another multi-digit token makes it ambiguous (e.g. "341562 or 123456")
            return None
    return perms.pop() if len(perms) == 1 else None

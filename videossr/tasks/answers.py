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

_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL | re.ASCII)
_OPEN_TAG_RE = re.compile(r"<answer>", re.IGNORECASE | re.ASCII)
_LEAD_IN_RE = re.compile(r"\b(?:final answer|answer)\b(?: is)?(?: ?[:=])?", re.IGNORECASE | re.ASCII)
# around counts and orders, stripped before they are read (the reward's C path is given the same set)
WRAP_CHARS = " \t\n.;:!\"'`*_[](){}<>"


def normalize(text: object) -> str | None:
    """NFKC-normalise, map dashes, collapse whitespace runs to one space; ``None`` for a non-``str``."""
    if not isinstance(text, str):
        return None
    if not text.isascii():  # plain ASCII (most answers) needs neither NFKC nor the dash map
        text = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return " ".join(text.split())


def answer_region(text: str) -> str:
    """The part of normalised ``text`` that holds the answer: the last <answer> block, else after the last lead-in."""
    low = text.lower()
    if "<answer>" in low:
        tagged = _TAG_RE.findall(text)
        if tagged:
            return tagged[-1].strip()
        opened = list(_OPEN_TAG_RE.finditer(text))
        # an unclosed tag (the response was cut): read what follows it
        return text[opened[-1].end() :].strip()
    if "answer" not in low:
        return text.strip()
    lead = list(_LEAD_IN_RE.finditer(text))
    if lead and lead[-1].end() < len(text):
        tail = text[lead[-1].end() :].strip()
        if any("0" <= ch <= "9" for ch in tail):
            return tail
    return text.strip()


# ---------------------------------------------------------------------------------------------------------------
# Intervals


def _digits_not_after(chars: str, rest: str) -> str:
    """A run that starts with a digit not preceded by any of ``chars`` (a regex class body), then ``rest``.

    The same as ``(?<![chars])\\d`` + ``rest``, written with the check after the first digit (``(?<![chars]\\d)``):
    a pattern that begins with a plain digit lets the regex engine skip straight to the digits of a long text
    instead of trying the look-behind at every character (measured: 1.4 -> 0.9 us on a sentence).
    """
    return r"\d(?<![" + chars + r"]\d)" + rest


# A non-negative decimal (<= 9 integer digits) or a clock time m:ss(.f) / h:mm:ss(.f); never part of a longer number.
_NUM_TAIL = r"\d{0,8}(?::[0-5]\d){0,2}(?:\.\d{1,9})?)(?![\d:]|\.\d)"
_NUM = "(" + _digits_not_after(r"\d.:\-+", _NUM_TAIL)  # first number of an interval: unsigned
_NUM2 = "(" + _digits_not_after(r"\d.:", _NUM_TAIL)  # second number: may follow the "-" separator
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
    if ":" not in token:
        return float(token)
    total = 0.0
    for part in token.split(":"):
        total = total * 60.0 + float(part)
    return total


def _intervals_in(text: str) -> set[tuple[float, float]]:
    dashed, bracketed, between, start_end = _INTERVAL_RES
    found = {(_seconds(a), _seconds(b)) for a, b in dashed.findall(text)}
    # the other patterns only where their literal cue occurs (the same result, without scanning for what cannot match)
    if "[" in text or "(" in text:
        found.update((_seconds(a), _seconds(b)) for a, b in bracketed.findall(text))
    low = text.lower()
    if "between" in low:
        found.update((_seconds(a), _seconds(b)) for a, b in between.findall(text))
    if "start" in low and "end" in low:
        found.update((_seconds(a), _seconds(b)) for a, b in start_end.findall(text))
    return found


# Fast paths. Most answers are bare (``12.5-20.0``, ``3,1,4``, ``341562``): these read them without the general
# machinery, and give exactly what it gives (the tests check that both agree on every input a fast path accepts).
# Text that is ASCII and holds no digit answers nothing in any of the three forms.
_ASCII_DIGIT_RE = re.compile(r"[0-9]")


def _bare_form(body: str, around: str) -> re.Pattern:
    """A whole ASCII answer that is ``body`` with ``around`` (a regex class body) on either side, after an
    ``<answer>`` tag and/or before an ``</answer>`` tag or neither: one regex call reads a bare or tagged answer and
    its wrappers. (An unclosed or unopened tag reads the same in the general parser.)"""
    return re.compile(f"(?:<answer>)?[{around}]*{body}[{around}]*(?:</answer>)?", re.ASCII)


STRIP_CHARS = "".join(c for c in map(chr, range(128)) if not c.strip())  # what str.strip() removes from ASCII
_WHITESPACE = re.escape(STRIP_CHARS)
_FAST_INTERVAL_RE = _bare_form(r"(\d{1,9}(?:\.\d{1,9})?) ?- ?(\d{1,9}(?:\.\d{1,9})?)\.?", _WHITESPACE)


def parse_interval(text: str) -> tuple[float, float] | None:
    """The one interval (start, end) in seconds that ``text`` answers, as written; ``None`` if none or ambiguous."""
    if not isinstance(text, str):
        return None
    if text.isascii():
        m = _FAST_INTERVAL_RE.fullmatch(text)
        if m is not None:
            return float(m[1]), float(m[2])
        if _ASCII_DIGIT_RE.search(text) is None:
            return None
    return _parse_interval_general(text)


def _parse_interval_general(text: str) -> tuple[float, float] | None:
    norm = normalize(text)
    if not norm:
        return None
    if "<" in norm:
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
_COUNTS_SEARCH_RE = re.compile(
    "(" + _digits_not_after(r"\d.,\-+", r"\d{0,8})") + r" ?, ?(\d{1,9}) ?, ?(\d{1,9})(?![\d,]|\.\d| ,)", re.ASCII
)
_FAST_COUNTS_RE = _bare_form(_COUNTS_FULL_RE.pattern, re.escape(WRAP_CHARS))


def _strip_wrappers(region: str) -> str:
    return region.strip(WRAP_CHARS)


def parse_counts(text: str) -> tuple[int, int, int] | None:
    """The (circles, squares, triangles) triple that ``text`` answers; ``None`` if absent, malformed or ambiguous."""
    if not isinstance(text, str):
        return None
    if text.isascii():
        m = _FAST_COUNTS_RE.fullmatch(text)
        if m is not None:
            return int(m[1]), int(m[2]), int(m[3])
        if _ASCII_DIGIT_RE.search(text) is None:
            return None
    return _parse_counts_general(text)


def _parse_counts_general(text: str) -> tuple[int, int, int] | None:
    norm = normalize(text)
    if not norm:
        return None
    region = answer_region(norm)
    m = _COUNTS_FULL_RE.fullmatch(_strip_wrappers(region))
    if m:
        return (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    found = {(int(a), int(b), int(c)) for a, b, c in _COUNTS_SEARCH_RE.findall(region)}
    labelled = _labelled_counts(region)
    if labelled is not None:
        found.add(labelled)
    if len(found) != 1:
        return None
    c, s, t = found.pop()
    return (c, s, t)


# Labelled counts: "circles: 3, squares: 1, triangles: 4", "3 circles, 1 square and 4 triangles",
# "Circles=3; Squares=1; Triangles=4", in any order of the labels.
_CLASS_ORDER = ("circle", "square", "triangle")
_LABEL = r"(circle|square|triangle)s?\b"
_LABEL_THEN_NUMBER = r"\b" + _LABEL + r" ?(?::|=|-|\bis\b|\bare\b)? ?(\d{1,9})(?![\d.])"
_NUMBER_THEN_LABEL = "(" + _digits_not_after(r"\d.", r"\d{0,8})") + " ?" + _LABEL
_LABEL_THEN_NUMBER_RE = re.compile(_LABEL_THEN_NUMBER, re.IGNORECASE | re.ASCII)
_NUMBER_THEN_LABEL_RE = re.compile(_NUMBER_THEN_LABEL, re.IGNORECASE | re.ASCII)
# the same on lower-cased ASCII text, where ignoring case is not needed (and slower)
_LABEL_THEN_NUMBER_LOW_RE = re.compile(_LABEL_THEN_NUMBER, re.ASCII)
_NUMBER_THEN_LABEL_LOW_RE = re.compile(_NUMBER_THEN_LABEL, re.ASCII)


def _complete(pairs: list[tuple[str, str]]) -> tuple[int, int, int] | None:
    """The triple from (lower-case class name, number) pairs if every class is named once (or always with the
    same number), else None."""
    if len(pairs) < len(_CLASS_ORDER):  # fewer pairs than classes complete nothing
        return None
    counts = dict(pairs)
    if len(counts) != len(_CLASS_ORDER):
        return None
    if len(pairs) != len(_CLASS_ORDER):  # a class named more than once: always with the same number, or None
        first: dict[str, int] = {}
        if any(first.setdefault(label, int(n)) != int(n) for label, n in pairs):
            return None
    return int(counts["circle"]), int(counts["square"]), int(counts["triangle"])


def _labelled_counts(region: str) -> tuple[int, int, int] | None:
    """Counts written with their class names, in either word order; None unless exactly one reading is complete."""
    low = region.lower()
    if "circle" not in low and "square" not in low and "triangle" not in low:
        return None
    if region.isascii():  # lower-casing ASCII changes letters only: read the lower-case text, names come out lower
        by_label = _LABEL_THEN_NUMBER_LOW_RE.findall(low)
        by_number = [(label, n) for n, label in _NUMBER_THEN_LABEL_LOW_RE.findall(low)]
    else:
        by_label = [(label.lower(), n) for label, n in _LABEL_THEN_NUMBER_RE.findall(region)]
        by_number = [(label.lower(), n) for n, label in _NUMBER_THEN_LABEL_RE.findall(region)]
    label_first, number_first = _complete(by_label), _complete(by_number)
    if label_first is None or number_first is None or label_first == number_first:
        return label_first or number_first
    return None  # two complete readings that disagree


# ---------------------------------------------------------------------------------------------------------------
# Orders

_ORDER_TOKEN_RE = re.compile("(" + _digits_not_after(r"\d.,\-+", r"(?:(?:, ?| )?\d)*)") + r"(?![\d,]|\.\d)", re.ASCII)
_ORDER_FULL_RE = re.compile(r"\d(?:(?:, ?| )?\d)*", re.ASCII)
# contiguous digits first (the common answer, one cheap alternative), then digits each followed by a separator
_FAST_ORDER_RE = _bare_form(r"(\d+|\d(?:(?:, ?| )\d)+)", re.escape(WRAP_CHARS))
_DIGITS_OF = {n: frozenset("123456789"[:n]) for n in range(1, 10)}  # the digits a permutation of 1..n uses


_DIGIT_VALUES = bytes.maketrans(b"0123456789", bytes(range(10)))  # b"341562" -> bytes (3, 4, 1, 5, 6, 2)


def as_permutation(token: str, n: int) -> tuple[int, ...] | None:
    """``token`` (ASCII digits, optionally with ``,``/``, ``/`` `` between them) as a permutation of 1..n, or None."""
    digits = token if token.isdigit() else token.replace(",", "").replace(" ", "")  # contiguous: the common case
    if len(digits) != n or set(digits) != _DIGITS_OF[n]:
        return None
    if digits is not token:
        # the same separator between every pair of digits (no "34 1562", no "3,4 1,5,6,2")
        width, rest = divmod(len(token) - n, n - 1)
        if rest or width == 0 or token != token[1 : 1 + width].join(digits):
            return None
    return tuple(digits.encode().translate(_DIGIT_VALUES))  # ASCII digits (checked above) as ints, in C


def parse_order(text: str, n: int) -> tuple[int, ...] | None:
    """The permutation of 1..n that ``text`` answers (digit k = shown position of original clip k).

    ``None`` for a wrong digit count, a repeated digit, a digit out of 1..n, or two different candidates.
    Raises ValueError if ``n`` is not in 1..9 (a caller bug: orders are single digits).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9:
        raise ValueError(f"n must be an int in 1..9, got {n!r}")
    if not isinstance(text, str):
        return None
    if text.isascii():
        m = _FAST_ORDER_RE.fullmatch(text)
        if m is not None:
            return as_permutation(m[1], n)
        if _ASCII_DIGIT_RE.search(text) is None:
            return None
    return _parse_order_general(text, n)


def _parse_order_general(text: str, n: int) -> tuple[int, ...] | None:
    norm = normalize(text)
    if not norm:
        return None
    region = answer_region(norm)
    stripped = _strip_wrappers(region)
    if _ORDER_FULL_RE.fullmatch(stripped):
        return as_permutation(stripped, n)
    perms = set()
    for token in _ORDER_TOKEN_RE.findall(region):
        perm = as_permutation(token, n)
        if perm is not None:
            perms.add(perm)
        elif len(token) > 1:  # another multi-digit token makes it ambiguous (e.g. "341562 or 123456")
            return None
    return perms.pop() if len(perms) == 1 else None

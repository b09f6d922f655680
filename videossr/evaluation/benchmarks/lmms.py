"""How lmms-eval 0.7.3 reads and scores answers, rewritten here so a run can be scored as the paper's harness does.

The paper evaluates with lmms-eval (https://github.com/EvolvingLMMs-Lab/lmms-eval, version 0.7.3). Its task
functions behave in ways a careful reader would call quirks; the ``lmms_eval`` protocol reproduces them on purpose
(eval/README.md lists them per benchmark), and tests/test_eval_lmms_agreement.py checks every function here against
lmms-eval's own on hundreds of varied outputs. Each function names the lmms-eval function it matches.

* ``mcq_letter``: ``lmms_eval/tasks/_task_utils/mcq_extract.py: extract_mcq_answer`` (Video-MME, LVBench, ...):
  ranks letter candidates by the shape they appear in (a leading letter beats a trailing one beats "the answer is
  X" beats "(X)" ...), the last of a shape winning; with no shaped candidate, any occurrence of a choice letter
  anywhere counts ("Based on..." reads as B when B is a choice).
* ``mvbench_answer``: ``mvbench/utils.py: mcq_acc``'s normalisation: "X. text" at the start gives X; otherwise
  punctuation handling, then the first standalone letter A-E in any case ("a dog" reads as A), else the lowered text.
* ``charades_times``: ``charades_sta/utils.py: extract_time``: "to" becomes "-" everywhere (also inside words), a
  cascade of patterns over the sentences that mention start/end/happen, only the first interval kept, a reversed
  one swapped.
* ``interval_iou``: ``charades_sta/utils.py: iou``.
* ``longvideobench_letter``: ``longvideobench/utils.py: parse_multi_choice_response``: a few answer phrases removed,
  then the first capital A-E anywhere; a random option when there is none (lmms-eval's is unseeded; here the
  caller passes a seeded generator, so a rerun gives the same number).
* ``prefixed_letter``: ``video-tt/utils.py: extract_characters_regex``: the same reading without the guess ("").
* ``timelens_times``: ``timelens/utils.py: extract_time`` (the TimeLens QVHighlights / ActivityNet splits): clock
  times, else "a - b" / "a to b", else every number, paired in order; a reversed pair is kept as it is.
* ``vcrbench_order``: ``vcrbench/utils.py: extract_predicted_order`` (the official VCRBench cascade).
* ``mmmu_open_preds`` / ``mmmu_open_correct``: ``videommmu/utils.py: parse_open_response`` / ``eval_open`` (MMMU's
  reading of open answers: the shortest tail after a key phrase per line, every number in it, normalised; right
  when a candidate contains the gold text or equals the gold number; an empty answer is left out of the count).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

__all__ = ["mcq_letter", "mvbench_answer", "charades_times", "interval_iou", "longvideobench_letter",
           "timelens_times", "vcrbench_order", "prefixed_letter", "mmmu_normalize", "mmmu_open_preds",
           "mmmu_open_correct", "NO_ANSWER", "MCQ_LETTERS"]

MCQ_LETTERS = tuple("ABCDEFGH")  # extract_mcq_answer's choices when none are given

# extract_mcq_answer: phrases after which the first choice letter counts, and the rank of each candidate shape.
_PHRASES = (
    "the answer is", "answer is", "the correct answer is", "correct answer is", "the best answer is",
    "best answer is", "the correct option is", "correct option is", "the best option is", "best option is",
    "the choice is", "choice is", "the correct choice is", "correct choice is", "i choose", "i select", "i pick",
    "my answer is", "my choice is", "옵션", "정답은", "답은", "답:", "答案是", "答案为", "选", "答えは",
)
_RANK = {"start": 10, "end": 9, "phrase": 7, "paren": 6, "period": 5, "colon": 4, "close": 3, "space": 2, "any": 0}
_EDGE_CHARS = (",", ".", "!", "?", ";", ":", "'", '"')  # stripped from both ends, one character class at a time


def mcq_letter(response: str, choices: Sequence[str] | None = None) -> str:
    """The letter lmms-eval's ``extract_mcq_answer`` reads from ``response`` ("" for none)."""
    if not response or not response.strip():
        return ""
    letters = list(choices) if choices else list(MCQ_LETTERS)
    body = response.strip()
    for ch in _EDGE_CHARS:
        body = body.strip(ch)
    padded = f" {body} "
    found: list[tuple[int, int, str]] = []  # (rank, position, letter)
    for shape, template in (("paren", "({})"), ("period", "{}."), ("colon", "{}:"), ("close", "{})"),
                            ("space", "{} ")):
        for letter in letters:
            pos = padded.rfind(template.format(letter))
            if pos >= 0:
                found.append((_RANK[shape], pos, letter))
    lowered = padded.lower()
    for phrase in _PHRASES:
        at = lowered.find(phrase)
        if at >= 0:
            for letter in letters:
                pos = padded.find(letter, at + len(phrase))
                if pos >= 0:
                    found.append((_RANK["phrase"], pos, letter))
    core = padded.strip()
    for letter in letters:
        if core.startswith(letter) and (len(core) == 1 or not core[1].isalpha()):
            found.append((_RANK["start"], 0, letter))
    for letter in letters:
        if core.endswith(letter) and (len(core) == 1 or not core[-2].isalpha()):
            found.append((_RANK["end"], len(padded) - 1, letter))
    if not found:
        for letter in letters:
            pos = padded.rfind(letter)
            if pos >= 0:
                found.append((_RANK["any"], pos, letter))
    if not found:
        return ""
    # Highest rank, then latest position; among exact ties the candidate found first.
    best = found[0]
    for cand in found[1:]:
        if (cand[0], cand[1]) > (best[0], best[1]):
            best = cand
    return best[2]


# mcq_acc: the punctuation it removes or replaces by a space, and its two patterns.
_MV_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
_MV_DIGIT_COMMA = re.compile(r"\d,\d")
_MV_PERIOD = re.compile(r"\.(?!\d)")  # a period not before a digit (its lookbehind is written so it never applies)
_MV_PERIODS_REMOVED = 32  # the pattern's count argument is re.UNICODE, i.e. at most 32 periods go
_MV_LEADING = re.compile(r"^([A-E])\.\s*(.+)$", re.IGNORECASE)
_MV_LETTER = re.compile(r"\b([A-E])\b", re.IGNORECASE)


def _mv_punctuation(text: str) -> str:
    out = text
    digit_comma = _MV_DIGIT_COMMA.search(text) is not None
    for p in _MV_PUNCT:
        spaced = (p + " ") in text or (" " + p) in text  # tested on the text as it came in, not as it is now
        out = out.replace(p, "" if spaced or digit_comma else " ")
    return _MV_PERIOD.sub("", out, count=_MV_PERIODS_REMOVED)


def mvbench_answer(text: str) -> str:
    """What MVBench's ``mcq_acc`` compares: an upper-case letter A-E, or the normalised lower-case text."""
    lead = _MV_LEADING.match(text.strip())
    if lead:
        return lead.group(1).upper()
    s = text.replace("\n", " ").replace("\t", " ").strip()
    s = _mv_punctuation(s)
    for ch in ("'", '"', ")", "("):
        s = s.strip(ch)
    s = s.strip().lower()
    letter = _MV_LETTER.search(s)
    return letter.group(1).upper() if letter else s


# extract_time: the patterns of its cascade, in the order it tries them.
_CH_EXAMPLE = "a specific example is : 20.8 - 30.0 seconds"
_CH_KEYWORDS = ("starts", "ends", "happens in", "start time", "end time", "start", "end", "happen")
_CH_CLOCK_RANGE = re.compile(r"\b(\d{1,2}:\d{2}(?::\d{2})?)\s*[–-]\s*(\d{1,2}:\d{2}(?::\d{2})?)\b")
_CH_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*[–-]\s*(\d+(?:\.\d+)?)")
_CH_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?)\b")
_CH_CLOCK = re.compile(r"\b(\d{1,2}:\d{2}(?::\d{2})?)\b")
_CH_LOOSE_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*s?\s*[–-]\s*(\d+(?:\.\d+)?)\s*s?")


def _clock_seconds(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    if len(parts) == 3:
        return parts[0] * 3600 + parts[1] * 60 + parts[2]
    return parts[0] * 60 + parts[1]


def _pairs(values: list[float]) -> list[tuple[float, float]]:
    return [(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)]


def charades_times(text: str) -> list[list[float]]:
    """The intervals lmms-eval's Charades-STA ``extract_time`` reads: [] or one [start, end] with start <= end."""
    body = text.lower().replace(_CH_EXAMPLE, "").replace("to", "-")
    sentences = re.split(r"[!?\n]", body)
    pool = [s for s in sentences if any(k in s for k in _CH_KEYWORDS)] or sentences
    spans: list = []
    for s in pool:
        hits = _CH_CLOCK_RANGE.findall(s)
        if hits:
            spans = [(_clock_seconds(a), _clock_seconds(b)) for a, b in hits]
            break
    if not spans:
        for s in pool:
            hits = _CH_RANGE.findall(s)
            if hits:
                spans = [(float(a), float(b)) for a, b in hits]
                break
    if not spans:
        clocks = [_clock_seconds(t) for s in pool for t in _CH_CLOCK.findall(s)]
        spans = _pairs(clocks)
    if not spans:
        firsts = []
        for s in pool:
            numbers = _CH_NUMBER.findall(s)
            if numbers:
                firsts.append(float(numbers[0]))
        spans = _pairs(firsts)
    if not spans:
        for s in pool:
            hits = _CH_LOOSE_RANGE.findall(s)
            if hits:
                spans = [(float(a), float(b)) for a, b in hits]
                break
    return [[a, b] if b > a else [b, a] for a, b in spans[:1]]


def interval_iou(gold: Sequence[float], pred: Sequence[float]) -> float:
    """Charades-STA's ``iou``: overlap over the span from the earlier start to the later end (0 when that is <= 0)."""
    lo, hi = min(gold[0], pred[0]), max(gold[1], pred[1])
    span = hi - lo
    if span <= 0:
        return 0.0
    return max(min(gold[1], pred[1]) - max(gold[0], pred[0]), 0) / span


_LVB_PREFIXES = ("The best answer is", "The correct answer is", "The answer is", "The answer", "The best option is",
                 "The correct option is", "Best answer:", "Best option:")
_LVB_LETTER = re.compile(r"[ABCDE]")


def prefixed_letter(response: str) -> str:
    """The first capital A-E after a few answer phrases are removed ("" for none): Video-TT's
    ``extract_characters_regex`` and the reading of LongVideoBench's ``parse_multi_choice_response``."""
    s = response.strip()
    for prefix in _LVB_PREFIXES:
        s = s.replace(prefix, "")
    hit = _LVB_LETTER.search(s)
    return "" if hit is None else hit.group(0)


def longvideobench_letter(response: str, choices: Sequence[str], rng: random.Random) -> tuple[str, bool]:
    """(letter, guessed): LongVideoBench's parse; ``guessed`` when no A-E was found and ``rng`` chose one."""
    letter = prefixed_letter(response)
    if not letter:
        return rng.choice(list(choices)), True
    return letter, False


# TimeLens (timelens/utils.py: extract_time): clock times paired in order, else "a - b" / "a to b", else all numbers
# paired; never swapped; the caller scores the first pair.
_TL_CLOCK = re.compile(r"\b(\d{1,2}:\d{2}:\d{2}(?:\.\d+)?|\d{1,2}:\d{2}(?:\.\d+)?)\b")
_TL_RANGES = (re.compile(r"(\d+\.?\d*)\s*-\s*(\d+\.?\d*)"), re.compile(r"(\d+\.?\d*)\s+to\s+(\d+\.?\d*)"))
_TL_NUMBER = re.compile(r"\b\d+\.?\d*\b")


def _tl_clock(text: str) -> float:
    parts = text.split(":")
    if len(parts) == 3:
        return int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
    return int(parts[0]) * 60 + float(parts[1])


def timelens_times(text: str) -> list[tuple[float, float]]:
    """The (start, end) pairs TimeLens' ``extract_time`` reads, in order (possibly reversed, possibly none)."""
    body = text.lower()
    clocks = _TL_CLOCK.findall(body)
    spans = _pairs([_tl_clock(c) for c in clocks[: len(clocks) // 2 * 2]])
    if not spans:
        for pattern in _TL_RANGES:
            hits = pattern.findall(body)
            if hits:
                spans = [(float(a), float(b)) for a, b in hits]
                break
    if not spans:
        spans = _pairs([float(x) for x in _TL_NUMBER.findall(body)])
    return spans


# VCRBench (vcrbench/utils.py: extract_predicted_order, after the official VCRBench process.py).
_VCR_TAGS = (("<think>", "</think>"), ("<thinking>", "</thinking>"))
_VCR_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_VCR_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_VCR_BOXED = "\\boxed{"


def _vcr_strip_reasoning(text: str) -> str:
    out = text
    for start_tag, end_tag in _VCR_TAGS:
        while start_tag in out and end_tag in out:
            a = out.find(start_tag)
            b = out.find(end_tag, a)
            if b == -1:
                break
            out = out[:a] + out[b + len(end_tag):]
        if end_tag in out and start_tag not in out:  # a prefilled opening tag: the answer follows the last close
            out = out.rsplit(end_tag, 1)[-1]
    return out.strip()


def _vcr_wrapped(text: str) -> str | None:
    m = _VCR_ANSWER.search(text)
    if m:
        return m.group(1)
    at = text.rfind(_VCR_BOXED)
    if at < 0:
        return None
    depth = 0
    for pos in range(at + len(_VCR_BOXED) - 1, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            depth -= 1
            if depth == 0:
                return text[at + len(_VCR_BOXED):pos]
    return None


def _vcr_numbers(text: str) -> list[int]:
    out = []
    for field in str(text).split(","):
        m = re.search(r"\d+", field.strip())
        if m:
            out.append(int(m.group()))
    return out


def _vcr_is_order(order: list[int], n: int) -> bool:
    return len(order) == n and set(order) == set(range(1, n + 1))


def vcrbench_order(response: str, n: int) -> list[int]:
    """The clip order (1-based) VCRBench reads from ``response``, or ``n`` zeros when no order of 1..n is found.

    lmms-eval's phrase cascade starts with the empty phrase, which every sentence contains, so in effect: the first
    sentence (split after . ! ? and at newlines, asterisks removed) whose comma-separated fields, each read as its
    first integer, are an order of 1..n. An ``<answer>`` or ``\\boxed{}`` payload is tried first.
    """
    text = _vcr_strip_reasoning(response or "")
    wrapped = _vcr_wrapped(text)
    if wrapped is not None:
        order = _vcr_numbers(wrapped)
        if _vcr_is_order(order, n):
            return order
    for sentence in _VCR_SENTENCES.split(text.replace("*", "")):
        order = _vcr_numbers(sentence.strip())
        if _vcr_is_order(order, n):
            return order
    return [0] * n


# VideoMMMU's open questions (videommmu/utils.py: parse_open_response, normalize_str, eval_open; MMMU's rules).
_MMMU_KEYS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ", "are ", "in total ",
              "total ", "identify ", "recognize ", "calculated as ", "counted as ", "measured as ", "observed as ",
              "concluded as ", "found to be ", "equals ", "determined to be ", "number of ", "value is ",
              "adds up to ", "have ", "has ")
_MMMU_TRIVIAL = (":", ",", ".", "!", "?", ";", "'")
_MMMU_NUMBERS = (re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b"), re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+"),
                 re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])"))
NO_ANSWER = "API Error"  # what lmms-eval's open reader returns for an empty answer; such answers leave the count


def mmmu_normalize(text: str) -> list:
    """MMMU's normalize_str: a number (commas dropped, rounded to 2 places) or the lowered text; a single character is
    padded with a space on either side (two entries), so it matches only as a word."""
    s = text.strip()
    try:
        value = float(s.replace(",", ""))
    except ValueError:
        s = s.lower()
        return [" " + s, s + " "] if len(s) == 1 else [s]
    return [round(value, 2)]


def _mmmu_key_parts(response: str) -> list[str]:
    body = response.strip().strip(".").lower()
    parts = re.split(r"\.\s(?=[A-Z])|\n", body)  # the text is lower case already, so only newlines split
    found = []
    for n, part in enumerate(parts):
        keys = _MMMU_KEYS + (("=",) if n == len(parts) - 1 else ())
        best = None
        for key in keys:
            if key in part:
                tail = part.split(key)[-1].strip()
                if not best or len(tail) < len(best):  # an empty tail is replaced by the next key's, longer or not
                    best = tail
        if best and best.strip() not in _MMMU_TRIVIAL:
            found.append(best)
    return found or [body]


def mmmu_open_preds(response: str) -> list | str:
    """The normalised candidates lmms-eval reads from an open answer (sorted), or ``NO_ANSWER`` for an empty one."""
    if response in (NO_ANSWER, ""):
        return NO_ANSWER
    keys = _mmmu_key_parts(response)
    raw = list(keys)
    for k in keys:
        for pattern in _MMMU_NUMBERS:
            raw.extend(pattern.findall(k))
    values = {v for r in raw for v in mmmu_normalize(r)}
    return sorted(values, key=lambda v: (isinstance(v, str), str(v)))


def mmmu_open_correct(gold: str, preds: list) -> bool:
    """MMMU's eval_open: a text candidate containing a normalised gold text, or a number candidate equal to one."""
    golds = mmmu_normalize(gold)
    for p in preds:
        if isinstance(p, str):
            if any(isinstance(g, str) and g in p for g in golds):
                return True
        elif p in golds:
            return True
    return False

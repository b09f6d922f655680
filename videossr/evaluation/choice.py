"""Multiple-choice answer extraction: the option letter a model meant, or None when it cannot be told.

Models answer a multiple-choice question in many shapes: ``C``, ``(C)``, ``C.``, ``C) a dog``, ``Answer: C``,
``The answer is C.``, ``**C**``, ``c``, ``Option C: the dog runs``, or just the text of an option. ``extract_choice``
reads all of these. It never falls back to "the first character" (``A man walks...`` is not option A), and it
returns None when the output names two different options or none, so the caller scores it wrong and counts it.

Usage::

    from videossr.evaluation.choice import extract_choice, parse_options
    options = parse_options("What is it?\nA. a cat\nB. a dog")      # {"A": "a cat", "B": "a dog"}
    extract_choice("The answer is (B) a dog.", options)              # "B"
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence

ALL_LETTERS = string.ascii_uppercase

# "A. text", "(A) text", "A) text", "A: text" at the start of a line of the question.
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])\s*[\).:：]\s*(\S.*?)\s*$")
_OPTION_INLINE = re.compile(r"\(([A-Z])\)\s*(.+?)(?=\s*\([A-Z]\)|\n|$)")
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
# Markup that wraps a letter without changing it.
_DECOR = re.compile(r"[*_`\"'“”‘’\[\]{}<>]")


def parse_options(question: str) -> dict[str, str]:
    """Options written in ``question``, letter -> text: one per line ("A. text", "(B) text", "C) text"), or inline
    as "(A) text (B) text". Only a run of consecutive letters starting at A counts, so "I) think" does not.
    """
    found: dict[str, str] = {}
    for line in question.splitlines():
        m = _OPTION_LINE.match(line)
        if m and m.group(1) == ALL_LETTERS[len(found)]:
            found[m.group(1)] = m.group(2)
    if len(found) >= 2:
        return found
    # Options inline on one line: "Options: (A) a cat (B) a dog (C) a bird"
    found = {}
    for m in _OPTION_INLINE.finditer(question):
        if m.group(1) != ALL_LETTERS[len(found)]:
            break
        found[m.group(1)] = m.group(2).strip(" ,;")
    return found if len(found) >= 2 else {}


def options_from_list(options: Sequence[str]) -> dict[str, str]:
    """Letters for a list of option texts; a text already carrying its letter ("A. cat") keeps only the text."""
    if len(options) > len(ALL_LETTERS):
        raise ValueError(f"at most {len(ALL_LETTERS)} options are supported, got {len(options)}")
    out = {}
    for letter, text in zip(ALL_LETTERS, options):
        m = _OPTION_LINE.match(str(text))
        out[letter] = m.group(2) if m and m.group(1) == letter else str(text).strip()
    return out


def _normalise(text: str) -> str:
    text = text.lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _clean(text: str) -> str:
    text = _THINK.sub(" ", text)
    tagged = _ANSWER_TAG.findall(text)
    if tagged:
        text = tagged[-1]
    return _DECOR.sub("", text).strip()


def _unique(letters: Sequence[str]) -> str | None:
    distinct = set(letters)
    return letters[0] if len(distinct) == 1 else None


def extract_choice(output: str, options: Mapping[str, str] | None = None) -> str | None:
    """The option letter (upper case) that ``output`` answers, or None if there is none or it is ambiguous.

    ``options`` maps letters to option texts; when given, only those letters count and an output that quotes exactly
    one option's text (and no letter) selects it. Without options any letter A-Z counts.
    """
    if not isinstance(output, str):
        raise TypeError(f"output must be a string, got {type(output).__name__}")
    if options and not all(isinstance(k, str) and len(k) == 1 and k in ALL_LETTERS for k in options):
        raise ValueError(f"option keys must be single capital letters, got {sorted(options)!r}")
    valid = "".join(sorted(options)) if options else ALL_LETTERS
    valid_set = set(valid)
    text = _clean(output)
    if not text:
        return None
    cls = f"[{valid}{valid.lower()}]"

    # 1. The whole answer is a letter, possibly wrapped: "C", "(c)", "C.", "C)".
    m = re.fullmatch(rf"\(?\s*({cls})\s*[\).:]?", text)
    if m:
        return m.group(1).upper()

    # 2. An explicit answer phrase: "Answer: C", "the answer is (C)", "correct option is C", "I choose B".
    phrase = (
        r"(?:answer|option|choice|choose|chose|select|selected|pick|picked)"
        r"(?:\s+(?:is|would\s+be|will\s+be|should\s+be|=))?"
        r"(?:\s+(?:option|choice|letter))?\s*[:：=]?\s*"
    )
    hits = []
    for m in re.finditer(rf"(?i:{phrase})\(?({cls})(?![\w'])(\s+[a-z])?", text):
        letter, followed_by_word = m.group(1), m.group(2)
        if letter.islower() and followed_by_word:
            continue  # "I pick a dog": an article, not option A
        hits.append(letter.upper())
    hits = [h for h in hits if h in valid_set]
    if hits:
        return _unique(hits)

    # An echo of the option list ("(A) ...\n(B) ...") names no single option.
    marked_lines = set(re.findall(rf"(?m)^\s*\(?([{valid}])\s*[\).:]", text))
    if len(marked_lines) > 1:
        return None

    # 3. The answer opens with a marked letter: "C. the dog", "(B) dog", "B) ...", "B: ...", "B - dog", "B, because".
    m = re.match(rf"\(\s*({cls})\s*\)|({cls})\s*(?:[\).:,]|\s-\s|$)", text)
    if m:
        letter = (m.group(1) or m.group(2)).upper()
        # A lone lower-case "a"/"i" opening a sentence is an article/pronoun, not an option.
        if m.group(1) or m.group(2).isupper() or not text[1:2].isspace():
            return letter

    # 4. A capital letter in parentheses anywhere, e.g. "I think (C) is right".
    hits = [h for h in re.findall(rf"\(\s*([{valid}])\s*\)", text)]
    if hits:
        return _unique(hits)

    # 5. The output quotes the text of exactly one option.
    if options:
        out_norm = f" {_normalise(text)} "
        matched = [
            letter
            for letter, opt in options.items()
            if _normalise(opt) and f" {_normalise(opt)} " in out_norm
        ]
        # Prefer the longest match when one option's text contains another's ("red" vs "dark red").
        if len(matched) > 1:
            longest = max(len(_normalise(options[m_])) for m_ in matched)
            matched = [m_ for m_ in matched if len(_normalise(options[m_])) == longest]
        if len(matched) == 1:
            return matched[0]

    # 6. A single standalone capital letter among the valid ones ("Answer - B" forms missed above, "B is correct").
    hits = re.findall(rf"(?<![\w'’])([{valid}])(?![\w'’])", text)
    hits = [h for h in hits if not (h in "AI" and _is_word_use(text, h))]
    if hits:
        return _unique(hits)
    return None


def _is_word_use(text: str, letter: str) -> bool:
    """Whether a standalone "A" or "I" in ``text`` reads as an English word ("A man", "I think"), not a letter.

    It does when followed by a lower-case word other than the few that follow an option letter ("A or B", "A is").
    """
    for m in re.finditer(rf"(?<![\w'’]){letter}\s+([a-z]+)", text):
        if m.group(1) not in _AFTER_LETTER:
            return True
    return False


_AFTER_LETTER = {"or", "and", "is", "was", "seems", "looks", "would", "should", "might", "could", "fits", "matches"}


def normalise_gold_letter(answer: object, options: Mapping[str, str] | None = None) -> str:
    """The gold letter of an item: accepts "C", "(C)", "C. text", the text of an option, or an option index 0.. .

    Raises ValueError naming the answer when it is none of these, or, given ``options``, names a letter that is not
    one of them ("E" with options A and B).
    """
    letter = _gold_letter(answer, options)
    if options and letter not in options:
        raise ValueError(f"gold answer {answer!r} is not one of the options {', '.join(sorted(options))}")
    return letter


def _gold_letter(answer: object, options: Mapping[str, str] | None) -> str:
    if isinstance(answer, bool):
        raise ValueError(f"gold answer must be a letter or an option index, got {answer!r}")
    if isinstance(answer, int):
        if not 0 <= answer < len(ALL_LETTERS):
            raise ValueError(f"gold option index out of range: {answer!r}")
        return ALL_LETTERS[answer]
    if isinstance(answer, str):
        m = re.fullmatch(r"\s*\(?([A-Za-z])\s*(?:[\).:].*)?", answer, re.S)
        if m:
            return m.group(1).upper()
        if options:
            for letter, text in options.items():
                if _normalise(text) == _normalise(answer):
                    return letter
    raise ValueError(f"cannot read a gold option letter from {answer!r}")


def strict_yes_no(output: str) -> str | None:
    """"yes" or "no" when the answer says exactly one of them (as a word); None otherwise (neither, or both)."""
    said = {w for w in re.findall(r"[a-z]+", output.lower()) if w in ("yes", "no")}
    return said.pop() if len(said) == 1 else None

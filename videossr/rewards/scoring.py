"""Score one model answer to a VideoSSR question: parse, then apply the smooth or strict metric.

One table maps each task to its scorer (``SCORERS``); ``videossr.data_sources.task_of`` maps data_source names
(ours and the reference code's ``grounding`` / ``counting`` / ``jigsaw`` / ``shuffled``) to tasks. The metrics are
those of ``videossr.metrics``, the parsers those of ``videossr.answers``, so training and evaluation agree.

Decisions:

* An answer that does not parse scores 0 (``format_ok`` 0). A parsed but reversed interval, a wrong count or a
  wrong order is well-formed (``format_ok`` 1) and scores what the metric gives.
* A ground truth that does not parse means our own data is broken: ``ValueError`` naming it, never a silent 0.
* ``mode`` is ``"smooth"`` (training default) or ``"strict"`` (VIUBench, strict-reward ablation); anything else
  raises ``ValueError``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from videossr import answers, metrics
from videossr.data_sources import COUNTING, GROUNDING, JIGSAW

MODES = ("smooth", "strict")

# Ground truths as the generators write them ("14.5-26.2", "3,1,4", "341562"); spaces around the separators are
# tolerated so that hand-edited or third-party files with "3, 1, 4" still score.
_GT_INTERVAL_RE = re.compile(r"(\d{1,9}(?:\.\d{1,9})?) ?- ?(\d{1,9}(?:\.\d{1,9})?)", re.ASCII)
_GT_COUNTS_RE = re.compile(r"(\d{1,9}) ?, ?(\d{1,9}) ?, ?(\d{1,9})", re.ASCII)
_GT_ORDER_RE = re.compile(r"[1-9]{1,9}", re.ASCII)


@dataclass(frozen=True)
class Score:
    """The score of one answer: ``value`` in [0, 1], whether the answer parsed, and its strict score."""

    value: float
    format_ok: bool
    strict: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.value <= 1.0 and 0.0 <= self.strict <= 1.0):
            raise ValueError(f"scores must be in [0, 1], got value={self.value!r} strict={self.strict!r}")


@functools.lru_cache(maxsize=65536)
def parse_ground_truth(task: str, ground_truth: str) -> tuple:
    """The parsed ground truth of ``task``; raises ValueError naming a malformed one (a bug in the data)."""
    gt = ground_truth.strip()
    if task == GROUNDING:
        m = _GT_INTERVAL_RE.fullmatch(gt)
        if m is None or not float(m.group(2)) > float(m.group(1)):
            raise ValueError(
                f"grounding ground truth must look like '14.5-26.2' with end > start, got {ground_truth!r}"
            )
        return (float(m.group(1)), float(m.group(2)))
    if task == COUNTING:
        m = _GT_COUNTS_RE.fullmatch(gt)
        if m is None:
            raise ValueError(f"counting ground truth must look like '3,1,4', got {ground_truth!r}")
        return tuple(int(g) for g in m.groups())
    if task == JIGSAW:
        if _GT_ORDER_RE.fullmatch(gt) is None or sorted(gt) != [str(k) for k in range(1, len(gt) + 1)]:
            raise ValueError(
                f"jigsaw ground truth must be a permutation of 1..n written as digits, got {ground_truth!r}"
            )
        return tuple(int(ch) for ch in gt)
    raise ValueError(f"unknown task {task!r}")


def _score_grounding(text: str, gt: tuple) -> Score:
    pred = answers.parse_interval(text)
    if pred is None:
        return Score(0.0, False, 0.0)
    iou = metrics.temporal_iou(pred, gt)
    return Score(iou, True, iou)


def _score_counting(text: str, gt: tuple) -> Score:
    pred = answers.parse_counts(text)
    if pred is None:
        return Score(0.0, False, 0.0)
    return Score(metrics.counting_score(pred, gt), True, metrics.counting_strict(pred, gt))


def _score_jigsaw(text: str, gt: tuple) -> Score:
    pred = answers.parse_order(text, len(gt))
    if pred is None:
        return Score(0.0, False, 0.0)
    return Score(metrics.jigsaw_score(pred, gt), True, metrics.jigsaw_strict(pred, gt))


# task -> scorer(answer text, parsed ground truth) -> Score (with the smooth value; strict is in Score.strict)
SCORERS: dict[str, Callable[[str, tuple], Score]] = {
    GROUNDING: _score_grounding,
    COUNTING: _score_counting,
    JIGSAW: _score_jigsaw,
}


def check_ground_truth(task: str, ground_truth: object) -> None:
    """Raise ValueError naming ``ground_truth`` unless it parses and scores 1.0 against itself in both modes.

    What generation guarantees for every sample it writes, and what the validator checks for every row: an answer
    the reward rejects would score 0 for every prediction, one that cannot score 1 caps what a model can earn.
    """
    if not isinstance(ground_truth, str):
        raise ValueError(f"{task} ground truth must be a string, got {type(ground_truth).__name__} {ground_truth!r}")
    parse_ground_truth(task, ground_truth)
    for mode in MODES:
        value = score_answer(task, ground_truth, ground_truth, mode=mode).value
        if value != 1.0:
            raise ValueError(f"{task} ground truth {ground_truth!r} scores {value} against itself in {mode} mode")


def score_answer(task: str, text: str, ground_truth: str, mode: str = "smooth") -> Score:
    """Score ``text`` against ``ground_truth`` for ``task``; ``Score.value`` is the ``mode`` score (smooth/strict)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if task not in SCORERS:
        raise ValueError(f"unknown task {task!r}; expected one of {tuple(SCORERS)}")
    if not isinstance(ground_truth, str):
        raise ValueError(f"{task} ground truth must be a string, got {type(ground_truth).__name__} {ground_truth!r}")
    gt = parse_ground_truth(task, ground_truth)
    score = SCORERS[task](text if isinstance(text, str) else "", gt)
    if mode == "strict":
        return Score(score.strict, score.format_ok, score.strict)
    return score

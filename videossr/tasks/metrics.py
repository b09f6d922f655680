"""The score functions of VideoSSR: each formula written once, here, in plain Python.

Plain functions on parsed answers (see ``videossr.tasks.answers`` for parsing). Each task's ``score`` calls them
(``videossr.tasks.grounding``, ``counting``, ``jigsaw``), and so does everything that scores through a task: the
training reward (``videossr.rewards.compute_score``), VIUBench, the chance levels and the diagnostic; temporal
grounding's evaluation calls ``temporal_iou`` directly. Training uses the smooth scores, VIUBench and the
strict-reward ablation use the strict ones, so a score means the same thing everywhere. Every function returns a
float in [0, 1].

* Grounding: temporal IoU of the predicted and true interval (smooth and strict alike).
  Decision: an interval whose end is not after its start (reversed or zero-length) scores 0, and so does any
  non-finite number (NaN, inf) in either interval. Negative times are allowed (IoU is shift-invariant).
* Counting, smooth: mean over the classes of ``max(0, 1 - |pred - gt| / gt)``. A class with ``gt == 0`` (never
  produced by our generator) scores 1 if ``pred == 0`` else 0. Strict: mean over the classes of ``pred == gt``.
* Jigsaw, smooth (the paper's Eq. 7): ``1 - E / floor(n^2 / 2)`` with
  ``E = sum over clip labels k of |pos(k, pred) - pos(k, gt)|``, where ``pos(k, s)`` is the position at which the
  digit ``k`` stands in the answer string ``s``: how far each clip label moved between the true and the predicted
  answer. ``floor(n^2 / 2)`` is the largest total displacement of a permutation of n, so the score is in [0, 1];
  two neighbouring digits swapped always cost exactly ``2 / floor(n^2 / 2)``. Strict: 1 if the whole order is exact
  else 0. ``pred`` must be a permutation of 1..n (``videossr.tasks.answers.parse_order`` guarantees it; anything else
  scores 0). Note that ``sum_k |pred_k - gt_k|`` (comparing the digits at each position) is a different number: for
  truth 341562 and prediction 341526 it gives 8 (score 0.556) where the paper's E is 2 (score 0.889).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "temporal_iou",
    "counting_score",
    "counting_strict",
    "max_displacement",
    "jigsaw_displacement",
    "jigsaw_score",
    "jigsaw_strict",
]


def _valid_interval(iv: object) -> tuple[float, float] | None:
    try:
        a, b = iv  # type: ignore[misc]
        start, end = float(a), float(b)
    except (TypeError, ValueError, OverflowError):
        return None
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        return None
    return start, end


def temporal_iou(pred: tuple[float, float], gt: tuple[float, float]) -> float:
    """Temporal IoU in [0, 1]; 0 if either interval is reversed, zero-length, malformed or non-finite."""
    p = _valid_interval(pred)
    g = _valid_interval(gt)
    if p is None or g is None:
        return 0.0
    inter = min(p[1], g[1]) - max(p[0], g[0])
    if inter <= 0:
        return 0.0
    union = max(p[1], g[1]) - min(p[0], g[0])
    return min(1.0, max(0.0, inter / union))


def _check_same_length(pred: Sequence[int], gt: Sequence[int], what: str) -> bool:
    if len(gt) == 0:
        raise ValueError(f"{what}: empty ground truth")
    return len(pred) == len(gt)


def counting_score(pred: Sequence[int], gt: Sequence[int]) -> float:
    """Smooth counting score: mean over classes of max(0, 1 - |pred - gt| / gt); 0 if the lengths differ."""
    if not _check_same_length(pred, gt, "counting_score"):
        return 0.0
    total = 0.0
    for p, g in zip(pred, gt):
        if g < 0:
            raise ValueError(f"counting_score: negative ground-truth count {g!r} in {tuple(gt)!r}")
        if g == 0:
            total += 1.0 if p == 0 else 0.0
        else:
            total += max(0.0, 1.0 - abs(p - g) / g)
    return total / len(gt)


def counting_strict(pred: Sequence[int], gt: Sequence[int]) -> float:
    """Strict counting score: the fraction of classes counted exactly; 0 if the lengths differ."""
    if not _check_same_length(pred, gt, "counting_strict"):
        return 0.0
    return sum(1.0 for p, g in zip(pred, gt) if p == g) / len(gt)


def max_displacement(n: int) -> int:
    """floor(n^2 / 2): the largest total displacement sum_k |p_k - k| over permutations p of 1..n."""
    if n < 1:
        raise ValueError(f"max_displacement: n must be >= 1, got {n!r}")
    return n * n // 2


def _is_permutation(order: Sequence[int], n: int) -> bool:
    return len(order) == n and set(order) == set(range(1, n + 1))


def jigsaw_displacement(pred: Sequence[int], gt: Sequence[int]) -> int:
    """E = sum over labels k of |position of k in ``pred`` - position of k in ``gt``| (both permutations of 1..n)."""
    where_pred = {label: i for i, label in enumerate(pred)}
    return sum(abs(where_pred[label] - i) for i, label in enumerate(gt))


def jigsaw_score(pred: Sequence[int], gt: Sequence[int]) -> float:
    """Smooth jigsaw score 1 - total displacement / floor(n^2/2); 0 if ``pred`` is not a permutation of 1..n."""
    n = len(gt)
    if n == 0 or not _is_permutation(gt, n):
        raise ValueError(f"jigsaw_score: ground truth {tuple(gt)!r} is not a permutation of 1..{n}")
    if not _is_permutation(pred, n):
        return 0.0
    if n == 1:
        return 1.0
    return max(0.0, 1.0 - jigsaw_displacement(pred, gt) / max_displacement(n))


def jigsaw_strict(pred: Sequence[int], gt: Sequence[int]) -> float:
    """Strict jigsaw score: 1 if the order is exactly right, else 0."""
    return 1.0 if tuple(pred) == tuple(gt) else 0.0

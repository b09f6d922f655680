"""Per-item scoring and benchmark metrics for video QA (accuracy) and temporal grounding (mIoU, R@IoU).

Honest denominators: every item of the benchmark counts. An unparsable answer scores 0 (wrong / IoU 0) and is
counted in ``n_unparsable``. An item whose video is missing, unsafe or undecodable, or whose generation failed,
also scores 0 in the headline metric and is counted and listed under ``errors``; ``*_excluding_errors`` figures
are given beside the headline only to tell model quality from data problems.

Interval parsing and IoU are the ones training rewards use (``videossr.tasks.answers.parse_interval``,
``videossr.tasks.metrics.temporal_iou``).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from videossr.evaluation.choice import extract_choice, normalise_gold_letter

RECALL_THRESHOLDS = (0.3, 0.5, 0.7)
NO_CATEGORY = "(none)"


_GOLD_INTERVAL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*")


def gold_interval(answer: Any) -> tuple[float, float]:
    """The gold interval of a grounding item: ``"start-end"`` seconds or a ``[start, end]`` pair of numbers.

    Strict (a gold answer is data, not model output): ``"1.0-2.0-3.0"``, ``"about 3-5"`` or ``[1, 2, 3]`` raise
    ValueError naming the value, as does an interval without ``end > start >= 0``.
    """
    iv = None
    if isinstance(answer, str):
        m = _GOLD_INTERVAL.fullmatch(answer)
        if m:
            iv = (float(m.group(1)), float(m.group(2)))
    elif isinstance(answer, Sequence) and len(answer) == 2:
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in answer):
            iv = (float(answer[0]), float(answer[1]))
    if iv is None or not iv[1] > iv[0] >= 0 or not all(math.isfinite(x) for x in iv):
        raise ValueError(f"gold interval must be 'start-end' seconds or [start, end] with end > start >= 0, "
                         f"got {answer!r}")
    return iv


def score_choice(output: str, gold: Any, options: Mapping[str, str] | None) -> tuple[str | None, float]:
    """(parsed letter or None, 1.0 if it is the gold letter else 0.0)."""
    letter = extract_choice(output, options or None)
    return letter, float(letter is not None and letter == normalise_gold_letter(gold, options or None))


def score_interval(output: str, gold: tuple[float, float]) -> tuple[list[float] | None, float]:
    """(parsed [start, end] or None, temporal IoU with the gold interval; 0 when unparsable)."""
    from videossr.tasks.answers import parse_interval
    from videossr.tasks.metrics import temporal_iou

    iv = parse_interval(output)
    if iv is None:
        return None, 0.0
    return [float(iv[0]), float(iv[1])], float(temporal_iou(iv, gold))


def _counts(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    errors = [r for r in records if r.get("error")]
    by_kind: dict[str, int] = defaultdict(int)
    for r in errors:
        by_kind[str(r.get("error_kind") or "error")] += 1
    return {
        "n": len(records),
        "n_unparsable": sum(1 for r in records if not r.get("error") and r.get("parsed") is None),
        "n_errors": len(errors),
        "errors_by_kind": dict(sorted(by_kind.items())),
        "errors": [{"id": r["id"], "kind": r.get("error_kind"), "error": r["error"]} for r in errors],
    }


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _group(records: Sequence[Mapping[str, Any]], category_key: str | None) -> dict[str, list[Mapping[str, Any]]]:
    """Records by category; items without one go under "(none)" when others have one, so the groups add up."""
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    if category_key and any(r.get("category") is not None for r in records):
        for r in records:
            cat = r.get("category")
            groups[NO_CATEGORY if cat is None else str(cat)].append(r)
    return dict(sorted(groups.items()))


def accuracy_summary(records: Sequence[Mapping[str, Any]], category_key: str | None = None) -> dict[str, Any]:
    """Accuracy over all records (errors and unparsable answers count as wrong), overall and per category."""
    ok = [r for r in records if not r.get("error")]
    out = _counts(records)
    out["n_correct"] = int(sum(r["score"] for r in records))
    out["accuracy"] = _mean(r["score"] for r in records)
    out["accuracy_excluding_errors"] = _mean(r["score"] for r in ok)
    out["per_category"] = {
        cat: {"n": len(rs), "n_correct": int(sum(r["score"] for r in rs)), "accuracy": _mean(r["score"] for r in rs)}
        for cat, rs in _group(records, category_key).items()
    }
    return out


def grounding_summary(records: Sequence[Mapping[str, Any]], category_key: str | None = None) -> dict[str, Any]:
    """mIoU and recall at IoU >= 0.3/0.5/0.7 over all records (errors and unparsable answers have IoU 0)."""

    def figures(rs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        ious = [float(r["score"]) for r in rs]
        f = {"miou": _mean(ious)}
        for t in RECALL_THRESHOLDS:
            f[f"r@{t}"] = _mean(1.0 if iou >= t else 0.0 for iou in ious)
        return f

    out = _counts(records)
    out.update(figures(records))
    out["miou_excluding_errors"] = figures([r for r in records if not r.get("error")])["miou"]
    out["per_category"] = {cat: {"n": len(rs), **figures(rs)} for cat, rs in _group(records, category_key).items()}
    return out

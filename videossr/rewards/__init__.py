"""VideoSSR rewards for stock verl: ``compute_score`` is the function verl's reward managers call.

Wire it in with the verl 0.9 keys (the old top-level ``custom_reward_function`` is ignored by ``main_ppo``)::

    reward.custom_reward_function.path=pkg://videossr.rewards
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.mode=strict      # optional; default smooth

Every call returns a dict with the same numeric keys, because verl's reward loop builds its metric columns from the
keys of the first result of a batch and indexes every other result with them (a mixed batch whose results had
different keys would crash it):

    score       the reward, in [0, 1] for VideoSSR data sources
    format_ok   1.0 if the answer parsed, else 0.0
    strict      the strict (0/1-style) score of the same answer, logged even when training on the smooth one
    task_id     0 grounding, 1 counting, 2 jigsaw, -1 a data source VideoSSR does not own

A data_source VideoSSR does not own goes to ``verl.utils.reward_score.default_compute_score`` and its result (a float
or a dict with ``score``) is wrapped into the same dict: its ``score`` is kept on the scale that scorer uses (not
clipped), ``format_ok`` and ``strict`` are 1.0 when that score is positive, else 0.0. verl's own error for a data
source nobody knows (NotImplementedError) is left to propagate: that is a configuration mistake.

For VideoSSR sources the function never raises on any answer string, never prints, and always returns a score in
[0, 1]. It raises ValueError for a malformed ground truth (a bug in the data) or an unknown ``mode``.
"""

from __future__ import annotations

import math
from typing import Any

from videossr.data_sources import COUNTING, GROUNDING, JIGSAW, task_of
from videossr.rewards.scoring import MODES, SCORERS, Score, parse_ground_truth, score_answer

__all__ = [
    "compute_score",
    "score_answer",
    "parse_ground_truth",
    "Score",
    "SCORERS",
    "MODES",
    "TASK_IDS",
    "RESULT_KEYS",
]

TASK_IDS = {GROUNDING: 0, COUNTING: 1, JIGSAW: 2}
OTHER_TASK_ID = -1
RESULT_KEYS = ("score", "format_ok", "strict", "task_id")


def _result(score: float, format_ok: float, strict: float, task_id: int) -> dict[str, float]:
    return {"score": float(score), "format_ok": float(format_ok), "strict": float(strict), "task_id": float(task_id)}


def _fallback(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any, kwargs: dict) -> dict:
    from verl.utils.reward_score import default_compute_score

    raw = default_compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)
    value = raw["score"] if isinstance(raw, dict) else raw
    value = float(value)
    if not math.isfinite(value):
        value = 0.0
    ok = 1.0 if value > 0 else 0.0
    return _result(value, ok, ok, OTHER_TASK_ID)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict | None = None,
    mode: str = "smooth",
    **kwargs: Any,
) -> dict[str, float]:
    """Reward of one decoded response, in verl's custom reward function signature (see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"reward mode must be one of {MODES}, got {mode!r}")
    task = task_of(data_source) if isinstance(data_source, str) else None
    if task is None:
        return _fallback(data_source, solution_str, ground_truth, extra_info, kwargs)
    score: Score = score_answer(task, solution_str, ground_truth, mode=mode)
    return _result(score.value, 1.0 if score.format_ok else 0.0, score.strict, TASK_IDS[task])

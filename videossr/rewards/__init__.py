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
    task_id     the task's task_id (0 grounding, 1 counting, 2 jigsaw), -1 a data source VideoSSR does not own
    gold_ok     1.0 if the row itself could be scored; 0.0 for a broken row (a ground truth that does not parse,
                a data_source neither VideoSSR nor verl knows, a recipe row whose frames were never made because
                it was loaded without ``videossr.training.dataset.VideoSSRDataset``), which then scores 0

Inside training the reward never raises on a row: one bad row must not end a multi-hour run. A broken row scores 0
with ``gold_ok`` 0 and is logged once per distinct value (its mean below 1 in the logged metrics says that some
rows are broken). Strictness belongs before training: ``pretext_tasks/validate.py`` and the launcher's dry run
reject such rows. data_source names are matched without regard to case or surrounding whitespace.

Whatever verl hands it, it does not raise: ``extra_info`` may be None, pandas NA, NaN, an array or a dict holding
numpy values or NA; ``solution_str`` is read as text when it is a ``str`` (numpy strings included) or UTF-8 bytes
(undecodable bytes replaced), and anything else is an answer that states nothing (``format_ok`` 0); a ground truth
that is not a string (a list, an array) is a broken row (``gold_ok`` 0). Every answer is parsed and scored in plain
Python by the task's own ``score_text`` (the formulas in ``videossr.tasks.metrics``), in time linear in its length:
about 90,000 scores per CPU-second on a GRPO-like mix (``benchmarks/bench_rewards.py``), a few milliseconds for a
step's rollouts.

A data_source VideoSSR does not own goes to ``verl.utils.reward_score.default_compute_score`` and its result (a float
or a dict with ``score``) is wrapped into the same dict: its ``score`` is kept on the scale that scorer uses (not
clipped), ``format_ok`` and ``strict`` are 1.0 when that score is positive, else 0.0.

For VideoSSR sources the function never prints and always returns a score in [0, 1]. The one error it raises is an
unknown ``mode`` (a configuration mistake the launcher rejects before training; it would fail on the first call).
"""

from __future__ import annotations

import logging
import math
import reprlib
from typing import Any

from videossr.tasks import MODES, task_for_source
from videossr.tasks.sample import made_without_dataset

__all__ = ["compute_score", "MODES", "RESULT_KEYS", "OTHER_TASK_ID"]

OTHER_TASK_ID = -1
RESULT_KEYS = ("score", "format_ok", "strict", "task_id", "gold_ok")

logger = logging.getLogger(__name__)
_REPORTED: set[str] = set()  # broken rows already logged (one line per distinct value)
_MAX_REPORTED = 1000
_SHORT = reprlib.Repr()  # values in log lines: long strings and arrays cut short
_SHORT.maxstring = _SHORT.maxother = 200


def _report_once(what: str, value: object, error: BaseException) -> None:
    shown = _SHORT.repr(value)
    key = f"{what}:{shown}"
    if key in _REPORTED or len(_REPORTED) >= _MAX_REPORTED:
        return
    _REPORTED.add(key)
    message = str(error)
    logger.warning("reward: %s %s cannot be scored (scored 0, gold_ok=0): %s: %s", what, shown,
                   type(error).__name__, message if len(message) <= 400 else message[:400] + "...")


def _result(score: float, format_ok: float, strict: float, task_id: float, gold_ok: float = 1.0) -> dict[str, float]:
    return {"score": score, "format_ok": format_ok, "strict": strict, "task_id": task_id, "gold_ok": gold_ok}


def _text(solution_str: Any) -> str:
    """The response as text: a str as it is, bytes decoded as UTF-8, anything else as no answer."""
    if isinstance(solution_str, str):
        return solution_str
    if isinstance(solution_str, (bytes, bytearray)):
        return bytes(solution_str).decode("utf-8", errors="replace")
    return ""


def _fallback(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any, kwargs: dict) -> dict:
    from verl.utils.reward_score import default_compute_score

    try:
        raw = default_compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)
        value = float(raw["score"] if isinstance(raw, dict) else raw)
    except Exception as e:  # noqa: BLE001 - any failure of verl's scorer on one row is that row's 0, never a crash
        _report_once("data_source", data_source, e)
        return _result(0.0, 0.0, 0.0, float(OTHER_TASK_ID), gold_ok=0.0)
    if not math.isfinite(value):
        value = 0.0
    ok = 1.0 if value > 0 else 0.0
    return _result(value, ok, ok, float(OTHER_TASK_ID))


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict | None = None,
    mode: str = "smooth",
    **kwargs: Any,
) -> dict[str, float]:
    """Reward of one decoded response, in verl's custom reward function signature (see the module docstring)."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"reward mode must be one of {MODES}, got {mode!r}")
    task = task_for_source(data_source)
    if task is None:
        return _fallback(data_source, solution_str, ground_truth, extra_info, kwargs)
    task_id = float(task.task_id)
    if made_without_dataset(extra_info):  # a recipe row loaded by a plain dataset: the model saw no edit
        _report_once(f"{task.name} recipe row (load it with data.custom_cls=videossr.training.dataset.VideoSSRDataset)",
                     extra_info.get("index"), ValueError("its frames were never made"))
        return _result(0.0, 0.0, 0.0, task_id, 0.0)
    try:
        value, format_ok, strict, _ = task.score_text(_text(solution_str), ground_truth, mode)
    except ValueError as e:  # the row's ground truth does not parse: a data bug, reported, never a crash
        _report_once(f"{task.name} ground truth", ground_truth, e)
        return _result(0.0, 0.0, 0.0, task_id, 0.0)
    except Exception as e:  # noqa: BLE001 - a scorer bug must not end a training run either; logged with its trace
        _report_once(f"{task.name} answer", _text(solution_str)[:200], e)
        logger.debug("reward scorer failure", exc_info=True)
        return _result(0.0, 0.0, 0.0, task_id, 0.0)
    return _result(float(value), 1.0 if format_ok else 0.0, float(strict), task_id)

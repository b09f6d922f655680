"""Chance levels: the expected score of a uniform guesser, computed by simulation with the tasks' own scorers.

A guesser that sees nothing answers uniformly from the answer space a question offers (``PretextTask.guess``):

    counting   each class's count uniform in 1..F*K (the range the generator can produce for one class)
    jigsaw     a uniformly random permutation of the n clips
    grounding  an interval between two distinct frame boundaries of the video, uniform over all such pairs

Its expected score depends on the true answers too (smooth counting credit grows with the true count; a long
segment is easier to hit), so the true answers are drawn as the generator draws them: the task's own ``draw`` on
synthetic videos of the benchmark's shape (48 frames of a 60 s video; the draws read no pixels; 128x72 frames, on
which counting places every requested shape, as it does at 512x288, four times faster), or, for a dataset at hand, the rows' own answers and audit info. Each (truth, guess) pair is scored by ``score_text`` in
both modes, exactly as the reward and VIUBench score a model's answer.

``params_chance(task, params)`` is the chance level of any difficulty setting (VIUBench's
``viubench.subtype_chance`` calls it for each subtype); ``each_row_chance(rows)`` / ``rows_chance(rows)`` of the
rows of a parquet, from each row's own answer and audit info (what the diagnostic prints next to each group). All are seeded: the same arguments give the same numbers.

Strict counting is exact in closed form, 1 / (F*K) per class whatever the true counts are, since every true count
lies in 1..F*K and the guess is uniform there: 1/9 = 11.1% (easy), 1/16 = 6.25% (hard), the paper's figures; the
simulation reproduces them within its sampling error. Strict jigsaw is 1/n! (0.14% for 6 clips).

Usage::

    from videossr.evaluation.chance import params_chance
    params_chance("jigsaw", get_task("jigsaw").preset("easy"))
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from videossr.sampling.store import TaskContext, VideoRecord
from videossr.tasks import MODES, get_task, task_for_source

__all__ = ["Chance", "DEFAULT_DRAWS", "each_row_chance", "mean_chance", "params_chance", "rows_chance", "row_chance",
           "synthetic_videos"]

DEFAULT_DRAWS = 500  # true answers drawn per setting
GUESSES_PER_TRUTH = 32  # guesses scored against each (strict chance depends on the guesses only)
CHANCE_STREAM = 11  # keeps these random streams apart from the build's


class Chance(NamedTuple):
    """Expected score of the uniform guesser in both modes, and how many (truth, guess) pairs were scored."""

    smooth: float
    strict: float
    n: int

    def value(self, mode: str) -> float:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        return self.smooth if mode == "smooth" else self.strict

    def to_json(self) -> dict[str, float]:
        return {"smooth": self.smooth, "strict": self.strict, "n": self.n}


def synthetic_videos(num_frames: int = 48, *, duration: float = 60.0, width: int = 128, height: int = 72,
                     count: int = 2) -> tuple[VideoRecord, ...]:
    """Frame-store records of the usual shape (no frames on disk): what the draws need, as the sampler makes it."""
    span = 0.9 * duration
    return tuple(
        VideoRecord(video_id=f"chance_{k}", source=f"chance_{k}.mp4",
                    frames=tuple(f"chance_{k}/{i:03d}.jpg" for i in range(num_frames)),
                    timestamps=tuple(0.05 * duration + (i + 0.5) * span / num_frames for i in range(num_frames)),
                    sample_fps=num_frames / span, duration=duration, width=width, height=height,
                    source_width=width, source_height=height, decoder="none")
        for k in range(count)
    )


def _mean_scores(task: Any, pairs: Iterable[tuple[str, str]]) -> Chance:
    smooth = strict = 0.0
    n = 0
    for guess, gold in pairs:
        s = task.score_text(guess, gold, "smooth")
        smooth += s.value
        strict += s.strict
        n += 1
    if not n:
        raise ValueError("no (truth, guess) pairs to score")
    return Chance(smooth / n, strict / n, n)


def params_chance(task_name: str, params: Any, *, draws: int = DEFAULT_DRAWS, guesses: int = GUESSES_PER_TRUTH,
                  seed: int = 0, num_frames: int = 48) -> Chance:
    """Chance level of one difficulty setting: ``draws`` true answers drawn by the task, ``guesses`` guesses each."""
    if draws < 1 or guesses < 1:
        raise ValueError(f"draws and guesses must be >= 1, got {draws} and {guesses}")
    task = get_task(task_name)
    videos = synthetic_videos(num_frames)
    ctx = TaskContext(frames_root=Path("."), pool=videos)
    rng = np.random.default_rng([seed, CHANCE_STREAM, task.task_id])

    def pairs():
        for k in range(draws):
            draft = task.draw(videos[k % len(videos)], rng, params, ctx)
            for _ in range(guesses):
                yield task.guess(rng, draft.params), draft.answer

    return _mean_scores(task, pairs())


def row_chance(row: Mapping[str, Any], rng: np.random.Generator, guesses: int) -> Chance | None:
    """Chance level of one verl row of a VideoSSR task (its own answer and audit info); None for a foreign row."""
    task = task_for_source(row.get("data_source"))
    if task is None:
        return None
    gold = (row.get("reward_model") or {}).get("ground_truth")
    try:
        audit = json.loads((row.get("extra_info") or {})["params"])
        task.parse_gold(gold)
        guessed = [task.guess(rng, audit) for _ in range(guesses)]
    except (KeyError, TypeError, ValueError, NotImplementedError, json.JSONDecodeError):
        return None
    return _mean_scores(task, ((g, gold) for g in guessed))


def each_row_chance(rows: Mapping[str, Mapping[str, Any]], *, seed: int = 0, budget: int = 20000,
                    min_guesses: int = 8) -> dict[str, Chance | None]:
    """The chance level of each row (by key): about ``budget`` guesses in all, at least ``min_guesses`` per row.

    Each row's guesses come from its own stream (the seed and the row's key), so a row's chance level does not
    depend on the other rows.
    """
    if not rows:
        return {}
    guesses = max(min_guesses, math.ceil(budget / len(rows)))
    out = {}
    for key, row in rows.items():
        tag = int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:4], "little")
        out[key] = row_chance(row, np.random.default_rng([seed, CHANCE_STREAM, tag]), guesses)
    return out


def mean_chance(chances: Iterable[Chance | None]) -> Chance | None:
    """The mean of the chance levels given (rows without one skipped); None if none has one."""
    found = [c for c in chances if c is not None]
    if not found:
        return None
    return Chance(sum(c.smooth for c in found) / len(found), sum(c.strict for c in found) / len(found),
                  sum(c.n for c in found))


def rows_chance(rows: Iterable[Mapping[str, Any]], *, seed: int = 0, budget: int = 20000,
                min_guesses: int = 8) -> Chance | None:
    """Mean chance level over ``rows`` (those of VideoSSR tasks); None if none has one."""
    keyed = {str(k): r for k, r in enumerate(rows)}
    return mean_chance(each_row_chance(keyed, seed=seed, budget=budget, min_guesses=min_guesses).values())

"""Planning a dataset: which sample gets which video, which variant, which split and which random stream.

A plan is a list of ``Unit``s, one per sample, each holding everything that determines it (task, index, variant and
its parameters, video, seed, split, pixel budget). Nothing in a plan depends on worker count, executor or completion
order, so the same inputs and seed give byte-identical datasets.

Random streams. A sample's own randomness is ``numpy.random.default_rng([seed, SAMPLE_STREAM, task_id, index])``
where ``index`` is the sample's number within its task and ``task_id`` the task's number in ``videossr.tasks``.
Video assignment: within each task, sample ``i`` uses video ``perm_e[i % n]`` where ``e = i // n`` and ``perm_e`` is
a seeded permutation of the ``n`` videos drawn afresh for every pass ``e`` over them (every video is used equally
often, and with few videos the variant and the video are not locked together). Variants get exact counts (largest
remainder on their weights) in a seeded order. Held-out rows are a seeded random subset.

Usage::

    from videossr.datasets.planning import Variant, plan_task
    task = get_task("jigsaw")
    units = plan_task("jigsaw", [Variant("6clips", task.preset("easy"))], count=100, videos=records, seed=0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videossr.constants import TRAIN_MAX_PIXELS, TRAIN_MIN_PIXELS
from videossr.io import params_to_json
from videossr.sampling.store import VideoRecord
from videossr.tasks import get_task
from videossr.tasks.recipe import sample_rng

FORMAT_VERSION = 1
SPLITS = ("train", "val")

# Tags that keep the random streams apart (first entropy word after the seed).
VIDEO_STREAM, VARIANT_STREAM, SPLIT_STREAM, SHUFFLE_STREAM = range(1, 5)  # 0 is SAMPLE_STREAM, a sample's own


def task_id(task: str) -> int:
    """The number of ``task`` in the table (ValueError naming an unknown task)."""
    return get_task(task).task_id


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed


@dataclass(frozen=True)
class Variant:
    """A named parameter set of a task (e.g. one perturbation, one difficulty) and its share of the samples."""

    label: str
    params: Any
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.label or "/" in self.label:
            raise ValueError(f"variant label must be a non-empty name without '/', got {self.label!r}")
        if not self.weight > 0:
            raise ValueError(f"variant {self.label!r}: weight must be > 0, got {self.weight!r}")


@dataclass(frozen=True)
class Unit:
    """One planned sample: everything that determines it."""

    task: str
    index: int  # number of the sample within its task: drives its RNG
    row_index: int  # extra_info.index: unique within the dataset
    variant: str
    params: Any  # the task's Params
    video_id: str
    seed: int
    split: str = "train"
    min_pixels: int = TRAIN_MIN_PIXELS
    max_pixels: int = TRAIN_MAX_PIXELS
    materialize: bool = False  # only the recipe the trainer renders (False, the default) or the new pixels (True)
    frames_root: str = ""  # the frame store it reads (rows hold absolute paths into it: a moved store re-makes them)

    def __post_init__(self) -> None:
        task_id(self.task)
        if self.index < 0 or self.row_index < 0:
            raise ValueError(f"{self.task}: indices must be >= 0, got {self.index}, {self.row_index}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")
        _check_seed(self.seed)

    @property
    def key(self) -> str:
        return f"{self.task}_{self.index:06d}"

    def rng(self, attempt: int = 0) -> np.random.Generator:
        """The sample's random stream; ``attempt`` > 0 gives the streams of its redraws (see ``run_unit``)."""
        return sample_rng(self.seed, self.task, self.index, attempt)

    def fingerprint(self) -> dict:
        """The unit as JSON: a committed unit file is reused only if its fingerprint is equal."""
        return {
            "format": FORMAT_VERSION,
            "task": self.task,
            "index": self.index,
            "row_index": self.row_index,
            "variant": self.variant,
            "params": params_to_json(self.params),
            "video_id": self.video_id,
            "seed": self.seed,
            "split": self.split,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            **({} if self.materialize else {"rows": "recipes"}),
            **({"frames_root": self.frames_root} if self.frames_root else {}),
        }


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integer counts proportional to ``weights`` (ties go to the earlier entry)."""
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    if not weights or any(not w > 0 for w in weights):
        raise ValueError(f"weights must be non-empty and positive, got {list(weights)}")
    s = float(sum(weights))
    exact = [total * w / s for w in weights]
    counts = [int(np.floor(x)) for x in exact]
    order = sorted(range(len(weights)), key=lambda k: (-(exact[k] - counts[k]), k))
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return counts


def assign_videos(videos: Sequence[VideoRecord], task: str, count: int, seed: int) -> list[VideoRecord]:
    """The video of each of ``count`` samples of ``task`` (see the module docstring)."""
    if not videos:
        raise ValueError("no videos to make samples from (the frame store's manifest is empty)")
    videos = sorted(videos, key=lambda r: r.video_id)
    n = len(videos)
    out = []
    for epoch in range((count + n - 1) // n):
        perm = np.random.default_rng([seed, VIDEO_STREAM, task_id(task), epoch]).permutation(n)
        out.extend(videos[int(k)] for k in perm)
    return out[:count]


def assign_variants(variants: Sequence[Variant], task: str, count: int, seed: int) -> list[Variant]:
    """Exact counts per variant (largest remainder on the weights), in a seeded order."""
    counts = largest_remainder(count, [v.weight for v in variants])
    labels = [v.label for v in variants]
    if len(set(labels)) != len(labels):
        raise ValueError(f"variant labels must be unique, got {labels}")
    expanded = [v for v, c in zip(variants, counts) for _ in range(c)]
    perm = np.random.default_rng([seed, VARIANT_STREAM, task_id(task)]).permutation(len(expanded))
    return [expanded[int(k)] for k in perm]


def plan_task(
    task: str,
    variants: Sequence[Variant],
    *,
    count: int,
    videos: Sequence[VideoRecord],
    seed: int,
    first_row_index: int = 0,
    min_pixels: int = TRAIN_MIN_PIXELS,
    max_pixels: int = TRAIN_MAX_PIXELS,
    materialize: bool = False,
) -> list[Unit]:
    """The ``count`` units of one task, numbered from 0, rows numbered from ``first_row_index``."""
    _check_seed(seed)
    chosen_videos = assign_videos(videos, task, count, seed)
    chosen_variants = assign_variants(variants, task, count, seed)
    return [
        Unit(
            task=task,
            index=i,
            row_index=first_row_index + i,
            variant=variant.label,
            params=variant.params,
            video_id=video.video_id,
            seed=seed,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            materialize=materialize,
        )
        for i, (video, variant) in enumerate(zip(chosen_videos, chosen_variants))
    ]


def assign_splits(units: Sequence[Unit], val_fraction: float, seed: int) -> list[Unit]:
    """Mark ``round(val_fraction * len(units))`` seeded-random units as ``val``."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    k = int(round(val_fraction * len(units)))
    val = set(np.random.default_rng([seed, SPLIT_STREAM]).permutation(len(units))[:k].tolist())
    return [dataclasses.replace(u, split="val" if i in val else "train") for i, u in enumerate(units)]


def shuffled(rows: Sequence[dict], seed: int) -> list[dict]:
    """``rows`` in a seeded random order (the order of the combined train file)."""
    perm = np.random.default_rng([seed, SHUFFLE_STREAM]).permutation(len(rows))
    return [rows[int(k)] for k in perm]

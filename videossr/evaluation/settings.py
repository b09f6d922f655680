"""``EvalSettings``: what changes a model's answers in an evaluation run, one class for every benchmark.

Each benchmark (``videossr.evaluation.benchmarks``) uses the fields that apply to it and records exactly those with
every result line and in summary.json (``Benchmark.settings_json``); a resumed run refuses results made under other
values. Video QA and temporal grounding use all of them; VIUBench, whose frames are fixed by its parquet, uses
``model``, ``backend``, ``max_new_tokens`` and ``max_pixels`` only.

Sampling (``rollouts``, ``temperature``, ``top_p``, ``top_k``, ``seed``) is used by the zero-variance diagnostic
(``videossr.evaluation.diagnose``), which draws several answers per question as GRPO's rollouts do; the benchmarks
decode greedily and neither use nor record these fields.

``min_pixels`` / ``max_pixels`` left at None mean "the benchmark's default": 128*128 / 512*512 per frame for video
files, each row's own budget for VIUBench (``max_pixels`` then overrides the rows' upper budget).

Usage::

    from videossr.evaluation import EvalSettings
    settings = EvalSettings(model="ckpt/VideoSSR-8B", backend="vllm", max_frames=64)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from videossr.evaluation.inputs import PIXEL_FACTOR
from videossr.evaluation.prompts import DEFAULT_PRESET, get_preset

MIN_MAX_PIXELS = PIXEL_FACTOR * PIXEL_FACTOR  # one 32x32 patch group: the smallest frame a model can take


@dataclass(frozen=True, kw_only=True)
class EvalSettings:
    """Model, backend and input settings of one run (see the module docstring for who uses which field)."""

    model: str
    backend: str
    max_new_tokens: int = 32
    task: str | None = None  # the benchmark's name; filled in by the benchmark when left out
    fps: float = 2.0  # video files: sampling rate before the max_frames cap
    max_frames: int = 32  # video files: at most this many frames per video
    min_pixels: int | None = None  # per-frame pixel budget, lower bound (None: the benchmark's default)
    max_pixels: int | None = None  # per-frame pixel budget, upper bound (None: the benchmark's default)
    prompt_preset: str = DEFAULT_PRESET  # video files: instruction wording (videossr.evaluation.prompts)
    rollouts: int = 1  # diagnostic: answers sampled per question
    temperature: float = 0.0  # diagnostic: sampling temperature (0: greedy)
    top_p: float = 1.0  # diagnostic: nucleus sampling (1: off)
    top_k: int = -1  # diagnostic: top-k sampling (-1: off)
    seed: int = 0  # diagnostic: the seed every question's rollouts derive from

    def __post_init__(self) -> None:
        for name in ("model", "backend"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        object.__setattr__(self, "prompt_preset", get_preset(self.prompt_preset).name)
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not self.fps > 0:
            raise ValueError(f"fps must be a number > 0, got {self.fps!r}")
        object.__setattr__(self, "fps", float(self.fps))
        _check_int("max_new_tokens", self.max_new_tokens, 1)
        _check_int("max_frames", self.max_frames, 2)
        if self.min_pixels is not None:
            _check_int("min_pixels", self.min_pixels, 1)
        if self.max_pixels is not None:
            _check_int("max_pixels", self.max_pixels, MIN_MAX_PIXELS)
        _check_int("rollouts", self.rollouts, 1)
        _check_int("seed", self.seed, 0)
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < -1:
            raise ValueError(f"top_k must be an integer >= 1, or -1 or 0 for off, got {self.top_k!r}")
        for name, lo, hi, lo_open in (("temperature", 0.0, math.inf, False), ("top_p", 0.0, 1.0, True)):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or value > hi or value < lo or (lo_open and value == lo):
                bound = f"in ({lo:g}, {hi:g}]" if lo_open else f">= {lo:g}"
                raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.min_pixels is not None and self.max_pixels is not None and self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} is above max_pixels {self.max_pixels}")

    def to_json(self) -> dict[str, Any]:
        """Every field (a benchmark records only its own subset: ``Benchmark.settings_json``)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> EvalSettings:
        return dataclasses.replace(self, **changes)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")

"""Anomaly Grounding: one segment of a sampled video is perturbed; the model answers when it starts and ends.

A segment of ``t`` consecutive frames (``t`` uniform in ``[min_len, max_len]``, start uniform among the positions
where it fits) is perturbed by one perturbation drawn uniformly from ``params.perturbations`` (see
``videossr.tasks.perturb``); the frames outside it are the untouched source frames. The answer is the segment on the
model's clock (``videossr.sampling.store``: frame ``i`` sits at ``i / sample_fps`` seconds), end exclusive::

    f"{start / fps:.1f}-{(start + t) / fps:.1f}"     with fps = video.sample_fps

An answerable segment. The answer has one decimal (the paper's format), so each end of the true answer may be
off by up to 0.05 s from the segment's exact ends. A segment of at least ``min_seconds`` (default 1.0 s) keeps the
IoU of the written answer with the exact segment at 0.9 or more (worst case: both ends rounded inwards,
``(L - 0.1) / L`` = 0.9 at L = 1.0 s), and makes a zero-length answer such as ``0.4-0.4`` impossible. The length
is drawn uniformly from ``[max(min_len, ceil(min_seconds * fps)), max_len]`` frames: on any video longer than about
7 s (48 frames, 8-frame segments) the lower bound is ``min_len`` and the draw is the paper's; on shorter or sparser
clips the short lengths are left out, and a clip where even ``max_len`` frames last less than ``min_seconds`` gives no
grounding sample (a ValueError the build reports and skips).

``Sample.params`` holds everything needed to re-derive the answer and the frames: the perturbation, its drawn
parameters, the segment's start index, length and end, the fps and the frame count.

Scoring: the temporal IoU of the predicted and the true interval, in both modes (``videossr.tasks.metrics``). The truth
must be written as the generator writes it, ``<start>-<end>`` in seconds with end > start (spaces around the dash
tolerated); model output is read tolerantly by ``videossr.tasks.answers.parse_interval``.

Presets: one per perturbation (that perturbation alone; VIUBench's grounding subtypes) and ``train`` (the four
training perturbations mixed; the default).

Usage::

    from videossr.tasks import get_task
    task = get_task("grounding")
    sample = task.make_sample(video, numpy.random.default_rng(0), task.preset("ZoomOut"), ctx)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from videossr.tasks import answers, metrics, perturb
from videossr.constants import VIDEO_PLACEHOLDER
from videossr.sampling.store import TaskContext, VideoRecord
from videossr.tasks.perturb import PERTURBATIONS, TRAINING_PERTURBATIONS
from videossr.tasks.sample import Clip
from videossr.tasks.base import Draft, GridFlag, GridPoint, Preview, PretextTask, Rung, audit_int, audit_mapping

__all__ = ["PERTURBATIONS", "TRAINING_PERTURBATIONS", "Params", "GroundingTask", "question_for", "answer_for"]

# Every perturbation (StutterHold in particular) needs at least this many frames in its segment.
MIN_SEGMENT = 4

# The difficulty ladder's perturbation sets: the two most glaring of the training four (a colour swap, the picture
# upside down), the training four, and the training four with subtle ones last (a mild zoom, a blur, a saturation
# change: the picture stays itself, only its look shifts).
OBVIOUS_PERTURBATIONS = ("ChannelSwap", "Rotate180")
SUBTLE_PERTURBATIONS = ("ZoomIn", "Blur", "Saturation")
# The sweep's default segment length ranges (frames, inclusive); the paper's is 8-16.
SWEEP_LENGTHS = ((4, 8), (8, 16), (16, 24))


@dataclass(frozen=True)
class Params:
    """Which perturbations to mix (uniformly) and the segment length range, in frames (inclusive)."""

    perturbations: tuple[str, ...] = TRAINING_PERTURBATIONS
    min_len: int = 8
    max_len: int = 16
    min_seconds: float = 1.0  # shortest segment on the model's clock (see the module docstring)

    def __post_init__(self) -> None:
        if isinstance(self.perturbations, str) or not self.perturbations:
            raise ValueError(f"perturbations must be a non-empty tuple of names, got {self.perturbations!r}")
        object.__setattr__(self, "perturbations", tuple(self.perturbations))
        for name in self.perturbations:
            if name not in perturb.REGISTRY:
                raise ValueError(f"unknown perturbation {name!r}; valid: {', '.join(PERTURBATIONS)}")
        if len(set(self.perturbations)) != len(self.perturbations):
            raise ValueError(f"perturbations listed twice: {self.perturbations!r}")
        if not MIN_SEGMENT <= self.min_len <= self.max_len:
            raise ValueError(
                f"need {MIN_SEGMENT} <= min_len <= max_len, got min_len={self.min_len!r} max_len={self.max_len!r}"
            )
        if not (isinstance(self.min_seconds, (int, float)) and 0 < self.min_seconds < math.inf):
            raise ValueError(f"min_seconds must be a positive number of seconds, got {self.min_seconds!r}")

    def length_range(self, fps: float) -> tuple[int, int]:
        """The segment lengths (frames, inclusive) that are answerable at ``fps`` frames per second of model clock."""
        return max(self.min_len, math.ceil(self.min_seconds * fps - 1e-9)), self.max_len


def answer_for(start: int, length: int, fps: float) -> str:
    """The ground-truth string of a segment: start and exclusive end in seconds on the model's clock."""
    return f"{start / fps:.1f}-{(start + length) / fps:.1f}"


def question_for(perturbation: str) -> str:
    """The user turn for a video perturbed by ``perturbation`` (one ``<video>`` placeholder)."""
    p = perturb.get(perturbation)
    text = (
        f"{VIDEO_PLACEHOLDER}\n"
        "This video has been edited. In one continuous segment of it, "
        f"{p.description}; the rest of the video is unchanged. "
    )
    if perturbation in ("Slow", "Fast"):
        text += (
            "The timestamps stay evenly spaced throughout, so judge the speed by what happens in the frames, "
            "not by the timestamps. "
        )
    text += (
        "At what time does the edited segment start, and at what time does it end? "
        "Give both in seconds with one decimal, as <start>-<end> (for example 12.5-18.0)."
    )
    return text


# The truth as the generator writes it: "14.5-26.2" (spaces around the dash tolerated in hand-edited files).
_GOLD_RE = re.compile(r"(\d{1,9}(?:\.\d{1,9})?) ?- ?(\d{1,9}(?:\.\d{1,9})?)", re.ASCII)
SEGMENT_OUTLINE = (230, 30, 30)


class GroundingTask(PretextTask):
    """Anomaly Grounding (see the module docstring)."""

    name = "grounding"
    data_source = "videossr_grounding"
    aliases = ("grounding",)
    task_id = 0
    Params = Params
    default_preset = "train"

    @property
    def presets(self) -> Mapping[str, Params]:
        presets = {p: Params(perturbations=(p,)) for p in PERTURBATIONS}
        presets["train"] = Params(perturbations=tuple(TRAINING_PERTURBATIONS))
        return MappingProxyType(presets)

    def draw(self, video: VideoRecord, rng: np.random.Generator, params: Params, ctx: TaskContext) -> Draft:
        """Perturbation, segment and the perturbation's parameters for ``video``, all from ``rng``."""
        n = video.num_frames
        if n < params.max_len:
            raise ValueError(
                f"{video.video_id!r} has {n} frames, fewer than the longest segment max_len={params.max_len}"
            )
        fps = float(video.sample_fps)
        lo, hi = params.length_range(fps)
        if lo > hi:
            raise ValueError(
                f"{video.video_id!r}: at {fps:.3g} frames per second even max_len={hi} frames last less than "
                f"min_seconds={params.min_seconds} s, too short for an answerable segment"
            )
        name = params.perturbations[int(rng.integers(len(params.perturbations)))]
        length = int(rng.integers(lo, hi + 1))
        start = int(rng.integers(0, n - length + 1))
        drawn = perturb.get(name).draw(rng, video, ctx, start, length)
        audit = {
            "perturbation": name,
            "perturbation_params": drawn,
            "start": start,
            "length": length,
            "end": start + length,
            "fps": fps,
            "num_frames": n,
            "min_len": params.min_len,
            "max_len": params.max_len,
            "min_seconds": params.min_seconds,
        }
        return Draft(video.video_id, question_for(name), answer_for(start, length, fps), audit)

    def redraft(self, audit: Any, video: VideoRecord | None = None, ctx: TaskContext | None = None) -> Draft:
        """The question and answer of a grounding sample's audit info, its segment and perturbation checked."""
        audit = audit_mapping(audit)
        name = audit.get("perturbation")
        if not isinstance(name, str) or name not in perturb.REGISTRY:
            raise ValueError(f"perturbation: must be one of {', '.join(PERTURBATIONS)}, got {name!r:.80}")
        n = audit_int(audit, "num_frames", 1)
        if video is not None and n != video.num_frames:
            raise ValueError(f"num_frames: {n}, but the video {video.video_id!r} has {video.num_frames} frames")
        length = audit_int(audit, "length", 2, n)
        start = audit_int(audit, "start", 0, n - length)
        if audit_int(audit, "end", 0) != start + length:
            raise ValueError(f"end: {audit['end']} is not start + length = {start + length}")
        fps = audit.get("fps")
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < math.inf:
            raise ValueError(f"fps: must be a number > 0, got {fps!r:.80}")
        if video is not None and float(fps) != float(video.sample_fps):
            raise ValueError(f"fps: {fps}, but the video {video.video_id!r} is sampled at {video.sample_fps}")
        problem = perturb.params_problem(name, audit.get("perturbation_params"), start, length, n,
                                         video.video_id if video is not None else "",
                                         ctx.pool if ctx is not None else None)
        if problem is not None:
            raise ValueError(f"perturbation_params: {problem}")
        video_id = video.video_id if video is not None else ""
        return Draft(video_id, question_for(name), answer_for(start, length, float(fps)), audit)

    def clips(self, video: VideoRecord, ctx: TaskContext, audit: Mapping[str, Any]) -> tuple[Clip, ...]:
        frames = perturb.apply_to_video(audit["perturbation"], video, ctx, int(audit["start"]), int(audit["length"]),
                                        audit["perturbation_params"])
        return (Clip(frames=frames, sample_fps=float(video.sample_fps)),)

    def format_answer(self, truth: tuple[float, float]) -> str:
        return f"{truth[0]:.1f}-{truth[1]:.1f}"

    def _parse_gold(self, gold: str) -> tuple[float, float]:
        m = _GOLD_RE.fullmatch(gold.strip())
        if m is None or not float(m.group(2)) > float(m.group(1)):
            raise ValueError(f"grounding ground truth must look like '14.5-26.2' with end > start, got {gold!r}")
        return float(m.group(1)), float(m.group(2))

    def parse_answer(self, text: str, truth: Any) -> tuple[float, float] | None:
        return answers.parse_interval(text)

    def score(self, pred: tuple[float, float], truth: tuple[float, float], mode: str) -> float:
        return metrics.temporal_iou(pred, truth)  # the same in both modes

    def difficulty(self, audit: Mapping[str, Any]) -> str:
        return f"{audit['perturbation']}/len{int(audit['min_len'])}-{int(audit['max_len'])}"

    def guess(self, rng: np.random.Generator, audit: Mapping[str, Any]) -> str:
        """An interval between two distinct frame boundaries of the video, uniform over all such pairs."""
        n = int(audit["num_frames"])
        start, end = sorted(int(b) for b in rng.choice(n + 1, size=2, replace=False))
        return answer_for(start, end - start, float(audit["fps"]))

    def preview(self, params: Mapping[str, Any]) -> Preview:
        if "start" not in params or "length" not in params:
            return Preview()
        start, length = int(params["start"]), int(params["length"])
        header = (
            f"{params.get('perturbation', '?')} on frames {start}..{start + length - 1} (red) | "
            f"fps {float(params.get('fps', 0)):.3f}"
        )
        return Preview(header=header, marks={(0, i): (SEGMENT_OUTLINE, "") for i in range(start, start + length)})

    # --- the difficulty ladder and the sweep grid ---------------------------------------------------------------

    grid_flags = (
        GridFlag("--grounding-lengths", "lengths", "pairs", "LO-HI,...",
                 "segment length ranges in frames (default 4-8,8-16,16-24)"),
        GridFlag("--grounding-perturbations", "perturbations", "names", "KIND,...",
                 "perturbation kinds (default ChannelSwap,Rotate180,ZoomOut,Mirror: the training four)"),
    )

    @property
    def ladder(self) -> tuple[Rung, ...]:
        """Long segments with glaring edits first, then the training four on shorter segments (the paper's 8-16 third),
        the subtle perturbations last. Segments of up to 24 frames need videos of at least 24 frames."""
        train = tuple(TRAINING_PERTURBATIONS)
        return (
            Rung("len16-24_obvious", Params(perturbations=OBVIOUS_PERTURBATIONS, min_len=16, max_len=24)),
            Rung("len16-24", Params(perturbations=train, min_len=16, max_len=24)),
            Rung("len8-16", Params(perturbations=train), paper=True),
            Rung("len4-8", Params(perturbations=train, min_len=4, max_len=8)),
            Rung("len4-8_subtle", Params(perturbations=train + SUBTLE_PERTURBATIONS, min_len=4, max_len=8)),
        )

    def sweep_grid(self, perturbations: Sequence[str] | None = None,
                   lengths: Sequence[tuple[int, int]] | None = None) -> list[GridPoint]:
        """Every perturbation kind (default: the training four) with every segment length range (default 4-8, 8-16,
        16-24 frames); one family per kind, so the training mix keeps one variant per kind as the paper's does."""
        out = []
        for kind in (TRAINING_PERTURBATIONS if perturbations is None else perturbations):
            canonical = self.preset(kind).perturbations[0]  # ValueError naming an unknown kind; any case accepted
            for lo, hi in (SWEEP_LENGTHS if lengths is None else lengths):
                out.append(GridPoint(f"{canonical}_len{lo}-{hi}", canonical,
                                     self.params(perturbations=(canonical,), min_len=lo, max_len=hi)))
        return out

"""Anomaly Grounding: one segment of a sampled video is perturbed; the model answers when it starts and ends.

A segment of ``t`` consecutive frames (``t`` uniform in ``[min_len, max_len]``, start uniform among the positions
where it fits) is perturbed by one perturbation drawn uniformly from ``params.perturbations`` (see
``videossr.perturb``); the frames outside it are the untouched source frames. The answer is the segment on the
model's clock (``videossr.manifest``: frame ``i`` sits at ``i / sample_fps`` seconds), end exclusive::

    f"{start / fps:.1f}-{(start + t) / fps:.1f}"     with fps = video.sample_fps

``Sample.params`` holds everything needed to re-derive the answer and the frames: the perturbation, its drawn
parameters, the segment's start index, length and end, the fps and the frame count.

Usage::

    from videossr.tasks import grounding
    sample = grounding.make_sample(video, numpy.random.default_rng(0), grounding.Params(), ctx)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videossr import perturb
from videossr.data_sources import GROUNDING
from videossr.manifest import VideoRecord
from videossr.perturb import PERTURBATIONS, TRAINING_PERTURBATIONS
from videossr.sample import VIDEO_PLACEHOLDER, Clip, Sample
from videossr.tasks.base import TaskContext

__all__ = ["PERTURBATIONS", "TRAINING_PERTURBATIONS", "Params", "make_sample", "question_for", "answer_for"]

# Every perturbation (StutterHold in particular) needs at least this many frames in its segment.
MIN_SEGMENT = 4


@dataclass(frozen=True)
class Params:
    """Which perturbations to mix (uniformly) and the segment length range, in frames (inclusive)."""

    perturbations: tuple[str, ...] = TRAINING_PERTURBATIONS
    min_len: int = 8
    max_len: int = 16

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


def make_sample(video: VideoRecord, rng: np.random.Generator, params: Params, ctx: TaskContext) -> Sample:
    """One grounding sample for ``video``; all randomness from ``rng``; reads frames, writes nothing."""
    n = video.num_frames
    if n < params.max_len:
        raise ValueError(
            f"{video.video_id!r} has {n} frames, fewer than the longest segment max_len={params.max_len}"
        )
    name = params.perturbations[int(rng.integers(len(params.perturbations)))]
    length = int(rng.integers(params.min_len, params.max_len + 1))
    start = int(rng.integers(0, n - length + 1))
    frames, drawn = perturb.perturb_video(name, video, ctx, start, length, rng)
    fps = float(video.sample_fps)
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
    }
    return Sample(
        task=GROUNDING,
        video_id=video.video_id,
        question=question_for(name),
        answer=answer_for(start, length, fps),
        clips=(Clip(frames=frames, sample_fps=fps),),
        params=audit,
    )

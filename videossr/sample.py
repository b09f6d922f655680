"""The record every pretext task produces, and its verl parquet row.

A task returns a ``Sample``: the question (with one ``<video>`` placeholder per clip), the exact answer string, the
clips the model sees, and the audit information needed to re-derive the answer. Tasks are pure: a clip's frames are
either paths of existing frame files (untouched frames are referenced, never copied) or new pixels as uint8 HxWx3
RGB arrays (perturbed or overlaid frames). The dataset writer (``videossr.dataset``) saves the new pixels under the
output dataset's own folder and turns the sample into a verl row with ``to_verl_row``.

Row format (what verl's ``RLHFDataset`` reads for video; the same keys in every row, see the project notes on Arrow):

    data_source   "videossr_grounding" | "videossr_counting" | "videossr_jigsaw"
    prompt        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]
    videos        [{"video": [abs frame paths], "sample_fps": F, "min_pixels": M, "max_pixels": X}, ...]
    ability       "video_understanding"
    reward_model  {"style": "rule", "ground_truth": answer}
    extra_info    {"index": i, "split": S, "task": T, "video_id": V, "params": JSON string of the audit info}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from videossr.data_sources import DATA_SOURCES, TASKS

SYSTEM_PROMPT = (
    "You are given a video task with a single verifiable answer. "
    "Reply with the answer only, in exactly the format the question asks for, with no explanation."
)
ABILITY = "video_understanding"
VIDEO_PLACEHOLDER = "<video>"

# Training pixel budget (the paper feeds 48 frames at up to 256*256); VIUBench uses up to 512*512.
TRAIN_MIN_PIXELS = 128 * 128
TRAIN_MAX_PIXELS = 256 * 256
VIUBENCH_MAX_PIXELS = 512 * 512

Frame = Union[Path, np.ndarray]


@dataclass(frozen=True)
class Clip:
    """One ``<video>`` of a sample: its frames in display order and the fps of the model's clock for them."""

    frames: tuple[Frame, ...]
    sample_fps: float

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("a clip needs at least one frame")
        if not self.sample_fps > 0:
            raise ValueError(f"sample_fps must be > 0, got {self.sample_fps!r}")
        for f in self.frames:
            if isinstance(f, np.ndarray):
                if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
                    raise ValueError(f"new frames must be uint8 HxWx3 RGB, got {f.dtype} {f.shape}")
            elif not isinstance(f, Path):
                raise TypeError(f"a frame is a Path or an ndarray, got {type(f).__name__}")

    @property
    def num_new_frames(self) -> int:
        return sum(isinstance(f, np.ndarray) for f in self.frames)


@dataclass(frozen=True)
class Sample:
    """One pretext-task question with its verifiable answer."""

    task: str  # one of videossr.data_sources.TASKS
    video_id: str
    question: str  # user turn; contains exactly len(clips) "<video>" placeholders
    answer: str  # the exact ground-truth string (e.g. "14.5-26.2", "3,1,4", "341562")
    clips: tuple[Clip, ...]
    params: Mapping[str, Any] = field(default_factory=dict)  # JSON-serialisable audit info

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {TASKS}")
        n = self.question.count(VIDEO_PLACEHOLDER)
        if n != len(self.clips):
            raise ValueError(f"question has {n} {VIDEO_PLACEHOLDER} placeholders but the sample has {len(self.clips)} clips")
        json.dumps(dict(self.params))  # must be serialisable; raises TypeError naming the bad value

    @property
    def data_source(self) -> str:
        return DATA_SOURCES[self.task]


def to_verl_row(
    sample: Sample,
    clip_frame_paths: Sequence[Sequence[str | os.PathLike]],
    *,
    index: int,
    split: str = "train",
    min_pixels: int = TRAIN_MIN_PIXELS,
    max_pixels: int = TRAIN_MAX_PIXELS,
) -> dict:
    """The verl row of ``sample`` once every frame has a file (``clip_frame_paths[k]`` for clip k, absolute)."""
    if len(clip_frame_paths) != len(sample.clips):
        raise ValueError(f"{len(clip_frame_paths)} frame lists for {len(sample.clips)} clips")
    videos = []
    for clip, paths in zip(sample.clips, clip_frame_paths):
        if len(paths) != len(clip.frames):
            raise ValueError(f"{len(paths)} paths for a clip of {len(clip.frames)} frames")
        videos.append(
            {
                "video": [str(p) for p in paths],
                "sample_fps": float(clip.sample_fps),
                "min_pixels": int(min_pixels),
                "max_pixels": int(max_pixels),
            }
        )
    return {
        "data_source": sample.data_source,
        "prompt": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": sample.question},
        ],
        "videos": videos,
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": sample.answer},
        "extra_info": {
            "index": int(index),
            "split": split,
            "task": sample.task,
            "video_id": sample.video_id,
            "params": json.dumps(dict(sample.params), sort_keys=True),
        },
    }

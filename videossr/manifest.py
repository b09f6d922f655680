"""The frame store's manifest: one record per sampled video.

The frame sampler (``videossr.frames``) writes, under its output directory ``ROOT``::

    ROOT/manifest.jsonl        one JSON line per sampled video (a ``VideoRecord``), sorted by video_id
    ROOT/failures.jsonl        one JSON line per video that could not be sampled (video_id, source, kind, message)
    ROOT/<video_id>/000.jpg    the sampled frames, in time order
    ROOT/<video_id>/record.json  that video's manifest line (a folder holding it is complete; used to resume)
    ROOT/sampling.json         the sampling parameters (a store is never extended with other parameters)

The pretext tasks read only this, through ``TaskContext`` / ``load_frame`` / ``frame_path`` below: they never
decode videos.

The clock. Frames are sampled at the centres of ``num_frames`` equal bins of the 5%..95% span of the video, so
the real spacing between consecutive frames is ``span / num_frames`` seconds and ``sample_fps`` is its inverse.
On the model's clock (the one Qwen3-VL prints as timestamps for a frame list, and the one grounding answers use)
frame ``i`` sits at ``i / sample_fps`` seconds, i.e. seconds since the start of the sampled span; frame ``i``
covers ``[i / sample_fps, (i + 1) / sample_fps)``. ``timestamps`` records where each frame really is in the
source video (seconds from its start), for auditing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from videossr.io import dumps_jsonl_line, read_jsonl

MANIFEST_NAME = "manifest.jsonl"
FAILURES_NAME = "failures.jsonl"


@dataclass(frozen=True)
class VideoRecord:
    """One sampled video, as a line of ``manifest.jsonl``."""

    video_id: str  # stable, unique, filesystem-safe; derived from the video's path relative to its input folder
    source: str  # path of the source video
    frames: tuple[str, ...]  # frame files, relative to the frame store root
    timestamps: tuple[float, ...]  # seconds in the source video of each sampled frame
    sample_fps: float  # 1 / real spacing of the sampled frames (see the module docstring)
    duration: float  # seconds
    width: int  # size of the stored frames
    height: int
    source_width: int  # size of the source video as a player shows it (rotation applied)
    source_height: int
    decoder: str  # backend that decoded it: torchcodec | decord | pyav

    def __post_init__(self) -> None:
        if not self.video_id:
            raise ValueError("video_id must be non-empty")
        if len(self.frames) != len(self.timestamps):
            raise ValueError(
                f"{self.video_id}: {len(self.frames)} frames but {len(self.timestamps)} timestamps"
            )
        if not self.sample_fps > 0:
            raise ValueError(f"{self.video_id}: sample_fps must be > 0, got {self.sample_fps!r}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"{self.video_id}: bad frame size {self.width}x{self.height}")

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def frame_paths(self, root: str | os.PathLike) -> list[Path]:
        """Absolute paths of the frames, given the frame store root."""
        root = Path(root).resolve()
        return [root / f for f in self.frames]

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["frames"] = list(self.frames)
        d["timestamps"] = list(self.timestamps)
        d["num_frames"] = self.num_frames
        return d

    @classmethod
    def from_json(cls, d: dict) -> VideoRecord:
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in fields}
        kwargs["frames"] = tuple(kwargs["frames"])
        kwargs["timestamps"] = tuple(float(t) for t in kwargs["timestamps"])
        return cls(**kwargs)

    def to_jsonl_line(self) -> str:
        return dumps_jsonl_line(self.to_json())


def read_manifest(root: str | os.PathLike) -> list[VideoRecord]:
    """All records of a frame store, sorted by video_id. Raises FileNotFoundError naming the missing manifest."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no frame manifest at {path}: run `python pretext_tasks/sample_frames.py --output-dir {root}` first"
        )
    records = [VideoRecord.from_json(d) for d in read_jsonl(path)]
    return sorted(records, key=lambda r: r.video_id)


def read_failures(root: str | os.PathLike) -> list[dict]:
    return read_jsonl(Path(root) / FAILURES_NAME)


# ----------------------------------------------------------------------------------------------------------------
# Reading frames: what the pretext tasks and perturbations see of a frame store


@dataclass(frozen=True)
class TaskContext:
    """What a task may look at besides its own video."""

    frames_root: Path  # the frame store (holds manifest.jsonl)
    pool: Sequence[VideoRecord] = ()  # every sampled video, for tasks that borrow another video (e.g. Swap)


def load_frame(ctx: TaskContext, video: VideoRecord, i: int) -> np.ndarray:
    """Frame ``i`` of ``video`` as a uint8 HxWx3 RGB array."""
    with Image.open(Path(ctx.frames_root) / video.frames[i]) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def frame_path(ctx: TaskContext, video: VideoRecord, i: int) -> Path:
    """Absolute path of frame ``i`` of ``video``: how a task references a frame it leaves untouched."""
    return (Path(ctx.frames_root) / video.frames[i]).resolve()

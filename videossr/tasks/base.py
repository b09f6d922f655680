"""The shape every pretext task has.

A task module defines a frozen ``Params`` dataclass (its difficulty knobs, validated in ``__post_init__``) and::

    def make_sample(video: VideoRecord, rng: numpy.random.Generator, params: Params, ctx: TaskContext) -> Sample

``make_sample`` is pure: it reads frames from the frame store (``ctx.frames_root``), draws all randomness from
``rng`` (never module-level random state), writes nothing, and returns a ``videossr.sample.Sample`` whose answer
is derived from what it actually produced. Same video, same rng state and params give an equal sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from videossr.manifest import VideoRecord


@dataclass(frozen=True)
class TaskContext:
    """What a task may look at besides its own video."""

    frames_root: Path  # the frame sampler's output directory (holds manifest.jsonl)
    pool: Sequence[VideoRecord] = ()  # every sampled video, for tasks that borrow another video (e.g. Swap)


def load_frame(ctx: TaskContext, video: VideoRecord, i: int) -> np.ndarray:
    """Frame ``i`` of ``video`` as a uint8 HxWx3 RGB array."""
    with Image.open(Path(ctx.frames_root) / video.frames[i]) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def frame_path(ctx: TaskContext, video: VideoRecord, i: int) -> Path:
    """Absolute path of frame ``i`` of ``video``: how a task references a frame it leaves untouched."""
    return (Path(ctx.frames_root) / video.frames[i]).resolve()

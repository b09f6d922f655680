"""Synthetic frame stores: a manifest plus JPEG frames, written without decoding any video.

Lets the pretext tasks be tested and benchmarked in isolation from the sampler. Frames carry a moving gradient and
the frame index drawn as a bar, so every frame differs from its neighbours and a reordering is detectable.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from videossr.io import write_jsonl_atomic
from videossr.sampling.store import MANIFEST_NAME, VideoRecord


def synthetic_frame(video_index: int, i: int, num_frames: int, width: int, height: int) -> np.ndarray:
    """A deterministic RGB frame that differs for every (video, frame index)."""
    y, x = np.mgrid[0:height, 0:width]
    phase = i / max(num_frames, 1)
    r = (x * 255 // max(width - 1, 1) + 37 * video_index) % 256
    g = (y * 255 // max(height - 1, 1) + int(255 * phase)) % 256
    b = np.full_like(x, (60 + 50 * video_index) % 256)
    img = np.stack([r, g, b], axis=-1).astype(np.uint8)
    bar = int(width * (i + 1) / num_frames)
    img[: max(height // 10, 1), :bar] = (255, 255, 255)
    return img


def make_frame_store(
    root: str | os.PathLike,
    *,
    num_videos: int = 2,
    num_frames: int = 48,
    width: int = 160,
    height: int = 120,
    duration: float = 10.0,
) -> list[VideoRecord]:
    """Write ``num_videos`` synthetic sampled videos under ``root`` (frames + manifest.jsonl); return the records."""
    root = Path(root)
    span = 0.9 * duration
    records = []
    for v in range(num_videos):
        video_id = f"synthetic_{v:03d}"
        (root / video_id).mkdir(parents=True, exist_ok=True)
        frames = []
        for i in range(num_frames):
            rel = f"{video_id}/{i:03d}.jpg"
            Image.fromarray(synthetic_frame(v, i, num_frames, width, height)).save(root / rel, quality=90)
            frames.append(rel)
        timestamps = tuple(round(0.05 * duration + (i + 0.5) * span / num_frames, 6) for i in range(num_frames))
        records.append(
            VideoRecord(
                video_id=video_id,
                source=f"synthetic/{video_id}.mp4",
                frames=tuple(frames),
                timestamps=timestamps,
                sample_fps=num_frames / span,
                duration=duration,
                width=width,
                height=height,
                source_width=width,
                source_height=height,
                decoder="synthetic",
            )
        )
    write_jsonl_atomic(root / MANIFEST_NAME, [r.to_json() for r in records])
    return records

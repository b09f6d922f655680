"""What every evaluation backend consumes: chat messages plus decoded, already-resized video frames.

A ``Request`` is a list of chat messages whose string contents mark each video with a ``<video>`` placeholder (the
same convention as the training rows of ``videossr.tasks.sample``), plus one ``VideoFrames`` per placeholder. A
``VideoFrames`` holds uint8 RGB frames that are already resized, and the clock Qwen3-VL prints as timestamps:
frame ``k`` sits at ``frame_indices[k] / fps`` seconds.

Frames are resized here, once, per frame (each side a multiple of 32 = patch 16 x merge 2, area within
[min_pixels, max_pixels], aspect ratio kept, as qwen-vl-utils does per frame), so every backend sees the same pixels:
the HF backend calls the processor with ``do_resize=False``; vLLM gets the same arrays; the HTTP backend encodes the
same arrays.

Two ways to build one:

* ``load_eval_video(path, fps=2, max_frames=32, ...)``: a video file of an eval benchmark. Frames sit at the centres
  of ``n`` equal bins of the whole video, ``n = min(round(duration * fps), max_frames)`` (even, at least 2), decoded by
  ``videossr.sampling.video.decode_frames_at``; the clock is the source video's (fps = source fps, indices = the decoded frames'
  positions), so timestamps are seconds in the video, the same clock as grounding answers.
* ``frames_from_list(frames, sample_fps, ...)``: a frame list (paths, ``data:image/...;base64,`` URIs as the
  on-the-fly rows of ``videossr.training.dataset`` carry them, or arrays), e.g. a VideoSSR pretext row; frame ``k`` sits at
  ``k / sample_fps`` seconds, as qwen-vl-utils and verl present frame lists.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from videossr.constants import EVAL_MAX_PIXELS, EVAL_MIN_PIXELS, VIDEO_PLACEHOLDER

PIXEL_FACTOR = 32  # Qwen3-VL: patch size 16 x spatial merge 2
DEFAULT_MIN_PIXELS = EVAL_MIN_PIXELS
DEFAULT_MAX_PIXELS = EVAL_MAX_PIXELS


def resized_size(height: int, width: int, *, min_pixels: int, max_pixels: int, factor: int = PIXEL_FACTOR) -> tuple[int, int]:
    """(height, width) rounded to multiples of ``factor`` with area in [min_pixels, max_pixels], aspect ratio kept."""
    if height <= 0 or width <= 0:
        raise ValueError(f"bad frame size {width}x{height}")
    if not 0 < min_pixels <= max_pixels:
        raise ValueError(f"need 0 < min_pixels <= max_pixels, got {min_pixels} and {max_pixels}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio of {width}x{height} is above 200")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def resize_frame(frame: np.ndarray, *, min_pixels: int, max_pixels: int) -> np.ndarray:
    """One uint8 HxWx3 frame resized (bicubic) to ``resized_size``; returned as is when already that size."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"a frame must be uint8 HxWx3 RGB, got {frame.dtype} {frame.shape}")
    h, w = resized_size(frame.shape[0], frame.shape[1], min_pixels=min_pixels, max_pixels=max_pixels)
    if (h, w) == frame.shape[:2]:
        return np.ascontiguousarray(frame)
    return np.asarray(Image.fromarray(frame).resize((w, h), Image.Resampling.BICUBIC))


@dataclass(frozen=True)
class VideoFrames:
    """Resized frames of one video and their clock (frame k at ``frame_indices[k] / fps`` seconds)."""

    frames: tuple[np.ndarray, ...]
    fps: float
    frame_indices: tuple[int, ...]
    total_num_frames: int

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("a video needs at least one frame")
        if len(self.frame_indices) != len(self.frames):
            raise ValueError(f"{len(self.frames)} frames but {len(self.frame_indices)} frame indices")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps!r}")
        shape = self.frames[0].shape
        for f in self.frames:
            if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
                raise ValueError(f"frames must be uint8 HxWx3 RGB, got {f.dtype} {f.shape}")
            if f.shape != shape:
                raise ValueError(f"all frames of a video must have one size, got {shape} and {f.shape}")
        if any(b < a for a, b in zip(self.frame_indices, self.frame_indices[1:])):
            raise ValueError(f"frame indices must not decrease: {self.frame_indices}")
        if self.total_num_frames <= self.frame_indices[-1]:
            raise ValueError(f"total_num_frames {self.total_num_frames} <= last frame index {self.frame_indices[-1]}")

    @property
    def timestamps(self) -> list[float]:
        return [i / self.fps for i in self.frame_indices]

    @property
    def height(self) -> int:
        return int(self.frames[0].shape[0])

    @property
    def width(self) -> int:
        return int(self.frames[0].shape[1])

    def array(self) -> np.ndarray:
        """The frames stacked as one uint8 (T, H, W, 3) array."""
        return np.stack(self.frames)

    def metadata(self) -> dict[str, Any]:
        """The video metadata Qwen3-VL processors need to print the right timestamps."""
        return {
            "fps": float(self.fps),
            "frames_indices": list(self.frame_indices),
            "total_num_frames": int(self.total_num_frames),
            "duration": self.total_num_frames / self.fps,
            "width": self.width,
            "height": self.height,
        }


def frames_from_list(
    frames: Sequence[str | os.PathLike | np.ndarray],
    sample_fps: float,
    *,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> VideoFrames:
    """A frame list (image paths or uint8 arrays) shown at ``sample_fps``: frame k at k / sample_fps seconds."""
    arrays = []
    for f in frames:
        if isinstance(f, np.ndarray):
            arr = f
        else:
            source = f
            if isinstance(f, str) and f.startswith("data:image"):
                source = io.BytesIO(base64.b64decode(f.split("base64,", 1)[1]))
            with Image.open(source) as im:
                arr = np.asarray(im.convert("RGB"))
        arrays.append(resize_frame(arr, min_pixels=min_pixels, max_pixels=max_pixels))
    if arrays and len({a.shape for a in arrays}) > 1:
        # frames of different sizes (rare in a frame list): bring all to the first frame's size
        h, w = arrays[0].shape[:2]
        arrays = [a if a.shape[:2] == (h, w) else np.asarray(Image.fromarray(a).resize((w, h), Image.Resampling.BICUBIC)) for a in arrays]
    n = len(arrays)
    return VideoFrames(tuple(arrays), float(sample_fps), tuple(range(n)), max(n, 1))


def eval_sample_times(duration: float, *, fps: float, max_frames: int) -> list[float]:
    """Where to sample a ``duration``-second video: centres of n equal bins, n = min(round(duration*fps), max_frames).

    n is rounded down to an even number (Qwen3-VL merges frames in pairs) and is at least 2.
    """
    if not duration > 0:
        raise ValueError(f"video duration must be > 0, got {duration!r}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    if max_frames < 2:
        raise ValueError(f"max_frames must be >= 2, got {max_frames!r}")
    n = min(max(round(duration * fps), 2), max_frames)
    n -= n % 2
    return [(i + 0.5) * duration / n for i in range(n)]


def load_eval_video(
    path: str | os.PathLike,
    *,
    fps: float = 2.0,
    max_frames: int = 32,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    backend: str = "auto",
) -> VideoFrames:
    """Decode an eval video: frames at ``fps`` over the whole video, at most ``max_frames``, resized; source clock."""
    from videossr.sampling.video import decode_frames_at, probe

    info = probe(path)
    times = eval_sample_times(float(info.duration), fps=fps, max_frames=max_frames)
    decoded = decode_frames_at(path, times, backend=backend)
    src_fps = float(info.fps) if info.fps and info.fps > 0 else None
    if src_fps is None:
        raise ValueError(f"{path}: the decoder reports no frame rate ({info.fps!r})")
    frames = tuple(resize_frame(np.asarray(f), min_pixels=min_pixels, max_pixels=max_pixels) for f in decoded.frames)
    indices = []
    for t in decoded.timestamps:
        idx = max(int(round(float(t) * src_fps)), indices[-1] if indices else 0)
        indices.append(idx)
    total = max(int(info.num_frames or 0), indices[-1] + 1)
    return VideoFrames(frames, src_fps, tuple(indices), total)


_MESSAGE_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Request:
    """Chat messages (contents are strings with ``<video>`` placeholders) and one ``VideoFrames`` per placeholder.

    If no message contains a placeholder, the videos are shown at the start of the first user message.
    """

    messages: tuple[Mapping[str, str], ...]
    videos: tuple[VideoFrames, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValueError("a request needs at least one message")
        for m in self.messages:
            if m.get("role") not in _MESSAGE_ROLES or not isinstance(m.get("content"), str):
                raise ValueError(f"a message is {{'role': one of {_MESSAGE_ROLES}, 'content': str}}, got {m!r}")
        n = sum(m["content"].count(VIDEO_PLACEHOLDER) for m in self.messages)
        if n and n != len(self.videos):
            raise ValueError(f"messages hold {n} {VIDEO_PLACEHOLDER} placeholders but the request has {len(self.videos)} videos")
        if not any(m["role"] == "user" for m in self.messages):
            raise ValueError("a request needs a user message")

    def content_parts(self) -> list[tuple[str, list[tuple[str, Any]]]]:
        """Messages as (role, parts) with parts ("text", str) or ("video", VideoFrames), placeholders resolved."""
        has_placeholders = any(VIDEO_PLACEHOLDER in m["content"] for m in self.messages)
        videos = iter(self.videos)
        out: list[tuple[str, list[tuple[str, Any]]]] = []
        first_user = True
        for m in self.messages:
            parts: list[tuple[str, Any]] = []
            if not has_placeholders and m["role"] == "user" and first_user:
                parts.extend(("video", v) for v in self.videos)
            if m["role"] == "user":
                first_user = False
            for k, piece in enumerate(re.split(re.escape(VIDEO_PLACEHOLDER), m["content"])):
                if k > 0:
                    parts.append(("video", next(videos)))
                if piece:
                    parts.append(("text", piece))
            out.append((m["role"], parts))
        return out


def _verl_video(entry: Any) -> VideoFrames:
    """One entry of a verl row's ``videos``: a frame list ``{"video": [frames], "sample_fps": F, ...}``, or a video
    file (a path, or ``{"video": path, "fps": F, "max_frames": M, ...}``: decoded at fps F (default 2) up to M frames
    (default 64), the source clock)."""
    spec = {"video": entry} if isinstance(entry, (str, os.PathLike)) else dict(entry)
    lo = int(spec.get("min_pixels") or DEFAULT_MIN_PIXELS)
    hi = int(spec.get("max_pixels") or DEFAULT_MAX_PIXELS)
    video = spec.get("video")
    if isinstance(video, (str, os.PathLike)):
        return load_eval_video(video, fps=float(spec.get("fps") or 2.0), max_frames=int(spec.get("max_frames") or 64),
                               min_pixels=lo, max_pixels=hi)
    if "sample_fps" not in spec:
        raise ValueError(f"a frame-list video needs its sample_fps, got keys {sorted(spec)}")
    return frames_from_list(list(video), float(spec["sample_fps"]), min_pixels=lo, max_pixels=hi)


def request_from_verl_row(row: Mapping[str, Any]) -> Request:
    """A ``Request`` from a VideoSSR/verl parquet row: ``prompt`` messages (string contents with ``<video>``
    placeholders) and ``videos`` (frame-list dicts or video files; a row without videos is a text-only request)."""
    if row.get("images"):
        raise ValueError("rows with images are not supported (only videos and text)")
    videos = [_verl_video(v) for v in (row.get("videos") or [])]
    messages = tuple({"role": str(m["role"]), "content": _text_content(m["content"])} for m in row["prompt"])
    return Request(messages, tuple(videos))


def _text_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    raise ValueError(f"a message's content must be a string (verl's format), got {type(content).__name__}")

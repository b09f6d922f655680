"""Perturbations for the Anomaly Grounding task: what is done to one segment of a sampled video.

Every perturbation works in two steps, so that a sample's answer and pixels can be re-derived from its audit info:

    params = p.draw(rng, video, ctx, start, length)      # all random choices, drawn ONCE per segment
    frames = p.apply(video, ctx, start, length, params)  # pure: the segment's new frames, len(frames) == length

``perturb_video`` does both and returns the whole video's frame list with the segment replaced. Frames outside the
segment are always the source frame paths, untouched.

Three kinds:

* spatial (Saturation, Noise, Blur, Grayscale, Invert, ChannelSwap, ZoomIn, ZoomOut, Rotate90, Rotate180, Rotate270,
  Mirror): every frame of the segment becomes a new uint8 RGB array of the same size as the source frame. Random
  parameters (saturation factor, noise level and noise seed, blur radius, zoom scale) are drawn once and applied to
  every frame of the segment.
* temporal (Slow, Fast, StutterHold, Shuffle): the segment keeps its frame count and shows other stored frames of the
  same video, referenced by path; no pixels are created. ``params["source"]`` lists the source frame index shown at
  each position of the segment. None of them yields the identity order.
* Swap: the segment shows the same positions of another video of ``ctx.pool``.

Only the stored (sampled) frames exist, so the temporal perturbations are defined on frame indices. With a segment
of ``t`` frames starting at ``start`` and a speed factor ``s`` (2 or 3, drawn once):

* Slow (slow motion): the segment shows ``m = ceil(t / s)`` consecutive frames from the middle of the segment's own
  content, each held for ``s`` positions: position ``k`` shows frame ``start + (t - m) // 2 + k // s``. Time inside
  the segment runs ``s`` times slower; the content skipped at both ends is never shown.
* Fast (fast forward): the segment shows every ``s``-th frame of a window of ``s * (t - 1) + 1`` frames centred on
  the segment's centre (shifted to stay inside the video): position ``k`` shows frame ``w0 + s * k``. Time inside the
  segment runs ``s`` times faster, so the segment covers content from before and after it. ``s`` is drawn from the
  factors whose window fits in the video.
* StutterHold: the segment is cut into ``h`` runs (``h`` drawn in 2..5, at most ``t // 2``) of at least 2 frames
  each; every run shows its first frame for its whole length, so the video freezes ``h`` times.
* Shuffle: the segment's frames in a uniformly random order other than the original one.

Rotate90 and Rotate270 on a non-square frame: the frame is rotated (90 degrees counter-clockwise for Rotate90,
clockwise for Rotate270), scaled down uniformly to fit the original width x height, and centred on a black canvas of
that size (letterboxed), so the frame size never changes. On a square frame this is a plain rotation.

A spatial perturbation always yields new arrays, but on featureless content it can leave the pixels as they were
(Saturation on a grey frame, Blur or ZoomIn on a flat colour, Rotate180 on a symmetric picture); real footage is
not like that, the synthetic test frames are not either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageFilter

from videossr.sampling.store import TaskContext, VideoRecord, frame_path, load_frame
from videossr.tasks.sample import Frame

SPATIAL = "spatial"
TEMPORAL = "temporal"
SWAP = "swap"
KINDS = (SPATIAL, TEMPORAL, SWAP)

DrawnParams = dict[str, Any]  # what a perturbation draws for one segment (JSON-serialisable)

# ITU-R BT.601 luma weights, used by Grayscale and Saturation.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------------
# Pixel operations (pure functions on one uint8 HxWx3 RGB frame)


def _luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) @ _LUMA


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)


def _fit_on_canvas(img: np.ndarray, width: int, height: int, scale: float) -> np.ndarray:
    """``img`` scaled by ``scale`` (aspect kept, at least 1 px) and centred on a black width x height canvas."""
    h, w = img.shape[:2]
    nw, nh = max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale)))
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    canvas[y0 : y0 + nh, x0 : x0 + nw] = _resize(img, nw, nh)
    return canvas


def saturate(img: np.ndarray, factor: float) -> np.ndarray:
    gray = _luma(img)[..., None]
    return _to_uint8(gray + np.float32(factor) * (img.astype(np.float32) - gray))


def add_noise(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
    return _to_uint8(img.astype(np.float32) + noise)


def blur(img: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius)), dtype=np.uint8)


def grayscale(img: np.ndarray) -> np.ndarray:
    return np.repeat(_to_uint8(_luma(img))[..., None], 3, axis=2)


def invert(img: np.ndarray) -> np.ndarray:
    return 255 - img


def channel_swap(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[..., ::-1])


def zoom_in(img: np.ndarray, scale: float) -> np.ndarray:
    """Centre crop of 1/scale of each side, resized back to the frame size."""
    h, w = img.shape[:2]
    cw, ch = max(1, round(w / scale)), max(1, round(h / scale))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return _resize(np.ascontiguousarray(img[y0 : y0 + ch, x0 : x0 + cw]), w, h)


def zoom_out(img: np.ndarray, scale: float) -> np.ndarray:
    """The frame shrunk by ``scale`` (< 1) and centred on a black canvas of the original size."""
    h, w = img.shape[:2]
    return _fit_on_canvas(img, w, h, scale)


def rotate(img: np.ndarray, quarter_turns: int) -> np.ndarray:
    """Rotate by ``quarter_turns`` x 90 degrees counter-clockwise, letterboxed into the original size if needed."""
    h, w = img.shape[:2]
    out = np.ascontiguousarray(np.rot90(img, quarter_turns % 4))
    if out.shape[:2] == (h, w):
        return out
    rh, rw = out.shape[:2]
    return _fit_on_canvas(out, w, h, min(w / rw, h / rh))


def mirror(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[:, ::-1])


# --------------------------------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Perturbation:
    """One perturbation: its name, kind, plain-words description, how it draws its parameters and applies them.

    ``description`` completes the sentence "In one continuous segment of the video, ...".
    """

    name: str
    kind: str
    description: str
    _draw: Callable[[np.random.Generator, VideoRecord, TaskContext, int, int], DrawnParams]
    _apply: Callable[[VideoRecord, TaskContext, int, int, Mapping[str, Any]], list[Frame]]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}; expected one of {KINDS}")

    @property
    def is_temporal(self) -> bool:
        return self.kind == TEMPORAL

    def draw(
        self, rng: np.random.Generator, video: VideoRecord, ctx: TaskContext, start: int, length: int
    ) -> DrawnParams:
        """All random parameters of this perturbation for one segment (JSON-serialisable)."""
        _check_segment(video, start, length)
        return self._draw(rng, video, ctx, start, length)

    def apply(
        self, video: VideoRecord, ctx: TaskContext, start: int, length: int, params: Mapping[str, Any]
    ) -> list[Frame]:
        """The segment's ``length`` new frames (Paths or uint8 arrays); a pure function of its arguments."""
        _check_segment(video, start, length)
        frames = self._apply(video, ctx, start, length, params)
        if len(frames) != length:
            raise AssertionError(f"{self.name} produced {len(frames)} frames for a segment of {length}")
        return frames


def _check_segment(video: VideoRecord, start: int, length: int) -> None:
    if length < 2 or start < 0 or start + length > video.num_frames:
        raise ValueError(
            f"segment start={start} length={length} does not fit {video.video_id!r} "
            f"({video.num_frames} frames; length must be >= 2)"
        )


def _no_params(
    rng: np.random.Generator, video: VideoRecord, ctx: TaskContext, start: int, length: int
) -> DrawnParams:
    return {}


def _spatial(name: str, description: str, draw, op: Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]):
    def apply(video: VideoRecord, ctx: TaskContext, start: int, length: int, params: Mapping[str, Any]) -> list[Frame]:
        out = []
        for i in range(start, start + length):
            img = load_frame(ctx, video, i)
            new = op(img, params)
            if new.shape != img.shape or new.dtype != np.uint8:
                raise AssertionError(f"{name} changed the frame from {img.shape} to {new.shape} {new.dtype}")
            out.append(new)
        return out

    return Perturbation(name, SPATIAL, description, draw, apply)


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


# Strengths. The paper names the perturbations but gives no strengths, so these are the reference implementation's:
# Saturation multiplies the colour by 2; Noise is Gaussian with sigma uniform in [35, 70] on the 0..255 scale; Blur is
# a Gaussian blur of radius 2 px on the stored frame; ZoomIn crops 1/s of each side with s uniform in [1.3, 1.5];
# ZoomOut shrinks each side by 1/s with s uniform in [1.2, 1.4] (the picture keeps about 0.71-0.83 of each side).
# A deliberate difference: the reference draws ZoomIn / ZoomOut / Noise afresh for every frame; here a segment's
# parameters are drawn once and applied to all its frames, as the paper describes one perturbation per segment, so
# the segment is one consistent edit rather than a flicker.
SATURATION_FACTOR = 2.0
NOISE_SIGMA = (35.0, 70.0)
BLUR_RADIUS = 2.0
ZOOM_IN_SCALE = (1.3, 1.5)
ZOOM_OUT_SHRINK = (1.2, 1.4)


def _draw_saturation(rng, video, ctx, start, length) -> DrawnParams:
    return {"factor": SATURATION_FACTOR}


def _draw_noise(rng, video, ctx, start, length) -> DrawnParams:
    # sigma on the 0..255 scale; each frame's noise comes from seed + its position in the segment.
    return {"sigma": _uniform(rng, *NOISE_SIGMA), "seed": int(rng.integers(0, 2**31 - 1))}


def _draw_blur(rng, video, ctx, start, length) -> DrawnParams:
    return {"radius": BLUR_RADIUS}


def _draw_zoom_in(rng, video, ctx, start, length) -> DrawnParams:
    return {"scale": _uniform(rng, *ZOOM_IN_SCALE)}


def _draw_zoom_out(rng, video, ctx, start, length) -> DrawnParams:
    shrink = _uniform(rng, *ZOOM_OUT_SHRINK)
    return {"shrink": shrink, "scale": 1.0 / shrink}


def _noise_op(name: str):
    def apply(video: VideoRecord, ctx: TaskContext, start: int, length: int, params: Mapping[str, Any]) -> list[Frame]:
        return [
            add_noise(load_frame(ctx, video, start + k), float(params["sigma"]), int(params["seed"]) + k)
            for k in range(length)
        ]

    return apply


# ---- temporal


def _temporal(name: str, description: str, draw):
    def apply(video: VideoRecord, ctx: TaskContext, start: int, length: int, params: Mapping[str, Any]) -> list[Frame]:
        source = [int(i) for i in params["source"]]
        bad = [i for i in source if not 0 <= i < video.num_frames]
        if len(source) != length or bad:
            raise ValueError(f"{name}: bad source indices {source} for a segment of {length} in {video.num_frames}")
        return [frame_path(ctx, video, i) for i in source]

    return Perturbation(name, TEMPORAL, description, draw, apply)


def _draw_slow(rng, video, ctx, start, length) -> DrawnParams:
    factor = int(rng.choice([2, 3]))
    shown = math.ceil(length / factor)
    offset = (length - shown) // 2
    return {"factor": factor, "source": [start + offset + k // factor for k in range(length)]}


def fast_factors(num_frames: int, length: int) -> tuple[int, ...]:
    """The speed factors of Fast whose window (``s * (length - 1) + 1`` frames) fits in ``num_frames``."""
    return tuple(s for s in (2, 3) if s * (length - 1) + 1 <= num_frames)


def _draw_fast(rng, video, ctx, start, length) -> DrawnParams:
    factors = fast_factors(video.num_frames, length)
    if not factors:
        raise ValueError(
            f"Fast needs at least {2 * (length - 1) + 1} frames for a segment of {length}; "
            f"{video.video_id!r} has {video.num_frames}"
        )
    factor = int(rng.choice(factors))
    span = factor * (length - 1)
    centre2 = 2 * start + length - 1  # twice the segment's centre index, to stay in integers
    w0 = min(max((centre2 - span) // 2, 0), video.num_frames - 1 - span)
    return {"factor": factor, "source": [w0 + factor * k for k in range(length)]}


def _draw_stutter(rng, video, ctx, start, length) -> DrawnParams:
    if length < 4:
        raise ValueError(f"StutterHold needs a segment of at least 4 frames, got {length}")
    holds = int(rng.integers(2, min(5, length // 2) + 1))
    runs = 2 + rng.multinomial(length - 2 * holds, np.full(holds, 1.0 / holds))
    source: list[int] = []
    pos = 0
    for run in runs.tolist():
        source += [start + pos] * run
        pos += run
    return {"holds": holds, "runs": runs.tolist(), "source": source}


def _draw_shuffle(rng, video, ctx, start, length) -> DrawnParams:
    identity = np.arange(length)
    while True:  # the identity has probability 1 / length! (<= 1/40320 for length >= 8)
        order = rng.permutation(length)
        if not np.array_equal(order, identity):
            break
    return {"order": order.tolist(), "source": [start + int(k) for k in order]}


# ---- swap


def swap_candidates(video: VideoRecord, ctx: TaskContext, start: int, length: int) -> list[VideoRecord]:
    """Videos of the pool, other than ``video``, that have frames at every position of the segment (by video_id)."""
    return sorted(
        (v for v in ctx.pool if v.video_id != video.video_id and v.num_frames >= start + length),
        key=lambda v: v.video_id,
    )


def _draw_swap(rng, video, ctx, start, length) -> DrawnParams:
    candidates = swap_candidates(video, ctx, start, length)
    if not candidates:
        raise ValueError(
            f"Swap needs another video with at least {start + length} frames in the pool; the pool of "
            f"{video.video_id!r} has {len(ctx.pool)} videos and none qualifies"
        )
    return {"other_video_id": candidates[int(rng.integers(len(candidates)))].video_id}


def _apply_swap(
    video: VideoRecord, ctx: TaskContext, start: int, length: int, params: Mapping[str, Any]
) -> list[Frame]:
    others = [v for v in ctx.pool if v.video_id == params["other_video_id"]]
    if not others:
        raise ValueError(f"Swap: video {params['other_video_id']!r} is not in the pool")
    other = others[0]
    if (other.width, other.height) == (video.width, video.height):
        return [frame_path(ctx, other, i) for i in range(start, start + length)]
    # Every frame of a video must share one size (the processor stacks them), so resize the borrowed frames.
    return [_resize(load_frame(ctx, other, i), video.width, video.height) for i in range(start, start + length)]


def _build_registry() -> dict[str, Perturbation]:
    items = [
        _spatial("Saturation", "the colours are strongly over-saturated", _draw_saturation,
                 lambda img, p: saturate(img, float(p["factor"]))),
        Perturbation("Noise", SPATIAL, "heavy random noise is added to the picture", _draw_noise, _noise_op("Noise")),
        _spatial("Blur", "the picture is blurred", _draw_blur, lambda img, p: blur(img, float(p["radius"]))),
        _spatial("Grayscale", "the picture is in black and white (grayscale)", _no_params,
                 lambda img, p: grayscale(img)),
        _spatial("Invert", "the colours are inverted, like a photographic negative", _no_params,
                 lambda img, p: invert(img)),
        _spatial("ChannelSwap", "the red and blue colour channels are swapped", _no_params,
                 lambda img, p: channel_swap(img)),
        _spatial("ZoomIn", "the picture is zoomed in on its centre", _draw_zoom_in,
                 lambda img, p: zoom_in(img, float(p["scale"]))),
        _spatial("Rotate180", "the picture is turned upside down (rotated by 180 degrees)", _no_params,
                 lambda img, p: rotate(img, 2)),
        _spatial("ZoomOut", "the picture is shrunk and surrounded by a black border", _draw_zoom_out,
                 lambda img, p: zoom_out(img, float(p["scale"]))),
        _spatial("Mirror", "the picture is mirrored left to right", _no_params, lambda img, p: mirror(img)),
        _temporal("Slow", "the action plays in slow motion", _draw_slow),
        _temporal("Fast", "the action plays fast forward", _draw_fast),
        _temporal("StutterHold", "the picture stutters: it freezes on a few frames, each held for a moment",
                  _draw_stutter),
        _temporal("Shuffle", "the frames are shuffled out of their time order", _draw_shuffle),
        _spatial("Rotate90", "the picture is rotated by 90 degrees counter-clockwise", _no_params,
                 lambda img, p: rotate(img, 1)),
        _spatial("Rotate270", "the picture is rotated by 90 degrees clockwise", _no_params,
                 lambda img, p: rotate(img, 3)),
        Perturbation("Swap", SWAP, "the footage is replaced by footage from a different video", _draw_swap,
                     _apply_swap),
    ]
    return {p.name: p for p in items}


REGISTRY: dict[str, Perturbation] = _build_registry()

# All names, in a fixed order: the paper's 14, then the three of the reference code.
PERTURBATIONS: tuple[str, ...] = tuple(REGISTRY)
PAPER_PERTURBATIONS: tuple[str, ...] = PERTURBATIONS[:14]
# The four the paper trains on, mixed uniformly.
TRAINING_PERTURBATIONS: tuple[str, ...] = ("ChannelSwap", "Rotate180", "ZoomOut", "Mirror")


# The drawn parameters each perturbation's ``apply`` reads, beyond the segment: numbers > 0 (a seed: an integer >= 0).
_NUMBER_PARAMS: dict[str, tuple[str, ...]] = {
    "Saturation": ("factor",),
    "Noise": ("sigma",),
    "Blur": ("radius",),
    "ZoomIn": ("scale",),
    "ZoomOut": ("scale",),
}


def params_problem(name: str, params: Any, start: int, length: int, num_frames: int, video_id: str = "",
                   pool: Sequence[VideoRecord] | None = None) -> str | None:
    """Why ``params`` cannot be what perturbation ``name`` drew for a segment (None if they can): the check of
    every field ``apply`` reads, without reading a frame. ``pool``, when given, is the frame store's videos (Swap
    borrows one of them); ``video_id`` names the perturbed video."""
    p = get(name)
    if not isinstance(params, Mapping):
        return f"must be a JSON object, got {type(params).__name__}"
    for key in _NUMBER_PARAMS.get(name, ()):
        value = params.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            return f"{key} of {name} must be a number > 0, got {value!r}"
    if name == "Noise":
        seed = params.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            return f"seed of Noise must be an integer >= 0, got {seed!r}"
    if p.kind == TEMPORAL:
        source = params.get("source")
        if not isinstance(source, list) or len(source) != length:
            return f"source of {name} must list {length} frame indices, got {source!r:.120}"
        bad = [i for i in source if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < num_frames]
        if bad:
            return f"source of {name} has indices outside the video's {num_frames} frames: {bad[:5]}"
    if p.kind == SWAP:
        other = params.get("other_video_id")
        if not isinstance(other, str) or not other or other == video_id:
            return f"other_video_id of Swap must name another video, got {other!r}"
        if pool is not None:
            found = [v for v in pool if v.video_id == other]
            if not found:
                return f"other_video_id {other!r} of Swap is not in the frame store"
            if found[0].num_frames < start + length:
                return (f"other_video_id {other!r} of Swap has {found[0].num_frames} frames, fewer than the "
                        f"segment's end {start + length}")
    return None


def get(name: str) -> Perturbation:
    """The perturbation called ``name``; ValueError listing the valid names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown perturbation {name!r}; valid: {', '.join(PERTURBATIONS)}") from None


def perturb_video(
    name: str, video: VideoRecord, ctx: TaskContext, start: int, length: int, rng: np.random.Generator
) -> tuple[tuple[Frame, ...], DrawnParams]:
    """All frames of ``video`` with ``length`` frames from ``start`` perturbed by ``name``, and the drawn params."""
    p = get(name)
    params = p.draw(rng, video, ctx, start, length)
    return apply_to_video(name, video, ctx, start, length, params), params


def apply_to_video(
    name: str, video: VideoRecord, ctx: TaskContext, start: int, length: int, params: Mapping[str, Any]
) -> tuple[Frame, ...]:
    """Re-derive the frames of a perturbed video from its params (what ``perturb_video`` returned)."""
    segment = get(name).apply(video, ctx, start, length, params)
    frames: list[Frame] = [frame_path(ctx, video, i) for i in range(video.num_frames)]
    frames[start : start + length] = segment
    return tuple(frames)

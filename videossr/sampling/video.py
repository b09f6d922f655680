"""Decode the frames of a video that are on screen at given times, with PyAV, torchcodec or decord behind one function.

``decode_frames_at(path, times)`` returns, for each time (seconds from the first frame of the video stream), the
frame a player shows then (the last frame whose timestamp is <= the time) as an upright uint8 RGB array (rotation
metadata applied), shrunk to fit ``max_pixels`` (aspect ratio kept, never enlarged), with each frame's real
timestamp. ``probe(path)`` reads a video's header; ``probe_and_decode(path, times_for)`` decodes at the times
``times_for(info)`` computes from the header, opening the file once.

Backends: ``pyav`` reads the packet index (no decoding), then decodes only what the requested frames need: it jumps
to the keyframe before a requested frame when one lies ahead, and skips unrequested non-reference frames. Every
packet is checked against the index; a jump that does not land (MPEG program streams) means a decode forward from
the first packet, and a stream without packet timestamps is decoded front to back: same frames. ``torchcodec``:
``get_frames_played_at`` in exact seek mode. ``decord``: ``get_batch`` on the frames picked from its timestamps
(about 0.5 s off on MPEG-2 program streams, which nothing here can detect: it comes last). ``auto`` tries them in
``AUTO_ORDER`` and falls back to the next on a failure that another decoder may not have; a frame later than its
requested time is such a failure (torchcodec on data/demo/cityCC0.mpg). Decoders run single-threaded: parallelism
is one video per process. A path that is not a regular file is refused before it is opened, so no input can block.

Errors are ``VideoDecodeError`` with a ``kind`` (one of ``ERROR_KINDS``) and the ``backend`` that raised it.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

logger = logging.getLogger(__name__)

BACKENDS = ("pyav", "torchcodec", "decord")
AUTO_ORDER = BACKENDS  # PyAV decodes the least (benchmarks/bench_sampling.py)

ERROR_KINDS = (
    "not_found",  # no such file, or not a regular file
    "permission_denied",
    "empty",  # zero bytes
    "garbage",  # no demuxer recognises the file
    "no_video_stream",
    "truncated",  # the file ends before its video does (interrupted download, missing index)
    "corrupt",  # the container opens but the stream cannot be decoded
    "too_short",  # fewer frames than requested (raised by the sampler)
    "unavailable",  # the backend is not installed
)
_FINAL_KINDS = frozenset({"not_found", "permission_denied", "empty", "no_video_stream", "too_short"})  # no fallback
_TOLERANCE = 1e-6  # seconds of timestamp rounding


class VideoDecodeError(Exception):
    """A video could not be decoded; ``kind`` (one of ``ERROR_KINDS``) says why, ``path`` which file.

    Raised without a ``backend`` (by the caller's ``times_for``, or before any decoder ran) it ends the fallback.
    """

    def __init__(self, kind: str, path: str | os.PathLike, message: str, *, backend: str | None = None):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}; expected one of {ERROR_KINDS}")
        self.kind, self.path, self.backend = kind, str(path), backend
        # without what varies between runs of one failure: log clock times, C++ source locations
        message = re.sub(r"\[\d{2}:\d{2}:\d{2}\]\s*", "", message)
        self.message = " ".join(re.sub(r"[\w/.-]+\.(?:cc|cpp|c|h):\d+:?,?\s*", "", message).split())
        super().__init__(f"{kind}: {self.path}{f' [{backend}]' if backend else ''}: {self.message}")


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says about its video stream. Sizes are as displayed, i.e. after rotation."""

    duration: float  # seconds
    num_frames: int  # from the header, or duration * fps
    fps: float  # average frame rate
    width: int
    height: int
    rotation: int  # degrees counter-clockwise the picture is turned for display: 0, 90, 180 or 270
    codec: str
    backend: str  # the library that read it


@dataclass(frozen=True)
class DecodedFrames:
    """Frames on screen at the requested times, in the order of the request."""

    frames: list[np.ndarray]  # uint8 HxWx3 RGB, upright, fitted to max_pixels
    timestamps: list[float]  # seconds from the first frame: the real timestamp of each frame
    info: VideoInfo
    backend: str


def fit_size(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """The largest size with the aspect ratio of ``width x height`` and at most ``max_pixels`` pixels; never larger."""
    if width <= 0 or height <= 0:
        raise ValueError(f"bad size {width}x{height}")
    if max_pixels is None or width * height <= max_pixels:
        return width, height
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels!r}")
    scale = math.sqrt(max_pixels / (width * height))
    w, h = max(1, int(width * scale)), max(1, int(height * scale))
    while w * h > max_pixels:  # float rounding
        w, h = (w - 1, h) if w >= h else (w, h - 1)
    return w, h


def rgb_converter() -> Callable[[object, int, int], np.ndarray]:
    """``convert(av_frame, width, height)``: an RGB array (swscale bicubic when resized), as
    ``frame.to_ndarray(format="rgb24", width=..., height=..., interpolation="BICUBIC")`` gives, but reusing one
    swscale context (a new one per frame costs twice the conversion). One per thread."""
    from av.video.reformatter import VideoReformatter

    reformatter = VideoReformatter()

    def convert(frame, width: int, height: int) -> np.ndarray:
        scale = {} if (width, height) == (frame.width, frame.height) else {"interpolation": "BICUBIC"}
        return reformatter.reformat(frame, width=width, height=height, format="rgb24", **scale).to_ndarray()

    return convert


def _resized(convert, frame: np.ndarray, max_pixels: int | None) -> np.ndarray:
    """An RGB array shrunk to fit ``max_pixels`` as the PyAV path shrinks (torchcodec and decord frames)."""
    import av

    h, w = frame.shape[:2]
    nw, nh = fit_size(w, h, max_pixels)
    frame = np.ascontiguousarray(frame)
    if (nw, nh) == (w, h):
        return frame
    return np.ascontiguousarray(convert(av.VideoFrame.from_ndarray(frame, format="rgb24"), nw, nh))


def _rotation(degrees: float | None) -> int:
    return 0 if degrees is None or not math.isfinite(degrees) else int(round(degrees / 90.0)) % 4 * 90


def _check_file(path: Path) -> None:
    """Missing, not a regular file, unreadable or empty: raised without a decoder (opened without blocking)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise VideoDecodeError("not_found", path, "no such file") from None
    except PermissionError as e:
        raise VideoDecodeError("permission_denied", path, str(e)) from None
    except OSError as e:  # a socket, a dangling mount, ...
        raise VideoDecodeError("not_found", path, f"cannot open: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise VideoDecodeError("not_found", path, "not a regular file")
        if not os.read(fd, 1):
            raise VideoDecodeError("empty", path, "the file has 0 bytes")
    except OSError as e:
        raise VideoDecodeError("permission_denied", path, str(e)) from None
    finally:
        os.close(fd)


def _check_times(path: Path, times: Sequence[float]) -> list:
    times = list(times)
    if not times:
        raise ValueError(f"{path}: no times requested")
    for t in times:
        if not (isinstance(t, (int, float, np.floating, np.integer)) and math.isfinite(t) and t >= 0):
            raise ValueError(f"{path}: a requested time must be a finite number >= 0, got {t!r}")
    return [float(t) for t in times]


def _check_end(path: Path, backend: str, times: list[float], duration: float) -> list[float]:
    """``times``; VideoDecodeError(truncated) when one lies more than 0.5 s past the end of the decodable video."""
    if duration > 0 and max(times) > duration + 0.5:
        raise VideoDecodeError("truncated", path, f"the video ends at {duration:.3f}s, before the requested time "
                                                  f"{max(times):.3f}s", backend=backend)
    return times


def _pick_on_screen(starts: Sequence[float], times: Sequence[float]) -> list[int]:
    """For each time, the index of the last start <= time (the first frame for times before it)."""
    return [max(0, bisect.bisect_right(starts, t + _TOLERANCE) - 1) for t in times]


# ----------------------------------------------------------------------------------------------------------------------
# PyAV


def _pyav(path: Path, times_for: Callable | None, max_pixels: int | None) -> DecodedFrames | VideoInfo:
    import av

    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as e:  # an mp4 without its index ("moov"): an interrupted recording or download
        kind = "truncated" if "moov" in str(e).lower() else "garbage"
        raise VideoDecodeError(kind, path, f"cannot open: {e}", backend="pyav") from None
    with container:
        if not container.streams.video:
            raise VideoDecodeError("no_video_stream", path, "the file has no video stream", backend="pyav")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_count = 1
        try:
            rotation = next((_rotation(f.rotation) for f in container.decode(stream)), 0)  # on frames in PyAV
            info = _av_info(container, stream, rotation)
            if times_for is None:
                return info
            times = _check_end(path, "pyav", times_for(info), info.duration)
            container.seek(0, backward=True)
            ctx.flush_buffers()
            index = _av_index(container, stream)
            _av_check_complete(path, stream, info, index)
            convert = _av_converter(rotation, max_pixels)
            frames = _av_decode_indexed(container, stream, index, times, convert) if index else None
            if frames is None:  # no usable index, or the decoder did not return a planned frame
                container.seek(0, backward=True)
                ctx.flush_buffers()
                ctx.skip_frame = "DEFAULT"
                frames = _av_decode_linear(path, container, stream, times, convert)
        except av.error.FFmpegError as e:
            raise VideoDecodeError("corrupt", path, f"decoding failed: {e}", backend="pyav") from None
    return DecodedFrames([a for _, a in frames], [s for s, _ in frames], info, "pyav")


def _av_info(container, stream, rotation: int) -> VideoInfo:
    tb = float(stream.time_base) if stream.time_base else 0.0
    duration = stream.duration * tb if stream.duration else (container.duration or 0) / 1_000_000
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    fps = float(rate) if rate else 0.0
    w, h = stream.codec_context.width, stream.codec_context.height
    w, h = (h, w) if rotation in (90, 270) else (w, h)
    return VideoInfo(duration=float(duration), num_frames=int(stream.frames or (round(duration * fps) if fps else 0)),
                     fps=fps, width=int(w), height=int(h), rotation=rotation, codec=stream.codec_context.name,
                     backend="pyav")


def _av_converter(rotation: int, max_pixels: int | None) -> Callable[[object], np.ndarray]:
    """Decoded frame -> upright RGB array fitted to max_pixels; colour conversion and scaling in one pass."""
    rgb = rgb_converter()
    turned = rotation in (90, 270)

    def convert(frame) -> np.ndarray:
        w, h = fit_size(*((frame.height, frame.width) if turned else (frame.width, frame.height)), max_pixels)
        picture = rgb(frame, *((h, w) if turned else (w, h)))
        return np.ascontiguousarray(np.rot90(picture, rotation // 90) if rotation else picture)

    return convert


class _Packet(NamedTuple):
    pts: int
    dts: int | None
    key: bool
    duration: int
    size: int


def _av_index(container, stream) -> list[_Packet]:
    """Every video packet in decode order, read without decoding; [] when packets carry no timestamps."""
    packets = []
    for p in container.demux(stream):
        if p.size == 0:
            continue
        if p.pts is None:
            return []
        dts = int(p.dts) if p.dts is not None else None
        packets.append(_Packet(int(p.pts), dts, bool(p.is_keyframe), int(p.duration or 0), int(p.size)))
    return packets


def _av_check_complete(path: Path, stream, info: VideoInfo, index: list[_Packet]) -> None:
    """VideoDecodeError(truncated) when the packets end well before what the header promises."""
    if not index:
        return
    if stream.frames and len(index) < stream.frames:
        raise VideoDecodeError("truncated", path, f"the header lists {stream.frames} frames but only {len(index)} "
                                                  f"are in the file", backend="pyav")
    last = max(index, key=lambda p: p.pts)
    end = (last.pts + last.duration - min(p.pts for p in index)) * float(stream.time_base)
    if info.duration - end > 0.5 + (1.0 / info.fps if info.fps else 0.0):
        raise VideoDecodeError("truncated", path, f"the header says {info.duration:.3f}s but the frames end at "
                                                  f"{end:.3f}s", backend="pyav")


# Demuxers whose timestamp seeks land on packet fragments (MPEG program and transport streams): never jump.
_IMPRECISE_SEEK_FORMATS = frozenset({"mpeg", "mpegts", "mpegtsraw", "mpegvideo"})


def _av_decode_indexed(container, stream, index: list[_Packet], times: Sequence[float], convert):
    """Decode what the requested frames need (runs from keyframes, ``_av_plan_runs``): [(seconds, picture)], or None
    when the demuxer or the decoder did not follow the index (then the caller decodes linearly).

    A run whose jump does not land is given up for one forward run from the first packet, without jumps."""
    tb = float(stream.time_base)
    order = sorted(range(len(index)), key=lambda i: index[i].pts)  # presentation order -> decode index
    origin = index[order[0]].pts
    picks = [order[j] for j in _pick_on_screen([(index[i].pts - origin) * tb for i in order], times)]
    wanted = sorted(set(picks))
    wanted_pts = frozenset(index[i].pts for i in wanted)
    for jumps in (True, False):
        if jumps and container.format.name in _IMPRECISE_SEEK_FORMATS:
            continue
        got: dict = {}
        if _av_run(container, stream, index, _av_plan_runs(index, wanted, jumps), wanted_pts, got, convert):
            if len(got) != len(wanted_pts):
                logger.debug("the indexed decode missed pts %s; decoding linearly", sorted(wanted_pts - set(got)))
                return None
            return [((index[i].pts - origin) * tb, got[index[i].pts]) for i in picks]
    return None


def _av_plan_runs(index: list[_Packet], wanted: list[int], jumps: bool) -> list[tuple[int, list[int]]]:
    """Decoding runs giving the packets ``wanted`` (decode indices, ascending): (keyframe to start from, targets).

    With ``jumps`` a new run starts wherever a keyframe lies between the previous target and the next one; without,
    there is one run from the first packet."""
    keyframe_before, last_key = [], 0
    for i, p in enumerate(index):
        last_key = i if p.key else last_key
        keyframe_before.append(last_key)
    runs: list[tuple[int, list[int]]] = []
    position = -1  # decode index of the next packet the current run would decode
    for target in wanted:
        key = keyframe_before[target]
        while key > 0 and index[target].pts < index[key].pts:  # an open GOP's leading picture needs the GOP before
            key = keyframe_before[key - 1]
        if not runs or (jumps and key > position):
            runs.append((key if jumps else 0, [target]))
        else:
            runs[-1][1].append(target)
        position = max(position, target + 1)
    return runs


def _av_run(container, stream, index: list[_Packet], runs, wanted_pts: frozenset, got: dict, convert) -> bool:
    """Decode ``runs`` with one decoder, putting the wanted frames in ``got``; False when a seek did not land on its
    keyframe or the demuxer gave a packet that is not the indexed one."""
    ctx = stream.codec_context
    position = -1  # decode index of the next packet

    def take(decoded) -> None:
        for frame in decoded:
            if frame.pts in wanted_pts and frame.pts not in got:
                got[frame.pts] = convert(frame)

    for n, (key, targets) in enumerate(runs):
        ctx.skip_frame = "DEFAULT"
        if n:
            take(ctx.decode(None))  # drain the frames held for reordering
        entry = index[key]
        container.seek(entry.dts if entry.dts is not None else entry.pts, stream=stream, backward=True)  # <= pts
        ctx.flush_buffers()
        packets = (p for p in container.demux(stream) if p.size and p.pts is not None)
        for p in packets:  # the demuxer may land before the keyframe: skip to it
            if p.pts == entry.pts or (entry.dts is not None and p.dts is not None and p.dts > entry.dts):
                break
        else:
            p = None
        if p is None or (p.pts, p.size) != (entry.pts, entry.size):
            logger.debug("seeking to packet %d did not land on it", key)
            return False
        take(ctx.decode(p))
        position = key + 1
        for target in targets:
            while position <= target and (p := next(packets, None)) is not None:
                if (p.pts, p.size) != (index[position].pts, index[position].size):
                    logger.debug("packet %d is not the indexed one", position)
                    return False
                ctx.skip_frame = "DEFAULT" if p.pts in wanted_pts else "NONREF"  # nothing depends on NONREF frames
                take(ctx.decode(p))
                position += 1
    ctx.skip_frame = "DEFAULT"
    take(ctx.decode(None))
    return True


def _av_decode_linear(path: Path, container, stream, times: Sequence[float], convert):
    """Decode every frame in order and keep the one on screen at each time (streams without packet timestamps)."""
    tb = float(stream.time_base)
    queue = sorted(range(len(times)), key=lambda k: times[k])
    out: list = [None] * len(times)
    origin = previous = None  # previous: [seconds, frame, its picture once converted] of the last decoded frame

    def picture(entry: list) -> tuple[float, np.ndarray]:
        if entry[2] is None:
            entry[2] = convert(entry[1])
        return entry[0], entry[2]

    q = 0
    for frame in container.decode(stream):
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is None:
            continue
        origin = pts if origin is None else origin
        seconds = (pts - origin) * tb
        current = [seconds, frame, None]
        while q < len(queue) and seconds > times[queue[q]] + _TOLERANCE:
            out[queue[q]] = picture(previous or current)
            q += 1
        if q == len(queue):
            break
        previous = current
    if previous is None:
        raise VideoDecodeError("corrupt", path, "no frame could be decoded", backend="pyav")
    for k in queue[q:]:
        out[k] = picture(previous)
    return out


# ----------------------------------------------------------------------------------------------------------------------
# torchcodec and decord


def _guess_kind(exc: BaseException) -> str:
    text = str(exc).lower()
    if "no video stream" in text or "no valid stream" in text or "best video stream" in text:
        return "no_video_stream"
    if "moov" in text:
        return "truncated"
    if "invalid data" in text or "could not open" in text or "failed to open" in text:
        return "garbage"
    return "corrupt"


def _torchcodec(path: Path, times_for: Callable | None, max_pixels: int | None) -> DecodedFrames | VideoInfo:
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception as e:  # not installed, or its FFmpeg libraries are missing
        raise VideoDecodeError("unavailable", path, f"torchcodec cannot be imported: {e}", backend="torchcodec"
                               ) from None
    try:
        decoder = VideoDecoder(str(path), seek_mode="exact", num_ffmpeg_threads=1, dimension_order="NHWC")
        meta = decoder.metadata
        begin, end = float(meta.begin_stream_seconds or 0.0), float(meta.end_stream_seconds or 0.0)
    except (RuntimeError, ValueError) as e:
        raise VideoDecodeError(_guess_kind(e), path, f"cannot open: {e}", backend="torchcodec") from None
    info = VideoInfo(duration=max(0.0, end - begin), num_frames=int(meta.num_frames or 0),
                     fps=float(meta.average_fps or 0.0), width=int(meta.width), height=int(meta.height),
                     rotation=_rotation(getattr(meta, "rotation", None)), codec=str(meta.codec), backend="torchcodec")
    if times_for is None:
        return info
    times = _check_end(path, "torchcodec", times_for(info), info.duration)
    try:
        batch = decoder.get_frames_played_at(seconds=[min(begin + t, max(begin, end - _TOLERANCE)) for t in times])
    except (RuntimeError, ValueError, IndexError) as e:
        raise VideoDecodeError(_guess_kind(e), path, f"decoding failed: {e}", backend="torchcodec") from None
    stamps = [float(s) - begin for s in batch.pts_seconds.tolist()]
    first = min(stamps)
    for t, s in zip(times, stamps):  # a frame that starts after its time is not the one on screen (first aside)
        if s > t + _TOLERANCE and s > first + _TOLERANCE:
            raise VideoDecodeError("corrupt", path, f"returned the frame at {s:.3f}s for time {t:.3f}s (a later "
                                                    f"frame)", backend="torchcodec")
    convert = rgb_converter()  # torchcodec applies the rotation itself
    return DecodedFrames([_resized(convert, a, max_pixels) for a in batch.data.numpy()], stamps, info, "torchcodec")


def _decord(path: Path, times_for: Callable | None, max_pixels: int | None) -> DecodedFrames | VideoInfo:
    try:
        import decord
    except Exception as e:
        raise VideoDecodeError("unavailable", path, f"decord cannot be imported: {e}", backend="decord") from None
    try:
        reader = decord.VideoReader(str(path), num_threads=1, ctx=decord.cpu(0))
        if len(reader) == 0:
            raise VideoDecodeError("corrupt", path, "no frames", backend="decord")
        spans = reader.get_frame_timestamp(list(range(len(reader))))
        height, width = reader[0].shape[:2]  # decord applies the rotation itself
    except (decord.DECORDError, RuntimeError) as e:  # RuntimeError: a file it cannot open
        raise VideoDecodeError(_guess_kind(e), path, f"decoding failed: {e}", backend="decord") from None
    starts = [float(s) - float(spans[0, 0]) for s in spans[:, 0]]
    info = VideoInfo(duration=float(spans[-1, 1] - spans[0, 0]), num_frames=len(reader),
                     fps=float(reader.get_avg_fps() or 0.0), width=int(width), height=int(height), rotation=0,
                     codec="unknown", backend="decord")
    if times_for is None:
        return info
    picks = _pick_on_screen(starts, _check_end(path, "decord", times_for(info), info.duration))
    unique = sorted(set(picks))
    try:
        batch = reader.get_batch(unique).asnumpy()
    except (decord.DECORDError, RuntimeError) as e:
        raise VideoDecodeError(_guess_kind(e), path, f"decoding failed: {e}", backend="decord") from None
    convert = rgb_converter()
    pictures = {i: _resized(convert, a, max_pixels) for i, a in zip(unique, batch)}
    return DecodedFrames([pictures[i] for i in picks], [starts[i] for i in picks], info, "decord")


_DECODERS: dict[str, Callable] = {"pyav": _pyav, "torchcodec": _torchcodec, "decord": _decord}


# ----------------------------------------------------------------------------------------------------------------------
# Public API: one fallback chain for all


def _decode(path, times_for: Callable | None, backend: str, max_pixels: int | None):
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
    if max_pixels is not None and max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1 or None, got {max_pixels!r}")
    path = Path(path)
    _check_file(path)
    failures: list[VideoDecodeError] = []
    for name in AUTO_ORDER if backend == "auto" else (backend,):
        try:
            return _DECODERS[name](path, times_for, max_pixels)
        except VideoDecodeError as e:
            if e.kind in _FINAL_KINDS or e.backend is None:
                raise
            logger.debug("%s failed on %s: %s", name, path, e)
            failures.append(e)
    if len(failures) == 1:
        raise failures[0]
    real = [f for f in failures if f.kind != "unavailable"] or failures
    detail = "; ".join(f"{f.backend}: {f.kind}: {f.message}" for f in failures)
    raise VideoDecodeError(real[0].kind, path, f"every backend failed ({detail})")


def probe(path: str | os.PathLike, *, backend: str = "auto") -> VideoInfo:
    """A video's header (PyAV decodes the first frame for its rotation); ``backend`` as for ``decode_frames_at``."""
    return _decode(path, None, backend, None)


def decode_frames_at(path: str | os.PathLike, times: Sequence[float], *, backend: str = "auto",
                     max_pixels: int | None = None) -> DecodedFrames:
    """The frames on screen at ``times`` (seconds from the video's first frame), upright and fitted to ``max_pixels``.

    Times past the last frame give the last frame; more than 0.5 s past the end of the decodable video is
    VideoDecodeError(truncated); a negative or non-finite time is ValueError. With ``backend="auto"`` the backends
    of ``AUTO_ORDER`` are tried in turn; when all fail, the error names each failure and has the kind of the first
    backend that could run."""
    times = _check_times(Path(path), times)
    return _decode(path, lambda info: times, backend, max_pixels)


def probe_and_decode(path: str | os.PathLike, times_for: Callable[[VideoInfo], Sequence[float]], *,
                     backend: str = "auto", max_pixels: int | None = None) -> DecodedFrames:
    """``decode_frames_at(path, times_for(probe(path)), ...)`` with one opening of the file.

    The times come from the header of the first backend that reads one and are kept for the backends tried after
    it. An exception raised by ``times_for`` (a VideoDecodeError without a backend, e.g. ``too_short``) propagates
    as it is, without trying another backend."""
    chosen: list = []

    def once(info: VideoInfo) -> list[float]:
        if not chosen:
            chosen.append(_check_times(Path(path), times_for(info)))
        return chosen[0]

    return _decode(path, once, backend, max_pixels)

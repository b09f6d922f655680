"""Decode the frames of a video that are on screen at given times, with PyAV, torchcodec or decord behind one function.

``decode_frames_at(path, times)`` returns, for each time (seconds from the first frame of the video stream), the
frame a player shows at that time (the last frame whose timestamp is <= the time), as an upright uint8 RGB array
(rotation metadata of phone videos applied), shrunk to fit ``max_pixels`` with its aspect ratio kept (never
enlarged), together with the real timestamp of every returned frame. ``probe(path)`` reads a video's header.
``probe_and_decode(path, times_for)`` does both with one opening of the file (PyAV): the times are computed from
the header by ``times_for(info)``, as the sampler does.

Backends (``backend=``):

- ``pyav``: reads the packet index first, then decodes only what the requested frames need, with one
  single-threaded decoder: it jumps to the keyframe before a requested frame when there is a keyframe between the
  current position and that frame, and skips non-reference frames that are not requested (nothing depends on
  them). Jumps seek to the keyframe's decoding timestamp and every packet is checked against the index; a jump
  that does not land (MPEG program streams, fragments) means a decode forward from the first packet, and a stream
  without packet timestamps is decoded front to back. All three give the same frames.
- ``torchcodec``: ``VideoDecoder.get_frames_played_at`` in exact seek mode.
- ``decord``: ``VideoReader.get_batch`` on the indices picked from its frame timestamps.
- ``auto`` (default) tries them in ``AUTO_ORDER`` and falls back to the next one when one fails on a file. PyAV is
  first because it decodes the least (benchmarks/bench_sampling.py); on MPEG-2 program streams
  (data/demo/cityCC0.mpg) torchcodec returns frames later than the requested times, which the check below catches,
  while decord returns frames about 0.5 s off from its own timestamps, which nothing here can detect; so decord
  comes last. Every backend's result is checked where it can be (each frame is the one on screen at its time, never
  a later one).

Decoders run single-threaded: parallelism comes from sampling several videos at once (``videossr.sampling.sampler``).
A path that is not a regular file (a named pipe, a device) is refused before it is opened, so no input can block.

Errors are ``VideoDecodeError`` with a ``kind`` (one of ``ERROR_KINDS``) so that callers can report a reason::

    try:
        out = decode_frames_at("clip.mp4", [0.5, 1.5], max_pixels=512 * 512)
    except VideoDecodeError as e:
        print(e.kind, e)
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

import numpy as np

logger = logging.getLogger(__name__)

BACKENDS = ("pyav", "torchcodec", "decord")
# Fastest first (benchmarks/bench_sampling.py): PyAV decodes only what the requested frames need.
AUTO_ORDER = ("pyav", "torchcodec", "decord")

ERROR_KINDS = (
    "not_found",  # no such file
    "permission_denied",  # the file cannot be read
    "empty",  # zero bytes
    "garbage",  # no demuxer recognises the file
    "no_video_stream",  # a media file without video (audio only, ...)
    "truncated",  # the file ends before its video does (interrupted download, missing index)
    "corrupt",  # the container opens but the stream cannot be decoded
    "too_short",  # fewer frames than requested (raised by the sampler, videossr.sampling.sampler)
    "unavailable",  # the requested backend is not installed
)

# Kinds that no other backend can fix: auto mode does not try the next backend on these.
_FINAL_KINDS = frozenset({"not_found", "permission_denied", "empty", "no_video_stream", "too_short"})

# Slack for timestamp rounding when comparing a frame's start with a requested time.
_TIME_TOLERANCE = 1e-6


def _clean_message(message: str) -> str:
    """Drop what varies between runs of the same failure (log clock times, C++ source locations of the libraries)."""
    message = re.sub(r"\[\d{2}:\d{2}:\d{2}\]\s*", "", message)
    message = re.sub(r"[\w/.-]+\.(?:cc|cpp|c|h):\d+:?,?\s*", "", message)
    return " ".join(message.split())


class VideoDecodeError(Exception):
    """A video could not be decoded; ``kind`` (one of ``ERROR_KINDS``) says why, ``path`` which file."""

    def __init__(self, kind: str, path: str | os.PathLike, message: str, *, backend: str | None = None):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}; expected one of {ERROR_KINDS}")
        self.kind = kind
        self.path = str(path)
        self.backend = backend
        self.message = _clean_message(message)
        where = f" [{backend}]" if backend else ""
        super().__init__(f"{kind}: {self.path}{where}: {self.message}")


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says about its video stream. Sizes are as displayed, i.e. after rotation."""

    duration: float  # seconds of the video stream
    num_frames: int  # frame count (from the header, or duration * fps where the container does not store it)
    fps: float  # average frame rate
    width: int
    height: int
    rotation: int  # degrees counter-clockwise that the picture is turned for display: 0, 90, 180 or 270
    codec: str
    backend: str  # the library that read it

    def __post_init__(self) -> None:
        if not (self.duration >= 0 and math.isfinite(self.duration)):
            raise ValueError(f"bad duration {self.duration!r}")
        if self.num_frames < 0:
            raise ValueError(f"bad num_frames {self.num_frames!r}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"bad size {self.width}x{self.height}")
        if self.rotation not in (0, 90, 180, 270):
            raise ValueError(f"rotation must be 0, 90, 180 or 270, got {self.rotation!r}")


@dataclass(frozen=True)
class DecodedFrames:
    """Frames on screen at the requested times, in the order of the request."""

    frames: list[np.ndarray]  # uint8 HxWx3 RGB, upright, resized to fit max_pixels
    timestamps: list[float]  # seconds from the first frame: the real timestamp of each returned frame
    info: VideoInfo
    backend: str

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.timestamps):
            raise ValueError(f"{len(self.frames)} frames but {len(self.timestamps)} timestamps")
        for f in self.frames:
            if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
                raise ValueError(f"frames must be uint8 HxWx3, got {f.dtype} {f.shape}")


# ----------------------------------------------------------------------------------------------------------------------
# Helpers shared by the backends


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
        if w >= h:
            w -= 1
        else:
            h -= 1
    return w, h


class _Scaler:
    """Converts and shrinks pictures with FFmpeg's swscale (bicubic), reusing one swscale context.

    ``frame.to_ndarray(format=..., width=..., height=...)`` sets up a new swscale context on every call, which costs
    about as much as the conversion; a reused context gives the same bytes. Not thread-safe: one per call.
    """

    def __init__(self) -> None:
        from av.video.reformatter import VideoReformatter

        self._reformatter = VideoReformatter()

    def frame_to_rgb(self, frame, width: int, height: int) -> np.ndarray:
        """A PyAV frame as an RGB array of ``width x height`` (scaled bicubic when that is not its size)."""
        if (width, height) == (frame.width, frame.height):
            out = self._reformatter.reformat(frame, format="rgb24")
        else:
            out = self._reformatter.reformat(frame, width=width, height=height, format="rgb24",
                                             interpolation="BICUBIC")
        return out.to_ndarray()

    def resize(self, frame: np.ndarray, max_pixels: int | None) -> np.ndarray:
        """Shrink an RGB array to fit ``max_pixels`` (never enlarged): swscale bicubic, as on the PyAV path."""
        h, w = frame.shape[:2]
        nw, nh = fit_size(w, h, max_pixels)
        if (nw, nh) == (w, h):
            return np.ascontiguousarray(frame)
        import av

        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        return np.ascontiguousarray(self.frame_to_rgb(picture, nw, nh))


def _rotate(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded picture counter-clockwise by ``rotation`` degrees, as a player does."""
    return np.rot90(frame, rotation // 90) if rotation else frame


def _normalise_rotation(degrees: float | None) -> int:
    if degrees is None or not math.isfinite(degrees):
        return 0
    return int(round(degrees / 90.0)) % 4 * 90


def _check_file(path: Path) -> None:
    """Raise VideoDecodeError for the problems that need no decoder: missing, not a regular file, unreadable, empty.

    Opened without blocking and checked before anything reads it: a named pipe or a device never stalls the caller.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise VideoDecodeError("not_found", path, "no such file") from None
    except PermissionError as e:
        raise VideoDecodeError("permission_denied", path, str(e)) from None
    except OSError as e:  # a socket, a dangling mount, ...
        raise VideoDecodeError("not_found", path, f"cannot open: {e.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise VideoDecodeError("not_found", path, "not a regular file")
        if not os.read(fd, 1):
            raise VideoDecodeError("empty", path, "the file has 0 bytes")
    except OSError as e:
        raise VideoDecodeError("permission_denied", path, str(e)) from None
    finally:
        os.close(fd)


def _pick_on_screen(starts: Sequence[float], times: Sequence[float]) -> list[int]:
    """For each time, the index of the last start <= time (the first frame for times before it)."""
    return [max(0, bisect.bisect_right(starts, t + _TIME_TOLERANCE) - 1) for t in times]


def _validate_times(path: Path, times: Sequence[float], duration: float, backend: str) -> list[float]:
    """The times as floats; raises VideoDecodeError(truncated) when one lies past the end of the decodable video."""
    out = [float(t) for t in times]
    late = max(out)
    if duration > 0 and late > duration + 0.5:
        raise VideoDecodeError(
            "truncated", path, f"the video ends at {duration:.3f}s, before the requested time {late:.3f}s",
            backend=backend,
        )
    return out


def _check_on_screen(path: Path, backend: str, times: Sequence[float], stamps: Sequence[float]) -> None:
    """A returned frame must be the one on screen: it cannot start after the requested time (first frame aside)."""
    first = min(stamps) if stamps else 0.0
    for t, s in zip(times, stamps):
        if s > t + _TIME_TOLERANCE and s > first + _TIME_TOLERANCE:
            raise VideoDecodeError(
                "corrupt", path, f"returned the frame at {s:.3f}s for time {t:.3f}s (a later frame)", backend=backend
            )


# ----------------------------------------------------------------------------------------------------------------------
# PyAV


def _av_error_kind(exc: BaseException, opened: bool) -> str:
    import av

    if isinstance(exc, PermissionError) or isinstance(exc, av.error.PermissionError):
        return "permission_denied"
    if isinstance(exc, FileNotFoundError) or isinstance(exc, av.error.FileNotFoundError):
        return "not_found"
    return "corrupt" if opened else "garbage"


def _av_open(path: Path):
    import av

    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as e:
        kind = _av_error_kind(e, opened=False)
        if kind == "garbage" and "moov" in str(e).lower():
            kind = "truncated"  # an mp4 whose index was never written: an interrupted recording or download
        raise VideoDecodeError(kind, path, f"cannot open: {e}", backend="pyav") from None
    if not container.streams.video:
        container.close()
        raise VideoDecodeError("no_video_stream", path, "the file has no video stream", backend="pyav")
    return container


def _av_info(container, stream, rotation: int) -> VideoInfo:
    tb = float(stream.time_base) if stream.time_base else 0.0
    if stream.duration:
        duration = stream.duration * tb
    elif container.duration:
        duration = container.duration / 1_000_000
    else:
        duration = 0.0
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate
    fps = float(rate) if rate else 0.0
    num_frames = stream.frames or (int(round(duration * fps)) if fps else 0)
    w, h = stream.codec_context.width, stream.codec_context.height
    if rotation in (90, 270):
        w, h = h, w
    return VideoInfo(
        duration=float(duration),
        num_frames=int(num_frames),
        fps=fps,
        width=int(w),
        height=int(h),
        rotation=rotation,
        codec=stream.codec_context.name,
        backend="pyav",
    )


def _av_first_rotation(container, stream) -> int:
    """Rotation of the first decoded frame (PyAV exposes the display matrix on frames)."""
    for frame in container.decode(stream):
        return _normalise_rotation(frame.rotation)
    return 0


@dataclass(frozen=True)
class _Packet:
    pts: int
    dts: int | None
    key: bool
    duration: int
    size: int


def _av_index(container, stream) -> list[_Packet]:
    """Every video packet in decode order (pts, keyframe flag, duration), read without decoding."""
    packets = []
    for p in container.demux(stream):
        if p.size == 0:
            continue
        if p.pts is None:
            return []  # timestamps unknown before decoding: the caller decodes linearly instead
        dts = int(p.dts) if p.dts is not None else None
        packets.append(_Packet(int(p.pts), dts, bool(p.is_keyframe), int(p.duration or 0), int(p.size)))
    return packets


def _av_decode_at(path: Path, times: Sequence[float] | Callable[[VideoInfo], Sequence[float]],
                  max_pixels: int | None) -> DecodedFrames:
    """PyAV. ``times`` may be a function of the video's header (see ``probe_and_decode``)."""
    import av

    container = _av_open(path)
    try:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        try:
            rotation = _av_first_rotation(container, stream)
            info = _av_info(container, stream, rotation)
            if callable(times):
                times = times(info)
            times = _validate_times(path, times, info.duration, "pyav")
            container.seek(0, backward=True)  # back to the start (any position: the index pass reads all)
            stream.codec_context.flush_buffers()
            index = _av_index(container, stream)
            _av_check_complete(path, stream, info, index)
            convert = _av_converter(rotation, max_pixels)
            frames = _av_decode_indexed(container, stream, index, times, convert) if index else None
            if frames is None:  # no usable index, or the decoder did not return a planned frame
                container.seek(0, backward=True)
                stream.codec_context.flush_buffers()
                stream.codec_context.skip_frame = "DEFAULT"
                frames = _av_decode_linear(path, container, stream, times, convert)
        except av.error.FFmpegError as e:
            kind = _av_error_kind(e, opened=True)
            raise VideoDecodeError(kind, path, f"decoding failed: {e}", backend="pyav") from None
        stamps = [s for s, _ in frames]
        pictures = [a for _, a in frames]
        return DecodedFrames(frames=pictures, timestamps=stamps, info=info, backend="pyav")
    finally:
        container.close()


def _av_converter(rotation: int, max_pixels: int | None) -> Callable[[object], np.ndarray]:
    """Decoded PyAV frame -> upright RGB array fitted to max_pixels; colour conversion and scaling in one pass."""
    scaler = _Scaler()

    def convert(frame) -> np.ndarray:
        turned = rotation in (90, 270)
        dw, dh = (frame.height, frame.width) if turned else (frame.width, frame.height)
        tw, th = fit_size(dw, dh, max_pixels)
        cw, ch = (th, tw) if turned else (tw, th)
        return np.ascontiguousarray(_rotate(scaler.frame_to_rgb(frame, cw, ch), rotation))

    return convert


def _av_check_complete(path: Path, stream, info: VideoInfo, index: list[_Packet]) -> None:
    """Raise VideoDecodeError(truncated) when the packets end well before what the header promises."""
    if not index:
        return
    if stream.frames and len(index) < stream.frames:
        raise VideoDecodeError(
            "truncated", path, f"the header lists {stream.frames} frames but only {len(index)} are in the file",
            backend="pyav",
        )
    tb = float(stream.time_base)
    pts = [p.pts for p in index]
    last = max(index, key=lambda p: p.pts)
    end = (last.pts + last.duration - min(pts)) * tb
    frame = 1.0 / info.fps if info.fps else 0.0
    if info.duration - end > 0.5 + frame:
        raise VideoDecodeError(
            "truncated", path, f"the header says {info.duration:.3f}s but the frames end at {end:.3f}s",
            backend="pyav",
        )


# Demuxers whose timestamp seeking lands on packet fragments (MPEG program and transport streams): decode them
# forward from the start, never jumping.
_IMPRECISE_SEEK_FORMATS = frozenset({"mpeg", "mpegts", "mpegtsraw", "mpegvideo"})


def _av_decode_indexed(container, stream, index: list[_Packet], times: Sequence[float], convert):
    """Decode only what the requested frames need, using the packet index. None if that cannot be done reliably.

    The targets are grouped into runs, each decoded from a keyframe (``_av_plan_runs``). Every packet given to the
    decoder is checked against the index (same pts, same size), so it sees exactly the packets that a decode from
    that keyframe would see. When a jump lands on something else (a packet fragment, a duplicate), decoding
    restarts from the first keyframe without jumps; when that fails too, None (the caller decodes linearly).
    """
    tb = float(stream.time_base)
    order = sorted(range(len(index)), key=lambda i: index[i].pts)  # presentation order -> decode index
    origin = index[order[0]].pts
    starts = [(index[i].pts - origin) * tb for i in order]
    picks = [order[j] for j in _pick_on_screen(starts, times)]  # decode index of the frame for each time
    wanted = sorted(set(picks))
    wanted_pts = frozenset(index[i].pts for i in wanted)

    got = None
    for jumps in (True, False):
        if jumps and container.format.name in _IMPRECISE_SEEK_FORMATS:
            continue
        got = {}
        if _av_run(container, stream, index, _av_plan_runs(index, wanted, jumps), wanted_pts, got, convert):
            break
        got = None
    if got is None:
        return None
    if len(got) != len(wanted_pts):
        logger.debug("indexed decode missed the frames at pts %s; decoding linearly", sorted(wanted_pts - set(got)))
        return None
    return [((index[i].pts - origin) * tb, got[index[i].pts]) for i in picks]


def _av_plan_runs(index: list[_Packet], wanted: list[int], jumps: bool) -> list[tuple[int, list[int]]]:
    """The decoding runs that give the packets ``wanted`` (decode indices, ascending): (start, targets) pairs.

    A run starts at a keyframe (``start``, a decode index) and decodes forward up to its last target. With
    ``jumps`` a new run starts wherever a keyframe lies between the previous target and the next one (jumping
    there is cheaper than decoding forward); without, there is one run from the first packet.
    """
    keyframe_before = []
    last_key = 0
    for i, p in enumerate(index):
        if p.key:
            last_key = i
        keyframe_before.append(last_key)
    runs: list[tuple[int, list[int]]] = []
    position = -1  # decode index of the next packet the current run would decode
    for target in wanted:
        key = keyframe_before[target]
        while key > 0 and index[target].pts < index[key].pts:
            # a leading picture of an open GOP (shown before its keyframe) needs the GOP before
            key = keyframe_before[key - 1]
        if not runs or (jumps and key > position):
            runs.append((key if jumps else 0, [target]))
        else:
            runs[-1][1].append(target)
        position = max(position, target + 1)
    return runs


def _av_run(container, stream, index: list[_Packet], runs, wanted_pts: frozenset, got: dict, convert) -> bool:
    """Decode ``runs`` (an iterable of ``_av_plan_runs`` pairs) with one decoder, putting the wanted frames in ``got``.

    False when the demuxer gave packets that do not match the index.
    """
    ctx = stream.codec_context
    position = -1  # decode index of the next packet the decoder gets
    packets = None

    def take(decoded) -> None:
        for frame in decoded:
            if frame.pts in wanted_pts and frame.pts not in got:
                got[frame.pts] = convert(frame)

    def jump(key: int) -> bool:
        """Seek so that the decoder's next packet is ``index[key]`` (decoded here); False if that failed."""
        nonlocal packets, position
        entry = index[key]
        # by decoding timestamp: <= the keyframe's pts whether the demuxer's index holds pts or dts
        container.seek(entry.dts if entry.dts is not None else entry.pts, stream=stream, backward=True)
        ctx.flush_buffers()
        packets = (p for p in container.demux(stream) if p.size and p.pts is not None)
        for p in packets:  # the demuxer may land before the keyframe: skip to it
            if p.pts == entry.pts:
                if p.size != entry.size:
                    return False  # a fragment of it
                ctx.skip_frame = "DEFAULT"
                take(ctx.decode(p))
                position = key + 1
                return True
            if entry.dts is not None and p.dts is not None and p.dts > entry.dts:
                return False  # it landed after the keyframe
        return False

    started = False
    for key, targets in runs:
        if started:
            ctx.skip_frame = "DEFAULT"
            take(ctx.decode(None))  # drain frames still held for reordering before jumping
        started = True
        if not jump(key):
            logger.debug("seeking to packet %d did not land on it", key)
            return False
        for target in targets:
            while position <= target:
                p = next(packets, None)
                if p is None:
                    break
                expected = index[position]
                if (p.pts, p.size) != (expected.pts, expected.size):
                    logger.debug("packet %d is not the indexed one (pts %s size %s, expected %s %s)",
                                 position, p.pts, p.size, expected.pts, expected.size)
                    return False
                ctx.skip_frame = "DEFAULT" if p.pts in wanted_pts else "NONREF"
                take(ctx.decode(p))
                position += 1
    ctx.skip_frame = "DEFAULT"
    take(ctx.decode(None))
    return True


def _av_decode_linear(path: Path, container, stream, times: Sequence[float], convert):
    """Decode every frame in order and keep the one on screen at each time (for streams without packet timestamps)."""
    tb = float(stream.time_base)
    queue = sorted(range(len(times)), key=lambda k: times[k])
    out: list = [None] * len(times)
    origin = None
    previous = None  # (seconds, frame, serial number) of the last decoded frame
    converted: tuple[int, tuple[float, np.ndarray]] | None = None  # (serial number of a frame, its picture)

    def picture(chosen) -> tuple[float, np.ndarray]:
        nonlocal converted
        if converted is None or converted[0] != chosen[2]:
            converted = (chosen[2], (chosen[0], convert(chosen[1])))
        return converted[1]

    q = 0
    for serial, frame in enumerate(container.decode(stream)):
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is None:
            continue
        if origin is None:
            origin = pts
        seconds = (pts - origin) * tb
        while q < len(queue) and seconds > times[queue[q]] + _TIME_TOLERANCE:
            out[queue[q]] = picture(previous if previous is not None else (seconds, frame, serial))
            q += 1
        if q == len(queue):
            break
        previous = (seconds, frame, serial)
    if previous is None:
        raise VideoDecodeError("corrupt", path, "no frame could be decoded", backend="pyav")
    while q < len(queue):
        out[queue[q]] = picture(previous)
        q += 1
    return out


def _av_probe(path: Path) -> VideoInfo:
    import av

    container = _av_open(path)
    try:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        try:
            rotation = _av_first_rotation(container, stream)
        except av.error.FFmpegError as e:
            kind = _av_error_kind(e, opened=True)
            raise VideoDecodeError(kind, path, f"decoding failed: {e}", backend="pyav") from None
        return _av_info(container, stream, rotation)
    finally:
        container.close()


# ----------------------------------------------------------------------------------------------------------------------
# torchcodec


def _torchcodec_decode_at(path: Path, times: Sequence[float], max_pixels: int | None) -> DecodedFrames:
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception as e:  # not installed, or its FFmpeg libraries are missing
        raise VideoDecodeError("unavailable", path, f"torchcodec cannot be imported: {e}",
                               backend="torchcodec") from None
    try:
        decoder = VideoDecoder(str(path), seek_mode="exact", num_ffmpeg_threads=1, dimension_order="NHWC")
        meta = decoder.metadata
        begin = float(meta.begin_stream_seconds or 0.0)
        end = float(meta.end_stream_seconds or 0.0)
        rate = meta.average_fps or 0.0
        info = VideoInfo(
            duration=max(0.0, end - begin),
            num_frames=int(meta.num_frames or 0),
            fps=float(rate),
            width=int(meta.width),
            height=int(meta.height),
            rotation=_normalise_rotation(getattr(meta, "rotation", None)),
            codec=str(meta.codec),
            backend="torchcodec",
        )
        times = _validate_times(path, times, info.duration, "torchcodec")
        clamp = max(begin, end - _TIME_TOLERANCE)
        batch = decoder.get_frames_played_at(seconds=[min(begin + t, clamp) for t in times])
    except (RuntimeError, ValueError, IndexError) as e:
        if isinstance(e, ValueError) and "past the end" in str(e):
            raise
        raise VideoDecodeError(_guess_kind(e), path, f"decoding failed: {e}", backend="torchcodec") from None
    stamps = [float(s) - begin for s in batch.pts_seconds.tolist()]
    _check_on_screen(path, "torchcodec", times, stamps)
    # torchcodec applies rotation metadata itself.
    scaler = _Scaler()
    pictures = [scaler.resize(a, max_pixels) for a in batch.data.numpy()]
    return DecodedFrames(frames=pictures, timestamps=stamps, info=info, backend="torchcodec")


def _guess_kind(exc: BaseException) -> str:
    text = str(exc).lower()
    if "no video stream" in text or "no valid stream" in text or "best video stream" in text:
        return "no_video_stream"
    if "moov" in text:
        return "truncated"
    if "invalid data" in text or "could not open" in text or "failed to open" in text:
        return "garbage"
    return "corrupt"


# ----------------------------------------------------------------------------------------------------------------------
# decord


def _decord_decode_at(path: Path, times: Sequence[float], max_pixels: int | None) -> DecodedFrames:
    try:
        import decord
    except Exception as e:
        raise VideoDecodeError("unavailable", path, f"decord cannot be imported: {e}", backend="decord") from None
    try:
        reader = decord.VideoReader(str(path), num_threads=1, ctx=decord.cpu(0))
        n = len(reader)
        if n == 0:
            raise VideoDecodeError("corrupt", path, "no frames", backend="decord")
        spans = reader.get_frame_timestamp(list(range(n)))
        starts = [float(s) for s in spans[:, 0]]
        origin = starts[0]
        starts = [s - origin for s in starts]
        duration = float(spans[-1, 1]) - origin
        times = _validate_times(path, times, duration, "decord")
        picks = _pick_on_screen(starts, times)
        unique = sorted(set(picks))
        batch = reader.get_batch(unique).asnumpy()
        first = batch[0]
    except (decord.DECORDError, RuntimeError) as e:  # decord raises RuntimeError when it cannot open a file
        raise VideoDecodeError(_guess_kind(e), path, f"decoding failed: {e}", backend="decord") from None
    # decord applies rotation metadata itself; its frames are already upright.
    scaler = _Scaler()
    rows = {i: scaler.resize(a, max_pixels) for i, a in zip(unique, batch)}
    info = VideoInfo(
        duration=duration,
        num_frames=n,
        fps=float(reader.get_avg_fps() or 0.0),
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        rotation=0,
        codec="unknown",
        backend="decord",
    )
    return DecodedFrames(frames=[rows[i] for i in picks], timestamps=[starts[i] for i in picks], info=info,
                         backend="decord")


_DECODERS: dict[str, Callable[[Path, Sequence[float], int | None], DecodedFrames]] = {
    "pyav": _av_decode_at,
    "torchcodec": _torchcodec_decode_at,
    "decord": _decord_decode_at,
}


# ----------------------------------------------------------------------------------------------------------------------
# Public API


def _torchcodec_probe(path: Path) -> VideoInfo:
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception as e:
        raise VideoDecodeError("unavailable", path, f"torchcodec cannot be imported: {e}",
                               backend="torchcodec") from None
    try:
        meta = VideoDecoder(str(path), seek_mode="approximate", num_ffmpeg_threads=1).metadata
    except (RuntimeError, ValueError) as e:
        raise VideoDecodeError(_guess_kind(e), path, f"cannot open: {e}", backend="torchcodec") from None
    return VideoInfo(
        duration=float(meta.duration_seconds or 0.0),
        num_frames=int(meta.num_frames or 0),
        fps=float(meta.average_fps or 0.0),
        width=int(meta.width),
        height=int(meta.height),
        rotation=_normalise_rotation(getattr(meta, "rotation", None)),
        codec=str(meta.codec),
        backend="torchcodec",
    )


def _decord_probe(path: Path) -> VideoInfo:
    out = _decord_decode_at(path, [0.0], None)
    return out.info


_PROBERS: dict[str, Callable[[Path], VideoInfo]] = {
    "pyav": _av_probe,
    "torchcodec": _torchcodec_probe,
    "decord": _decord_probe,
}


def probe(path: str | os.PathLike, *, backend: str = "auto") -> VideoInfo:
    """Read a video's header (and its first frame, for the rotation). Raises VideoDecodeError.

    ``backend`` as for ``decode_frames_at``: auto tries the backends in ``AUTO_ORDER`` until one reads the file.
    """
    order = _backend_order(backend)
    path = Path(path)
    _check_file(path)
    return _first_success(path, order, lambda name: _PROBERS[name](path))


def _first_success(path: Path, order: Sequence[str], attempt: Callable[[str], object]):
    failures: list[VideoDecodeError] = []
    for name in order:
        try:
            return attempt(name)
        except VideoDecodeError as e:
            if e.kind in _FINAL_KINDS:
                raise
            logger.debug("%s failed on %s: %s", name, path, e)
            failures.append(e)
    if len(failures) == 1:
        raise failures[0]
    real = [f for f in failures if f.kind != "unavailable"] or failures
    detail = "; ".join(f"{f.backend}: {f.kind}: {f.message}" for f in failures)
    raise VideoDecodeError(real[0].kind, path, f"every backend failed ({detail})")


def _backend_order(backend: str) -> tuple[str, ...]:
    if backend == "auto":
        return AUTO_ORDER
    if backend not in BACKENDS:
        raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
    return (backend,)


def _check_max_pixels(max_pixels: int | None) -> None:
    if max_pixels is not None and max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1 or None, got {max_pixels!r}")


def _check_times(path: Path, times: Sequence[float]) -> list:
    times = list(times)
    if not times:
        raise ValueError(f"{path}: no times requested")
    for t in times:
        if not (isinstance(t, (int, float, np.floating, np.integer)) and math.isfinite(t) and t >= 0):
            raise ValueError(f"{path}: a requested time must be a finite number >= 0, got {t!r}")
    return times


def decode_frames_at(
    path: str | os.PathLike,
    times: Sequence[float],
    *,
    backend: str = "auto",
    max_pixels: int | None = None,
) -> DecodedFrames:
    """The frames on screen at ``times`` (seconds from the video's first frame), upright and fitted to ``max_pixels``.

    Times past the last frame give the last frame; a time more than 0.5 s past the end of the decodable video raises
    VideoDecodeError(kind="truncated"); a negative or non-finite time raises ValueError. With ``backend="auto"`` the
    backends of ``AUTO_ORDER`` are tried in turn; if all fail, the error names every backend's failure and carries
    the kind of the first backend that could run.
    """
    order = _backend_order(backend)
    _check_max_pixels(max_pixels)
    path = Path(path)
    _check_file(path)
    times = _check_times(path, times)
    return _first_success(path, order, lambda name: _DECODERS[name](path, times, max_pixels))


class _TimesFailed(Exception):
    """Carries an exception raised by a ``times_for`` function past the backend fallback."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def probe_and_decode(
    path: str | os.PathLike,
    times_for: Callable[[VideoInfo], Sequence[float]],
    *,
    backend: str = "auto",
    max_pixels: int | None = None,
) -> DecodedFrames:
    """Probe a video and decode the frames on screen at ``times_for(info)``, opening the file once with PyAV.

    The result is that of ``decode_frames_at(path, times_for(probe(path, backend=backend)), backend=backend, ...)``:
    the times come from the first backend of the order that reads the header, and are then kept for every backend
    tried after it; the frames come from the first backend that decodes them. An exception raised by ``times_for``
    (e.g. a VideoDecodeError of kind ``too_short``) propagates as it is, without trying another backend.
    """
    order = _backend_order(backend)
    _check_max_pixels(max_pixels)
    path = Path(path)
    _check_file(path)
    chosen: list | None = None

    def times_from(info: VideoInfo) -> list:
        nonlocal chosen
        if chosen is None:
            try:
                chosen = _check_times(path, times_for(info))
            except Exception as e:
                raise _TimesFailed(e) from None
        return chosen

    def attempt(name: str) -> DecodedFrames:
        if name == "pyav":
            return _av_decode_at(path, times_from, max_pixels)
        if chosen is None:
            times_from(_PROBERS[name](path))
        return _DECODERS[name](path, chosen, max_pixels)

    try:
        return _first_success(path, order, attempt)
    except _TimesFailed as e:
        raise e.error from None

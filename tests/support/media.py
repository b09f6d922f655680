"""Tiny test clips made with the ffmpeg binary (lavfi sources), for tests and benchmarks.

Nothing is downloaded: ``make_clip`` renders a synthetic pattern (``testsrc2``, ``mandelbrot``, ``life``...) at the
size, frame rate and length asked for and encodes it with the codec asked for, in well under a second for small clips.
``make_audio_only`` writes a file with a sine tone and no video stream. Bad files (truncated, corrupted, garbage)
are made from good ones with the small byte-level helpers at the bottom.

Usage::

    from support.media import make_clip
    make_clip(tmp_path / "a.mp4", seconds=2, fps=25, size=(160, 120))
    make_clip(tmp_path / "a.webm", seconds=2, fps=25, codec="libvpx-vp9")
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

PATTERNS = ("testsrc2", "testsrc", "mandelbrot", "life", "cellauto", "smptebars", "rgbtestsrc")


def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable; raises FileNotFoundError if it is not installed."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FileNotFoundError("the ffmpeg binary is not on PATH (install it, e.g. `apt-get install ffmpeg`)")
    return exe


def _run(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr[-2000:]}")


def make_clip(
    path: str | os.PathLike,
    *,
    seconds: float,
    fps: float = 25,
    size: tuple[int, int] = (160, 120),
    codec: str = "libx264",
    gop: int | None = None,
    pattern: str = "testsrc2",
    rotation: int | None = None,
    video_filter: str | None = None,
    extra_args: Sequence[str] = (),
) -> Path:
    """Encode a synthetic clip to ``path`` (the container follows the extension) and return the path.

    ``gop`` sets the keyframe interval (``-g``; None: the encoder's default, 250 for x264). ``rotation`` writes
    display-matrix rotation metadata as phones do (ffmpeg's ``rotate`` tag, in degrees; players, ffmpeg included,
    turn the picture accordingly).
    ``video_filter`` is appended to the filter chain (e.g. a ``setpts`` expression for a variable frame rate), and
    ``extra_args`` go before the output path.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
    if not seconds > 0 or not fps > 0:
        raise ValueError(f"seconds and fps must be > 0, got seconds={seconds!r} fps={fps!r}")
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError(f"bad size {size!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if pattern == "mandelbrot":
        source = f"mandelbrot=size={width}x{height}:rate={fps}"
    elif pattern in ("life", "cellauto"):
        source = f"{pattern}=size={width}x{height}:rate={fps}"
    else:
        source = f"{pattern}=size={width}x{height}:rate={fps}:duration={seconds}"
    args = [ffmpeg_binary(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", str(seconds)]
    filters = ["format=yuv420p"]
    if pattern in ("life", "cellauto"):
        filters.insert(0, "format=rgb24")
    if video_filter:
        filters.append(video_filter)
    args += ["-vf", ",".join(filters), "-c:v", codec]
    if gop is not None:
        args += ["-g", str(gop)]
    if codec == "libx264":
        args += ["-preset", "veryfast"] if gop is None or gop > 1 else []
    if codec.startswith("libvpx"):
        args += ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"]
    target = path.with_name(f".{path.stem}.unrotated{path.suffix}") if rotation is not None else path
    args += ["-threads", "1", *extra_args, str(target)]
    _run(args)
    if rotation is not None:  # the display matrix is written on a stream copy (ffmpeg ignores it when encoding)
        try:
            _run([ffmpeg_binary(), "-nostdin", "-v", "error", "-y", "-i", str(target), "-c", "copy",
                  "-metadata:s:v:0", f"rotate={int(rotation)}", str(path)])
        finally:
            target.unlink(missing_ok=True)
    return path


def make_audio_only(path: str | os.PathLike, *, seconds: float = 1.0) -> Path:
    """A file with one sine-tone audio stream and no video stream (container follows the extension)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([ffmpeg_binary(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
          f"sine=frequency=440:duration={seconds}", str(path)])
    return path


def truncate_file(src: str | os.PathLike, dst: str | os.PathLike, fraction: float) -> Path:
    """Copy the first ``fraction`` of ``src``'s bytes to ``dst`` (an interrupted download)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    data = Path(src).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def corrupt_file(src: str | os.PathLike, dst: str | os.PathLike, *, start: float = 0.3, length: int = 4096,
                 seed: int = 0) -> Path:
    """Copy ``src`` to ``dst`` with ``length`` bytes from ``start`` (a fraction of the size) overwritten by noise."""
    import numpy as np

    data = bytearray(Path(src).read_bytes())
    offset = int(len(data) * start)
    noise = np.random.default_rng(seed).integers(0, 256, size=min(length, len(data) - offset), dtype=np.uint8)
    data[offset : offset + len(noise)] = noise.tobytes()
    dst = Path(dst)
    dst.write_bytes(bytes(data))
    return dst


def write_garbage(dst: str | os.PathLike, *, size: int = 20000, seed: int = 0) -> Path:
    """A file of random bytes (e.g. named ``.mp4``) that no demuxer recognises."""
    import numpy as np

    dst = Path(dst)
    dst.write_bytes(np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8).tobytes())
    return dst

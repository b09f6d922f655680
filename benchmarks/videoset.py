"""A varied folder of videos for the build and disk benchmarks, made with the ffmpeg binary (nothing downloaded).

``make_video_set(folder, num_synthetic, real_dir)`` writes ``num_synthetic`` synthetic clips whose codec (H.264,
HEVC, VP9, MPEG-4 part 2, MPEG-2), resolution (270p to 1080p, one rotated portrait clip in eight), length (3 to
30 s), frame rate (24, 25, 30), GOP (x264's default 250, 12, 25, 60, 120) and content (lavfi patterns, most with
temporal noise so that frames cost what real footage costs to decode and to compress) vary from clip to clip, and
copies in the real clips of ``real_dir``. Every file is an MP4 (real clips in another container are remuxed into
one, streams copied, nothing re-encoded), so that tools that look only for ``.mp4`` files see the same set. The
choices are a fixed function of the clip number: the same arguments give the same set of clips. Clips already in
the folder are kept (pass the same folder to reuse a set).

Not a benchmark by itself; ``bench_disk.py`` and ``bench_onthefly.py`` import it. Run alone it makes a folder::

    python benchmarks/videoset.py OUT_DIR [--num-synthetic 98] [--real-dir data/demo] [--no-vp9]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from videossr.sampling.sampler import find_videos  # noqa: E402
from tests.support.media import ffmpeg_binary, make_clip  # noqa: E402

NOISE = "noise=alls=6:allf=t+u:all_seed={seed}"

# (codec, extra encoder arguments); all of them fit an MP4 container.
CODECS = (
    ("libx264", ()),
    ("libx264", ()),
    ("libx265", ("-preset", "ultrafast", "-x265-params", "log-level=error")),
    ("libvpx-vp9", ()),
    ("mpeg4", ("-q:v", "4")),
    ("mpeg2video", ("-q:v", "4")),
)
SIZES = ((640, 360), (854, 480), (1280, 720), (480, 270), (960, 540), (640, 360), (1280, 720), (1920, 1080))
SECONDS = (3, 5, 8, 12, 6, 20, 10, 30, 4, 15, 9, 25)
FPS = (30, 25, 24, 30, 25)
GOPS = (None, 12, 25, 60, None, 120)
PATTERNS = ("testsrc2", "mandelbrot", "testsrc", "life", "smptebars", "cellauto", "rgbtestsrc")


def clip_spec(i: int, vp9: bool = True) -> tuple[str, dict]:
    """File name and ``make_clip`` arguments of synthetic clip ``i`` (``vp9`` False: H.264 in place of VP9)."""
    codec, extra = CODECS[i % len(CODECS)]
    if codec == "libvpx-vp9" and not vp9:
        codec, extra = CODECS[0]
    width, height = SIZES[(i * 5 + i // 7) % len(SIZES)]
    if codec == "libvpx-vp9" and width * height > 1280 * 720:
        width, height = 1280, 720  # the realtime VP9 encoder is slow at 1080p
    seconds = SECONDS[(i * 7 + i // 5) % len(SECONDS)]
    if width * height >= 1920 * 1080:
        seconds = min(seconds, 10)  # a few 1080p clips, short: they dominate decoding otherwise
    rotation = 90 if i % 8 == 7 else None
    if rotation is not None:
        width, height = height, width  # stored portrait-wise turned, as phones do
    fps = FPS[i % len(FPS)]
    gop = GOPS[(i // 2) % len(GOPS)]
    pattern = PATTERNS[(i * 3) % len(PATTERNS)]
    kwargs = dict(seconds=seconds, fps=fps, size=(width, height), codec=codec, gop=gop, pattern=pattern,
                  rotation=rotation, extra_args=list(extra))
    if pattern not in ("life", "cellauto"):  # the automata are already busy pictures
        kwargs["video_filter"] = NOISE.format(seed=i + 1)
    gop_name = "default" if gop is None else str(gop)
    name = (f"clip{i:03d}_{codec.replace('lib', '')}_{width}x{height}_{seconds}s_{fps}fps_gop{gop_name}"
            f"{'_rot90' if rotation else ''}.mp4")
    return name, kwargs


def make_video_set(folder: Path, num_synthetic: int, real_dir: Path | None, vp9: bool = True) -> Path:
    """Make (or complete) the set in ``folder``; returns ``folder``. ``vp9`` False: no VP9 clip (H.264 instead)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(num_synthetic):
        name, kwargs = clip_spec(i, vp9)
        if not (folder / name).is_file():
            make_clip(folder / name, **kwargs)
    if real_dir is not None:
        for source in find_videos([real_dir]):
            target = folder / f"real_{source.path.stem}.mp4"
            if target.is_file():
                continue
            if source.path.suffix.lower() == ".mp4":
                shutil.copy(source.path, target)
            else:
                subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-y", "-i", str(source.path), "-map", "0",
                                "-c", "copy", str(target)], check=True)
    return folder


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--num-synthetic", type=int, default=98)
    p.add_argument("--real-dir", type=Path, default=REPO_ROOT / "data" / "demo")
    p.add_argument("--no-vp9", dest="vp9", action="store_false",
                   help="H.264 in place of VP9 (for a tool whose decoder cannot read VP9 in MP4)")
    args = p.parse_args()
    start = time.perf_counter()
    make_video_set(args.folder, args.num_synthetic, args.real_dir, vp9=args.vp9)
    n = len(find_videos([args.folder]))
    print(f"{n} videos in {args.folder} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

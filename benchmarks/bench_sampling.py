"""Frame sampling throughput, side by side with a full decode by ffmpeg itself.

Groups of videos (made here with ffmpeg unless ``--video-dir`` is given):

- ``mixed``: a folder such as a real collection looks like: several codecs (H.264, HEVC, VP9, MPEG-4 part 2,
  MPEG-2), containers (mp4, mkv, webm, avi, mpg), resolutions (240p to 1080p, a rotated portrait clip), lengths
  (3 s to 40 s) and GOPs, plus the real clips of ``--real-dir`` (default: the demo clips in data/demo), all copied
  into one temporary folder;
- ``gop250`` / ``gop25``: ``--videos`` clips of 1280x720 30 fps H.264 with x264's default GOP (250) or a GOP of 25.

For each group the script times

- the decode floor: ``ffmpeg -threads 1 -i V -f null -`` on every video, ``--workers`` videos at a time;
- ``videossr.sampling.sampler.sample_videos`` with each backend and ``--workers`` worker processes, writing a fresh
  frame store (``--num-frames`` frames per video, JPEG, fitted to ``--max-pixels``); with ``--executors local ray``
  also as Ray tasks on a local Ray instance of ``--workers`` CPUs (started once, before the timing),

and prints, per backend and executor, the ratios sampler / floor in wall-clock seconds (the goal: at most 1.0, i.e.
sampling costs no more than decoding every video once) and in CPU seconds (steadier on a shared machine; local only:
Ray's workers are not this process's children), videos/s, videos/s per core (videos/s / ``--workers``) and the
bytes on disk per video. Sampler times include starting the worker processes and importing the decoders. Each
figure is the best of ``--repeat`` runs, the floor and the sampler runs interleaved so that both see the same load.
Then, once per group, the store at ``--small-pixels`` (the training size): bytes per video when sampled at that size
and when derived from the ``--max-pixels`` store (``videossr.sampling.sampler.derive_store``), and the time it takes.
Nothing is asserted: this prints figures.

Usage (from the repository root)::

    python benchmarks/bench_sampling.py                                   # mixed, gop250, gop25; pyav
    python benchmarks/bench_sampling.py --groups mixed --repeat 5 --clips-dir clips/   # keep the made clips
    python benchmarks/bench_sampling.py --video-dir my_videos/ --workers 4 --backends pyav torchcodec
    python benchmarks/bench_sampling.py --groups mixed --executors local ray             # Ray vs local
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import logging
import resource
import shutil
import subprocess
import tempfile
import time
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
for _path in (REPO_ROOT, REPO_ROOT / "tests"):  # run as a script from anywhere: the clips come from tests/support
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from support.media import ffmpeg_binary, make_clip  # noqa: E402
from videossr.sampling.sampler import derive_store, find_videos, sample_videos  # noqa: E402
from videossr.procs import EXECUTORS, ray_session  # noqa: E402
from videossr.sampling.video import BACKENDS  # noqa: E402

NOISE = "noise=alls=6:allf=t+u:all_seed={seed}"  # temporal noise: frames cost what real footage costs to decode

# The synthetic part of the mixed folder: (file name, make_clip arguments).
MIXED = (
    ("h264_720p_gop250_40s.mp4", dict(seconds=40, fps=30, size=(1280, 720), video_filter=NOISE.format(seed=1))),
    ("h264_1080p_gop60_12s.mp4", dict(seconds=12, fps=30, size=(1920, 1080), gop=60,
                                      video_filter=NOISE.format(seed=2))),
    ("vp9_480p_20s.webm", dict(seconds=20, fps=30, size=(854, 480), codec="libvpx-vp9", pattern="mandelbrot")),
    ("hevc_540p_15s.mkv", dict(seconds=15, fps=25, size=(960, 540), codec="libx265",
                               video_filter=NOISE.format(seed=3), extra_args=["-preset", "ultrafast"])),
    ("mpeg4_360p_20s.avi", dict(seconds=20, fps=25, size=(640, 360), codec="mpeg4", pattern="testsrc",
                                video_filter=NOISE.format(seed=4), extra_args=["-q:v", "4"])),
    ("mpeg2_576p_15s.mpg", dict(seconds=15, fps=25, size=(720, 576), codec="mpeg2video", gop=15,
                                video_filter=NOISE.format(seed=5), extra_args=["-q:v", "4"])),
    ("h264_portrait_rotated_10s.mp4", dict(seconds=10, fps=30, size=(720, 1280), rotation=90,
                                           video_filter=NOISE.format(seed=6))),
    ("h264_240p_3s.mp4", dict(seconds=3, fps=25, size=(320, 240), pattern="mandelbrot")),
)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children (ffmpeg runs, sampler workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def ffmpeg_full_decode(paths: list[Path], workers: int) -> tuple[float, float]:
    """(wall, CPU) seconds to decode every video fully with ffmpeg, one thread each, ``workers`` at a time."""

    def run(path: Path) -> None:
        subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-threads", "1", "-i", str(path), "-f", "null",
                        "-"], check=True)

    cpu, start = cpu_seconds(), time.perf_counter()
    with cf.ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, paths))
    return time.perf_counter() - start, cpu_seconds() - cpu


def make_gop_group(folder: Path, *, count: int, seconds: float, gop: int | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        if not (folder / f"clip{i}.mp4").is_file():  # kept from an earlier run (--clips-dir)
            make_clip(folder / f"clip{i}.mp4", seconds=seconds, fps=30, size=(1280, 720), gop=gop,
                      video_filter=NOISE.format(seed=i + 1), extra_args=["-threads", "2"])
    return folder


def make_mixed_group(folder: Path, real_dir: Path | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, kwargs in MIXED:
        if not (folder / name).is_file():
            make_clip(folder / name, **kwargs)
    if real_dir is not None:
        for source in find_videos([real_dir]):
            if not (folder / source.path.name).is_file():
                shutil.copy(source.path, folder / source.path.name)
    return folder


def bench_group(name: str, folder: Path, args, scratch: Path) -> list[str]:
    paths = [s.path for s in find_videos([folder])]
    floors: list[tuple[float, float]] = []
    kinds = [(b, e) for b in args.backends for e in args.executors]
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {k: [] for k in kinds}
    summaries = {}
    for r in range(args.repeat):
        floors.append(ffmpeg_full_decode(paths, args.workers))
        for backend, executor in kinds:
            out = scratch / f"{name}-{backend}-{executor}-{r}"
            cpu, start = cpu_seconds(), time.perf_counter()
            summaries[backend, executor] = sample_videos(
                [folder], out, num_frames=args.num_frames, max_pixels=args.max_pixels, backend=backend,
                workers=args.workers, progress=False, executor=executor)
            runs[backend, executor].append((time.perf_counter() - start, cpu_seconds() - cpu))
            shutil.rmtree(out)
    wall_ref, cpu_ref = min(w for w, _ in floors), min(c for _, c in floors)
    rows = [f"{name}: {len(paths)} videos; decode floor (ffmpeg -threads 1, {args.workers} at a time): "
            f"{wall_ref:.2f} s wall, {cpu_ref:.2f} s CPU"]
    for backend, executor in kinds:
        took, spent = min(w for w, _ in runs[backend, executor]), min(c for _, c in runs[backend, executor])
        s = summaries[backend, executor]
        cpu = f"{spent:6.2f} s CPU" if executor == "local" else "    (Ray) "
        cpu_ratio = f"CPU {spent / cpu_ref:4.2f}" if executor == "local" else "CPU  -  "
        rows.append(
            f"  {backend:10s} {executor:5s} {took:6.2f} s wall {cpu}  ratio wall {took / wall_ref:4.2f} {cpu_ratio}  "
            f"{s.sampled / took:5.2f} videos/s ({s.sampled / took / args.workers:5.3f} per core)  "
            f"{s.bytes_written / max(s.sampled, 1) / 1e3:6.1f} kB/video  (ok {s.sampled}, failed {s.failed}; walls "
            f"{' '.join(f'{w:.2f}' for w, _ in runs[backend, executor])})"
        )
    return rows


def store_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.jpg"))


def bench_sizes(name: str, folder: Path, args, scratch: Path) -> list[str]:
    """Bytes per video at --max-pixels and --small-pixels (sampled, and derived from the larger store)."""
    big, small, derived = (scratch / f"{name}-{k}" for k in ("big", "small", "derived"))
    common = dict(num_frames=args.num_frames, workers=args.workers, progress=False)
    a = sample_videos([folder], big, max_pixels=args.max_pixels, **common)
    b = sample_videos([folder], small, max_pixels=args.small_pixels, **common)
    cpu, start = cpu_seconds(), time.perf_counter()
    d = derive_store(big, derived, max_pixels=args.small_pixels, workers=args.workers, progress=False)
    took, spent = time.perf_counter() - start, cpu_seconds() - cpu
    n = max(a.manifest_videos, 1)
    sizes = [store_bytes(r) / n / 1e3 for r in (big, small, derived)]
    for r in (big, small, derived):
        shutil.rmtree(r)
    return [f"  store size: {sizes[0]:.1f} kB/video at max_pixels {args.max_pixels}; at {args.small_pixels}: "
            f"{sizes[1]:.1f} kB/video sampled ({sizes[1] / sizes[0]:.2f}x), {sizes[2]:.1f} kB/video derived; "
            f"derived {d.derived} videos in {took:.2f} s wall, {spent:.2f} s CPU (no decoding; "
            f"{b.sampled} sampled directly)"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video-dir", type=Path, action="append", help="benchmark these folders instead of made clips")
    p.add_argument("--groups", nargs="+", default=["mixed", "gop250", "gop25"], choices=("mixed", "gop250", "gop25"))
    p.add_argument("--real-dir", type=Path, default=REPO_ROOT / "data" / "demo",
                   help="real clips added to the mixed group (default: data/demo)")
    p.add_argument("--videos", type=int, default=4, help="clips per GOP group (default 4)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of a GOP-group clip (default 30)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--num-frames", type=int, default=48)
    p.add_argument("--max-pixels", type=int, default=512 * 512)
    p.add_argument("--small-pixels", type=int, default=256 * 256, help="the smaller store's size (default 256*256)")
    p.add_argument("--backends", nargs="+", default=["pyav"], choices=BACKENDS)
    p.add_argument("--executors", nargs="+", default=["local"], choices=EXECUTORS,
                   help="ray: on a local Ray instance of --workers CPUs, started before the timing")
    p.add_argument("--repeat", type=int, default=3, help="take the best of this many runs")
    p.add_argument("--clips-dir", type=Path, help="make (or reuse) the clips here instead of a temporary folder")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)

    scratch = Path(tempfile.mkdtemp(prefix="bench_sampling_"))
    stack = contextlib.ExitStack()
    session = ray_session(args.workers) if "ray" in args.executors else contextlib.nullcontext()
    try:
        stack.enter_context(session)
        if args.video_dir:
            groups = {str(d): d for d in args.video_dir}
        else:
            start = time.perf_counter()
            clips = args.clips_dir or scratch / "clips"
            makers = {
                "mixed": lambda: make_mixed_group(clips / "mixed", args.real_dir),
                "gop250": lambda: make_gop_group(clips / "gop250", count=args.videos, seconds=args.seconds, gop=None),
                "gop25": lambda: make_gop_group(clips / "gop25", count=args.videos, seconds=args.seconds, gop=25),
            }
            groups = {g: makers[g]() for g in args.groups}
            print(f"clips ready in {time.perf_counter() - start:.1f} s (GOP groups: {args.videos} x {args.seconds:g} s "
                  f"1280x720 30 fps H.264)")
        print(f"workers {args.workers}, {args.num_frames} frames per video, max_pixels {args.max_pixels}, "
              f"best of {args.repeat}")
        for name, folder in groups.items():
            for line in bench_group(name, folder, args, scratch) + bench_sizes(name, folder, args, scratch):
                print(line, flush=True)
    finally:
        stack.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

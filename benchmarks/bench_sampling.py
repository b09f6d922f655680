"""Frame sampling throughput, side by side with a full decode by ffmpeg itself.

For each group of videos (by default two synthetic groups made here with ffmpeg: 1280x720 30 fps H.264 with x264's
default GOP of 250 frames, and the same with a GOP of 25), the script times

- ``ffmpeg -threads 1 -i V -f null -`` on every video, ``--workers`` videos at a time (the full-decode reference);
- ``videossr.frames.sample_videos`` with each backend and ``--workers`` worker processes (one decoder thread each),
  writing a fresh frame store (``--num-frames`` frames per video, JPEG, fitted to ``--max-pixels``),

and prints videos/s, frames/s, the ratio sampler time / ffmpeg time (the figure: at most 1.0 means sampling costs
no more than decoding the videos once), both in wall-clock and in CPU seconds (CPU time is steadier on a shared
machine), and the bytes on disk per sampled video. Sampler times include starting the worker processes and
importing the backend; each figure is the best of ``--repeat`` runs. Nothing is asserted: this prints figures.

Usage::

    python benchmarks/bench_sampling.py                              # synthetic clips, 4 per group, 30 s each
    python benchmarks/bench_sampling.py --video-dir my_videos/ --workers 4 --backends pyav torchcodec
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import logging
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from videossr.frames import find_videos, sample_videos
from videossr.testing.media import ffmpeg_binary, make_clip
from videossr.video import BACKENDS


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


def make_group(folder: Path, *, count: int, seconds: float, gop: int | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        if (folder / f"clip{i}.mp4").is_file():  # kept from an earlier run (--clips-dir)
            continue
        # a moving test pattern with temporal noise, so that frames cost what real footage costs to decode
        make_clip(folder / f"clip{i}.mp4", seconds=seconds, fps=30, size=(1280, 720), gop=gop,
                  video_filter=f"noise=alls=6:allf=t+u:all_seed={i + 1}",
                  extra_args=["-threads", "2"])
    return folder


def bench_group(name: str, folder: Path, backends: list[str], args, scratch: Path) -> list[str]:
    paths = [s.path for s in find_videos([folder])]
    runs = [ffmpeg_full_decode(paths, args.workers) for _ in range(args.repeat)]
    wall_ref, cpu_ref = min(w for w, _ in runs), min(c for _, c in runs)
    rows = [f"{name}: {len(paths)} videos; ffmpeg -threads 1 full decode: {wall_ref:.2f} s wall, {cpu_ref:.2f} s CPU "
            f"({len(paths) / wall_ref:.2f} videos/s)"]
    for backend in backends:
        walls, cpus = [], []
        for r in range(args.repeat):
            out = scratch / f"{name}-{backend}-{r}".replace(" ", "_")
            cpu, start = cpu_seconds(), time.perf_counter()
            summary = sample_videos([folder], out, num_frames=args.num_frames, max_pixels=args.max_pixels,
                                    backend=backend, workers=args.workers, progress=False)
            walls.append(time.perf_counter() - start)
            cpus.append(cpu_seconds() - cpu)
            shutil.rmtree(out)
        took, spent = min(walls), min(cpus)
        per_video = summary.bytes_written / max(summary.sampled, 1)
        rows.append(
            f"  {backend:10s} {took:6.2f} s wall {spent:6.2f} s CPU  {summary.sampled / took:5.2f} videos/s  "
            f"{summary.frames_written / took:6.1f} frames/s  "
            f"ratio wall {took / wall_ref:4.2f} CPU {spent / cpu_ref:4.2f}"
            f"  {per_video / 1e3:6.1f} kB/video  (ok {summary.sampled}, failed {summary.failed})"
        )
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video-dir", type=Path, action="append", help="benchmark these folders instead of synthetic clips")
    p.add_argument("--videos", type=int, default=4, help="synthetic clips per group (default 4)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of a synthetic clip (default 30)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--num-frames", type=int, default=48)
    p.add_argument("--max-pixels", type=int, default=512 * 512)
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--repeat", type=int, default=2, help="take the best of this many runs")
    p.add_argument("--clips-dir", type=Path, help="make (or reuse) the synthetic clips here instead of a temp dir")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)

    scratch = Path(tempfile.mkdtemp(prefix="bench_sampling_"))
    try:
        if args.video_dir:
            groups = {str(d): d for d in args.video_dir}
        else:
            start = time.perf_counter()
            clips = args.clips_dir or scratch
            groups = {
                "H.264 GOP 250 (x264 default)": make_group(clips / "gop250", count=args.videos,
                                                            seconds=args.seconds, gop=None),
                "H.264 GOP 25": make_group(clips / "gop25", count=args.videos, seconds=args.seconds, gop=25),
            }
            print(f"made {2 * args.videos} clips of {args.seconds:g} s 1280x720 30 fps in "
                  f"{time.perf_counter() - start:.1f} s")
        print(f"workers {args.workers}, {args.num_frames} frames per video, max_pixels {args.max_pixels}, "
              f"one decoder thread per worker (as ffmpeg -threads 1)")
        for name, folder in groups.items():
            for line in bench_group(name, folder, args.backends, args, scratch):
                print(line, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

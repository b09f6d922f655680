"""Benchmark the dataset build: samples/s and bytes on disk per sample for each task, and a whole build's wall time
and disk use from a folder of videos.

By default it makes its own videos with the ffmpeg binary (``--num-videos`` clips of ``--size`` pixels and
``--seconds`` seconds, moving lavfi content) in a scratch folder that is removed afterwards; ``--video-dir`` uses
yours instead (e.g. data/demo). Figures go to stdout.

Usage (from the repository root)::

    python benchmarks/bench_build.py [--video-dir data/demo] [--num-videos 4] [--samples-per-task 24]
        [--build-samples 120] [--workers 2] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path

from videossr.datasets.build import BuildConfig, build, files_dir_for, paper_mix, write_task_dataset

SOURCES = ("testsrc2", "mandelbrot", "life=mold=10:ratio=0.5:death_color=#C83232", "cellauto=rule=110")


def make_videos(folder: Path, num: int, size: str, seconds: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(num):
        src = SOURCES[i % len(SOURCES)]
        sep = ":" if "=" in src else "="
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{src}{sep}size={size}:rate=25", "-t", str(seconds),
             "-c:v", "libx264", "-pix_fmt", "yuv420p", str(folder / f"clip{i:02d}.mp4")],
            check=True,
        )


def disk_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (apparent size)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video-dir", type=Path, help="use these videos instead of generated ones")
    parser.add_argument("--num-videos", type=int, default=4)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--samples-per-task", type=int, default=24)
    parser.add_argument("--build-samples", type=int, default=120)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--work-dir", type=Path, help="keep the outputs here instead of a scratch folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench_build_") as scratch:
        work = args.work_dir or Path(scratch)
        videos = args.video_dir
        if videos is None:
            videos = work / "videos"
            t = time.perf_counter()
            make_videos(videos, args.num_videos, args.size, args.seconds)
            print(f"made {args.num_videos} clips of {args.size}, {args.seconds:g} s in {time.perf_counter() - t:.1f} s")

        # The whole build, from videos (frame sampling included).
        out = work / "build"
        t = time.perf_counter()
        summary = build(
            BuildConfig(output_dir=out, video_dirs=(videos,), num_samples=args.build_samples, workers=args.workers),
            progress=False,
        )
        wall = time.perf_counter() - t
        store_bytes = disk_bytes(out / "frames_store")
        total = disk_bytes(out)
        per_sample = (total - store_bytes) / max(1, summary.counts["samples"])
        print(
            f"build: {summary.counts['samples']} samples from {summary.num_videos} videos, workers={args.workers}: "
            f"{wall:.1f} s wall; disk {total / 1e6:.1f} MB ({store_bytes / 1e6:.1f} MB frame store, "
            f"{(total - store_bytes) / 1e6:.1f} MB samples = {per_sample / 1e3:.0f} kB/sample)"
        )
        t = time.perf_counter()
        build(
            BuildConfig(output_dir=out, video_dirs=(videos,), num_samples=args.build_samples, workers=args.workers),
            progress=False,
        )
        print(f"build rerun (everything done, reassemble only): {time.perf_counter() - t:.1f} s")

        # Per task, one process, on the build's frame store.
        variants = {entry.task: entry.resolved() for entry in paper_mix()}
        for task in ("grounding", "jigsaw", "counting"):
            output = work / "tasks" / f"{task}.parquet"
            t, c = time.perf_counter(), time.process_time()
            s = write_task_dataset(
                task, variants[task], frames_dir=out / "frames_store", output=output,
                num_samples=args.samples_per_task, workers=1, progress=False,
            )
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            n = max(1, s.counts["samples"])
            size = disk_bytes(files_dir_for(output)) + disk_bytes(output)
            print(
                f"{task:9s}: {n / wall:7.1f} samples/s wall ({cpu / n * 1e3:6.1f} ms CPU/sample, 1 process); "
                f"{size / n / 1e3:7.1f} kB on disk/sample ({s.counts['new_frames'] / n:.1f} new frames/sample)"
            )


if __name__ == "__main__":
    main()

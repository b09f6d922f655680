"""Disk and time of a whole build from videos: the frame store per video, bytes per sample of recipe rows and of
materialised rows, the whole output, and the wall and CPU time of each stage.

Videos: by default a varied set made with the ffmpeg binary (``benchmarks/videoset.py``: ``--num-videos`` synthetic
clips of several codecs, sizes, lengths and GOPs, plus the real demo clips of data/demo), in a temporary folder or
in ``--clips-dir`` (kept and reused); ``--video-dir`` uses yours instead.

Stages, each timed (wall: ``time.perf_counter``; CPU: user + system of this process and its worker processes):

1. sampling: ``videossr.sampling.sampler.sample_videos`` into ``OUT_recipe/frames_store`` at the training size (256*256),
   which is what ``pretext_tasks/build_dataset.py --video-dir V --output-dir OUT_recipe`` does first;
2. tasks, recipe rows: ``videossr.datasets.build.build`` on the same videos and output (the store is found finished, so this
   is the rest of that command: the store check and the 40/40/20 mix as recipe rows; the default build);
3. tasks, materialised rows: the same mix with the same seed from that store into another folder, with
   ``materialize=True`` (``--materialize``: every new frame written as a JPEG);
4. the store at 512*512 (the VIUBench / evaluation size) sampled from the videos, for its bytes per video.

Bytes are apparent file sizes (``st_size``) of everything under each folder (frames, manifests, unit files,
parquet, metadata). With ``--repeat N`` each timing is the best of N runs (outputs removed between runs); the
machine's load shows in wall time more than in CPU time. Nothing is asserted: this prints figures.

Usage (from the repository root)::

    python benchmarks/bench_disk.py [--num-videos 98] [--num-samples 1000] [--workers 2] [--repeat 1]
        [--video-dir DIR | --clips-dir DIR [--no-vp9]] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from videoset import REPO_ROOT, make_video_set  # noqa: E402

from videossr.datasets.build import FRAME_STORE_DIR, BuildConfig, build  # noqa: E402
from videossr.constants import EVAL_MAX_PIXELS, TRAIN_MAX_PIXELS  # noqa: E402
from videossr.sampling.sampler import find_videos, sample_videos  # noqa: E402
from videossr.sampling.store import read_manifest  # noqa: E402


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (worker processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn):
    c, t = cpu_seconds(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t, cpu_seconds() - c


def tree_bytes(path: Path, exclude: Path | None = None) -> int:
    """Apparent bytes of the files under ``path`` (``exclude``: a subfolder left out)."""
    return sum(p.stat().st_size for p in path.rglob("*")
               if p.is_file() and (exclude is None or exclude not in p.parents))


def per_video(store: Path) -> tuple[int, float, int, int]:
    """(videos, mean, min, max) bytes of each video's folder in a frame store."""
    sizes = [tree_bytes(store / r.video_id) for r in read_manifest(store)]
    return len(sizes), statistics.fmean(sizes), min(sizes), max(sizes)


def run_once(videos: Path, work: Path, args) -> dict:
    for name in ("recipe", "materialised", "store512"):
        shutil.rmtree(work / name, ignore_errors=True)
    recipe, materialised = work / "recipe", work / "materialised"
    store = recipe / FRAME_STORE_DIR
    common = dict(num_samples=args.num_samples, seed=args.seed, workers=args.workers)
    times = {}
    _, *times["sampling"] = timed(lambda: sample_videos([videos], store, max_pixels=TRAIN_MAX_PIXELS,
                                                          workers=args.workers, progress=False))
    s_recipe, *times["tasks, recipe rows"] = timed(
        lambda: build(BuildConfig(output_dir=recipe, video_dirs=(videos,), **common), progress=False))
    s_mat, *times["tasks, materialised rows"] = timed(
        lambda: build(BuildConfig(output_dir=materialised, frames_dir=store, materialize=True, **common),
                      progress=False))
    _, *times["sampling at 512*512"] = timed(lambda: sample_videos([videos], work / "store512",
                                                                     max_pixels=EVAL_MAX_PIXELS, workers=args.workers,
                                                                     progress=False))
    return {"times": times, "recipe": s_recipe, "materialised": s_mat}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video-dir", type=Path, help="use these videos instead of the made set")
    p.add_argument("--clips-dir", type=Path, help="make (or reuse) the video set here instead of a temporary folder")
    p.add_argument("--num-videos", type=int, default=98, help="synthetic clips of the made set (plus the demo clips)")
    p.add_argument("--no-vp9", dest="vp9", action="store_false",
                   help="H.264 in place of the set's VP9 clips (to compare with a tool that cannot read VP9 in MP4)")
    p.add_argument("--num-samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1, help="best of this many runs for the timings")
    p.add_argument("--work-dir", type=Path, help="keep the outputs here instead of a temporary folder")
    args = p.parse_args()
    logging.basicConfig(level=logging.CRITICAL)

    with tempfile.TemporaryDirectory(prefix="bench_disk_") as scratch:
        work = args.work_dir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        videos = args.video_dir
        if videos is None:
            start = time.perf_counter()
            videos = make_video_set(args.clips_dir or work / "videos", args.num_videos, REPO_ROOT / "data" / "demo",
                                    vp9=args.vp9)
            print(f"video set ready in {time.perf_counter() - start:.1f} s")
        sources = find_videos([videos])
        source_bytes = sum(s.path.stat().st_size for s in sources)

        runs = [run_once(videos, work, args) for _ in range(args.repeat)]
        last = runs[-1]
        recipe, materialised = work / "recipe", work / "materialised"
        store = recipe / FRAME_STORE_DIR
        n_samples = last["recipe"].counts["samples"]
        failed = len(last["recipe"].counts["failures"])

        print(f"{len(sources)} videos ({source_bytes / 1e6:.0f} MB), {n_samples} samples "
              f"({', '.join(f'{t} {n}' for t, n in last['recipe'].counts['per_task'].items())}; {failed} failed), "
              f"workers {args.workers}, best of {args.repeat}")
        print("time (wall / CPU seconds):")
        stages = list(last["times"])
        best = {k: (min(r["times"][k][0] for r in runs), min(r["times"][k][1] for r in runs)) for k in stages}
        for k in stages:
            print(f"  {k:30s} {best[k][0]:7.1f} / {best[k][1]:7.1f}")
        for kind in ("recipe rows", "materialised rows"):
            w = min(r["times"]["sampling"][0] + r["times"][f"tasks, {kind}"][0] for r in runs)
            c = min(r["times"]["sampling"][1] + r["times"][f"tasks, {kind}"][1] for r in runs)
            print(f"  {'end to end, ' + kind:30s} {w:7.1f} / {c:7.1f}")

        v256, mean256, lo256, hi256 = per_video(store)
        v512, mean512, lo512, hi512 = per_video(work / "store512")
        store_total = tree_bytes(store)
        print("frame store (48 frames per video, JPEG):")
        print(f"  at 256*256: {mean256 / 1e3:7.1f} kB/video (min {lo256 / 1e3:.1f}, max {hi256 / 1e3:.1f}; {v256} videos)"
              f"; whole store {store_total / 1e6:.2f} MB")
        print(f"  at 512*512: {mean512 / 1e3:7.1f} kB/video (min {lo512 / 1e3:.1f}, max {hi512 / 1e3:.1f}; {v512} videos)"
              f"; whole store {tree_bytes(work / 'store512') / 1e6:.2f} MB; 256*256 / 512*512 = "
              f"{mean256 / mean512:.2f}x")
        rows_recipe = tree_bytes(recipe, exclude=store)
        rows_mat = tree_bytes(materialised)
        new_frames = tree_bytes(materialised / "frames") if (materialised / "frames").is_dir() else 0
        print("output beside the store (parquet, unit files, metadata; materialised: new frames too):")
        print(f"  recipe rows:       {rows_recipe / max(n_samples, 1) / 1e3:7.2f} kB/sample, {rows_recipe / 1e6:7.2f} MB")
        print(f"  materialised rows: {rows_mat / max(n_samples, 1) / 1e3:7.2f} kB/sample, {rows_mat / 1e6:7.2f} MB "
              f"({new_frames / 1e6:.2f} MB of it new frames, "
              f"{last['materialised'].counts['new_frames']} frames)")
        print("whole dataset on disk (store at 256*256 + output):")
        print(f"  recipe rows:       {(store_total + rows_recipe) / 1e6:7.2f} MB "
              f"({(store_total + rows_recipe) / max(n_samples, 1) / 1e3:.1f} kB/sample)")
        print(f"  materialised rows: {(store_total + rows_mat) / 1e6:7.2f} MB "
              f"({(store_total + rows_mat) / max(n_samples, 1) / 1e3:.1f} kB/sample)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

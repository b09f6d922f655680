"""Build the VideoSSR training mix in one command: sample frames from videos, then write the paper's pretext mix.

40% Anomaly Grounding (ChannelSwap, Rotate180, ZoomOut, Mirror, exactly balanced), 40% Temporal Jigsaw (6 clips),
20% Object Counting (easy setting; --counting-hard-fraction moves a share to the hard one). By default the rows are
recipes that the trainer turns into pixels when it loads them (--on-the-fly; nothing but the frame store and small
parquet files on disk); --materialize writes every new frame instead. Writes
OUT/train.parquet (shuffled), OUT/<task>.parquet, optional OUT/val.parquet and OUT/metadata.json; see
videossr/datasets/build.py for the layout. Resumable: rerun the same command after an interrupt. With no arguments it samples
the demo clips in data/demo into data/videossr (30000 samples; for a quick look at the demo pass e.g.
--num-samples 300).

Usage (from the repository root)::

    python pretext_tasks/build_dataset.py [--video-dir DIR ... | --frames-dir STORE] [--output-dir data/videossr]
        [--num-samples 30000] [--val-fraction 0] [--seed 0] [--workers W] [--executor local|ray]
        [--counting-hard-fraction 0] [--difficulty-from calib.json] [--on-the-fly | --materialize]
        [--quiet | --log-level LEVEL]

``--executor ray`` runs the frame sampling and the per-sample work as Ray tasks (a local Ray instance of --workers
CPUs, or the cluster at RAY_ADDRESS: the videos and the output folder must then be on a filesystem every node
mounts at the same path; this is checked before any work).

Exit status: 0 done, 1 some samples failed (reported and skipped), 2 bad usage, 130 interrupted (Ctrl-C or SIGTERM;
run the same command again to resume).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from videossr.datasets.build import DEFAULT_NUM_SAMPLES, BuildConfig, build, read_difficulty
from videossr.cli import add_logging_args, choice_type, positive_int, run, setup_logging
from videossr.constants import TRAIN_MAX_PIXELS, TRAIN_MIN_PIXELS, default_workers
from videossr.procs import EXECUTORS, sigterm_as_interrupt

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO_DIR = REPO_ROOT / "data" / "demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video-dir", type=Path, action="append", help="repeatable; default data/demo")
    source.add_argument("--frames-dir", type=Path, help="reuse a finished frame sampler output instead of sampling")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "data" / "videossr",
                        help="default: data/videossr")
    parser.add_argument("--num-samples", type=int, default=DEFAULT_NUM_SAMPLES)
    parser.add_argument("--val-fraction", type=float, default=0.0, help="share of samples held out as val.parquet")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=positive_int, default=default_workers())
    parser.add_argument("--executor", type=choice_type(EXECUTORS), default="local",
                        help="ray: frame sampling and per-sample work as Ray tasks (RAY_ADDRESS: join a cluster)")
    parser.add_argument("--min-pixels", type=positive_int, default=TRAIN_MIN_PIXELS,
                        help="written into every video entry")
    parser.add_argument("--max-pixels", type=positive_int, default=TRAIN_MAX_PIXELS,
                        help="written into every video entry")
    parser.add_argument("--counting-hard-fraction", type=float, default=0.0,
                        help="share of counting samples in the hard setting (4 frames x 4 shapes); the reference "
                             "builds all of them easy (default 0)")
    parser.add_argument("--difficulty-from", type=Path, default=None, metavar="FILE",
                        help="task variants from a difficulty file (eval/diagnose.py --sweep writes one) instead of "
                             "the paper's; the task shares stay the paper's")
    rows = parser.add_mutually_exclusive_group()
    rows.add_argument("--on-the-fly", dest="materialize", action="store_false",
                      help="recipe rows: the trainer makes each sample's pixels when it loads it (default)")
    rows.add_argument("--materialize", dest="materialize", action="store_true",
                      help="write every new frame as a JPEG (for sharing, previews, tools other than verl)")
    parser.set_defaults(materialize=False)
    add_logging_args(parser)
    args = parser.parse_args(argv)
    progress = setup_logging(args)
    video_dirs = () if args.frames_dir else tuple(args.video_dir or [DEFAULT_VIDEO_DIR])
    config = BuildConfig(
        output_dir=args.output_dir,
        video_dirs=video_dirs,
        frames_dir=args.frames_dir,
        num_samples=args.num_samples,
        val_fraction=args.val_fraction,
        seed=args.seed,
        workers=args.workers,
        executor=args.executor,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        counting_hard_fraction=args.counting_hard_fraction,
        materialize=args.materialize,
        difficulty=read_difficulty(args.difficulty_from) if args.difficulty_from else None,
    )
    start = time.perf_counter()
    summary = build(config, progress=progress)
    c = summary.counts
    print(f"built {c['samples']} samples from {summary.num_videos} videos in {time.perf_counter() - start:.1f} s")
    for task, variants in c["per_variant"].items():
        print(f"  {task}: " + ", ".join(f"{label} {n}" for label, n in variants.items()))
    print(f"  splits: {c['per_split']}; failed samples: {len(c['failures'])}")
    for name, path in summary.files.items():
        print(f"  {name}: {path}")
    if c["samples"] == 0:
        why = c["failures"][0]["error"] if c["failures"] else "nothing was planned (--num-samples 0?)"
        print(f"no rows were made: {why}")
    return 1 if c["failures"] or c["samples"] == 0 else 0


if __name__ == "__main__":
    with sigterm_as_interrupt():
        sys.exit(run(main, name="build_dataset"))

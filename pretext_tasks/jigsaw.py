"""Temporal Jigsaw samples from a frame store into a verl parquet file.

Usage (from the repository root; no arguments = the demo frame store in data/frames)::

    python pretext_tasks/jigsaw.py [--frames-dir data/frames] [--output data/videossr/single/jigsaw.parquet]
        [--num-clips 6] [--num-samples N] [--seed 0] [--workers W] [--on-the-fly | --materialize] [--quiet | --log-level LEVEL]

Rows are recipe rows (the trainer makes the pixels, as the build's default); --materialize writes frame rows.
The frame store is checked first, as the build checks it.

Exit status: 0 done, 1 some samples failed (reported and skipped), 2 bad usage or a damaged frame store.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from videossr.cli import run, setup_logging
from videossr.datasets.planning import Variant
from videossr.datasets.cli import add_task_dataset_args, exit_code, run_task_dataset, summary_text
from videossr.tasks import get_task

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_task_dataset_args(parser, frames_dir=REPO_ROOT / "data" / "frames",
                          output=REPO_ROOT / "data" / "videossr" / "single" / "jigsaw.parquet")
    parser.add_argument("--num-clips", type=int, default=6, help="clips per video: 6 = easy/training, 8 = hard")
    args = parser.parse_args(argv)
    progress = setup_logging(args)
    params = get_task("jigsaw").params(num_clips=args.num_clips)
    summary = run_task_dataset("jigsaw", [Variant(f"{args.num_clips}clips", params)], args, progress)
    print(summary_text(summary))
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(run(main, name="jigsaw"))

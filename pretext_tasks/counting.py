"""Object Counting samples from a frame store into a verl parquet file.

Circles, squares and triangles are drawn on a few frames; the answer is the three counts. ``--difficulty`` picks
the paper's setting (easy: up to 3 frames per class and 3 instances per frame; hard: 4 and 4); the explicit
``--max-frames-per-class`` / ``--max-instances`` override it.

Usage (from the repository root; no arguments = the demo frame store in data/frames)::

    python pretext_tasks/counting.py [--frames-dir data/frames] [--output data/videossr/single/counting.parquet]
        [--difficulty easy|hard] [--max-frames-per-class F] [--max-instances K] [--num-samples N] [--seed 0]
        [--on-the-fly | --materialize] [--quiet | --log-level LEVEL]

Rows are recipe rows (the trainer makes the pixels, as the build's default); --materialize writes frame rows.
The frame store is checked first, as the build checks it.

Exit status: 0 done, 1 some samples failed (reported and skipped), 2 bad usage or a damaged frame store.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from videossr.cli import choice_type, positive_int, run, setup_logging
from videossr.datasets.planning import Variant
from videossr.datasets.cli import add_task_dataset_args, exit_code, run_task_dataset, summary_text
from videossr.tasks import get_task

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    task = get_task("counting")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_task_dataset_args(parser, frames_dir=REPO_ROOT / "data" / "frames",
                          output=REPO_ROOT / "data" / "videossr" / "single" / "counting.parquet")
    parser.add_argument("--difficulty", type=choice_type(task.presets), default=task.default_preset,
                        help=f"one of {', '.join(task.presets)} (default {task.default_preset})")
    parser.add_argument("--max-frames-per-class", type=positive_int, default=None,
                        help="F: frames each class is drawn on")
    parser.add_argument("--max-instances", type=positive_int, default=None,
                        help="K: instances per shape-bearing frame")
    args = parser.parse_args(argv)
    progress = setup_logging(args)
    params = task.preset(args.difficulty)
    label = args.difficulty
    overrides = {
        k: v
        for k, v in (("max_frames_per_class", args.max_frames_per_class), ("max_instances", args.max_instances))
        if v is not None
    }
    if overrides:
        params = dataclasses.replace(params, **overrides)
        label = f"F{params.max_frames_per_class}K{params.max_instances}"
    summary = run_task_dataset("counting", [Variant(label, params)], args, progress)
    print(summary_text(summary))
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(run(main, name="counting"))

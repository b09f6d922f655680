"""Anomaly Grounding samples from a frame store into a verl parquet file.

Each sample perturbs one segment of a video; the perturbations given are used equally often (default: the four
training perturbations ChannelSwap, Rotate180, ZoomOut, Mirror). Names are case-insensitive.

Usage (from the repository root; no arguments = the demo frame store in data/frames)::

    python pretext_tasks/grounding.py [--frames-dir data/frames] [--output data/videossr/single/grounding.parquet]
        [--perturbation NAME ...] [--min-len 8] [--max-len 16] [--min-seconds 1.0] [--num-samples N] [--seed 0]
        [--workers W] [--on-the-fly | --materialize] [--quiet | --log-level LEVEL]

Rows are recipe rows (the trainer makes the pixels, as the build's default); --materialize writes frame rows.
The frame store is checked first, as the build checks it.

Exit status: 0 done, 1 some samples failed (reported and skipped), 2 bad usage or a damaged frame store.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from videossr.cli import choice_type, run, setup_logging
from videossr.datasets.planning import Variant
from videossr.datasets.cli import add_task_dataset_args, exit_code, run_task_dataset, summary_text
from videossr.tasks import get_task

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    task = get_task("grounding")
    default = task.default_params
    names = [p for p in task.presets if p != "train"]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_task_dataset_args(parser, frames_dir=REPO_ROOT / "data" / "frames",
                          output=REPO_ROOT / "data" / "videossr" / "single" / "grounding.parquet")
    parser.add_argument("--perturbation", action="append", type=choice_type(names), metavar="NAME",
                        help=f"repeatable; one of {', '.join(names)}; default: the four training perturbations")
    parser.add_argument("--min-len", type=int, default=default.min_len, help="shortest perturbed segment (frames)")
    parser.add_argument("--max-len", type=int, default=default.max_len, help="longest perturbed segment (frames)")
    parser.add_argument("--min-seconds", type=float, default=default.min_seconds,
                        help="shortest segment in seconds, so that a one-decimal answer stays answerable (default 1.0)")
    args = parser.parse_args(argv)
    progress = setup_logging(args)
    chosen = list(dict.fromkeys(args.perturbation or default.perturbations))
    variants = [
        Variant(name, task.params(perturbations=(name,), min_len=args.min_len, max_len=args.max_len,
                                  min_seconds=args.min_seconds))
        for name in chosen
    ]
    summary = run_task_dataset("grounding", variants, args, progress)
    print(summary_text(summary))
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(run(main, name="grounding"))

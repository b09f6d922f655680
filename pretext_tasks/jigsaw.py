"""Temporal Jigsaw samples from a frame store into a verl parquet file.

Usage (from the repository root; no arguments = the demo frame store in data/frames)::

    python pretext_tasks/jigsaw.py [--frames-dir data/frames] [--output data/videossr/single/jigsaw.parquet]
        [--num-clips 6] [--num-samples N] [--seed 0] [--workers W]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from videossr.dataset import Variant, add_common_cli_args, run_task_cli, summary_text
from videossr.tasks.registry import get_task

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_cli_args(parser, "jigsaw", REPO_ROOT)
    parser.add_argument("--num-clips", type=int, default=6, help="clips per video: 6 = easy/training, 8 = hard")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = get_task("jigsaw").params(num_clips=args.num_clips)
    print(summary_text(run_task_cli("jigsaw", [Variant(f"{args.num_clips}clips", params)], args)))


if __name__ == "__main__":
    main()

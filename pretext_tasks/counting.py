"""Object Counting samples from a frame store into a verl parquet file.

Circles, squares and triangles are drawn on a few frames; the answer is the three counts. ``--difficulty`` picks
the paper's setting (easy: up to 3 frames per class and 3 instances per frame; hard: 4 and 4); the explicit
``--max-frames-per-class`` / ``--max-instances`` override it.

Usage (from the repository root; no arguments = the demo frame store in data/frames)::

    python pretext_tasks/counting.py [--frames-dir data/frames] [--output data/videossr/single/counting.parquet]
        [--difficulty easy|hard] [--max-frames-per-class F] [--max-instances K] [--num-samples N] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from videossr.dataset import Variant, add_common_cli_args, run_task_cli, summary_text
from videossr.tasks.registry import get_task

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    spec = get_task("counting")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_cli_args(parser, "counting", REPO_ROOT)
    parser.add_argument("--difficulty", choices=sorted(spec.presets), default="easy")
    parser.add_argument("--max-frames-per-class", type=int, default=None, help="F: frames each class is drawn on")
    parser.add_argument("--max-instances", type=int, default=None, help="K: instances per shape-bearing frame")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = spec.preset(args.difficulty)
    label = args.difficulty
    overrides = {
        k: v
        for k, v in (("max_frames_per_class", args.max_frames_per_class), ("max_instances", args.max_instances))
        if v is not None
    }
    if overrides:
        params = dataclasses.replace(params, **overrides)
        label = f"F{params.max_frames_per_class}K{params.max_instances}"
    print(summary_text(run_task_cli("counting", [Variant(label, params)], args)))


if __name__ == "__main__":
    main()

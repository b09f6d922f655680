"""Anomaly Grounding samples from a frame store into a verl parquet file.

Each sample perturbs one segment of a video; the perturbations given are used equally often (default: the four
training perturbations ChannelSwap, Rotate180, ZoomOut, Mirror).

Usage (from the repository root; no arguments = the demo frame store in data/frames)::

    python pretext_tasks/grounding.py [--frames-dir data/frames] [--output data/videossr/single/grounding.parquet]
        [--perturbation NAME ...] [--min-len 8] [--max-len 16] [--min-seconds 1.0] [--num-samples N] [--seed 0] [--workers W]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from videossr.dataset import Variant, add_common_cli_args, run_task_cli, summary_text
from videossr.tasks.registry import get_task

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    spec = get_task("grounding")
    default = spec.default_params
    choices = sorted(p for p in spec.presets if p != "train")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_cli_args(parser, "grounding", REPO_ROOT)
    parser.add_argument("--perturbation", action="append", choices=choices,
                        help="repeatable; default: the four training perturbations")
    parser.add_argument("--min-len", type=int, default=default.min_len, help="shortest perturbed segment (frames)")
    parser.add_argument("--max-len", type=int, default=default.max_len, help="longest perturbed segment (frames)")
    parser.add_argument("--min-seconds", type=float, default=default.min_seconds,
                        help="shortest segment in seconds, so that a one-decimal answer stays answerable (default 1.0)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    names = list(dict.fromkeys(args.perturbation or default.perturbations))
    variants = [
        Variant(name, spec.params(perturbations=(name,), min_len=args.min_len, max_len=args.max_len,
                                min_seconds=args.min_seconds)) for name in names
    ]
    print(summary_text(run_task_cli("grounding", variants, args)))


if __name__ == "__main__":
    main()

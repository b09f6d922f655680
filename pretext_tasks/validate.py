"""Validate verl parquet files before training: row shape, frames on disk, ground truths the reward can score.

Checks every row (see videossr/datasets/validate.py): the columns verl reads and their shape, that every frame file exists,
is not empty and decodes, and that each true answer parses with the reward's own parser and scores 1.0 against
itself in smooth and strict mode (other data sources: that the reward scores their true answer above 0). Prints a
report; exit status 0 when every row is valid, 1 when some are not, 2 on bad usage or an unreadable file.

Usage (from the repository root)::

    python pretext_tasks/validate.py data/videossr/train.parquet [data/videossr/val.parquet ...]
        [--no-frames] [--allow-source openai/gsm8k] [--workers 8]
"""

from __future__ import annotations

import argparse
import sys

from videossr.cli import add_logging_args, positive_int, setup_logging
from videossr.constants import default_workers
from videossr.datasets.validate import validate_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="parquet files of verl rows")
    parser.add_argument("--no-frames", action="store_true", help="skip the frame files (existence and decoding)")
    parser.add_argument("--allow-source", action="append", default=[],
                        help="a non-VideoSSR data_source whose true answers need not score > 0 (repeatable)")
    parser.add_argument("--workers", type=positive_int, default=default_workers(), help="frame-decoding threads")
    parser.add_argument("--limit", type=int, default=20, help="problems listed in full (the rest are counted)")
    add_logging_args(parser)
    args = parser.parse_args(argv)
    setup_logging(args)
    try:
        report = validate_files(args.files, check_frames=not args.no_frames, allow_sources=args.allow_source,
                                workers=args.workers)
    except (OSError, ValueError) as e:
        print(f"validate: {e}", file=sys.stderr)
        return 2
    print(report.format(limit=args.limit))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

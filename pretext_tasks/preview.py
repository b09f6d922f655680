"""Render a contact sheet PNG for a few rows of a VideoSSR dataset parquet.

Frames are shown in a grid with their timestamps; the perturbed segment (grounding) or the shape-bearing frames
(counting) are outlined; jigsaw clips are labelled with their shown and true positions; question and answer are
printed above each grid.

Usage (from the repository root)::

    python pretext_tasks/preview.py --dataset data/videossr/train.parquet --output preview.png [--rows 3]
    python pretext_tasks/preview.py --dataset data/videossr/train.parquet --output g.png --task grounding --rows 2
    python pretext_tasks/preview.py --dataset data/videossr/jigsaw.parquet --output j.png --index 0 --index 5
"""

from __future__ import annotations

import argparse
import sys

from videossr.cli import add_logging_args, choice_type, run, setup_logging
from videossr.datasets.preview import render_parquet
from videossr.tasks import task_names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a parquet file of VideoSSR rows")
    parser.add_argument("--output", required=True, help="the PNG to write")
    parser.add_argument("--rows", type=int, default=3, help="show the first N rows (default 3)")
    parser.add_argument("--index", type=int, action="append", help="row position to show (0-based, repeatable)")
    parser.add_argument("--task", type=choice_type(task_names()), default=None,
                        help=f"with --rows: only rows of this task ({', '.join(task_names())})")
    parser.add_argument("--thumb-width", type=int, default=96, help="thumbnail width in pixels (default 96)")
    add_logging_args(parser)
    args = parser.parse_args(argv)
    setup_logging(args)
    sheet = render_parquet(
        args.dataset, args.output, indices=args.index, num_rows=args.rows, task=args.task, thumb_width=args.thumb_width
    )
    shown = sorted({b.row for b in sheet.boxes})
    size = f"{sheet.image.width}x{sheet.image.height} px"
    print(f"wrote {args.output}: {size}, {len(shown)} rows, {len(sheet.boxes)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, name="preview"))

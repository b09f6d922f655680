"""Build VIUBench (9 subtypes x 300 questions, 48 frames at up to 512*512) from a frame store of held-out videos.

Writes OUT/viubench.parquet (verl rows plus a ``subtype`` column), OUT/files/ (per-question units and new frames)
and OUT/metadata.json; see videossr/viubench.py. Resumable: rerun the same command after an interrupt.

Usage (from the repository root; sample the held-out videos first with pretext_tasks/sample_frames.py)::

    python pretext_tasks/build_viubench.py --frames-dir data/frames_heldout --output-dir data/viubench
        [--per-subtype 300] [--subtypes counting_easy,jigsaw_hard,...] [--seed 7] [--workers W] [--executor local|ray]
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from videossr.dataset import EXECUTORS
from videossr.viubench import DEFAULT_SEED, PER_SUBTYPE, SUBTYPE_NAMES, build_viubench, get_subtype


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames-dir", type=Path, required=True, help="frame sampler output (manifest.jsonl)")
    parser.add_argument("--output-dir", type=Path, required=True, help="where viubench.parquet and its files go")
    parser.add_argument("--per-subtype", type=int, default=PER_SUBTYPE, help="questions per subtype")
    parser.add_argument(
        "--subtypes", default=",".join(SUBTYPE_NAMES), help=f"comma-separated subset of: {', '.join(SUBTYPE_NAMES)}"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="differs from the training build's default")
    parser.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)))
    parser.add_argument("--executor", choices=EXECUTORS, default="local")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    subtypes = [s.strip() for s in args.subtypes.split(",") if s.strip()]
    summary = build_viubench(
        args.frames_dir,
        args.output_dir,
        per_subtype=args.per_subtype,
        subtypes=subtypes,
        seed=args.seed,
        workers=args.workers,
        executor=args.executor,
        progress=not args.quiet,
    )
    print(f"wrote {sum(summary.counts.values())} questions to {summary.parquet} in {summary.seconds:.1f} s")
    for name, n in summary.counts.items():
        print(f"  {get_subtype(name).title:<24}{n:>5}")
    if summary.failures:
        print(f"  {len(summary.failures)} questions failed and were skipped (see metadata.json), e.g. {summary.failures[0]}")


if __name__ == "__main__":
    main()

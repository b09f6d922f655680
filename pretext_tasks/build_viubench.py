"""Build VIUBench (9 subtypes x 300 questions, 48 frames at up to 512*512) from a frame store of held-out videos.

Writes OUT/viubench.parquet (verl rows plus a ``subtype`` column), OUT/files/ (per-question units and new frames)
and OUT/metadata.json; see videossr/evaluation/viubench.py. Resumable: rerun the same command after an interrupt.

Usage (from the repository root; sample the held-out videos first with pretext_tasks/sample_frames.py)::

    python pretext_tasks/build_viubench.py --frames-dir data/frames_heldout --output-dir data/viubench
        [--per-subtype 300] [--subtypes counting_easy,jigsaw_hard,...] [--seed 7] [--workers W] [--executor local|ray]
        [--quiet | --log-level LEVEL]

Exit status: 0 done, 1 some questions failed (reported and skipped), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from videossr.cli import add_logging_args, choice_type, positive_int, run, setup_logging
from videossr.constants import default_workers
from videossr.datasets.executors import EXECUTORS
from videossr.evaluation.viubench import DEFAULT_SEED, PER_SUBTYPE, SUBTYPE_NAMES, build_viubench, get_subtype


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames-dir", type=Path, required=True, help="frame sampler output (manifest.jsonl)")
    parser.add_argument("--output-dir", type=Path, required=True, help="where viubench.parquet and its files go")
    parser.add_argument("--per-subtype", type=int, default=PER_SUBTYPE, help="questions per subtype")
    parser.add_argument(
        "--subtypes", default=",".join(SUBTYPE_NAMES), help=f"comma-separated subset of: {', '.join(SUBTYPE_NAMES)}"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="differs from the training build's default")
    parser.add_argument("--workers", type=positive_int, default=default_workers())
    parser.add_argument("--executor", type=choice_type(EXECUTORS), default="local")
    add_logging_args(parser)
    args = parser.parse_args(argv)
    progress = setup_logging(args)
    names = {n.lower(): n for n in SUBTYPE_NAMES}
    subtypes = []
    for name in (s.strip() for s in args.subtypes.split(",")):
        if name:
            if name.lower() not in names:
                parser.error(f"--subtypes: unknown subtype {name!r}; choose from {', '.join(SUBTYPE_NAMES)}")
            subtypes.append(names[name.lower()])
    summary = build_viubench(
        args.frames_dir,
        args.output_dir,
        per_subtype=args.per_subtype,
        subtypes=subtypes,
        seed=args.seed,
        workers=args.workers,
        executor=args.executor,
        progress=progress,
    )
    print(f"wrote {sum(summary.counts.values())} questions to {summary.parquet} in {summary.seconds:.1f} s")
    for name, n in summary.counts.items():
        print(f"  {get_subtype(name).title:<24}{n:>5}")
    if summary.failures:
        print(f"  {len(summary.failures)} questions failed and were skipped (see metadata.json), e.g. {summary.failures[0]}")
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(run(main, name="build_viubench"))

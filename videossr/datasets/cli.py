"""What the per-task CLIs (``pretext_tasks/{grounding,counting,jigsaw}.py``) share: flags, the run, the summary.

Every per-task CLI takes ``--frames-dir`` (a frame store from ``pretext_tasks/sample_frames.py``), ``--output``
(the parquet to write; its units and new frames go to ``<output stem>_files`` beside it), ``--num-samples``,
``--seed``, ``--workers``, ``--executor``, ``--min-pixels`` / ``--max-pixels``, ``--on-the-fly`` (recipe rows, the
default, as the build's) / ``--materialize`` (rows with frames on disk) and the logging flags of ``videossr.cli``.
The scripts pass their own default paths; the library holds none. The frame store is checked before anything is
made, as the build checks it: a damaged store ends the run with the build's message and exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from videossr.datasets.build import TaskDatasetSummary, write_task_dataset
from videossr.cli import add_logging_args, choice_type, positive_int
from videossr.constants import TRAIN_MAX_PIXELS, TRAIN_MIN_PIXELS, default_workers
from videossr.datasets.executors import EXECUTORS
from videossr.datasets.planning import Variant


def add_task_dataset_args(parser: argparse.ArgumentParser, *, frames_dir: Path, output: Path) -> None:
    """The flags every per-task CLI takes, with the script's default paths."""
    parser.add_argument("--frames-dir", type=Path, default=frames_dir, help=f"frame store (default: {frames_dir})")
    parser.add_argument("--output", type=Path, default=output, help=f"parquet file to write (default: {output})")
    parser.add_argument("--num-samples", type=int, default=None, help="samples to make (default: one per video)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=positive_int, default=default_workers())
    parser.add_argument("--executor", type=choice_type(EXECUTORS), default="local")
    parser.add_argument("--min-pixels", type=positive_int, default=TRAIN_MIN_PIXELS)
    parser.add_argument("--max-pixels", type=positive_int, default=TRAIN_MAX_PIXELS)
    rows = parser.add_mutually_exclusive_group()
    rows.add_argument("--on-the-fly", dest="materialize", action="store_false",
                      help="recipe rows: the trainer makes each sample's pixels when it loads it (default)")
    rows.add_argument("--materialize", dest="materialize", action="store_true",
                      help="rows with frames: every new frame is written as a JPEG file")
    parser.set_defaults(materialize=False)
    add_logging_args(parser)


def run_task_dataset(task: str, variants: Sequence[Variant], args: argparse.Namespace,
                     progress: bool = True) -> TaskDatasetSummary:
    """What every per-task CLI does once it has built its variants from its flags."""
    return write_task_dataset(
        task,
        variants,
        frames_dir=args.frames_dir,
        output=args.output,
        num_samples=args.num_samples,
        seed=args.seed,
        workers=args.workers,
        executor=args.executor,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        materialize=args.materialize,
        progress=progress,
    )


def summary_text(summary: TaskDatasetSummary) -> str:
    c = summary.counts
    lines = [f"wrote {c['samples']} rows to {summary.output} (units and new frames under {summary.files_dir})"]
    for task, variants in c["per_variant"].items():
        lines.append(f"  {task}: " + ", ".join(f"{label} {n}" for label, n in variants.items()))
    if c["failures"]:
        n = len(c["failures"])
        lines.append(f"  {n} samples failed and were skipped (see metadata.json), e.g. {c['failures'][0]}")
    if c["samples"] == 0:
        why = c["failures"][0]["error"] if c["failures"] else "nothing was planned (--num-samples 0?)"
        lines.append(f"no rows were made: {why}")
    return "\n".join(lines)


def exit_code(summary: TaskDatasetSummary) -> int:
    """0 when every planned sample was made, 1 when some failed (they are reported and skipped) or none was made."""
    return 1 if summary.counts["failures"] or summary.counts["samples"] == 0 else 0

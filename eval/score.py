"""Score answers made anywhere against a published benchmark: no model is loaded.

Usage (from the repository root)::

    python eval/score.py --benchmark NAME --data-root DIR --outputs FILE.jsonl [FILE.jsonl ...]
        [--protocol lmms_eval|strict] --output-dir OUT

FILE.jsonl: lines {"id": ..., "output": "..."} with the benchmark's question ids, a results.jsonl of eval/vqa.py or
eval/vtg.py, or lmms-eval --log_samples files (<date>_samples_<task>.jsonl). Writes OUT/results.jsonl and
OUT/summary.json (both protocols' scores). Exit status: 0 every question scored, 1 some outputs name no question or
some questions have no output (both counted and named), 2 bad usage or unreadable files. See eval/README.md.
"""

from __future__ import annotations

import sys

from videossr.cli import run
from videossr.evaluation.cli import score_main as main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run(main, name="score"))

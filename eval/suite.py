"""The paper's table in one command: run the chosen benchmarks, then a markdown table, JSON and a bar chart.

Usage (from the repository root)::

    python eval/suite.py --model MODEL_DIR --data-root BENCH_DIR --output-dir OUT [--benchmarks NAME ...]
        [--frames 32 48 64] [--protocol lmms_eval|strict] [--backend vllm|hf|openai] [--gpus N] [--limit N]

BENCH_DIR holds one folder per benchmark, named as --benchmark takes it (videomme, charades, ...; VIUBench:
viubench/viubench.parquet). Each run goes to OUT/<name>-<F>f and resumes; OUT/suite.md, suite.json and suite.png
hold the table, with the paper's figures beside. Absent folders are listed as skipped. See eval/README.md.
"""

from __future__ import annotations

import sys

from videossr.cli import run
from videossr.evaluation.cli import suite_main as main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run(main, name="suite"))

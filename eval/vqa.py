"""Multiple-choice video QA evaluation: accuracy, overall and per category.

Usage (from the repository root)::

    python eval/vqa.py --model MODEL_DIR --data DATA.json --video-dir VIDEOS --output-dir OUT
        [--backend vllm|hf|openai] [--gpus N] [--max-frames 32] [--limit N] [--overwrite] [--quiet | --log-level L]

A rerun with the same --output-dir resumes. Exit status: 0 done, 1 some items ended with an error (missing or
undecodable video, failed generation; failed inputs are retried on the next run), 2 bad usage. Flags, data format
and output files: eval/README.md.
"""

from __future__ import annotations

import sys

from videossr.cli import run
from videossr.evaluation.cli import vqa_main as main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run(main, name="vqa"))

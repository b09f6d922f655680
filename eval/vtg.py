"""Temporal grounding evaluation: mean IoU and recall at IoU 0.3/0.5/0.7.

Usage (from the repository root)::

    python eval/vtg.py --model MODEL_DIR --data DATA.json --video-dir VIDEOS --output-dir OUT
        [--backend vllm|hf|openai] [--gpus N] [--max-frames 32] [--limit N] [--overwrite] [--quiet | --log-level L]

Items are {"video", "question" (the event), "answer": "start-end" seconds or [start, end]}. A rerun with the same
--output-dir resumes. Exit status: 0 done, 1 some items ended with an error (missing or undecodable video, failed
generation; failed inputs are retried on the next run), 2 bad usage. Flags and output files: eval/README.md.
"""

from __future__ import annotations

import sys

from videossr.cli import run
from videossr.evaluation.cli import vtg_main as main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run(main, name="vtg"))

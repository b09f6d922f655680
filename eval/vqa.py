"""Multiple-choice video QA evaluation (accuracy, overall and per category).

Usage (from the repository root):
    .venv/bin/python eval/vqa.py --model MODEL_DIR --data mvbench.json --video-dir VIDEOS --output-dir out/mvbench \
        --backend vllm --max-frames 32 --gpus 8

A rerun with the same --output-dir resumes. Flags and output files: eval/README.md.
"""

from __future__ import annotations

import sys

from videossr.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main("vqa"))

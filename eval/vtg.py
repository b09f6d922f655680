"""Temporal grounding evaluation (mean IoU, recall at IoU 0.3/0.5/0.7).

Usage (from the repository root):
    .venv/bin/python eval/vtg.py --model MODEL_DIR --data charades_sta.json --video-dir VIDEOS \
        --output-dir out/charades --backend vllm --max-frames 32 --gpus 8

Items are {"video", "question" (the event), "answer": "start-end" seconds}. A rerun with the same --output-dir
resumes. Flags and output files: eval/README.md.
"""

from __future__ import annotations

import sys

from videossr.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main("vtg"))

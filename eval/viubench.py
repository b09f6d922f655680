"""VIUBench evaluation: answer every question with a model, score strictly, print per-subtype and overall scores.

Strict scores: grounding = mean IoU, counting = classes counted exactly (averaged), jigsaw = whole order exact;
overall = unweighted mean of the 9 subtype scores x 100. Unparsable answers score 0 and are counted. Writes
OUTPUT_DIR/results.jsonl and OUTPUT_DIR/summary.json; a rerun with the same --output-dir resumes. With --rescore it
only summarizes an existing results.jsonl (no data, no model).

Usage (from the repository root)::

    python eval/viubench.py --model MODEL_DIR --data data/viubench/viubench.parquet --output-dir out/viubench
        [--backend vllm|hf|openai] [--gpus N] [--max-new-tokens 32] [--limit-per-subtype N] [--max-pixels P]
        [--overwrite] [--quiet | --log-level L]
    python eval/viubench.py --rescore --output-dir out/viubench

Exit status: 0 done, 1 some questions ended with an error (unreadable frames, failed generation), 2 bad usage.
The backend flags are those of eval/vqa.py and eval/vtg.py; see eval/README.md.
"""

from __future__ import annotations

import sys

from videossr.cli import run
from videossr.evaluation.cli import viubench_main as main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run(main, name="viubench"))

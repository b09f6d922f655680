"""Is this data useful for GRPO with this model? The zero-variance diagnostic, and difficulty calibration.

Samples N rollouts per question of a verl-format parquet (this repository's, or any other: foreign data sources
are scored by verl's own scorers) at the training rollouts' temperature / top_p / top_k (verl's defaults), scores
each with the training reward, and reports the share of questions whose N rewards are all equal (all-0, all-1):
questions whose GRPO advantage is zero. Also mean and spread of the per-question mean reward and the chance level of a
uniform guesser, per task and per data_source/difficulty, and a histogram of correct rollouts (reward 1.0) per
question. Writes OUTPUT_DIR/results.jsonl, summary.json and histogram.png; a rerun resumes. Several --data files
give one comparison table and one figure (OUTPUT_DIR/<name>/ per file, comparison.json).

With --sweep TASK it builds small probe sets at several difficulty settings of the task from a frame store (or
videos), diagnoses each, picks the settings whose mean reward is nearest --target with the least zero variance, and
writes a difficulty file for pretext_tasks/build_dataset.py --difficulty-from.

Usage (from the repository root)::

    python eval/diagnose.py --model MODEL_DIR --data data/videossr/train.parquet --output-dir out/diag
        [--backend vllm|hf|openai] [--gpus N] [--rollouts 8] [--temperature 1.0] [--top-p 1.0] [--top-k -1]
        [--seed 0] [--reward-mode smooth|strict] [--limit N] [--max-new-tokens 2048] [--max-pixels P]
        [--write-filtered OUT.parquet] [--overwrite] [--quiet | --log-level L]
    python eval/diagnose.py --model MODEL_DIR --data A.parquet B.parquet --output-dir out/diag-compare
    python eval/diagnose.py --model MODEL_DIR --sweep counting,jigsaw --frames-dir data/frames --output-dir out/calib
        [--probe-size 32] [--target 0.5] [--counting-grid 1x1,2x2,3x3,4x4] [--jigsaw-grid 3,4,6,8]
        [--grounding-lengths 4-8,8-16,16-24] [--grounding-perturbations ChannelSwap,...] [--difficulty-out FILE]

Exit status: 0 done, 1 some questions ended with an error (unreadable frames, failed generation), 2 bad usage.
The backend and output flags are those of the other eval scripts; see eval/README.md.
"""

from __future__ import annotations

import sys

from videossr.cli import run
from videossr.evaluation.cli import diagnose_main as main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run(main, name="diagnose"))

"""VIUBench evaluation: answer every question with a model, score strictly, print per-subtype and overall scores.

Strict scores: grounding = mean IoU, counting = classes counted exactly (averaged), jigsaw = whole order exact;
overall = unweighted mean of the 9 subtype scores x 100. Unparsable answers score 0 and are counted. Writes
OUTPUT_DIR/results.jsonl and OUTPUT_DIR/summary.json; a rerun with the same --output-dir resumes. With --rescore it
only recomputes the summary from an existing results.jsonl (no model).

Usage (from the repository root)::

    python eval/viubench.py --model MODEL_DIR --data data/viubench/viubench.parquet --output-dir out/viubench
        [--backend vllm|hf|openai] [--gpus 8] [--max-new-tokens 32] [--limit-per-subtype N] [--max-pixels P]
    python eval/viubench.py --rescore --output-dir out/viubench
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from videossr.evaluation.backends import BACKENDS
from videossr.evaluation.cli import backend_factory_from_args
from videossr.viubench import RESULTS_NAME, EvalSettings, evaluate, format_summary, summarize_results_file

MAX_CLIPS = 8  # jigsaw hard shows 8 clips: vLLM must accept that many videos per prompt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, required=True, help="results.jsonl + summary.json; rerun to resume")
    parser.add_argument("--rescore", action="store_true", help="only summarize OUTPUT_DIR/results.jsonl")
    parser.add_argument("--model", help="local model folder (hf/vllm) or model name (openai)")
    parser.add_argument("--data", type=Path, help="viubench.parquet from pretext_tasks/build_viubench.py")
    parser.add_argument("--backend", choices=BACKENDS, default="vllm")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-pixels", type=int, default=None, help="override the per-frame budget (default: 512*512 as built)")
    parser.add_argument("--limit-per-subtype", type=int, default=None, help="evaluate only the first N of each subtype")
    parser.add_argument("--batch-size", type=int, default=None, help="questions per generate call (hf 4, openai 8, vllm 64/GPU)")
    parser.add_argument("--data-parallel-size", "--gpus", dest="data_parallel_size", type=int, default=1)
    parser.add_argument("--max-model-len", type=int, default=None, help="vllm: context length of the engine")
    parser.add_argument("--base-url", default=None, help="openai: endpoint, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY", help="openai: environment variable with the key")
    parser.add_argument("--retry-errors", action="store_true", help="on resume, run again questions that ended with an error")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.rescore:
        summary = summarize_results_file(args.output_dir / RESULTS_NAME)
        print(format_summary(summary))
        return 0
    if not args.model or not args.data:
        parser.error("--model and --data are required unless --rescore")
    settings = EvalSettings(
        model=str(args.model), backend=args.backend, max_new_tokens=args.max_new_tokens, max_pixels=args.max_pixels
    )
    batch_size = args.batch_size or {"hf": 4, "openai": 8}.get(args.backend, 64 * args.data_parallel_size)

    factory = backend_factory_from_args(args, batch_size, max_videos_per_prompt=MAX_CLIPS)

    summary = evaluate(
        args.data,
        args.output_dir,
        settings,
        backend_factory=factory,
        batch_size=batch_size,
        limit_per_subtype=args.limit_per_subtype,
        retry_errors=args.retry_errors,
    )
    print(format_summary(summary))
    run = summary["run"]
    print(f"generated {run['generated']} answers in {run['seconds']:.1f} s")
    print(f"results: {args.output_dir / RESULTS_NAME}  summary: {args.output_dir / 'summary.json'}")
    print(json.dumps({"overall": summary["overall"], "n": summary["n"], "n_unparsable": summary["n_unparsable"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

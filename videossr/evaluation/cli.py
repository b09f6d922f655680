"""The command line shared by ``eval/vqa.py`` (multiple-choice video QA) and ``eval/vtg.py`` (temporal grounding).

``main(task, argv)`` parses the flags, loads the items, builds the backend lazily, runs ``runner.run_eval``, prints
the settings-and-metrics table and returns 0. See eval/README.md for the flags and output files.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from videossr.evaluation.backends import BACKENDS, make_backend
from videossr.evaluation.items import load_items
from videossr.evaluation.prompts import DEFAULT_PRESET, PRESETS
from videossr.evaluation.runner import EvalSettings, format_table, run_eval

_DESCRIPTIONS = {
    "vqa": "Multiple-choice video QA: accuracy overall and per category.",
    "vtg": "Temporal grounding: mean IoU and recall at IoU 0.3/0.5/0.7.",
}


def build_parser(task: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=_DESCRIPTIONS[task])
    p.add_argument("--model", required=True, help="local model folder (hf/vllm) or model name (openai)")
    p.add_argument("--data", required=True, help="JSON list or JSONL of {video, question, answer, ...}")
    p.add_argument("--video-dir", required=True, help="folder the video ids resolve under")
    p.add_argument("--output-dir", required=True, help="results.jsonl + summary.json go here; rerun to resume")
    p.add_argument("--backend", choices=BACKENDS, default="vllm")
    p.add_argument("--max-frames", type=int, default=32, help="at most this many frames per video (32/48/64)")
    p.add_argument("--fps", type=float, default=2.0, help="sampling rate before the --max-frames cap")
    p.add_argument("--max-pixels", type=int, default=512 * 512, help="per-frame pixel budget (upper)")
    p.add_argument("--min-pixels", type=int, default=128 * 128, help="per-frame pixel budget (lower)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument(
        "--prompt-preset", default=DEFAULT_PRESET, type=str.lower, choices=sorted(PRESETS),
        help="instruction wording: lmms_eval (the paper's protocol, default), lmms_eval_videomme, videossr",
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N items")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="items per generate call (default: hf 4, openai 8 concurrent requests, vllm 16 per engine)",
    )
    p.add_argument(
        "--data-parallel-size", "--gpus", dest="data_parallel_size", type=int, default=1,
        help="vllm: engines, one per GPU (uses CUDA_VISIBLE_DEVICES or GPUs 0..N-1)",
    )
    p.add_argument("--max-model-len", type=int, default=None, help="vllm: context length of the engine")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.85, help="vllm: fraction of each GPU to use")
    p.add_argument("--base-url", default=None, help="openai: endpoint, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="openai: environment variable with the key")
    p.add_argument("--category-key", default="category", help="item field to report per-category metrics by")
    p.add_argument("--retry-errors", action="store_true", help="on resume, run again items that ended with an error")
    p.add_argument("--decode-workers", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--decoder", default="auto", help="video decoder backend for videossr.video (auto/torchcodec/decord/pyav)")
    return p


def _default_batch(backend: str, dp: int) -> int:
    return {"hf": 4, "openai": 8}.get(backend, 16 * dp)


def backend_factory_from_args(args: argparse.Namespace, batch_size: int, **extra: Any) -> Callable[[], Any]:
    """A zero-argument factory for the backend the CLI flags ask for; the runner calls it only if work remains."""

    def factory():
        return make_backend(
            args.backend,
            args.model,
            max_new_tokens=args.max_new_tokens,
            batch_size=batch_size,
            data_parallel_size=args.data_parallel_size,
            base_url=args.base_url,
            api_key=os.environ.get(args.api_key_env) if args.api_key_env else None,
            max_model_len=args.max_model_len,
            **extra,
        )

    return factory


def main(task: str, argv: Sequence[str] | None = None) -> int:
    args = build_parser(task).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    items = load_items(args.data, limit=args.limit)
    settings = EvalSettings(
        task=task,
        model=str(args.model),
        backend=args.backend,
        fps=args.fps,
        max_frames=args.max_frames,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        max_new_tokens=args.max_new_tokens,
        prompt_preset=args.prompt_preset,
    )
    batch_size = args.batch_size or _default_batch(args.backend, args.data_parallel_size)

    factory = backend_factory_from_args(args, batch_size, gpu_memory_utilization=args.gpu_memory_utilization)

    summary = run_eval(
        task,
        items,
        settings,
        args.output_dir,
        video_dir=args.video_dir,
        backend_factory=factory,
        batch_size=batch_size,
        category_key=args.category_key or None,
        retry_errors=args.retry_errors,
        decode_workers=args.decode_workers,
        decoder=args.decoder,
    )
    print(format_table(summary))
    run = summary["run"]
    print(f"generated {run['generated']} items in {run['seconds']:.1f} s ({run['items_per_s']:.2f} items/s)")
    print(f"results: {os.path.join(args.output_dir, 'results.jsonl')}  summary: {os.path.join(args.output_dir, 'summary.json')}")
    return 0

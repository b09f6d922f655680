"""The command lines of ``eval/vqa.py``, ``eval/vtg.py`` and ``eval/viubench.py``: one set of flags, one runner.

``vqa_main``, ``vtg_main`` and ``viubench_main`` (``main(name, argv)`` dispatches) parse the flags, load the items,
run ``runner.run_benchmark`` with a backend built lazily from the flags, print the benchmark's table and return the
exit status. The scripts in ``eval/`` only call them through ``videossr.cli.run``. See eval/README.md for the flags.

All three share ``add_backend_args`` (model, backend, batch size, vLLM and HTTP settings, answer length) and
``add_run_args`` (output folder, --overwrite, --retry-errors, decoding threads, --quiet / --log-level), and follow the
conventions of ``videossr.cli``. Exit status:

* 0: every item has an answer (an unparsable answer is the model's behaviour: it scores 0, it is not a failure);
* 1: some items ended with an error: an input that could not be used (missing, unsafe or undecodable video, an
  unreadable frame) or a failed generation. They score 0, are listed in summary.json, and failed inputs are tried
  again on the next run;
* 2: bad usage: a bad flag or value, an unreadable data file or gold answer, results in the output folder that belong
  to other data or settings (refused; ``--overwrite`` starts over), a model that fails to load. Nothing is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from videossr.cli import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    add_logging_args,
    choice_type,
    int_at_least,
    positive_int,
    setup_logging,
)
from videossr.evaluation.backends import BACKENDS, make_backend
from videossr.evaluation.benchmarks import BENCHMARKS, VIUBench, select_per_subtype
from videossr.evaluation.prompts import DEFAULT_PRESET, PRESETS
from videossr.evaluation.runner import RESULTS_NAME, SUMMARY_NAME, run_benchmark
from videossr.evaluation.settings import MIN_MAX_PIXELS, EvalSettings

# Items per generate call of one vLLM engine, the same for every benchmark. Two batches of decoded frames are held
# in host memory (one generating, one loading): a VIUBench question is 48 frames of up to 512*512 (~38 MB), a
# 64-frame video QA item ~50 MB, so 16 per engine keeps 8 engines under ~13 GB. And 16 requests of several thousand
# visual tokens each already fill many of vLLM's scheduler steps, so a larger list adds memory, not throughput.
VLLM_BATCH_PER_ENGINE = 16
_BATCH_DEFAULTS = {"hf": 4, "openai": 8}

_DESCRIPTIONS = {
    "vqa": "Multiple-choice video QA: accuracy overall and per category.",
    "vtg": "Temporal grounding: mean IoU and recall at IoU 0.3/0.5/0.7.",
    "viubench": "VIUBench: strict scores per subtype and overall (the unweighted mean of the nine subtypes x 100).",
}


def default_batch_size(backend: str, data_parallel_size: int = 1) -> int:
    """Items per generate call: hf 4, openai 8 requests in flight, vllm 16 per engine (see VLLM_BATCH_PER_ENGINE)."""
    return _BATCH_DEFAULTS.get(backend, VLLM_BATCH_PER_ENGINE * data_parallel_size)


def _fraction(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < x <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {x}")
    return x


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {x}")
    return x


def add_backend_args(parser: argparse.ArgumentParser, *, model_required: bool = True) -> None:
    """The model and backend flags every evaluation script shares."""
    g = parser.add_argument_group("model and backend")
    g.add_argument("--model", required=model_required, help="local model folder (hf/vllm) or model name (openai)")
    g.add_argument("--backend", type=choice_type(BACKENDS), default="vllm", help="vllm (default), hf or openai")
    g.add_argument("--max-new-tokens", type=positive_int, default=32, help="answer length in tokens (default 32)")
    g.add_argument("--batch-size", type=positive_int, default=None,
                   help="items per generate call (default: hf 4, openai 8 requests in flight, vllm 16 per engine)")
    g.add_argument("--data-parallel-size", "--gpus", dest="data_parallel_size", type=positive_int, default=1,
                   help="vllm: engines, one per GPU (uses CUDA_VISIBLE_DEVICES or GPUs 0..N-1)")
    g.add_argument("--max-model-len", type=positive_int, default=None, help="vllm: context length of the engine")
    g.add_argument("--gpu-memory-utilization", type=_fraction, default=0.85, help="vllm: fraction of each GPU to use")
    g.add_argument("--base-url", default=None, help="openai: endpoint, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY", help="openai: environment variable with the key")


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """Output folder, resume control, decoding threads and the logging flags."""
    g = parser.add_argument_group("output and resume")
    g.add_argument("--output-dir", type=Path, required=True,
                   help="results.jsonl + summary.json go here; rerun the same command to resume")
    g.add_argument("--overwrite", action="store_true",
                   help="discard the results already in --output-dir (other data or settings) and start over")
    g.add_argument("--retry-errors", action="store_true",
                   help="also run again items whose generation failed (failed inputs are always retried)")
    g.add_argument("--decode-workers", type=positive_int, default=min(8, os.cpu_count() or 1),
                   help="threads that decode videos / read frames (default: min(8, cores))")
    add_logging_args(parser)


def _check_backend_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.backend == "openai" and not args.base_url:
        parser.error("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")


def backend_factory_from_args(args: argparse.Namespace, batch_size: int, **extra: Any) -> Callable[[], Any]:
    """A zero-argument factory for the backend the flags ask for; the runner calls it only if work remains."""

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
            gpu_memory_utilization=args.gpu_memory_utilization,
            **extra,
        )

    return factory


# ----------------------------------------------------------------------------------------------------------------
# Video QA and temporal grounding


def build_parser(task: str) -> argparse.ArgumentParser:
    """The parser of ``eval/vqa.py`` (``task="vqa"``) or ``eval/vtg.py`` (``"vtg"``)."""
    from videossr.video import BACKENDS as DECODERS

    p = argparse.ArgumentParser(prog=f"{task}.py", description=_DESCRIPTIONS[task])
    p.add_argument("--data", type=Path, required=True, help="JSON list or JSONL of {video, question, answer, ...}")
    p.add_argument("--video-dir", type=Path, required=True, help="folder the video ids resolve under")
    p.add_argument("--limit", type=int_at_least(0), default=None,
                   help="generate only the first N items (the summary still covers every result in --output-dir)")
    p.add_argument("--category-key", default="category", help="item field to report per-category metrics by")
    add_backend_args(p)
    g = p.add_argument_group("frames and prompt")
    g.add_argument("--max-frames", type=int_at_least(2), default=32, help="at most this many frames per video (32/48/64)")
    g.add_argument("--fps", type=_positive_float, default=2.0, help="sampling rate before the --max-frames cap")
    g.add_argument("--max-pixels", type=int_at_least(MIN_MAX_PIXELS), default=512 * 512,
                   help="per-frame pixel budget, upper (default 512*512)")
    g.add_argument("--min-pixels", type=positive_int, default=128 * 128,
                   help="per-frame pixel budget, lower (default 128*128; at most --max-pixels)")
    g.add_argument("--prompt-preset", type=choice_type(PRESETS), default=DEFAULT_PRESET,
                   help="instruction wording: lmms_eval (the paper's protocol, default), lmms_eval_videomme, videossr")
    g.add_argument("--decoder", type=choice_type(("auto", *DECODERS)), default="auto",
                   help=f"video decoder: auto (default) or one of {', '.join(DECODERS)}")
    add_run_args(p)
    return p


def parse_args(task: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the flags of ``eval/vqa.py`` / ``eval/vtg.py``; a bad combination exits 2 naming it."""
    parser = build_parser(task)
    args = parser.parse_args(argv)
    if args.min_pixels > args.max_pixels:
        parser.error(f"--min-pixels {args.min_pixels} is above --max-pixels {args.max_pixels}; "
                     f"give a --min-pixels of at most {args.max_pixels} as well")
    _check_backend_args(parser, args)
    return args


def _video_main(task: str, argv: Sequence[str] | None) -> int:
    args = parse_args(task, argv)
    progress = setup_logging(args)
    bench = BENCHMARKS[task](args.video_dir, category_key=args.category_key or None, decoder=args.decoder)
    items = bench.load_items(args.data)
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
    run_only = None if args.limit is None else [it.id for it in items[: args.limit]]
    return _run(bench, items, settings, args, run_only, progress)


def vqa_main(argv: Sequence[str] | None = None) -> int:
    """``eval/vqa.py``: multiple-choice video QA."""
    return _video_main("vqa", argv)


def vtg_main(argv: Sequence[str] | None = None) -> int:
    """``eval/vtg.py``: temporal grounding."""
    return _video_main("vtg", argv)


# ----------------------------------------------------------------------------------------------------------------
# VIUBench


def build_viubench_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="viubench.py", description=_DESCRIPTIONS["viubench"])
    p.add_argument("--data", type=Path, help="viubench.parquet from pretext_tasks/build_viubench.py")
    p.add_argument("--rescore", action="store_true",
                   help="only summarize OUTPUT_DIR/results.jsonl and print it (no data, no model)")
    p.add_argument("--limit-per-subtype", type=positive_int, default=None,
                   help="generate only the first N questions of each subtype")
    p.add_argument("--max-pixels", type=int_at_least(MIN_MAX_PIXELS), default=None,
                   help="override the per-frame pixel budget (default: each row's own, 512*512 as built)")
    add_backend_args(p, model_required=False)
    add_run_args(p)
    return p


def viubench_main(argv: Sequence[str] | None = None) -> int:
    """``eval/viubench.py``: VIUBench."""
    from videossr.viubench import format_summary, summarize_results_file

    parser = build_viubench_parser()
    args = parser.parse_args(argv)
    progress = setup_logging(args)
    if args.rescore:
        path = args.output_dir / RESULTS_NAME
        if not path.is_file():
            raise FileNotFoundError(f"--rescore: no {RESULTS_NAME} in {args.output_dir}")
        summary = summarize_results_file(path)
        print(format_summary(summary))
        return EXIT_SOME_FAILED if summary["n_errors"] else EXIT_OK
    if not args.model or not args.data:
        parser.error("--model and --data are required unless --rescore")
    _check_backend_args(parser, args)
    bench = VIUBench(args.data)
    questions = bench.load_items()
    settings = EvalSettings(model=str(args.model), backend=args.backend, max_new_tokens=args.max_new_tokens,
                            max_pixels=args.max_pixels)
    run_only = None
    if args.limit_per_subtype is not None:
        run_only = [q.id for q in select_per_subtype(questions, args.limit_per_subtype)]
    clips = max((len(q.row["videos"]) for q in questions), default=1)  # jigsaw hard: 8 videos in one prompt
    return _run(bench, questions, settings, args, run_only, progress, max_videos_per_prompt=clips)


# ----------------------------------------------------------------------------------------------------------------


def _run(bench, items, settings: EvalSettings, args: argparse.Namespace, run_only, progress: bool,
         **backend_extra: Any) -> int:
    batch_size = args.batch_size or default_batch_size(args.backend, args.data_parallel_size)
    summary = run_benchmark(
        bench,
        items,
        settings,
        args.output_dir,
        backend_factory=backend_factory_from_args(args, batch_size, **backend_extra),
        batch_size=batch_size,
        run_only=run_only,
        retry_errors=args.retry_errors,
        overwrite=args.overwrite,
        decode_workers=args.decode_workers,
        progress=progress,
    )
    run = summary["run"]
    print(bench.format(summary))
    print(f"generated {run['generated']} items in {run['seconds']:.1f} s ({run['items_per_s']:.2f} items/s)")
    if "incomplete" in summary:
        inc = summary["incomplete"]
        print(f"the results cover {inc['n_results']} of the {inc['n_items']} items; "
              "run again without a limit to finish")
    if run["n_errors"]:
        kinds = ", ".join(f"{k} {n}" for k, n in run["errors_by_kind"].items())
        print(f"{run['n_errors']} items ended with an error ({kinds}; see {RESULTS_NAME}); "
              "inputs that failed are tried again on the next run")
    if bench.name == "viubench":
        print(json.dumps({"overall": summary["overall"], "n": summary["n"], "n_unparsable": summary["n_unparsable"]}))
    print(f"results: {args.output_dir / RESULTS_NAME}  summary: {args.output_dir / SUMMARY_NAME}")
    return EXIT_SOME_FAILED if run["n_errors"] else EXIT_OK


_MAINS: dict[str, Callable[[Sequence[str] | None], int]] = {"vqa": vqa_main, "vtg": vtg_main,
                                                            "viubench": viubench_main}


def main(name: str, argv: Sequence[str] | None = None) -> int:
    """The main of the evaluation script ``name`` ("vqa", "vtg" or "viubench")."""
    if name not in _MAINS:
        raise ValueError(f"unknown evaluation {name!r}; expected one of {sorted(_MAINS)}")
    return _MAINS[name](argv)

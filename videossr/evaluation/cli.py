"""The command lines of ``eval/vqa.py``, ``eval/vtg.py``, ``eval/viubench.py`` and ``eval/diagnose.py``: one set of
flags, one runner.

``vqa_main``, ``vtg_main``, ``viubench_main`` and ``diagnose_main`` (``main(name, argv)`` dispatches) parse the
flags, load the items, run ``runner.run_benchmark`` with a backend built lazily from the flags, print the benchmark's
table and return the exit status. The scripts in ``eval/`` only call them through ``videossr.cli.run``. See
eval/README.md for the flags.

All four share ``add_backend_args`` (model, backend, batch size, vLLM and HTTP settings, answer length) and
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
    float_in,
    int_at_least,
    positive_int,
    setup_logging,
)
from videossr.evaluation.backends import BACKENDS, DTYPES, make_backend
from videossr.evaluation.benchmarks import BENCHMARKS
from videossr.evaluation.prompts import DEFAULT_PRESET, PRESETS
from videossr.evaluation.runner import RESULTS_NAME, SUMMARY_NAME, run_benchmark
from videossr.evaluation.settings import MIN_MAX_PIXELS, EvalSettings

_FRACTION = float_in(0.0, 1.0, low_open=True)  # (0, 1]
_POSITIVE = float_in(0.0, low_open=True)
_UNIT = float_in(0.0, 1.0)  # [0, 1]
_NON_NEGATIVE = float_in(0.0)

# Items per generate call of one vLLM engine, the same for every benchmark. Two batches of decoded frames are held
# in host memory (one generating, one loading): a VIUBench question is 48 frames of up to 512*512 (~38 MB), a
# 64-frame video QA item ~50 MB, so 16 per engine keeps 8 engines under ~13 GB. And 16 requests of several thousand
# visual tokens each already fill many of vLLM's scheduler steps, so a larger list adds memory, not throughput.
VLLM_BATCH_PER_ENGINE = 16
_BATCH_DEFAULTS = {"hf": 4, "openai": 8}

_DESCRIPTIONS = {
    "diagnose": "Zero-variance diagnostic: N sampled rollouts per question, scored by the training reward; the share "
                "of questions GRPO cannot learn from (all rollouts rewarded alike), per task and difficulty. With "
                "--sweep: calibrate task difficulty to the model and write a difficulty file for the build.",
    "vqa": "Video QA: a published benchmark (--benchmark NAME --data-root DIR; lmms-eval's prompts, both protocols' "
           "scores) or custom multiple-choice data (--data, --video-dir): accuracy overall and per category.",
    "vtg": "Temporal grounding: a published benchmark (--benchmark NAME --data-root DIR) or custom data (--data, "
           "--video-dir): mean IoU and recall at IoU 0.3/0.5/0.7.",
    "suite": "The paper's table: run the chosen benchmarks (each resumable) and write a markdown table, JSON and a "
             "bar chart with the paper's figures beside; benchmarks whose folder is absent are listed as skipped.",
    "score": "Score answers made anywhere (a run, another harness, lmms-eval --log_samples) against a published "
             "benchmark; no model. Writes the same summary.json as a run.",
    "viubench": "VIUBench: strict scores per subtype and overall (the unweighted mean of the nine subtypes x 100).",
}


def default_batch_size(backend: str, data_parallel_size: int = 1) -> int:
    """Items per generate call: hf 4, openai 8 requests in flight, vllm 16 per engine (see VLLM_BATCH_PER_ENGINE)."""
    return _BATCH_DEFAULTS.get(backend, VLLM_BATCH_PER_ENGINE * data_parallel_size)


def add_backend_args(parser: argparse.ArgumentParser, *, model_required: bool = True) -> None:
    """The model and backend flags every evaluation script shares."""
    g = parser.add_argument_group("model and backend")
    g.add_argument("--model", required=model_required, help="local model folder (hf/vllm) or model name (openai)")
    g.add_argument("--backend", type=choice_type(BACKENDS), default="vllm", help="vllm (default), hf or openai")
    g.add_argument("--max-new-tokens", type=positive_int, default=32,
                   help="answer length in tokens (default 32; a published benchmark: its lmms-eval task's limit)")
    g.add_argument("--batch-size", type=positive_int, default=None,
                   help="items per generate call (default: hf 4, openai 8 requests in flight, vllm 16 per engine)")
    g.add_argument("--data-parallel-size", "--gpus", dest="data_parallel_size", type=positive_int, default=1,
                   help="vllm: engines, one per GPU (uses CUDA_VISIBLE_DEVICES or GPUs 0..N-1)")
    g.add_argument("--max-model-len", type=positive_int, default=None, help="vllm: context length of the engine")
    g.add_argument("--gpu-memory-utilization", type=_FRACTION, default=0.85, help="vllm: fraction of each GPU to use")
    g.add_argument("--dtype", type=choice_type(DTYPES), default="auto",
                   help="hf, vllm: the model's compute dtype (default auto: the checkpoint's; vLLM runs a float32 "
                        "checkpoint in bfloat16)")
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
            dtype=args.dtype,
            **extra,
        )

    return factory


# ----------------------------------------------------------------------------------------------------------------
# Video QA and temporal grounding


def _benchmark_type(kind: str | None) -> Callable[[str], str]:
    """An argparse ``type``: a published benchmark's name in any case or spelling -> its name (of script ``kind``)."""
    from videossr.evaluation.benchmarks.registry import benchmark_names, get_benchmark

    def convert(value: str) -> str:
        try:
            cls = get_benchmark(value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        if kind is not None and cls.kind != kind:
            script = "eval/vtg.py" if cls.kind == "vtg" else "eval/vqa.py"
            raise argparse.ArgumentTypeError(f"{cls.title} is run by {script}; this script runs "
                                             f"{', '.join(benchmark_names(kind))}")
        return cls.name

    convert.__name__ = "benchmark"
    return convert


def build_parser(task: str) -> argparse.ArgumentParser:
    """The parser of ``eval/vqa.py`` (``task="vqa"``) or ``eval/vtg.py`` (``"vtg"``)."""
    from videossr.evaluation.benchmarks.published import PROTOCOLS
    from videossr.evaluation.benchmarks.registry import benchmark_names
    from videossr.sampling.video import BACKENDS as DECODERS

    names = benchmark_names(task)
    p = argparse.ArgumentParser(prog=f"{task}.py", description=_DESCRIPTIONS[task])
    b = p.add_argument_group("a published benchmark (eval/README.md: what to download, the folder layout)")
    b.add_argument("--benchmark", type=_benchmark_type(task), default=None,
                   help=f"one of {', '.join(names)} (any case), read from --data-root")
    b.add_argument("--data-root", type=Path, default=None,
                   help="the benchmark's folder as its users have it (for lmms-eval's benchmarks: the folder "
                        "lmms-eval reads, annotation files and videos)")
    b.add_argument("--protocol", type=choice_type(PROTOCOLS), default="lmms_eval",
                   help="the score reported first: lmms_eval (lmms-eval 0.7.3's scoring, quirks included; default) or "
                        "strict (the project's readers, nothing guessed); summary.json always holds both")
    g = p.add_argument_group("custom data (the generic JSON format)")
    g.add_argument("--data", type=Path, default=None, help="JSON list or JSONL of {video, question, answer, ...}")
    g.add_argument("--video-dir", type=Path, default=None, help="folder the video ids resolve under")
    g.add_argument("--category-key", default="category", help="item field to report per-category metrics by")
    g.add_argument("--prompt-preset", type=choice_type(PRESETS), default=DEFAULT_PRESET,
                   help="instruction wording: lmms_eval (default), lmms_eval_videomme, videossr (prompts.py)")
    p.add_argument("--limit", type=int_at_least(0), default=None,
                   help="generate only the first N items (the summary still covers every result in --output-dir)")
    add_backend_args(p)
    p.set_defaults(max_new_tokens=None)
    g = p.add_argument_group("frames")
    g.add_argument("--max-frames", type=int_at_least(2), default=32, help="at most this many frames per video (32/48/64)")
    g.add_argument("--fps", type=_POSITIVE, default=2.0, help="sampling rate before the --max-frames cap")
    g.add_argument("--max-pixels", type=int_at_least(MIN_MAX_PIXELS), default=512 * 512,
                   help="per-frame pixel budget, upper (default 512*512)")
    g.add_argument("--min-pixels", type=positive_int, default=128 * 128,
                   help="per-frame pixel budget, lower (default 128*128; at most --max-pixels)")
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
    published = args.benchmark is not None or args.data_root is not None
    custom = args.data is not None or args.video_dir is not None
    if published and custom:
        parser.error("give --benchmark NAME --data-root DIR (a published benchmark) or --data FILE --video-dir DIR "
                     "(custom data), not both")
    if published and (args.benchmark is None or args.data_root is None):
        parser.error("--benchmark and --data-root go together")
    if not published and (args.data is None or args.video_dir is None):
        parser.error("give --benchmark NAME --data-root DIR, or --data FILE --video-dir DIR")
    _check_backend_args(parser, args)
    return args


def _video_main(task: str, argv: Sequence[str] | None) -> int:
    args = parse_args(task, argv)
    progress = setup_logging(args)
    if args.benchmark is not None:
        from videossr.evaluation.benchmarks.registry import get_benchmark

        bench = get_benchmark(args.benchmark)(args.data_root, protocol=args.protocol, decoder=args.decoder)
        items = bench.load_items()
        if args.max_new_tokens is None:
            args.max_new_tokens = bench.max_new_tokens  # the task's own generation limit
    else:
        bench = BENCHMARKS[task](args.video_dir, category_key=args.category_key or None, decoder=args.decoder)
        items = bench.load_items(args.data)
        if args.max_new_tokens is None:
            args.max_new_tokens = 32
    settings = EvalSettings(
        task=bench.name,
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
    return _run(bench, items, settings, args, run_only, progress,
                max_videos_per_prompt=getattr(bench, "max_videos_per_prompt", 1))


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
    from videossr.evaluation.viubench import VIUBench, format_summary, select_per_subtype, summarize_results_file

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
# The zero-variance diagnostic and the difficulty sweep

DIAGNOSE_BATCH_PER_ENGINE = 64  # vLLM: questions per generate call (x rollouts sequences); training-size frames


def _pairs(value: str) -> list[tuple[int, int]]:
    """"1x1,2x2" -> [(1, 1), (2, 2)] (counting F x K); "4-8,8-16" -> [(4, 8), (8, 16)] (grounding lengths)."""
    out = []
    for part in value.split(","):
        part = part.strip()
        sep = "x" if "x" in part.lower() else "-"
        try:
            a, b = part.lower().split(sep)
            out.append((int(a), int(b)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected pairs like 2x2 or 8-16 separated by commas, got {part!r}")
    if not out:
        raise argparse.ArgumentTypeError(f"no settings in {value!r}")
    return out


def _ints(value: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {value!r}") from None
    if not out:
        raise argparse.ArgumentTypeError(f"no settings in {value!r}")
    return out


def _names(value: str) -> list[str]:
    out = [v.strip() for v in value.split(",") if v.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"no names in {value!r}")
    return out


def _top_k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if k < -1:
        raise argparse.ArgumentTypeError(f"must be >= 1, or -1 / 0 for off, got {k}")
    return k


def build_diagnose_parser() -> argparse.ArgumentParser:
    from videossr.evaluation.diagnose import training_sampling
    from videossr.tasks import MODES, task_names

    rollout = training_sampling()
    p = argparse.ArgumentParser(prog="diagnose.py", description=_DESCRIPTIONS["diagnose"])
    p.add_argument("--data", type=Path, nargs="+", action="extend", default=None,
                   help="verl-format parquet file(s); several give one comparison table and figure")
    p.add_argument("--limit", type=int_at_least(0), default=None,
                   help="generate only the first N rows of each file (the summary covers every result on disk)")
    g = p.add_argument_group("rollouts and reward")
    g.add_argument("--rollouts", type=positive_int, default=8, help="answers sampled per question (default 8, as "
                   "the recipe's actor_rollout_ref.rollout.n)")
    g.add_argument("--temperature", type=_NON_NEGATIVE, default=rollout["temperature"],
                   help=f"sampling temperature (default {rollout['temperature']:g}: verl's rollout default)")
    g.add_argument("--top-p", type=_FRACTION, default=rollout["top_p"],
                   help=f"nucleus sampling (default {rollout['top_p']:g}: verl's rollout default)")
    g.add_argument("--top-k", type=_top_k, default=rollout["top_k"],
                   help=f"top-k sampling, -1 off (default {rollout['top_k']}: verl's rollout default)")
    g.add_argument("--seed", type=int_at_least(0), default=0, help="seed of every question's rollouts and of the probe sets")
    g.add_argument("--reward-mode", type=choice_type(MODES), default="smooth",
                   help="smooth (training, default) or strict; correct always means reward 1.0")
    g.add_argument("--max-pixels", type=int_at_least(MIN_MAX_PIXELS), default=None,
                   help="override the per-frame pixel budget of the rows (default: each row's own, as in training)")
    g.add_argument("--write-filtered", type=Path, default=None, metavar="OUT.parquet",
                   help="write the rows with non-zero reward variance to this parquet file (one --data)")
    s = p.add_argument_group("difficulty sweep")
    s.add_argument("--sweep", type=_names, default=None, metavar="TASK[,TASK]",
                   help=f"calibrate these tasks ({', '.join(task_names())} or all) instead of reading --data")
    src = s.add_mutually_exclusive_group()
    src.add_argument("--frames-dir", type=Path, default=None, help="frame store the probe sets are built from")
    src.add_argument("--video-dir", type=Path, action="append", default=None,
                     help="videos to sample a frame store from (into OUTPUT_DIR/probes/frames_store); repeatable")
    s.add_argument("--probe-size", type=positive_int, default=32, help="questions per setting (default 32)")
    s.add_argument("--target", type=_UNIT, default=0.5, help="mean reward to aim for (default 0.5)")
    for flag in _grid_flags():  # each task declares the flags that change its grid
        s.add_argument(flag.flag, type=_GRID_VALUE_TYPES[flag.kind], default=None, metavar=flag.metavar,
                       help=flag.help)
    s.add_argument("--difficulty-out", type=Path, default=None, metavar="FILE",
                   help="where to write the difficulty file (default OUTPUT_DIR/difficulty.json)")
    add_backend_args(p)
    p.set_defaults(max_new_tokens=2048)  # the recipe's data.max_response_length: rollouts as long as training's
    add_run_args(p)
    return p


def _grid_flags() -> list:
    from videossr.tasks import TASKS

    return [flag for task in TASKS.values() for flag in task.grid_flags]


_GRID_VALUE_TYPES = {"pairs": _pairs, "ints": _ints, "names": _names}


def _sweep_grids(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, list]:
    from videossr.evaluation.sweep import task_grid
    from videossr.tasks import get_task, task_names

    asked = list(task_names()) if [t.lower() for t in args.sweep] == ["all"] else args.sweep
    grids: dict[str, list] = {}
    for t in asked:
        try:
            task = get_task(t)
        except ValueError as e:
            parser.error(f"--sweep: {e}")
        options = {}
        for flag in task.grid_flags:
            value = getattr(args, flag.flag.lstrip("-").replace("-", "_"))
            if value is not None:
                options[flag.option] = value
        try:
            grids[task.name] = task_grid(task.name, **options)
        except (ValueError, TypeError) as e:
            parser.error(f"--sweep {task.name}: {e}")
    return grids


def diagnose_main(argv: Sequence[str] | None = None) -> int:
    """``eval/diagnose.py``: the zero-variance diagnostic, or with --sweep the difficulty calibration."""
    from videossr.evaluation.diagnose import dataset_names, run_diagnostic

    parser = build_diagnose_parser()
    args = parser.parse_args(argv)
    progress = setup_logging(args)
    _check_backend_args(parser, args)
    if args.sweep and args.data:
        parser.error("give --data (diagnose files) or --sweep (build probe sets and calibrate), not both")
    if not args.sweep and not args.data:
        parser.error("give --data FILE.parquet [...] or --sweep TASK")
    if args.sweep and not (args.frames_dir or args.video_dir):
        parser.error("--sweep needs --frames-dir STORE or --video-dir DIR to build its probe sets from")
    if args.write_filtered and (args.sweep or len(args.data) != 1):
        parser.error("--write-filtered takes exactly one --data file")
    settings = EvalSettings(model=str(args.model), backend=args.backend, max_new_tokens=args.max_new_tokens,
                            max_pixels=args.max_pixels, rollouts=args.rollouts, temperature=args.temperature,
                            top_p=args.top_p, top_k=args.top_k, seed=args.seed)
    batch_size = args.batch_size or (DIAGNOSE_BATCH_PER_ENGINE * args.data_parallel_size if args.backend == "vllm"
                                     else default_batch_size(args.backend))
    factory = backend_factory_from_args(args, batch_size, max_videos_per_prompt=9)  # jigsaw: up to 9 clips
    common = dict(backend_factory=factory, reward_mode=args.reward_mode, batch_size=batch_size,
                  retry_errors=args.retry_errors, overwrite=args.overwrite, decode_workers=args.decode_workers,
                  progress=progress)
    if args.sweep:
        from videossr.evaluation.sweep import run_sweep

        grids = _sweep_grids(parser, args)
        result = run_sweep(grids, settings, args.output_dir, frames_dir=args.frames_dir,
                           video_dirs=tuple(args.video_dir or ()), probe_size=args.probe_size, target=args.target,
                           difficulty_out=args.difficulty_out, **common)
        print(result.table)
        print(f"difficulty file: {result.difficulty_file}  (build with: python pretext_tasks/build_dataset.py "
              f"--difficulty-from {result.difficulty_file} ...)")
        print(f"measurements: {result.sweep_file}")
        return EXIT_SOME_FAILED if result.n_errors else EXIT_OK
    names = dataset_names(args.data)
    report = run_diagnostic(list(zip(names, args.data)), settings, args.output_dir,
                            limit=args.limit, write_filtered_to=args.write_filtered, **common)
    print(report.table)
    for name, summary in report.summaries.items():
        run = summary["run"]
        print(f"{name}: generated {run['generated']} questions x {args.rollouts} rollouts in {run['seconds']:.1f} s; "
              f"results: {report.folders[name] / RESULTS_NAME}")
        if "incomplete" in summary:
            inc = summary["incomplete"]
            print(f"{name}: the results cover {inc['n_results']} of the {inc['n_items']} rows; "
                  "run again without --limit to finish")
    print(f"figure: {report.figure}")
    if report.filtered is not None:
        print(f"kept {report.filtered} rows with non-zero reward variance: {args.write_filtered}")
    if report.n_errors:
        print(f"{report.n_errors} questions ended with an error (see results.jsonl); inputs that failed are tried "
              "again on the next run")
    return EXIT_SOME_FAILED if report.n_errors else EXIT_OK


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


# ----------------------------------------------------------------------------------------------------------------
# Scoring answers made anywhere


def build_score_parser() -> argparse.ArgumentParser:
    from videossr.evaluation.benchmarks.published import PROTOCOLS
    from videossr.evaluation.benchmarks.registry import benchmark_names

    p = argparse.ArgumentParser(prog="score.py", description=_DESCRIPTIONS["score"])
    p.add_argument("--benchmark", type=_benchmark_type(None), required=True,
                   help=f"one of {', '.join(benchmark_names())} (any case)")
    p.add_argument("--data-root", type=Path, required=True, help="the benchmark's folder (as for eval/vqa.py)")
    p.add_argument("--outputs", type=Path, nargs="+", required=True, metavar="FILE.jsonl",
                   help='lines {"id": ..., "output": "..."}, results.jsonl of a run, or lmms-eval --log_samples files')
    p.add_argument("--protocol", type=choice_type(PROTOCOLS), default="lmms_eval",
                   help="the score reported first (default lmms_eval); summary.json holds both")
    p.add_argument("--output-dir", type=Path, required=True, help="results.jsonl + summary.json go here")
    add_logging_args(p)
    return p


def score_main(argv: Sequence[str] | None = None) -> int:
    """``eval/score.py``: score answer files against a published benchmark, no model."""
    from videossr.evaluation.benchmarks.registry import get_benchmark
    from videossr.evaluation.scoring import read_outputs, score_outputs

    args = build_score_parser().parse_args(argv)
    setup_logging(args)
    bench = get_benchmark(args.benchmark)(args.data_root, protocol=args.protocol)
    bench.load_items()
    outputs, unknown = read_outputs(bench, args.outputs)
    summary = score_outputs(bench, outputs, args.output_dir, unknown=unknown, sources=[str(p) for p in args.outputs])
    print(bench.format(summary))
    o = summary["outputs"]
    if o["n_unknown"]:
        print(f"{o['n_unknown']} outputs name no question of {bench.title}: {', '.join(o['unknown'])}"
              + (" ..." if o["n_unknown"] > len(o["unknown"]) else ""))
    if o["n_missing"]:
        print(f"{o['n_missing']} questions of {bench.title} have no output (not scored): {', '.join(o['missing'])}"
              + (" ..." if o["n_missing"] > len(o["missing"]) else ""))
    print(f"results: {args.output_dir / RESULTS_NAME}  summary: {args.output_dir / SUMMARY_NAME}")
    return EXIT_SOME_FAILED if o["n_unknown"] or o["n_missing"] else EXIT_OK


# ----------------------------------------------------------------------------------------------------------------
# The paper's table


def build_suite_parser() -> argparse.ArgumentParser:
    from videossr.evaluation.benchmarks.published import PROTOCOLS

    p = argparse.ArgumentParser(prog="suite.py", description=_DESCRIPTIONS["suite"])
    p.add_argument("--data-root", type=Path, required=True,
                   help="a folder with one folder per benchmark, named as --benchmark takes it (videomme, charades, "
                        "...; VIUBench: viubench/viubench.parquet)")
    p.add_argument("--benchmarks", nargs="+", default=None, metavar="NAME",
                   help="the benchmarks to run (default: all the project runs, and viubench)")
    p.add_argument("--frames", type=int_at_least(2), nargs="+", default=[32], metavar="F",
                   help="frame budgets, one run each (default 32; the paper: 32 48 64)")
    p.add_argument("--protocol", type=choice_type(PROTOCOLS), default="lmms_eval",
                   help="the protocol of the table (default lmms_eval); suite.json has both")
    p.add_argument("--limit", type=int_at_least(0), default=None,
                   help="generate only the first N questions of each benchmark (a quick look)")
    g = p.add_argument_group("frames")
    g.add_argument("--fps", type=_POSITIVE, default=2.0, help="sampling rate before the frame cap")
    g.add_argument("--max-pixels", type=int_at_least(MIN_MAX_PIXELS), default=512 * 512, help="per-frame pixels, upper")
    g.add_argument("--min-pixels", type=positive_int, default=128 * 128, help="per-frame pixels, lower")
    add_backend_args(p)
    p.set_defaults(max_new_tokens=None)
    add_run_args(p)
    return p


def suite_main(argv: Sequence[str] | None = None) -> int:
    """``eval/suite.py``: the chosen benchmarks, then the paper's table (markdown, JSON, PNG)."""
    from videossr.evaluation.suite import ALL, run_suite

    parser = build_suite_parser()
    args = parser.parse_args(argv)
    progress = setup_logging(args)
    _check_backend_args(parser, args)
    if args.min_pixels > args.max_pixels:
        parser.error(f"--min-pixels {args.min_pixels} is above --max-pixels {args.max_pixels}")
    batch_size = args.batch_size or default_batch_size(args.backend, args.data_parallel_size)

    def factory(max_new_tokens: int, clips: int):
        args.max_new_tokens, saved = max_new_tokens, args.max_new_tokens
        try:
            return backend_factory_from_args(args, batch_size, max_videos_per_prompt=clips)()
        finally:
            args.max_new_tokens = saved

    report = run_suite(str(args.model), args.data_root, args.output_dir, backend_factory=factory,
                       benchmarks=args.benchmarks or ALL, frames=args.frames, protocol=args.protocol,
                       backend=args.backend, fps=args.fps, min_pixels=args.min_pixels, max_pixels=args.max_pixels,
                       max_new_tokens=args.max_new_tokens, limit=args.limit, batch_size=batch_size,
                       retry_errors=args.retry_errors, overwrite=args.overwrite, decode_workers=args.decode_workers,
                       progress=progress)
    print((args.output_dir / "suite.md").read_text(encoding="utf-8"))
    print(f"table: {args.output_dir / 'suite.md'}  numbers: {args.output_dir / 'suite.json'}  "
          f"chart: {args.output_dir / 'suite.png'}")
    errors = sum(r["n_errors"] for per in report["results"].values() for r in per.values())
    return EXIT_SOME_FAILED if errors else EXIT_OK


_MAINS: dict[str, Callable[[Sequence[str] | None], int]] = {"vqa": vqa_main, "vtg": vtg_main,
                                                            "viubench": viubench_main, "diagnose": diagnose_main,
                                                            "score": score_main, "suite": suite_main}


def main(name: str, argv: Sequence[str] | None = None) -> int:
    """The main of the evaluation script ``name`` ("vqa", "vtg", "viubench" or "diagnose")."""
    if name not in _MAINS:
        raise ValueError(f"unknown evaluation {name!r}; expected one of {sorted(_MAINS)}")
    return _MAINS[name](argv)

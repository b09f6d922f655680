"""The one evaluation runner: items of any benchmark -> inputs -> backend -> scores -> a results log and a summary.

``run_benchmark(benchmark, items, settings, output_dir, backend=... or backend_factory=...)`` writes

    OUTPUT_DIR/results.jsonl   one line per item: id, the benchmark's labels (gold answer, category, ...), settings,
                               fingerprint, raw output, parsed answer, score, error and its kind; appended and flushed
                               as items finish, rewritten in item order when the run ends
    OUTPUT_DIR/summary.json    the benchmark's summary of every line of results.jsonl, written atomically

and returns the summary with run counters under ``"run"`` (not written). ``run_eval`` (video QA / grounding) and
``videossr.evaluation.viubench.evaluate`` are shorthands that build the benchmark object.

Results belong to what was asked. Each line carries a fingerprint: digests of the settings the benchmark records and
of what the model is asked for the item (``Benchmark.asked``: the prompt and the video's identity). On a rerun:

* lines made under other settings, lines of items the data no longer has, and lines of items now asked differently
  (edited question, options or video id; a rebuilt VIUBench) make the run refuse, naming them, before anything is
  loaded or written; ``overwrite=True`` (``--overwrite``) discards them and starts over;
* every kept line is rebuilt from the current item and re-scored from its stored output, so an edited gold answer or
  category is reflected without asking the model again;
* items whose inputs failed (``INPUT_ERROR_KINDS``: unsafe id, missing video, decode or load error) are tried again;
  generation errors are kept unless ``retry_errors=True``; everything else finished is not generated again.

Nothing is written before the backend is up: a model that fails to load (``ModelLoadError``) leaves both files as
they were. A finished run resumes without loading a model.

``run_only`` (ids; the CLIs' ``--limit``) restricts what this run generates; the summary always covers every line of
results.jsonl, so summary and results agree. When they cover fewer items than the data has, the summary says so
under ``"incomplete"``.

Decoding runs in a thread pool one batch ahead of generation (the first batch decodes while the model loads); a
video shared by items of a batch or of two consecutive batches is decoded once. A batch whose generation fails is
retried item by item, so one bad item cannot sink the others.

Usage::

    from videossr.evaluation import EvalSettings, VideoQA, make_backend, run_benchmark
    bench = VideoQA("bench/videomme")
    summary = run_benchmark(bench, bench.load_items("bench/videomme.json"), EvalSettings(model=M, backend="hf"),
                            "out/videomme", backend_factory=lambda: make_backend("hf", M))
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from videossr.evaluation.backends import Backend
from videossr.evaluation.benchmarks import (
    BENCHMARKS,
    GENERATION_ERROR,
    INPUT_ERROR_KINDS,
    Benchmark,
    InputError,
    build_request,
    format_table,
)
from videossr.evaluation.inputs import Request, VideoFrames
from videossr.evaluation.items import EvalItem
from videossr.evaluation.settings import EvalSettings
from videossr.procs import output_lock
from videossr.io import append_jsonl, read_jsonl, write_json_atomic, write_jsonl_atomic

__all__ = ["RESULTS_NAME", "SUMMARY_NAME", "ModelLoadError", "EvalSettings", "run_benchmark", "run_eval",
           "fingerprint", "build_request", "format_table"]

logger = logging.getLogger(__name__)

RESULTS_NAME = "results.jsonl"
SUMMARY_NAME = "summary.json"
_SHOWN = 5  # items named in a refusal


class ModelLoadError(ValueError):
    """The backend could not be built (a bad model folder, an engine that does not start); nothing was recorded."""


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def fingerprint(benchmark: Benchmark, item: Any, settings: EvalSettings) -> dict[str, str]:
    """Digests of what ``item`` is asked under ``settings``: {"settings": ..., and one per part of ``asked``}."""
    parts = {"settings": benchmark.settings_json(settings), **benchmark.asked(item, settings)}
    return {name: _digest(value) for name, value in parts.items()}


def _read_results(path: Path) -> dict[str, dict]:
    """The lines of a results file by item id (a later line of an id replaces an earlier one)."""
    out: dict[str, dict] = {}
    for n, rec in enumerate(read_jsonl(path), 1):
        if not isinstance(rec, dict) or "id" not in rec:
            raise ValueError(f"{path}: line {n} is not a result line (no 'id'): {str(rec)[:80]}")
        out[str(rec["id"])] = rec
    return out


def _check_stored(path: Path, stored: dict[str, dict], items: dict[str, Any], want: dict[str, Any],
                  prints: dict[str, dict[str, str]]) -> None:
    """Refuse (ValueError) results that do not belong to these items and settings."""
    start_over = "start over with --overwrite, or use another output directory"
    for rec in stored.values():
        got = rec.get("settings")
        if got != want:
            diff = {k: (got or {}).get(k) for k in want if (got or {}).get(k) != want[k]}
            raise ValueError(f"{path} holds results made with other settings {diff} (now {want}); {start_over}")
    legacy = [i for i, r in stored.items() if not isinstance(r.get("fingerprint"), dict)]
    if legacy:
        raise ValueError(f"{path} holds results without a fingerprint (written by an older version), e.g. item "
                         f"{legacy[0]!r}; {start_over}")
    problems = []
    for i, rec in stored.items():
        if i not in items:
            problems.append(f"item {i!r} is not in the data")
            continue
        now, then = prints[i], rec["fingerprint"]
        changed = sorted(k for k in now.keys() | then.keys() if now.get(k) != then.get(k))
        if changed:
            problems.append(f"item {i!r} is now asked differently ({', '.join(changed)} changed)")
    if problems:
        shown = "; ".join(problems[:_SHOWN]) + (f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else "")
        raise ValueError(f"{path} holds {len(problems)} results that were made from other data: {shown}. "
                         f"To discard them, {start_over}")


def _load_batch(
    benchmark: Benchmark,
    sources: Sequence[Hashable],
    settings: EvalSettings,
    pool: ThreadPoolExecutor,
    previous: dict[Hashable, VideoFrames | Exception] | None = None,
) -> dict[Hashable, VideoFrames | Exception]:
    """The videos of a batch, each loaded once; those the previous batch already loaded are reused."""
    previous = previous or {}
    unique = [s for s in dict.fromkeys(sources) if s not in previous]

    def load(source: Hashable) -> VideoFrames | Exception:
        try:
            return benchmark.load_source(source, settings)
        except Exception as e:  # any decoder failure is this item's result, recorded and counted
            return e

    out = {s: previous[s] for s in sources if s in previous}
    out.update(zip(unique, pool.map(load, unique)))
    return out


def run_benchmark(
    benchmark: Benchmark,
    items: Sequence[Any],
    settings: EvalSettings,
    output_dir: str | os.PathLike,
    *,
    backend: Backend | None = None,
    backend_factory: Callable[[], Backend] | None = None,
    batch_size: int = 4,
    run_only: Collection[str] | None = None,
    retry_errors: bool = False,
    overwrite: bool = False,
    decode_workers: int = 4,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``items`` (all items of the data) with one backend; see the module docstring.

    Pass exactly one of ``backend`` and ``backend_factory`` (called only when something is left to generate).
    Raises ValueError for an unreadable gold answer, refused stored results or bad arguments (before anything is
    loaded or written) and ``ModelLoadError`` when the factory fails.
    """
    if (backend is None) == (backend_factory is None):
        raise ValueError("pass exactly one of backend and backend_factory")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    settings = benchmark.resolve(settings)
    by_id: dict[str, Any] = {}
    for item in items:
        if item.id in by_id:
            raise ValueError(f"item id {item.id!r} appears twice")
        by_id[item.id] = item
    for item in items:  # a gold answer that cannot be read is a broken benchmark: fail before any generation
        benchmark.check_gold(item)
    wanted = set(by_id) if run_only is None else {str(i) for i in run_only}
    unknown = sorted(wanted - set(by_id))
    if unknown:
        raise ValueError(f"run_only names items that are not in the data: {unknown[:_SHOWN]}")

    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output {out} exists and is not a folder")
    # one writer per output folder: a second evaluation into it stops at once, naming the first
    lock_existed = out.exists()
    try:
        with output_lock(out, what=f"{benchmark.name} evaluation"):
            return _run_locked(benchmark, items, settings, out, by_id, wanted, backend=backend,
                               backend_factory=backend_factory, batch_size=batch_size, retry_errors=retry_errors,
                               overwrite=overwrite, decode_workers=decode_workers, progress=progress)
    finally:
        if not lock_existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a run that wrote nothing leaves no folder behind


def _run_locked(benchmark: Benchmark, items: Sequence[Any], settings: EvalSettings, out: Path,
                by_id: dict[str, Any], wanted: set[str], *, backend, backend_factory, batch_size: int,
                retry_errors: bool, overwrite: bool, decode_workers: int, progress: bool) -> dict[str, Any]:
    results_path = out / RESULTS_NAME
    want = benchmark.settings_json(settings)
    prints = {i: fingerprint(benchmark, item, settings) for i, item in by_id.items()}
    stored = {} if overwrite else _read_results(results_path)
    _check_stored(results_path, stored, by_id, want, prints)

    def make_record(item: Any, output: str | None, error: str | None, kind: str | None) -> dict[str, Any]:
        parsed, score = (None, 0.0) if output is None else benchmark.score(item, output)
        return {"id": item.id, **benchmark.labels(item), "settings": want, "fingerprint": prints[item.id],
                "raw_output": output, "parsed": parsed, "score": float(score), **benchmark.details(item, output),
                "error": error, "error_kind": kind}

    # Every kept line is rebuilt from the current item: gold answers and labels as they are now, re-scored.
    done: dict[str, dict] = {}
    for i, rec in stored.items():
        output = None if rec.get("error") else rec.get("raw_output")
        done[i] = make_record(by_id[i], output, rec.get("error"), rec.get("error_kind"))
    rescored = sum(1 for i in done if done[i] != stored[i])
    if rescored:
        logger.info("%d stored results re-scored: their gold answers or labels changed", rescored)
    retry = {i for i, r in done.items() if i in wanted and r["error"]
             and (r["error_kind"] in INPUT_ERROR_KINDS or retry_errors)}
    todo = [item for item in items if item.id in wanted and (item.id not in done or item.id in retry)]
    logger.info("%s: %d items, %d to run (%d of them failed before and are retried), %d kept",
                benchmark.name, len(items), len(todo), len(retry), len(done) - len(retry))

    # Safety and existence first: refused and missing videos never reach a decoder.
    failed_inputs: list[tuple[Any, InputError]] = []
    runnable: list[tuple[Any, tuple[Hashable, ...]]] = []
    for item in todo:
        try:
            runnable.append((item, tuple(benchmark.sources(item, settings))))
        except InputError as e:
            failed_inputs.append((item, e))

    started_writing = False
    written: tuple[dict[str, Any], list[dict]] | None = None
    generated = 0
    elapsed = load_s = 0.0

    def record(item: Any, *, output: str | None = None, error: str | None = None, kind: str | None = None) -> None:
        rec = make_record(item, output, error, kind)
        append_jsonl(results_path, rec)
        done[item.id] = rec

    def start_writing() -> None:
        """From here on the run writes: the kept lines first (a torn last line and retried errors dropped)."""
        nonlocal started_writing
        for i in retry:
            done.pop(i, None)
        write_jsonl_atomic(results_path, [done[it.id] for it in items if it.id in done])
        started_writing = True
        for item, e in failed_inputs:
            logger.warning("item %s: %s", item.id, e)
            record(item, error=str(e), kind=e.kind)

    batches = [runnable[k : k + batch_size] for k in range(0, len(runnable), batch_size)]
    pool = ThreadPoolExecutor(max_workers=max(1, decode_workers)) if batches else None
    ahead = ThreadPoolExecutor(max_workers=1) if batches else None
    be: Backend | None = None
    try:
        if not batches:
            start_writing()
        else:
            assert pool is not None and ahead is not None

            def submit(k: int, previous: dict | None = None) -> Future:
                return ahead.submit(_load_batch, benchmark, [s for _, ss in batches[k] for s in ss], settings, pool,
                                    previous)

            prefetch: Future | None = submit(0)  # the first batch loads while the model does
            t0 = time.perf_counter()
            if backend is not None:
                be = backend
            else:
                try:
                    be = backend_factory()  # type: ignore[misc]
                except Exception as e:
                    raise ModelLoadError(f"cannot load the model {settings.model!r} with the {settings.backend} "
                                         f"backend: {type(e).__name__}: {e}") from e
            load_s = time.perf_counter() - t0
            start_writing()
            started = time.perf_counter()
            with tqdm(total=len(runnable), unit="item", desc=f"{benchmark.name} [{settings.backend}]",
                      disable=not progress) as bar:
                for k, batch in enumerate(batches):
                    loaded = prefetch.result()  # type: ignore[union-attr]
                    prefetch = submit(k + 1, loaded) if k + 1 < len(batches) else None
                    generated += _run_batch(benchmark, batch, loaded, be, settings, record)
                    bar.update(len(batch))
            elapsed = time.perf_counter() - started
    finally:
        if ahead is not None:
            ahead.shutdown(wait=True, cancel_futures=True)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if be is not None and backend is None:
            be.close()
        if started_writing:  # even when interrupted: results in item order, and a summary that agrees with them
            written = _write_outputs(benchmark, items, done, settings, out)

    assert written is not None
    summary, records = written
    errors = Counter(r["error_kind"] or "error" for r in records if r["error"])
    summary["run"] = {
        "generated": generated,
        "seconds": elapsed,  # loading + generation + scoring of this run, backend start-up excluded
        "backend_load_seconds": load_s,
        "items_per_s": generated / elapsed if elapsed else 0.0,
        "n_items": len(items),
        "n_results": len(records),
        "n_rescored": rescored,
        "n_errors": sum(errors.values()),
        "errors_by_kind": dict(sorted(errors.items())),
    }
    if errors:
        logger.warning("%d items ended with an error (%s); inputs that failed are tried again on the next run",
                       sum(errors.values()), ", ".join(f"{k} {n}" for k, n in sorted(errors.items())))
    return summary


def _write_outputs(benchmark: Benchmark, items: Sequence[Any], done: dict[str, dict], settings: EvalSettings,
                   out: Path) -> tuple[dict[str, Any], list[dict]]:
    """results.jsonl in item order and the summary of exactly its lines (plus ``incomplete`` when items lack one)."""
    records = [done[it.id] for it in items if it.id in done]
    write_jsonl_atomic(out / RESULTS_NAME, records)
    summary = benchmark.summarize(records, settings)
    if len(records) < len(items):
        summary["incomplete"] = {"n_items": len(items), "n_results": len(records),
                                 "n_not_run": len(items) - len(records)}
    write_json_atomic(out / SUMMARY_NAME, summary)
    return summary, records


def _run_batch(benchmark: Benchmark, batch, loaded, backend: Backend, settings: EvalSettings, record) -> int:
    """Generate and score one batch; a failing batch is retried item by item so one bad item cannot sink others."""
    ready: list[tuple[Any, Request]] = []
    for item, sources in batch:
        videos = [loaded[s] for s in sources]
        bad = next((v for v in videos if isinstance(v, Exception)), None)
        if bad is None:
            try:
                ready.append((item, benchmark.request(item, videos, settings)))
                continue
            except Exception as e:  # a request that cannot be built: this item's input error
                bad = e
        logger.warning("item %s: cannot load its video: %s", item.id, bad)
        record(item, error=f"{type(bad).__name__}: {bad}", kind=benchmark.load_error_kind)
    if not ready:
        return 0
    try:
        outputs: list[Any] = list(benchmark.generate(backend, [i for i, _ in ready], [r for _, r in ready], settings))
        if len(outputs) != len(ready):
            raise RuntimeError(f"{len(outputs)} outputs for a batch of {len(ready)}")
    except Exception as e:
        if len(ready) == 1:
            outputs = [e]
        else:
            logger.warning("batch of %d failed (%s); retrying item by item", len(ready), e)
            outputs = []
            for item, req in ready:
                try:
                    outputs.append(benchmark.generate(backend, [item], [req], settings)[0])
                except Exception as e1:  # recorded as this item's generation error
                    outputs.append(e1)
    n = 0
    for (item, _), output in zip(ready, outputs):
        if isinstance(output, Exception):
            logger.warning("item %s: generation failed: %s", item.id, output)
            record(item, error=f"{type(output).__name__}: {output}", kind=GENERATION_ERROR)
            continue
        record(item, output=output)
        n += 1
    return n


def run_eval(
    task: str,
    items: Sequence[EvalItem],
    settings: EvalSettings,
    output_dir: str | os.PathLike,
    *,
    video_dir: str | os.PathLike,
    category_key: str | None = "category",
    decoder: str = "auto",
    **kwargs: Any,
) -> dict[str, Any]:
    """``run_benchmark`` for video QA (``task="vqa"``) or temporal grounding (``"vtg"``) items on video files."""
    if task not in ("vqa", "vtg"):
        raise ValueError(f"task must be 'vqa' or 'vtg', got {task!r}")
    benchmark = BENCHMARKS[task](video_dir, category_key=category_key, decoder=decoder)
    return run_benchmark(benchmark, items, settings, output_dir, **kwargs)

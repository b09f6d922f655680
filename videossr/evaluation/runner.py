"""Run a benchmark: items -> safe video lookup -> decode -> shared prompt -> backend -> score -> results, resumable.

``run_eval(task, items, settings, output_dir, video_dir=..., backend=... or backend_factory=...)`` writes

    OUTPUT_DIR/results.jsonl   one line per item, appended and flushed as it finishes: id, video, category, gold
                               answer, settings, raw output, parsed answer, score (1/0 or IoU), error and its kind
    OUTPUT_DIR/summary.json    settings + metrics (see ``videossr.evaluation.metrics``), written atomically

Resume: a rerun with the same output directory keeps every finished line (a torn last line from an interrupt is
dropped and the file rewritten cleanly before appending) and generates only the items not there yet; with
``retry_errors=True`` items that ended with an error (missing video, decode or generation failure) are tried again.
Lines written under other settings (model, backend, frames, pixels, ...) make it refuse, naming the difference.

Error kinds: ``unsafe_id`` (the id would escape the video directory; never opened), ``missing_video``,
``decode_error``, ``generation_error``. All score 0 and stay in the denominator (see metrics).

Decoding runs in a thread pool one batch ahead of generation; a video shared by several items of a batch (or of
two consecutive batches, as when a benchmark lists a video's questions together) is decoded once. The backend is built only when some item needs generating, so a finished run resumes without loading a model.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from videossr.evaluation.backends import Backend, generate_texts
from videossr.evaluation.inputs import Request, VideoFrames, load_eval_video
from videossr.evaluation.items import EvalItem, UnsafeVideoId, resolve_video, vqa_prompt, vtg_prompt
from videossr.evaluation.prompts import DEFAULT_PRESET, get_preset
from videossr.evaluation.metrics import (
    accuracy_summary,
    gold_interval,
    grounding_summary,
    score_choice,
    score_interval,
)
from videossr.io import append_jsonl, read_jsonl, write_json_atomic, write_jsonl_atomic

logger = logging.getLogger(__name__)

RESULTS_NAME = "results.jsonl"
SUMMARY_NAME = "summary.json"
TASKS = ("vqa", "vtg")


@dataclass(frozen=True)
class EvalSettings:
    """Everything that changes a model's answers; stored with every result line and checked on resume."""

    task: str
    model: str
    backend: str
    fps: float = 2.0
    max_frames: int = 32
    min_pixels: int = 128 * 128
    max_pixels: int = 512 * 512
    max_new_tokens: int = 32
    prompt_preset: str = DEFAULT_PRESET  # see videossr.evaluation.prompts

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompt_preset", get_preset(self.prompt_preset).name)
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps!r}")
        if self.max_frames < 2:
            raise ValueError(f"max_frames must be >= 2, got {self.max_frames!r}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels} and {self.max_pixels}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens!r}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_request(task: str, item: EvalItem, video: VideoFrames, preset: str = DEFAULT_PRESET) -> Request:
    """The request every backend gets for ``item`` with the instructions of prompt preset ``preset``."""
    text = vqa_prompt(item, preset) if task == "vqa" else vtg_prompt(item, preset)
    return Request(({"role": "user", "content": text},), (video,))


def _score(task: str, item: EvalItem, output: str) -> tuple[Any, float]:
    if task == "vqa":
        return score_choice(output, item.answer, item.options())
    return score_interval(output, gold_interval(item.answer))


def _check_gold(task: str, items: Sequence[EvalItem]) -> None:
    """Fail fast, before any generation, on a gold answer that cannot be read."""
    from videossr.evaluation.choice import extract_choice, normalise_gold_letter

    for item in items:
        try:
            if task == "vqa":
                extract_choice("", item.options() or None)  # validates the option letters
                normalise_gold_letter(item.answer, item.options() or None)
            else:
                gold_interval(item.answer)
        except ValueError as e:
            raise ValueError(f"item {item.id}: {e}") from None


def _load_previous(path: Path, settings: EvalSettings) -> dict[str, dict]:
    records = read_jsonl(path)
    want = settings.to_json()
    for r in records:
        got = r.get("settings")
        if got != want:
            diff = {k: (got or {}).get(k) for k in want if (got or {}).get(k) != want[k]}
            raise ValueError(
                f"{path} holds results made with other settings {diff} (now {want}); use another output directory"
            )
    if records:
        write_jsonl_atomic(path, records)  # drops a torn last line so appends start on a clean line
    return {str(r["id"]): r for r in records}


def _decode_batch(
    paths: Sequence[Path],
    settings: EvalSettings,
    pool: ThreadPoolExecutor,
    decoder: str,
    previous: dict[Path, VideoFrames | Exception] | None = None,
) -> dict[Path, VideoFrames | Exception]:
    """Decoded videos of a batch, each once; videos the previous batch already decoded are reused."""
    previous = previous or {}
    unique = [p for p in dict.fromkeys(paths) if p not in previous]

    def load(p: Path) -> VideoFrames | Exception:
        try:
            return load_eval_video(
                p,
                fps=settings.fps,
                max_frames=settings.max_frames,
                min_pixels=settings.min_pixels,
                max_pixels=settings.max_pixels,
                backend=decoder,
            )
        except Exception as e:  # any decoder failure is this item's result, recorded and counted
            return e

    out = {p: previous[p] for p in paths if p in previous}
    out.update(zip(unique, pool.map(load, unique)))
    return out


def summarize(task: str, records: Sequence[dict], settings: EvalSettings, category_key: str | None) -> dict[str, Any]:
    metrics = accuracy_summary(records, category_key) if task == "vqa" else grounding_summary(records, category_key)
    return {
        "settings": settings.to_json(),
        "prompt_preset": settings.prompt_preset,
        "category_key": category_key,
        "metrics": metrics,
    }


def run_eval(
    task: str,
    items: Sequence[EvalItem],
    settings: EvalSettings,
    output_dir: str | os.PathLike,
    *,
    video_dir: str | os.PathLike,
    backend: Backend | None = None,
    backend_factory: Callable[[], Backend] | None = None,
    batch_size: int = 4,
    category_key: str | None = "category",
    retry_errors: bool = False,
    decode_workers: int = 4,
    decoder: str = "auto",
) -> dict[str, Any]:
    """Evaluate ``items``; append results, write the summary; return the summary dict (plus run counters)."""
    if task != settings.task:
        raise ValueError(f"task {task!r} does not match settings.task {settings.task!r}")
    if (backend is None) == (backend_factory is None):
        raise ValueError("pass exactly one of backend and backend_factory")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    _check_gold(task, items)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / RESULTS_NAME
    done = _load_previous(results_path, settings)
    if retry_errors:
        done = {k: r for k, r in done.items() if not r.get("error")}
        write_jsonl_atomic(results_path, list(done.values()))
    todo = [it for it in items if it.id not in done]
    logger.info("%s: %d items, %d already done, %d to run", task, len(items), len(items) - len(todo), len(todo))

    def record(item: EvalItem, *, output: str | None, parsed: Any, score: float, error: str | None, kind: str | None):
        rec = {
            "id": item.id,
            "video": item.video,
            "question": item.question,
            "answer": item.answer,
            "category": item.category(category_key) if category_key else None,
            "settings": settings.to_json(),
            "raw_output": output,
            "parsed": parsed,
            "score": float(score),
            "error": error,
            "error_kind": kind,
        }
        append_jsonl(results_path, rec)
        done[item.id] = rec

    # Safety and existence first: refused and missing videos never reach a decoder.
    runnable: list[tuple[EvalItem, Path]] = []
    for item in todo:
        try:
            runnable.append((item, resolve_video(video_dir, item.video)))
        except UnsafeVideoId as e:
            logger.warning("item %s: %s", item.id, e)
            record(item, output=None, parsed=None, score=0.0, error=str(e), kind="unsafe_id")
        except FileNotFoundError as e:
            logger.warning("item %s: %s", item.id, e)
            record(item, output=None, parsed=None, score=0.0, error=str(e), kind="missing_video")

    generated = 0
    elapsed = load_s = 0.0
    if runnable:
        batches = [runnable[i : i + batch_size] for i in range(0, len(runnable), batch_size)]
        pool = ThreadPoolExecutor(max_workers=max(1, decode_workers))
        ahead = ThreadPoolExecutor(max_workers=1)
        be: Backend | None = None
        try:
            # The first batch decodes while the model loads.
            prefetch: Future | None = ahead.submit(_decode_batch, [p for _, p in batches[0]], settings, pool, decoder)
            t0 = time.perf_counter()
            be = backend if backend is not None else backend_factory()  # type: ignore[misc]
            load_s = time.perf_counter() - t0
            started = time.perf_counter()
            with tqdm(total=len(runnable), unit="item", desc=f"{task} [{settings.backend}]") as bar:
                for k, batch in enumerate(batches):
                    decoded = prefetch.result()  # type: ignore[union-attr]
                    prefetch = (
                        ahead.submit(_decode_batch, [p for _, p in batches[k + 1]], settings, pool, decoder, decoded)
                        if k + 1 < len(batches)
                        else None
                    )
                    generated += _run_batch(task, batch, decoded, be, record, settings)
                    bar.update(len(batch))
            elapsed = time.perf_counter() - started
        finally:
            ahead.shutdown(wait=True, cancel_futures=True)
            pool.shutdown(wait=True, cancel_futures=True)
            if be is not None and backend is None:
                be.close()

    records = [done[it.id] for it in items if it.id in done]
    summary = summarize(task, records, settings, category_key)
    write_json_atomic(out / SUMMARY_NAME, summary)
    summary["run"] = {
        "generated": generated,
        "seconds": elapsed,  # decoding + generation + scoring of this run, backend start-up excluded
        "backend_load_seconds": load_s,
        "items_per_s": generated / elapsed if elapsed else 0.0,
    }
    return summary


def _run_batch(task, batch, decoded, backend, record, settings) -> int:
    """Generate and score one batch; a failing batch is retried item by item so one bad item cannot sink others."""
    ready: list[tuple[EvalItem, Request]] = []
    for item, path in batch:
        video = decoded[path]
        if isinstance(video, Exception):
            logger.warning("item %s: cannot decode %s: %s", item.id, path, video)
            record(item, output=None, parsed=None, score=0.0, error=f"{type(video).__name__}: {video}", kind="decode_error")
        else:
            ready.append((item, build_request(task, item, video, settings.prompt_preset)))
    if not ready:
        return 0
    try:
        outputs: list[str | Exception] = list(generate_texts(backend, [r for _, r in ready]))
    except Exception as e:
        if len(ready) == 1:
            outputs = [e]
        else:
            logger.warning("batch of %d failed (%s); retrying item by item", len(ready), e)
            outputs = []
            for _, req in ready:
                try:
                    outputs.append(generate_texts(backend, [req])[0])
                except Exception as e1:  # recorded as this item's generation error
                    outputs.append(e1)
    n = 0
    for (item, _), output in zip(ready, outputs):
        if isinstance(output, Exception):
            logger.warning("item %s: generation failed: %s", item.id, output)
            record(item, output=None, parsed=None, score=0.0, error=f"{type(output).__name__}: {output}", kind="generation_error")
            continue
        parsed, score = _score(task, item, output)
        record(item, output=output, parsed=parsed, score=score, error=None, kind=None)
        n += 1
    return n


def format_table(summary: dict[str, Any]) -> str:
    """A plain-text table of the settings and the headline metrics (what the CLIs print)."""
    s = summary["settings"]
    m = summary["metrics"]
    rows = [
        ("task", s["task"]),
        ("model", s["model"]),
        ("backend", s["backend"]),
        ("frames", f"fps {s['fps']:g}, at most {s['max_frames']}"),
        ("pixels", f"{s['min_pixels']}..{s['max_pixels']} per frame"),
        ("prompt preset", s["prompt_preset"]),
        ("items", str(m["n"])),
    ]
    if s["task"] == "vqa":
        rows += [
            ("accuracy", f"{100 * m['accuracy']:.2f}  ({m['n_correct']}/{m['n']})"),
            ("accuracy excl. errors", f"{100 * m['accuracy_excluding_errors']:.2f}"),
        ]
    else:
        rows += [("mIoU", f"{100 * m['miou']:.2f}")]
        rows += [(f"R@{t}", f"{100 * m[f'r@{t}']:.2f}") for t in (0.3, 0.5, 0.7)]
        rows += [("mIoU excl. errors", f"{100 * m['miou_excluding_errors']:.2f}")]
    rows += [("unparsable", str(m["n_unparsable"])), ("errors", str(m["n_errors"]))]
    rows += [(f"  {kind}", str(n)) for kind, n in m["errors_by_kind"].items()]
    for cat, c in m["per_category"].items():
        value = f"{100 * c['accuracy']:.2f}" if s["task"] == "vqa" else f"mIoU {100 * c['miou']:.2f}"
        rows.append((f"[{summary['category_key']}] {cat}", f"{value}  (n={c['n']})"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)

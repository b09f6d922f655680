"""The benchmarks the evaluation runner knows, each a small object: items, prompt, gold, score, summary, table.

``videossr.evaluation.runner.run_benchmark`` does the rest (results log and resume, batches, decoding, backend)
for all of them. A benchmark answers these questions about its items:

=====================  ================================================================================
``load_items(path)``   the items of a data file, each with a unique ``id``
``check_gold(item)``   ValueError naming the item if its gold answer cannot be read (checked before generating)
``asked(item, s)``     what the model is asked, in named JSON parts (the result's fingerprint hashes them)
``sources(item, s)``   the videos an item needs (hashable keys), or ``InputError`` (e.g. a missing file)
``load_source(k, s)``  one video's frames (``VideoFrames``); any exception is this item's ``load_error_kind``
``request(item, v)``   the chat request the backend gets
``score(item, text)``  (parsed answer or None, score in [0, 1]) of a model output
``labels(item)``       the item's fields stored on its result line (gold, category, ...)
``summarize(recs, s)`` summary.json; ``format(summary)``: the table the CLI prints
``generate(b, it, r, s)`` the outputs of a batch (default: one greedy text per request)
``details(item, out)`` extra fields of an item's result line (default: none)
=====================  ================================================================================

The generic ones are defined here, for custom data in the JSON format:

* ``VideoQA`` (``vqa``): multiple-choice questions on video files; accuracy, overall and per category.
* ``TemporalGrounding`` (``vtg``): "when does this happen" on video files; mean IoU and recall at IoU 0.3/0.5/0.7.

Elsewhere:

* the paper's published benchmarks, one module each in this package (``mvbench``, ``videomme``, ``charades``, ...),
  on ``published.PublishedBenchmark``: read from the files their users have, asked exactly as lmms-eval 0.7.3 asks a
  Qwen3-VL run, scored under its protocol (``lmms.py``) and the project's strict one; looked up by name in
  ``registry``;
* ``VIUBench`` (``viubench``): the pretext-task benchmark (``videossr.evaluation.viubench``); strict scores per
  subtype and their unweighted mean, scored through the task table (``videossr.evaluation.viubench.score_output``).

Video files (VQA, grounding): an item's ``video`` id resolves safely under the benchmark's video folder
(``items.resolve_video``); frames are decoded at ``fps`` up to ``max_frames`` and resized once
(``inputs.load_eval_video``); the prompt is the preset's wording (``prompts``). VIUBench rows carry their own prompt and
frame lists.

Usage::

    from videossr.evaluation.benchmarks import VideoQA
    bench = VideoQA("bench/videomme")            # the video folder
    items = bench.load_items("bench/videomme.json")
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from videossr.constants import EVAL_MAX_PIXELS, EVAL_MIN_PIXELS
from videossr.evaluation.backends import Backend, generate_texts
from videossr.evaluation.choice import extract_choice, normalise_gold_letter
from videossr.evaluation.inputs import Request, VideoFrames, load_eval_video
from videossr.evaluation.items import EvalItem, UnsafeVideoId, load_items, resolve_video, vqa_prompt, vtg_prompt
from videossr.evaluation.metrics import (
    accuracy_summary,
    gold_interval,
    grounding_summary,
    score_choice,
    score_interval,
)
from videossr.evaluation.prompts import DEFAULT_PRESET
from videossr.evaluation.settings import EvalSettings

# Error kinds of an item that got no answer. All score 0 and stay in the denominator.
UNSAFE_ID = "unsafe_id"  # the video id would escape the video folder (never opened)
MISSING_VIDEO = "missing_video"  # no file for the video id
DECODE_ERROR = "decode_error"  # a video file that could not be decoded
LOAD_ERROR = "load_error"  # VIUBench: a frame that could not be read, a malformed row
GENERATION_ERROR = "generation_error"  # the backend failed on this item
# Failures of the inputs, not of the model: never final, tried again on the next run.
INPUT_ERROR_KINDS = frozenset({UNSAFE_ID, MISSING_VIDEO, DECODE_ERROR, LOAD_ERROR})


class InputError(Exception):
    """An item whose inputs cannot be used (not a model failure): recorded under ``kind``, retried next run."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Benchmark(ABC):
    """One benchmark (see the module docstring). Items are any objects with a unique string ``id``."""

    name: ClassVar[str]
    setting_keys: ClassVar[tuple[str, ...]]  # the EvalSettings fields this benchmark uses and records
    load_error_kind: ClassVar[str] = LOAD_ERROR
    data: Path | None = None  # the data file the items came from, when known

    def resolve(self, settings: EvalSettings) -> EvalSettings:
        """``settings`` with this benchmark's name and defaults filled in; ValueError if they are for another one."""
        if settings.task not in (None, self.name):
            raise ValueError(f"settings are for task {settings.task!r}, not {self.name!r}")
        return settings.replace(task=self.name)

    def settings_json(self, settings: EvalSettings) -> dict[str, Any]:
        """The settings recorded with every result and in summary.json (resolved first)."""
        full = self.resolve(settings).to_json()
        return {k: full[k] for k in self.setting_keys}

    @abstractmethod
    def load_items(self, path: str | os.PathLike) -> list[Any]: ...

    @abstractmethod
    def check_gold(self, item: Any) -> None: ...

    @abstractmethod
    def asked(self, item: Any, settings: EvalSettings) -> dict[str, Any]: ...

    @abstractmethod
    def sources(self, item: Any, settings: EvalSettings) -> tuple[Hashable, ...]: ...

    @abstractmethod
    def load_source(self, source: Hashable, settings: EvalSettings) -> VideoFrames: ...

    @abstractmethod
    def request(self, item: Any, videos: Sequence[VideoFrames], settings: EvalSettings) -> Request: ...

    @abstractmethod
    def score(self, item: Any, output: str) -> tuple[Any, float]: ...

    @abstractmethod
    def labels(self, item: Any) -> dict[str, Any]: ...

    @abstractmethod
    def summarize(self, records: Sequence[Mapping[str, Any]], settings: EvalSettings) -> dict[str, Any]: ...

    @abstractmethod
    def format(self, summary: Mapping[str, Any]) -> str: ...

    def generate(self, backend: Backend, items: Sequence[Any], requests: Sequence[Request],
                 settings: EvalSettings) -> list[Any]:
        """The model's outputs for a batch, one per request (``score`` reads them): greedy texts by default."""
        return generate_texts(backend, requests)

    def details(self, item: Any, output: Any) -> dict[str, Any]:
        """Fields added to an item's result line (``output`` is None for an item that ended with an error)."""
        return {}


# ----------------------------------------------------------------------------------------------------------------
# Video files: multiple-choice QA and temporal grounding


def user_text(task: str, item: EvalItem, preset: str = DEFAULT_PRESET) -> str:
    """The user text of a video-file item of ``task`` ("vqa" or "vtg"): video placeholder, question, instructions."""
    if task not in ("vqa", "vtg"):
        raise ValueError(f"task must be 'vqa' or 'vtg', got {task!r}")
    return vqa_prompt(item, preset) if task == "vqa" else vtg_prompt(item, preset)


def build_request(task: str, item: EvalItem, video: VideoFrames, preset: str = DEFAULT_PRESET) -> Request:
    """The request every backend gets for a video-file item of ``task`` in prompt preset ``preset``."""
    return Request(({"role": "user", "content": user_text(task, item, preset)},), (video,))


class _VideoFileBenchmark(Benchmark):
    """Items of a JSON/JSONL file (``items.load_items``), one video file each under ``video_dir``."""

    setting_keys = ("task", "model", "backend", "fps", "max_frames", "min_pixels", "max_pixels", "max_new_tokens",
                    "prompt_preset")
    load_error_kind = DECODE_ERROR

    def __init__(self, video_dir: str | os.PathLike, *, category_key: str | None = "category",
                 decoder: str = "auto") -> None:
        self.video_dir = Path(video_dir)
        if not self.video_dir.is_dir():
            raise NotADirectoryError(f"video folder {str(video_dir)!r} is not a directory")
        self.category_key = category_key or None
        self.decoder = decoder

    def resolve(self, settings: EvalSettings) -> EvalSettings:
        settings = super().resolve(settings)
        self._prompt_preset = settings.prompt_preset  # what labels() records as the prompt of each result line
        return settings.replace(
            min_pixels=EVAL_MIN_PIXELS if settings.min_pixels is None else settings.min_pixels,
            max_pixels=EVAL_MAX_PIXELS if settings.max_pixels is None else settings.max_pixels,
        )

    def load_items(self, path: str | os.PathLike) -> list[EvalItem]:
        self.data = Path(path)
        return load_items(path)

    def asked(self, item: EvalItem, settings: EvalSettings) -> dict[str, Any]:
        return {"video": item.video, "prompt": user_text(self.name, item, settings.prompt_preset)}

    def sources(self, item: EvalItem, settings: EvalSettings) -> tuple[Path]:
        try:
            return (resolve_video(self.video_dir, item.video),)
        except UnsafeVideoId as e:
            raise InputError(UNSAFE_ID, str(e)) from None
        except FileNotFoundError as e:
            raise InputError(MISSING_VIDEO, str(e)) from None

    def load_source(self, source: Path, settings: EvalSettings) -> VideoFrames:
        return load_eval_video(source, fps=settings.fps, max_frames=settings.max_frames,
                               min_pixels=settings.min_pixels, max_pixels=settings.max_pixels, backend=self.decoder)

    def request(self, item: EvalItem, videos: Sequence[VideoFrames], settings: EvalSettings) -> Request:
        return Request(({"role": "user", "content": user_text(self.name, item, settings.prompt_preset)},), tuple(videos))

    def labels(self, item: EvalItem) -> dict[str, Any]:
        return {
            "video": item.video,
            "question": item.question,
            "answer": item.answer,
            "category": item.category(self.category_key) if self.category_key else None,
            "system_prompt": None,  # none sent: the model's chat template default
            "prompt": user_text(self.name, item, getattr(self, "_prompt_preset", DEFAULT_PRESET)),
        }

    def _summary(self, metrics: dict[str, Any], settings: EvalSettings) -> dict[str, Any]:
        sj = self.settings_json(settings)
        return {"settings": sj, "prompt_preset": sj["prompt_preset"], "category_key": self.category_key,
                "metrics": metrics}

    def format(self, summary: Mapping[str, Any]) -> str:
        return format_table(summary)


class VideoQA(_VideoFileBenchmark):
    """Multiple-choice video QA: the option letter is read with ``choice.extract_choice``; accuracy."""

    name = "vqa"

    def check_gold(self, item: EvalItem) -> None:
        options = item.options() or None
        try:
            extract_choice("", options)  # validates the option letters
            normalise_gold_letter(item.answer, options)
        except ValueError as e:
            raise ValueError(f"item {item.id}: {e}") from None

    def score(self, item: EvalItem, output: str) -> tuple[Any, float]:
        return score_choice(output, item.answer, item.options())

    def summarize(self, records: Sequence[Mapping[str, Any]], settings: EvalSettings) -> dict[str, Any]:
        return self._summary(accuracy_summary(records, self.category_key), settings)


class TemporalGrounding(_VideoFileBenchmark):
    """Temporal grounding: ``start-end`` seconds read with ``videossr.tasks.answers.parse_interval``; IoU."""

    name = "vtg"

    def check_gold(self, item: EvalItem) -> None:
        try:
            gold_interval(item.answer)
        except ValueError as e:
            raise ValueError(f"item {item.id}: {e}") from None

    def score(self, item: EvalItem, output: str) -> tuple[Any, float]:
        return score_interval(output, gold_interval(item.answer))

    def summarize(self, records: Sequence[Mapping[str, Any]], settings: EvalSettings) -> dict[str, Any]:
        return self._summary(grounding_summary(records, self.category_key), settings)


def format_table(summary: Mapping[str, Any]) -> str:
    """A plain-text table of a video QA / grounding summary: settings and headline metrics (what the CLIs print)."""
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


# The generic benchmarks by task name (VIUBench is ``videossr.evaluation.viubench.VIUBench``).
BENCHMARKS: dict[str, type[Benchmark]] = {"vqa": VideoQA, "vtg": TemporalGrounding}

"""Benchmark items: loading, ids, safe video lookup, and the prompts every backend shares.

Data files are a JSON list or JSONL of objects with ``video`` (an id, usually a file name without extension),
``question`` and ``answer`` (a letter for video QA; ``"start-end"`` seconds or ``[start, end]`` for grounding).
Any other field is kept in ``extra`` (e.g. ``category``, ``task_type``, ``options``/``candidates``, ``duration``).
An item's id is its ``id`` / ``question_id`` / ``qid`` field when present, else its position in the file.

Video lookup (``resolve_video``): the id names a file under the video directory, with its own extension or any of
``VIDEO_EXTENSIONS``. An id that is absolute or climbs out of the directory (``..``, a symlink pointing outside) is
refused with ``UnsafeVideoId`` and never opened; a file that is not there raises ``FileNotFoundError``.

Prompts (``vqa_prompt``, ``vtg_prompt``): one ``<video>`` placeholder, then the question wrapped in the instructions
of a prompt preset (``videossr.evaluation.prompts``; default ``lmms_eval``; no chain of thought). The same item and
preset always give the same prompt, whatever the backend. (The paper's benchmarks are read by their own modules in
``videossr.evaluation.benchmarks``, with their own prompts.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from videossr import constants
from videossr.evaluation.choice import options_from_list, parse_options
from videossr.evaluation.inputs import VIDEO_PLACEHOLDER
from videossr.evaluation.prompts import DEFAULT_PRESET, get_preset

VIDEO_EXTENSIONS = constants.VIDEO_EXTENSIONS  # the containers the frame sampler finds, too
_ID_FIELDS = ("id", "question_id", "qid")
_OPTION_FIELDS = ("options", "candidates", "choices")

class UnsafeVideoId(ValueError):
    """A video id that would resolve outside the video directory."""


@dataclass(frozen=True)
class EvalItem:
    """One benchmark question."""

    id: str
    video: str
    question: str
    answer: Any
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an item id must be non-empty")
        if not isinstance(self.video, str) or not self.video:
            raise ValueError(f"item {self.id}: video must be a non-empty string, got {self.video!r}")
        if not isinstance(self.question, str):
            raise ValueError(f"item {self.id}: question must be a string, got {self.question!r}")

    def options(self) -> dict[str, str]:
        """Letter -> option text: from an options field if there is one, else from "A. ..." lines of the question."""
        for name in _OPTION_FIELDS:
            value = self.extra.get(name)
            if isinstance(value, Sequence) and not isinstance(value, str) and value:
                return options_from_list([str(v) for v in value])
            if isinstance(value, Mapping) and value:
                return {str(k).strip().upper(): str(v) for k, v in value.items()}
        return parse_options(self.question)

    def category(self, key: str) -> str | None:
        value = self.extra.get(key)
        return None if value is None else str(value)


def _read_records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        data = json.loads(text)
    elif stripped.startswith("{") and path.suffix != ".jsonl":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = data if isinstance(data, list) else [data]
    else:
        data = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    data.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not a JSON line ({e.msg}): {line[:80]!r}") from None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ValueError(f"{path}: expected a JSON list of objects or JSONL of objects")
    return data


def load_items(path: str | os.PathLike, *, limit: int | None = None) -> list[EvalItem]:
    """Items of a JSON list / JSONL file, in file order (the first ``limit`` if given). Ids must be unique."""
    path = Path(path)
    records = _read_records(path)
    if limit is not None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit!r}")
        records = records[:limit]
    items = []
    seen: set[str] = set()
    for i, rec in enumerate(records):
        for key in ("video", "question", "answer"):
            if key not in rec:
                raise ValueError(f"{path}: item {i} has no {key!r} field: {str(rec)[:120]}")
        item_id = next((str(rec[k]) for k in _ID_FIELDS if rec.get(k) not in (None, "")), str(i))
        if item_id in seen:
            raise ValueError(f"{path}: duplicate item id {item_id!r}")
        seen.add(item_id)
        extra = {k: v for k, v in rec.items() if k not in ("video", "question", "answer")}
        items.append(EvalItem(item_id, str(rec["video"]), str(rec["question"]), rec["answer"], extra))
    return items


def check_video_id(video_id: str) -> None:
    """Raise ``UnsafeVideoId`` for an id that is absolute, has a drive, or contains a ``..`` component."""
    if "\x00" in video_id:
        raise UnsafeVideoId(f"video id contains a NUL byte: {video_id!r}")
    for pure in (PurePosixPath(video_id), PureWindowsPath(video_id)):
        if pure.is_absolute() or pure.anchor or ".." in pure.parts:
            raise UnsafeVideoId(f"video id escapes the video directory: {video_id!r}")


def resolve_video(video_dir: str | os.PathLike, video_id: str) -> Path:
    """The file of ``video_id`` under ``video_dir`` (its own extension first, then ``VIDEO_EXTENSIONS``).

    Raises ``UnsafeVideoId`` (never touching the file system for it) or ``FileNotFoundError`` naming the id.
    """
    check_video_id(video_id)
    root = Path(video_dir).resolve()
    base = root / video_id
    candidates = [base] if base.suffix.lower() in VIDEO_EXTENSIONS else []
    candidates += [base.with_name(base.name + ext) for ext in VIDEO_EXTENSIONS]
    candidates += [base.with_name(base.name + ext.upper()) for ext in VIDEO_EXTENSIONS]
    for cand in candidates:
        if cand.is_file():
            real = cand.resolve()
            if not real.is_relative_to(root):
                raise UnsafeVideoId(f"video id {video_id!r} resolves outside the video directory (symlink to {real})")
            return real
    raise FileNotFoundError(
        f"no video file for id {video_id!r} under {root} (tried the id as a file name and with each of "
        f"{len(VIDEO_EXTENSIONS)} video extensions, e.g. .mp4, .mkv, .webm)"
    )


def _option_lines(item: EvalItem) -> list[str]:
    """"A. text" lines for options given as a list field; options written inside the question stay where they are."""
    for name in _OPTION_FIELDS:
        value = item.extra.get(name)
        if isinstance(value, Sequence) and not isinstance(value, str) and value:
            return [f"{letter}. {text}" for letter, text in options_from_list([str(v) for v in value]).items()]
    return []


def vqa_prompt(item: EvalItem, preset: str = DEFAULT_PRESET) -> str:
    """User text for a multiple-choice item: video, then the question and options in the preset's instructions."""
    return VIDEO_PLACEHOLDER + get_preset(preset).vqa(item.question, _option_lines(item))


def vtg_prompt(item: EvalItem, preset: str = DEFAULT_PRESET) -> str:
    """User text for a grounding item: video, then the event description in the preset's instructions."""
    return VIDEO_PLACEHOLDER + get_preset(preset).vtg(item.question)

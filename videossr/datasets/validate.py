"""Check a verl parquet before training on it: every row, strictly.

Inside training the reward never raises (a broken row scores 0 and is logged); the strictness lives here, run by
``pretext_tasks/validate.py`` and by the launcher's dry run on every row of the training and validation files.
For each row:

* row shape: the columns verl's ``RLHFDataset`` reads (``data_source``, ``prompt``, ``videos``,
  ``reward_model.ground_truth``, ``extra_info``), chat messages with string contents, as many ``<video>``
  placeholders as ``videos`` entries, every video entry a non-empty frame list (or a path) with ``sample_fps`` > 0
  and ``0 < min_pixels <= max_pixels``;
* frames: every frame file exists, is not empty and decodes (each distinct file once, JPEGs decoded at 1/8 scale,
  which still reads the whole compressed stream, so a truncated or corrupt file is caught);
* recipe rows (made by the trainer, ``videossr.training.dataset``): the recipe reads, its frame store and video exist, its
  parameters are valid for the task (the frames listed are the sample's source frames, checked like any others);
* ground truth: for a VideoSSR data source it parses with the reward's own parser and the true answer scores 1.0
  against itself in both smooth and strict mode (the task's ``check_gold``); for any other data source, the configured reward function scores
  the true answer above 0 (a data source nobody can score, or one whose true answers score 0 under this reward,
  would train on a constant 0). Sources named in ``allow_sources`` skip that last check (e.g. a math set whose
  scorer needs a formatted answer).

Usage::

    python pretext_tasks/validate.py data/videossr/train.parquet [more.parquet ...] [--workers 8]

    from videossr.datasets.validate import validate_files
    report = validate_files(["data/videossr/train.parquet"])
    if not report.ok:
        print(report.format())
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from videossr.constants import VIDEO_PLACEHOLDER
from videossr.rewards import compute_score
from videossr.tasks import task_for_source

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("data_source", "prompt", "videos", "reward_model", "extra_info")
MAX_LISTED = 20  # problems listed in full; the rest are counted


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row."""

    file: str
    row: int  # position in the file (0-based)
    kind: str  # shape | frames | ground_truth | reward
    message: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row}: {self.kind}: {self.message}"


@dataclass
class Report:
    """What ``validate_files`` found."""

    rows: int = 0
    frames_checked: int = 0
    per_source: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rows > 0 and not self.problems

    def format(self, limit: int = MAX_LISTED) -> str:
        head = (
            f"{self.rows} rows, {self.frames_checked} distinct frame files checked; "
            f"data sources: {dict(sorted(self.per_source.items()))}"
        )
        if self.rows == 0:
            return head + "\nno rows: nothing to train on"
        if not self.problems:
            return head + "\nall rows valid"
        kinds = Counter(p.kind for p in self.problems)
        lines = [head, f"{len(self.problems)} problems ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}):"]
        lines += [f"  {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# Row shape


def _frame_lists(videos: Any) -> list[list[str]]:
    """The frame paths of each video entry (a single path counts as one file)."""
    out = []
    for v in videos:
        if isinstance(v, str):
            out.append([v])
        elif isinstance(v, Mapping):
            frames = v.get("video")
            out.append([frames] if isinstance(frames, str) else [str(f) for f in (frames if frames is not None else [])])
        else:
            out.append([])
    return out


def shape_problems(row: Mapping[str, Any]) -> list[str]:
    """What is wrong with the row's shape (empty if nothing)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in row or row[c] is None]
    if missing:
        return [f"missing column(s) {missing}"]
    out = []
    if not isinstance(row["data_source"], str) or not row["data_source"].strip():
        out.append(f"data_source must be a non-empty string, got {row['data_source']!r}")
    prompt = row["prompt"]
    if not isinstance(prompt, (list, tuple)) or not prompt:
        return out + [f"prompt must be a non-empty list of chat messages, got {type(prompt).__name__}"]
    placeholders = 0
    for k, m in enumerate(prompt):
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str) or not isinstance(m.get("role"), str):
            out.append(f"prompt[{k}] must be {{'role': str, 'content': str}}, got {m!r}"[:200])
            continue
        placeholders += m["content"].count(VIDEO_PLACEHOLDER)
    videos = row["videos"]
    if not isinstance(videos, (list, tuple)):
        return out + [f"videos must be a list, got {type(videos).__name__}"]
    if placeholders != len(videos):
        out.append(f"{placeholders} {VIDEO_PLACEHOLDER} placeholders in the prompt but {len(videos)} videos")
    for k, v in enumerate(videos):
        if isinstance(v, str):
            continue
        if not isinstance(v, Mapping):
            out.append(f"videos[{k}] must be a path or a dict, got {type(v).__name__}")
            continue
        frames = v.get("video")
        if frames is None or (not isinstance(frames, str) and len(frames) == 0):
            out.append(f"videos[{k}] has no frames")
        fps = v.get("sample_fps")
        if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            out.append(f"videos[{k}].sample_fps must be > 0, got {fps!r}")
        lo, hi = v.get("min_pixels"), v.get("max_pixels")
        if lo is not None and hi is not None and not 0 < lo <= hi:
            out.append(f"videos[{k}] needs 0 < min_pixels <= max_pixels, got {lo!r} and {hi!r}")
    rm = row["reward_model"]
    if not isinstance(rm, Mapping) or "ground_truth" not in rm:
        out.append(f"reward_model must be a dict with ground_truth, got {rm!r}"[:200])
    if not isinstance(row["extra_info"], Mapping):
        out.append(f"extra_info must be a dict, got {type(row['extra_info']).__name__}")
    return out


# ----------------------------------------------------------------------------------------------------------------
# Frames


def frame_problem(path: str) -> str | None:
    """Why the frame file ``path`` cannot be used (None if it can): missing, empty, or not a decodable image."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        return f"missing frame {path}"
    except OSError as e:
        return f"unreadable frame {path}: {e}"
    if size == 0:
        return f"empty frame {path}"
    try:
        with Image.open(p) as im:
            if im.format == "JPEG":
                im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except Exception as e:  # noqa: BLE001 - whatever PIL raises on a broken file is this file's problem
        return f"frame {path} does not decode: {type(e).__name__}: {e}"
    return None


def _check_frames(paths: Iterable[str], workers: int) -> dict[str, str]:
    unique = sorted(set(paths))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(frame_problem, unique, chunksize=64))
    return {p: r for p, r in zip(unique, results) if r is not None}


# ----------------------------------------------------------------------------------------------------------------
# Ground truth


def ground_truth_problem(
    row: Mapping[str, Any],
    reward_fn: Callable[..., Any] = compute_score,
    allow_sources: Sequence[str] = (),
) -> str | None:
    """Why the row's true answer cannot train (None if it can); see the module docstring."""
    source = row["data_source"]
    gold = (row.get("reward_model") or {}).get("ground_truth")
    task = task_for_source(source)
    if task is not None:
        try:
            task.check_gold(gold)
        except ValueError as e:
            return str(e)
        return None
    if source in allow_sources:
        return None
    try:
        result = reward_fn(data_source=source, solution_str=str(gold), ground_truth=gold,
                           extra_info=row.get("extra_info"))
        value = float(result["score"] if isinstance(result, Mapping) else result)
        known = float(result.get("gold_ok", 1.0)) if isinstance(result, Mapping) else 1.0
    except Exception as e:  # noqa: BLE001 - reported as this row's problem
        return f"the reward raised on data_source {source!r}: {type(e).__name__}: {e}"
    if known == 0.0:
        return f"data_source {source!r} is neither a VideoSSR task nor one verl's scorers know"
    if not value > 0:
        return (
            f"the true answer {str(gold)[:60]!r} of data_source {source!r} scores {value} under the configured "
            f"reward: training on it would see a constant 0 (allow it explicitly if its scorer needs a formatted "
            f"answer)"
        )
    return None


def recipe_problem(row: Mapping[str, Any]) -> str | None:
    """Why a recipe row cannot be made (None if it can, or if it is not a recipe row)."""
    from videossr.sampling.store import store_context
    from videossr.tasks.recipe import read_recipe
    from videossr.tasks import get_task

    try:
        recipe = read_recipe(row)
        if recipe is None:
            return None
        task = get_task((row.get("extra_info") or {}).get("task"))
        task.params_from_json(recipe["params"])
        _, videos = store_context(recipe["frames_root"])
        video_id = row["extra_info"]["video_id"]
        if video_id not in videos:
            return f"video {video_id!r} is not in the frame store {recipe['frames_root']}"
        for key in ("seed", "index"):
            if not isinstance(recipe.get(key), int) or recipe[key] < 0:
                return f"recipe {key} must be an integer >= 0, got {recipe.get(key)!r}"
    except (ValueError, KeyError, TypeError, OSError) as e:
        return f"the recipe cannot be made: {type(e).__name__}: {e}"
    return None


# ----------------------------------------------------------------------------------------------------------------


def read_rows(path: str | os.PathLike) -> list[dict]:
    """The rows of a parquet file as dicts (ValueError naming the file if it cannot be read)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as e:  # noqa: BLE001 - any reader failure names the file
        raise ValueError(f"cannot read {path} as parquet: {type(e).__name__}: {e}") from None


def validate_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    file: str = "<rows>",
    reward_fn: Callable[..., Any] = compute_score,
    check_frames: bool = True,
    allow_sources: Sequence[str] = (),
    workers: int = 8,
    report: Report | None = None,
) -> Report:
    """Check ``rows`` (see the module docstring); problems are added to ``report`` (a new one if None)."""
    report = report if report is not None else Report()
    frame_users: dict[str, int] = {}
    for i, row in enumerate(rows):
        report.rows += 1
        shape = shape_problems(row)
        report.problems += [Problem(file, i, "shape", m) for m in shape]
        if shape:
            continue
        report.per_source[str(row["data_source"])] += 1
        recipe = recipe_problem(row)
        if recipe is not None:
            report.problems.append(Problem(file, i, "recipe", recipe))
        gt = ground_truth_problem(row, reward_fn, allow_sources)
        if gt is not None:
            report.problems.append(Problem(file, i, "ground_truth", gt))
        if check_frames:
            for frames in _frame_lists(row["videos"]):
                for f in frames:
                    frame_users.setdefault(f, i)
    if check_frames and frame_users:
        bad = _check_frames(frame_users, workers)
        report.frames_checked += len(frame_users)
        for path, message in sorted(bad.items(), key=lambda kv: frame_users[kv[0]]):
            report.problems.append(Problem(file, frame_users[path], "frames", message))
    return report


def validate_files(
    paths: Sequence[str | os.PathLike],
    *,
    reward_fn: Callable[..., Any] = compute_score,
    check_frames: bool = True,
    allow_sources: Sequence[str] = (),
    workers: int = 8,
) -> Report:
    """``validate_rows`` over every row of every file (each file read once)."""
    report = Report()
    for path in paths:
        rows = read_rows(path)
        logger.info("validating %d rows of %s", len(rows), path)
        validate_rows(rows, file=str(path), reward_fn=reward_fn, check_frames=check_frames,
                      allow_sources=allow_sources, workers=workers, report=report)
    return report

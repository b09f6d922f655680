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
* params (``params_problems``), for every VideoSSR row: ``extra_info.task`` is the data_source's task;
  ``extra_info.params`` parses and the task re-derives from it (``PretextTask.redraft``, as the dataset class would
  render it) exactly the row's question and ground truth, every field the renderer reads checked (a grounding
  segment inside the video, a perturbation and its drawn parameters, a jigsaw order, every counting shape). Recipe
  rows (made by the trainer, ``videossr.training.dataset``) also: the recipe reads, its frame store and video exist,
  the params fit that video (frame count, clock, the pool a Swap borrows from), its task parameters, seed and index
  are valid, and its videos are exactly the source frames of the sample's layout at the video's clock (checked on
  disk like any other frames);
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

import json
import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from videossr.constants import VIDEO_PLACEHOLDER
from videossr.rewards import compute_score
from videossr.sampling.store import frame_file_problem
from videossr.tasks import task_for_source

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("data_source", "prompt", "videos", "reward_model", "extra_info")
MAX_LISTED = 20  # problems listed in full; the rest are counted


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row."""

    file: str
    row: int  # position in the file (0-based)
    kind: str  # shape | params | frames | ground_truth
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
    return frame_file_problem(path)


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


def _user_question(row: Mapping[str, Any]) -> str | None:
    return next((m["content"] for m in row["prompt"] if m.get("role") == "user"), None)


def _recipe_video(row: Mapping[str, Any], recipe: Mapping[str, Any], task: Any) -> tuple[Any, Any, list[str]]:
    """(video, ctx, problems) of a recipe row: its recipe's fields checked and its video found in the store."""
    from videossr.sampling.store import store_context

    problems = []
    for key in ("seed", "index", "attempt"):
        value = recipe.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"extra_info.recipe.{key}: must be an integer >= 0, got {value!r:.80}")
    try:
        task.params_from_json(recipe.get("params"))
    except (ValueError, TypeError, AttributeError) as e:
        problems.append(f"extra_info.recipe.params: not {task.name} parameters: {type(e).__name__}: {e}")
    root = recipe.get("frames_root")
    if not isinstance(root, str) or not root:
        return None, None, problems + [f"extra_info.recipe.frames_root: must be a path, got {root!r:.80}"]
    try:
        ctx, videos = store_context(root)
    except (OSError, ValueError) as e:
        return None, None, problems + [f"extra_info.recipe.frames_root: no readable frame store at {root}: "
                                       f"{type(e).__name__}: {e}"]
    video_id = row["extra_info"].get("video_id")
    video = videos.get(video_id) if isinstance(video_id, str) else None
    if video is None:
        problems.append(f"extra_info.video_id: {video_id!r:.80} is not in the frame store {root}")
    return video, ctx, problems


def params_problems(row: Mapping[str, Any]) -> list[str]:
    """What is wrong with the fields the dataset class reads to make a VideoSSR row (empty if nothing).

    ``extra_info.task`` must be the data_source's task; ``extra_info.params`` must be a JSON object from which the
    task re-derives (``PretextTask.redraft``) exactly the row's question and ground truth, and which fits the video;
    for a recipe row also its recipe (format, frame store, video, task parameters, seed, index) and its videos, which
    must be the layout of the sample's source frames at the video's clock. Each message starts with the field.
    Rows of other data sources, and tasks that cannot re-derive their drafts, are left to the other checks.
    """
    from videossr.tasks.recipe import read_recipe

    task = task_for_source(row["data_source"])
    if task is None:
        return []
    extra = row["extra_info"]
    if extra.get("task") != task.name:
        return [f"extra_info.task: {extra.get('task')!r:.80} is not the task of data_source "
                f"{row['data_source']!r} ({task.name!r})"]
    raw = extra.get("params")
    try:
        audit = json.loads(raw) if isinstance(raw, str) else None
    except ValueError as e:
        return [f"extra_info.params: not JSON: {e}"]
    if not isinstance(audit, dict):
        return [f"extra_info.params: must be a JSON object as a string, got {raw!r:.80}"]
    try:
        recipe = read_recipe(row)
    except (ValueError, TypeError) as e:
        return [f"extra_info.recipe: {type(e).__name__}: {e}"]
    problems: list[str] = []
    video = ctx = None
    if recipe is not None:
        video, ctx, problems = _recipe_video(row, recipe, task)
        if video is None:
            return problems
    try:
        draft = task.redraft(audit, video, ctx)
    except (ValueError, TypeError, KeyError) as e:
        return problems + [f"extra_info.params.{e}" if isinstance(e, ValueError) else
                           f"extra_info.params: {type(e).__name__}: {e}"]
    if draft is None:
        return problems
    gold = row["reward_model"].get("ground_truth")
    if draft.answer != gold:
        problems.append(f"reward_model.ground_truth: {gold!r:.80} is not the answer its params give, "
                        f"{draft.answer!r}")
    if draft.question != _user_question(row):
        problems.append("prompt: the user turn is not the question its params give")
    if recipe is not None:
        problems += _layout_problems(row, task, audit, video, ctx)
    return problems


def _layout_problems(row: Mapping[str, Any], task: Any, audit: Mapping[str, Any], video: Any, ctx: Any) -> list[str]:
    """A recipe row's videos: the source frames of the sample's layout, at the video's clock."""
    layout = [[str(f) for f in clip] for clip in task.layout(video, ctx, audit)]
    listed = _frame_lists(row["videos"])
    if [len(c) for c in listed] != [len(c) for c in layout]:
        return [f"videos: clips of {[len(c) for c in listed]} frames, but its params give clips of "
                f"{[len(c) for c in layout]} frames"]
    for k, (have, want) in enumerate(zip(listed, layout)):
        if have != want:
            f = next(i for i, (a, b) in enumerate(zip(have, want)) if a != b)
            return [f"videos[{k}].video[{f}]: {have[f]!r} is not the source frame its params give, {want[f]!r}"]
    for k, entry in enumerate(row["videos"]):
        fps = entry.get("sample_fps") if isinstance(entry, Mapping) else None
        if fps is None or float(fps) != float(video.sample_fps):
            return [f"videos[{k}].sample_fps: {fps!r}, but the video {video.video_id!r} is sampled at "
                    f"{video.sample_fps}"]
    return []


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
        report.problems += [Problem(file, i, "params", m) for m in params_problems(row)]
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

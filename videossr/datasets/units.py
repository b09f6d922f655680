"""Unit files: one committed sample per file, and the new pixels it made; what makes a build resumable.

A dataset lives in one folder ``ROOT`` (the output's own folder; nothing is written anywhere else)::

    ROOT/units/<task>/<key>.json        one committed sample: its plan entry, its verl row (or why it failed)
    ROOT/frames/<task>/<key>/CC_FFF.jpg  the new pixels of that sample (clip CC, frame FFF), if it made any

Untouched frames are referenced by their absolute path in the frame store. A sample's frames folder is written
atomically, then its unit file is written atomically, so a unit file on disk means the sample is complete: a rerun
skips every unit whose file matches its plan entry and reassembles the parquet from the unit files.

A sample whose task raises ``ValueError`` or ``OSError`` (e.g. too few frames for the clips, an unreadable frame)
is committed as a failure, reported, and skipped; the batch goes on. Anything else aborts the run. Every answer
written is checked with the task's own gold parser and must score 1.0 against itself in both modes; a draw that
fails is drawn again from the next random stream (``redraws``), at most ``videossr.tasks.recipe.MAX_DRAWS`` times.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from videossr.io import atomic_dir, dumps_jsonl_line, is_temporary, json_ready, write_bytes_atomic
from videossr.sampling.store import TaskContext, VideoRecord, encode_jpeg
from videossr.datasets.planning import Unit
from videossr.tasks.sample import Clip, Sample, distinct_new_frames, to_verl_row
from videossr.tasks import get_task, task_names
from videossr.tasks.base import Draft
from videossr.tasks.recipe import draw, new_recipe

logger = logging.getLogger(__name__)

UNITS_DIR = "units"
FRAMES_DIR = "frames"


@dataclass(frozen=True)
class Outcome:
    """A committed unit, as read back from its file."""

    unit: Unit
    row: dict | None
    error: str | None  # "ExceptionType: message" when the task failed on this video
    new_frames: int
    redraws: int = 0  # draws discarded because their answer could not be scored (see run_unit)

    @property
    def ok(self) -> bool:
        return self.row is not None


def unit_file(root: Path, unit: Unit) -> Path:
    return root / UNITS_DIR / unit.task / f"{unit.key}.json"


def unit_frames_dir(root: Path, unit: Unit) -> Path:
    return root / FRAMES_DIR / unit.task / unit.key


def save_sample(sample: Sample, unit: Unit, root: Path) -> tuple[dict, int]:
    """Write the sample's new pixels under ``root`` (atomically) and return its verl row and the files written.

    Identical new frames within one sample (e.g. a held frame) are stored once and referenced several times.
    """
    frames_dir = unit_frames_dir(root, unit)
    if frames_dir.exists():  # left by an older plan of this key: this sample replaces it
        shutil.rmtree(frames_dir)
    distinct, slots = distinct_new_frames(sample.clips)
    names = [f"{c:02d}_{f:03d}.jpg" for c, f, _ in distinct]
    if distinct:
        with atomic_dir(frames_dir) as tmp:
            for name, (_, _, frame) in zip(names, distinct):
                (tmp / name).write_bytes(encode_jpeg(frame))
    paths = [
        [str(frames_dir / names[k]) if k is not None else str(frame) for k, frame in zip(clip_slots, clip.frames)]
        for clip_slots, clip in zip(slots, sample.clips)
    ]
    row = to_verl_row(
        sample, paths, index=unit.row_index, split=unit.split, min_pixels=unit.min_pixels, max_pixels=unit.max_pixels
    )
    return row, len(distinct)


def read_outcome(root: Path, unit: Unit) -> Outcome | None:
    """The committed outcome of ``unit``, or None if it has no unit file or one from a different plan.

    A recipe unit's file holds its draft, not its row (the row is rebuilt from the draft and the frame store, the
    same way it was made): a 30K mix's unit files stay small.
    """
    path = unit_file(root, unit)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        raise ValueError(f"corrupt unit file {path}: {e}") from None
    if record.get("unit") != unit.fingerprint():
        return None
    row, redraws = record.get("row"), int(record.get("redraws", 0))
    if record.get("draft") is not None:
        from videossr.sampling.store import store_context  # the frame store, read once per process

        ctx, videos = store_context(unit.frames_root)
        d = record["draft"]
        row = recipe_row(unit, Draft(unit.video_id, d["question"], d["answer"], d["params"]),
                         videos[unit.video_id], ctx, redraws)
    return Outcome(unit=unit, row=row, error=record["error"], new_frames=int(record["new_frames"]), redraws=redraws)


def draw_unit(unit: Unit, video: VideoRecord, ctx: TaskContext) -> tuple[Draft, int]:
    """The unit's draft and the number of discarded draws (``videossr.tasks.recipe.draw``)."""
    return draw(unit.task, unit.params, unit.seed, unit.index, video, ctx, label=unit.key)


def recipe_row(unit: Unit, draft: Draft, video: VideoRecord, ctx: TaskContext, attempt: int) -> dict:
    """The recipe row of a drafted unit: its answer and question, its source-frame layout, its recipe."""
    task = get_task(unit.task)
    layout = task.layout(video, ctx, draft.params)
    sample = Sample(task=task.name, data_source=task.data_source, video_id=draft.video_id, question=draft.question,
                    answer=draft.answer, clips=tuple(Clip(frames, video.sample_fps) for frames in layout),
                    params=draft.params)
    return to_verl_row(sample, layout, index=unit.row_index, split=unit.split, min_pixels=unit.min_pixels,
                       max_pixels=unit.max_pixels, recipe=new_recipe(ctx.frames_root, unit.params, unit.seed, unit.index, attempt))


def run_unit(unit: Unit, root: Path, ctx: TaskContext, videos: dict[str, VideoRecord]) -> Outcome:
    """Make, save and commit one sample or its recipe (or commit its failure)."""
    try:
        video = videos[unit.video_id]
    except KeyError:
        raise ValueError(f"{unit.key}: video {unit.video_id!r} is not in the frame store {ctx.frames_root}") from None
    row, error, written, redraws, kept = None, None, 0, 0, None
    try:
        draft, redraws = draw_unit(unit, video, ctx)
        if unit.materialize:
            row, written = save_sample(get_task(unit.task).render(draft, video, ctx), unit, root)
        else:
            row = recipe_row(unit, draft, video, ctx, redraws)
            kept = {"question": draft.question, "answer": draft.answer, "params": draft.params}
    except (ValueError, OSError) as e:
        error = f"{type(e).__name__}: {e}"
        logger.warning("%s on %s failed: %s", unit.key, unit.video_id, error)
        stale = unit_frames_dir(root, unit)
        if stale.exists():
            shutil.rmtree(stale)
    else:
        if not unit.materialize:
            stale = unit_frames_dir(root, unit)
            if stale.exists():  # left by a materialised build of this key
                shutil.rmtree(stale)
    record = {"unit": unit.fingerprint(), "error": error, "new_frames": written, "redraws": redraws}
    record.update({"draft": kept} if kept is not None else {"row": row})
    write_bytes_atomic(unit_file(root, unit), dumps_jsonl_line(json_ready(record)).encode("utf-8"))
    return Outcome(unit=unit, row=row, error=error, new_frames=written, redraws=redraws)


_KEY_RE = re.compile(r"^(?P<task>[a-z]+)_[0-9]{6}(\.json)?$")


def _ours(task_dir: Path, entry: Path) -> bool:
    """Whether ``entry`` is a file or folder this module writes (a unit, a frames folder or a temporary of one)."""
    if is_temporary(entry.name):
        return True
    m = _KEY_RE.match(entry.name)
    return m is not None and m.group("task") == task_dir.name


def prune(root: str | os.PathLike, units: Iterable[Unit]) -> int:
    """Remove unit files and frame folders under ``root`` that ``units`` do not plan (and leftover temporaries).

    Only names this module writes (``ROOT/{units,frames}/<task>/<task>_NNNNNN[.json]``) are ever removed.
    """
    root = Path(root)
    keep = {(u.task, u.key) for u in units}
    removed = 0
    for sub in (UNITS_DIR, FRAMES_DIR):
        for task in task_names():
            task_dir = root / sub / task
            if not task_dir.is_dir():
                continue
            for entry in sorted(task_dir.iterdir()):
                key = entry.name.removesuffix(".json")
                if not _ours(task_dir, entry) or ((task, key) in keep and not entry.name.startswith(".")):
                    continue
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                removed += 1
    if removed:
        logger.info("removed %d stale unit files/folders under %s", removed, root)
    return removed


def count_outcomes(outcomes: Iterable[Outcome]) -> dict:
    """Counts per task, per variant and per split, and the failures (for metadata files and summaries)."""
    per_task: dict[str, int] = {}
    per_variant: dict[str, dict[str, int]] = {}
    per_split: dict[str, int] = {}
    failures = []
    for o in outcomes:
        if not o.ok:
            u = o.unit
            failures.append({"key": u.key, "video_id": u.video_id, "variant": u.variant, "error": o.error})
            continue
        per_task[o.unit.task] = per_task.get(o.unit.task, 0) + 1
        variants = per_variant.setdefault(o.unit.task, {})
        variants[o.unit.variant] = variants.get(o.unit.variant, 0) + 1
        per_split[o.unit.split] = per_split.get(o.unit.split, 0) + 1
    return {
        "samples": sum(per_task.values()),
        "per_task": dict(sorted(per_task.items())),
        "per_variant": {t: dict(sorted(v.items())) for t, v in sorted(per_variant.items())},
        "per_split": dict(sorted(per_split.items())),
        "new_frames": sum(o.new_frames for o in outcomes),
        "redraws": sum(o.redraws for o in outcomes),
        "failures": failures,
    }

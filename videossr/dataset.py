"""Turn pretext-task samples into a verl dataset on disk: frames, per-sample units, parquet.

A dataset lives in one folder ``ROOT`` (the output's own folder; nothing is written anywhere else)::

    ROOT/units/<task>/<key>.json        one committed sample: its plan entry, its verl row (or why it failed)
    ROOT/frames/<task>/<key>/CC_FFF.jpg  the new pixels of that sample (clip CC, frame FFF), if it made any

Untouched frames are referenced by their absolute path in the frame store. A sample's frames directory is written
atomically, then its unit file is written atomically, so a unit file on disk means the sample is complete: a rerun
skips every unit whose file matches its plan entry and reassembles the parquet from the unit files.

Determinism. Which video and which variant (perturbation, difficulty) a sample gets is fixed by the plan; the
sample's own randomness is ``numpy.random.default_rng([seed, SAMPLE_STREAM, task_id, index])`` where ``index`` is
the sample's number within its task. Nothing depends on worker count, executor or completion order, so the same
inputs and seed give byte-identical frames and parquet. Video assignment: within each task, sample ``i`` uses video
``perm_e[i % n]`` where ``e = i // n`` and ``perm_e`` is a seeded permutation of the ``n`` videos drawn afresh for
every pass ``e`` over them (so every video is used equally often, and with few videos the variant and the video
are not locked together). Variants get exact counts (largest remainder on their weights) in a seeded order.

A sample whose task raises ``ValueError`` or ``OSError`` (e.g. too few frames for the clips, an unreadable frame)
is committed as a failure, reported, and skipped; the batch goes on. Anything else aborts the run.

Executors: ``local`` (this process for ``workers <= 1``, else a process pool) and ``ray`` (the same per-chunk work as
Ray tasks; with ``RAY_ADDRESS`` set it joins that cluster, whose workers must see ``ROOT`` and the frame store on a
shared filesystem).

Usage::

    from videossr.dataset import Variant, plan_task, generate, write_parquet
    units = plan_task("jigsaw", [Variant("6clips", jigsaw.Params(6))], count=100, videos=records, seed=0)
    outcomes = generate(units, root, frames_root, workers=2)
    write_parquet([o.row for o in outcomes if o.row is not None], root / "jigsaw.parquet")
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import logging
import multiprocessing
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from tqdm.auto import tqdm

from videossr.data_sources import TASKS
from videossr.io import atomic_dir, atomic_path, write_json_atomic
from videossr.manifest import MANIFEST_NAME, VideoRecord, read_manifest
from videossr.rewards.scoring import check_ground_truth
from videossr.sample import TRAIN_MAX_PIXELS, TRAIN_MIN_PIXELS, Sample, to_verl_row
from videossr.tasks.base import TaskContext
from videossr.tasks.registry import get_task, json_ready, params_to_json

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Fixed, so the same pixels always give the same bytes; the frame sampler's settings, so a new frame does not stand
# out from the stored ones by its compression.
JPEG_QUALITY = 90
UNITS_DIR = "units"
FRAMES_DIR = "frames"
EXECUTORS = ("local", "ray")
SPLITS = ("train", "val")

# Tags that keep the random streams apart (first entropy word after the seed).
SAMPLE_STREAM, VIDEO_STREAM, VARIANT_STREAM, SPLIT_STREAM, SHUFFLE_STREAM = range(5)

# The parquet schema: every row has exactly these keys (see the Arrow pitfall in the verl notes).
ROW_SCHEMA = pa.schema(
    [
        pa.field("data_source", pa.string()),
        pa.field("prompt", pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())]))),
        pa.field(
            "videos",
            pa.list_(
                pa.struct(
                    [
                        pa.field("video", pa.list_(pa.string())),
                        pa.field("sample_fps", pa.float64()),
                        pa.field("min_pixels", pa.int64()),
                        pa.field("max_pixels", pa.int64()),
                    ]
                )
            ),
        ),
        pa.field("ability", pa.string()),
        pa.field("reward_model", pa.struct([pa.field("style", pa.string()), pa.field("ground_truth", pa.string())])),
        pa.field(
            "extra_info",
            pa.struct(
                [
                    pa.field("index", pa.int64()),
                    pa.field("split", pa.string()),
                    pa.field("task", pa.string()),
                    pa.field("video_id", pa.string()),
                    pa.field("params", pa.string()),
                ]
            ),
        ),
    ]
)


def task_id(task: str) -> int:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    return TASKS.index(task)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed


@dataclass(frozen=True)
class Variant:
    """A named parameter set of a task (e.g. one perturbation, one difficulty) and its share of the samples."""

    label: str
    params: Any
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.label or "/" in self.label:
            raise ValueError(f"variant label must be a non-empty name without '/', got {self.label!r}")
        if not self.weight > 0:
            raise ValueError(f"variant {self.label!r}: weight must be > 0, got {self.weight!r}")


@dataclass(frozen=True)
class Unit:
    """One planned sample: everything that determines it."""

    task: str
    index: int  # number of the sample within its task: drives its RNG
    row_index: int  # extra_info.index: unique within the dataset
    variant: str
    params: Any  # the task's Params
    video_id: str
    seed: int
    split: str = "train"
    min_pixels: int = TRAIN_MIN_PIXELS
    max_pixels: int = TRAIN_MAX_PIXELS

    def __post_init__(self) -> None:
        task_id(self.task)
        if self.index < 0 or self.row_index < 0:
            raise ValueError(f"{self.task}: indices must be >= 0, got {self.index}, {self.row_index}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")
        _check_seed(self.seed)

    @property
    def key(self) -> str:
        return f"{self.task}_{self.index:06d}"

    def rng(self, attempt: int = 0) -> np.random.Generator:
        """The sample's random stream; ``attempt`` > 0 gives the streams of its redraws (see ``run_unit``)."""
        key = [self.seed, SAMPLE_STREAM, task_id(self.task), self.index]
        return np.random.default_rng(key if attempt == 0 else [*key, attempt])

    def fingerprint(self) -> dict:
        """The unit as JSON: a committed unit file is reused only if its fingerprint is equal."""
        return {
            "format": FORMAT_VERSION,
            "task": self.task,
            "index": self.index,
            "row_index": self.row_index,
            "variant": self.variant,
            "params": params_to_json(self.params),
            "video_id": self.video_id,
            "seed": self.seed,
            "split": self.split,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
        }


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


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integer counts proportional to ``weights`` (ties go to the earlier entry)."""
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    if not weights or any(not w > 0 for w in weights):
        raise ValueError(f"weights must be non-empty and positive, got {list(weights)}")
    s = float(sum(weights))
    exact = [total * w / s for w in weights]
    counts = [int(np.floor(x)) for x in exact]
    order = sorted(range(len(weights)), key=lambda k: (-(exact[k] - counts[k]), k))
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return counts


def assign_videos(videos: Sequence[VideoRecord], task: str, count: int, seed: int) -> list[VideoRecord]:
    """The video of each of ``count`` samples of ``task`` (see the module docstring)."""
    if not videos:
        raise ValueError("no videos to make samples from (the frame store's manifest is empty)")
    videos = sorted(videos, key=lambda r: r.video_id)
    n = len(videos)
    out = []
    for epoch in range((count + n - 1) // n):
        perm = np.random.default_rng([seed, VIDEO_STREAM, task_id(task), epoch]).permutation(n)
        out.extend(videos[int(k)] for k in perm)
    return out[:count]


def assign_variants(variants: Sequence[Variant], task: str, count: int, seed: int) -> list[Variant]:
    """Exact counts per variant (largest remainder on the weights), in a seeded order."""
    counts = largest_remainder(count, [v.weight for v in variants])
    labels = [v.label for v in variants]
    if len(set(labels)) != len(labels):
        raise ValueError(f"variant labels must be unique, got {labels}")
    expanded = [v for v, c in zip(variants, counts) for _ in range(c)]
    perm = np.random.default_rng([seed, VARIANT_STREAM, task_id(task)]).permutation(len(expanded))
    return [expanded[int(k)] for k in perm]


def plan_task(
    task: str,
    variants: Sequence[Variant],
    *,
    count: int,
    videos: Sequence[VideoRecord],
    seed: int,
    first_row_index: int = 0,
    min_pixels: int = TRAIN_MIN_PIXELS,
    max_pixels: int = TRAIN_MAX_PIXELS,
) -> list[Unit]:
    """The ``count`` units of one task, numbered from 0, rows numbered from ``first_row_index``."""
    _check_seed(seed)
    chosen_videos = assign_videos(videos, task, count, seed)
    chosen_variants = assign_variants(variants, task, count, seed)
    return [
        Unit(
            task=task,
            index=i,
            row_index=first_row_index + i,
            variant=variant.label,
            params=variant.params,
            video_id=video.video_id,
            seed=seed,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
        )
        for i, (video, variant) in enumerate(zip(chosen_videos, chosen_variants))
    ]


def assign_splits(units: Sequence[Unit], val_fraction: float, seed: int) -> list[Unit]:
    """Mark ``round(val_fraction * len(units))`` seeded-random units as ``val``."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    k = int(round(val_fraction * len(units)))
    val = set(np.random.default_rng([seed, SPLIT_STREAM]).permutation(len(units))[:k].tolist())
    return [dataclasses.replace(u, split="val" if i in val else "train") for i, u in enumerate(units)]


def shuffled(rows: Sequence[dict], seed: int) -> list[dict]:
    """``rows`` in a seeded random order (the order of the combined train file)."""
    perm = np.random.default_rng([seed, SHUFFLE_STREAM]).permutation(len(rows))
    return [rows[int(k)] for k in perm]


# ----------------------------------------------------------------------------------------------------------------
# Doing one unit


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
    names: list[list[str | None]] = []
    pending: dict[bytes, tuple[str, np.ndarray]] = {}
    for c, clip in enumerate(sample.clips):
        clip_names: list[str | None] = []
        for f, frame in enumerate(clip.frames):
            if isinstance(frame, np.ndarray):
                digest = frame.shape[0].to_bytes(4, "little") + frame.shape[1].to_bytes(4, "little") + frame.tobytes()
                name = pending.setdefault(digest, (f"{c:02d}_{f:03d}.jpg", frame))[0]
                clip_names.append(name)
            else:
                clip_names.append(None)
        names.append(clip_names)
    if pending:
        with atomic_dir(frames_dir) as tmp:
            for name, frame in pending.values():
                Image.fromarray(frame).save(
                    tmp / name, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False,
                    subsampling="4:2:0",
                )
    paths = [
        [str(frames_dir / name) if name is not None else str(frame) for name, frame in zip(clip_names, clip.frames)]
        for clip_names, clip in zip(names, sample.clips)
    ]
    row = to_verl_row(
        sample, paths, index=unit.row_index, split=unit.split, min_pixels=unit.min_pixels, max_pixels=unit.max_pixels
    )
    return row, len(pending)


def read_outcome(root: Path, unit: Unit) -> Outcome | None:
    """The committed outcome of ``unit``, or None if it has no unit file or one from a different plan."""
    path = unit_file(root, unit)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        raise ValueError(f"corrupt unit file {path}: {e}") from None
    if record.get("unit") != unit.fingerprint():
        return None
    return Outcome(unit=unit, row=record["row"], error=record["error"], new_frames=int(record["new_frames"]),
                   redraws=int(record.get("redraws", 0)))


# A draw whose answer the reward could not score is drawn again from the next stream, at most this many times.
MAX_DRAWS = 4


def _draw_sample(spec, unit: Unit, video: VideoRecord, ctx: TaskContext) -> tuple[Sample, int]:
    """The unit's sample and the number of discarded draws; ValueError if no draw gives a scorable answer.

    Every answer written must parse with the reward's own ground-truth parser and score 1.0 against itself in both
    modes (``check_ground_truth``). The first draw uses the unit's stream, so a valid first draw is what it always was.
    """
    problems = []
    for attempt in range(MAX_DRAWS):
        sample = spec.make_sample(video, unit.rng(attempt), unit.params, ctx)
        try:
            check_ground_truth(unit.task, sample.answer)
        except ValueError as e:
            problems.append(str(e))
            logger.warning("%s on %s: draw %d has an unscorable answer (%s); drawing again",
                           unit.key, unit.video_id, attempt, e)
            continue
        return sample, attempt
    raise ValueError(f"no scorable answer in {MAX_DRAWS} draws: {problems[-1]}")


def run_unit(unit: Unit, root: Path, ctx: TaskContext, videos: dict[str, VideoRecord]) -> Outcome:
    """Make, save and commit one sample (or commit its failure)."""
    spec = get_task(unit.task)
    try:
        video = videos[unit.video_id]
    except KeyError:
        raise ValueError(f"{unit.key}: video {unit.video_id!r} is not in the frame store {ctx.frames_root}") from None
    row, error, written, redraws = None, None, 0, 0
    try:
        sample, redraws = _draw_sample(spec, unit, video, ctx)
    except (ValueError, OSError) as e:
        error = f"{type(e).__name__}: {e}"
        logger.warning("%s on %s failed: %s", unit.key, unit.video_id, error)
        stale = unit_frames_dir(root, unit)
        if stale.exists():
            shutil.rmtree(stale)
    else:
        row, written = save_sample(sample, unit, root)
    record = {"unit": unit.fingerprint(), "row": row, "error": error, "new_frames": written, "redraws": redraws}
    write_json_atomic(unit_file(root, unit), json_ready(record))
    return Outcome(unit=unit, row=row, error=error, new_frames=written, redraws=redraws)


@functools.lru_cache(maxsize=4)
def _load_store(frames_root: str, _stamp: tuple[int, int]) -> tuple[TaskContext, dict[str, VideoRecord]]:
    records = read_manifest(frames_root)
    return TaskContext(frames_root=Path(frames_root), pool=tuple(records)), {r.video_id: r for r in records}


def _store(frames_root: str) -> tuple[TaskContext, dict[str, VideoRecord]]:
    st = os.stat(Path(frames_root) / MANIFEST_NAME)
    return _load_store(frames_root, (st.st_mtime_ns, st.st_size))


def run_chunk(units: Sequence[Unit], root: str, frames_root: str) -> list[tuple[str, bool]]:
    """Do a list of units (the work of one process-pool or Ray task); returns (key, ok) per unit."""
    ctx, videos = _store(frames_root)
    return [(u.key, run_unit(u, Path(root), ctx, videos).ok) for u in units]


# ----------------------------------------------------------------------------------------------------------------
# Doing many units


def _chunks(units: Sequence[Unit], workers: int) -> list[list[Unit]]:
    size = max(1, min(64, len(units) // max(1, 8 * workers)))
    return [list(units[i : i + size]) for i in range(0, len(units), size)]


def _run_local(chunks: list[list[Unit]], root: str, frames_root: str, workers: int, bar: tqdm) -> None:
    if workers <= 1:
        for chunk in chunks:
            run_chunk(chunk, root, frames_root)
            bar.update(len(chunk))
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a parent that may hold threads (torch, Ray)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(run_chunk, chunk, root, frames_root) for chunk in chunks]
        try:
            for fut in concurrent.futures.as_completed(futures):
                bar.update(len(fut.result()))
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _run_ray(chunks: list[list[Unit]], root: str, frames_root: str, workers: int, bar: tqdm) -> None:
    import ray

    started = False
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init()
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
        started = True
    try:
        task = ray.remote(num_cpus=1)(run_chunk)
        pending = [task.remote(chunk, root, frames_root) for chunk in chunks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for result in ray.get(done):
                bar.update(len(result))
    finally:
        if started:
            ray.shutdown()


_EXECUTORS: dict[str, Callable[[list[list[Unit]], str, str, int, tqdm], None]] = {
    "local": _run_local,
    "ray": _run_ray,
}


def generate(
    units: Sequence[Unit],
    root: str | os.PathLike,
    frames_root: str | os.PathLike,
    *,
    workers: int = 1,
    executor: str = "local",
    progress: bool = True,
) -> list[Outcome]:
    """Make every unit not yet committed under ``root``, then return all outcomes in plan order.

    Units committed by an earlier run with the same plan entry are kept as they are (resume).
    """
    if executor not in _EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {EXECUTORS}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        raise ValueError("units must have unique keys")
    root = Path(root).resolve()
    frames_root = Path(frames_root).resolve()
    todo = [u for u in units if read_outcome(root, u) is None]
    if len(todo) < len(units):
        logger.info("resuming: %d of %d samples already done", len(units) - len(todo), len(units))
    if todo:
        with tqdm(total=len(todo), desc="samples", unit="sample", disable=not progress) as bar:
            _EXECUTORS[executor](_chunks(todo, workers), str(root), str(frames_root), workers, bar)
    outcomes = []
    for u in units:
        outcome = read_outcome(root, u)
        if outcome is None:
            raise RuntimeError(f"unit {u.key} has no committed result under {root} after the run")
        outcomes.append(outcome)
    return outcomes


_KEY_RE = re.compile(r"^(?P<task>[a-z]+)_[0-9]{6}(\.json)?$")


def _ours(task_dir: Path, entry: Path) -> bool:
    """Whether ``entry`` is a file or folder this module writes (a unit, a frames folder or a temporary of one)."""
    if entry.name.startswith(".") and entry.name.endswith(".tmp"):
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
        for task in TASKS:
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


def write_parquet(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """Write verl rows to ``path`` atomically with the fixed ``ROW_SCHEMA``."""
    table = pa.Table.from_pylist(list(rows), schema=ROW_SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


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


# ----------------------------------------------------------------------------------------------------------------
# One task into one parquet file (what the per-task CLIs run)


@dataclass(frozen=True)
class TaskDatasetSummary:
    output: Path
    files_dir: Path
    counts: dict


def files_dir_for(output: str | os.PathLike) -> Path:
    """Folder that holds the units and new frames of a single-task parquet ``X.parquet``: ``X_files`` beside it."""
    output = Path(output)
    return output.parent / f"{output.stem}_files"


def write_task_dataset(
    task: str,
    variants: Sequence[Variant],
    *,
    frames_dir: str | os.PathLike,
    output: str | os.PathLike,
    num_samples: int | None = None,
    seed: int = 0,
    workers: int = 1,
    executor: str = "local",
    min_pixels: int = TRAIN_MIN_PIXELS,
    max_pixels: int = TRAIN_MAX_PIXELS,
    progress: bool = True,
) -> TaskDatasetSummary:
    """Samples of one task from a frame store into ``output`` (parquet, rows in plan order).

    ``num_samples`` defaults to one per video. New frames and unit files go to ``files_dir_for(output)``, with a
    ``metadata.json`` recording the arguments and counts.
    """
    output = Path(output).resolve()
    if output.suffix != ".parquet":
        raise ValueError(f"output must be a .parquet file, got {output}")
    frames_dir = Path(frames_dir).resolve()
    if frames_dir == output.parent or frames_dir in output.parents:
        raise ValueError(f"output {output} must not be inside the frame store {frames_dir}")
    records = read_manifest(frames_dir)
    count = len(records) if num_samples is None else num_samples
    if count < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    root = files_dir_for(output)
    units = plan_task(
        task, variants, count=count, videos=records, seed=seed, min_pixels=min_pixels, max_pixels=max_pixels
    )
    prune(root, units)
    outcomes = generate(units, root, frames_dir, workers=workers, executor=executor, progress=progress)
    write_parquet([o.row for o in outcomes if o.ok], output)
    counts = count_outcomes(outcomes)
    metadata = {
        "task": task,
        "frames_dir": str(frames_dir),
        "output": str(output),
        "num_videos": len(records),
        "num_samples_requested": count,
        "seed": seed,
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "variants": [{"label": v.label, "weight": v.weight, "params": params_to_json(v.params)} for v in variants],
        "counts": counts,
    }
    write_json_atomic(root / "metadata.json", json_ready(metadata))
    logger.info("%s: %d rows -> %s (%d failed)", task, counts["samples"], output, len(counts["failures"]))
    return TaskDatasetSummary(output=output, files_dir=root, counts=counts)


# ----------------------------------------------------------------------------------------------------------------
# The flags the per-task CLIs share


DEFAULT_FRAMES_DIR = Path("data/frames")  # where the frame sampler CLI writes the demo frame store


def default_task_output(task: str) -> Path:
    return Path("data/videossr/single") / f"{task}.parquet"


def add_common_cli_args(parser: Any, task: str, repo_root: Path = Path(".")) -> None:
    """Add --frames-dir, --output, --num-samples, --seed, --workers, --executor, --min/--max-pixels, --quiet.

    Default paths are under ``repo_root`` (the CLIs pass the repository root, so they work from any directory).
    """
    parser.add_argument("--frames-dir", type=Path, default=repo_root / DEFAULT_FRAMES_DIR,
                        help=f"frame sampler output (default: {DEFAULT_FRAMES_DIR})")
    parser.add_argument("--output", type=Path, default=repo_root / default_task_output(task),
                        help=f"parquet file to write (default: {default_task_output(task)})")
    parser.add_argument("--num-samples", type=int, default=None, help="samples to make (default: one per video)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)))
    parser.add_argument("--executor", choices=EXECUTORS, default="local")
    parser.add_argument("--min-pixels", type=int, default=TRAIN_MIN_PIXELS)
    parser.add_argument("--max-pixels", type=int, default=TRAIN_MAX_PIXELS)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_task_cli(task: str, variants: Sequence[Variant], args: Any) -> TaskDatasetSummary:
    """What every per-task CLI does once it has built its variants from its flags."""
    return write_task_dataset(
        task,
        variants,
        frames_dir=args.frames_dir,
        output=args.output,
        num_samples=args.num_samples,
        seed=args.seed,
        workers=args.workers,
        executor=args.executor,
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        progress=not args.quiet,
    )


def summary_text(summary: TaskDatasetSummary) -> str:
    c = summary.counts
    lines = [f"wrote {c['samples']} rows to {summary.output} (new frames under {summary.files_dir})"]
    for task, variants in c["per_variant"].items():
        lines.append(f"  {task}: " + ", ".join(f"{label} {n}" for label, n in variants.items()))
    if c["failures"]:
        n = len(c["failures"])
        lines.append(f"  {n} samples failed and were skipped (see metadata.json), e.g. {c['failures'][0]}")
    return "\n".join(lines)

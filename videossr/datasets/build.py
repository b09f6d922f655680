"""The one-command VideoSSR training-mix build: videos -> frame store -> the paper's pretext-task mix as parquet.

Output folder ``OUT`` (everything the build writes is inside it)::

    OUT/frames_store/     the sampled frames + manifest (skipped when reusing a finished store with frames_dir)
    OUT/frames/<task>/    new pixels of each sample (perturbed / shape-bearing frames; materialised builds only)
    OUT/units/<task>/     one committed JSON per sample (what makes the build resumable)
    OUT/train.parquet     every train row, shuffled (seeded)
    OUT/grounding.parquet, OUT/jigsaw.parquet, OUT/counting.parquet   each task's train rows, in plan order
    OUT/val.parquet       the held-out rows (only with val_fraction > 0)
    OUT/metadata.json     arguments, seed, package versions, counts per task / variant / split, failures

The mix (the paper's VideoSSR-30K): 40% Anomaly Grounding, split exactly evenly over the four training
perturbations (ChannelSwap, Rotate180, ZoomOut, Mirror); 40% Temporal Jigsaw with 6 clips; 20% Object Counting in
the easy setting (3 frames per class, up to 3 instances per frame), as the reference implementation builds its 6K
counting samples. ``counting_hard_fraction`` (default 0) moves that share of the counting samples to the hard
setting (4 and 4) for users who want both count ranges; it is recorded in metadata.json. Counts are split with the
largest remainder method, so at 30000 samples they are exactly 12000 / 12000 / 6000 (3000 per perturbation); for
other totals each share is within one of its exact value. Held-out rows
(``val_fraction``) are a seeded random subset of all planned samples, marked ``split = "val"``.

A rerun with the same arguments skips finished samples and rewrites the parquet files byte-identically; a rerun
with other arguments regenerates only the samples whose plan changed and removes the ones no longer planned.
``executor="ray"`` runs the frame sampling (decoding each video) and the per-sample work as Ray tasks; deriving a
smaller store from ``frames_dir`` stays local.

Two kinds of rows. By default the build writes recipe rows (``materialize=False``): each row holds what determines
its sample and the trainer makes the new pixels when it loads the item (``videossr.training.dataset``), so the disk holds
only the frame store and small parquet files. ``materialize=True`` writes every new frame as a JPEG under
``OUT/frames`` and rows that list them: for sharing a dataset, for previews and for tools other than verl. The
same seed gives the same samples either way (pixel-identical frames).

The mix is a recipe (``paper_mix``): for each task its share and its variants, each a preset of the task
(``videossr.tasks``) with a weight. A different recipe is a different list of ``MixEntry``s, not a code change.

``write_task_dataset`` is the single-task version (what ``pretext_tasks/{grounding,counting,jigsaw}.py`` run).

Usage::

    from videossr.datasets.build import BuildConfig, build
    summary = build(BuildConfig(output_dir="data/videossr", video_dirs=("data/demo",), num_samples=300))
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videossr.constants import TRAIN_MAX_PIXELS, TRAIN_MIN_PIXELS
from videossr.datasets.executors import EXECUTORS, generate
from videossr.io import check_output_folder, json_ready, params_to_json, write_json_atomic
from videossr.sampling.store import read_failures, read_manifest, verify_store
from videossr.datasets.planning import Variant, assign_splits, largest_remainder, plan_task, shuffled
from videossr.procs import OutputLock, output_lock
from videossr.tasks.sample import FRAME_ROWS, RECIPE_ROWS, write_parquet
from videossr.tasks import get_task
from videossr.datasets.units import count_outcomes, prune

logger = logging.getLogger(__name__)

FRAME_STORE_DIR = "frames_store"
DEFAULT_NUM_SAMPLES = 30000
VERSIONED_PACKAGES = ("videossr", "numpy", "pillow", "pyarrow", "av", "decord", "torchcodec", "ray")


@dataclass(frozen=True)
class MixEntry:
    """One task's part of a training mix: its share of the samples and its variants (label, preset, weight).

    A variant's preset is a preset name of the task, or a dict of the task's parameters (the fields given; the rest
    keep the Params class's defaults), as a difficulty file gives them.
    """

    task: str
    share: float
    variants: tuple[tuple[str, Any, float], ...]

    def __post_init__(self) -> None:
        get_task(self.task)  # ValueError naming an unknown task
        if not self.share > 0:
            raise ValueError(f"{self.task}: share must be > 0, got {self.share!r}")
        if not self.variants:
            raise ValueError(f"{self.task}: a mix entry needs at least one variant")

    def resolved(self) -> list[Variant]:
        """The planning variants: each label with its preset's parameters and its weight."""
        task = get_task(self.task)
        return [
            Variant(label, task.params_from_json(preset) if isinstance(preset, Mapping) else task.preset(preset), weight)
            for label, preset, weight in self.variants
        ]


def paper_mix(counting_hard_fraction: float = 0.0) -> tuple[MixEntry, ...]:
    """The paper's VideoSSR-30K recipe (grounding 12K, jigsaw 12K, counting 6K of 30K; see the module docstring)."""
    if not 0.0 <= counting_hard_fraction <= 1.0:
        raise ValueError(f"counting_hard_fraction must be in [0, 1], got {counting_hard_fraction!r}")
    perturbations = get_task("grounding").preset("train").perturbations
    counting = (("easy", "easy", 1.0 - counting_hard_fraction), ("hard", "hard", counting_hard_fraction))
    return (
        MixEntry("grounding", 0.4, tuple((p, p, 1.0) for p in perturbations)),
        MixEntry("jigsaw", 0.4, (("6clips", "easy", 1.0),)),
        MixEntry("counting", 0.2, tuple(v for v in counting if v[2] > 0)),
    )


DIFFICULTY_FORMAT = "videossr.difficulty/1"


def read_difficulty(path: str | os.PathLike) -> dict[str, tuple[tuple[str, dict, float], ...]]:
    """The task variants a difficulty file sets (``eval/diagnose.py --sweep`` writes one), validated.

    Format (JSON)::

        {"format": "videossr.difficulty/1",
         "tasks": {"counting": {"variants": [{"label": "F2K2", "params": {"max_frames_per_class": 2,
                                                                       "max_instances": 2}, "weight": 1.0}]},
                   ...},
         ...}                                     # other keys (where the settings came from) are kept as notes

    Raises ValueError naming the file and what is wrong.
    """
    import json

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read the difficulty file {path}: {e}") from None
    if not isinstance(data, dict) or data.get("format") != DIFFICULTY_FORMAT:
        raise ValueError(f"{path}: not a difficulty file (its \"format\" must be {DIFFICULTY_FORMAT!r})")
    out = {}
    for task, spec in (data.get("tasks") or {}).items():
        try:
            t = get_task(task)
            variants = tuple((str(v["label"]), dict(v["params"]), float(v.get("weight", 1.0))) for v in spec["variants"])
            if not variants:
                raise ValueError("no variants")
            for _, params, _ in variants:
                t.params_from_json(params)
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: task {task!r}: {type(e).__name__}: {e}") from None
        out[t.name] = variants
    if not out:
        raise ValueError(f"{path}: sets no task")
    return out


def with_difficulty(mix: Sequence[MixEntry], difficulty: Mapping[str, Sequence[tuple[str, Any, float]]]
                    ) -> tuple[MixEntry, ...]:
    """``mix`` with the variants of the tasks ``difficulty`` names replaced by its variants (shares unchanged)."""
    known = {e.task for e in mix}
    unknown = set(difficulty) - known
    if unknown:
        raise ValueError(f"the difficulty sets tasks {sorted(unknown)} that the mix does not have ({sorted(known)})")
    return tuple(
        MixEntry(e.task, e.share, tuple(tuple(v) for v in difficulty[e.task])) if e.task in difficulty else e
        for e in mix
    )


@dataclass(frozen=True)
class BuildConfig:
    """Arguments of one build (what metadata.json records)."""

    output_dir: Path
    video_dirs: tuple[Path, ...] = ()
    frames_dir: Path | None = None  # reuse a finished frame store instead of sampling video_dirs
    num_samples: int = DEFAULT_NUM_SAMPLES
    val_fraction: float = 0.0
    seed: int = 0
    workers: int = 1
    executor: str = "local"
    num_frames: int = 48  # frames sampled per video
    frame_max_pixels: int | None = None  # size of the stored frames; None: the rows' max_pixels (what they use)
    min_pixels: int = TRAIN_MIN_PIXELS  # what the rows ask the processor for
    max_pixels: int = TRAIN_MAX_PIXELS
    counting_hard_fraction: float = 0.0  # share of the counting samples in the hard setting (reference: 0)
    materialize: bool = False  # False: recipe rows the trainer renders (videossr.training.dataset); True: frames on disk
    difficulty: Mapping[str, Any] | None = None  # task -> variants, from a difficulty file (read_difficulty)

    def __post_init__(self) -> None:
        object.__setattr__(self, "output_dir", Path(self.output_dir))
        object.__setattr__(self, "video_dirs", tuple(Path(d) for d in self.video_dirs))
        if self.frames_dir is not None:
            object.__setattr__(self, "frames_dir", Path(self.frames_dir))
        if (self.frames_dir is None) == (not self.video_dirs):
            raise ValueError(
                f"give either video_dirs or frames_dir, not both or neither "
                f"(video_dirs={[str(d) for d in self.video_dirs]}, frames_dir={self.frames_dir})"
            )
        if self.num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {self.num_samples}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.executor!r}")
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if not 0.0 <= self.counting_hard_fraction <= 1.0:
            raise ValueError(f"counting_hard_fraction must be in [0, 1], got {self.counting_hard_fraction!r}")

    @property
    def store_max_pixels(self) -> int:
        return self.frame_max_pixels or self.max_pixels

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["output_dir"] = str(self.output_dir.resolve())
        d["video_dirs"] = [str(p.resolve()) for p in self.video_dirs]
        d["frames_dir"] = str(self.frames_dir.resolve()) if self.frames_dir is not None else None
        return d


@dataclass(frozen=True)
class BuildSummary:
    output_dir: Path
    frames_root: Path
    num_videos: int
    counts: dict
    files: dict[str, Path]


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def ensure_frame_store(config: BuildConfig, progress: bool = True) -> tuple[Path, dict | None]:
    """The frame store to read, at the size the rows use (``frame_max_pixels``, by default the rows' ``max_pixels``).

    ``frames_dir`` built at that size is read as it is; one built larger is shrunk into ``OUT/frames_store`` (its
    JPEGs are downscaled, no video is decoded); one built smaller is refused. ``video_dirs`` are sampled into
    ``OUT/frames_store`` at that size. The store is then checked (every frame present and a whole JPEG).
    """
    from videossr.sampling.sampler import ensure_store, find_videos  # decoding stack loads only when needed

    need = config.store_max_pixels
    own = config.output_dir.resolve() / FRAME_STORE_DIR
    if config.frames_dir is not None:
        root = ensure_store(own, max_pixels=need, store=config.frames_dir, workers=config.workers, progress=progress)
        info = None if root == config.frames_dir.resolve() else {"derived_from": str(config.frames_dir.resolve()),
                                                                  "max_pixels": need}
    else:
        root = ensure_store(own, max_pixels=need, video_dirs=[str(d) for d in config.video_dirs],
                            num_frames=config.num_frames, workers=config.workers, progress=progress,
                            executor=config.executor)
        # Only what does not depend on how many runs it took, so a resumed build writes the same metadata.
        info = {
            "videos_found": len(find_videos([str(d) for d in config.video_dirs])),
            "videos_sampled": len(read_manifest(root)),
            "num_frames": config.num_frames,
            "max_pixels": need,
        }
    verify_store(root)
    return root.resolve(), info


# A video is drawn at most this many times per task: far more samples than that cannot be told apart (a 6-clip jigsaw
# has 719 shuffles) and would only spend time; sample more videos instead.
MAX_SAMPLES_PER_VIDEO = 1000


def check_sample_count(task: str, count: int, num_videos: int) -> None:
    """Fail fast on a sample count far beyond what the videos can give (see MAX_SAMPLES_PER_VIDEO)."""
    if num_videos and count > MAX_SAMPLES_PER_VIDEO * num_videos:
        raise ValueError(
            f"{count} {task} samples from {num_videos} videos would draw each video {count / num_videos:.0f} times "
            f"(at most {MAX_SAMPLES_PER_VIDEO}): sample more videos or ask for fewer samples"
        )


def build(config: BuildConfig, *, progress: bool = True) -> BuildSummary:
    """Run the whole build (see the module docstring); returns what was written."""
    out = config.output_dir.resolve()
    store = config.frames_dir
    if store is not None and store.resolve() == out / FRAME_STORE_DIR:
        store = None  # the build's own store (a rebuild from it, e.g. with a difficulty file): not someone's input
    inputs = {"frame store": store, **{f"video folder {i + 1}": d for i, d in enumerate(config.video_dirs)}}
    check_output_folder(out, inputs)
    with output_lock(out, what="dataset build") as lock:
        return _build(config, out, lock, progress)


def _build(config: BuildConfig, out: Path, lock: OutputLock, progress: bool) -> BuildSummary:
    frames_root, sampling = ensure_frame_store(config, progress=progress)
    records = read_manifest(frames_root)
    logger.info("%d videos in the frame store %s", len(records), frames_root)

    mix = paper_mix(config.counting_hard_fraction)
    if config.difficulty:
        mix = with_difficulty(mix, config.difficulty)
    task_counts = dict(zip((e.task for e in mix), largest_remainder(config.num_samples, [e.share for e in mix])))
    for task, count in task_counts.items():
        check_sample_count(task, count, len(records))
    units = []
    for entry in mix:
        units += plan_task(
            entry.task,
            entry.resolved(),
            count=task_counts[entry.task],
            videos=records,
            seed=config.seed,
            first_row_index=len(units),
            min_pixels=config.min_pixels,
            max_pixels=config.max_pixels,
            materialize=config.materialize,
        )
    units = assign_splits(units, config.val_fraction, config.seed)
    prune(out, units)
    outcomes = generate(
        units, out, frames_root, workers=config.workers, executor=config.executor, progress=progress, lock=lock
    )

    files: dict[str, Path] = {}
    train = [o for o in outcomes if o.ok and o.unit.split == "train"]
    for entry in mix:
        files[entry.task] = out / f"{entry.task}.parquet"
        write_parquet([o.row for o in train if o.unit.task == entry.task], files[entry.task])
    files["train"] = out / "train.parquet"
    write_parquet(shuffled([o.row for o in train], config.seed), files["train"])
    val_path = out / "val.parquet"
    if config.val_fraction > 0:
        files["val"] = val_path
        write_parquet([o.row for o in outcomes if o.ok and o.unit.split == "val"], val_path)
    elif val_path.exists():
        val_path.unlink()  # left by an earlier build of this folder with a held-out split

    counts = count_outcomes(outcomes)
    metadata = {
        "arguments": config.to_json(),
        "rows": FRAME_ROWS if config.materialize else RECIPE_ROWS,
        "seed": config.seed,
        "versions": package_versions(),
        "mix": {
            entry.task: {
                "share": entry.share,
                "planned": task_counts[entry.task],
                "variants": [
                    {"label": v.label, "weight": v.weight, "params": params_to_json(v.params)}
                    for v in entry.resolved()
                ],
            }
            for entry in mix
        },
        "num_videos": len(records),
        "frame_store": str(frames_root),
        "frame_sampling": sampling,
        "frame_sampling_failures": read_failures(frames_root),
        "counts": counts,
        "files": {k: p.name for k, p in files.items()},
    }
    write_json_atomic(out / "metadata.json", json_ready(metadata))
    files["metadata"] = out / "metadata.json"
    logger.info(
        "built %d samples (%s) from %d videos into %s; %d failed",
        counts["samples"],
        ", ".join(f"{t} {n}" for t, n in counts["per_task"].items()),
        len(records),
        out,
        len(counts["failures"]),
    )
    return BuildSummary(output_dir=out, frames_root=frames_root, num_videos=len(records), counts=counts, files=files)


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
    materialize: bool = False,
    progress: bool = True,
) -> TaskDatasetSummary:
    """Samples of one task from a frame store into ``output`` (parquet, rows in plan order).

    ``num_samples`` defaults to one per video. Rows are recipe rows unless ``materialize`` (as in ``build``). The
    frame store is checked first, as ``build`` checks it (``verify_store``: every frame present and a whole JPEG;
    ``StoreDamagedError``, a ValueError, otherwise). New frames and unit files go to ``files_dir_for(output)``, with
    a ``metadata.json`` recording the arguments and counts.
    """
    output = Path(output).resolve()
    if output.suffix != ".parquet":
        raise ValueError(f"output must be a .parquet file, got {output}")
    if output.is_dir():
        raise ValueError(f"the output {output} is a folder; give the path of the .parquet file to write")
    frames_dir = Path(frames_dir).resolve()
    if frames_dir == output.parent or frames_dir in output.parents:
        raise ValueError(f"output {output} must not be inside the frame store {frames_dir}")
    check_output_folder(files_dir_for(output), {"frame store": frames_dir})
    verify_store(frames_dir)
    records = read_manifest(frames_dir)
    count = len(records) if num_samples is None else num_samples
    if count < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    check_sample_count(task, count, len(records))
    root = files_dir_for(output)
    units = plan_task(
        task, variants, count=count, videos=records, seed=seed, min_pixels=min_pixels, max_pixels=max_pixels,
        materialize=materialize,
    )
    with output_lock(root, what=f"{task} dataset build") as lock:
        prune(root, units)
        outcomes = generate(units, root, frames_dir, workers=workers, executor=executor, progress=progress, lock=lock)
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
            "rows": FRAME_ROWS if materialize else RECIPE_ROWS,
            "variants": [{"label": v.label, "weight": v.weight, "params": params_to_json(v.params)} for v in variants],
            "counts": counts,
        }
        write_json_atomic(root / "metadata.json", json_ready(metadata))
    logger.info("%s: %d rows -> %s (%d failed)", task, counts["samples"], output, len(counts["failures"]))
    return TaskDatasetSummary(output=output, files_dir=root, counts=counts)

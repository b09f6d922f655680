"""Difficulty calibration: find the task settings at which a model's GRPO signal is largest, and write them down.

For each task asked, small probe sets are built at several difficulty settings (the task's own grid,
``PretextTask.sweep_grid``, through ``task_grid`` / ``default_grid``, or the caller's),
the zero-variance diagnostic (``videossr.evaluation.diagnose``) runs on each, and per family of settings the one
with the lowest cost

    cost = |mean reward - target| + zero-variance share        (target 0.5 by default: where a 0/1 reward's
                                                                 variance, hence GRPO's signal, is largest)

is chosen (ties: the first in grid order). A family is a group of settings that compete: all of counting's F/K
pairs, all of jigsaw's clip counts, and for grounding the segment length ranges of one perturbation kind (so the
training mix keeps one variant per kind, as the paper's mix does). The choices are written as a difficulty file
that the build accepts (``videossr.datasets.build.DIFFICULTY_FORMAT``; ``pretext_tasks/build_dataset.py --difficulty-from
FILE``), with what was measured as notes.

The grids are declared by the tasks (this module names none). Today's defaults: counting F/K in {(1,1), (2,2), (3,3),
(4,4)}; jigsaw 3, 4, 6 or 8 clips (both: their difficulty ladders); grounding each of the four training
perturbations with segments of 4-8, 8-16 (the paper's) or 16-24 frames.

Probe sets are recipe rows (as the build writes by default), made with the build's machinery
(``videossr.datasets.planning.plan_task`` + ``videossr.datasets.executors.generate``) from a frame store, one folder per setting;
every setting of a task uses the same videos and the same random streams, so settings differ by difficulty only.
Layout under the sweep's output folder ``OUT``::

    OUT/probes/frames_store/              frames sampled from --video-dir (absent with a frame store given)
    OUT/probes/<task>/<label>/probe.parquet   (and units/: the build's per-sample files, for resuming)
    OUT/sweep/<task>/<label>/results.jsonl, summary.json     the diagnostic of each probe set
    OUT/sweep/<task>/comparison.json, histogram.png          one panel per setting
    OUT/sweep.json                        every measurement and the choices
    OUT/difficulty.json                   the difficulty file (or where the caller says)

Usage::

    from videossr.evaluation.sweep import default_grid, run_sweep
    result = run_sweep({"counting": default_grid("counting")}, settings, "out/calib", frames_dir="data/frames",
                       backend_factory=lambda: make_backend("vllm", M))
    # then: python pretext_tasks/build_dataset.py --difficulty-from out/calib/difficulty.json ...
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videossr.datasets.build import DIFFICULTY_FORMAT, BuildConfig, ensure_frame_store, read_difficulty
from videossr.constants import TRAIN_MAX_PIXELS, TRAIN_MIN_PIXELS
from videossr.evaluation.backends import Backend
from videossr.evaluation.diagnose import run_diagnostic
from videossr.evaluation.settings import EvalSettings
from videossr.datasets.executors import generate
from videossr.io import params_to_json, write_json_atomic
from videossr.sampling.store import read_manifest
from videossr.datasets.planning import Variant, plan_task
from videossr.tasks.sample import write_parquet
from videossr.tasks import get_task
from videossr.datasets.units import prune

__all__ = ["SWEEP_NAME", "DIFFICULTY_NAME", "Setting", "SweepResult", "build_probe_set", "choose", "default_grid",
           "format_sweep", "run_sweep", "task_grid"]

logger = logging.getLogger(__name__)

SWEEP_NAME = "sweep.json"
DIFFICULTY_NAME = "difficulty.json"
PROBE_NAME = "probe.parquet"
DEFAULT_PROBE_SIZE = 32
DEFAULT_TARGET = 0.5


@dataclass(frozen=True)
class Setting:
    """One difficulty setting of a task: a label (folder-safe), the family it competes in, and the task's Params."""

    task: str
    label: str
    family: str
    params: Any

    def __post_init__(self) -> None:
        get_task(self.task)
        if not self.label or any(c in self.label for c in "/\\") or self.label.startswith("."):
            raise ValueError(f"a setting's label must be a plain name, got {self.label!r}")


def task_grid(task: str, **options: Any) -> list[Setting]:
    """The sweep settings of ``task``: what the task declares (``PretextTask.sweep_grid``), changed by ``options``
    (the keywords its ``grid_flags`` fill; none gives its default grid)."""
    t = get_task(task)
    return [Setting(t.name, p.label, p.family, p.params) for p in t.sweep_grid(**options)]


def default_grid(task: str) -> list[Setting]:
    """The default settings of ``task`` (see the module docstring)."""
    return task_grid(task)


# ----------------------------------------------------------------------------------------------------------------
# Probe sets


def build_probe_set(setting: Setting, frames_root: str | os.PathLike, folder: str | os.PathLike, *, count: int,
                    seed: int, min_pixels: int = TRAIN_MIN_PIXELS, max_pixels: int = TRAIN_MAX_PIXELS,
                    progress: bool = False) -> tuple[Path, int]:
    """``count`` recipe rows of one setting in ``folder/probe.parquet`` (resumable); returns the file and how many
    samples failed (reported by the build machinery, left out)."""
    folder = Path(folder)
    records = read_manifest(frames_root)
    if not records:
        raise ValueError(f"the frame store {frames_root} has no videos")
    variant = Variant(setting.label, setting.params)
    units = plan_task(setting.task, [variant], count=count, videos=records, seed=seed, min_pixels=min_pixels,
                      max_pixels=max_pixels, materialize=False)
    prune(folder, units)
    outcomes = generate(units, folder, Path(frames_root).resolve(), progress=progress)
    rows = [o.row for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    for o in failed[:3]:
        logger.warning("probe %s/%s: sample %s failed: %s", setting.task, setting.label, o.unit.key, o.error)
    if not rows:
        raise ValueError(f"probe set {setting.task}/{setting.label}: every sample failed "
                         f"(first: {failed[0].error if failed else 'none planned'})")
    path = folder / PROBE_NAME
    write_parquet(rows, path)
    return path, len(failed)


# ----------------------------------------------------------------------------------------------------------------
# Choosing


def cost(mean_reward: float, zero_variance: float, target: float) -> float:
    """What the sweep minimises: distance of the mean reward from the target plus the zero-variance share."""
    return abs(mean_reward - target) + zero_variance


def choose(measured: Sequence[Mapping[str, Any]], target: float) -> dict[str, Mapping[str, Any]]:
    """The lowest-cost measurement of each family (first in order on ties); measurements without questions skipped."""
    best: dict[str, Mapping[str, Any]] = {}
    for m in measured:
        if not m["n"]:
            continue
        c = cost(m["mean_reward"], m["zero_variance"], target)
        if m["family"] not in best or c < cost(best[m["family"]]["mean_reward"], best[m["family"]]["zero_variance"],
                                               target):
            best[m["family"]] = m
    return best


@dataclass(frozen=True)
class SweepResult:
    measured: dict[str, list[dict[str, Any]]]  # task -> one entry per setting
    chosen: dict[str, list[str]]  # task -> chosen labels, one per family
    difficulty_file: Path
    sweep_file: Path
    table: str
    n_errors: int


def _check_grid(grids: Mapping[str, Sequence[Setting]]) -> None:
    if not grids:
        raise ValueError("the sweep needs at least one task")
    for task, settings in grids.items():
        if not settings:
            raise ValueError(f"task {task!r}: the sweep needs at least one setting")
        labels = [s.label for s in settings]
        if len(set(labels)) != len(labels):
            raise ValueError(f"task {task!r}: setting labels repeat: {labels}")
        if any(s.task != get_task(task).name for s in settings):
            raise ValueError(f"task {task!r}: a setting of another task is in its grid")


def run_sweep(
    grids: Mapping[str, Sequence[Setting]],
    settings: EvalSettings,
    output_dir: str | os.PathLike,
    *,
    backend_factory: Callable[[], Backend],
    frames_dir: str | os.PathLike | None = None,
    video_dirs: Sequence[str | os.PathLike] = (),
    probe_size: int = DEFAULT_PROBE_SIZE,
    target: float = DEFAULT_TARGET,
    reward_mode: str = "smooth",
    difficulty_out: str | os.PathLike | None = None,
    progress: bool = True,
    **runner_kwargs: Any,
) -> SweepResult:
    """Build the probe sets, diagnose each, choose per family and write the difficulty file (module docstring)."""
    _check_grid(grids)
    if isinstance(probe_size, bool) or not isinstance(probe_size, int) or probe_size < 1:
        raise ValueError(f"probe_size must be an integer >= 1, got {probe_size!r}")
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"target must be in [0, 1], got {target!r}")
    out = Path(output_dir)
    probes = out / "probes"
    frames_root, _ = ensure_frame_store(
        BuildConfig(output_dir=probes, video_dirs=tuple(video_dirs), frames_dir=frames_dir), progress=progress)

    # Probe sets first (CPU work), so a broken frame store stops the sweep before the model loads.
    datasets: dict[str, list[tuple[str, Path]]] = {}
    for task, task_settings in grids.items():
        name = get_task(task).name
        datasets[name] = []
        for s in task_settings:
            path, failed = build_probe_set(s, frames_root, probes / name / s.label, count=probe_size,
                                           seed=settings.seed, progress=progress)
            datasets[name].append((s.label, path))

    from videossr.evaluation.diagnose import _SharedBackend

    shared = _SharedBackend(backend_factory)
    measured: dict[str, list[dict[str, Any]]] = {}
    chosen: dict[str, list[str]] = {}
    variants: dict[str, dict[str, Any]] = {}
    n_errors = 0
    try:
        for task, task_settings in grids.items():
            name = get_task(task).name
            report = run_diagnostic(datasets[name], settings, out / "sweep" / name, backend_factory=shared.get,
                                    reward_mode=reward_mode, subfolders=True, progress=progress,
                                    figure_title=f"{name}: correct rollouts per question at each setting",
                                    **runner_kwargs)
            n_errors += report.n_errors
            rows = []
            for s in task_settings:
                o = report.summaries[s.label]["overall"]
                rows.append({"label": s.label, "family": s.family, "params": params_to_json(s.params), "n": o["n"],
                             "mean_reward": o["mean_reward"], "zero_variance": o["zero_variance"],
                             "all_zero": o["all_zero"], "all_one": o["all_one"],
                             "chance": (o["chance"] or {}).get(reward_mode),
                             "cost": None if not o["n"] else cost(o["mean_reward"], o["zero_variance"], target)})
            best = choose(rows, target)
            for r in rows:
                r["chosen"] = any(b is r for b in best.values())
            measured[name] = rows
            chosen[name] = [b["label"] for b in best.values()]
            if best:
                variants[name] = {"variants": [{"label": b["label"], "params": b["params"], "weight": 1.0}
                                               for b in best.values()]}
    finally:
        shared.shutdown()

    if not variants:
        raise ValueError("no setting produced a measurement (every question failed); nothing to choose from")
    notes = {
        "created_by": "eval/diagnose.py --sweep",
        "model": settings.model,
        "backend": settings.backend,
        "target": target,
        "selection": "per family the setting with the lowest |mean_reward - target| + zero_variance",
        "reward_mode": reward_mode,
        "rollouts": settings.rollouts,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "top_k": settings.top_k,
        "seed": settings.seed,
        "probe_size": probe_size,
        "frames": str(Path(frames_root).resolve()),
        "measured": measured,
    }
    difficulty = {"format": DIFFICULTY_FORMAT, "tasks": variants, **notes}
    difficulty_path = Path(difficulty_out) if difficulty_out is not None else out / DIFFICULTY_NAME
    write_json_atomic(difficulty_path, difficulty)
    read_difficulty(difficulty_path)  # what the build will do with it: fails loudly here rather than there
    sweep_path = out / SWEEP_NAME
    write_json_atomic(sweep_path, {"chosen": chosen, **notes})
    table = format_sweep(measured, target=target, reward_mode=reward_mode)
    logger.info("difficulty file -> %s", difficulty_path)
    return SweepResult(measured=measured, chosen=chosen, difficulty_file=difficulty_path, sweep_file=sweep_path,
                       table=table, n_errors=n_errors)


def format_sweep(measured: Mapping[str, Sequence[Mapping[str, Any]]], *, target: float, reward_mode: str) -> str:
    """The sweep's table: one line per setting, the chosen ones marked with *."""
    head = ("task", "setting", "n", "mean", "zero-var%", "all-0%", "all-1%", "chance", "cost", "")
    rows = [head]

    def f(x: float | None, pct: bool = False) -> str:
        return "-" if x is None else (f"{100 * x:.1f}" if pct else f"{x:.3f}")

    for task, entries in measured.items():
        for m in entries:
            rows.append((task, m["label"], str(m["n"]), f(m["mean_reward"]), f(m["zero_variance"], True),
                         f(m["all_zero"], True), f(m["all_one"], True), f(m["chance"]), f(m["cost"]),
                         "*" if m["chosen"] else ""))
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    lines = ["  ".join(c.ljust(w) if k < 2 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    lines.append(f"* chosen: per family the lowest cost = |mean - {target:g}| + zero-var share "
                 f"({reward_mode} reward; grounding: one choice per perturbation kind)")
    return "\n".join(lines)


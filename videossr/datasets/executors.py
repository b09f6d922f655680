"""Doing many units: in this process, in a pool of worker processes, or as Ray tasks.

``generate(units, root, frames_root, workers=..., executor=...)`` makes every unit not yet committed under ``root``
(see ``videossr.datasets.units``) and returns all outcomes in plan order. Executors (``videossr.procs.run_jobs``):
``local`` (this process for ``workers <= 1``, else a process pool) and ``ray`` (the same per-chunk work as Ray tasks;
with ``RAY_ADDRESS`` set it joins that cluster, whose nodes must see ``ROOT`` and the frame store on a shared
filesystem: checked before the first task). The results do not depend on the executor or the worker count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from videossr.sampling.store import store_context
from videossr.datasets.planning import Unit
from videossr.procs import EXECUTORS, OutputLock, run_jobs
from videossr.datasets.units import Outcome, read_outcome, run_unit

logger = logging.getLogger(__name__)

__all__ = ["EXECUTORS", "generate", "run_chunk"]


def run_chunk(units: Sequence[Unit], root: str, frames_root: str) -> list[tuple[str, bool]]:
    """Do a list of units (the work of one process-pool or Ray task); returns (key, ok) per unit."""
    ctx, videos = store_context(frames_root)
    return [(u.key, run_unit(u, Path(root), ctx, videos).ok) for u in units]


def _chunks(units: Sequence[Unit], workers: int) -> list[list[Unit]]:
    size = max(1, min(64, len(units) // max(1, 8 * workers)))
    return [list(units[i : i + size]) for i in range(0, len(units), size)]


def generate(
    units: Sequence[Unit],
    root: str | os.PathLike,
    frames_root: str | os.PathLike,
    *,
    workers: int = 1,
    executor: str = "local",
    progress: bool = True,
    lock: OutputLock | None = None,
) -> list[Outcome]:
    """Make every unit not yet committed under ``root``, then return all outcomes in plan order.

    Units committed by an earlier run with the same plan entry are kept as they are (resume). Callers hold the output
    folder's lock (``videossr.procs.output_lock``) and pass it, so that local worker processes share it and die with
    this process.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {EXECUTORS}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        raise ValueError("units must have unique keys")
    root = Path(root).resolve()
    frames_root = Path(frames_root).resolve()
    # rows hold absolute paths into the frame store: a unit committed against another store path is made again
    units = [dataclasses.replace(u, frames_root=str(frames_root)) for u in units]
    todo = [u for u in units if read_outcome(root, u) is None]
    if len(todo) < len(units):
        logger.info("resuming: %d of %d samples already done", len(units) - len(todo), len(units))
    if todo:
        with tqdm(total=len(todo), desc="samples", unit="sample", disable=not progress) as bar:
            jobs = [(chunk, str(root), str(frames_root)) for chunk in _chunks(todo, workers)]
            results = run_jobs(run_chunk, jobs, executor=executor, workers=min(workers, len(jobs)), lock=lock,
                               ray_check=(root, frames_root))
            with contextlib.closing(results):
                for done in results:
                    bar.update(len(done))
    outcomes = []
    for u in units:
        outcome = read_outcome(root, u)
        if outcome is None:
            raise RuntimeError(f"unit {u.key} has no committed result under {root} after the run")
        outcomes.append(outcome)
    return outcomes

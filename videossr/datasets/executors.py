"""Doing many units: in this process, in a pool of worker processes, or as Ray tasks.

``generate(units, root, frames_root, workers=..., executor=...)`` makes every unit not yet committed under ``root``
(see ``videossr.datasets.units``) and returns all outcomes in plan order. Executors: ``local`` (this process for
``workers <= 1``, else a process pool) and ``ray`` (the same per-chunk work as Ray tasks; with ``RAY_ADDRESS`` set it
joins that cluster, whose workers must see ``ROOT`` and the frame store on a shared filesystem). The results do not
depend on the executor or the worker count.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from videossr.sampling.store import store_context
from videossr.datasets.planning import Unit
from videossr.procs import OutputLock, worker_pool
from videossr.datasets.units import Outcome, read_outcome, run_unit

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")


def run_chunk(units: Sequence[Unit], root: str, frames_root: str) -> list[tuple[str, bool]]:
    """Do a list of units (the work of one process-pool or Ray task); returns (key, ok) per unit."""
    ctx, videos = store_context(frames_root)
    return [(u.key, run_unit(u, Path(root), ctx, videos).ok) for u in units]


def _chunks(units: Sequence[Unit], workers: int) -> list[list[Unit]]:
    size = max(1, min(64, len(units) // max(1, 8 * workers)))
    return [list(units[i : i + size]) for i in range(0, len(units), size)]


def _run_local(chunks: list[list[Unit]], root: str, frames_root: str, workers: int, bar: tqdm,
               lock: OutputLock | None) -> None:
    if workers <= 1:
        for chunk in chunks:
            run_chunk(chunk, root, frames_root)
            bar.update(len(chunk))
        return
    # spawned workers (no fork of a parent that may hold threads) that die with this process and hold its lock share
    with worker_pool(workers, lock=lock) as pool:
        futures = [pool.submit(run_chunk, chunk, root, frames_root) for chunk in chunks]
        try:
            for fut in concurrent.futures.as_completed(futures):
                bar.update(len(fut.result()))
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _run_ray(chunks: list[list[Unit]], root: str, frames_root: str, workers: int, bar: tqdm,
             lock: OutputLock | None) -> None:
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


_EXECUTORS: dict[str, Callable[[list[list[Unit]], str, str, int, tqdm, OutputLock | None], None]] = {
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
    lock: OutputLock | None = None,
) -> list[Outcome]:
    """Make every unit not yet committed under ``root``, then return all outcomes in plan order.

    Units committed by an earlier run with the same plan entry are kept as they are (resume). Callers hold the output
    folder's lock (``videossr.procs.output_lock``) and pass it, so that local worker processes share it and die with
    this process.
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
    # rows hold absolute paths into the frame store: a unit committed against another store path is made again
    units = [dataclasses.replace(u, frames_root=str(frames_root)) for u in units]
    todo = [u for u in units if read_outcome(root, u) is None]
    if len(todo) < len(units):
        logger.info("resuming: %d of %d samples already done", len(units) - len(todo), len(units))
    if todo:
        with tqdm(total=len(todo), desc="samples", unit="sample", disable=not progress) as bar:
            _EXECUTORS[executor](_chunks(todo, workers), str(root), str(frames_root), workers, bar, lock)
    outcomes = []
    for u in units:
        outcome = read_outcome(root, u)
        if outcome is None:
            raise RuntimeError(f"unit {u.key} has no committed result under {root} after the run")
        outcomes.append(outcome)
    return outcomes

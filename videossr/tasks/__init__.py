"""The table of pretext tasks: every part of VideoSSR finds a task here, by name or by data_source.

``TASKS`` maps a task's name to its ``PretextTask`` object (``videossr.tasks.base``): Anomaly Grounding, Object
Counting and Temporal Jigsaw. ``task_for_source`` maps a data_source to its task: each task's own data_source
(``videossr_grounding`` ...) and the reference implementation's names (``grounding``, ``counting``, ``jigsaw`` and
``shuffled``, the name its jigsaw generator wrote), matched without regard to case or surrounding whitespace.

The verl reward, VIUBench's scoring, the build's mix, the previews and the dry run all go through this table.

Adding a task: one module with a ``PretextTask`` subclass, one line in ``_BUILT_IN`` below (or
``register(MyTask())`` from your own code, e.g. a test).

Usage::

    from videossr.tasks import get_task, task_for_source
    score = task_for_source("shuffled").score_text("341526", "341562")     # Score(value=0.889, ...)
    sample = get_task("counting").make_sample(video, rng, get_task("counting").preset("hard"), ctx)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from videossr.tasks.base import MODES, Preview, PretextTask, Score
from videossr.tasks.counting import CountingTask
from videossr.tasks.grounding import GroundingTask
from videossr.tasks.jigsaw import JigsawTask

__all__ = [
    "MODES",
    "Preview",
    "PretextTask",
    "Score",
    "TASKS",
    "get_task",
    "known_data_sources",
    "normalise_source",
    "register",
    "task_for_source",
    "task_names",
]

_BUILT_IN: tuple[PretextTask, ...] = (GroundingTask(), CountingTask(), JigsawTask())

_TASKS: dict[str, PretextTask] = {}
_BY_SOURCE: dict[str, PretextTask] = {}
TASKS: Mapping[str, PretextTask] = MappingProxyType(_TASKS)


def normalise_source(data_source: object) -> str | None:
    """``data_source`` as looked up: stripped and lower-cased; None for anything that is not a string."""
    return data_source.strip().lower() if isinstance(data_source, str) else None


def register(task: PretextTask) -> PretextTask:
    """Add ``task`` to the table; ValueError if its name, task_id or one of its data_source names is taken."""
    if not isinstance(task, PretextTask):
        raise TypeError(f"a task is a PretextTask, got {type(task).__name__}")
    if task.name in _TASKS:
        raise ValueError(f"a task named {task.name!r} is already registered")
    if any(t.task_id == task.task_id for t in _TASKS.values()):
        raise ValueError(f"task_id {task.task_id} of {task.name!r} is already taken")
    sources = [normalise_source(s) for s in (task.data_source, *task.aliases)]
    taken = [s for s in sources if s in _BY_SOURCE]
    if taken:
        raise ValueError(f"data_source name(s) {taken} of {task.name!r} already belong to another task")
    _TASKS[task.name] = task
    for s in sources:
        _BY_SOURCE[s] = task
    return task


def unregister(name: str) -> None:
    """Remove a task added with ``register`` (tests use it to clean up)."""
    task = _TASKS.pop(name)
    for s in [k for k, t in _BY_SOURCE.items() if t is task]:
        del _BY_SOURCE[s]


for _task in _BUILT_IN:
    register(_task)


def get_task(name: str) -> PretextTask:
    """The task called ``name`` (case-insensitive); ValueError naming the choices otherwise."""
    task = _TASKS.get(str(name).strip().lower()) if isinstance(name, str) else None
    if task is None:
        raise ValueError(f"unknown task {name!r}; expected one of {task_names()}")
    return task


def task_for_source(data_source: object) -> PretextTask | None:
    """The task a data_source belongs to (ours or a reference alias, any case), or None for a foreign one."""
    key = normalise_source(data_source)
    return None if key is None else _BY_SOURCE.get(key)


def task_names() -> tuple[str, ...]:
    return tuple(_TASKS)


def known_data_sources() -> tuple[str, ...]:
    """Every data_source name that maps to a task (sorted)."""
    return tuple(sorted(_BY_SOURCE))

"""The data_source names VideoSSR writes and reads, in one place.

Every row VideoSSR writes carries one of ``DATA_SOURCES``. The reward dispatch also accepts the names used by the
reference implementation's published parquet files (``grounding``, ``counting``, ``jigsaw`` and ``shuffled`` —
the reference jigsaw generator wrote ``shuffled``), so those files train too.
"""

from __future__ import annotations

GROUNDING = "grounding"
COUNTING = "counting"
JIGSAW = "jigsaw"
TASKS = (GROUNDING, COUNTING, JIGSAW)

# data_source written into rows, per task.
DATA_SOURCES = {
    GROUNDING: "videossr_grounding",
    COUNTING: "videossr_counting",
    JIGSAW: "videossr_jigsaw",
}

# Every data_source name that maps to a VideoSSR task: ours plus the reference code's.
_TASK_OF = {
    **{source: task for task, source in DATA_SOURCES.items()},
    "grounding": GROUNDING,
    "counting": COUNTING,
    "jigsaw": JIGSAW,
    "shuffled": JIGSAW,
}


def task_of(data_source: str) -> str | None:
    """The VideoSSR task a data_source belongs to, or None for a data_source VideoSSR does not own."""
    return _TASK_OF.get(data_source)


def known_data_sources() -> tuple[str, ...]:
    """All data_source names that VideoSSR scores (sorted)."""
    return tuple(sorted(_TASK_OF))

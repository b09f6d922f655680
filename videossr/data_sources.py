"""The data_source names VideoSSR writes and reads, in one place.

Every row VideoSSR writes carries one of ``DATA_SOURCES``. The reward dispatch also accepts the names used by the
reference implementation's published parquet files (``grounding``, ``counting``, ``jigsaw`` and ``shuffled`` —
the reference jigsaw generator wrote ``shuffled``), so those files train too. Names are matched without regard to case or surrounding whitespace
(``" VIDEOSSR_JIGSAW "`` is ``videossr_jigsaw``): a hand-edited file must not end a training run.
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


def normalise(data_source: object) -> str | None:
    """``data_source`` as looked up: stripped of surrounding whitespace and lower-cased; None for a non-string."""
    if not isinstance(data_source, str):
        return None
    return data_source.strip().lower()


def task_of(data_source: object) -> str | None:
    """The VideoSSR task a data_source belongs to (case and surrounding whitespace ignored), or None."""
    key = normalise(data_source)
    return None if key is None else _TASK_OF.get(key)


def known_data_sources() -> tuple[str, ...]:
    """All data_source names that VideoSSR scores (sorted)."""
    return tuple(sorted(_TASK_OF))

"""One table of the pretext tasks: name -> Params class, make_sample, default params and named presets.

The CLIs and the dataset build look tasks up here instead of branching on the name. Task modules are imported when
first asked for, so a task's dependencies load only when it is used.

Presets (named parameter sets; what the build's mix and the per-task CLIs use):

- grounding: one preset per perturbation name (that perturbation alone), plus ``train`` (the four training
  perturbations mixed, the task's default).
- counting: ``easy`` (3 frames per class, 3 instances per frame) and ``hard`` (4 and 4), as in the paper.
- jigsaw: ``easy`` (6 clips, also the training setting) and ``hard`` (8 clips).

Usage::

    from videossr.tasks.registry import get_task
    spec = get_task("jigsaw")
    sample = spec.make_sample(video, rng, spec.preset("hard"), ctx)
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from videossr.data_sources import COUNTING, GROUNDING, JIGSAW, TASKS


@dataclass(frozen=True)
class TaskSpec:
    """Everything needed to run one pretext task."""

    name: str
    params_cls: type
    make_sample: Callable[..., Any]  # (video, rng, params, ctx) -> Sample
    default_params: Any
    presets: Mapping[str, Any]

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise ValueError(f"unknown task {self.name!r}; expected one of {TASKS}")
        for label, params in {"default": self.default_params, **self.presets}.items():
            if not isinstance(params, self.params_cls):
                raise TypeError(f"{self.name} preset {label!r} is a {type(params).__name__}, not {self.params_cls}")

    def preset(self, name: str) -> Any:
        """The parameters of a named preset; raises ValueError naming the preset and the choices."""
        try:
            return self.presets[name]
        except KeyError:
            raise ValueError(f"task {self.name!r} has no preset {name!r}; choose from {sorted(self.presets)}") from None

    def params(self, **overrides: Any) -> Any:
        """The default parameters with some fields replaced (validated by the Params class)."""
        return dataclasses.replace(self.default_params, **overrides)


def params_to_json(params: Any) -> dict:
    """A Params dataclass as a JSON-ready dict (tuples become lists)."""
    return json_ready(dataclasses.asdict(params))


def json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def _grounding() -> TaskSpec:
    mod = importlib.import_module("videossr.tasks.grounding")
    presets = {name: mod.Params(perturbations=(name,)) for name in mod.PERTURBATIONS}
    presets["train"] = mod.Params(perturbations=tuple(mod.TRAINING_PERTURBATIONS))
    return TaskSpec(GROUNDING, mod.Params, mod.make_sample, mod.Params(), MappingProxyType(presets))


def _counting() -> TaskSpec:
    mod = importlib.import_module("videossr.tasks.counting")
    presets = dict(mod.DIFFICULTIES)  # easy / hard, defined by the task module
    return TaskSpec(COUNTING, mod.Params, mod.make_sample, mod.Params(), MappingProxyType(presets))


def _jigsaw() -> TaskSpec:
    mod = importlib.import_module("videossr.tasks.jigsaw")
    presets = {"easy": mod.Params(num_clips=6), "hard": mod.Params(num_clips=8)}
    return TaskSpec(JIGSAW, mod.Params, mod.make_sample, mod.Params(), MappingProxyType(presets))


_BUILDERS: dict[str, Callable[[], TaskSpec]] = {GROUNDING: _grounding, COUNTING: _counting, JIGSAW: _jigsaw}


def get_task(name: str) -> TaskSpec:
    """The spec of task ``name`` (looked up afresh, so it always holds the module's current ``make_sample``)."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(_BUILDERS)}") from None
    return builder()


def task_names() -> tuple[str, ...]:
    return TASKS

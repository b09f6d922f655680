"""lmms-eval's own task functions, loaded from its installed files without importing its evaluator.

``pip install --no-deps lmms-eval==0.7.3`` (the Makefile's env target) gives its task code; its package
``__init__`` files import the whole harness (torch, accelerate, ...), so ``task_utils("mvbench")`` registers stand-in
``lmms_eval`` and ``lmms_eval.tasks`` packages whose ``__path__`` is the real folders and imports
``lmms_eval/tasks/<task>/utils.py`` from there, unchanged. ``task_yaml`` reads a task's yaml (its ``!function``
lines dropped, as lmms-eval's own utils do) and ``qwen3_vl_kwargs`` picks the prompt kwargs lmms-eval uses for
``--model qwen3_vl``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import functools
import types
from pathlib import Path
from typing import Any

import pytest

LMMS_VERSION = "0.7.3"


@functools.cache
def lmms_root() -> Path:
    spec = importlib.util.find_spec("lmms_eval")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("lmms-eval is not installed: run `make env` (it installs lmms-eval==0.7.3 without its deps)")
    root = Path(list(spec.submodule_search_locations)[0])
    from importlib.metadata import version

    if version("lmms-eval") != LMMS_VERSION:
        pytest.fail(f"the tests compare with lmms-eval {LMMS_VERSION}, found {version('lmms-eval')}")
    return root


def _stand_in(name: str, path: Path) -> None:
    mod = sys.modules.get(name)
    if mod is not None and getattr(mod, "__path__", None) == [str(path)]:
        return
    mod = types.ModuleType(name)
    mod.__path__ = [str(path)]
    sys.modules[name] = mod


def task_utils(task: str, module: str = "utils") -> types.ModuleType:
    """``lmms_eval/tasks/<task>/<module>.py``, imported as lmms-eval would import it."""
    root = lmms_root()
    _stand_in("lmms_eval", root)
    _stand_in("lmms_eval.tasks", root / "tasks")
    return importlib.import_module(f"lmms_eval.tasks.{task}.{module}")


def task_yaml(task: str, name: str) -> dict[str, Any]:
    """A task yaml of ``lmms_eval/tasks/<task>/``, its ``include`` merged under it, ``!function`` lines dropped."""
    import yaml

    folder = lmms_root() / "tasks" / task
    text = "".join(line for line in (folder / name).read_text().splitlines(True) if "!function" not in line)
    conf = yaml.safe_load(text) or {}
    if "include" in conf:
        base = task_yaml(task, conf.pop("include"))
        base.update(conf)
        conf = base
    return conf


def qwen3_vl_kwargs(conf: dict[str, Any]) -> dict[str, Any]:
    """The lmms_eval_specific_kwargs a ``--model qwen3_vl`` run gets (lmms-eval's api/task.py rule)."""
    kw = dict(conf.get("lmms_eval_specific_kwargs") or {})
    if "qwen3_vl" in kw:
        return dict(kw["qwen3_vl"])
    if "default" in kw:
        kw.update(kw["default"])
    return kw

"""Pretext samples made inside verl's data loader: recipe rows on disk, pixels made when an item is loaded.

A recipe row (``videossr.tasks.sample``) holds what determines a sample: its task, video, question, answer and audit
info, plus ``extra_info.recipe`` (the frame store, the task's difficulty parameters, the seed and the sample's
number). ``VideoSSRDataset``, a subclass of verl's ``RLHFDataset`` plugged in with verl's own keys::

    data.custom_cls.path=pkg://videossr.training.dataset  data.custom_cls.name=VideoSSRDataset

renders the sample's frames in memory when verl loads the item (``videossr.tasks.recipe.make_row``): untouched frames stay paths into
the frame store, new frames (perturbed, shape-bearing) travel as in-memory JPEG data with the settings the
materialised build writes to disk, so the model sees pixel-identical frames whichever way the data was built. On
disk there is only the frame store and a small parquet. Rows with frames (materialised builds) pass through
unchanged, so one class serves both kinds; ``train/train.sh`` picks it from the parquet's metadata.

Fresh draws every epoch. With ``data.videossr.fresh_each_epoch=true`` (the recipe YAML declares the key), the
k-th time an item is loaded (k = 0, 1, ...) it is drawn afresh from the stream ``(seed, task, index, epoch=k)``:
new segment, new perturbation parameters, new shapes, new clip order on the same video and difficulty, checked
like every generated answer; the first load is the row as built. A multi-epoch run thus never shows the model the
same sample twice, deterministically. The per-item counters live in shared memory, so data-loader worker
processes see one count; they are part of the dataset's ``state_dict`` for a resumed run.

The online curriculum. With ``data.videossr.curriculum.enable=true`` (``CURRICULUM=1``), the training set (the
first such dataset of the process) creates the curriculum (``videossr.training.curriculum``), resumes its state from
the checkpoint verl resumes from, and draws every recipe row afresh at its task's current rung (stream ``(seed,
task, index, 1 + loads so far)``), tagged ``extra_info.curriculum_rung`` / ``curriculum_label``; a rung the row's
video cannot take falls back to the row as built, tagged with its own rung (-1 if it is none). The validation set
draws its rows as built.

Rows loaded with verl's plain ``RLHFDataset`` by mistake would show the model the unedited source frames: the
reward refuses them (a row with a recipe that was never made scores 0, ``gold_ok`` 0, logged), and the launcher's
dry run fails on such a configuration.

Usage::

    python -m videossr.training.dataset kind data/videossr/train.parquet     # prints "recipes" or "frames"
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from collections.abc import Mapping

from videossr.tasks import get_task
from videossr.tasks.recipe import make_row, read_recipe
from videossr.training import curriculum
from videossr.training.curriculum import CurriculumSettings

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------------
# The verl dataset class

try:  # verl and torch are there when training; the rest of this module works without them
    import torch
    from verl.utils.dataset.rl_dataset import RLHFDataset
except ImportError:  # pragma: no cover - exercised only without verl installed
    RLHFDataset = object  # type: ignore[assignment,misc]


class _MadeRows:
    """What ``VideoSSRDataset`` puts in place of verl's row table: rows, with recipe rows made on access."""

    def __init__(self, rows: Any, dataset: VideoSSRDataset) -> None:
        self.rows = rows
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int) -> dict:
        row = self.rows[item]
        recipe = read_recipe(row)
        if recipe is None:
            return row
        if self.dataset.curriculum is not None:
            return self.dataset.curriculum_row(row, int(item), recipe)
        return make_row(row, self.dataset.next_epoch(int(item)), recipe)


class VideoSSRDataset(RLHFDataset):  # type: ignore[misc,valid-type]
    """verl's RLHFDataset, with recipe rows made when loaded (see the module docstring)."""

    def __init__(self, data_files, tokenizer, config, processor=None, max_samples: int = -1):
        options = config.get("videossr", None) or {}
        self.fresh_each_epoch = bool(options.get("fresh_each_epoch", False))
        self.curriculum = None
        super().__init__(data_files, tokenizer, config, processor=processor, max_samples=max_samples)
        self._start_curriculum(options.get("curriculum", None))

    # --- the training curriculum (videossr.training.curriculum) -------------------------------------------------

    def _start_curriculum(self, options: Any) -> None:
        """With ``data.videossr.curriculum.enable``, the first dataset of the process (verl builds the training set
        first) makes the curriculum, resumes its state from the checkpoint verl resumes from, and draws every recipe
        row at its task's current rung; a later one (the validation set) draws its rows as built."""
        settings = CurriculumSettings.from_config(_plain(options))
        if not settings.enable or curriculum.active() is not None:
            return
        made = curriculum.Curriculum(settings)
        made.resume(_plain(options))
        curriculum.activate(made)
        self.curriculum = made

    def curriculum_row(self, row: Mapping[str, Any], item: int, recipe: Mapping[str, Any]) -> dict:
        """Recipe row ``item`` drawn afresh at its task's current rung, tagged with the rung (``extra_info``).

        Every load draws from a new stream (``epoch`` = 1 + loads so far). A rung the row's video cannot take (too
        few frames, a clip count that does not divide them; the dry run checks the store against every rung) falls
        back to the row as built, tagged with the rung of its own Params (-1 if none): never decisive for the
        controller unless it is the current rung.
        """
        task = get_task(row["extra_info"]["task"])
        rung, params = self.curriculum.draw_params(task.name)
        epoch = 1 + int(self._loads[item])
        self._loads[item] += 1
        try:
            made = make_row(row, epoch, recipe, params=params)
        except ValueError as e:
            logger.warning("curriculum: %s row %d cannot be drawn at rung %s (%s); using the row as built",
                           task.name, item, self.curriculum.ladders[task.name][rung].label, e)
            made = make_row(row, 0, recipe)
            rung = self.curriculum.rung_of(task.name, task.params_from_json(recipe["params"]))
        label = self.curriculum.ladders[task.name][rung].label if rung >= 0 else "built"
        made["extra_info"] = {**made["extra_info"], curriculum.RUNG_KEY: rung, curriculum.LABEL_KEY: label}
        return made

    def _read_files_and_tokenize(self):
        # verl reads the parquet, selects and filters by prompt length on the recipe rows as they are (their videos
        # list the source frames: same count and size, so the same length); items are made afterwards, on access.
        super()._read_files_and_tokenize()
        self._loads = torch.zeros(len(self.dataframe), dtype=torch.int64).share_memory_()
        self.dataframe = _MadeRows(self.dataframe, self)

    def next_epoch(self, item: int) -> int:
        """The epoch to draw item ``item`` for: 0 unless fresh draws are on, else how often it was loaded before."""
        if not self.fresh_each_epoch:
            return 0
        epoch = int(self._loads[item])
        self._loads[item] += 1
        return epoch

    def state_dict(self) -> dict:
        return {"loads": self._loads.clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        loads = state.get("loads")
        if loads is not None and len(loads) == len(self._loads):
            self._loads.copy_(torch.as_tensor(loads))


def _plain(options: Any) -> dict:
    """A config node (OmegaConf, interpolations resolved) or a mapping as a plain dict; {} for None."""
    if options is None:
        return {}
    try:
        from omegaconf import DictConfig, OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        if isinstance(options, DictConfig):
            try:
                return dict(OmegaConf.to_container(options, resolve=True))
            except OmegaConfBaseException:  # an interpolation into a config that is not there (a data config alone)
                return dict(OmegaConf.to_container(options, resolve=False))
    except ImportError:  # pragma: no cover - omegaconf comes with verl
        pass
    return dict(options)


# ----------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from videossr.tasks.sample import rows_kind

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] != "kind":
        print("usage: python -m videossr.training.dataset kind FILE.parquet [FILE.parquet ...]", file=sys.stderr)
        return 2
    kinds = {rows_kind(path) for path in args[1:]}
    print(kinds.pop() if len(kinds) == 1 else "mixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

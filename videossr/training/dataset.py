"""Pretext samples made inside verl's data loader: recipe rows on disk, pixels made when an item is loaded.

A recipe row (``videossr.tasks.sample``) holds what determines a sample: its task, video, question, answer and audit
info, plus ``extra_info.recipe`` (the frame store, the task's difficulty parameters, the seed and the sample's
number). ``VideoSSRDataset``, a subclass of verl's ``RLHFDataset`` plugged in with verl's own keys::

    data.custom_cls.path=pkg://videossr.training.dataset  data.custom_cls.name=VideoSSRDataset

renders the sample's frames in memory when verl loads the item (``videossr.tasks.recipe.make_row``): untouched frames stay paths into
the frame store, new frames (perturbed, shape-bearing) travel as in-memory JPEG data with the settings the
materialised build writes to disk, so the model sees pixel-identical frames whichever way the data was built. On
disk there is only the frame store and a small parquet. Rows with frames (materialised builds) pass through
unchanged, so one class serves both kinds; ``train/train.sh`` picks it from the parquet's rows
(``videossr.tasks.sample.rows_kind``).

Fresh draws every epoch. With ``data.videossr.fresh_each_epoch=true`` (the recipe YAML declares the key), the
k-th time an item is loaded (k = 0, 1, ...) it is drawn afresh from the stream ``(seed, task, index, epoch=k)``:
new segment, new perturbation parameters, new shapes, new clip order on the same video and difficulty, checked
like every generated answer; the first load is the row as built. A multi-epoch run thus never shows the model the
same sample twice, deterministically. The per-item counters live in shared memory, so data-loader worker
processes see one count; they are part of the dataset's ``state_dict`` for a resumed run.

Bad rows never end training. Validation refuses bad rows before training; a row that still fails when verl loads
it (a frame deleted or cut short since, a store that went away: every frame file an item shows is checked when it
is loaded, ``data.videossr.check_frames``) is logged once with its file, row and reason, counted, and replaced by
a substitute: the first of the rows after it (wrapping round) that loads, made at the failed item's epoch without
counting a load of its own, so the same failure always gets the same substitute and a resumed run sees the same
data; the substitute's ``extra_info.substitute_for`` names the row it stands in for. The counts live in shared
memory (one count across the data-loader workers). The run stops with ``RowLoadError``, naming the first rows that
failed, only when more than ``max_failed_fraction`` of the items loaded failed and more than ``tolerated_failures``
loads did. verl's start-up length filter drops rows it cannot read without a word; here that is an error naming
each such row, overlong rows are an error unless ``drop_overlong`` (then logged), and an empty file is an error.
The settings live under ``data.videossr`` (``DEFAULTS``; declared in ``verl/videossr_grpo.yaml``).

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
from collections.abc import Mapping
from typing import Any

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

# Settings under data.videossr (declared in verl/videossr_grpo.yaml) and their defaults.
DEFAULTS = {
    "fresh_each_epoch": False,
    "check_frames": True,  # every frame file an item shows is checked (present, whole) when the item is loaded
    "max_failed_fraction": 0.01,  # stop when more than this share of the items loaded failed ...
    "tolerated_failures": 10,  # ... and more than this many did (a few early failures never stop a run)
    "drop_overlong": False,  # let verl's start-up filter drop rows whose prompt is too long (logged) instead of failing
}

# Columns added to the rows while they are read (where each row came from); taken out before training.
_ORIGIN_FILE, _ORIGIN_ROW = "__videossr_file", "__videossr_row"
_WORKER_SLOTS = 257  # per-process tallies: the main process and up to 256 data-loader workers
SHOWN = 5  # rows named in an error


class RowLoadError(RuntimeError):
    """Too many rows failed to load (``max_failed_fraction``), or a dataset shrank while it was read."""


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
        if recipe is not None:
            if self.dataset.curriculum is not None:
                row = self.dataset.curriculum_row(row, int(item), recipe)
            else:
                row = make_row(row, self.dataset.epoch_to_make(int(item)), recipe)
        if self.dataset.check_frames:
            _check_frames(row)
        return row


def _check_frames(row: Mapping[str, Any]) -> None:
    """OSError naming the first frame file of ``row`` that cannot be shown (data URIs are the dataset's own)."""
    from videossr.sampling.store import frame_file_problem

    seen = set()
    for entry in row.get("videos") or ():
        frames = entry.get("video") if isinstance(entry, Mapping) else entry
        for frame in [frames] if isinstance(frames, str) else (frames or ()):
            if frame in seen or not isinstance(frame, str) or frame.startswith("data:"):
                continue
            seen.add(frame)
            problem = frame_file_problem(frame)
            if problem is not None:
                raise OSError(problem)


class VideoSSRDataset(RLHFDataset):  # type: ignore[misc,valid-type]
    """verl's RLHFDataset, with recipe rows made when loaded and rows that fail to load replaced (see the module
    docstring)."""

    def __init__(self, data_files, tokenizer, config, processor=None, max_samples: int = -1):
        options = {**DEFAULTS, **dict(config.get("videossr", None) or {})}
        self.fresh_each_epoch = bool(options["fresh_each_epoch"])
        self.check_frames = bool(options["check_frames"])
        self.drop_overlong = bool(options["drop_overlong"])
        self.max_failed_fraction = float(options["max_failed_fraction"])
        self.tolerated_failures = int(options["tolerated_failures"])
        if not 0 <= self.max_failed_fraction <= 1 or self.tolerated_failures < 0:
            raise ValueError(
                f"data.videossr: max_failed_fraction must be in [0, 1] and tolerated_failures >= 0, got "
                f"{self.max_failed_fraction!r} and {self.tolerated_failures!r}"
            )
        self._substitute_epoch: int | None = None
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
        if self._substitute_epoch is not None:  # standing in for a failed row: its draw, no load counted
            loads = self._substitute_epoch
        else:
            loads = int(self._loads[item])
            self._loads[item] += 1
        epoch = 1 + loads
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

    # --- reading the rows ----------------------------------------------------------------------------------------

    def _read_files_and_tokenize(self):
        # verl's reading, with each row's file and position kept (for messages) and its start-up filter guarded;
        # the filter runs on the recipe rows as they are (their videos list the source frames: same count and size,
        # so the same length); items are made afterwards, on access.
        self.dataframe = self._read_rows_with_origin()
        self.dataframe = self._filter_at_start(self.dataframe)
        self._origin_file = list(self.dataframe[_ORIGIN_FILE])
        self._origin_row = list(self.dataframe[_ORIGIN_ROW])
        self.dataframe = self.dataframe.remove_columns([_ORIGIN_FILE, _ORIGIN_ROW])
        n = len(self.dataframe)
        self._loads = torch.zeros(n, dtype=torch.int64).share_memory_()
        self._failed_at = torch.zeros(n, dtype=torch.int64).share_memory_()  # when a row first failed (ns), or 0
        self._tally = torch.zeros(_WORKER_SLOTS, 2, dtype=torch.int64).share_memory_()  # per process: loads, failures
        self.dataframe = _MadeRows(self.dataframe, self)

    def _read_rows_with_origin(self):
        """The rows of every data file (as verl reads them), each tagged with its file and position, then the
        ``max_samples`` selection verl makes."""
        import datasets
        import numpy as np

        tables = []
        for k, path in enumerate(self.data_files):
            kind = "parquet" if path.endswith(".parquet") else "json" if path.endswith((".json", ".jsonl")) else None
            if kind is None:
                raise ValueError(f"unsupported data file format: {path}")
            if kind == "parquet":
                import pyarrow.parquet as pq

                if pq.read_metadata(path).num_rows == 0:
                    raise RowLoadError(f"no rows in {self._source_files()[k]}: nothing to train on")
            table = datasets.load_dataset(kind, data_files=path)["train"]
            table = table.add_column(_ORIGIN_FILE, [k] * len(table)).add_column(_ORIGIN_ROW, list(range(len(table))))
            tables.append(table)
        rows = datasets.concatenate_datasets(tables)
        if len(rows) == 0:
            raise RowLoadError(f"no rows in {', '.join(map(str, self._source_files()))}: nothing to train on")
        if 0 < self.max_samples < len(rows):
            if self.shuffle:
                rng = np.random.default_rng(*(() if self.seed is None else (self.seed,)))
                picked = rng.choice(len(rows), size=self.max_samples, replace=False)
            else:
                picked = np.arange(self.max_samples)
            rows = rows.select(picked.tolist())
        return rows

    def _source_files(self) -> list[str]:
        return [str(f) for f in getattr(self, "original_data_files", None) or self.data_files]

    def where(self, item: int) -> str:
        """``FILE row R``: where dataset item ``item`` comes from (R counts from 0 in its file)."""
        return f"{self._source_files()[self._origin_file[item]]} row {self._origin_row[item]}"

    def _filter_at_start(self, rows):
        """verl's start-up prompt-length filter, which must not shrink the data silently (see the module docstring):
        rows it dropped because they could not be read are an error naming them; rows dropped for their length are
        an error too unless ``drop_overlong`` (then logged)."""
        kept = self.maybe_filter_out_long_prompts(rows)
        if len(kept) == len(rows):
            return kept
        survivors = set(zip(kept[_ORIGIN_FILE], kept[_ORIGIN_ROW]))
        files, positions = rows[_ORIGIN_FILE], rows[_ORIGIN_ROW]
        dropped = [i for i, key in enumerate(zip(files, positions)) if key not in survivors]
        sources = self._source_files()
        unreadable, overlong = [], []
        for i in dropped:
            where = f"{sources[files[i]]} row {positions[i]}"
            if len(unreadable) >= SHOWN and overlong:
                unreadable.append((where, None))  # counted, not diagnosed
                continue
            try:
                length = self._prompt_length(rows[i])
            except Exception as e:  # noqa: BLE001 - the reason this row cannot be read, reported below
                unreadable.append((where, f"{type(e).__name__}: {e}"))
            else:
                overlong.append((where, length))
        if unreadable:
            listed = "; ".join(f"{w}: {why}" for w, why in unreadable[:SHOWN] if why is not None)
            raise RowLoadError(
                f"{len(unreadable)} of {len(rows)} rows cannot be read (verl's start-up filter would drop them "
                f"silently): {listed}{' ...' if len(unreadable) > SHOWN else ''}. Fix or rebuild the data "
                "(pretext_tasks/validate.py names every bad row)"
            )
        listed = "; ".join(f"{w}: {n} tokens" for w, n in overlong[:SHOWN])
        message = (f"{len(overlong)} of {len(rows)} rows have prompts longer than data.max_prompt_length="
                   f"{self.max_prompt_length} tokens: {listed}{' ...' if len(overlong) > SHOWN else ''}")
        if not self.drop_overlong:
            raise RowLoadError(f"{message}. Raise data.max_prompt_length, or set data.videossr.drop_overlong=true "
                               "to train without them")
        if len(kept) == 0:
            raise RowLoadError(f"{message}: none is left to train on")
        logger.warning("%s: dropped (data.videossr.drop_overlong)", message)
        return kept

    def _prompt_length(self, doc: Mapping[str, Any]) -> int:
        """The prompt length of one row as verl's start-up filter measures it, raising what it raises."""
        import copy

        from verl.utils.tokenizer import build_multimodal_processor_inputs

        doc = copy.deepcopy(dict(doc))
        kwargs = dict(self.apply_chat_template_kwargs or {})
        if self.tool_schemas is not None:
            kwargs["tools"] = self.tool_schemas
        if self.processor is None:
            ids = self.tokenizer.apply_chat_template(doc[self.prompt_key], add_generation_prompt=True,
                                                     tokenize=True, **kwargs)
            return len(ids["input_ids"] if isinstance(ids, Mapping) else ids)
        messages = self._build_messages(doc, key=self.prompt_key)
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, **kwargs)
        images, videos, audios = self._process_multi_modal_info(messages, self.image_patch_size, self.config)
        inputs = build_multimodal_processor_inputs(self.processor, text=[text], images=images, videos=videos,
                                                   audio=audios, mm_processor_kwargs=self.mm_processor_kwargs)
        return len(inputs["input_ids"][0])

    # --- loading an item -----------------------------------------------------------------------------------------

    def __getitem__(self, item):
        """verl's item ``item``; if it fails to load, a substitute (see the module docstring)."""
        item = int(item)
        slot = self._slot()
        self._tally[slot, 0] += 1
        try:
            return super().__getitem__(item)
        except Exception as e:  # noqa: BLE001 - any failure of one row is counted, named and replaced
            failed_epoch = self._count_failure(item, e, slot)
        return self._substitute(item, failed_epoch, slot)

    def _substitute(self, item: int, epoch: int, slot: int) -> dict:
        """The first of rows ``item + 1, item + 2, ...`` (wrapping round) that loads, made at the failed item's
        epoch without counting a load of its own: a function of ``item`` and that epoch alone, so a resumed run
        sees the same data."""
        n = len(self)
        for step in range(1, n):
            other = (item + step) % n
            self._substitute_epoch = epoch
            try:
                row = super().__getitem__(other)
            except Exception as e:  # noqa: BLE001 - the substitute failed too: counted, and the next one tried
                self._count_failure(other, e, slot, as_substitute=True)
                continue
            finally:
                self._substitute_epoch = None
            row["extra_info"] = {**dict(row.get("extra_info") or {}), "substitute_for": self.where(item)}
            return row
        raise RowLoadError(f"no row of the {n} loads: {self._first_failures()}")

    def _count_failure(self, item: int, error: BaseException, slot: int, as_substitute: bool = False) -> int:
        """Count one failed load of ``item`` (logged the first time that row fails); RowLoadError past the
        threshold. Returns the epoch the item was being made at."""
        import time

        if isinstance(error, RowLoadError):
            raise error
        self._tally[slot, 1] += 1
        reason = f"{type(error).__name__}: {error}"
        if int(self._failed_at[item]) == 0:
            self._failed_at[item] = time.time_ns()
            logger.error("%s failed to load (%s); %s", self.where(item), reason,
                         "trying the next row" if as_substitute else "a substitute row is used instead")
        loads, failures = (int(x) for x in self._tally.sum(dim=0))
        if failures > self.tolerated_failures and failures > self.max_failed_fraction * loads:
            raise RowLoadError(
                f"{failures} failed loads in {loads} items, more than data.videossr.max_failed_fraction="
                f"{self.max_failed_fraction} of them (and more than tolerated_failures={self.tolerated_failures}); "
                f"the first rows that failed: {self._first_failures()}; the last: {self.where(item)}: {reason}"
            ) from error
        counted = self.fresh_each_epoch or self.curriculum is not None  # loads drive the draws
        return max(int(self._loads[item]) - 1, 0) if counted else 0

    def _first_failures(self) -> str:
        failed = [(int(t), i) for i, t in enumerate(self._failed_at.tolist()) if t]
        return "; ".join(self.where(i) for _, i in sorted(failed)[:SHOWN]) or "none"

    @staticmethod
    def _slot() -> int:
        from torch.utils.data import get_worker_info

        info = get_worker_info()
        return 0 if info is None else 1 + info.id % (_WORKER_SLOTS - 1)

    def load_failures(self) -> dict:
        """How many items were loaded and how many loads failed (all processes), and the rows that failed."""
        loads, failures = (int(x) for x in self._tally.sum(dim=0))
        rows = [self.where(i) for _, i in sorted((int(t), i) for i, t in enumerate(self._failed_at.tolist()) if t)]
        return {"loads": loads, "failures": failures, "rows": rows}

    # --- fresh draws ---------------------------------------------------------------------------------------------

    def epoch_to_make(self, item: int) -> int:
        """The epoch to make item ``item`` at: a substitute's given epoch, else ``next_epoch``."""
        if self._substitute_epoch is not None:
            return self._substitute_epoch
        return self.next_epoch(item)

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
    try:
        kinds = {rows_kind(path) for path in args[1:]}
    except ValueError as e:
        print(f"videossr.training.dataset: {e}", file=sys.stderr)
        return 2
    print(kinds.pop() if len(kinds) == 1 else "mixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

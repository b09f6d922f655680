"""Pretext samples made inside verl's data loader: recipe rows on disk, pixels made when an item is loaded.

A recipe row (``videossr.sample``) holds what determines a sample: its task, video, question, answer and audit
info, plus ``extra_info.recipe`` (the frame store, the task's difficulty parameters, the seed and the sample's
number). ``VideoSSRDataset``, a subclass of verl's ``RLHFDataset`` plugged in with verl's own keys::

    data.custom_cls.path=pkg://videossr.onthefly  data.custom_cls.name=VideoSSRDataset

renders the sample's frames in memory when verl loads the item (``make_row``): untouched frames stay paths into
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

Rows loaded with verl's plain ``RLHFDataset`` by mistake would show the model the unedited source frames: the
reward refuses them (a row with a recipe that was never made scores 0, ``gold_ok`` 0, logged), and the launcher's
dry run fails on such a configuration.

Usage::

    python -m videossr.onthefly kind data/videossr/train.parquet     # prints "recipes" or "frames"
"""

from __future__ import annotations

import base64
import json
import logging
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from videossr.executors import store_context
from videossr.manifest import encode_jpeg
from videossr.planning import Unit
from videossr.sample import MADE_KEY, distinct_new_frames
from videossr.tasks import get_task
from videossr.tasks.base import Draft
from videossr.units import RECIPE_FORMAT, draw_unit

logger = logging.getLogger(__name__)


def jpeg_data_uri(frame: np.ndarray) -> str:
    """``frame`` as a ``data:image/jpeg;base64`` URI, encoded as every stored frame is (``manifest.encode_jpeg``)."""
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(frame)).decode("ascii")


def recipe_of(row: Mapping[str, Any]) -> dict | None:
    """The recipe of a row (a dict), or None for a row with frames."""
    raw = (row.get("extra_info") or {}).get("recipe")
    if not raw:
        return None
    recipe = json.loads(raw) if isinstance(raw, str) else dict(raw)
    if recipe.get("format") != RECIPE_FORMAT:
        raise ValueError(f"recipe format {recipe.get('format')!r} is not {RECIPE_FORMAT}: rebuild the data")
    return recipe


def make_row(row: Mapping[str, Any], epoch: int = 0, recipe: Mapping[str, Any] | None = None) -> dict:
    """The verl row of a recipe row with its frames made (see the module docstring); ``epoch`` > 0 draws afresh.

    ``recipe``: the row's recipe when the caller has already read it (``recipe_of(row)``).
    """
    if recipe is None:
        recipe = recipe_of(row)
    if recipe is None:
        raise ValueError("not a recipe row (no extra_info.recipe)")
    extra = dict(row["extra_info"])
    task = get_task(extra["task"])
    ctx, videos = store_context(recipe["frames_root"])
    try:
        video = videos[extra["video_id"]]
    except KeyError:
        raise ValueError(f"video {extra['video_id']!r} is not in the frame store {recipe['frames_root']}") from None
    if epoch == 0:
        user = next(m["content"] for m in row["prompt"] if m["role"] == "user")
        draft = Draft(video.video_id, user, row["reward_model"]["ground_truth"], json.loads(extra["params"]))
    else:
        unit = Unit(task=task.name, index=int(recipe["index"]), row_index=int(extra["index"]), variant="-",
                    params=task.params_from_json(recipe["params"]), video_id=video.video_id, seed=int(recipe["seed"]))
        draft, _ = draw_unit(unit, video, ctx, epoch=epoch)
    sample = task.render(draft, video, ctx)
    if len(sample.clips) != len(row["videos"]):
        raise ValueError(f"the sample has {len(sample.clips)} clips but the row lists {len(row['videos'])} videos")
    distinct, slots = distinct_new_frames(sample.clips)
    uris = [jpeg_data_uri(frame) for _, _, frame in distinct]
    new_videos = [
        {**dict(entry), "video": [uris[k] if k is not None else str(f) for k, f in zip(clip_slots, clip.frames)]}
        for clip, clip_slots, entry in zip(sample.clips, slots, row["videos"])
    ]
    prompt = [dict(m) for m in row["prompt"]]
    for m in prompt:
        if m["role"] == "user":
            m["content"] = sample.question
    extra.update({"params": json.dumps(dict(sample.params), sort_keys=True), MADE_KEY: True, "epoch": int(epoch)})
    return {
        **dict(row),
        "prompt": prompt,
        "videos": new_videos,
        "reward_model": {**dict(row["reward_model"]), "ground_truth": sample.answer},
        "extra_info": extra,
    }


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
        recipe = recipe_of(row)
        if recipe is None:
            return row
        return make_row(row, self.dataset.next_epoch(int(item)), recipe)


class VideoSSRDataset(RLHFDataset):  # type: ignore[misc,valid-type]
    """verl's RLHFDataset, with recipe rows made when loaded (see the module docstring)."""

    def __init__(self, data_files, tokenizer, config, processor=None, max_samples: int = -1):
        options = config.get("videossr", None) or {}
        self.fresh_each_epoch = bool(options.get("fresh_each_epoch", False))
        super().__init__(data_files, tokenizer, config, processor=processor, max_samples=max_samples)

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


# ----------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from videossr.sample import rows_kind

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] != "kind":
        print("usage: python -m videossr.onthefly kind FILE.parquet [FILE.parquet ...]", file=sys.stderr)
        return 2
    kinds = {rows_kind(path) for path in args[1:]}
    print(kinds.pop() if len(kinds) == 1 else "mixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

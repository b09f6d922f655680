"""Recipes: what determines a sample, and the sample made again from it.

A recipe row (``videossr.tasks.sample``) stores a sample's question, answer and audit info plus ``extra_info.recipe``:
the frame store, the task's difficulty parameters, the seed, the sample's number and which of its draws was kept.
``make_row`` turns such a row into the verl row with its frames (untouched frames stay paths into the store, new
frames travel as in-memory JPEG data encoded exactly as the materialised build writes them to disk), so the model
sees the same pixels whichever way the data was built. ``draw`` is the one way a sample's draft is drawn: the build
calls it for a sample's first draws, the trainer's dataset class for the fresh draws of later epochs.

This module needs only the task table and the frame store: it is what the on-the-fly dataset imports to make a
sample (``videossr.training.dataset``).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from videossr.io import params_to_json
from videossr.sampling.store import TaskContext, VideoRecord, encode_jpeg, store_context
from videossr.tasks import get_task
from videossr.tasks.base import Draft
from videossr.tasks.sample import MADE_KEY, distinct_new_frames

logger = logging.getLogger(__name__)

RECIPE_FORMAT = 1

# The first entropy word after the seed of a sample's own random stream (the build's other streams use 1..4).
SAMPLE_STREAM = 0

# A draw whose answer the reward could not score is drawn again from the next stream, at most this many times.
MAX_DRAWS = 4


def sample_rng(seed: int, task: str, index: int, attempt: int = 0, epoch: int = 0) -> np.random.Generator:
    """The random stream of sample ``index`` of ``task``: its first draw, its redraws (``attempt`` > 0) and, for
    datasets made fresh every epoch, its draws of later epochs (``epoch`` > 0). All streams are distinct."""
    key = [seed, SAMPLE_STREAM, get_task(task).task_id, index]
    if epoch:
        return np.random.default_rng([*key, attempt, epoch])
    return np.random.default_rng(key if attempt == 0 else [*key, attempt])


def draw(task_name: str, params: Any, seed: int, index: int, video: VideoRecord, ctx: TaskContext,
         epoch: int = 0, label: str = "") -> tuple[Draft, int]:
    """Sample ``index``'s draft and the number of discarded draws; ValueError if no draw gives a scorable answer.

    Every answer written must parse with the task's own gold parser and score 1.0 against itself in both modes
    (``PretextTask.check_gold``). The first draw uses the sample's stream, so a valid first draw is what it always
    was; ``epoch`` > 0 gives the draws of a dataset made fresh every epoch. ``label`` names the sample in warnings.
    """
    task = get_task(task_name)
    problems = []
    for attempt in range(MAX_DRAWS):
        draft = task.draw(video, sample_rng(seed, task.name, index, attempt, epoch), params, ctx)
        try:
            task.check_gold(draft.answer)
        except ValueError as e:
            problems.append(str(e))
            logger.warning("%s on %s: draw %d has an unscorable answer (%s); drawing again",
                           label or f"{task.name} {index}", video.video_id, attempt, e)
            continue
        return draft, attempt
    raise ValueError(f"no scorable answer in {MAX_DRAWS} draws: {problems[-1]}")


def new_recipe(frames_root: str | Path, params: Any, seed: int, index: int, attempt: int) -> dict:
    """The ``extra_info.recipe`` of a sample: what re-makes (or re-draws) it."""
    return {
        "format": RECIPE_FORMAT,
        "frames_root": str(Path(frames_root).resolve()),
        "params": params_to_json(params),
        "seed": seed,
        "index": index,
        "attempt": attempt,
    }


def read_recipe(row: Mapping[str, Any]) -> dict | None:
    """The recipe of a verl row (a dict), or None for a row with frames."""
    raw = (row.get("extra_info") or {}).get("recipe")
    if not raw:
        return None
    recipe = json.loads(raw) if isinstance(raw, str) else dict(raw)
    if recipe.get("format") != RECIPE_FORMAT:
        raise ValueError(f"recipe format {recipe.get('format')!r} is not {RECIPE_FORMAT}: rebuild the data")
    return recipe


def jpeg_data_uri(frame: np.ndarray) -> str:
    """``frame`` as a ``data:image/jpeg;base64`` URI, encoded as every stored frame is (``store.encode_jpeg``)."""
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(frame)).decode("ascii")


def make_row(row: Mapping[str, Any], epoch: int = 0, recipe: Mapping[str, Any] | None = None,
             params: Any = None) -> dict:
    """The verl row of a recipe row with its frames made (see the module docstring); ``epoch`` > 0 draws afresh.

    ``recipe``: the row's recipe when the caller has already read it (``read_recipe(row)``). ``params``: draw at
    these task Params instead of the recipe's (the training curriculum; needs ``epoch`` > 0); the sample may then
    have another number of clips than the row, and every clip takes the settings of the row's first video.
    """
    if recipe is None:
        recipe = read_recipe(row)
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
        if params is not None:
            raise ValueError("make_row: drawing at other params needs epoch > 0")
        user = next(m["content"] for m in row["prompt"] if m["role"] == "user")
        draft = Draft(video.video_id, user, row["reward_model"]["ground_truth"], json.loads(extra["params"]))
    else:
        draw_params = task.params_from_json(recipe["params"]) if params is None else params
        draft, _ = draw(task.name, draw_params, int(recipe["seed"]), int(recipe["index"]), video, ctx, epoch=epoch)
    sample = task.render(draft, video, ctx)
    entries = list(row["videos"])
    if params is not None and len(sample.clips) != len(entries):
        entries = [entries[0]] * len(sample.clips)
    if len(sample.clips) != len(entries):
        raise ValueError(f"the sample has {len(sample.clips)} clips but the row lists {len(row['videos'])} videos")
    distinct, slots = distinct_new_frames(sample.clips)
    uris = [jpeg_data_uri(frame) for _, _, frame in distinct]
    new_videos = [
        {**dict(entry), "video": [uris[k] if k is not None else str(f) for k, f in zip(clip_slots, clip.frames)]}
        for clip, clip_slots, entry in zip(sample.clips, slots, entries)
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

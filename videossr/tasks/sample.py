"""The record every pretext task produces, and its verl parquet row.

A task returns a ``Sample``: the question (with one ``<video>`` placeholder per clip), the exact answer string, the
clips the model sees, and the audit information needed to re-derive the answer. Tasks are pure: a clip's frames are
either paths of existing frame files (untouched frames are referenced, never copied) or new pixels as uint8 HxWx3
RGB arrays (perturbed or overlaid frames). The build (``videossr.datasets.units``) saves the new pixels under the
output dataset's own folder and turns the sample into a verl row with ``to_verl_row``.

Row format (what verl's ``RLHFDataset`` reads for video; the same keys in every row, because Arrow fills a key that
some rows lack with None and verl's loader then fails; ``ROW_SCHEMA`` fixes them and ``write_parquet`` uses it):

    data_source   the task's data_source: "videossr_grounding" | "videossr_counting" | "videossr_jigsaw" | ...
    prompt        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]
    videos        [{"video": [abs frame paths], "sample_fps": F, "min_pixels": M, "max_pixels": X}, ...]
    ability       "video_understanding"
    reward_model  {"style": "rule", "ground_truth": answer}
    extra_info    {"index": i, "split": S, "task": T, "video_id": V, "params": JSON string of the audit info}

Recipe rows (made by the trainer on the fly, ``videossr.training.dataset``) have the same columns, plus
``extra_info.recipe``: a JSON string with the frame store, the task's difficulty parameters, the seed and the
sample's number, from which the dataset class renders the new pixels when verl loads the item. Their ``videos``
hold the source frames of the sample's layout (existing files of the frame store, the same count and size as the
rendered frames), so prompt lengths and frame checks work without rendering. A parquet file says which kind of rows
it holds in its schema metadata (``ROWS_METADATA_KEY``: ``frames`` or ``recipes``); ``rows_kind`` reads the kind
from the rows themselves (a file rewritten by pandas loses the metadata).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from videossr.constants import TRAIN_MAX_PIXELS, TRAIN_MIN_PIXELS, VIDEO_PLACEHOLDER
from videossr.io import atomic_path

SYSTEM_PROMPT = (
    "You are given a video task with a single verifiable answer. "
    "Reply with the answer only, in exactly the format the question asks for, with no explanation."
)
ABILITY = "video_understanding"

Frame = Union[Path, np.ndarray]


@dataclass(frozen=True)
class Clip:
    """One ``<video>`` of a sample: its frames in display order and the fps of the model's clock for them."""

    frames: tuple[Frame, ...]
    sample_fps: float

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("a clip needs at least one frame")
        if not self.sample_fps > 0:
            raise ValueError(f"sample_fps must be > 0, got {self.sample_fps!r}")
        for f in self.frames:
            if isinstance(f, np.ndarray):
                if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
                    raise ValueError(f"new frames must be uint8 HxWx3 RGB, got {f.dtype} {f.shape}")
            elif not isinstance(f, Path):
                raise TypeError(f"a frame is a Path or an ndarray, got {type(f).__name__}")

    @property
    def num_new_frames(self) -> int:
        return sum(isinstance(f, np.ndarray) for f in self.frames)


@dataclass(frozen=True)
class Sample:
    """One pretext-task question with its verifiable answer."""

    task: str  # the name of the task that made it (videossr.tasks)
    data_source: str  # what its verl row is tagged with (the task's data_source)
    video_id: str
    question: str  # user turn; contains exactly len(clips) "<video>" placeholders
    answer: str  # the exact ground-truth string (e.g. "14.5-26.2", "3,1,4", "341562")
    clips: tuple[Clip, ...]
    params: Mapping[str, Any] = field(default_factory=dict)  # JSON-serialisable audit info

    def __post_init__(self) -> None:
        if not self.task or not self.data_source:
            raise ValueError(f"a sample needs a task and a data_source, got {self.task!r}, {self.data_source!r}")
        n = self.question.count(VIDEO_PLACEHOLDER)
        if n != len(self.clips):
            raise ValueError(f"question has {n} {VIDEO_PLACEHOLDER} placeholders but the sample has {len(self.clips)} clips")
        json.dumps(dict(self.params))  # must be serialisable; raises TypeError naming the bad value


def distinct_new_frames(clips: Sequence[Clip]) -> tuple[list[tuple[int, int, np.ndarray]], list[list[int | None]]]:
    """The sample's new frames, each distinct picture once, and where each frame of each clip points.

    Returns ``(distinct, slots)``: ``distinct`` lists ``(clip, frame, pixels)`` at the first place each distinct new
    picture appears; ``slots[c][f]`` is the index into ``distinct`` that frame ``f`` of clip ``c`` shows, or None
    for a stored frame (a path). A picture shown several times (e.g. a held frame) is written or encoded once.
    """
    distinct: list[tuple[int, int, np.ndarray]] = []
    seen: dict[bytes, int] = {}
    slots: list[list[int | None]] = []
    for c, clip in enumerate(clips):
        clip_slots: list[int | None] = []
        for f, frame in enumerate(clip.frames):
            if isinstance(frame, np.ndarray):
                key = frame.shape[0].to_bytes(4, "little") + frame.shape[1].to_bytes(4, "little") + frame.tobytes()
                if key not in seen:
                    seen[key] = len(distinct)
                    distinct.append((c, f, frame))
                clip_slots.append(seen[key])
            else:
                clip_slots.append(None)
        slots.append(clip_slots)
    return distinct, slots


def to_verl_row(
    sample: Sample,
    clip_frame_paths: Sequence[Sequence[str | os.PathLike]],
    *,
    index: int,
    split: str = "train",
    min_pixels: int = TRAIN_MIN_PIXELS,
    max_pixels: int = TRAIN_MAX_PIXELS,
    recipe: Mapping[str, Any] | None = None,
) -> dict:
    """The verl row of ``sample`` once every frame has a file (``clip_frame_paths[k]`` for clip k, absolute).

    With ``recipe`` the row is a recipe row (see the module docstring): ``clip_frame_paths`` are then the source
    frames of the sample's layout, and ``extra_info.recipe`` holds the recipe as JSON.
    """
    if len(clip_frame_paths) != len(sample.clips):
        raise ValueError(f"{len(clip_frame_paths)} frame lists for {len(sample.clips)} clips")
    videos = []
    for clip, paths in zip(sample.clips, clip_frame_paths):
        if len(paths) != len(clip.frames):
            raise ValueError(f"{len(paths)} paths for a clip of {len(clip.frames)} frames")
        videos.append(
            {
                "video": [str(p) for p in paths],
                "sample_fps": float(clip.sample_fps),
                "min_pixels": int(min_pixels),
                "max_pixels": int(max_pixels),
            }
        )
    extra_info = {
        "index": int(index),
        "split": split,
        "task": sample.task,
        "video_id": sample.video_id,
        "params": json.dumps(dict(sample.params), sort_keys=True),
    }
    if recipe is not None:
        extra_info["recipe"] = json.dumps(dict(recipe), sort_keys=True)
    return {
        "data_source": sample.data_source,
        "prompt": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": sample.question},
        ],
        "videos": videos,
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": sample.answer},
        "extra_info": extra_info,
    }


# The parquet schema: every row has exactly these keys.
ROW_SCHEMA = pa.schema(
    [
        pa.field("data_source", pa.string()),
        pa.field("prompt", pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())]))),
        pa.field(
            "videos",
            pa.list_(
                pa.struct(
                    [
                        pa.field("video", pa.list_(pa.string())),
                        pa.field("sample_fps", pa.float64()),
                        pa.field("min_pixels", pa.int64()),
                        pa.field("max_pixels", pa.int64()),
                    ]
                )
            ),
        ),
        pa.field("ability", pa.string()),
        pa.field("reward_model", pa.struct([pa.field("style", pa.string()), pa.field("ground_truth", pa.string())])),
        pa.field(
            "extra_info",
            pa.struct(
                [
                    pa.field("index", pa.int64()),
                    pa.field("split", pa.string()),
                    pa.field("task", pa.string()),
                    pa.field("video_id", pa.string()),
                    pa.field("params", pa.string()),
                ]
            ),
        ),
    ]
)


def _with_recipe(schema: pa.Schema) -> pa.Schema:
    k = schema.get_field_index("extra_info")
    extra = schema.field(k)
    return schema.set(k, pa.field("extra_info", pa.struct([*extra.type, pa.field("recipe", pa.string())])))


# Recipe rows: the same, with extra_info.recipe.
RECIPE_SCHEMA = _with_recipe(ROW_SCHEMA)
ROWS_METADATA_KEY = b"videossr.rows"
FRAME_ROWS, RECIPE_ROWS = "frames", "recipes"


def write_parquet(rows: Sequence[dict], path: str | os.PathLike, schema: pa.Schema = ROW_SCHEMA) -> None:
    """Write verl rows to ``path`` atomically with a fixed schema (``ROW_SCHEMA`` unless given).

    Recipe rows (with ``extra_info.recipe``) get the schema extended by that field and ``recipes`` in the file's
    metadata; a file never mixes the two kinds (ValueError).
    """
    rows = list(rows)
    recipes = {"recipe" in (r.get("extra_info") or {}) for r in rows}
    if len(recipes) > 1:
        raise ValueError(f"{path}: recipe rows and rows with frames cannot share one file")
    kind = RECIPE_ROWS if recipes == {True} else FRAME_ROWS
    if kind == RECIPE_ROWS:
        schema = _with_recipe(schema)
    if kind == RECIPE_ROWS or schema.metadata:
        schema = schema.with_metadata({**(schema.metadata or {}), ROWS_METADATA_KEY: kind.encode()})
    table = pa.Table.from_pylist(rows, schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


MADE_KEY = "made"  # set in extra_info of every recipe row videossr.training.dataset made


def made_without_dataset(extra_info: Any) -> bool:
    """Whether a row reached the reward with a recipe but without its frames made (loaded by a plain dataset).

    Never raises: ``extra_info`` may be anything a loader made of the row (None, pandas NA, NaN, an array, a dict of
    numpy values); only a mapping holds a recipe.
    """
    if not isinstance(extra_info, Mapping):
        return False
    return _is_set(extra_info.get("recipe")) and not _is_set(extra_info.get(MADE_KEY))


def _is_set(value: Any) -> bool:
    """A field's truth value, whatever its type: None, NaN and pandas NA are unset, an array is set if not empty."""
    if value is None or (isinstance(value, (float, np.floating)) and value != value):
        return False
    if isinstance(value, np.ndarray):
        return value.size > 0
    try:
        return bool(value)
    except (TypeError, ValueError):  # pandas NA, and anything else that has no truth value
        return False


def rows_kind(path: str | os.PathLike) -> str:
    """``recipes`` if the parquet file holds recipe rows, else ``frames``: read from the rows themselves.

    A row is a recipe row when its ``extra_info.recipe`` is set; the schema metadata (``ROWS_METADATA_KEY``) is not
    trusted alone, because a file rewritten with pandas or pyarrow loses it. ValueError naming the file when it
    cannot be read, when its rows mix both kinds, or when its metadata says the other kind.
    """
    try:
        schema = pq.read_schema(path)
        extra = schema.field("extra_info").type if "extra_info" in schema.names else None
        has_recipe = isinstance(extra, pa.StructType) and extra.get_field_index("recipe") >= 0
        if has_recipe:
            import pyarrow.compute as pc

            column = pq.read_table(path, columns=["extra_info"]).column("extra_info").combine_chunks()
            recipes = column.field("recipe")
            with_recipe = len(recipes) - recipes.null_count
            # an empty recipe string is no recipe (read_recipe agrees)
            with_recipe -= int(pc.sum(pc.equal(recipes, "")).as_py() or 0)
            rows = len(recipes)
        else:
            with_recipe, rows = 0, pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException) as e:
        raise ValueError(f"cannot read {path} as parquet: {type(e).__name__}: {e}") from None
    if 0 < with_recipe < rows:
        raise ValueError(f"{path}: {with_recipe} of its {rows} rows are recipe rows and the others are not; "
                         "one file holds one kind of rows")
    kind = RECIPE_ROWS if rows and with_recipe == rows else FRAME_ROWS
    stated = (schema.metadata or {}).get(ROWS_METADATA_KEY)
    if stated is not None and rows and stated.decode() != kind:
        raise ValueError(f"{path}: its metadata says {stated.decode()} rows, but its rows are {kind} rows")
    return kind

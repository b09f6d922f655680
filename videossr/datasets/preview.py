"""Contact sheets: look at generated pretext-task rows as a researcher would.

For each chosen row of a dataset parquet (row format in ``videossr.tasks.sample``) the sheet shows a header (row, task,
video, what was done), the question and the answer, and the frames the model sees in a grid, each labelled with its
timestamp on the model's clock (``i / sample_fps`` seconds, restarting for every ``<video>``):

What is marked comes from the row's task (``PretextTask.preview``): for grounding the perturbed segment is outlined
in red; for counting the shape-bearing frames are outlined in orange and labelled with their class and count; for
jigsaw each shown clip gets its own grid row, labelled with its shown and true position.

Recipe rows (the build's default) are made in memory first, exactly as the trainer makes them. Rows from other
producers (no ``extra_info.params``, or a data_source no task owns) are drawn without outlines. Output is deterministic: the same
rows give the same PNG bytes.

Usage::

    from videossr.datasets.preview import render_parquet
    render_parquet("data/videossr/train.parquet", "preview.png", num_rows=3)
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from PIL import Image, ImageDraw, ImageFont

from videossr.io import atomic_path
from videossr.tasks.recipe import make_row, read_recipe
from videossr.tasks import Preview, get_task, task_for_source

logger = logging.getLogger(__name__)

BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
MUTED = (110, 110, 110)
CLIP_LABEL = (30, 90, 200)
OUTLINE_WIDTH = 3
OUTLINE_GAP = 1  # pixels between a thumbnail and its outline
CELL_GAP = 10  # pixels between two thumbnails (room for the outlines)
MARGIN = 12
LABEL_HEIGHT = 16
FONT_SIZE = 12
CLIP_LABEL_WIDTH = 130
SINGLE_CLIP_COLUMNS = 12


@dataclass(frozen=True)
class FrameBox:
    """Where one frame landed on the sheet."""

    row: int  # position of the dataset row on the sheet
    clip: int  # shown position of the clip (0 for single-video tasks)
    frame: int  # index of the frame within its clip
    box: tuple[int, int, int, int]  # thumbnail x0, y0, x1, y1 (end exclusive)
    outline: tuple[int, int, int] | None  # outline colour, None if not outlined


@dataclass(frozen=True)
class Sheet:
    image: Image.Image
    boxes: tuple[FrameBox, ...]


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=FONT_SIZE)


def row_task(row: Mapping[str, Any]) -> str | None:
    """The name of the task that made a row (its extra_info, else its data_source), or None."""
    name = (row.get("extra_info") or {}).get("task")
    if name:
        return str(name)
    task = task_for_source(row.get("data_source"))
    return None if task is None else task.name


def _preview_of(task: str | None, params: Mapping[str, Any]) -> Preview:
    try:
        return get_task(task).preview(params) if task and params else Preview()
    except (ValueError, KeyError, TypeError):  # another producer's row or params: drawn plain
        return Preview()


def row_params(row: Mapping[str, Any]) -> dict[str, Any]:
    """``extra_info.params`` of a row as a dict (it is stored as a JSON string); {} when absent."""
    raw = (row.get("extra_info") or {}).get("params")
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as e:
            raise ValueError(f"extra_info.params is not JSON: {raw[:80]!r}") from e
    return dict(raw)


def _user_text(row: Mapping[str, Any]) -> str:
    for message in row.get("prompt") or []:
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def _header(index: int, task: str | None, row: Mapping[str, Any], preview: Preview) -> str:
    extra = row.get("extra_info") or {}
    head = f"row {index} | {task or row.get('data_source')} | video {extra.get('video_id', '?')}"
    return f"{head} | {preview.header}" if preview.header else head


def _wrap(text: str, font, width: int) -> list[str]:
    per_line = max(20, int(width / max(font.getlength("n"), 1.0)))
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, per_line) or [""]
    return lines


def _open(frame: str) -> Image.Image:
    """A frame of a row: a file, or in-memory JPEG data of a row made on the fly."""
    if frame.startswith("data:image"):
        return Image.open(io.BytesIO(base64.b64decode(frame.split("base64,", 1)[1])))
    if not Path(frame).is_file():
        raise FileNotFoundError(f"frame file of the row does not exist: {frame}")
    return Image.open(frame)


def _load_thumb(frame: str, size: tuple[int, int]) -> Image.Image:
    with _open(frame) as im:
        return im.convert("RGB").resize(size, Image.Resampling.BILINEAR)


def _thumb_size(first_frame: str, thumb_width: int) -> tuple[int, int]:
    with _open(first_frame) as im:
        w, h = im.size
    return thumb_width, max(1, round(thumb_width * h / w))


def render_rows(
    rows: Sequence[Mapping[str, Any]], *, indices: Sequence[int] | None = None, thumb_width: int = 96
) -> Sheet:
    """One contact sheet for ``rows`` (verl row dicts); ``indices`` are the row numbers printed in the headers."""
    if not rows:
        raise ValueError("no rows to render")
    if thumb_width < 16:
        raise ValueError(f"thumb_width must be >= 16, got {thumb_width}")
    indices = list(range(len(rows))) if indices is None else list(indices)
    if len(indices) != len(rows):
        raise ValueError(f"{len(indices)} indices for {len(rows)} rows")
    font = _font()
    line_h = FONT_SIZE + 4
    cell_w = thumb_width + CELL_GAP

    # Lay every block out first (sizes), then draw.
    blocks = []
    sheet_w = 2 * MARGIN + SINGLE_CLIP_COLUMNS * cell_w
    for row in rows:
        videos = list(row.get("videos") or [])
        if not videos or not videos[0].get("video"):
            raise ValueError(f"row has no video frames: {str(row)[:120]}")
        task = row_task(row)
        preview = _preview_of(task, row_params(row))
        multi = len(videos) > 1 or preview.one_row_per_clip
        columns = max(len(v["video"]) for v in videos) if multi else min(SINGLE_CLIP_COLUMNS, len(videos[0]["video"]))
        width = 2 * MARGIN + (CLIP_LABEL_WIDTH if multi else 0) + columns * cell_w
        sheet_w = max(sheet_w, width)
        blocks.append((row, task, videos, multi, columns, preview))

    text_w = sheet_w - 2 * MARGIN
    layouts = []
    total_h = MARGIN
    for (row, task, videos, multi, columns, preview), index in zip(blocks, indices):
        answer = (row.get("reward_model") or {}).get("ground_truth", "")
        lines = [(_header(index, task, row, preview), TEXT)]
        lines += [(line, MUTED) for line in _wrap(_user_text(row), font, text_w)]
        lines.append((f"Answer: {answer}", TEXT))
        thumb = _thumb_size(videos[0]["video"][0], thumb_width)
        cell_h = thumb[1] + CELL_GAP + LABEL_HEIGHT
        grid_rows = len(videos) if multi else -(-len(videos[0]["video"]) // columns)
        height = len(lines) * line_h + 6 + grid_rows * cell_h + MARGIN
        layouts.append((row, task, videos, multi, columns, preview, lines, thumb, cell_h, total_h, index))
        total_h += height
    total_h += MARGIN

    image = Image.new("RGB", (sheet_w, total_h), BACKGROUND)
    draw = ImageDraw.Draw(image)
    boxes: list[FrameBox] = []
    for sheet_row, (row, task, videos, multi, columns, preview, lines, thumb, cell_h, top, index) in enumerate(layouts):
        y = top
        for text, colour in lines:
            draw.text((MARGIN, y), text, fill=colour, font=font)
            y += line_h
        y += 6
        draw.line([(MARGIN, top - 4), (sheet_w - MARGIN, top - 4)], fill=MUTED, width=1)
        marks = preview.marks
        x_left = MARGIN + (CLIP_LABEL_WIDTH if multi else 0)
        for clip_pos, video in enumerate(videos):
            fps = float(video.get("sample_fps") or 1.0)
            frames = list(video["video"])
            if multi:
                row_y = y + clip_pos * cell_h
                label = f"shown {clip_pos + 1}"
                if clip_pos in preview.clip_labels:
                    label += f" {preview.clip_labels[clip_pos]}"
                draw.text((MARGIN, row_y + thumb[1] // 2 - FONT_SIZE // 2), label, fill=CLIP_LABEL, font=font)
            for k, path in enumerate(frames):
                if multi:
                    cx, cy = x_left + k * cell_w, y + clip_pos * cell_h
                else:
                    cx, cy = x_left + (k % columns) * cell_w, y + (k // columns) * cell_h
                x0, y0 = cx + CELL_GAP // 2, cy + CELL_GAP // 2
                box = (x0, y0, x0 + thumb[0], y0 + thumb[1])
                image.paste(_load_thumb(str(path), thumb), box[:2])
                mark = marks.get((clip_pos, k))
                if mark is not None:
                    pad = OUTLINE_GAP + OUTLINE_WIDTH
                    draw.rectangle(
                        [box[0] - pad, box[1] - pad, box[2] - 1 + pad, box[3] - 1 + pad],
                        outline=mark[0], width=OUTLINE_WIDTH,
                    )
                label = f"{k / fps:.1f}s" + (f" {mark[1]}" if mark and mark[1] else "")
                draw.text((x0, box[3] + OUTLINE_GAP + OUTLINE_WIDTH + 1), label, fill=TEXT, font=font)
                boxes.append(FrameBox(sheet_row, clip_pos, k, box, mark[0] if mark else None))
    return Sheet(image=image, boxes=tuple(boxes))


def read_rows(
    parquet: str | os.PathLike,
    *,
    indices: Sequence[int] | None = None,
    num_rows: int | None = None,
    task: str | None = None,
) -> tuple[list[int], list[dict[str, Any]]]:
    """Rows of a parquet file as plain dicts: the given row positions, or the first ``num_rows`` (of ``task``)."""
    table = pq.read_table(parquet)
    n = table.num_rows
    if indices:
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise IndexError(f"row positions {bad} out of range for {parquet} ({n} rows)")
        chosen = list(indices)
    else:
        if num_rows is None or num_rows < 1:
            raise ValueError(f"num_rows must be >= 1, got {num_rows!r}")
        if task is None:
            chosen = list(range(min(num_rows, n)))
        else:
            sources = table.column("data_source").to_pylist()
            extras = table.column("extra_info").to_pylist() if "extra_info" in table.column_names else [{}] * n
            chosen = [
                i for i in range(n) if row_task({"extra_info": extras[i], "data_source": sources[i]}) == task
            ][:num_rows]
    if not chosen:
        raise ValueError(f"no rows to show in {parquet} (task={task!r}, {n} rows)")
    return chosen, table.take(chosen).to_pylist()


def render_parquet(
    parquet: str | os.PathLike,
    output: str | os.PathLike,
    *,
    indices: Sequence[int] | None = None,
    num_rows: int | None = 3,
    task: str | None = None,
    thumb_width: int = 96,
) -> Sheet:
    """Render rows of ``parquet`` into the PNG ``output`` (written atomically); returns the sheet."""
    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"output must be a .png file, got {output}")
    chosen, rows = read_rows(parquet, indices=indices, num_rows=num_rows, task=task)
    rows = [make_row(r) if read_recipe(r) is not None else r for r in rows]  # recipe rows: made as the trainer does
    sheet = render_rows(rows, indices=chosen, thumb_width=thumb_width)
    with atomic_path(output) as tmp:
        sheet.image.save(tmp, format="PNG", optimize=False)
    logger.info("wrote %s (%dx%d, rows %s)", output, sheet.image.width, sheet.image.height, chosen)
    return sheet

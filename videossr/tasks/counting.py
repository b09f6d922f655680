"""Object Counting: flat shapes are drawn on a few frames of a sampled video; the model counts them per class.

Three classes: circle, square, triangle. Each class is drawn on 1..F frames (``max_frames_per_class``) with 1..K
instances (``max_instances``) on each such frame. Rules:

* one class per frame; the frames of one class are more than ``min_gap`` frames apart (``|i - j| > min_gap``);
* a shape's size is 20-40% of the frame's shorter side: the diameter of a circle, the side of a square, the side of
  an equilateral triangle; its centre lies inside the central 70% of the frame (a rotated shape near that border may
  be cut by the frame edge);
* instances on one frame neither overlap nor touch: a new shape's pixel mask must stay ``SEPARATION`` pixels away
  from the shapes already on the frame (a real raster test on the masks);
* each shape is one solid colour (every channel in 50..255) with a random rotation.

Placement of one instance is retried at most ``MAX_TRIES`` times; an instance that still does not fit is not drawn
and not counted, so the answer counts the shapes actually drawn (the first instance of a frame always fits, so every
class has at least one). The answer is ``"circles,squares,triangles"``, e.g. ``"3,1,4"``. ``Sample.params`` holds
every placement (frame, class, centre, size, rotation, colour) and the per-class counts.

Scoring: smooth = mean over the classes of ``max(0, 1 - |pred - gt| / gt)``; strict = the share of classes counted
exactly (``videossr.tasks.metrics``). The truth must be three non-negative integers ``c,s,t`` (spaces after the commas
tolerated). Presets: ``easy`` (F=3, K=3; the default and the training mix's) and ``hard`` (F=4, K=4).

Usage::

    from videossr.tasks import get_task
    task = get_task("counting")
    sample = task.make_sample(video, numpy.random.default_rng(0), task.preset("hard"), ctx)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from videossr.tasks import answers, metrics
from videossr.constants import VIDEO_PLACEHOLDER
from videossr.sampling.store import TaskContext, VideoRecord, frame_path, load_frame
from videossr.tasks.sample import Clip, Frame
from videossr.tasks.base import Draft, GridFlag, GridPoint, Preview, PretextTask, Rung, audit_int, audit_mapping

__all__ = ["CLASSES", "DIFFICULTIES", "Params", "CountingTask", "shape_mask", "answer_for", "QUESTION"]

CLASSES = ("circle", "square", "triangle")
MIN_SIZE, MAX_SIZE = 0.2, 0.4  # of the shorter side
CENTRE_MARGIN = 0.15  # centres inside [0.15, 0.85] of width and height: the central 70%
MIN_CHANNEL = 50
SEPARATION = 2  # pixels between two shapes of one frame
MAX_TRIES = 100  # placement attempts per instance
MAX_FRAME_TRIES = 1000  # attempts to choose a class's frames away from the other classes' frames
# The smallest shape worth counting, in pixels: shapes are 20-40% of the shorter side, so frames need a shorter side
# of at least MIN_SHAPE_PIXELS / MIN_SIZE = 40 px (a 16x16 clip would get 4-6 px "triangles" nobody can tell apart).
MIN_SHAPE_PIXELS = 8


@dataclass(frozen=True)
class Params:
    """F = ``max_frames_per_class``, K = ``max_instances`` (per frame), and the minimum spacing of a class's frames."""

    max_frames_per_class: int = 3
    max_instances: int = 3
    min_gap: int = 8

    def __post_init__(self) -> None:
        for name in ("max_frames_per_class", "max_instances"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.min_gap, int) or self.min_gap < 0:
            raise ValueError(f"min_gap must be an integer >= 0, got {self.min_gap!r}")

    def min_frames(self) -> int:
        """The fewest frames a video needs: one class's F frames spaced, plus a frame for each other class."""
        return (self.max_frames_per_class - 1) * (self.min_gap + 1) + len(CLASSES)


DIFFICULTIES = MappingProxyType({"easy": Params(3, 3), "hard": Params(4, 4)})
# The difficulty ladder, easiest first: (F, K) = frames per class x shapes per frame; the paper's (3, 3) third.
LADDER = ((1, 1), (2, 2), (3, 3), (4, 4))

# What the question tells the model is what the paper's (and the reference's) question tells it, in our own words:
# the three kinds, that a shape may have any colour and any rotation, that shapes may be on one frame or on several,
# and that one frame may hold more than one shape. It does not reveal that a frame only ever holds one kind.
QUESTION = (
    f"{VIDEO_PLACEHOLDER}\n"
    "Flat, single-coloured shapes have been drawn onto some frames of this video. There are three kinds: circles, "
    "squares and triangles. A shape can be of any colour and rotated by any angle. Shapes can appear on just one "
    "frame or on several frames, and a single frame can hold more than one shape. Count every shape on every frame, "
    "and give the total number of circles, of squares and of triangles in the whole video. Answer with three "
    "integers separated by commas, in the order circles,squares,triangles (for example 2,5,1)."
)


def answer_for(counts: dict[str, int]) -> str:
    return ",".join(str(int(counts[c])) for c in CLASSES)


def shape_vertices(cls: str, centre: tuple[float, float], size: float, rotation: float) -> np.ndarray:
    """Polygon vertices (x, y) of a square or triangle; ``rotation`` in degrees, counter-clockwise on screen."""
    if cls == "square":
        radius, angles = size / math.sqrt(2), [45 + 90 * k for k in range(4)]
    elif cls == "triangle":
        radius, angles = size / math.sqrt(3), [90 + 120 * k for k in range(3)]
    else:
        raise ValueError(f"{cls!r} is not a polygon class")
    theta = np.deg2rad(np.array(angles, dtype=np.float64) + rotation)
    # Screen y grows downwards, so subtract the sine to turn counter-clockwise as seen.
    return np.stack([centre[0] + radius * np.cos(theta), centre[1] - radius * np.sin(theta)], axis=1)


def _shape_window(
    cls: str, centre: tuple[float, float], size: float, rotation: float, height: int, width: int, pad: int = 0
) -> tuple[int, int, np.ndarray]:
    """(y0, x0, mask) of one shape, the mask covering only the shape's bounding box grown by ``pad`` (clipped)."""
    if cls not in CLASSES:
        raise ValueError(f"unknown shape class {cls!r}; expected one of {CLASSES}")
    reach = size / 2 if cls == "circle" else size  # >= the circumradius of every class
    x0, x1 = max(0, math.floor(centre[0] - reach) - pad), min(width, math.ceil(centre[0] + reach) + pad + 1)
    y0, y1 = max(0, math.floor(centre[1] - reach) - pad), min(height, math.ceil(centre[1] + reach) + pad + 1)
    yy, xx = np.mgrid[y0:max(y0, y1), x0:max(x0, x1)].astype(np.float64)
    if cls == "circle":
        return y0, x0, (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= (size / 2) ** 2
    # A convex polygon: the pixel centre is on the same side of every edge.
    verts = shape_vertices(cls, centre, size, rotation)
    edges = zip(verts, np.roll(verts, -1, axis=0))
    sides = np.stack([(bx - ax) * (yy - ay) - (by - ay) * (xx - ax) for (ax, ay), (bx, by) in edges])
    return y0, x0, (sides >= 0).all(axis=0) | (sides <= 0).all(axis=0)


def shape_mask(
    cls: str, centre: tuple[float, float], size: float, rotation: float, height: int, width: int
) -> np.ndarray:
    """The boolean HxW pixel mask of one shape: the pixels whose centre lies inside it (exactly what gets painted)."""
    y0, x0, patch = _shape_window(cls, centre, size, rotation, height, width)
    mask = np.zeros((height, width), dtype=bool)
    mask[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]] = patch
    return mask


def _choose_frames(
    rng: np.random.Generator, n: int, count: int, gap: int, taken: set[int], video_id: str
) -> list[int]:
    """``count`` frames pairwise more than ``gap`` apart and not in ``taken``, uniform among such sets."""
    slots = n - gap * (count - 1)
    if slots < count:
        raise ValueError(f"{video_id!r}: {n} frames cannot hold {count} frames more than {gap} apart")
    for _ in range(MAX_FRAME_TRIES):
        # Stars and bars: sorted distinct picks in a shortened range, spread by the gap, are uniform over valid sets.
        picks = np.sort(rng.choice(slots, size=count, replace=False))
        frames = [int(p) + gap * k for k, p in enumerate(picks)]
        if not taken.intersection(frames):
            return frames
    raise ValueError(f"{video_id!r}: could not place {count} frames more than {gap} apart among {n} frames")


def _place_shapes(
    rng: np.random.Generator, cls: str, requested: int, height: int, width: int
) -> list[dict[str, Any]]:
    """Placements of up to ``requested`` shapes of class ``cls`` that neither overlap nor touch."""
    import cv2  # only generation needs OpenCV; scoring (the reward) does not load it

    short = min(height, width)
    lo_size, hi_size = max(1, math.ceil(MIN_SIZE * short)), max(1, math.floor(MAX_SIZE * short))
    x_lo, x_hi = math.ceil(CENTRE_MARGIN * (width - 1)), math.floor((1 - CENTRE_MARGIN) * (width - 1))
    y_lo, y_hi = math.ceil(CENTRE_MARGIN * (height - 1)), math.floor((1 - CENTRE_MARGIN) * (height - 1))
    kernel = np.ones((2 * SEPARATION + 1, 2 * SEPARATION + 1), dtype=np.uint8)
    keep_out = np.zeros((height, width), dtype=bool)  # the placed shapes grown by SEPARATION pixels
    shapes: list[dict[str, Any]] = []
    for _ in range(requested):
        for _ in range(MAX_TRIES):
            centre = (int(rng.integers(x_lo, x_hi + 1)), int(rng.integers(y_lo, y_hi + 1)))
            size = int(rng.integers(lo_size, hi_size + 1))
            rotation = float(rng.uniform(0.0, 360.0))
            colour = [int(c) for c in rng.integers(MIN_CHANNEL, 256, size=3)]
            y0, x0, patch = _shape_window(cls, centre, size, rotation, height, width, pad=SEPARATION)
            window = (slice(y0, y0 + patch.shape[0]), slice(x0, x0 + patch.shape[1]))
            if patch.any() and not (patch & keep_out[window]).any():
                keep_out[window] |= cv2.dilate(patch.astype(np.uint8), kernel).astype(bool)
                shapes.append({"center": list(centre), "size": size, "rotation": rotation, "color": colour})
                break
    if not shapes:
        raise AssertionError(f"could not place a single {cls} on an empty {width}x{height} frame")
    return shapes


def render_frame(img: np.ndarray, cls: str, shapes: list[dict[str, Any]]) -> np.ndarray:
    """``img`` with the shapes painted on (a new array); re-derives a frame from its audit record."""
    out = img.copy()
    h, w = img.shape[:2]
    for s in shapes:
        y0, x0, patch = _shape_window(cls, tuple(s["center"]), s["size"], s["rotation"], h, w)
        out[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]][patch] = s["color"]
    return out


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _shape_problem(shape: Any) -> str | None:
    """Why one shape record cannot be painted by ``render_frame`` (None if it can)."""
    if not isinstance(shape, Mapping):
        return f"must be a JSON object, got {shape!r:.80}"
    centre = shape.get("center")
    if not isinstance(centre, list) or len(centre) != 2 or not all(_number(c) for c in centre):
        return f"center: must be two numbers, got {centre!r:.80}"
    size = shape.get("size")
    if not _number(size) or size <= 0:
        return f"size: must be a number > 0, got {size!r:.80}"
    if not _number(shape.get("rotation")):
        return f"rotation: must be a number, got {shape.get('rotation')!r:.80}"
    colour = shape.get("color")
    if (not isinstance(colour, list) or len(colour) != 3
            or any(isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 255 for c in colour)):
        return f"color: must be three integers in 0..255, got {colour!r:.80}"
    return None


# The truth as the generator writes it: "3,1,4" (spaces around the commas tolerated).
_GOLD_RE = re.compile(r"(\d{1,9}) ?, ?(\d{1,9}) ?, ?(\d{1,9})", re.ASCII)
SHAPES_OUTLINE = (245, 150, 0)


class CountingTask(PretextTask):
    """Object Counting (see the module docstring)."""

    name = "counting"
    data_source = "videossr_counting"
    aliases = ("counting",)
    task_id = 1
    Params = Params
    default_preset = "easy"

    @property
    def presets(self) -> Mapping[str, Params]:
        return DIFFICULTIES

    def draw(self, video: VideoRecord, rng: np.random.Generator, params: Params, ctx: TaskContext) -> Draft:
        """Which frames carry which class and every shape's placement, from ``rng`` and the frame size alone."""
        n = video.num_frames
        if n < params.min_frames():
            raise ValueError(f"{video.video_id!r} has {n} frames; {params} needs at least {params.min_frames()}")
        short = min(video.width, video.height)
        if math.ceil(MIN_SIZE * short) < MIN_SHAPE_PIXELS:
            raise ValueError(
                f"{video.video_id!r}: frames of {video.width}x{video.height} are too small for recognisable shapes "
                f"(the smallest would be {math.ceil(MIN_SIZE * short)} px; counting needs a shorter side of at least "
                f"{math.ceil(MIN_SHAPE_PIXELS / MIN_SIZE)} px)"
            )
        taken: set[int] = set()
        frame_class: dict[int, str] = {}
        for cls in CLASSES:
            count = int(rng.integers(1, params.max_frames_per_class + 1))
            for i in _choose_frames(rng, n, count, params.min_gap, taken, video.video_id):
                frame_class[i] = cls
                taken.add(i)

        records = []
        counts = dict.fromkeys(CLASSES, 0)
        for i in sorted(frame_class):
            cls = frame_class[i]
            requested = int(rng.integers(1, params.max_instances + 1))
            shapes = _place_shapes(rng, cls, requested, video.height, video.width)
            counts[cls] += len(shapes)
            records.append({"frame": i, "class": cls, "requested": requested, "shapes": shapes})

        audit = {
            "frames": records,
            "counts": counts,
            "max_frames_per_class": params.max_frames_per_class,
            "max_instances": params.max_instances,
            "min_gap": params.min_gap,
            "num_frames": n,
        }
        return Draft(video.video_id, QUESTION, answer_for(counts), audit)

    def redraft(self, audit: Any, video: VideoRecord | None = None, ctx: TaskContext | None = None) -> Draft:
        """The question and answer of a counting sample's audit info: the counts of the shapes its frames hold."""
        audit = audit_mapping(audit)
        n = audit_int(audit, "num_frames", 1)
        if video is not None and n != video.num_frames:
            raise ValueError(f"num_frames: {n}, but the video {video.video_id!r} has {video.num_frames} frames")
        records = audit.get("frames")
        if not isinstance(records, list) or not records:
            raise ValueError(f"frames: must be a non-empty list of shape frames, got {records!r:.80}")
        counts = dict.fromkeys(CLASSES, 0)
        seen: set[int] = set()
        for k, rec in enumerate(records):
            where = f"frames[{k}]"
            if not isinstance(rec, Mapping):
                raise ValueError(f"{where}: must be a JSON object, got {rec!r:.80}")
            try:
                i = audit_int(rec, "frame", 0, n - 1)
            except ValueError as e:
                raise ValueError(f"{where}.{e}") from None
            if i in seen:
                raise ValueError(f"{where}.frame: frame {i} is listed twice")
            seen.add(i)
            cls = rec.get("class")
            if cls not in CLASSES:
                raise ValueError(f"{where}.class: must be one of {CLASSES}, got {cls!r:.80}")
            shapes = rec.get("shapes")
            if not isinstance(shapes, list) or not shapes:
                raise ValueError(f"{where}.shapes: must be a non-empty list, got {shapes!r:.80}")
            for j, shape in enumerate(shapes):
                problem = _shape_problem(shape)
                if problem is not None:
                    raise ValueError(f"{where}.shapes[{j}].{problem}")
            counts[cls] += len(shapes)
        stated = audit.get("counts")
        if stated != counts:
            raise ValueError(f"counts: {stated!r:.80} are not the shapes its frames hold, {counts}")
        video_id = video.video_id if video is not None else ""
        return Draft(video_id, QUESTION, answer_for(counts), audit)

    def clips(self, video: VideoRecord, ctx: TaskContext, audit: Mapping[str, Any]) -> tuple[Clip, ...]:
        frames: list[Frame] = [frame_path(ctx, video, i) for i in range(video.num_frames)]
        for rec in audit["frames"]:
            i = int(rec["frame"])
            img = load_frame(ctx, video, i)
            if img.shape[:2] != (video.height, video.width):
                raise ValueError(
                    f"{video.video_id!r} frame {i} is {img.shape[1]}x{img.shape[0]}, but the manifest says "
                    f"{video.width}x{video.height}: the frame store does not match its manifest"
                )
            frames[i] = render_frame(img, rec["class"], rec["shapes"])
        return (Clip(frames=tuple(frames), sample_fps=float(video.sample_fps)),)

    def format_answer(self, truth: tuple[int, int, int]) -> str:
        return ",".join(str(int(c)) for c in truth)

    def _parse_gold(self, gold: str) -> tuple[int, int, int]:
        m = _GOLD_RE.fullmatch(gold.strip())
        if m is None:
            raise ValueError(f"counting ground truth must look like '3,1,4', got {gold!r}")
        return int(m.group(1)), int(m.group(2)), int(m.group(3))

    def parse_answer(self, text: str, truth: Any) -> tuple[int, int, int] | None:
        return answers.parse_counts(text)

    def score(self, pred: tuple[int, ...], truth: tuple[int, ...], mode: str) -> float:
        if mode == "strict":
            return metrics.counting_strict(pred, truth)
        return metrics.counting_score(pred, truth)

    def difficulty(self, audit: Mapping[str, Any]) -> str:
        return f"F{int(audit['max_frames_per_class'])}K{int(audit['max_instances'])}"

    def guess(self, rng: np.random.Generator, audit: Mapping[str, Any]) -> str:
        """Each class's count uniform in 1..F*K: the range the generator can produce for one class."""
        top = int(audit["max_frames_per_class"]) * int(audit["max_instances"])
        return ",".join(str(int(c)) for c in rng.integers(1, top + 1, size=len(CLASSES)))

    def preview(self, params: Mapping[str, Any]) -> Preview:
        marks = {}
        for rec in params.get("frames", []):
            label = f"{len(rec.get('shapes', []))} {str(rec.get('class', ''))[:3]}"
            marks[(0, int(rec["frame"]))] = (SHAPES_OUTLINE, label)
        header = ""
        if "counts" in params:
            header = "drawn: " + ", ".join(f"{k} {v}" for k, v in params["counts"].items()) + " (shape frames in orange)"
        return Preview(header=header, marks=marks)

    # --- the difficulty ladder and the sweep grid ---------------------------------------------------------------

    grid_flags = (GridFlag("--counting-grid", "pairs", "pairs", "FxK,...",
                           "counting settings, frames per class x shapes per frame (default 1x1,2x2,3x3,4x4)"),)

    @property
    def ladder(self) -> tuple[Rung, ...]:
        """F x K from one shape on one frame per class to the hard preset; the paper's F3K3 third."""
        return tuple(Rung(f"F{f}K{k}", Params(f, k), paper=Params(f, k) == DIFFICULTIES["easy"])
                     for f, k in LADDER)

    def sweep_grid(self, pairs: Sequence[tuple[int, int]] | None = None) -> list[GridPoint]:
        """Counting settings from (F, K) pairs (default: the ladder's), all in one family."""
        return [GridPoint(f"F{f}K{k}", self.name, self.params(max_frames_per_class=f, max_instances=k))
                for f, k in (LADDER if pairs is None else pairs)]

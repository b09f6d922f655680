"""Temporal Jigsaw: cut a sampled video into equal clips, shuffle them, ask for the original order.

The video's frames are split into ``num_clips`` consecutive clips of equal length (6 clips of 8 frames for the
paper's easy setting and for training, 8 clips of 6 frames for hard). The clips are shown in a shuffled order (never
the original one), each as its own ``<video>``, so every clip's timestamps restart at zero and leak nothing about
where it came from. Frames are referenced in the frame store; no new pixels are made.

Answer format (the paper's): an ``n``-digit string whose ``k``-th digit is the 1-based shown position of the
original ``k``-th clip, i.e. the order in which to play the shown clips to restore the video. With
``order[p]`` = the original (0-based) clip shown at position ``p``, the answer is the inverse permutation of
``order``, plus one. Example: ``order = [2, 5, 0, 1, 3, 4]`` gives ``341562`` (the original first clip is shown
third, the original second clip fourth, ...).

Scoring: smooth = ``1 - E / floor(n^2 / 2)`` with the paper's displacement E (``videossr.tasks.metrics.jigsaw_score``),
strict = 1 if the whole order is exact. The truth must be a permutation of 1..n written as n digits. Presets:
``easy`` (6 clips; the default and the training mix's) and ``hard`` (8 clips).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from videossr.tasks import answers, metrics
from videossr.constants import VIDEO_PLACEHOLDER
from videossr.sampling.store import TaskContext, VideoRecord, frame_path
from videossr.tasks.sample import Clip
from videossr.tasks.base import Draft, GridFlag, GridPoint, Preview, PretextTask, Rung, audit_int, audit_mapping

MAX_CLIPS = 9  # one digit per clip
# The difficulty ladder, easiest first: clips the video is cut into (on 48 frames: 16, 12, 8 and 6 frames per clip);
# the paper's 6 (the easy preset) third.
LADDER = (3, 4, 6, 8)


@dataclass(frozen=True)
class Params:
    """Difficulty knob: how many clips the video is cut into (6 = easy / training, 8 = hard)."""

    num_clips: int = 6

    def __post_init__(self) -> None:
        if isinstance(self.num_clips, bool) or not isinstance(self.num_clips, int):
            raise TypeError(f"num_clips must be an int, got {self.num_clips!r}")
        if not 2 <= self.num_clips <= MAX_CLIPS:
            raise ValueError(f"num_clips must be in [2, {MAX_CLIPS}], got {self.num_clips}")


def frames_per_clip(num_frames: int, num_clips: int) -> int:
    """Frames in each clip; raises ValueError naming both numbers when ``num_clips`` does not divide the frames."""
    if num_frames <= 0 or num_frames % num_clips != 0:
        raise ValueError(f"{num_frames} frames cannot be split into {num_clips} equal clips")
    return num_frames // num_clips


def answer_from_order(order: Sequence[int]) -> str:
    """The answer string for a shown order (``order[p]`` = original 0-based clip shown at position ``p``)."""
    n = len(order)
    if sorted(order) != list(range(n)):
        raise ValueError(f"order must be a permutation of 0..{n - 1}, got {list(order)}")
    if n > MAX_CLIPS:
        raise ValueError(f"at most {MAX_CLIPS} clips fit a digit string, got {n}")
    position_of = [0] * n
    for p, original in enumerate(order):
        position_of[original] = p
    return "".join(str(p + 1) for p in position_of)


def order_from_answer(answer: str) -> list[int]:
    """Inverse of ``answer_from_order``: the shown order encoded by an answer string."""
    if not answer.isdigit() or sorted(answer) != [str(k) for k in range(1, len(answer) + 1)]:
        raise ValueError(f"not a permutation answer: {answer!r}")
    order = [0] * len(answer)
    for original, digit in enumerate(answer):
        order[int(digit) - 1] = original
    return order


def draw_order(rng: np.random.Generator, num_clips: int) -> list[int]:
    """A uniformly random non-identity permutation of ``num_clips`` clips (rejection sampling)."""
    identity = list(range(num_clips))
    while True:
        order = [int(x) for x in rng.permutation(num_clips)]
        if order != identity:
            return order


def question(num_clips: int) -> str:
    """The user turn: one labelled ``<video>`` per shown clip, then what to answer."""
    clips = "\n".join(f"Clip {k}: {VIDEO_PLACEHOLDER}" for k in range(1, num_clips + 1))
    example = "".join(str(d) for d in (2, 3, 1))
    return (
        f"A video was cut into {num_clips} consecutive pieces of equal length, and the pieces are shown below "
        f"in a scrambled order.\n{clips}\n"
        f"Put the clips back in chronological order. Reply with a string of {num_clips} digits: the first digit "
        f"is the number of the clip that comes first in the original video, the second digit the clip that comes "
        f"next, and so on (for three clips a reply looks like {example})."
    )


_GOLD_RE = re.compile(r"[1-9]{1,9}", re.ASCII)
CLIP_LABEL = (30, 90, 200)


class JigsawTask(PretextTask):
    """Temporal Jigsaw (see the module docstring)."""

    name = "jigsaw"
    data_source = "videossr_jigsaw"
    aliases = ("jigsaw", "shuffled")  # the reference generator tags its jigsaw rows "shuffled"
    task_id = 2
    Params = Params
    default_preset = "easy"

    @property
    def presets(self) -> Mapping[str, Params]:
        return MappingProxyType({"easy": Params(num_clips=6), "hard": Params(num_clips=8)})

    def draw(self, video: VideoRecord, rng: np.random.Generator, params: Params, ctx: TaskContext) -> Draft:
        """The shown order of ``video``'s clips; raises ValueError if its frames do not split into equal clips."""
        n = params.num_clips
        m = frames_per_clip(video.num_frames, n)
        order = draw_order(rng, n)
        audit = {"num_clips": n, "frames_per_clip": m, "order": order}
        return Draft(video.video_id, question(n), answer_from_order(order), audit)

    def redraft(self, audit: Any, video: VideoRecord | None = None, ctx: TaskContext | None = None) -> Draft:
        """The question and answer of a jigsaw sample's audit info, its clips checked against the video."""
        audit = audit_mapping(audit)
        n = audit_int(audit, "num_clips", 2, MAX_CLIPS)
        m = audit_int(audit, "frames_per_clip", 1)
        if video is not None and n * m != video.num_frames:
            raise ValueError(f"frames_per_clip: {n} clips of {m} frames, but the video {video.video_id!r} has "
                             f"{video.num_frames} frames")
        order = audit.get("order")
        if (not isinstance(order, list) or any(isinstance(o, bool) or not isinstance(o, int) for o in order)
                or sorted(order) != list(range(n))):
            raise ValueError(f"order: must be a permutation of 0..{n - 1}, got {order!r:.80}")
        if order == list(range(n)):
            raise ValueError(f"order: the original order {order} is never shown")
        video_id = video.video_id if video is not None else ""
        return Draft(video_id, question(n), answer_from_order(order), audit)

    def clips(self, video: VideoRecord, ctx: TaskContext, audit: Mapping[str, Any]) -> tuple[Clip, ...]:
        m = int(audit["frames_per_clip"])
        return tuple(
            Clip(
                frames=tuple(frame_path(ctx, video, i) for i in range(int(original) * m, (int(original) + 1) * m)),
                sample_fps=video.sample_fps,
            )
            for original in audit["order"]
        )

    def layout(self, video: VideoRecord, ctx: TaskContext, audit: Mapping[str, Any]) -> tuple[tuple[Path, ...], ...]:
        return tuple(tuple(clip.frames) for clip in self.clips(video, ctx, audit))  # references only, no pixels

    def format_answer(self, truth: Sequence[int]) -> str:
        return "".join(str(int(d)) for d in truth)

    def _parse_gold(self, gold: str) -> tuple[int, ...]:
        g = gold.strip()
        # bare digits 1-9, read exactly (as parse_order reads a contiguous order)
        truth = answers.as_permutation(g, len(g)) if _GOLD_RE.fullmatch(g) else None
        if truth is None:
            raise ValueError(f"jigsaw ground truth must be a permutation of 1..n written as digits, got {gold!r}")
        return truth

    def parse_answer(self, text: str, truth: Sequence[int]) -> tuple[int, ...] | None:
        return answers.parse_order(text, len(truth))

    def score(self, pred: Sequence[int], truth: Sequence[int], mode: str) -> float:
        if mode == "strict":
            return metrics.jigsaw_strict(pred, truth)
        return metrics.jigsaw_score(pred, truth)

    def difficulty(self, audit: Mapping[str, Any]) -> str:
        return f"{int(audit['num_clips'])}clips"

    def guess(self, rng: np.random.Generator, audit: Mapping[str, Any]) -> str:
        """A uniformly random permutation of the n clips."""
        return "".join(str(int(k) + 1) for k in rng.permutation(int(audit["num_clips"])))

    def preview(self, params: Mapping[str, Any]) -> Preview:
        order = params.get("order")
        if order is None:
            return Preview(one_row_per_clip=True)
        header = f"shown order of original clips (1-based): {[int(o) + 1 for o in order]}"
        labels = {p: f"= true {int(o) + 1}" for p, o in enumerate(order)}
        return Preview(header=header, clip_labels=labels, one_row_per_clip=True)

    # --- the difficulty ladder and the sweep grid ---------------------------------------------------------------

    grid_flags = (GridFlag("--jigsaw-grid", "clips", "ints", "N,...", "clip counts (default 3,4,6,8)"),)

    @property
    def ladder(self) -> tuple[Rung, ...]:
        """Fewer, longer clips first; the paper's 6 clips third. A video's frame count must divide by every rung's
        clip count (48 frames: 16, 12, 8, 6 frames per clip); the training dry run checks it on the frame store."""
        return tuple(Rung(f"{n}clips", Params(num_clips=n), paper=Params(num_clips=n) == self.presets["easy"])
                     for n in LADDER)

    def sweep_grid(self, clips: Sequence[int] | None = None) -> list[GridPoint]:
        """Jigsaw settings from clip counts (default: the ladder's), all in one family."""
        return [GridPoint(f"{n}clips", self.name, self.params(num_clips=n)) for n in (LADDER if clips is None else clips)]

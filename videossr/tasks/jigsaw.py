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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from videossr.data_sources import JIGSAW
from videossr.manifest import VideoRecord
from videossr.sample import Clip, Sample
from videossr.tasks.base import TaskContext, frame_path

MAX_CLIPS = 9  # one digit per clip


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
    clips = "\n".join(f"Clip {k}: <video>" for k in range(1, num_clips + 1))
    example = "".join(str(d) for d in (2, 3, 1))
    return (
        f"A video was cut into {num_clips} consecutive pieces of equal length, and the pieces are shown below "
        f"in a scrambled order.\n{clips}\n"
        f"Put the clips back in chronological order. Reply with a string of {num_clips} digits: the first digit "
        f"is the number of the clip that comes first in the original video, the second digit the clip that comes "
        f"next, and so on (for three clips a reply looks like {example})."
    )


def make_sample(video: VideoRecord, rng: np.random.Generator, params: Params, ctx: TaskContext) -> Sample:
    """One jigsaw question on ``video``; raises ValueError if its frames do not split into ``num_clips`` clips."""
    n = params.num_clips
    m = frames_per_clip(video.num_frames, n)
    order = draw_order(rng, n)
    clips = tuple(
        Clip(
            frames=tuple(frame_path(ctx, video, i) for i in range(original * m, (original + 1) * m)),
            sample_fps=video.sample_fps,
        )
        for original in order
    )
    return Sample(
        task=JIGSAW,
        video_id=video.video_id,
        question=question(n),
        answer=answer_from_order(order),
        clips=clips,
        params={"num_clips": n, "frames_per_clip": m, "order": order},
    )

"""Temporal Jigsaw: clips are the right frames, the answer inverts the shown order, parameters are validated."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from videossr.constants import VIDEO_PLACEHOLDER
from videossr.tasks import jigsaw
from videossr.sampling.store import TaskContext
from videossr.tasks import get_task

TASK = get_task("jigsaw")
JIGSAW = "jigsaw"
from support.frames import make_frame_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    records = make_frame_store(root, num_videos=2, num_frames=48, width=32, height=24)
    return root, records


def _original_clip_of(clip, video, m: int) -> int:
    """Which original clip a shown clip holds, read from its frame paths (not from params)."""
    indices = [video.frames.index(f"{video.video_id}/{p.name}") for p in clip.frames]
    assert indices == list(range(indices[0], indices[0] + m)), indices
    assert indices[0] % m == 0
    return indices[0] // m


@pytest.mark.parametrize("num_clips", [6, 8, 2, 3])
def test_answer_inverts_shown_order(store, num_clips):
    root, records = store
    ctx = TaskContext(frames_root=root, pool=records)
    video = records[1]
    m = 48 // num_clips
    for seed in range(15):
        s = TASK.make_sample(video, np.random.default_rng(seed), jigsaw.Params(num_clips), ctx)
        assert s.task == JIGSAW and s.video_id == video.video_id
        assert len(s.clips) == num_clips
        shown = [_original_clip_of(c, video, m) for c in s.clips]
        assert sorted(shown) == list(range(num_clips))
        assert shown != list(range(num_clips)), "identity order must never be shown"
        # digit k = 1-based shown position of original clip k
        expected = "".join(str(shown.index(k) + 1) for k in range(num_clips))
        assert s.answer == expected
        # playing the shown clips in the answer's order restores the video
        replay = [shown[int(d) - 1] for d in s.answer]
        assert replay == list(range(num_clips))
        # the answer re-derives from the audit params
        assert s.params == {"num_clips": num_clips, "frames_per_clip": m, "order": shown}
        assert jigsaw.answer_from_order(s.params["order"]) == s.answer
        assert jigsaw.order_from_answer(s.answer) == shown
        for c in s.clips:
            assert c.num_new_frames == 0
            assert c.sample_fps == video.sample_fps
            assert all(p.is_absolute() and p.is_file() for p in c.frames)


def test_question_has_one_labelled_video_per_clip(store):
    root, records = store
    s = TASK.make_sample(records[0], np.random.default_rng(3), jigsaw.Params(6), TaskContext(frames_root=root))
    assert s.question.count(VIDEO_PLACEHOLDER) == 6
    for k in range(1, 7):
        assert f"Clip {k}: <video>" in s.question
    assert "Clip 7" not in s.question
    assert "6 digits" in s.question


def test_paper_example():
    assert jigsaw.answer_from_order([2, 5, 0, 1, 3, 4]) == "341562"
    assert jigsaw.order_from_answer("341562") == [2, 5, 0, 1, 3, 4]


def test_round_trip_all_permutations_of_four():
    for order in itertools.permutations(range(4)):
        assert jigsaw.order_from_answer(jigsaw.answer_from_order(order)) == list(order)


def test_orders_cover_every_non_identity_permutation():
    rng = np.random.default_rng(0)
    seen = {tuple(jigsaw.draw_order(rng, 3)) for _ in range(200)}
    assert seen == set(itertools.permutations(range(3))) - {(0, 1, 2)}


def test_same_seed_same_sample_different_seed_differs(store):
    root, records = store
    ctx = TaskContext(frames_root=root)
    a = TASK.make_sample(records[0], np.random.default_rng(11), jigsaw.Params(8), ctx)
    b = TASK.make_sample(records[0], np.random.default_rng(11), jigsaw.Params(8), ctx)
    assert a == b
    answers = {
        TASK.make_sample(records[0], np.random.default_rng(s), jigsaw.Params(8), ctx).answer for s in range(10)
    }
    assert len(answers) == 10


def test_frames_must_split_evenly(store):
    root, records = store
    short = dataclasses.replace(records[0], frames=records[0].frames[:47], timestamps=records[0].timestamps[:47])
    with pytest.raises(ValueError, match=r"47 frames cannot be split into 6 equal clips"):
        TASK.make_sample(short, np.random.default_rng(0), jigsaw.Params(6), TaskContext(frames_root=root))
    with pytest.raises(ValueError, match="48 frames cannot be split into 9"):
        jigsaw.frames_per_clip(48, 9)
    assert jigsaw.frames_per_clip(48, 8) == 6


@pytest.mark.parametrize("bad", [0, 1, 10, -3])
def test_params_range(bad):
    with pytest.raises(ValueError, match=str(bad)):
        jigsaw.Params(bad)


def test_params_type():
    with pytest.raises(TypeError):
        jigsaw.Params(6.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        jigsaw.Params(True)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "1123", "12a", "124", "0123"])
def test_order_from_answer_rejects_non_permutations(bad):
    with pytest.raises(ValueError):
        jigsaw.order_from_answer(bad)

"""Anomaly Grounding samples: answer on the model's clock, re-derivable from params, deterministic, valid rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from videossr.tasks import perturb
from videossr.tasks.metrics import temporal_iou
from videossr.tasks.sample import to_verl_row
from videossr.tasks import grounding
from videossr.sampling.store import TaskContext, frame_path, load_frame
from videossr.tasks import get_task

TASK = get_task("grounding")
from support.frames import make_frame_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    records = make_frame_store(root, num_videos=2, num_frames=48, width=96, height=64, duration=20.0)
    return root, records, TaskContext(frames_root=root, pool=records)


def _changed_positions(sample, video, ctx) -> list[int]:
    """Positions whose frame is not the untouched source frame (new pixels, or another frame's path)."""
    out = []
    for i, f in enumerate(sample.clips[0].frames):
        if isinstance(f, np.ndarray) or f != frame_path(ctx, video, i):
            out.append(i)
    return out


def test_exports():
    assert grounding.TRAINING_PERTURBATIONS == ("ChannelSwap", "Rotate180", "ZoomOut", "Mirror")
    assert len(grounding.PERTURBATIONS) == 17
    assert grounding.Params().perturbations == grounding.TRAINING_PERTURBATIONS
    assert (grounding.Params().min_len, grounding.Params().max_len) == (8, 16)


def test_params_validation():
    with pytest.raises(ValueError, match="'Sepia'.*ChannelSwap"):
        grounding.Params(perturbations=("Mirror", "Sepia"))
    with pytest.raises(ValueError, match="min_len"):
        grounding.Params(min_len=12, max_len=10)
    with pytest.raises(ValueError, match="non-empty"):
        grounding.Params(perturbations=())
    assert grounding.Params(perturbations=["Mirror"]).perturbations == ("Mirror",)


def test_answer_format_and_clock():
    assert grounding.answer_for(14, 9, 2.0) == "7.0-11.5"
    assert grounding.answer_for(0, 8, 48 / 18.0) == "0.0-3.0"


@pytest.mark.parametrize("name", grounding.PERTURBATIONS)
def test_answer_rederives_from_params_and_matches_the_frames(store, name):
    root, records, ctx = store
    video = records[0]
    params = grounding.Params(perturbations=(name,))
    for seed in range(2):
        s = TASK.make_sample(video, np.random.default_rng(seed), params, ctx)
        p = json.loads(json.dumps(dict(s.params)))
        assert p["perturbation"] == name and p["end"] == p["start"] + p["length"]
        assert 8 <= p["length"] <= 16 and 0 <= p["start"] <= 48 - p["length"]
        assert p["fps"] == video.sample_fps
        assert re.fullmatch(r"\d+\.\d-\d+\.\d", s.answer)
        assert s.answer == f"{p['start'] / p['fps']:.1f}-{(p['start'] + p['length']) / p['fps']:.1f}"
        changed = _changed_positions(s, video, ctx)
        if perturb.REGISTRY[name].kind == perturb.TEMPORAL:
            # Temporal edits may leave a frame in place, but never outside the segment.
            assert changed and set(changed) <= set(range(p["start"], p["end"]))
        else:
            assert changed == list(range(p["start"], p["end"]))
        replay = perturb.apply_to_video(name, video, ctx, p["start"], p["length"], p["perturbation_params"])
        for a, b in zip(s.clips[0].frames, replay):
            assert (a == b) if isinstance(a, Path) else np.array_equal(a, b)


def test_question_names_the_perturbation(store):
    root, records, ctx = store
    for name in grounding.PERTURBATIONS:
        s = TASK.make_sample(records[0], np.random.default_rng(0), grounding.Params((name,)), ctx)
        assert s.question.startswith("<video>") and s.question.count("<video>") == 1
        assert perturb.REGISTRY[name].description in s.question
        assert "<start>-<end>" in s.question and "one decimal" in s.question
        assert ("timestamps" in s.question) == (name in ("Slow", "Fast"))
    q = grounding.question_for("ChannelSwap")
    assert "red and blue colour channels are swapped" in q


def test_determinism_same_seed_same_sample_pixels_included(store):
    root, records, ctx = store
    params = grounding.Params(perturbations=("Noise", "ZoomIn", "Shuffle", "Swap", "Mirror"))
    for seed in (1, 2, 3):
        a = TASK.make_sample(records[1], np.random.default_rng(seed), params, ctx)
        b = TASK.make_sample(records[1], np.random.default_rng(seed), params, ctx)
        assert (a.question, a.answer, dict(a.params)) == (b.question, b.answer, dict(b.params))
        for x, y in zip(a.clips[0].frames, b.clips[0].frames):
            assert (x == y) if isinstance(x, Path) else (x.tobytes() == y.tobytes())
    answers = {TASK.make_sample(records[1], np.random.default_rng(s), params, ctx).answer for s in range(8)}
    assert len(answers) > 1


def test_draws_cover_the_ranges_uniformly(store):
    root, records, ctx = store
    rng = np.random.default_rng(123)
    names, lengths, starts = [], [], []
    for _ in range(200):
        s = TASK.make_sample(records[0], rng, grounding.Params(), ctx)
        names.append(s.params["perturbation"])
        lengths.append(s.params["length"])
        starts.append(s.params["start"])
    assert set(names) == set(grounding.TRAINING_PERTURBATIONS)
    assert min(names.count(n) for n in grounding.TRAINING_PERTURBATIONS) >= 30
    assert set(lengths) == set(range(8, 17))
    assert min(starts) <= 3 and max(starts) >= 30


def test_spatial_segment_pixels_are_the_perturbation(store):
    root, records, ctx = store
    s = TASK.make_sample(records[0], np.random.default_rng(4), grounding.Params(("ChannelSwap",)), ctx)
    p = s.params
    for i in range(p["start"], p["end"]):
        assert np.array_equal(s.clips[0].frames[i], load_frame(ctx, records[0], i)[..., ::-1])


def test_video_too_short(tmp_path):
    records = make_frame_store(tmp_path, num_videos=1, num_frames=12, width=32, height=24)
    with pytest.raises(ValueError, match="12 frames.*max_len=16"):
        TASK.make_sample(records[0], np.random.default_rng(0), grounding.Params(), TaskContext(tmp_path))


def test_sample_becomes_a_verl_row(store, tmp_path):
    root, records, ctx = store
    s = TASK.make_sample(records[0], np.random.default_rng(0), grounding.Params(), ctx)
    paths = [str(f) if isinstance(f, Path) else str(tmp_path / f"{i:03d}.png") for i, f in enumerate(s.clips[0].frames)]
    row = to_verl_row(s, [paths], index=0)
    assert row["data_source"] == "videossr_grounding"
    assert row["reward_model"]["ground_truth"] == s.answer
    assert json.loads(row["extra_info"]["params"])["start"] == s.params["start"]
    assert row["videos"][0]["sample_fps"] == records[0].sample_fps


# --- an answerable segment (a zero-length or near-zero answer would stop training or cap the IoU of the truth) ---


def test_a_short_high_fps_clip_never_gives_a_zero_length_answer(tmp_path):
    """A 1.2 s clip sampled into 48 frames runs at 44 frames per second of model clock: 16 frames are 0.36 s, so no
    segment lasts the 1.0 s an answer with one decimal needs. The sample fails with a clear error instead of
    writing '0.4-0.4'; a longer clip still gives one, with its short lengths left out."""
    records = make_frame_store(tmp_path / "short", num_videos=1, num_frames=48, width=32, height=24, duration=1.2)
    ctx = TaskContext(tmp_path / "short", pool=records)
    with pytest.raises(ValueError, match="too short for an answerable segment"):
        TASK.make_sample(records[0], np.random.default_rng(0), grounding.Params(min_len=4), ctx)
    records = make_frame_store(tmp_path / "mid", num_videos=1, num_frames=48, width=32, height=24, duration=5.28)
    ctx = TaskContext(tmp_path / "mid", pool=records)
    fps = records[0].sample_fps  # 10.1: the demo bunny clip's clock
    assert grounding.Params().length_range(fps) == (11, 16)
    for seed in range(20):
        s = TASK.make_sample(records[0], np.random.default_rng(seed), grounding.Params(), ctx)
        p = s.params
        assert p["length"] >= 11 and p["length"] / fps >= 1.0


def test_paper_lengths_untouched_on_ordinary_videos():
    # 48 frames over the 5%..95% span of a 60 s video: 0.89 frames per second; 8 frames last 9 s.
    assert grounding.Params().length_range(48 / (0.9 * 60)) == (8, 16)
    assert grounding.Params().length_range(48 / (0.9 * 6.75)) == (8, 16)  # 8 frames = 1.0125 s: still 8


@settings(max_examples=400, deadline=None)
@given(fps=st.floats(0.2, 60.0), data=st.data())
def test_the_true_answer_scores_at_least_09_against_its_own_rounding(fps, data):
    """The bound chosen for one-decimal answers: any answerable segment's written answer has IoU >= 0.9 with the
    exact segment, parses with the reward's ground-truth parser, and scores 1.0 against itself in both modes."""
    params = grounding.Params(min_len=4)
    lo, hi = params.length_range(fps)
    assume(lo <= hi)
    length = data.draw(st.integers(lo, hi))
    start = data.draw(st.integers(0, 48 - length))
    answer = grounding.answer_for(start, length, fps)
    exact = (start / fps, (start + length) / fps)
    written = TASK.parse_gold(answer)
    assert written[1] > written[0]
    assert temporal_iou(written, exact) >= 0.9 - 1e-9
    for mode in ("smooth", "strict"):
        assert TASK.score_text(answer, answer, mode).value == 1.0

"""Grounding perturbations: exactly the segment changes, parameters are drawn once, outputs re-derive from params."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videossr.tasks import perturb
from videossr.tasks.perturb import PERTURBATIONS, REGISTRY, SPATIAL, SWAP, TEMPORAL
from videossr.sampling.store import TaskContext, frame_path, load_frame
from support.frames import make_frame_store

START, LENGTH = 17, 12


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    records = make_frame_store(root, num_videos=3, num_frames=48, width=96, height=64)
    return root, records, TaskContext(frames_root=root, pool=records)


def _frames_equal(a, b) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, Path) != isinstance(y, Path):
            return False
        if isinstance(x, Path) and x != y:
            return False
        if isinstance(x, np.ndarray) and not np.array_equal(x, y):
            return False
    return True


def test_registry_names_and_order():
    assert PERTURBATIONS[:14] == (
        "Saturation", "Noise", "Blur", "Grayscale", "Invert", "ChannelSwap", "ZoomIn", "Rotate180", "ZoomOut",
        "Mirror", "Slow", "Fast", "StutterHold", "Shuffle",
    )
    assert set(PERTURBATIONS[14:]) == {"Rotate90", "Rotate270", "Swap"}
    assert perturb.TRAINING_PERTURBATIONS == ("ChannelSwap", "Rotate180", "ZoomOut", "Mirror")
    assert {REGISTRY[n].kind for n in ("Slow", "Fast", "StutterHold", "Shuffle")} == {TEMPORAL}
    assert REGISTRY["Swap"].kind == SWAP
    descriptions = [REGISTRY[n].description for n in PERTURBATIONS]
    assert len(set(descriptions)) == len(descriptions)
    assert "red and blue" in REGISTRY["ChannelSwap"].description


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="Nope.*ChannelSwap.*Swap"):
        perturb.get("Nope")


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_exactly_the_segment_changes(store, name):
    root, records, ctx = store
    video = records[0]
    frames, params = perturb.perturb_video(name, video, ctx, START, LENGTH, np.random.default_rng(3))
    json.dumps(params)
    assert len(frames) == video.num_frames
    for i, f in enumerate(frames):
        if not START <= i < START + LENGTH:
            assert f == frame_path(ctx, video, i), f"frame {i} outside the segment was touched"
    segment = frames[START : START + LENGTH]
    kind = REGISTRY[name].kind
    if kind == SPATIAL:
        for k, f in enumerate(segment):
            assert isinstance(f, np.ndarray) and f.dtype == np.uint8 and f.shape == (64, 96, 3)
            assert not np.array_equal(f, load_frame(ctx, video, START + k)), f"{name} left frame {START + k} as is"
    elif kind == TEMPORAL:
        own = [frame_path(ctx, video, i) for i in range(video.num_frames)]
        assert all(isinstance(f, Path) and f in own for f in segment)
        assert list(segment) != own[START : START + LENGTH]
        assert [own.index(f) for f in segment] == params["source"]
    else:
        other = next(r for r in records if r.video_id == params["other_video_id"])
        assert other.video_id != video.video_id
        assert list(segment) == [frame_path(ctx, other, i) for i in range(START, START + LENGTH)]


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_rederive_from_json_params_and_determinism(store, name):
    root, records, ctx = store
    video = records[1]
    a, pa = perturb.perturb_video(name, video, ctx, 5, 9, np.random.default_rng(11))
    b, pb = perturb.perturb_video(name, video, ctx, 5, 9, np.random.default_rng(11))
    assert pa == pb and _frames_equal(a, b)
    replay = perturb.apply_to_video(name, video, ctx, 5, 9, json.loads(json.dumps(pa)))
    assert _frames_equal(a, replay)


_OPS = {
    "Saturation": lambda img, p: perturb.saturate(img, p["factor"]),
    "Blur": lambda img, p: perturb.blur(img, p["radius"]),
    "ZoomIn": lambda img, p: perturb.zoom_in(img, p["scale"]),
    "ZoomOut": lambda img, p: perturb.zoom_out(img, p["scale"]),
}


@pytest.mark.parametrize("name", sorted(_OPS))
def test_parameters_drawn_once_per_segment(store, name):
    root, records, ctx = store
    video = records[0]
    frames, params = perturb.perturb_video(name, video, ctx, START, LENGTH, np.random.default_rng(5))
    for k in range(LENGTH):
        expected = _OPS[name](load_frame(ctx, video, START + k), params)
        assert np.array_equal(frames[START + k], expected), f"{name} frame {k} not made with the segment's params"


# The reference implementation's strengths (the paper gives none): a test that would have caught 0.50-0.75 ZoomOut.
_REFERENCE_RANGES = {
    # name: (drawn key, lowest, highest)
    "ZoomOut": ("scale", 1 / 1.4, 1 / 1.2),
    "ZoomIn": ("scale", 1.3, 1.5),
    "Noise": ("sigma", 35.0, 70.0),
    "Blur": ("radius", 2.0, 2.0),
    "Saturation": ("factor", 2.0, 2.0),
}


@pytest.mark.parametrize("name", sorted(_REFERENCE_RANGES))
def test_strengths_are_the_reference_ranges(store, name):
    root, records, ctx = store
    key, lo, hi = _REFERENCE_RANGES[name]
    drawn = [
        perturb.get(name).draw(np.random.default_rng(seed), records[0], ctx, START, LENGTH)[key] for seed in range(200)
    ]
    assert min(drawn) >= lo - 1e-12 and max(drawn) <= hi + 1e-12
    if hi > lo:  # a range is used across its width, not pinned to one end
        assert min(drawn) < lo + 0.1 * (hi - lo) and max(drawn) > hi - 0.1 * (hi - lo)


def test_zoom_out_keeps_between_71_and_83_percent_of_each_side(store):
    root, records, ctx = store
    for seed in range(20):
        p = perturb.get("ZoomOut").draw(np.random.default_rng(seed), records[0], ctx, START, LENGTH)
        assert 1.2 <= p["shrink"] <= 1.4 and p["scale"] == pytest.approx(1 / p["shrink"])
        assert 0.714 <= p["scale"] <= 0.834


def test_zoom_out_border_is_the_same_on_every_frame(store):
    root, records, ctx = store
    frames, params = perturb.perturb_video("ZoomOut", records[0], ctx, START, LENGTH, np.random.default_rng(2))
    assert 1 / 1.4 <= params["scale"] <= 1 / 1.2
    borders = set()
    for f in frames[START : START + LENGTH]:
        cols = np.nonzero(f.max(axis=(0, 2)) > 0)[0]
        rows = np.nonzero(f.max(axis=(1, 2)) > 0)[0]
        borders.add((cols[0], cols[-1], rows[0], rows[-1]))
    assert len(borders) == 1
    c0, c1, r0, r1 = borders.pop()
    assert abs((c1 - c0 + 1) - round(96 * params["scale"])) <= 1
    assert abs((r1 - r0 + 1) - round(64 * params["scale"])) <= 1


def test_noise_level_drawn_once_noise_deterministic(store):
    root, records, ctx = store
    video = records[0]
    frames, params = perturb.perturb_video("Noise", video, ctx, START, LENGTH, np.random.default_rng(9))
    stds = []
    for k in range(LENGTH):
        src = load_frame(ctx, video, START + k)
        assert np.array_equal(frames[START + k], perturb.add_noise(src, params["sigma"], params["seed"] + k))
        # Away from clipping (mid-range pixels), the residual's spread is the one sigma.
        mid = (src > 80) & (src < 175)
        stds.append(float((frames[START + k].astype(float) - src)[mid].std()))
    assert np.allclose(stds, params["sigma"], rtol=0.15)
    residual = [frames[START + k].astype(int) - load_frame(ctx, video, START + k) for k in (0, 1)]
    assert not np.array_equal(residual[0], residual[1])  # fresh noise on every frame, at one level


def test_pixel_semantics_of_the_fixed_ops():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    assert np.array_equal(perturb.channel_swap(img)[..., 0], img[..., 2])
    assert np.array_equal(perturb.channel_swap(img)[..., 1], img[..., 1])
    assert np.array_equal(perturb.mirror(img), img[:, ::-1])
    assert np.array_equal(perturb.invert(img), 255 - img)
    assert np.array_equal(perturb.rotate(img, 2), img[::-1, ::-1])
    g = perturb.grayscale(img)
    assert np.array_equal(g[..., 0], g[..., 1]) and np.array_equal(g[..., 1], g[..., 2])
    sq = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    assert np.array_equal(perturb.rotate(sq, 1), np.rot90(sq, 1))
    assert np.array_equal(perturb.rotate(perturb.rotate(sq, 1), 3), sq)
    # Saturation pushes colours away from their grey: the channel spread grows.
    assert perturb.saturate(img, 2.5).astype(int).std(axis=2).mean() > img.astype(int).std(axis=2).mean()


def test_rotate90_letterboxes_non_square_frames():
    img = np.full((40, 80, 3), 200, dtype=np.uint8)
    img[:, :40] = (255, 0, 0)  # left half red: after a counter-clockwise quarter turn it is the bottom half
    out = perturb.rotate(img, 1)
    assert out.shape == img.shape and out.dtype == np.uint8
    # Rotated 80x40 -> 40 wide x 80 tall, scaled by 0.5 to 20x40 and centred: black bars of 30 px left and right.
    assert out[:, :30].max() == 0 and out[:, 50:].max() == 0
    assert tuple(out[35, 40]) == (255, 0, 0) and tuple(out[5, 40]) == (200, 200, 200)
    cw = perturb.rotate(img, 3)
    assert tuple(cw[5, 40]) == (255, 0, 0) and tuple(cw[35, 40]) == (200, 200, 200)


def test_slow_and_fast_follow_their_definitions(store):
    root, records, ctx = store
    video = records[0]
    for seed in range(6):
        _, p = perturb.perturb_video("Slow", video, ctx, 10, 9, np.random.default_rng(seed))
        s = p["factor"]
        shown = -(-9 // s)
        assert s in (2, 3)
        assert p["source"] == [10 + (9 - shown) // 2 + k // s for k in range(9)]
        assert all(10 <= i < 19 for i in p["source"])
    for start in (0, 20, 32):
        _, p = perturb.perturb_video("Fast", video, ctx, start, 16, np.random.default_rng(start))
        s, src = p["factor"], p["source"]
        assert np.all(np.diff(src) == s) and 0 <= src[0] and src[-1] < 48
        # The window is centred on the segment unless it has to be shifted to stay inside the video.
        assert abs((src[0] + src[-1]) / 2 - (start + 7.5)) <= 0.5 or src[0] == 0 or src[-1] == 47


def test_fast_needs_a_long_enough_video(tmp_path):
    records = make_frame_store(tmp_path, num_videos=1, num_frames=12, width=32, height=24)
    ctx = TaskContext(frames_root=tmp_path, pool=records)
    with pytest.raises(ValueError, match="Fast needs at least 15 frames"):
        perturb.perturb_video("Fast", records[0], ctx, 2, 8, np.random.default_rng(0))


def test_stutter_hold_freezes_in_runs(store):
    root, records, ctx = store
    for seed in range(10):
        length = 8 + seed
        _, p = perturb.perturb_video("StutterHold", records[0], ctx, 3, length, np.random.default_rng(seed))
        assert 2 <= p["holds"] <= 5 and len(p["runs"]) == p["holds"] and sum(p["runs"]) == length
        assert min(p["runs"]) >= 2
        pos, expected = 0, []
        for run in p["runs"]:
            expected += [3 + pos] * run
            pos += run
        assert p["source"] == expected


def test_shuffle_is_never_the_identity(store):
    root, records, ctx = store
    for seed in range(40):  # with 2 frames half of all permutations are the identity
        _, p = perturb.perturb_video("Shuffle", records[0], ctx, 4, 2, np.random.default_rng(seed))
        assert p["order"] == [1, 0]


def test_swap_errors_and_resizes(tmp_path):
    a = make_frame_store(tmp_path / "a", num_videos=1, num_frames=20, width=32, height=24)
    with pytest.raises(ValueError, match="Swap needs another video"):
        perturb.perturb_video("Swap", a[0], TaskContext(tmp_path / "a", pool=a), 2, 8, np.random.default_rng(0))
    long = make_frame_store(tmp_path / "b", num_videos=1, num_frames=30, width=32, height=24)[0]
    short = make_frame_store(tmp_path / "b2", num_videos=2, num_frames=20, width=32, height=24)[1]
    with pytest.raises(ValueError, match="at least 24 frames"):
        ctx = TaskContext(tmp_path / "b", pool=[long, short])
        perturb.perturb_video("Swap", long, ctx, 16, 8, np.random.default_rng(0))
    # Another video of a different size is borrowed as resized pixels (one video's frames must share one size).
    root = tmp_path / "c"
    small = make_frame_store(root, num_videos=1, num_frames=20, width=32, height=24)[0]
    big = make_frame_store(tmp_path / "d", num_videos=2, num_frames=20, width=48, height=36)[1]
    big = dataclasses.replace(big, frames=tuple(f"../d/{f}" for f in big.frames))
    ctx = TaskContext(root, pool=[small, big])
    frames, p = perturb.perturb_video("Swap", small, ctx, 2, 8, np.random.default_rng(0))
    assert p == {"other_video_id": big.video_id}
    assert all(isinstance(f, np.ndarray) and f.shape == (24, 32, 3) for f in frames[2:10])


def test_segment_must_fit(store):
    root, records, ctx = store
    with pytest.raises(ValueError, match="does not fit"):
        perturb.perturb_video("Mirror", records[0], ctx, 40, 9, np.random.default_rng(0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["Slow", "Fast", "StutterHold", "Shuffle"]),
    length=st.integers(4, 16),
    start_frac=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_temporal_invariants_hold_for_any_segment(store, name, length, start_frac, seed):
    root, records, ctx = store
    video = records[0]
    start = int(start_frac * (video.num_frames - length))
    frames, p = perturb.perturb_video(name, video, ctx, start, length, np.random.default_rng(seed))
    src = p["source"]
    assert len(src) == length and all(0 <= i < video.num_frames for i in src)
    assert src != list(range(start, start + length))
    assert frames[start : start + length] == tuple(frame_path(ctx, video, i) for i in src)
    if name in ("Slow", "StutterHold", "Shuffle"):
        assert all(start <= i < start + length for i in src)  # they only use the segment's own frames
    if name in ("Slow", "Fast"):
        assert all(b >= a for a, b in zip(src, src[1:]))  # time still runs forward

"""Object Counting samples: the answer counts the shapes actually drawn (checked in pixels), placement rules hold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from videossr.sampling.store import VideoRecord
from videossr.tasks import counting
from videossr.sampling.store import TaskContext, frame_path, load_frame
from videossr.tasks import get_task

TASK = get_task("counting")
from support.frames import make_frame_store

W, H, N = 96, 64, 48
BACKGROUND = 20  # below the lowest shape channel (50), so every painted pixel differs from the background


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A frame store whose frames are one flat dark grey (lossless PNG), so painted pixels are easy to find."""
    root = tmp_path_factory.mktemp("plain")
    (root / "plain").mkdir()
    frames = []
    for i in range(N):
        rel = f"plain/{i:03d}.png"
        Image.fromarray(np.full((H, W, 3), BACKGROUND, dtype=np.uint8)).save(root / rel)
        frames.append(rel)
    video = VideoRecord(
        video_id="plain", source="plain.mp4", frames=tuple(frames), timestamps=tuple(float(i) for i in range(N)),
        sample_fps=1.0, duration=float(N), width=W, height=H, source_width=W, source_height=H, decoder="synthetic",
    )
    return video, TaskContext(frames_root=root, pool=[video])


def _components(img: np.ndarray) -> list[np.ndarray]:
    painted = (img != BACKGROUND).any(axis=2).astype(np.uint8)
    n, labels = cv2.connectedComponents(painted, connectivity=8)
    return [labels == k for k in range(1, n)]


def test_params_and_difficulties():
    assert counting.Params() == counting.Params(3, 3, 8)
    assert counting.DIFFICULTIES["easy"] == counting.Params(3, 3)
    assert counting.DIFFICULTIES["hard"] == counting.Params(4, 4)
    with pytest.raises(ValueError, match="max_instances.*0"):
        counting.Params(max_instances=0)
    with pytest.raises(ValueError, match="min_gap.*-1"):
        counting.Params(min_gap=-1)


@pytest.mark.parametrize("difficulty", ["easy", "hard"])
def test_counts_equal_the_shapes_in_the_pixels(plain, difficulty):
    video, ctx = plain
    params = counting.DIFFICULTIES[difficulty]
    for seed in range(6):
        s = TASK.make_sample(video, np.random.default_rng(seed), params, ctx)
        p = json.loads(json.dumps(dict(s.params)))
        by_frame = {r["frame"]: r for r in p["frames"]}
        pixel_counts = dict.fromkeys(counting.CLASSES, 0)
        for i, f in enumerate(s.clips[0].frames):
            if i not in by_frame:
                assert f == frame_path(ctx, video, i)
                continue
            rec = by_frame[i]
            comps = _components(f)
            assert len(comps) == len(rec["shapes"]) >= 1
            pixel_counts[rec["class"]] += len(comps)
            colours = sorted(tuple(int(c) for c in f[m][0]) for m in comps)
            assert colours == sorted(tuple(sh["color"]) for sh in rec["shapes"])
            for m in comps:  # each component is one flat colour
                assert len(np.unique(f[m], axis=0)) == 1
        assert pixel_counts == p["counts"]
        assert s.answer == ",".join(str(pixel_counts[c]) for c in counting.CLASSES)
        assert all(v >= 1 for v in pixel_counts.values())


def test_component_areas_match_the_shape_class(plain):
    video, ctx = plain
    s = TASK.make_sample(video, np.random.default_rng(7), counting.DIFFICULTIES["hard"], ctx)
    area_of = {
        "circle": lambda a: math.pi * a * a / 4,
        "square": lambda a: a * a,
        "triangle": lambda a: math.sqrt(3) / 4 * a * a,
    }
    perimeter_of = {"circle": lambda a: math.pi * a, "square": lambda a: 4 * a, "triangle": lambda a: 3 * a}
    checked = 0
    for rec in s.params["frames"]:
        img = s.clips[0].frames[rec["frame"]]
        for sh in rec["shapes"]:
            comp = next(m for m in _components(img) if [int(c) for c in img[m][0]] == sh["color"])
            ys, xs = np.nonzero(comp)
            if ys.min() == 0 or xs.min() == 0 or ys.max() == H - 1 or xs.max() == W - 1:
                continue  # cut by the frame edge
            expected = area_of[rec["class"]](sh["size"])
            # Sampling pixel centres gains or loses a fraction of a pixel along the outline.
            tolerance = 0.25 * perimeter_of[rec["class"]](sh["size"]) + 2
            assert abs(comp.sum() - expected) <= tolerance, (rec["class"], sh, comp.sum(), expected)
            checked += 1
    assert checked >= 5


def test_placement_rules(plain):
    video, ctx = plain
    short = min(W, H)
    for seed in range(12):
        params = counting.DIFFICULTIES["hard" if seed % 2 else "easy"]
        s = TASK.make_sample(video, np.random.default_rng(seed), params, ctx)
        recs = s.params["frames"]
        frames = [r["frame"] for r in recs]
        assert len(frames) == len(set(frames)), "one class per frame"
        for cls in counting.CLASSES:
            own = sorted(r["frame"] for r in recs if r["class"] == cls)
            assert 1 <= len(own) <= params.max_frames_per_class
            assert all(b - a > params.min_gap for a, b in zip(own, own[1:])), (cls, own)
        for r in recs:
            assert 1 <= len(r["shapes"]) <= r["requested"] <= params.max_instances
            masks = []
            for sh in r["shapes"]:
                assert 0.2 * short <= sh["size"] <= 0.4 * short
                x, y = sh["center"]
                assert 0.15 * (W - 1) <= x <= 0.85 * (W - 1) and 0.15 * (H - 1) <= y <= 0.85 * (H - 1)
                assert all(50 <= c <= 255 for c in sh["color"])
                assert 0.0 <= sh["rotation"] < 360.0
                masks.append(counting.shape_mask(r["class"], tuple(sh["center"]), sh["size"], sh["rotation"], H, W))
            total = np.sum(masks, axis=0)
            assert total.max() == 1, "instances overlap"


def test_failed_placements_are_not_counted(plain):
    video, ctx = plain
    params = counting.Params(max_frames_per_class=2, max_instances=12)
    dropped = 0
    for seed in range(4):
        s = TASK.make_sample(video, np.random.default_rng(seed), params, ctx)
        counts = dict.fromkeys(counting.CLASSES, 0)
        for r in s.params["frames"]:
            counts[r["class"]] += len(r["shapes"])
            dropped += r["requested"] - len(r["shapes"])
            assert len(_components(s.clips[0].frames[r["frame"]])) == len(r["shapes"])
        assert counts == s.params["counts"] and min(counts.values()) >= 1
    assert dropped > 0, "12 large shapes never all fit on a 96x64 frame; some must be dropped"


def test_rotation_is_used():
    verts = counting.shape_vertices("square", (40.0, 30.0), 20, 0.0)
    assert np.allclose(sorted(verts[:, 0]), [30, 30, 50, 50])
    turned = counting.shape_vertices("square", (40.0, 30.0), 20, 45.0)
    assert np.isclose(turned[:, 0].max() - turned[:, 0].min(), 20 * math.sqrt(2))
    tri = counting.shape_vertices("triangle", (40.0, 30.0), 20, 0.0)
    sides = [np.linalg.norm(tri[k] - tri[(k + 1) % 3]) for k in range(3)]
    assert np.allclose(sides, 20)


def test_determinism(plain, tmp_path):
    video, ctx = plain
    for seed in (0, 5):
        a = TASK.make_sample(video, np.random.default_rng(seed), counting.DIFFICULTIES["hard"], ctx)
        b = TASK.make_sample(video, np.random.default_rng(seed), counting.DIFFICULTIES["hard"], ctx)
        assert (a.answer, dict(a.params), a.question) == (b.answer, dict(b.params), b.question)
        for x, y in zip(a.clips[0].frames, b.clips[0].frames):
            assert (x == y) if isinstance(x, Path) else x.tobytes() == y.tobytes()
    # Shapes on a textured frame: the frame is re-derived from its audit record.
    records = make_frame_store(tmp_path, num_videos=1, width=W, height=H)
    tctx = TaskContext(tmp_path, records)
    s = TASK.make_sample(records[0], np.random.default_rng(1), counting.Params(), tctx)
    for r in s.params["frames"]:
        redo = counting.render_frame(load_frame(tctx, records[0], r["frame"]), r["class"], r["shapes"])
        assert np.array_equal(redo, s.clips[0].frames[r["frame"]])


def test_easy_and_hard_ranges(plain):
    video, ctx = plain
    rng = np.random.default_rng(2024)
    seen = {"easy": [], "hard": []}
    for _ in range(40):
        for name in seen:
            s = TASK.make_sample(video, rng, counting.DIFFICULTIES[name], ctx)
            seen[name] += [int(c) for c in s.answer.split(",")]
    assert min(seen["easy"]) >= 1 and max(seen["easy"]) <= 9
    assert min(seen["hard"]) >= 1 and max(seen["hard"]) <= 16
    assert max(seen["hard"]) > 9 and max(seen["easy"]) >= 6


def test_question_and_too_short_video(tmp_path):
    q = counting.QUESTION
    assert q.count("<video>") == 1 and "circles,squares,triangles" in q and "several" in q
    records = make_frame_store(tmp_path, num_videos=1, num_frames=20, width=32, height=24)
    with pytest.raises(ValueError, match="20 frames.*needs at least 30"):
        TASK.make_sample(records[0], np.random.default_rng(0), counting.DIFFICULTIES["hard"], TaskContext(tmp_path))


def test_question_carries_the_papers_information_and_no_more():
    """The paper's question says: any colour, any rotation, one or several frames, several shapes per frame. It does
    not say that a frame holds one kind only (a structural hint the generator's rule would leak)."""
    q = counting.QUESTION.lower()
    assert "any colour" in q and "any angle" in q
    assert "several frames" in q and "more than one shape" in q
    assert "one kind only" not in q and "only one kind" not in q and "of one kind" not in q

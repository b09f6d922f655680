"""Contact sheets: rendered from real rows, outlines on exactly the marked frames, clips in shown order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from videossr.datasets import preview
from videossr.tasks.sample import to_verl_row
from videossr.tasks import counting, grounding, jigsaw
from videossr.sampling.store import TaskContext
from videossr.tasks import get_task
from support.frames import make_frame_store

REPO = Path(__file__).resolve().parents[1]


def _row(sample, out_dir: Path, index: int) -> dict:
    paths = []
    for c, clip in enumerate(sample.clips):
        clip_paths = []
        for i, f in enumerate(clip.frames):
            if isinstance(f, np.ndarray):
                p = out_dir / f"{index:03d}_{c}_{i:03d}.png"
                Image.fromarray(f).save(p)
                f = p
            clip_paths.append(str(f))
        paths.append(clip_paths)
    return to_verl_row(sample, paths, index=index)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    records = make_frame_store(root, num_videos=2, num_frames=48, width=64, height=48)
    ctx = TaskContext(root, records)
    out = tmp_path_factory.mktemp("dataset")
    samples = [
        get_task("grounding").make_sample(records[0], np.random.default_rng(1), grounding.Params(("ChannelSwap",)), ctx),
        get_task("counting").make_sample(records[1], np.random.default_rng(2), counting.DIFFICULTIES["easy"], ctx),
        get_task("jigsaw").make_sample(records[0], np.random.default_rng(3), jigsaw.Params(6), ctx),
        get_task("grounding").make_sample(records[1], np.random.default_rng(4), grounding.Params(("Shuffle",)), ctx),
    ]
    rows = [_row(s, out, i) for i, s in enumerate(samples)]
    path = out / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path, samples, root, records


def _ring_pixel(img: np.ndarray, box) -> tuple[int, ...]:
    """A pixel in the middle of the left outline band of a thumbnail box."""
    x = box[0] - preview.OUTLINE_GAP - preview.OUTLINE_WIDTH // 2 - 1
    y = (box[1] + box[3]) // 2
    return tuple(int(v) for v in img[y, x])


def test_sheet_outlines_exactly_the_marked_frames(dataset, tmp_path):
    path, samples, root, records = dataset
    out = tmp_path / "sheet.png"
    sheet = preview.render_parquet(path, out, num_rows=4)
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[1] == sheet.image.width and 600 < sheet.image.width < 2000
    assert 400 < sheet.image.height < 4000
    assert len(sheet.boxes) == 48 * 4
    g = samples[0].params
    c_frames = {r["frame"] for r in samples[1].params["frames"]}
    s = samples[3].params
    expected = {
        0: ({(0, i) for i in range(g["start"], g["end"])}, grounding.SEGMENT_OUTLINE),
        1: ({(0, i) for i in c_frames}, counting.SHAPES_OUTLINE),
        2: (set(), None),
        3: ({(0, i) for i in range(s["start"], s["end"])}, grounding.SEGMENT_OUTLINE),
    }
    for b in sheet.boxes:
        marked, colour = expected[b.row]
        if (b.clip, b.frame) in marked:
            assert b.outline == colour and _ring_pixel(img, b.box) == colour, b
        else:
            assert b.outline is None and _ring_pixel(img, b.box) == preview.BACKGROUND, b


def test_thumbnails_show_the_row_frames(dataset, tmp_path):
    path, samples, root, records = dataset
    sheet = preview.render_parquet(path, tmp_path / "s.png", indices=[0, 2])
    img = np.asarray(sheet.image)
    boxes = {(b.row, b.clip, b.frame): b.box for b in sheet.boxes}

    def mean_rgb(box):
        return img[box[1] : box[3], box[0] : box[2]].reshape(-1, 3).mean(axis=0)

    def src_mean(video, i):
        return np.asarray(Image.open(root / video.frames[i]).convert("RGB"), dtype=float).reshape(-1, 3).mean(axis=0)

    g = samples[0].params
    inside, outside = g["start"], (g["end"] % 48 if g["end"] < 48 else g["start"] - 1)
    # In the ChannelSwap segment red and blue are exchanged; outside they are not.
    assert np.allclose(mean_rgb(boxes[(0, 0, inside)]), src_mean(records[0], inside)[::-1], atol=6)
    assert np.allclose(mean_rgb(boxes[(0, 0, outside)]), src_mean(records[0], outside), atol=6)
    # Jigsaw: 6 grid rows of 8 frames; shown clip p starts with original frame order[p] * 8.
    order = samples[2].params["order"]
    assert sorted({k[1] for k in boxes if k[0] == 1}) == list(range(6))
    for p, original in enumerate(order):
        assert np.allclose(mean_rgb(boxes[(1, p, 0)]), src_mean(records[0], original * 8), atol=6)
        assert boxes[(1, p, 0)][1] < boxes[(1, p, 7)][3] and boxes[(1, p, 0)][0] < boxes[(1, p, 7)][0]
        if p:
            assert boxes[(1, p, 0)][1] > boxes[(1, p - 1, 0)][1]


def test_deterministic_and_task_filter(dataset, tmp_path):
    path, samples, root, records = dataset
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    preview.render_parquet(path, a, num_rows=2, task="grounding")
    preview.render_parquet(path, b, num_rows=2, task="grounding")
    assert a.read_bytes() == b.read_bytes()
    chosen, rows = preview.read_rows(path, num_rows=5, task="grounding")
    assert chosen == [0, 3] and all(r["data_source"] == "videossr_grounding" for r in rows)
    with pytest.raises(IndexError, match=r"\[9\]"):
        preview.read_rows(path, indices=[9])
    with pytest.raises(ValueError, match="png"):
        preview.render_parquet(path, tmp_path / "x.jpg")


def test_header_text_and_params():
    row = {"data_source": "videossr_counting", "extra_info": {"params": '{"counts": {"circle": 2}}'}}
    assert preview.row_task(row) == "counting"
    assert preview.row_params(row) == {"counts": {"circle": 2}}
    assert preview.row_params({"data_source": "shuffled"}) == {}
    assert preview.row_task({"data_source": "shuffled"}) == "jigsaw"


def test_cli(dataset, tmp_path):
    path, *_ = dataset
    out = tmp_path / "cli.png"
    proc = subprocess.run(
        [sys.executable, "pretext_tasks/preview.py", "--dataset", str(path), "--output", str(out), "--index", "1"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 rows, 48 frames" in proc.stdout
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 600

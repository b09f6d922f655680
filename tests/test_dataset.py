"""The dataset writer: plans, frames on disk, verl rows, failures, worker independence, and the per-task CLIs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from videossr.datasets.build import files_dir_for, write_task_dataset
from videossr.constants import TRAIN_MAX_PIXELS, TRAIN_MIN_PIXELS, VIDEO_PLACEHOLDER
from videossr.datasets.planning import Variant, assign_splits, assign_variants, assign_videos, largest_remainder, plan_task
from videossr.io import write_jsonl_atomic
from videossr.sampling.store import MANIFEST_NAME, read_manifest
from videossr.tasks.sample import ROW_SCHEMA, SYSTEM_PROMPT, rows_kind
from videossr.tasks import get_task
from support.frames import make_frame_store

REPO = Path(__file__).resolve().parents[1]


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    make_frame_store(root, num_videos=3, num_frames=48, width=64, height=48)
    return root


def _variants(task: str) -> list[Variant]:
    spec = get_task(task)
    labels = {"grounding": ["ChannelSwap", "Rotate180", "ZoomOut", "Mirror"], "counting": ["easy", "hard"]}
    if task == "jigsaw":
        return [Variant("6clips", spec.params(num_clips=6))]
    return [Variant(label, spec.preset(label)) for label in labels[task]]


# ------------------------------------------------------------------------------------------------ planning


def test_largest_remainder():
    assert largest_remainder(30000, [0.4, 0.4, 0.2]) == [12000, 12000, 6000]
    assert largest_remainder(12000, [1, 1, 1, 1]) == [3000] * 4
    assert largest_remainder(7, [1, 1, 1, 1]) == [2, 2, 2, 1]
    assert largest_remainder(11, [0.4, 0.4, 0.2]) == [5, 4, 2]  # 4.4, 4.4, 2.2: one extra to the first
    assert largest_remainder(0, [1, 2]) == [0, 0]
    for total in range(50):
        counts = largest_remainder(total, [0.4, 0.4, 0.2])
        assert sum(counts) == total
        assert all(abs(c - total * w) < 1 for c, w in zip(counts, [0.4, 0.4, 0.2]))
    with pytest.raises(ValueError):
        largest_remainder(5, [1, 0])


def test_videos_are_used_evenly_and_deterministically(store):
    records = read_manifest(store)
    chosen = assign_videos(records, "grounding", 30, seed=4)
    ids = [r.video_id for r in chosen]
    assert {i: ids.count(i) for i in set(ids)} == {r.video_id: 10 for r in records}
    for epoch in range(10):  # every pass over the videos uses each one once
        assert sorted(ids[3 * epoch : 3 * epoch + 3]) == [r.video_id for r in records]
    assert ids == [r.video_id for r in assign_videos(list(reversed(records)), "grounding", 30, seed=4)]
    assert ids != [r.video_id for r in assign_videos(records, "grounding", 30, seed=5)]
    with pytest.raises(ValueError, match="no videos"):
        assign_videos([], "jigsaw", 3, seed=0)


def test_variants_get_exact_counts_in_seeded_order():
    variants = _variants("grounding")
    chosen = [v.label for v in assign_variants(variants, "grounding", 400, seed=1)]
    assert {label: chosen.count(label) for label in set(chosen)} == {v.label: 100 for v in variants}
    assert chosen[:8] != ["ChannelSwap"] * 8  # shuffled, not blocked
    assert chosen == [v.label for v in assign_variants(variants, "grounding", 400, seed=1)]


def test_plan_rows_and_splits(store):
    records = read_manifest(store)
    units = plan_task("counting", _variants("counting"), count=20, videos=records, seed=0, first_row_index=100)
    assert [u.row_index for u in units] == list(range(100, 120))
    assert [u.key for u in units][:2] == ["counting_000000", "counting_000001"]
    split = assign_splits(units, 0.25, seed=0)
    assert sum(u.split == "val" for u in split) == 5
    assert split == assign_splits(units, 0.25, seed=0)
    with pytest.raises(ValueError, match="1.5"):
        assign_splits(units, 1.5, seed=0)


# ------------------------------------------------------------------------------------------------ writing


@pytest.mark.parametrize("task", ["grounding", "counting", "jigsaw"])
def test_task_dataset_rows_and_frames(store, tmp_path, task):
    before = tree_digest(store)
    output = tmp_path / "out" / f"{task}.parquet"
    summary = write_task_dataset(task, _variants(task), frames_dir=store, output=output, num_samples=8, seed=3,
                                 materialize=True, progress=False)
    assert tree_digest(store) == before  # the frame store is never written to
    assert summary.counts["samples"] == 8 and summary.counts["failures"] == []
    files = files_dir_for(output)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{task}.parquet", f"{task}_files"]

    table = pq.read_table(output)
    assert table.schema == ROW_SCHEMA
    rows = datasets.load_dataset("parquet", data_files=str(output), split="train").to_list()
    assert len(rows) == 8
    store_root = store.resolve()
    for i, row in enumerate(rows):
        assert row["data_source"] == get_task(task).data_source
        assert row["prompt"][0] == {"role": "system", "content": SYSTEM_PROMPT}
        assert row["prompt"][1]["content"].count(VIDEO_PLACEHOLDER) == len(row["videos"])
        assert row["extra_info"]["index"] == i and row["extra_info"]["task"] == task
        params = json.loads(row["extra_info"]["params"])
        for v in row["videos"]:
            assert (v["min_pixels"], v["max_pixels"]) == (TRAIN_MIN_PIXELS, TRAIN_MAX_PIXELS)
            for p in v["video"]:
                assert Path(p).is_absolute() and Path(p).is_file()
                assert Path(p).parent.parent == store_root or Path(p).is_relative_to(files.resolve())
        frames = row["videos"][0]["video"]
        new = [k for k, p in enumerate(frames) if not p.startswith(str(store_root))]
        if task == "jigsaw":
            assert new == [] and len(row["videos"]) == 6
        elif task == "grounding":
            # exactly the perturbed segment has new files (these perturbations change every frame they touch)
            assert new == list(range(params["start"], params["end"]))
            assert row["reward_model"]["ground_truth"] == (
                f"{params['start'] / params['fps']:.1f}-{params['end'] / params['fps']:.1f}"
            )
        else:
            assert 3 <= len(new) <= 12  # each of the 3 classes on 1..4 frames
            with Image.open(frames[new[0]]) as im:
                assert im.format == "JPEG" and im.size == (64, 48)


def test_same_seed_same_bytes_any_worker_count(store, tmp_path):
    out1 = tmp_path / "a" / "g.parquet"
    write_task_dataset("grounding", _variants("grounding"), frames_dir=store, output=out1, num_samples=6, seed=9,
                       workers=1, progress=False)
    first = tree_digest(out1.parent)
    (out1.parent / "g.parquet").unlink()
    shutil.rmtree(files_dir_for(out1))
    write_task_dataset("grounding", _variants("grounding"), frames_dir=store, output=out1, num_samples=6, seed=9,
                       workers=2, progress=False)
    assert tree_digest(out1.parent) == first
    out3 = tmp_path / "b" / "g.parquet"
    write_task_dataset("grounding", _variants("grounding"), frames_dir=store, output=out3, num_samples=6, seed=10,
                       progress=False)
    assert tree_digest(out3.parent)["g.parquet"] != first["g.parquet"]


def test_failing_video_is_reported_and_skipped(tmp_path):
    root = tmp_path / "store"
    records = make_frame_store(root, num_videos=2, num_frames=48, width=32, height=24)
    short = dataclasses.replace(records[1], frames=records[1].frames[:45], timestamps=records[1].timestamps[:45])
    write_jsonl_atomic(root / MANIFEST_NAME, [records[0].to_json(), short.to_json()])
    output = tmp_path / "out" / "jigsaw.parquet"
    summary = write_task_dataset("jigsaw", _variants("jigsaw"), frames_dir=root, output=output, num_samples=6,
                                 progress=False)
    failures = summary.counts["failures"]
    assert len(failures) == 3 and {f["video_id"] for f in failures} == {short.video_id}
    assert all("45 frames cannot be split into 6" in f["error"] for f in failures)
    rows = pq.read_table(output).to_pylist()
    assert len(rows) == 3 and {r["extra_info"]["video_id"] for r in rows} == {records[0].video_id}
    meta = json.loads((files_dir_for(output) / "metadata.json").read_text())
    assert meta["counts"]["failures"] == failures
    # a rerun does not retry committed failures: nothing changes
    before = tree_digest(tmp_path / "out")
    write_task_dataset("jigsaw", _variants("jigsaw"), frames_dir=root, output=output, num_samples=6, progress=False)
    assert tree_digest(tmp_path / "out") == before


def test_fewer_samples_prunes_stale_units(store, tmp_path):
    output = tmp_path / "c.parquet"
    write_task_dataset("counting", _variants("counting"), frames_dir=store, output=output, num_samples=6,
                       materialize=True, progress=False)
    write_task_dataset("counting", _variants("counting"), frames_dir=store, output=output, num_samples=2,
                       materialize=True, progress=False)
    files = files_dir_for(output)
    assert sorted(p.name for p in (files / "units" / "counting").iterdir()) == [
        "counting_000000.json", "counting_000001.json"]
    assert {p.name for p in (files / "frames" / "counting").iterdir()} <= {"counting_000000", "counting_000001"}
    assert pq.read_metadata(output).num_rows == 2


def test_output_inside_frame_store_is_refused(store):
    with pytest.raises(ValueError, match="must not be inside the frame store"):
        write_task_dataset("jigsaw", _variants("jigsaw"), frames_dir=store, output=store / "x.parquet", progress=False)


# ------------------------------------------------------------------------------------------------ CLIs


@pytest.mark.parametrize(
    "script,extra,expected",
    [
        ("jigsaw.py", ["--num-clips", "8"], {"8clips": 3}),
        ("grounding.py", ["--perturbation", "Shuffle", "--perturbation", "Invert", "--min-len", "4", "--max-len", "6"],
         {"Shuffle": 2, "Invert": 1}),
        ("counting.py", ["--difficulty", "hard"], {"hard": 3}),
    ],
)
def test_task_clis(store, tmp_path, script, extra, expected):
    task = script[:-3]
    output = tmp_path / f"{task}.parquet"
    proc = subprocess.run(
        [sys.executable, f"pretext_tasks/{script}", "--frames-dir", str(store), "--output", str(output),
         "--workers", "1", "--quiet", *extra],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote 3 rows to {output}" in proc.stdout  # default: one sample per video
    meta = json.loads((files_dir_for(output) / "metadata.json").read_text())
    assert meta["counts"]["per_variant"][task] == expected
    assert rows_kind(output) == "recipes" and meta["rows"] == "recipes"  # the build's default: recipe rows
    rows = pq.read_table(output).to_pylist()
    if task == "grounding":
        assert all(4 <= json.loads(r["extra_info"]["params"])["length"] <= 6 for r in rows)
    if task == "jigsaw":
        assert all(len(r["videos"]) == 8 and len(r["reward_model"]["ground_truth"]) == 8 for r in rows)


def test_task_cli_materialize_writes_frame_rows(store, tmp_path):
    output = tmp_path / "j.parquet"
    proc = subprocess.run(
        [sys.executable, "pretext_tasks/jigsaw.py", "--frames-dir", str(store), "--output", str(output),
         "--workers", "1", "--quiet", "--materialize"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert rows_kind(output) == "frames"
    assert json.loads((files_dir_for(output) / "metadata.json").read_text())["rows"] == "frames"


def test_counting_cli_explicit_limits(store, tmp_path):
    import runpy

    main = runpy.run_path(str(REPO / "pretext_tasks" / "counting.py"))["main"]  # not as __main__: nothing runs yet
    output = tmp_path / "c.parquet"
    assert main(["--frames-dir", str(store), "--output", str(output), "--max-frames-per-class", "1",
              "--max-instances", "1", "--num-samples", "4", "--workers", "1", "--quiet"]) == 0
    rows = pq.read_table(output).to_pylist()
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["1,1,1"] * 4
    for r in rows:
        params = json.loads(r["extra_info"]["params"])
        assert (params["max_frames_per_class"], params["max_instances"]) == (1, 1)
        assert params["counts"] == {"circle": 1, "square": 1, "triangle": 1}


def test_np_generators_are_independent_of_call_order(store):
    records = read_manifest(store)
    units = plan_task("jigsaw", _variants("jigsaw"), count=4, videos=records, seed=2)
    a = [u.rng().integers(0, 1 << 30) for u in units]
    b = [u.rng().integers(0, 1 << 30) for u in reversed(units)][::-1]
    assert a == b and len(set(a)) == 4
    assert isinstance(units[0].rng(), np.random.Generator)

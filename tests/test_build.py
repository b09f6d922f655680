"""The one-command build: the paper's mix, byte-identical reruns, resume after a crash, Ray = local, no stray writes,
rows that verl's own RLHFDataset turns into video tokens."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from videossr.datasets.build import BuildConfig, build
from videossr.tasks import get_task
from videossr.constants import VIDEO_PLACEHOLDER
from videossr.tasks import jigsaw
from support.frames import make_frame_store

REPO = Path(__file__).resolve().parents[1]
PARQUETS = ("train.parquet", "grounding.parquet", "jigsaw.parquet", "counting.parquet")


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def mix_digest(out: Path) -> dict[str, str]:
    """What must be byte-identical between builds: the parquet files and the new frames."""
    d = tree_digest(out)
    return {k: v for k, v in d.items() if k in PARQUETS or k == "val.parquet" or k.startswith("frames/")}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inputs") / "store"
    make_frame_store(root, num_videos=3, num_frames=48, width=64, height=48)
    return root


@pytest.fixture(scope="module")
def reference(store, tmp_path_factory):
    """A clean local build of 40 samples (what the other builds must reproduce)."""
    out = tmp_path_factory.mktemp("ref") / "out"
    summary = build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=40, seed=7), progress=False)
    return out, summary, mix_digest(out)


def test_mix_proportions_files_and_metadata(store, tmp_path):
    outside_before = tree_digest(store.parent)
    out = tmp_path / "out"
    summary = build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=40, val_fraction=0.25, seed=1),
                    progress=False)
    assert tree_digest(store.parent) == outside_before  # inputs and frame store untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing next to the output either
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*PARQUETS, "val.parquet", "metadata.json", "frames", "units"])

    c = summary.counts
    assert c["samples"] == 40 and c["failures"] == []
    assert c["per_task"] == {"grounding": 16, "jigsaw": 16, "counting": 8}
    assert c["per_variant"]["grounding"] == {"ChannelSwap": 4, "Mirror": 4, "Rotate180": 4, "ZoomOut": 4}
    assert c["per_variant"]["counting"] == {"easy": 8}  # the reference builds its counting samples easy only
    assert c["per_split"] == {"train": 30, "val": 10}

    train = datasets.load_dataset("parquet", data_files=str(out / "train.parquet"), split="train").to_list()
    val = pq.read_table(out / "val.parquet").to_pylist()
    per_task = {t: pq.read_table(out / f"{t}.parquet").to_pylist() for t in ("grounding", "jigsaw", "counting")}
    assert len(train) == 30 and len(val) == 10
    assert all(r["extra_info"]["split"] == "train" for r in train)
    assert all(r["extra_info"]["split"] == "val" for r in val)
    union = [r for rows in per_task.values() for r in rows]
    key = lambda r: r["extra_info"]["index"]  # noqa: E731
    assert sorted(train, key=key) == sorted(union, key=key)  # train = the per-task files, shuffled
    assert [key(r) for r in train] != sorted(key(r) for r in train)
    assert {key(r) for r in train}.isdisjoint(key(r) for r in val)
    assert sorted(key(r) for r in train + val) == list(range(40))
    for task, rows in per_task.items():
        assert {r["data_source"] for r in rows} == {get_task(task).data_source}
    for r in train + val:
        assert r["prompt"][1]["content"].count(VIDEO_PLACEHOLDER) == len(r["videos"])
        if r["extra_info"]["task"] == "jigsaw":
            params = json.loads(r["extra_info"]["params"])
            assert params["num_clips"] == 6 and len(r["videos"]) == 6
            assert jigsaw.answer_from_order(params["order"]) == r["reward_model"]["ground_truth"]

    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 1 and meta["num_videos"] == 3
    assert meta["arguments"]["num_samples"] == 40 and meta["arguments"]["val_fraction"] == 0.25
    assert meta["mix"]["grounding"]["planned"] == 16 and meta["mix"]["counting"]["share"] == 0.2
    assert meta["arguments"]["counting_hard_fraction"] == 0.0
    assert [v["label"] for v in meta["mix"]["counting"]["variants"]] == ["easy"]
    assert meta["counts"] == json.loads(json.dumps(c))
    assert meta["versions"]["pyarrow"] and meta["versions"]["numpy"]

    # a rerun without a held-out split removes val.parquet and re-marks those rows as train
    build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=40, seed=1), progress=False)
    assert not (out / "val.parquet").exists()
    assert pq.read_metadata(out / "train.parquet").num_rows == 40


def test_rebuild_is_byte_identical_and_other_seed_differs(store, reference, tmp_path):
    out, _, digest = reference
    assert any(k.startswith("frames/grounding/") for k in digest)
    units = sorted((out / "units").rglob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in units]
    build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=40, seed=7), progress=False)  # nothing to redo
    assert mix_digest(out) == digest
    assert [p.stat().st_mtime_ns for p in units] == stamps
    shutil.rmtree(out)
    build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=40, seed=7, workers=2), progress=False)
    assert mix_digest(out) == digest  # fresh, with 2 worker processes
    other = tmp_path / "other"
    build(BuildConfig(materialize=True, output_dir=other, frames_dir=store, num_samples=40, seed=8), progress=False)
    assert mix_digest(other)["train.parquet"] != digest["train.parquet"]


def test_resume_after_crash(store, reference, tmp_path, monkeypatch):
    ref_out, _, digest = reference
    out = ref_out  # same folder, so the absolute frame paths in the rows are the same
    shutil.rmtree(out)
    calls = {"n": 0}
    task = get_task("jigsaw")
    real = task.draw

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("simulated crash in a worker")
        return real(*args, **kwargs)

    monkeypatch.setattr(task, "draw", crashing)
    config = BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=40, seed=7, workers=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build(config, progress=False)
    committed = sorted((out / "units" / "jigsaw").glob("*.json"))
    assert [p.name for p in committed] == [f"jigsaw_{i:06d}.json" for i in range(3)]
    assert len(list((out / "units" / "grounding").glob("*.json"))) == 16  # grounding was planned first
    assert not (out / "train.parquet").exists()
    stamps = {p: p.stat().st_mtime_ns for p in committed}
    monkeypatch.undo()
    build(config, progress=False)
    assert mix_digest(out) == digest
    assert {p: p.stat().st_mtime_ns for p in committed} == stamps  # finished units were not redone


def test_fewer_samples_prunes_and_matches_a_fresh_build(store, tmp_path):
    out = tmp_path / "out"
    foreign = [out / "frames" / "myvideo" / "000.jpg", out / "frames" / "grounding" / "notes.txt",
               out / "units" / "jigsaw" / "grounding_000001.json", out / "notes.txt"]
    for p in foreign:  # files the build did not write: pruning must leave them alone
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("not ours")
    build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=20, seed=3), progress=False)
    build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=10, seed=3), progress=False)
    shrunk = {k: v for k, v in mix_digest(out).items() if out / k not in foreign}
    units = sorted((out / "units").rglob("*.json"))
    assert len(units) == 10 + 1  # the foreign file stays
    assert all(p.read_text() == "not ours" for p in foreign)
    shutil.rmtree(out)
    build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=10, seed=3), progress=False)
    assert mix_digest(out) == shrunk


@pytest.mark.ray
def test_ray_executor_matches_local(store, reference):
    import ray

    out, _, digest = reference
    shutil.rmtree(out)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=40, seed=7, executor="ray"), progress=False)
    finally:
        ray.shutdown()
    assert mix_digest(out) == digest


def test_build_cli_from_videos(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name, src in (("a.mp4", "testsrc2"), ("b.mkv", "mandelbrot")):
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"{src}=size=64x48:rate=25", "-t", "4",
             "-pix_fmt", "yuv420p", str(videos / name)],
            check=True,
        )
    before = tree_digest(videos)
    out = tmp_path / "out"
    cmd = [sys.executable, "pretext_tasks/build_dataset.py", "--video-dir", str(videos), "--output-dir", str(out),
           "--num-samples", "10", "--workers", "1", "--quiet"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "built 10 samples from 2 videos" in proc.stdout
    assert tree_digest(videos) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "videos"]
    manifest = (out / "frames_store" / "manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 2
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["counts"]["per_task"] == {"grounding": 4, "jigsaw": 4, "counting": 2}
    assert meta["frame_sampling"]["videos_sampled"] == 2
    rows = pq.read_table(out / "train.parquet").to_pylist()
    store = str((out / "frames_store").resolve())
    assert any(p.startswith(store) for r in rows for v in r["videos"] for p in v["video"])
    first = mix_digest(out)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)  # resumes: nothing to do
    assert proc.returncode == 0, proc.stderr
    assert mix_digest(out) == first


def test_config_validation(store, tmp_path):
    with pytest.raises(ValueError, match="either video_dirs or frames_dir"):
        BuildConfig(materialize=True, output_dir=tmp_path, video_dirs=(tmp_path,), frames_dir=store)
    with pytest.raises(ValueError, match="either video_dirs or frames_dir"):
        BuildConfig(materialize=True, output_dir=tmp_path)
    with pytest.raises(ValueError, match="executor"):
        BuildConfig(materialize=True, output_dir=tmp_path, frames_dir=store, executor="dask")
    with pytest.raises(ValueError, match="-1"):
        BuildConfig(materialize=True, output_dir=tmp_path, frames_dir=store, num_samples=-1)
    with pytest.raises(ValueError, match="1.0"):
        BuildConfig(materialize=True, output_dir=tmp_path, frames_dir=store, val_fraction=1.0)


def test_rows_through_verl_rlhf_dataset(tiny_qwen3vl, tmp_path):
    """verl's own RLHFDataset reads a mixed-task train file and the processor makes video tokens for every <video>."""
    from omegaconf import OmegaConf
    from verl.utils import hf_processor, hf_tokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer import build_multimodal_processor_inputs

    store = tmp_path / "store"
    make_frame_store(store, num_videos=2, num_frames=48, width=128, height=96)
    out = tmp_path / "out"
    build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=5, seed=0), progress=False)

    tokenizer = hf_tokenizer(str(tiny_qwen3vl))
    processor = hf_processor(str(tiny_qwen3vl))
    config = OmegaConf.create({
        "prompt_key": "prompt", "video_key": "videos", "image_patch_size": 16, "max_prompt_length": 8192,
        "filter_overlong_prompts": True, "filter_overlong_prompts_workers": None, "truncation": "error",
        "cache_dir": str(tmp_path / "cache"),
    })
    dataset = RLHFDataset(str(out / "train.parquet"), tokenizer, config, processor=processor)
    assert len(dataset) == 5  # the length filter processed every row and dropped none
    video_pad = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    tasks = Counter()
    for i in range(len(dataset)):
        item = dataset[i]
        tasks[item["extra_info"]["task"]] += 1
        messages = item["raw_prompt"]
        user_videos = [c for c in messages[1]["content"] if c["type"] == "video"]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        images, videos, _ = RLHFDataset._process_multi_modal_info(messages, dataset.image_patch_size, config)
        assert images is None and len(videos) == len(user_videos)
        expected_clips = 6 if item["extra_info"]["task"] == "jigsaw" else 1
        assert len(user_videos) == expected_clips
        inputs = build_multimodal_processor_inputs(processor, text=[text], videos=videos)
        grid = inputs["video_grid_thw"].tolist()
        assert len(grid) == expected_clips
        frames = 48 // expected_clips
        assert all(t == frames // 2 and h > 0 and w > 0 for t, h, w in grid)
        ids = inputs["input_ids"][0].tolist()
        assert ids.count(video_pad) == sum(t * h * w for t, h, w in grid) // 4 > 0
    assert tasks == {"grounding": 2, "jigsaw": 2, "counting": 1}


def test_counting_hard_fraction_is_an_explicit_option(store, tmp_path):
    out = tmp_path / "out"
    summary = build(BuildConfig(materialize=True, output_dir=out, frames_dir=store, num_samples=40, seed=1, counting_hard_fraction=0.25),
                    progress=False)
    assert summary.counts["per_variant"]["counting"] == {"easy": 6, "hard": 2}
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["arguments"]["counting_hard_fraction"] == 0.25
    assert {v["label"]: v["weight"] for v in meta["mix"]["counting"]["variants"]} == {"easy": 0.75, "hard": 0.25}
    hard = [json.loads(r["extra_info"]["params"]) for r in pq.read_table(out / "counting.parquet").to_pylist()]
    assert sorted(p["max_instances"] for p in hard) == [3] * 6 + [4] * 2
    with pytest.raises(ValueError, match="counting_hard_fraction must be in"):
        BuildConfig(materialize=True, output_dir=out, frames_dir=store, counting_hard_fraction=1.5)


def test_difficulty_file_sets_the_variants(store, tmp_path):
    from videossr.datasets.build import DIFFICULTY_FORMAT, read_difficulty

    calib = tmp_path / "calib.json"
    calib.write_text(json.dumps({
        "format": DIFFICULTY_FORMAT,
        "tasks": {"counting": {"variants": [{"label": "F2K2", "params": {"max_frames_per_class": 2,
                                                                           "max_instances": 2}}]},
                  "jigsaw": {"variants": [{"label": "4clips", "params": {"num_clips": 4}}]}},
        "source": {"model": "tiny", "target": 0.5},
    }))
    out = tmp_path / "out"
    summary = build(BuildConfig(materialize=False, output_dir=out, frames_dir=store, num_samples=20, seed=1,
                                difficulty=read_difficulty(calib)), progress=False)
    assert summary.counts["per_variant"]["counting"] == {"F2K2": 4}
    assert summary.counts["per_variant"]["jigsaw"] == {"4clips": 8}
    rows = pq.read_table(out / "train.parquet").to_pylist()
    for r in rows:
        p = json.loads(r["extra_info"]["params"])
        if r["extra_info"]["task"] == "counting":
            assert (p["max_frames_per_class"], p["max_instances"]) == (2, 2)
        if r["extra_info"]["task"] == "jigsaw":
            assert p["num_clips"] == 4 and len(r["videos"]) == 4
    meta = json.loads((out / "metadata.json").read_text())
    assert [v["label"] for v in meta["mix"]["counting"]["variants"]] == ["F2K2"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": DIFFICULTY_FORMAT, "tasks": {"jigsaw": {"variants": [
        {"label": "x", "params": {"num_clips": 12}}]}}}))
    with pytest.raises(ValueError, match="num_clips must be in"):
        read_difficulty(bad)

"""Faults and bad input on the data-building side: checked before work, named, and never absorbed.

One test per property (issue "Faults and bad input"): outputs never share a tree with their inputs; a run that makes
no rows says why and exits non-zero; an absurd sample count fails fast; an output path that is a folder is refused
before any work; counting refuses frames too small for recognisable shapes; a frame store moved after a build makes
a resumed build rewrite its rows with the new paths.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from videossr.datasets.build import BuildConfig, build, write_task_dataset
from videossr.sampling.store import TaskContext
from videossr.datasets.planning import Variant
from videossr.tasks import get_task
from support.frames import make_frame_store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "store"
    make_frame_store(root, num_videos=2, num_frames=48, width=64, height=48, duration=12.0)
    return root


def _cli(script: str, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, f"pretext_tasks/{script}", *map(str, args), "--quiet"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_outputs_never_share_a_tree_with_inputs(store, tmp_path):
    before = sorted(p.name for p in store.iterdir())
    for out in (store, store / "inside", tmp_path):
        with pytest.raises(ValueError, match=r"(is|is inside) the frame store|frame store .* is inside the output"):
            build(BuildConfig(output_dir=out, frames_dir=store, num_samples=3), progress=False)
    videos = tmp_path / "videos"
    videos.mkdir()
    with pytest.raises(ValueError, match="video folder 1"):
        build(BuildConfig(output_dir=videos / "out", video_dirs=(videos,), num_samples=3), progress=False)
    assert sorted(p.name for p in store.iterdir()) == before  # nothing written into the store
    assert list(videos.iterdir()) == []
    # the per-task CLIs and VIUBench refuse the same, before any work
    p = _cli("jigsaw.py", "--frames-dir", store, "--output", store / "x.parquet")
    assert p.returncode == 2 and "must not be inside the frame store" in p.stderr
    p = _cli("build_viubench.py", "--frames-dir", store, "--output-dir", store / "bench")
    assert p.returncode == 2 and "is inside the frame store" in p.stderr
    assert sorted(p.name for p in store.iterdir()) == before


def test_a_run_that_makes_no_rows_says_why_and_exits_non_zero(store, tmp_path):
    p = _cli("jigsaw.py", "--frames-dir", store, "--output", tmp_path / "j.parquet", "--num-clips", "5")
    assert p.returncode == 1 and "no rows were made: ValueError: 48 frames cannot be split into 5" in p.stdout
    p = _cli("grounding.py", "--frames-dir", store, "--output", tmp_path / "g.parquet", "--max-len", "100",
             "--min-len", "90")
    assert p.returncode == 1 and "no rows were made" in p.stdout and "max_len=100" in p.stdout


def test_an_absurd_sample_count_fails_fast(store, tmp_path):
    p = _cli("build_dataset.py", "--frames-dir", store, "--output-dir", tmp_path / "out", "--num-samples",
             "100000000")
    assert p.returncode == 2 and "from 2 videos would draw each video" in p.stderr
    assert not (tmp_path / "out" / "units").exists()


def test_an_output_path_that_is_a_folder_is_refused_before_work(store, tmp_path):
    (tmp_path / "x.parquet").mkdir()
    p = _cli("counting.py", "--frames-dir", store, "--output", tmp_path / "x.parquet")
    assert p.returncode == 2 and "is a folder" in p.stderr
    (tmp_path / "file").write_text("mine")
    p = _cli("build_dataset.py", "--frames-dir", store, "--output-dir", tmp_path / "file", "--num-samples", "3")
    assert p.returncode == 2 and "exists and is not a folder" in p.stderr
    assert (tmp_path / "file").read_text() == "mine"


def test_counting_refuses_frames_too_small_for_recognisable_shapes(tmp_path):
    records = make_frame_store(tmp_path / "tiny", num_videos=1, num_frames=48, width=16, height=16)
    task = get_task("counting")
    with pytest.raises(ValueError, match=r"16x16 are too small for recognisable shapes .* at least 40 px"):
        task.make_sample(records[0], np.random.default_rng(0), task.preset("easy"), TaskContext(tmp_path / "tiny"))
    records = make_frame_store(tmp_path / "ok", num_videos=1, num_frames=48, width=48, height=40)
    s = task.make_sample(records[0], np.random.default_rng(0), task.preset("easy"), TaskContext(tmp_path / "ok"))
    assert min(shape["size"] for f in s.params["frames"] for shape in f["shapes"]) >= 8


def test_a_moved_store_makes_a_resumed_build_rewrite_its_rows(store, tmp_path):
    out = tmp_path / "out"
    build(BuildConfig(output_dir=out, frames_dir=store, num_samples=6, seed=1, materialize=True), progress=False)
    moved = tmp_path / "moved_store"
    shutil.move(str(store), str(moved))
    build(BuildConfig(output_dir=out, frames_dir=moved, num_samples=6, seed=1, materialize=True), progress=False)
    rows = pq.read_table(out / "train.parquet").to_pylist()
    paths = [f for r in rows for v in r["videos"] for f in v["video"]]
    assert paths and all(not f.startswith(str(store) + "/") for f in paths)
    assert all(Path(f).is_file() for f in paths)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["frame_store"] == str(moved.resolve())
    # recipe rows too: their recipe names the new store
    out2 = tmp_path / "out2"
    build(BuildConfig(output_dir=out2, frames_dir=moved, num_samples=6, seed=1), progress=False)
    shutil.move(str(moved), str(store))
    build(BuildConfig(output_dir=out2, frames_dir=store, num_samples=6, seed=1), progress=False)
    for r in pq.read_table(out2 / "train.parquet").to_pylist():
        assert json.loads(r["extra_info"]["recipe"])["frames_root"] == str(store.resolve())


# --- one writer per output folder, and no orphans ---------------------------------------------------------------

import hashlib  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

from videossr.procs import output_lock  # noqa: E402


def test_a_second_writer_stops_at_once_naming_the_first(store, tmp_path):
    out = tmp_path / "out"
    with output_lock(out, what="dataset build"):  # this test process holds the folder
        start = time.monotonic()
        p = _cli("build_dataset.py", "--frames-dir", store, "--output-dir", out, "--num-samples", "3")
        assert p.returncode == 2 and "dataset build" in p.stderr
        import os

        assert f"pid {os.getpid()}" in p.stderr
        assert time.monotonic() - start < 60
        assert not (out / "units").exists()
    # and the same for an evaluation into a held folder
    data = tmp_path / "vtg.json"
    data.write_text(json.dumps([{"video": "bigbuckbunny", "question": "x", "answer": "1.0-2.0"}]))
    ev = tmp_path / "eval"
    with output_lock(ev, what="vtg evaluation"):
        p = subprocess.run([sys.executable, "eval/vtg.py", "--model", "unused", "--data", str(data), "--video-dir",
                            str(REPO / "data" / "demo"), "--output-dir", str(ev), "--backend", "hf", "--quiet"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
        assert p.returncode == 2 and "vtg evaluation" in p.stderr
        assert not (ev / "results.jsonl").exists()


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _mix_digest(out: Path) -> str:
    """Rows (with the output folder's own path written as OUT) and new frames: what two builds must share."""
    h = hashlib.sha256()
    for p in sorted(out.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".parquet":
            h.update(json.dumps(pq.read_table(p).to_pylist(), sort_keys=True).replace(str(out.resolve()), "OUT")
                     .encode())
        elif "frames" in p.relative_to(out).parts:
            h.update(str(p.relative_to(out)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the workers")
def test_sigkill_of_a_multi_worker_build_then_immediate_rerun(store, tmp_path):
    args = ["--frames-dir", store, "--num-samples", "60", "--seed", "3", "--materialize"]
    reference = tmp_path / "reference"
    assert _cli("build_dataset.py", *args, "--output-dir", reference, "--workers", "1").returncode == 0

    out = tmp_path / "out"
    cmd = [sys.executable, "pretext_tasks/build_dataset.py", *map(str, args), "--output-dir", str(out), "--workers",
           "2", "--quiet"]
    run = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("units/*/*.json")) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        workers = _children(run.pid)
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    finally:
        run.kill()
        run.wait()
    assert workers, "the build had started no worker processes"
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in workers), "workers outlived the killed build"
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert _mix_digest(out) == _mix_digest(reference)


def test_a_rebuild_from_the_builds_own_store_is_allowed(tmp_path):
    out = tmp_path / "out"
    make_frame_store(out / "frames_store", num_videos=2, num_frames=48, width=64, height=48, duration=12.0)
    summary = build(BuildConfig(output_dir=out, frames_dir=out / "frames_store", num_samples=6), progress=False)
    assert summary.counts["samples"] == 6
    with pytest.raises(ValueError, match="is inside the output folder"):
        build(BuildConfig(output_dir=out, frames_dir=out / "elsewhere_store", num_samples=6), progress=False)


@pytest.mark.parametrize("script", ["grounding.py", "counting.py", "jigsaw.py"])
def test_per_task_scripts_check_their_store_as_the_build_does(store, tmp_path, script):
    """A frame store with one frame deleted: the build and every per-task script refuse it before any work, with
    the same message and exit status; nothing is written."""
    victim = sorted(store.rglob("*.jpg"))[5]
    victim.unlink()
    built = _cli("build_dataset.py", "--frames-dir", store, "--output-dir", tmp_path / "b", "--num-samples", "3")
    p = _cli(script, "--frames-dir", store, "--output", tmp_path / "out" / "x.parquet")
    assert built.returncode == p.returncode == 2
    why = f"frame store {store.resolve()} is damaged: 1 problem(s): {victim.resolve()}: missing"
    assert why in built.stderr and why in p.stderr, (built.stderr, p.stderr)
    assert built.stderr.rsplit(": error: ", 1)[1] == p.stderr.rsplit(": error: ", 1)[1]
    assert not (tmp_path / "out" / "x.parquet").exists()

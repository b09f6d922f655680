"""videossr.sampling.sampler: finding videos, the clock, the frame store (manifest, failures), resume, determinism, Ctrl-C;
the output folder rules, the writer lock and SIGKILL with real sampler processes; derived stores and ensure_store."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videossr.sampling import sampler as frames_mod
from videossr.sampling.sampler import (
    RECORD_NAME,
    derive_store,
    ensure_store,
    find_videos,
    sample_fps_for,
    sample_times,
    sample_videos,
    video_id_for,
)
from videossr.io import TMP_PREFIX, read_jsonl
from videossr.sampling.store import read_failures, read_manifest, read_sampling, verify_store
from videossr.procs import LOCK_NAME, output_lock
from support.frames import make_frame_store
from support.media import make_audio_only, make_clip, truncate_file, write_garbage

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"
N = 12


@pytest.fixture(scope="module")
def clip_cache(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("made")
    good = make_clip(d / "good.mp4", seconds=3, fps=25, size=(160, 120), gop=25)
    return {
        "good": good,
        "mkv": make_clip(d / "other.mkv", seconds=2, fps=20, size=(128, 96), pattern="mandelbrot"),
        "ten": make_clip(d / "ten.mp4", seconds=0.4, fps=25, size=(160, 120)),  # 10 frames
        "audio": make_audio_only(d / "audio.mp4"),
        "truncated": truncate_file(make_clip(d / "fast.mp4", seconds=2, fps=25, size=(160, 120),
                                             extra_args=["-movflags", "+faststart"]), d / "trunc.mp4", 0.5),
        "garbage": write_garbage(d / "garbage.mp4"),
    }


@pytest.fixture
def videos(tmp_path, clip_cache) -> Path:
    """A folder of good and bad videos, with a sub-folder and odd extensions."""
    root = tmp_path / "videos"
    (root / "sub dir").mkdir(parents=True)
    shutil.copy(clip_cache["good"], root / "good.mp4")
    shutil.copy(clip_cache["mkv"], root / "sub dir" / "other clip.MKV")
    shutil.copy(clip_cache["ten"], root / "ten.mp4")
    shutil.copy(clip_cache["audio"], root / "audio.mp4")
    shutil.copy(clip_cache["truncated"], root / "trunc.mp4")
    shutil.copy(clip_cache["garbage"], root / "garbage.mp4")
    (root / "empty.webm").write_bytes(b"")
    (root / "notes.txt").write_text("not a video")
    (root / ".hidden.mp4").write_bytes(b"")
    return root


EXPECTED_FAILURES = {
    "ten": "too_short",
    "audio": "no_video_stream",
    "trunc": "truncated",
    "garbage": "garbage",
    "empty": "empty",
}


def by_stem(records_or_failures) -> dict:
    out = {}
    for r in records_or_failures:
        vid = r.video_id if hasattr(r, "video_id") else r["video_id"]
        out[vid.rsplit("-", 1)[0]] = r
    return out


# ----------------------------------------------------------------------------------------------------------------------


def test_find_videos(videos, tmp_path):
    found = find_videos([videos])
    assert [s.relpath for s in found] == sorted(
        ["audio.mp4", "empty.webm", "garbage.mp4", "good.mp4", "sub dir/other clip.MKV", "ten.mp4", "trunc.mp4"],
        key=lambda r: video_id_for("videos", r),
    )
    ids = [s.video_id for s in found]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", i) for i in ids)
    other = next(s for s in found if s.relpath.endswith("MKV"))
    digest = hashlib.sha1(b"videos/sub dir/other clip.MKV").hexdigest()[:10]
    assert other.video_id == f"sub_dir_other_clip-{digest}"
    # the same folder twice, or nested in another input folder: each file once
    assert [s.video_id for s in find_videos([videos, videos, videos / "sub dir"])] == ids
    # two input folders with the same relative paths (and the same folder name) get different ids
    copy = tmp_path / "elsewhere" / "videos"
    shutil.copytree(videos, copy)
    both = find_videos([videos, copy])
    assert len(both) == 2 * len(found) and len({s.video_id for s in both}) == len(both)
    with pytest.raises(FileNotFoundError, match="missing"):
        find_videos([tmp_path / "missing"])
    # a symlink loop is searched once
    (videos / "sub dir" / "loop").symlink_to(videos, target_is_directory=True)
    assert [s.video_id for s in find_videos([videos])] == ids


def test_video_id_rule():
    assert video_id_for("demo", "a/b.mp4") != video_id_for("demo", "a_b.mp4")
    assert video_id_for("demo", "x.mp4") != video_id_for("demo", "x.mkv")
    assert video_id_for("demo", "x.mp4") != video_id_for("other", "x.mp4")
    assert video_id_for("demo", "x.mp4") == "x-" + hashlib.sha1(b"demo/x.mp4").hexdigest()[:10]
    assert video_id_for("demo", "../é ü/...mp4").count("/") == 0


def test_clock():
    assert sample_times(10.0, 4) == pytest.approx([0.5 + 1.125, 0.5 + 3.375, 0.5 + 5.625, 0.5 + 7.875])
    assert sample_fps_for(10.0, 48) == pytest.approx(48 / 9.0)
    with pytest.raises(ValueError, match="duration"):
        sample_times(0.0, 4)


def test_sample_store_contents(videos, tmp_path):
    out = tmp_path / "store"
    summary = sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    assert (summary.found, summary.sampled, summary.failed, summary.manifest_videos) == (7, 2, 5, 2)
    assert summary.frames_written == 2 * N and summary.bytes_written > 0
    assert summary.failure_kinds == {"empty": 1, "garbage": 1, "no_video_stream": 1, "too_short": 1, "truncated": 1}

    records = read_manifest(out)
    lines = read_jsonl(out / "manifest.jsonl")
    assert [r["video_id"] for r in lines] == sorted(r["video_id"] for r in lines)
    good = by_stem(records)["good"]
    assert good.source == str(videos / "good.mp4")
    assert good.num_frames == N and good.decoder == "pyav"
    assert good.duration == pytest.approx(3.0)
    assert good.sample_fps == pytest.approx(N / 2.7)
    assert (good.source_width, good.source_height, good.width, good.height) == (160, 120, 80, 60)
    targets = sample_times(3.0, N)
    assert all(0.15 - 0.04 <= t <= 2.85 for t in good.timestamps)
    assert all(b > a for a, b in zip(good.timestamps, good.timestamps[1:]))
    assert all(t - 0.04 - 1e-6 <= s <= t + 1e-6 for s, t in zip(good.timestamps, targets))
    assert list(good.frames) == [f"{good.video_id}/{i:03d}.jpg" for i in range(N)]
    for p in good.frame_paths(out):
        with Image.open(p) as im:
            assert im.format == "JPEG" and im.size == (80, 60)
    line = next(r for r in lines if r["video_id"] == good.video_id)
    assert json.loads((out / good.video_id / RECORD_NAME).read_text()) == line

    other = by_stem(records)["sub_dir_other_clip"]
    assert other.num_frames == N and other.duration == pytest.approx(2.0)
    assert (other.width, other.height) == (80, 60)

    failures = by_stem(read_failures(out))
    assert {k: f["kind"] for k, f in failures.items()} == EXPECTED_FAILURES
    assert failures["ten"]["source"] == str(videos / "ten.mp4") and "frames" in failures["ten"]["message"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(r.video_id for r in records)


def test_resume_and_retry(videos, tmp_path, clip_cache):
    out = tmp_path / "store"
    sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    records = read_manifest(out)
    mtimes = {r.video_id: (out / r.video_id / RECORD_NAME).stat().st_mtime_ns for r in records}
    manifest = (out / "manifest.jsonl").read_bytes()
    failures = (out / "failures.jsonl").read_bytes()

    again = sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    assert (again.sampled, again.already_done, again.skipped_failed, again.failed) == (0, 2, 5, 0)
    assert {r.video_id: (out / r.video_id / RECORD_NAME).stat().st_mtime_ns for r in records} == mtimes
    assert (out / "manifest.jsonl").read_bytes() == manifest
    assert (out / "failures.jsonl").read_bytes() == failures

    # the garbage file is replaced by a real video: only a retry picks it up
    shutil.copy(clip_cache["good"], videos / "garbage.mp4")
    retried = sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False,
                            retry_failed=True)
    assert (retried.sampled, retried.already_done, retried.failed) == (1, 2, 4)
    assert "garbage" in by_stem(read_manifest(out))
    assert "garbage" not in by_stem(read_failures(out)) and len(read_failures(out)) == 4

    with pytest.raises(ValueError, match="num_frames"):
        sample_videos([videos], out, num_frames=N + 1, max_pixels=80 * 60, workers=1, progress=False)


@pytest.mark.parametrize("workers", [2, 3])
def test_determinism_across_runs_and_worker_counts(videos, tmp_path, workers):
    """The same bytes whether the videos are sampled in this process or in worker processes."""
    a, b = tmp_path / "a", tmp_path / "b"
    sample_videos([videos], a, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    sample_videos([videos], b, num_frames=N, max_pixels=80 * 60, workers=workers, progress=False)
    for name in ("manifest.jsonl", "failures.jsonl", "sampling.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert len([f for f in files_a if f.suffix == ".jpg"]) == 2 * N
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_interrupt_leaves_no_half_written_folder(videos, tmp_path, monkeypatch):
    out = tmp_path / "store"
    real_encode = frames_mod.encode_jpeg
    calls = {"n": 0}

    def encode_then_interrupt(frame, quality):
        calls["n"] += 1
        if calls["n"] == N + 5:  # the first video is done, the second is half-way through its frames
            raise KeyboardInterrupt
        return real_encode(frame, quality)

    monkeypatch.setattr(frames_mod, "encode_jpeg", encode_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    dirs = [p for p in out.iterdir() if p.is_dir()]
    assert len(dirs) == 1 and not [p for p in out.iterdir() if p.name.startswith(".")]
    assert len(list(dirs[0].glob("*.jpg"))) == N and (dirs[0] / RECORD_NAME).is_file()
    assert [r.video_id for r in read_manifest(out)] == [dirs[0].name]  # the index was rebuilt on the way out

    monkeypatch.setattr(frames_mod, "encode_jpeg", real_encode)
    resumed = sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    assert resumed.already_done == 1 and resumed.sampled == 1
    assert len(read_manifest(out)) == 2


def test_interrupt_with_worker_processes_stops_them_at_once(videos, tmp_path, monkeypatch):
    """Ctrl-C while worker processes sample: they are killed at once (no process left, no temporary left), what
    finished before is indexed, and a rerun does the rest."""
    import multiprocessing

    out = tmp_path / "store"
    real_publish = frames_mod._publish

    def publish_then_interrupt(root, result):
        real_publish(root, result)
        raise KeyboardInterrupt

    monkeypatch.setattr(frames_mod, "_publish", publish_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=2, progress=False)
    assert not multiprocessing.active_children()
    dirs = [p for p in out.iterdir() if p.is_dir()]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert len(dirs) == 1 and len(list(dirs[0].glob("*.jpg"))) == N and (dirs[0] / RECORD_NAME).is_file()
    assert [r.video_id for r in read_manifest(out)] == [dirs[0].name]

    monkeypatch.setattr(frames_mod, "_publish", real_publish)
    resumed = sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=2, progress=False)
    assert resumed.already_done == 1 and resumed.sampled == 1 and len(read_manifest(out)) == 2


def test_a_named_pipe_among_the_videos_never_blocks(videos, tmp_path):
    """A named pipe named like a video, with two workers: reported as not a regular file; the run ends."""
    os.mkfifo(videos / "pipe.mp4")
    out = tmp_path / "store"
    proc = subprocess.run(cli(videos, out, "--workers", "2"), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    pipe = by_stem(read_failures(out))["pipe"]
    assert pipe["kind"] == "not_found" and pipe["message"] == "not a regular file"
    assert len(read_manifest(out)) == 3


def test_demo_clips_48_frames(tmp_path):
    summary = sample_videos([DEMO], tmp_path / "store", max_pixels=256 * 256, workers=2, progress=False)
    assert (summary.sampled, summary.failed) == (2, 0)
    records = by_stem(read_manifest(tmp_path / "store"))
    bbb, city = records["bigbuckbunny"], records["cityCC0"]
    for r, duration, size in ((bbb, 5.28, (1280, 720)), (city, 7.6, (720, 405))):
        assert r.num_frames == 48 and r.decoder == "pyav"
        assert r.duration == pytest.approx(duration)
        assert r.sample_fps == pytest.approx(48 / (0.9 * duration))
        assert (r.source_width, r.source_height) == size
        assert r.width * r.height <= 256 * 256 and abs(r.width / r.height - size[0] / size[1]) < 0.02
        targets = sample_times(duration, 48)
        assert all(t - 0.04 - 1e-6 <= s <= t + 1e-6 for s, t in zip(r.timestamps, targets))
        assert len(set(r.timestamps)) == 48


def test_cli(videos, tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, str(REPO / "pretext_tasks" / "sample_frames.py"), "--video-dir", str(videos),
         "--output-dir", str(out), "--num-frames", "8", "--max-pixels", "4800", "--workers", "1", "--quiet",
         "--log-level", "WARNING"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 1, proc.stderr  # some videos failed (reported in failures.jsonl)
    # with 8 frames, the 10-frame clip is long enough: its 5%..95% span holds 9 frames
    assert "7 videos found: 3 sampled" in proc.stdout and "4 failed" in proc.stdout
    ten = by_stem(read_manifest(out))["ten"]
    assert ten.num_frames == 8 and len(set(ten.timestamps)) == 8
    assert [round(t * 25) for t in ten.timestamps] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert len(read_failures(out)) == 4


# ----------------------------------------------------------------------------------------------------------------------
# Safety: the output folder, the user's files, one writer, no orphans


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_output_folder_may_not_be_or_hold_or_sit_in_an_input(videos, tmp_path):
    before = tree(videos)
    with pytest.raises(ValueError, match="is the input folder"):
        sample_videos([videos], videos, num_frames=N, workers=1, progress=False)
    with pytest.raises(ValueError, match="inside the input folder"):
        sample_videos([videos], videos / "frames", num_frames=N, workers=1, progress=False)
    with pytest.raises(ValueError, match="inside the output folder"):
        sample_videos([videos], videos.parent, num_frames=N, workers=1, progress=False)
    (tmp_path / "link").symlink_to(videos, target_is_directory=True)
    with pytest.raises(ValueError, match="is the input folder"):
        sample_videos([videos], tmp_path / "link", num_frames=N, workers=1, progress=False)
    assert tree(videos) == before and not (videos / "frames").exists()


def test_user_files_in_the_output_folder_are_never_touched(videos, tmp_path):
    out = tmp_path / "store"
    out.mkdir()
    # the user's files, named like the temporaries older versions removed as "left by an interrupted run"
    user = {".holiday.mp4.x8k2m1.tmp": b"precious", ".notes.tmp": b"notes", "README.txt": b"mine"}
    for name, data in user.items():
        (out / name).write_bytes(data)
    (out / ".drafts.tmp").mkdir()
    (out / ".drafts.tmp" / "draft.txt").write_text("draft")
    # and what a killed run of the sampler really leaves
    stale = out / f"{TMP_PREFIX}good-0123456789-ab12cd.tmp"
    stale.mkdir()
    (stale / "000.jpg").write_bytes(b"half a frame")

    sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    for name, data in user.items():
        assert (out / name).read_bytes() == data, name
    assert (out / ".drafts.tmp" / "draft.txt").read_text() == "draft"
    assert not stale.exists()
    assert json.loads((out / "sampling.json").read_text())["max_pixels"] == 80 * 60
    assert len(read_manifest(out)) == 2
    assert not [p for p in out.iterdir() if p.name.startswith(".videossr")]  # no lock or temporary left


@pytest.fixture(scope="module")
def slow_videos(tmp_path_factory) -> Path:
    """Six clips that take a worker a noticeable time each (for the tests with real processes)."""
    d = tmp_path_factory.mktemp("slow")
    for i in range(6):
        make_clip(d / f"clip{i}.mp4", seconds=6, fps=25, size=(640, 360),
                  video_filter=f"noise=alls=6:allf=t+u:all_seed={i + 1}")
    return d


def cli(video_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "pretext_tasks" / "sample_frames.py"), "--video-dir", str(video_dir),
            "--output-dir", str(out), "--num-frames", "8", "--max-pixels", "4800", "--quiet",
            "--log-level", "WARNING", *extra]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def holder_pid(out: Path) -> int | None:
    try:
        return json.loads((out / LOCK_NAME).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def test_second_sampler_on_the_same_folder_stops_at_once(slow_videos, tmp_path):
    out = tmp_path / "store"
    first = subprocess.Popen(cli(slow_videos, out, "--workers", "1"), cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: holder_pid(out) == first.pid or first.poll() is not None, 60, "the first sampler's lock")
        first.send_signal(signal.SIGSTOP)  # frozen while it holds the folder, however fast this machine is
        start = time.monotonic()
        second = subprocess.run(cli(slow_videos, out, "--workers", "1"), cwd=REPO, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2, second.stderr
        assert f"pid {first.pid}" in second.stderr and "frame sampler" in second.stderr
        assert "sample_frames.py" in second.stderr  # the holder's command
        assert time.monotonic() - start < 30
    finally:
        first.send_signal(signal.SIGCONT)
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert "6 sampled" in stdout
    verify_store(out)
    assert not (out / LOCK_NAME).exists()


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the workers")
def test_sigkill_of_a_multi_worker_run_then_immediate_rerun(slow_videos, tmp_path):
    reference = tmp_path / "reference"
    assert subprocess.run(cli(slow_videos, reference, "--workers", "1"), cwd=REPO, capture_output=True,
                          timeout=300).returncode == 0

    out = tmp_path / "store"
    run = subprocess.Popen(cli(slow_videos, out, "--workers", "3"), cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    try:
        wait_for(lambda: any((d / RECORD_NAME).exists() for d in out.glob("clip*")) or run.poll() is not None,
                 120, "the first finished video")
        run.send_signal(signal.SIGSTOP)  # no new video is handed out from here on
        workers = children(run.pid)
        done_at_kill = len(list(out.glob("clip*")))
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    finally:
        run.kill()
        run.wait()
    assert workers and done_at_kill < 6
    wait_for(lambda: not any(alive(p) for p in workers), 5, "the workers to die with the sampler")

    again = subprocess.run(cli(slow_videos, out, "--workers", "3"), cwd=REPO, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert tree(out) == tree(reference)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the workers")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_within_seconds_then_resume(slow_videos, tmp_path, sig):
    """SIGTERM (as from a scheduler) or SIGINT to the sampler while its workers decode: a message, exit 130 within a
    few seconds, no worker left, no temporary left, what finished indexed; the rerun completes the same store."""
    out = tmp_path / "store"
    run = subprocess.Popen(cli(slow_videos, out, "--workers", "2"), cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any((d / RECORD_NAME).exists() for d in out.glob("clip*")) or run.poll() is not None,
                 120, "the first finished video")
        workers = children(run.pid)
        run.send_signal(sig)
        start = time.monotonic()
        _, stderr = run.communicate(timeout=30)
        took = time.monotonic() - start
    finally:
        run.kill()
        run.wait()
    assert run.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert took < 5, took
    # the workers are killed before the exit; the spawn context's resource tracker leaves when its pipe closes
    assert workers
    wait_for(lambda: not any(alive(p) for p in workers), 5, "the workers to be gone")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    done = sorted(d.name for d in out.iterdir() if d.is_dir())
    assert 0 < len(done) < 6 and [r.video_id for r in read_manifest(out)] == done

    again = subprocess.run(cli(slow_videos, out, "--workers", "2"), cwd=REPO, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(done)} done before" in again.stdout and len(read_manifest(out)) == 6


@pytest.mark.ray
def test_ray_gives_the_bytes_of_a_local_run(videos, tmp_path):
    """Videos sampled as Ray tasks (a local instance of 2 CPUs): the store a local run writes, byte for byte; the
    shared-filesystem check passes and leaves no marker behind."""
    import ray

    local, distributed = tmp_path / "local", tmp_path / "ray"
    sample_videos([videos], local, num_frames=N, max_pixels=80 * 60, workers=2, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = sample_videos([videos], distributed, num_frames=N, max_pixels=80 * 60, workers=2,
                                progress=False, executor="ray")
    finally:
        ray.shutdown()
    assert (summary.sampled, summary.failed) == (2, 5)
    assert tree(distributed) == tree(local) and len(tree(local)) > 2 * N


def test_the_shared_filesystem_probe_names_what_a_node_does_not_see(tmp_path):
    """What a task runs on each Ray node: a marker with another content, a missing file or a file of another size
    is not seen as the driver sees it."""
    from videossr.procs import _sees

    (tmp_path / "marker").write_text("token")
    (tmp_path / "video.mp4").write_bytes(b"12345")
    checks = [(str(tmp_path / "marker"), "token"), (str(tmp_path / "video.mp4"), 5)]
    assert _sees(checks)[1] == []
    wrong = [(str(tmp_path / "marker"), "other"), (str(tmp_path / "gone"), "token"), (str(tmp_path / "video.mp4"), 6)]
    assert _sees(checks + wrong)[1] == [p for p, _ in wrong]


# ----------------------------------------------------------------------------------------------------------------------
# Stores at other sizes


@pytest.fixture(scope="module")
def store_videos(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("store_videos")
    make_clip(d / "wide.mp4", seconds=2, fps=25, size=(160, 120), gop=12)
    make_clip(d / "other.mkv", seconds=2, fps=20, size=(128, 96), pattern="mandelbrot")
    make_clip(d / "small.mp4", seconds=2, fps=25, size=(64, 48))  # fits every size below: copied as it is
    make_clip(d / "tall.webm", seconds=2, fps=25, size=(90, 160), codec="libvpx-vp9")
    make_audio_only(d / "audio.mp4")
    return d


BIG, SMALL = 120 * 90, 80 * 60


@pytest.fixture(scope="module")
def big_store(store_videos, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("big") / "store"
    sample_videos([store_videos], root, num_frames=N, max_pixels=BIG, workers=1, progress=False)
    return root


def test_derive_store_matches_direct_sampling_except_the_resampling(big_store, store_videos, tmp_path):
    source_before = tree(big_store)
    derived = tmp_path / "derived"
    summary = derive_store(big_store, derived, max_pixels=SMALL, workers=1, progress=False)
    assert (summary.videos, summary.derived, summary.manifest_videos) == (4, 4, 4)
    assert tree(big_store) == source_before  # the source is only read
    verify_store(derived, decode=True)

    direct = tmp_path / "direct"
    sample_videos([store_videos], direct, num_frames=N, max_pixels=SMALL, workers=1, progress=False)
    got, want = read_manifest(derived), read_manifest(direct)
    assert got == want  # ids, sources, timestamps, sample_fps, durations, frame sizes: all the same
    assert (derived / "failures.jsonl").read_bytes() == (direct / "failures.jsonl").read_bytes()
    sampling = json.loads((derived / "sampling.json").read_text())
    assert sampling["max_pixels"] == SMALL and sampling["derived_from"] == {"max_pixels": BIG, "jpeg_quality": 90}
    assert sampling["num_frames"] == N
    for r in got:
        for rel in r.frames:
            a = np.asarray(Image.open(derived / rel), dtype=float)
            b = np.asarray(Image.open(direct / rel), dtype=float)
            if r.source.endswith("small.mp4"):
                assert (derived / rel).read_bytes() == (direct / rel).read_bytes()  # nothing to shrink: copied
            else:
                assert np.abs(a - b).mean() < 6, (rel, np.abs(a - b).mean())


def test_derive_store_is_deterministic_resumable_and_refuses_what_it_cannot_do(big_store, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    derive_store(big_store, one, max_pixels=SMALL, workers=1, progress=False)
    derive_store(big_store, two, max_pixels=SMALL, workers=2, progress=False)
    assert tree(one) == tree(two)

    # resume: a video folder lost, the index gone, a temporary left by a killed run
    victim = read_manifest(two)[1].video_id
    shutil.rmtree(two / victim)
    (two / "manifest.jsonl").unlink()
    (two / f"{TMP_PREFIX}{victim}-zz9.tmp").mkdir()
    again = derive_store(big_store, two, max_pixels=SMALL, workers=1, progress=False)
    assert (again.derived, again.already_done) == (1, 3)
    assert tree(one) == tree(two)

    with pytest.raises(ValueError, match=f"built at max_pixels {BIG}; a derived store must be smaller, got "
                                         f"max_pixels {BIG * 2}"):
        derive_store(big_store, tmp_path / "x", max_pixels=BIG * 2, progress=False)
    with pytest.raises(ValueError, match="holds frames made with"):  # another size into an existing store
        derive_store(big_store, one, max_pixels=SMALL - 100, progress=False)
    with pytest.raises(ValueError, match="is the input folder"):
        derive_store(big_store, big_store, max_pixels=SMALL, progress=False)
    with pytest.raises(ValueError, match="holds frames made with"):  # no sampling into a derived store
        sample_videos([Path(read_manifest(one)[0].source).parent], one, num_frames=N, max_pixels=SMALL, workers=1,
                      progress=False)
    with output_lock(big_store, what="frame sampler"):
        with pytest.raises(ValueError, match=f"still being written \\(frame sampler, pid {os.getpid()}"):
            derive_store(big_store, tmp_path / "y", max_pixels=SMALL, progress=False)
    synthetic = tmp_path / "synthetic"
    make_frame_store(synthetic, num_videos=1, num_frames=N, width=120, height=90)
    with pytest.raises(ValueError, match="no sampling.json"):
        derive_store(synthetic, tmp_path / "z", max_pixels=SMALL, progress=False)


def test_ensure_store(big_store, store_videos, tmp_path, caplog):
    out = tmp_path / "out"
    assert ensure_store(out, max_pixels=BIG, store=big_store, num_frames=N) == big_store  # built at that size: reused
    assert not out.exists()
    assert ensure_store(out, max_pixels=SMALL, store=big_store, num_frames=N, workers=1, progress=False) == out  # derived
    assert read_sampling(out)["max_pixels"] == SMALL and len(read_manifest(out)) == 4
    assert ensure_store(tmp_path / "unused", max_pixels=SMALL, store=out, num_frames=N) == out
    with pytest.raises(ValueError) as err:
        ensure_store(tmp_path / "bigger", max_pixels=BIG, store=out, num_frames=N)
    assert f"built at max_pixels {SMALL}, smaller than the max_pixels {BIG} asked for" in str(err.value)
    with pytest.raises(ValueError, match=f"holds {N} frames per video, not the 48"):
        ensure_store(tmp_path / "n", max_pixels=SMALL, store=big_store, num_frames=48)
    with pytest.raises(ValueError, match="exactly one of store and video_dirs"):
        ensure_store(out, max_pixels=SMALL)
    with output_lock(big_store, what="frame sampler"):
        with pytest.raises(ValueError, match="still being written"):
            ensure_store(tmp_path / "busy", max_pixels=BIG, store=big_store, num_frames=N)

    sampled = ensure_store(tmp_path / "sampled", max_pixels=SMALL, video_dirs=[store_videos], num_frames=N,
                           workers=1, progress=False)
    assert sampled == tmp_path / "sampled" and read_sampling(sampled)["max_pixels"] == SMALL

    synthetic = tmp_path / "synthetic"
    make_frame_store(synthetic, num_videos=1, num_frames=N, width=80, height=60)
    with caplog.at_level(logging.WARNING, logger="videossr.sampling.sampler"):
        assert ensure_store(out, max_pixels=SMALL, store=synthetic, num_frames=N) == synthetic
    assert "no sampling.json" in caplog.text
    with pytest.raises(ValueError, match="size it was built at is unknown"):
        ensure_store(out, max_pixels=SMALL - 1, store=synthetic, num_frames=N)


def test_cli_derives_verifies_and_reports_refusals_without_a_traceback(big_store, tmp_path):
    out = tmp_path / "small"
    run = subprocess.run(
        [sys.executable, str(REPO / "pretext_tasks" / "sample_frames.py"), "--from-store", str(big_store),
         "--output-dir", str(out), "--max-pixels", str(SMALL), "--workers", "1", "--quiet", "--verify"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    assert f"4 derived at max_pixels {SMALL}" in run.stdout and "all present and whole" in run.stdout
    refused = subprocess.run(
        [sys.executable, str(REPO / "pretext_tasks" / "sample_frames.py"), "--video-dir", str(tmp_path),
         "--output-dir", str(tmp_path), "--quiet"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert refused.returncode == 2 and "is the input folder" in refused.stderr
    assert "Traceback" not in refused.stderr

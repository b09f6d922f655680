"""videossr.frames: finding videos, the clock, the frame store (manifest, failures), resume, determinism, Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from videossr import frames as frames_mod
from videossr.frames import (
    RECORD_NAME,
    find_videos,
    sample_fps_for,
    sample_times,
    sample_videos,
    video_id_for,
)
from videossr.io import read_jsonl
from videossr.manifest import read_failures, read_manifest
from videossr.testing.media import make_audio_only, make_clip, truncate_file, write_garbage

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


def test_determinism_across_runs_and_worker_counts(videos, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    sample_videos([videos], a, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    sample_videos([videos], b, num_frames=N, max_pixels=80 * 60, workers=2, progress=False)
    for name in ("manifest.jsonl", "failures.jsonl", "sampling.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert len([f for f in files_a if f.suffix == ".jpg"]) == 2 * N
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_interrupt_leaves_no_half_written_folder(videos, tmp_path, monkeypatch):
    out = tmp_path / "store"
    real_encode = frames_mod._encode_jpeg
    calls = {"n": 0}

    def encode_then_interrupt(frame, quality):
        calls["n"] += 1
        if calls["n"] == N + 5:  # the first video is done, the second is half-way through its frames
            raise KeyboardInterrupt
        return real_encode(frame, quality)

    monkeypatch.setattr(frames_mod, "_encode_jpeg", encode_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    dirs = [p for p in out.iterdir() if p.is_dir()]
    assert len(dirs) == 1 and not [p for p in out.iterdir() if p.name.startswith(".")]
    assert len(list(dirs[0].glob("*.jpg"))) == N and (dirs[0] / RECORD_NAME).is_file()
    assert [r.video_id for r in read_manifest(out)] == [dirs[0].name]  # the index was rebuilt on the way out

    monkeypatch.setattr(frames_mod, "_encode_jpeg", real_encode)
    resumed = sample_videos([videos], out, num_frames=N, max_pixels=80 * 60, workers=1, progress=False)
    assert resumed.already_done == 1 and resumed.sampled == 1
    assert len(read_manifest(out)) == 2


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
         "--output-dir", str(out), "--num-frames", "8", "--max-pixels", "4800", "--workers", "1", "--no-progress",
         "--log-level", "WARNING"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    # with 8 frames, the 10-frame clip is long enough: its 5%..95% span holds 9 frames
    assert "7 videos found: 3 sampled" in proc.stdout and "4 failed" in proc.stdout
    ten = by_stem(read_manifest(out))["ten"]
    assert ten.num_frames == 8 and len(set(ten.timestamps)) == 8
    assert [round(t * 25) for t in ten.timestamps] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert len(read_failures(out)) == 4

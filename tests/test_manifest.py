"""videossr.sampling.store: damaged manifests, records and stores are errors that name the file (and line), never absorbed.

The stores here are real: sampled by the sampler from clips made with ffmpeg.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from videossr.sampling.sampler import sample_videos
from videossr.sampling.store import (
    MANIFEST_NAME,
    RECORD_NAME,
    SAMPLING_NAME,
    StoreDamagedError,
    read_failures,
    read_manifest,
    read_record,
    read_sampling,
    verify_store,
)
from support.media import make_clip, write_garbage

N = 8


@pytest.fixture(scope="module")
def sampled(tmp_path_factory) -> Path:
    """A finished store of three real clips (and one failure), made once; tests work on copies."""
    d = tmp_path_factory.mktemp("manifest")
    videos = d / "videos"
    make_clip(videos / "a.mp4", seconds=1.2, fps=25, size=(96, 64), gop=10)
    make_clip(videos / "b.mkv", seconds=1.2, fps=25, size=(64, 96), pattern="mandelbrot")
    make_clip(videos / "c.webm", seconds=1.2, fps=25, size=(80, 80), codec="libvpx-vp9")
    write_garbage(videos / "bad.mp4")
    store = d / "store"
    sample_videos([videos], store, num_frames=N, max_pixels=48 * 32, workers=1, progress=False)
    return store


@pytest.fixture
def store(sampled, tmp_path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(sampled, copy)
    return copy


def lines(store: Path) -> list[str]:
    return (store / MANIFEST_NAME).read_text().splitlines(keepends=True)


# ----------------------------------------------------------------------------------------------------------------------


def test_good_store_reads_and_verifies(store):
    records = read_manifest(store)
    assert len(records) == 3 and [r.video_id for r in records] == sorted(r.video_id for r in records)
    assert read_sampling(store)["max_pixels"] == 48 * 32
    assert len(read_failures(store)) == 1
    report = verify_store(store, decode=True)
    assert (report.videos, report.frames, report.max_pixels) == (3, 3 * N, 48 * 32)
    assert report.bytes == sum((store / f).stat().st_size for r in records for f in r.frames)
    assert "all present and whole" in str(report)


def test_truncated_last_line_is_an_error(store):
    text = (store / MANIFEST_NAME).read_text()
    (store / MANIFEST_NAME).write_text(text[: len(text) - 40])  # an interrupted copy: the last video half there
    with pytest.raises(ValueError, match=rf"{MANIFEST_NAME}:3: the last line is cut short"):
        read_manifest(store)


def test_duplicated_line_is_an_error(store):
    content = lines(store)
    (store / MANIFEST_NAME).write_text("".join(content + [content[0]]))
    with pytest.raises(ValueError, match=rf"{MANIFEST_NAME}:4: video '.*' is listed again \(first on line 1\)"):
        read_manifest(store)


@pytest.mark.parametrize("drop", ["sample_fps", "frames", "width"])
def test_line_missing_fields_is_an_error(store, drop):
    content = lines(store)
    obj = json.loads(content[1])
    del obj[drop]
    content[1] = json.dumps(obj) + "\n"
    (store / MANIFEST_NAME).write_text("".join(content))
    with pytest.raises(ValueError, match=rf"{MANIFEST_NAME}:2: video record '.*' is missing the fields \['{drop}'\]"):
        read_manifest(store)


@pytest.mark.parametrize("bad,match", [
    ('"a string"', "must be a JSON object"),
    ('{"video_id": "x", "frames": "000.jpg"}', "missing the fields"),
])
def test_line_of_the_wrong_shape_is_an_error(store, bad, match):
    (store / MANIFEST_NAME).write_text("".join(lines(store)[:1]) + bad + "\n")
    with pytest.raises(ValueError, match=rf"{MANIFEST_NAME}:2: .*{match}"):
        read_manifest(store)


def test_bad_values_in_a_line_are_errors(store):
    content = lines(store)
    cases = (("width", "64", "width must be an integer"),
             ("frames", ["../../etc/passwd"], "a frame must be a path inside the store"))
    for key, value, match in cases:
        obj = json.loads(content[0])
        obj[key] = value
        if key == "frames":
            obj["timestamps"] = [0.0]
        (store / MANIFEST_NAME).write_text(json.dumps(obj) + "\n")
        with pytest.raises(ValueError, match=rf"{MANIFEST_NAME}:1: .*{match}"):
            read_manifest(store)


def test_empty_or_unreadable_record_files_are_named(store):
    record = read_manifest(store)[0]
    record_file = store / record.video_id / RECORD_NAME
    assert read_record(record_file) == record
    record_file.write_bytes(b"")  # a crash after the rename, before the data reached the disk
    with pytest.raises(ValueError, match=rf"{record_file}: the video record is empty"):
        read_record(record_file)
    record_file.write_text('{"video_id": ')
    with pytest.raises(ValueError, match=rf"{record_file}: the video record is not valid JSON"):
        read_record(record_file)
    # the sampler names it too when it resumes into that store
    with pytest.raises(ValueError, match=str(record_file)):
        sample_videos([Path(record.source).parent], store, num_frames=N, max_pixels=48 * 32, workers=1,
                      progress=False)

    sampling = store / SAMPLING_NAME
    sampling.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{sampling}: the sampling parameters file is empty"):
        read_sampling(store)
    sampling.write_text('{"num_frames": 8}')
    with pytest.raises(ValueError, match=rf"{sampling}: max_pixels must be a positive integer"):
        read_sampling(store)


def test_damaged_failures_file_is_an_error(store):
    path = store / "failures.jsonl"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"failures\.jsonl:1: the last line is cut short"):
        read_failures(store)


def test_verify_store_names_missing_empty_and_broken_frames(store):
    records = read_manifest(store)
    frames = [store / f for r in records for f in r.frames]
    frames[0].unlink()
    frames[3].write_bytes(b"")
    frames[5].write_bytes(frames[5].read_bytes()[:-50])  # cut short
    frames[9].write_bytes(b"GIF89a" + frames[9].read_bytes())
    frames[12].write_bytes(frames[12].read_bytes()[:-50])
    frames[15].write_bytes(frames[15].read_bytes()[:-50])
    (store / records[1].video_id / RECORD_NAME).write_text(
        records[0].to_jsonl_line())  # another video's record
    stray = store / "stray-0123456789"
    shutil.copytree(store / records[2].video_id, stray)
    with pytest.raises(StoreDamagedError) as err:
        verify_store(store, shown=4)
    problems = dict(err.value.problems)
    assert problems[str(frames[0])] == "missing"
    assert problems[str(frames[3])] == "empty"
    assert problems[str(frames[5])] == "cut short (no JPEG end marker)"
    assert problems[str(frames[9])] == "not a JPEG (no start marker)"
    assert problems[str(store / records[1].video_id / RECORD_NAME)] == "differs from its manifest line"
    assert problems[str(stray)] == "a finished video folder that the manifest does not list"
    assert len(err.value.problems) == 8
    message = str(err.value)
    assert f"{store} is damaged: 8 problem(s)" in message and "and 4 more" in message
    assert f"{frames[0]}: missing" in message


def test_verify_store_decode_catches_wrong_pictures(store):
    record = read_manifest(store)[0]
    frame = store / record.frames[2]
    Image.new("RGB", (record.width + 2, record.height)).save(frame, quality=90)  # whole JPEG, wrong picture
    verify_store(store)  # markers alone cannot see it
    with pytest.raises(StoreDamagedError, match=rf"{frame}: is {record.width + 2}x{record.height}"):
        verify_store(store, decode=True)


def test_verify_store_checks_records_against_sampling_json(store):
    sampling = json.loads((store / SAMPLING_NAME).read_text())
    sampling["num_frames"] = N + 1
    (store / SAMPLING_NAME).write_text(json.dumps(sampling))
    with pytest.raises(StoreDamagedError, match=rf"{N} frames, sampling.json says {N + 1}"):
        verify_store(store)

"""videossr.sampling.video: probe and decode_frames_at on the demo clips and on edge-case files made here with ffmpeg; the
speed features (keyframe jumps, skipped frames, a reused swscale context, one opening per video) change no byte."""

from __future__ import annotations

import math
import os
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videossr.sampling import video
from support.media import (
    corrupt_file,
    ffmpeg_binary,
    make_audio_only,
    make_clip,
    truncate_file,
    write_garbage,
)
from videossr.sampling.video import BACKENDS, VideoDecodeError, decode_frames_at, fit_size, probe, probe_and_decode

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"
BBB = DEMO / "bigbuckbunny.mp4"
CITY = DEMO / "cityCC0.mpg"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    out = {
        "h264": make_clip(d / "h264.mp4", seconds=2, fps=25, size=(160, 120), gop=12),
        "portrait": make_clip(d / "portrait.mp4", seconds=2, fps=25, size=(96, 160)),
        "rotated": make_clip(d / "rotated.mp4", seconds=2, fps=25, size=(160, 120), rotation=90),
        # 25 fps for 2 s, then 10 fps: a variable frame rate (millisecond timestamps, kept as they are)
        "vfr": make_clip(d / "vfr.mp4", seconds=4, fps=25, size=(160, 120),
                         video_filter="settb=1/1000,setpts='if(lt(N,50),N*40,2000+(N-50)*100)'",
                         extra_args=["-fps_mode", "vfr"]),
        "webm": make_clip(d / "vp9.webm", seconds=2, fps=25, size=(160, 120), codec="libvpx-vp9"),
        "mkv": make_clip(d / "clip.mkv", seconds=2, fps=25, size=(160, 120), pattern="mandelbrot"),
        "faststart": make_clip(d / "fast.mp4", seconds=2, fps=25, size=(160, 120),
                               extra_args=["-movflags", "+faststart"]),
        "audio": make_audio_only(d / "audio.mp4"),
    }
    out["truncated_index_first"] = truncate_file(out["faststart"], d / "trunc_fast.mp4", 0.5)
    out["truncated_index_last"] = truncate_file(out["h264"], d / "trunc_moov.mp4", 0.5)
    out["corrupt"] = corrupt_file(out["faststart"], d / "corrupt.mp4", start=0.4, length=20000)
    out["garbage"] = write_garbage(d / "garbage.mp4")
    out["empty"] = d / "empty.mp4"
    out["empty"].write_bytes(b"")
    return out


def all_pts_seconds(path: Path) -> list[float]:
    """Every frame's timestamp in seconds from the first frame, by a plain full decode (the reference)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pts = [f.pts for f in c.decode(s)]
        tb = float(s.time_base)
    return sorted((p - min(pts)) * tb for p in pts)


def on_screen(reference: list[float], t: float) -> float:
    return max([p for p in reference if p <= t + 1e-6], default=reference[0])


def ffmpeg_frames(path: Path, width: int, height: int) -> np.ndarray:
    """All frames as ffmpeg's command line decodes them (rotation applied): the reference picture."""
    raw = subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def targets(duration: float, n: int) -> list[float]:
    return [0.05 * duration + (i + 0.5) * 0.9 * duration / n for i in range(n)]


# ----------------------------------------------------------------------------------------------------------------------


def test_probe_demo_clips():
    bbb = probe(BBB)
    assert (bbb.width, bbb.height, bbb.num_frames, bbb.codec, bbb.rotation) == (1280, 720, 132, "h264", 0)
    assert bbb.duration == pytest.approx(5.28) and bbb.fps == pytest.approx(25)
    city = probe(CITY)
    assert (city.width, city.height, city.codec) == (720, 405, "mpeg2video")
    assert city.duration == pytest.approx(7.6) and city.fps == pytest.approx(25)


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_are_the_ones_on_screen(clips, backend):
    path = clips["h264"]
    times = [0.0, 0.013, 0.5, 0.52, 1.0399, 1.96, 1.999]
    out = decode_frames_at(path, times, backend=backend)
    assert out.backend == backend
    expected = [0.0, 0.0, 0.48, 0.52, 1.0, 1.96, 1.96]
    assert out.timestamps == pytest.approx(expected, abs=1e-6)
    reference = ffmpeg_frames(path, 160, 120)
    for t, frame in zip(out.timestamps, out.frames):
        assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
        diff = np.abs(frame.astype(int) - reference[round(t * 25)]).mean()
        assert diff < 3.0, (backend, t, diff)


def test_pyav_matches_ffmpeg_on_demo_48_frames():
    info = probe(BBB)
    times = targets(info.duration, 48)
    out = decode_frames_at(BBB, times, backend="pyav", max_pixels=None)
    reference = all_pts_seconds(BBB)
    assert out.timestamps == pytest.approx([on_screen(reference, t) for t in times], abs=1e-6)
    assert len(set(out.timestamps)) == 48
    assert all(b > a for a, b in zip(out.timestamps, out.timestamps[1:]))
    assert all(t - 1 / 25 - 1e-6 <= s <= t + 1e-6 for s, t in zip(out.timestamps, times))
    full = ffmpeg_frames(BBB, 1280, 720)
    for k in (0, 17, 47):
        diff = np.abs(out.frames[k].astype(int) - full[round(out.timestamps[k] * 25)]).mean()
        assert diff < 3.0, (k, diff)


def test_backends_agree_on_long_gop(tmp_path):
    path = make_clip(tmp_path / "long.mp4", seconds=4, fps=25, size=(160, 120))  # x264 default GOP: one keyframe
    times = targets(4.0, 16)
    outs = {b: decode_frames_at(path, times, backend=b) for b in BACKENDS}
    for b in BACKENDS:
        assert outs[b].timestamps == pytest.approx(outs["pyav"].timestamps, abs=1e-6), b
        for x, y in zip(outs[b].frames, outs["pyav"].frames):
            assert np.abs(x.astype(int) - y).mean() < 3.0, b


def test_mpeg_ps_torchcodec_is_caught_and_auto_falls_back(monkeypatch):
    info = probe(CITY)
    times = targets(info.duration, 16)
    with pytest.raises(VideoDecodeError) as err:
        decode_frames_at(CITY, times, backend="torchcodec")
    assert err.value.kind == "corrupt" and err.value.backend == "torchcodec"
    monkeypatch.setattr(video, "AUTO_ORDER", ("torchcodec", "pyav"))
    out = decode_frames_at(CITY, times, max_pixels=256 * 256)
    assert out.backend == "pyav"
    reference = all_pts_seconds(CITY)
    assert out.timestamps == pytest.approx([on_screen(reference, t) for t in times], abs=1e-6)
    h, w = out.frames[0].shape[:2]
    assert w * h <= 256 * 256 and abs(w / h - 720 / 405) < 0.02
    # open GOPs: frames shown before their keyframe are decoded from the GOP before, so the pixels are right
    full = decode_frames_at(CITY, times, backend="pyav")
    reference = ffmpeg_frames(CITY, 720, 405)
    for t, frame in zip(full.timestamps, full.frames):
        diff = np.abs(frame.astype(int) - reference[round(t * 25)]).mean()
        assert diff < 3.0, (t, diff)


def test_linear_decode_matches_indexed(clips, monkeypatch):
    """Streams without packet timestamps are decoded front to back; the result is the same frames."""
    for name in ("h264", "vfr", "rotated"):
        info = probe(clips[name])
        times = targets(info.duration, 16)
        indexed = decode_frames_at(clips[name], times, backend="pyav", max_pixels=60 * 80)
        with monkeypatch.context() as m:
            m.setattr(video, "_av_index", lambda container, stream: [])
            linear = decode_frames_at(clips[name], times, backend="pyav", max_pixels=60 * 80)
        assert linear.timestamps == pytest.approx(indexed.timestamps, abs=1e-9), name
        for a, b in zip(linear.frames, indexed.frames):
            assert np.array_equal(a, b), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotated_video_comes_out_upright(clips, backend):
    path = clips["rotated"]
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (120, 160, 90)
    out = decode_frames_at(path, [0.5, 1.0], backend=backend)
    upright = ffmpeg_frames(path, 120, 160)  # ffmpeg applies the display matrix
    for t, frame in zip(out.timestamps, out.frames):
        assert frame.shape == (160, 120, 3)
        assert np.abs(frame.astype(int) - upright[round(t * 25)]).mean() < 3.0
        # and it is not the unrotated picture turned the other way
        assert np.abs(frame.astype(int) - np.rot90(upright[round(t * 25)], 2)).mean() > 20


def test_portrait_and_max_pixels(clips):
    out = decode_frames_at(clips["portrait"], [0.1, 1.5], max_pixels=48 * 80)
    assert [f.shape for f in out.frames] == [(80, 48, 3)] * 2
    same = decode_frames_at(clips["portrait"], [0.1], max_pixels=10**7)  # never enlarged
    assert same.frames[0].shape == (160, 96, 3)
    assert same.info.width == 96 and same.info.height == 160


def test_variable_frame_rate_timestamps_are_real(clips):
    path = clips["vfr"]
    reference = all_pts_seconds(path)
    gaps = np.diff(reference)
    assert gaps.min() == pytest.approx(0.04) and gaps.max() > 0.07  # it really is VFR
    info = probe(path)
    times = targets(info.duration, 24)
    for backend in BACKENDS:
        out = decode_frames_at(path, times, backend=backend)
        assert out.timestamps == pytest.approx([on_screen(reference, t) for t in times], abs=1e-6), backend


@pytest.mark.parametrize("name,codec", [("webm", "vp9"), ("mkv", "h264")])
def test_other_containers(clips, name, codec):
    info = probe(clips[name])
    assert info.codec == codec and info.duration == pytest.approx(2.0) and info.num_frames == 50
    out = decode_frames_at(clips[name], targets(info.duration, 12))
    assert len(out.frames) == 12 and out.backend == "pyav"
    assert out.timestamps == pytest.approx([math.floor(t * 25 + 1e-6) / 25 for t in targets(2.0, 12)], abs=1e-6)


@pytest.mark.parametrize(
    "name,kind",
    [
        ("audio", "no_video_stream"),
        ("truncated_index_first", "truncated"),
        ("truncated_index_last", "truncated"),
        ("corrupt", "corrupt"),
        ("garbage", "garbage"),
        ("empty", "empty"),
    ],
)
def test_bad_files_raise_with_a_kind(clips, name, kind):
    with pytest.raises(VideoDecodeError) as err:
        info = probe(clips[name])
        decode_frames_at(clips[name], targets(info.duration, 8))
    assert err.value.kind == kind, str(err.value)
    assert str(clips[name]) in str(err.value)


def test_missing_unreadable_and_bad_arguments(clips, tmp_path):
    with pytest.raises(VideoDecodeError) as err:
        decode_frames_at(tmp_path / "nope.mp4", [0.0])
    assert err.value.kind == "not_found"
    with pytest.raises(VideoDecodeError) as err:
        probe(tmp_path)
    assert err.value.kind == "not_found"
    with pytest.raises(ValueError, match="-1"):
        decode_frames_at(clips["h264"], [-1.0])
    with pytest.raises(ValueError, match="backend"):
        decode_frames_at(clips["h264"], [0.0], backend="opencv")
    with pytest.raises(VideoDecodeError) as err:
        decode_frames_at(clips["h264"], [9.0])
    assert err.value.kind == "truncated"


def test_every_backend_failing_names_them_all(clips):
    with pytest.raises(VideoDecodeError) as err:
        decode_frames_at(clips["corrupt"], [0.1, 1.9])
    message = str(err.value)
    assert all(b in message for b in BACKENDS), message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(clips, tmp_path):
    path = tmp_path / "locked.mp4"
    path.write_bytes(clips["h264"].read_bytes())
    path.chmod(0)
    try:
        with pytest.raises(VideoDecodeError) as err:
            decode_frames_at(path, [0.0])
        assert err.value.kind == "permission_denied"
    finally:
        path.chmod(0o644)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4000), st.integers(1, 4000), st.integers(64, 10**7))
def test_fit_size(width, height, max_pixels):
    w, h = fit_size(width, height, max_pixels)
    assert w * h <= max(max_pixels, 1) or (w, h) == (1, 1)
    assert w <= width and h <= height
    if width * height <= max_pixels:
        assert (w, h) == (width, height)
    elif min(w, h) > 4:
        assert abs(w / h - width / height) / (width / height) < 0.25


# ----------------------------------------------------------------------------------------------------------------------
# Speed features that must not change a single byte


@pytest.fixture(scope="module")
def codec_zoo(tmp_path_factory, clips) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("zoo")
    return {
        "h264_long_gop": make_clip(d / "long.mp4", seconds=3, fps=25, size=(320, 240), pattern="mandelbrot"),
        "h264_bframes": make_clip(d / "b.mp4", seconds=3, fps=25, size=(320, 240), gop=25,
                                  video_filter="noise=alls=8:allf=t+u"),
        "hevc": make_clip(d / "hevc.mkv", seconds=2, fps=25, size=(320, 240), codec="libx265",
                          extra_args=["-preset", "ultrafast"]),
        "mpeg2_ts": make_clip(d / "m2.ts", seconds=2, fps=25, size=(320, 240), codec="mpeg2video", gop=12,
                              extra_args=["-bf", "2"]),
        "mpeg4_avi": make_clip(d / "m4.avi", seconds=2, fps=25, size=(320, 240), codec="mpeg4", gop=10),
        "vp9": clips["webm"],
        "rotated": clips["rotated"],
        "vfr": clips["vfr"],
        "mpeg_ps": CITY,
        "bbb": BBB,
    }


@pytest.mark.parametrize("name", ["h264_long_gop", "h264_bframes", "hevc", "mpeg2_ts", "mpeg4_avi", "vp9", "rotated",
                                  "vfr", "mpeg_ps", "bbb"])
def test_indexed_decode_gives_the_linear_decode_bytes(codec_zoo, name, monkeypatch):
    """Keyframe jumps and skipped non-reference frames change nothing: the frames are the bytes a decode forward from
    the first packet, and a plain front-to-back decode, give."""
    path = codec_zoo[name]
    info = probe(path)
    times = targets(info.duration, 16)
    one = decode_frames_at(path, times, backend="pyav", max_pixels=120 * 90)
    real_plan = video._av_plan_runs
    with monkeypatch.context() as m:
        m.setattr(video, "_av_plan_runs", lambda index, wanted, jumps: real_plan(index, wanted, False))
        forward = decode_frames_at(path, times, backend="pyav", max_pixels=120 * 90)
    with monkeypatch.context() as m:
        m.setattr(video, "_av_index", lambda container, stream: [])
        linear = decode_frames_at(path, times, backend="pyav", max_pixels=120 * 90)
    for out in (forward, linear):
        assert out.timestamps == one.timestamps
        assert all(np.array_equal(a, b) for a, b in zip(out.frames, one.frames))


def _index(spec: list[tuple[int, bool]]) -> list:
    """A packet index from (pts, keyframe) pairs in decode order."""
    return [video._Packet(pts, None, key, 1, 100 + i) for i, (pts, key) in enumerate(spec)]


def test_decoding_runs_by_hand():
    # 12 packets, keyframes at 0, 4 and 8, shown in decode order
    index = _index([(i, i % 4 == 0) for i in range(12)])
    plan = video._av_plan_runs
    # a jump wherever a keyframe lies past the packet the run would decode next
    assert plan(index, [1, 2, 5, 10], jumps=True) == [(0, [1, 2]), (4, [5]), (8, [10])]
    assert plan(index, [1, 2, 5, 10], jumps=False) == [(0, [1, 2, 5, 10])]
    # packet 4 is the next one after target 3: decoding on is as cheap as jumping to it
    assert plan(index, [3, 4], jumps=True) == [(0, [3, 4])]
    assert plan(index, [4, 11], jumps=True) == [(4, [4]), (8, [11])]
    # an open GOP: packet 5 (pts 4) is shown before its keyframe (packet 4, pts 6) and needs the GOP before
    open_gop = _index([(0, True), (1, False), (2, False), (3, False), (6, True), (4, False), (5, False), (7, False)])
    assert plan(open_gop, [5], jumps=True) == [(0, [5])]
    assert plan(open_gop, [2, 7], jumps=True) == [(0, [2]), (4, [7])]


def test_a_jump_that_does_not_land_means_a_forward_decode(codec_zoo, monkeypatch):
    """When a jump does not land on its keyframe, the video is decoded again forward without jumps (same bytes); an
    FFmpeg error while decoding is a VideoDecodeError naming the backend."""
    path = codec_zoo["h264_bframes"]  # GOP 25: several keyframes, so the plan has jumps
    times = targets(probe(path).duration, 12)
    one = decode_frames_at(path, times, backend="pyav")
    real_run, real_plan = video._av_run, video._av_plan_runs
    plans = []

    def record_plan(index, wanted, jumps):
        plans.append(jumps)
        return real_plan(index, wanted, jumps)

    def miss_with_jumps(container, stream, index, runs, *rest):
        return False if len(runs) > 1 else real_run(container, stream, index, runs, *rest)

    monkeypatch.setattr(video, "_av_plan_runs", record_plan)
    monkeypatch.setattr(video, "_av_run", miss_with_jumps)
    again = decode_frames_at(path, times, backend="pyav")
    assert plans == [True, False]  # the jumps were given up, the frames decoded forward from the start
    assert again.timestamps == one.timestamps
    assert all(np.array_equal(a, b) for a, b in zip(again.frames, one.frames))

    def breaks(*args):
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(video, "_av_run", breaks)
    with pytest.raises(VideoDecodeError, match="decoding failed") as err:
        decode_frames_at(path, times, backend="pyav")
    assert err.value.backend == "pyav" and err.value.kind == "corrupt"


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_a_named_pipe_is_refused_without_blocking(tmp_path, backend):
    """A named pipe named like a video (nobody ever writes to it): refused at once, never opened for reading."""
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    start = time.monotonic()
    for call in (lambda: probe(fifo, backend=backend), lambda: decode_frames_at(fifo, [0.0], backend=backend),
                 lambda: probe_and_decode(fifo, lambda info: [0.0], backend=backend)):
        with pytest.raises(VideoDecodeError, match="not a regular file") as err:
            call()
        assert err.value.kind == "not_found"
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("name", ["mpeg_ps", "mpeg2_ts", "h264_bframes"])
def test_indexed_decode_needs_no_linear_fallback(codec_zoo, name, monkeypatch):
    """MPEG program/transport streams too are decoded from the packet index (forward, without jumps)."""
    def refuse(*args, **kwargs):
        raise AssertionError("fell back to the linear decode")

    monkeypatch.setattr(video, "_av_decode_linear", refuse)
    info = probe(codec_zoo[name])
    out = decode_frames_at(codec_zoo[name], targets(info.duration, 16), backend="pyav")
    assert len(set(out.timestamps)) == 16


def test_reused_swscale_context_gives_the_same_bytes(clips):
    with av.open(str(BBB)) as c:
        frames = [f for _, f in zip(range(4), c.decode(c.streams.video[0]))]
    convert = video.rgb_converter()
    for f in frames:
        assert np.array_equal(convert(f, 341, 192),
                              f.to_ndarray(format="rgb24", width=341, height=192, interpolation="BICUBIC"))
        assert np.array_equal(convert(f, f.width, f.height), f.to_ndarray(format="rgb24"))


def test_probe_and_decode_is_probe_then_decode(clips):
    for name in ("h264", "rotated", "vfr", "mkv"):
        path = clips[name]
        seen = []

        def times_for(info):
            seen.append(info)
            return targets(info.duration, 8)

        fused = probe_and_decode(path, times_for, max_pixels=60 * 80)
        info = probe(path)
        apart = decode_frames_at(path, targets(info.duration, 8), max_pixels=60 * 80)
        assert seen == [info] and fused.info == apart.info == info
        assert fused.timestamps == apart.timestamps
        assert all(np.array_equal(a, b) for a, b in zip(fused.frames, apart.frames))


def test_probe_and_decode_lets_times_for_errors_through(clips, monkeypatch):
    def too_short(info):
        raise VideoDecodeError("too_short", clips["h264"], f"only {info.num_frames} frames")

    with pytest.raises(VideoDecodeError) as err:
        probe_and_decode(clips["h264"], too_short)
    assert err.value.kind == "too_short" and "only 50 frames" in str(err.value)

    class Odd(Exception):
        pass

    def odd(info):
        raise Odd("mine")

    tried = []
    monkeypatch.setitem(video._DECODERS, "torchcodec", lambda *args: tried.append(args))
    with pytest.raises(Odd, match="mine"):
        probe_and_decode(clips["h264"], odd)

    def no_duration(info):
        raise VideoDecodeError("corrupt", clips["h264"], "the video reports no duration")

    with pytest.raises(VideoDecodeError, match="no duration") as err:
        probe_and_decode(clips["h264"], no_duration)
    assert err.value.backend is None
    assert tried == []  # no other backend was tried
    with pytest.raises(ValueError, match="-1"):
        probe_and_decode(clips["h264"], lambda info: [-1.0])


def test_probe_and_decode_falls_back_with_the_first_header(clips, monkeypatch):
    """When PyAV reads the header but cannot decode, the next backend decodes at the times from PyAV's header."""
    real = video._DECODERS["pyav"]

    def broken(path, times_for, max_pixels):
        times_for(real(path, None, max_pixels))  # the header is read, then decoding fails
        raise VideoDecodeError("corrupt", path, "simulated decoder failure", backend="pyav")

    monkeypatch.setitem(video._DECODERS, "pyav", broken)
    monkeypatch.setattr(video, "AUTO_ORDER", ("pyav", "decord"))
    out = probe_and_decode(clips["h264"], lambda info: targets(info.duration, 8))
    assert out.backend == "decord"
    assert out.timestamps == pytest.approx([math.floor(t * 25 + 1e-6) / 25 for t in targets(2.0, 8)], abs=1e-6)

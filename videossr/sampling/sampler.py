"""The frame sampler: turn folders of raw videos into the frame store the pretext tasks read.

``sample_videos(video_dirs, output_dir)`` finds every video under the folders (recursively, every common container,
extensions matched case-insensitively), samples ``num_frames`` frames per video on the clock of
``videossr.sampling.store`` (the centres of ``num_frames`` equal bins of the 5%..95% span; for each target the frame on
screen at that time), shrinks them to fit ``max_pixels`` (aspect ratio kept, never enlarged), and writes::

    ROOT/sampling.json           the sampling parameters, max_pixels included; a rerun with others is refused
    ROOT/manifest.jsonl          one VideoRecord per sampled video, sorted by video_id
    ROOT/failures.jsonl          one line per video that could not be sampled: video_id, source, kind, message
    ROOT/<video_id>/000.jpg ...  the frames (JPEG, fixed quality), plus record.json: the video's manifest line

A video whose 5%..95% span does not give ``num_frames`` distinct frames is skipped as ``too_short`` (one failures
line); so is one whose header already lists fewer than ``num_frames / 0.9`` frames. A failure's ``kind`` is one of
``videossr.sampling.video.ERROR_KINDS``, or ``unexpected`` for an error no decoder anticipated (logged with its traceback);
the batch goes on either way.

Resume and safety. Each video's folder is written under a temporary name and renamed when complete (with its
``record.json``), so a folder that exists is a finished video. manifest.jsonl and failures.jsonl are rebuilt
from the folders and the failures at the end of a run, also when it is interrupted (Ctrl-C). A rerun skips finished
videos, and skips videos that failed before unless ``retry_failed``. Same inputs and arguments give byte-identical
frames and manifest, whatever the number of workers.

One writer per output folder, and nothing of the user's is touched: the run holds the folder's writer lock
(``videossr.procs.output_lock``; a second sampler on the same folder stops at once, naming the first), and under
that lock removes only temporaries that carry this program's own prefix (``videossr.io.TMP_PREFIX``), left by a
killed run. The output folder may not be an input folder, lie inside one (its frames would be searched for videos
on every run, and the user's video tree would fill with frames) or contain one (the sampler owns its output folder).
Worker processes die with the sampler (``videossr.procs.worker_pool``), so a killed run leaves no process writing.

Speed (benchmarks/bench_sampling.py has the figures). ``workers`` videos are sampled at a time: up to two
(``LOCAL_SLOTS``) in threads of this process, which start on the first videos at once, and the others in worker
processes. Decoding, scaling and JPEG encoding let go of the GIL, so two threads run as fast as two processes
without the start-up of a worker interpreter (about 0.2 s of CPU). Each free slot takes the costliest video left
(cost estimated from each header: frames x pixels, read in a background thread), so that no long video ends the run
alone; the last videos get several decoder threads (``_threads_for``), which decode different GOPs at once, so that
the cores the others free are not left idle. Each video is opened once (probe and decode together,
``videossr.sampling.video.probe_and_decode``), and only the frames the targets need are decoded (see ``videossr.sampling.video``).

Stores at other sizes. ``derive_store(source, root, max_pixels=...)`` makes a store at a smaller ``max_pixels``
from a finished larger one by shrinking its JPEGs (the videos are never decoded again): same video ids, timestamps
and sample_fps, frame sizes as sampling at that size gives, written atomically, resumable, byte-identical on
rerun. ``ensure_store(root, max_pixels=..., store=... | video_dirs=...)`` is what a build calls: it reuses a store
built at exactly that size, derives one from a larger store, refuses a smaller store (naming both sizes), or samples
the videos.

Video ids. A video's id is ``<slug>-<hash>``: ``slug`` is its path relative to its input folder without the
extension, every character outside ``A-Za-z0-9._-`` replaced by ``_`` (cut to 60 characters), and ``hash`` is the
first 10 hex digits of the SHA-1 of ``<folder key>/<relative path>``, where the folder key is the input folder's
name (with as many parent folder names as needed to tell apart input folders that share a name). So the id depends
only on the folder's name and the relative path: moving the folder elsewhere keeps the ids, two input folders with
the same relative paths get different ids, and ``a/b.mp4`` vs ``a_b.mp4`` or ``x.mp4`` vs ``x.mkv`` differ too.

Usage::

    summary = sample_videos(["data/demo"], "data/frames", num_frames=48, max_pixels=512 * 512, workers=4)
    print(summary)
    train_store = ensure_store("data/frames_256", max_pixels=256 * 256, store="data/frames")  # derived, not decoded
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import heapq
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from videossr.io import atomic_dir, remove_temporaries, write_json_atomic, write_jsonl_atomic
from videossr.sampling.store import (
    FAILURES_NAME,
    MANIFEST_NAME,
    RECORD_NAME,
    SAMPLING_NAME,
    VideoRecord,
    encode_jpeg,
    read_failures,
    read_manifest,
    read_record,
    read_sampling,
)
from videossr import constants
from videossr.io import check_output_folder  # noqa: F401 - part of this module's interface
from videossr.procs import describe_holder, lock_holder, output_lock, worker_pool
from videossr.sampling.video import VideoDecodeError, VideoInfo, fit_size, probe_and_decode

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(constants.VIDEO_EXTENSIONS)
DEFAULT_NUM_FRAMES = constants.NUM_FRAMES
DEFAULT_MAX_PIXELS = constants.EVAL_MAX_PIXELS  # a store that serves VIUBench too; builds derive smaller ones
JPEG_QUALITY = constants.JPEG_QUALITY
SPAN = (0.05, 0.95)  # the part of the video frames are sampled from
_SLUG_LEN = 60
_LOCK_WHAT = "frame sampler"


# ----------------------------------------------------------------------------------------------------------------------
# Finding videos


@dataclass(frozen=True)
class VideoSource:
    """One input video: where it is and the id it gets in the frame store."""

    path: Path  # absolute path of the file
    folder_key: str  # name that tells its input folder apart from the other input folders
    relpath: str  # path relative to its input folder, with "/" separators

    @property
    def video_id(self) -> str:
        return video_id_for(self.folder_key, self.relpath)


def video_id_for(folder_key: str, relpath: str) -> str:
    """The video id rule (see the module docstring)."""
    if not relpath:
        raise ValueError("relpath must be non-empty")
    stem = relpath.rsplit(".", 1)[0] if "." in relpath.rsplit("/", 1)[-1] else relpath
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", stem).strip("._")[:_SLUG_LEN] or "video"
    digest = hashlib.sha1(f"{folder_key}/{relpath}".encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}"


def _folder_keys(folders: Sequence[Path]) -> list[str]:
    """For each folder, the shortest tail of its path (at least the name) that no other folder shares."""
    parts = [f.parts[1:] if f.is_absolute() else f.parts for f in folders]
    keys = []
    for i, p in enumerate(parts):
        depth = 1
        while depth < len(p) and any(
            j != i and tuple(q[-depth:]) == tuple(p[-depth:]) for j, q in enumerate(parts)
        ):
            depth += 1
        keys.append("/".join(p[-depth:]) if p else "root")
    return keys


def find_videos(video_dirs: Sequence[str | os.PathLike] | str | os.PathLike) -> list[VideoSource]:
    """Every video file under the folders (recursive, hidden entries skipped), sorted by video id.

    A file reached from two input folders (nested folders, a folder given twice) is listed once, for the first
    folder. Raises FileNotFoundError naming a folder that does not exist.
    """
    if isinstance(video_dirs, (str, os.PathLike)):
        video_dirs = [video_dirs]
    folders: list[Path] = []
    for d in video_dirs:
        folder = Path(os.path.abspath(d))
        if not folder.is_dir():
            raise FileNotFoundError(f"video folder {d} does not exist or is not a folder")
        if folder not in folders:
            folders.append(folder)
    keys = _folder_keys(folders)
    seen: set[Path] = set()
    found: list[VideoSource] = []
    walked: set[str] = set()
    for folder, key in zip(folders, keys):
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            real_dir = os.path.realpath(dirpath)
            if real_dir in walked:  # a symlink loop, or a folder already searched
                dirnames[:] = []
                continue
            walked.add(real_dir)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or os.path.splitext(name)[1].lower() not in VIDEO_EXTENSIONS:
                    continue
                path = Path(dirpath) / name
                real = path.resolve()
                if real in seen:
                    continue
                seen.add(real)
                found.append(VideoSource(path=path, folder_key=key, relpath=path.relative_to(folder).as_posix()))
    ids = Counter(s.video_id for s in found)
    clash = [i for i, n in ids.items() if n > 1]
    if clash:  # only possible with a SHA-1 prefix collision
        raise ValueError(f"video id collision: {clash}")
    return sorted(found, key=lambda s: s.video_id)


# ----------------------------------------------------------------------------------------------------------------------
# The clock


def sample_times(duration: float, num_frames: int) -> list[float]:
    """Target times: the centres of ``num_frames`` equal bins of the 5%..95% span of a ``duration``-second video."""
    if not duration > 0:
        raise ValueError(f"duration must be > 0, got {duration!r}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames!r}")
    start, span = SPAN[0] * duration, (SPAN[1] - SPAN[0]) * duration
    return [start + (i + 0.5) * span / num_frames for i in range(num_frames)]


def sample_fps_for(duration: float, num_frames: int) -> float:
    """The sampled frames' rate on the model's clock: ``num_frames`` per 5%..95% span."""
    return num_frames / ((SPAN[1] - SPAN[0]) * duration)


# ----------------------------------------------------------------------------------------------------------------------
# One video


@dataclass(frozen=True)
class SamplingParams:
    num_frames: int = DEFAULT_NUM_FRAMES
    max_pixels: int = DEFAULT_MAX_PIXELS
    jpeg_quality: int = JPEG_QUALITY

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames!r}")
        if self.max_pixels < 64:
            raise ValueError(f"max_pixels must be >= 64, got {self.max_pixels!r}")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be in 1..95, got {self.jpeg_quality!r}")

    def to_json(self) -> dict:
        return {"num_frames": self.num_frames, "max_pixels": self.max_pixels, "jpeg_quality": self.jpeg_quality,
                "span": list(SPAN), "format": "jpeg"}


def sample_video(source: VideoSource, root: Path, params: SamplingParams, backend: str = "auto",
                 threads: int = 1) -> VideoRecord:
    """Sample one video into ``root/<video_id>/`` (written atomically) and return its record.

    Raises VideoDecodeError (kind ``too_short`` when the span does not hold ``num_frames`` distinct frames).
    ``threads``: decoder threads (the output does not depend on it).
    """
    n = params.num_frames
    header: list[VideoInfo] = []

    def times_for(info: VideoInfo) -> list[float]:
        if info.duration <= 0:
            raise VideoDecodeError("corrupt", source.path, "the video reports no duration")
        if 0 < info.num_frames and info.num_frames * (SPAN[1] - SPAN[0]) < n:
            raise VideoDecodeError("too_short", source.path,
                                   f"{info.num_frames} frames in the video, fewer than {n} in its 5%..95% span")
        header.append(info)
        return sample_times(info.duration, n)

    decoded = probe_and_decode(source.path, times_for, backend=backend, max_pixels=params.max_pixels,
                               threads=threads)
    info = header[0]  # the header the times come from (the decoding backend may be a later one)
    stamps = [round(float(t), 6) for t in decoded.timestamps]
    distinct = len(set(stamps))
    if distinct < n:
        raise VideoDecodeError("too_short", source.path,
                               f"only {distinct} distinct frames at the {n} sample times of the 5%..95% span")
    vid = source.video_id
    names = frame_names(vid, n)
    h, w = decoded.frames[0].shape[:2]
    record = VideoRecord(
        video_id=vid,
        source=str(source.path),
        frames=tuple(names),
        timestamps=tuple(stamps),
        sample_fps=sample_fps_for(info.duration, n),
        duration=float(info.duration),
        width=int(w),
        height=int(h),
        source_width=int(info.width),
        source_height=int(info.height),
        decoder=decoded.backend,
    )
    with atomic_dir(root / vid) as tmp:
        for name, frame in zip(names, decoded.frames):
            (tmp / name.rsplit("/", 1)[1]).write_bytes(encode_jpeg(frame, params.jpeg_quality))
        (tmp / RECORD_NAME).write_text(record.to_jsonl_line(), encoding="utf-8")
        tmp.chmod(0o755)  # temporary folders are private; a finished one is as readable as the files in it
    return record


def frame_names(video_id: str, num_frames: int) -> list[str]:
    """The frame files of a video, relative to the store root: ``<video_id>/000.jpg`` ..."""
    width = max(3, len(str(num_frames - 1)))
    return [f"{video_id}/{i:0{width}d}.jpg" for i in range(num_frames)]


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _job(source: VideoSource, root: Path, params: SamplingParams, backend: str, threads: int = 1) -> dict:
    """Run in a worker: sample one video; never raises for a bad video (returns the failure instead)."""
    try:
        record = sample_video(source, root, params, backend, threads)
        return {"ok": True, "record": record.to_json(), "bytes": _folder_bytes(root / record.video_id)}
    except VideoDecodeError as e:
        kind, message = e.kind, e.message
    except (OSError, ValueError, RuntimeError, MemoryError) as e:  # one odd file must not stop the batch
        logger.warning("unexpected error on %s", source.path, exc_info=True)
        kind, message = "unexpected", f"{type(e).__name__}: {e}"
    return {"ok": False, "failure": {"video_id": source.video_id, "source": str(source.path), "kind": kind,
                                     "message": message}}


def _init_worker() -> None:
    """Worker set-up: load the decoders now, while the first video is being sampled here, not on the first job."""
    import av  # noqa: F401
    from PIL import Image, JpegImagePlugin  # noqa: F401


def _ready() -> int:
    return os.getpid()


# ----------------------------------------------------------------------------------------------------------------------
# Scheduling: longest first


def estimated_cost(path: str | os.PathLike) -> float:
    """A rough decoding cost of a video for scheduling: frames x pixels from its header (no frame is decoded).

    0 when the header cannot be read (such a file fails fast anyway).
    """
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base) if stream.time_base else 0.0
            duration = stream.duration * tb if stream.duration else (container.duration or 0) / 1_000_000
            rate = stream.average_rate or stream.guessed_rate or 0
            frames = stream.frames or duration * float(rate)
            return float(frames) * stream.codec_context.width * stream.codec_context.height
    except (av.error.FFmpegError, OSError, IndexError, ValueError, ZeroDivisionError):
        return 0.0


class _LongestFirst:
    """Hands out sources costliest first.

    The costs are estimated in a background thread. A pick waits for all estimates, but at most ``patience``
    seconds after the queue was made: in a large folder the first videos start while the rest are still being
    estimated (the costliest of those read so far go first, and a long video read later still goes before the
    shorter ones left).
    """

    def __init__(self, sources: Sequence[VideoSource], patience: float = 0.5):
        self._total = len(sources)
        self._heap: list[tuple[float, int, VideoSource]] = []
        self._estimated = 0
        self._handed = 0
        self._stop = False
        self._patient_until = time.monotonic() + patience
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._estimate, args=(list(sources),), name="videossr-estimate",
                                        daemon=True)
        self._thread.start()

    def _estimate(self, sources: list[VideoSource]) -> None:
        for i, source in enumerate(sources):
            if self._stop:
                return
            cost = estimated_cost(source.path)
            with self._cond:
                heapq.heappush(self._heap, (-cost, i, source))
                self._estimated += 1
                self._cond.notify_all()

    def remaining(self) -> int:
        """Sources not handed out yet."""
        with self._cond:
            return self._total - self._handed

    def pop(self) -> VideoSource | None:
        """The costliest source not handed out yet; None when all have been."""
        with self._cond:
            while self._estimated < self._total:
                wait = self._patient_until - time.monotonic()
                if self._heap and wait <= 0:
                    break
                self._cond.wait(wait if self._heap else None)
            if not self._heap:
                return None
            self._handed += 1
            return heapq.heappop(self._heap)[2]

    def close(self) -> None:
        self._stop = True
        self._thread.join()


def _threads_for(workers: int, running: int, remaining: int) -> int:
    """Decoder threads for a video started now, with ``running`` others under way and ``remaining`` still to start.

    One while videos are plenty (parallelism comes from the slots). Once fewer videos are left than there are
    slots, a slot that frees up finds nothing to start, and its core would idle until the videos still running
    end: so each of the last videos gets several threads, ``ceil(workers / remaining)`` (the last two get all
    ``workers``), and spare cores at the start are shared out among the videos starting then. The threads share
    cores with the videos still running meanwhile; with PyAV they decode different GOPs of the video
    (``videossr.sampling.video``), which costs no more CPU than one thread. The frames do not depend on the threads.
    """
    if remaining == 0:
        return workers
    share = max(1, (workers - running) // (remaining + 1))
    if remaining < workers:
        share = max(share, -(-workers // remaining))
    return share


# ----------------------------------------------------------------------------------------------------------------------
# The store


@dataclass(frozen=True)
class SamplingSummary:
    """What one run of ``sample_videos`` did."""

    output_dir: str
    found: int  # videos found in the input folders
    sampled: int  # sampled by this run
    already_done: int  # skipped: sampled by an earlier run
    skipped_failed: int  # skipped: failed in an earlier run (retry_failed=False)
    failed: int  # failed in this run (too_short included)
    frames_written: int
    bytes_written: int
    manifest_videos: int  # lines in manifest.jsonl after this run
    failure_kinds: dict = field(default_factory=dict)  # kind -> count, this run

    def __str__(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.failure_kinds.items())) or "none"
        per_video = self.bytes_written / self.sampled if self.sampled else 0
        return (
            f"{self.found} videos found: {self.sampled} sampled, {self.already_done + self.skipped_failed} skipped "
            f"({self.already_done} done before, {self.skipped_failed} failed before), {self.failed} failed "
            f"({kinds}); {self.frames_written} frames, {self.bytes_written / 1e6:.2f} MB written "
            f"({per_video / 1e3:.1f} kB per video); manifest: {self.manifest_videos} videos in {self.output_dir}"
        )


def _finished(root: Path) -> dict[str, VideoRecord]:
    """The records of the finished video folders under ``root`` (a damaged record.json raises, naming it)."""
    done = {}
    for entry in sorted(root.iterdir()):
        record_file = entry / RECORD_NAME
        if entry.name.startswith(".") or not record_file.is_file():
            continue
        record = read_record(record_file)
        if record.video_id != entry.name:
            raise ValueError(f"{record_file}: belongs to video {record.video_id!r}, not to its folder {entry.name!r}")
        done[record.video_id] = record
    return done


def _check_params(root: Path, wanted: dict) -> None:
    stored = read_sampling(root)
    if stored is None:
        write_json_atomic(root / SAMPLING_NAME, wanted)
    elif stored != wanted:
        raise ValueError(f"{root} holds frames made with {stored}, not {wanted}: use another output folder")


def _write_index(root: Path, failures: dict[str, dict]) -> int:
    done = _finished(root)
    write_jsonl_atomic(root / MANIFEST_NAME, [done[v].to_json() for v in sorted(done)])
    write_jsonl_atomic(root / FAILURES_NAME, [failures[v] for v in sorted(failures) if v not in done])
    return len(done)


default_workers = constants.default_workers


def _check_workers(workers: int | None) -> int:
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    return workers


def sample_videos(
    video_dirs: Sequence[str | os.PathLike] | str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    num_frames: int = DEFAULT_NUM_FRAMES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    backend: str = "auto",
    workers: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    jpeg_quality: int = JPEG_QUALITY,
) -> SamplingSummary:
    """Sample every video under ``video_dirs`` into the frame store ``output_dir`` (see the module docstring).

    Raises ``videossr.procs.OutputLockedError`` when another process writes ``output_dir``, ValueError for an
    output folder that is, contains or lies in an input folder, and FileNotFoundError for a missing input folder.
    """
    params = SamplingParams(num_frames=num_frames, max_pixels=max_pixels, jpeg_quality=jpeg_quality)
    if backend != "auto":
        from videossr.sampling.video import BACKENDS

        if backend not in BACKENDS:
            raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
    workers = _check_workers(workers)
    if isinstance(video_dirs, (str, os.PathLike)):
        video_dirs = [video_dirs]
    for d in video_dirs:
        if not Path(d).is_dir():
            raise FileNotFoundError(f"video folder {d} does not exist or is not a folder")
    root = Path(os.path.abspath(output_dir))
    check_output_folder(root, video_dirs)

    with output_lock(root, what=_LOCK_WHAT) as lock:
        return _sample_locked(video_dirs, root, params, backend, workers, retry_failed, progress, lock)


def _sample_locked(video_dirs, root: Path, params: SamplingParams, backend: str, workers: int, retry_failed: bool,
                   progress: bool, lock) -> SamplingSummary:
    sources = find_videos(video_dirs)
    _check_params(root, params.to_json())
    remove_temporaries(root)
    done = _finished(root)
    failures = {f["video_id"]: f for f in read_failures(root)}
    todo, already, skipped_failed = [], 0, 0
    for s in sources:
        if s.video_id in done:
            already += 1
        elif s.video_id in failures and not retry_failed:
            skipped_failed += 1
        else:
            todo.append(s)
    logger.info("%d videos found, %d to sample (%d done before, %d failed before) into %s",
                len(sources), len(todo), already, skipped_failed, root)

    sampled = frames = nbytes = 0
    kinds: Counter = Counter()
    new_failures: dict[str, dict] = {}

    def collect(result: dict) -> None:
        nonlocal sampled, frames, nbytes
        if result["ok"]:
            sampled += 1
            frames += len(result["record"]["frames"])
            nbytes += result["bytes"]
            failures.pop(result["record"]["video_id"], None)
        else:
            f = result["failure"]
            kinds[f["kind"]] += 1
            new_failures[f["video_id"]] = f
            logger.warning("%s: %s: %s", f["source"], f["kind"], f["message"])

    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="sampling", unit="video", disable=not progress)
    try:
        if workers == 1 or len(todo) <= 1:
            threads = workers if len(todo) == 1 else 1
            for s in todo:
                collect(_job(s, root, params, backend, threads))
                bar.update(1)
        else:
            # up to LOCAL_SLOTS of the slots are threads of this process, the others worker processes (_run_slots)
            slots = min(workers, len(todo))
            local = min(slots, LOCAL_SLOTS)
            if slots == local:
                _run_slots(None, 0, todo, local, workers, root, params, backend, collect, bar)
            else:
                with worker_pool(slots - local, lock=lock, initializer=_init_worker) as pool:
                    _run_slots(pool, slots - local, todo, local, workers, root, params, backend, collect, bar)
    finally:
        bar.close()
        failures.update(new_failures)
        manifest_videos = _write_index(root, failures)

    summary = SamplingSummary(
        output_dir=str(root),
        found=len(sources),
        sampled=sampled,
        already_done=already,
        skipped_failed=skipped_failed,
        failed=sum(kinds.values()),
        frames_written=frames,
        bytes_written=nbytes,
        manifest_videos=manifest_videos,
        failure_kinds=dict(sorted(kinds.items())),
    )
    logger.info("%s", summary)
    return summary


# Slots that run as threads of the sampling process. Decoding, scaling and JPEG encoding let go of the GIL for about
# nine tenths of a video's time, so two videos in threads run as fast as in two processes (measured with
# benchmarks/bench_sampling.py), without starting an interpreter and importing the decoders in a worker (about 0.2 s
# of CPU each); beyond two, the Python parts of the threads would start to queue for the GIL, so further slots are
# worker processes.
LOCAL_SLOTS = 2


def _run_slots(pool: cf.ProcessPoolExecutor | None, procs: int, todo: list[VideoSource], local: int, workers: int,
               root: Path, params: SamplingParams, backend: str, collect, bar) -> None:
    """Sample ``todo`` in ``local`` threads of this process (the calling thread among them) and the ``procs`` worker
    processes of ``pool`` (None when there are none).

    Every slot takes the costliest video left when it frees up. This process starts at once, while the worker
    processes are still starting (so no core idles meanwhile); a feeder thread keeps the workers busy. Ctrl-C stops
    the video in the calling thread at once; videos in the other threads and in worker processes finish, and are
    indexed.
    """
    queue = _LongestFirst(todo)
    state = threading.Lock()
    running = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def start(source: VideoSource) -> int:
        """Count a job as running; its decoder threads."""
        nonlocal running
        with state:
            threads = _threads_for(workers, running, queue.remaining())
            running += 1
            return threads

    def finish(result: dict) -> None:
        nonlocal running
        with state:
            running -= 1
            collect(result)
            bar.update(1)

    def sample_here() -> None:
        """One slot in this process: videos one after the other until none is left."""
        while not stop.is_set():
            source = queue.pop()
            if source is None:
                return
            finish(_job(source, root, params, backend, start(source)))

    def feed() -> None:
        """Keep the worker processes busy, one video each."""
        busy: set[cf.Future] = set()
        cf.wait([pool.submit(_ready) for _ in range(procs)], return_when=cf.FIRST_COMPLETED)
        while True:
            while len(busy) < procs and not stop.is_set():
                source = queue.pop()
                if source is None:
                    break
                busy.add(pool.submit(_job, source, root, params, backend, start(source)))
            if not busy:
                return
            done, busy = cf.wait(busy, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                if not fut.cancelled():
                    finish(fut.result())

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as e:  # handed to the calling thread, which raises it
                if not stop.is_set():
                    errors.append(e)
                stop.set()

        return run

    helpers = [threading.Thread(target=guarded(sample_here), name=f"videossr-slot-{i}", daemon=True)
               for i in range(1, local)]
    if pool is not None:
        helpers.append(threading.Thread(target=guarded(feed), name="videossr-feeder", daemon=True))
    for t in helpers:
        t.start()
    try:
        sample_here()
        for t in helpers:
            t.join()
    except BaseException:
        stop.set()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # videos in progress in the workers finish
        for t in helpers:
            t.join()
        raise
    finally:
        queue.close()
    if errors:
        raise errors[0]


# ----------------------------------------------------------------------------------------------------------------------
# Stores at other sizes


def store_max_pixels(root: str | os.PathLike) -> int | None:
    """The ``max_pixels`` a store was built at (from its sampling.json); None when it has no sampling.json."""
    sampling = read_sampling(root)
    return None if sampling is None else int(sampling["max_pixels"])


@dataclass(frozen=True)
class DeriveSummary:
    """What one run of ``derive_store`` did."""

    output_dir: str
    source_dir: str
    max_pixels: int
    source_max_pixels: int
    videos: int  # in the source manifest
    derived: int  # by this run
    already_done: int  # by an earlier run
    frames_written: int
    bytes_written: int
    manifest_videos: int

    def __str__(self) -> str:
        per_video = self.bytes_written / self.derived if self.derived else 0
        return (f"{self.videos} videos in {self.source_dir} (max_pixels {self.source_max_pixels}): {self.derived} "
                f"derived at max_pixels {self.max_pixels}, {self.already_done} done before; {self.frames_written} "
                f"frames, {self.bytes_written / 1e6:.2f} MB written ({per_video / 1e3:.1f} kB per video); "
                f"manifest: {self.manifest_videos} videos in {self.output_dir}")


def derived_size(record: VideoRecord, max_pixels: int) -> tuple[int, int]:
    """The frame size of ``record``'s video in a store at ``max_pixels``: what sampling at that size gives (from the
    source video's size), but never larger than the frames it is derived from."""
    w, h = fit_size(record.source_width, record.source_height, max_pixels)
    if w > record.width or h > record.height:
        return record.width, record.height
    return w, h


def _derive_video(record_json: dict, source_root: Path, root: Path, max_pixels: int, quality: int,
                  same_encoding: bool) -> dict:
    """Run in a worker: write ``root/<video_id>/`` from the source store's frames, shrunk to fit ``max_pixels``."""
    from PIL import Image

    record = VideoRecord.from_json(record_json)
    width, height = derived_size(record, max_pixels)
    copy = same_encoding and (width, height) == (record.width, record.height)
    nbytes = 0
    with atomic_dir(root / record.video_id) as tmp:
        for rel in record.frames:
            src = source_root / rel
            dst = tmp / rel.rsplit("/", 1)[-1]
            try:
                if copy:  # nothing to change: the bytes sampling at this size would give
                    data = src.read_bytes()
                else:
                    with Image.open(src) as im:
                        if im.size != (record.width, record.height):
                            raise ValueError(f"it is {im.size[0]}x{im.size[1]}, its record says "
                                             f"{record.width}x{record.height}")
                        picture = im.convert("RGB")
                    if (width, height) != picture.size:
                        picture = picture.resize((width, height), Image.Resampling.BICUBIC)
                    data = encode_jpeg(picture, quality)
            except (OSError, SyntaxError, ValueError) as e:
                raise ValueError(f"frame {src} of the source store cannot be used: {e}") from None
            dst.write_bytes(data)
            nbytes += len(data)
        derived = dataclasses.replace(record, width=width, height=height)
        (tmp / RECORD_NAME).write_text(derived.to_jsonl_line(), encoding="utf-8")
        tmp.chmod(0o755)
    return {"video_id": record.video_id, "frames": record.num_frames, "bytes": nbytes}


def _derived_sampling(source: dict, max_pixels: int, quality: int) -> dict:
    out = dict(source)
    out["max_pixels"] = max_pixels
    out["jpeg_quality"] = quality
    out["derived_from"] = {k: source[k] for k in ("max_pixels", "jpeg_quality", "derived_from") if k in source}
    return out


def derive_store(
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    max_pixels: int,
    jpeg_quality: int = JPEG_QUALITY,
    workers: int | None = None,
    progress: bool = True,
) -> DeriveSummary:
    """Make a frame store at a smaller ``max_pixels`` from the finished store ``source``, without decoding videos.

    Each frame is the source JPEG shrunk (PIL bicubic, antialiased) to the size sampling at ``max_pixels`` gives
    and encoded like the sampler's (a frame already that size, at the same quality, is copied as it is). Video ids,
    timestamps, sample_fps and failures are the source's. sampling.json records the new ``max_pixels`` and
    ``derived_from`` (the source's max_pixels and quality), so videos are never sampled into a derived store. The
    output is written under its writer lock, one folder per video atomically; a rerun resumes; same source and
    arguments give byte-identical files.

    Raises ValueError when ``source`` has no sampling.json, was built at a ``max_pixels`` not larger than asked, is
    being written, is damaged, or when the folders overlap; ``videossr.procs.OutputLockedError`` when another
    process writes ``output_dir``.
    """
    params = SamplingParams(max_pixels=max_pixels, jpeg_quality=jpeg_quality)  # validates both
    workers = _check_workers(workers)
    source_root = Path(os.path.abspath(source))
    root = Path(os.path.abspath(output_dir))
    sampling = read_sampling(source_root)
    if sampling is None:
        raise ValueError(f"{source_root} has no {SAMPLING_NAME}: not a store written by the sampler, so the size "
                         f"it was built at is unknown")
    if sampling["max_pixels"] <= max_pixels:
        raise ValueError(f"{source_root} was built at max_pixels {sampling['max_pixels']}; a derived store must be "
                         f"smaller, got max_pixels {max_pixels}")
    check_output_folder(root, [source_root])
    holder = lock_holder(source_root)
    if holder is not None:
        raise ValueError(f"{source_root} is still being written ({describe_holder(holder)}); derive from it once "
                         f"it is finished")
    records = read_manifest(source_root)
    source_failures = read_failures(source_root)
    wanted = _derived_sampling(sampling, params.max_pixels, params.jpeg_quality)
    same_encoding = sampling.get("jpeg_quality") == jpeg_quality

    with output_lock(root, what="frame store derivation") as lock:
        _check_params(root, wanted)
        remove_temporaries(root)
        done = _finished(root)
        todo = [r for r in records if r.video_id not in done]
        logger.info("%d videos in %s, %d to derive at max_pixels %d into %s", len(records), source_root, len(todo),
                    max_pixels, root)
        frames = nbytes = 0
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="deriving", unit="video", disable=not progress)
        args = (source_root, root, params.max_pixels, params.jpeg_quality, same_encoding)
        try:
            if workers == 1 or len(todo) <= 1:
                results = (_derive_video(r.to_json(), *args) for r in todo)
                for result in results:
                    frames, nbytes = frames + result["frames"], nbytes + result["bytes"]
                    bar.update(1)
            else:
                with worker_pool(min(workers, len(todo)), lock=lock) as pool:
                    futures = [pool.submit(_derive_video, r.to_json(), *args) for r in todo]
                    try:
                        for fut in cf.as_completed(futures):
                            result = fut.result()
                            frames, nbytes = frames + result["frames"], nbytes + result["bytes"]
                            bar.update(1)
                    except BaseException:
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise
        finally:
            bar.close()
            manifest_videos = _write_index(root, {f["video_id"]: f for f in source_failures})
    summary = DeriveSummary(
        output_dir=str(root), source_dir=str(source_root), max_pixels=max_pixels,
        source_max_pixels=int(sampling["max_pixels"]), videos=len(records), derived=len(todo),
        already_done=len(records) - len(todo), frames_written=frames, bytes_written=nbytes,
        manifest_videos=manifest_videos,
    )
    logger.info("%s", summary)
    return summary


def ensure_store(
    output_dir: str | os.PathLike,
    *,
    max_pixels: int,
    store: str | os.PathLike | None = None,
    video_dirs: Sequence[str | os.PathLike] | str | os.PathLike | None = None,
    num_frames: int = DEFAULT_NUM_FRAMES,
    jpeg_quality: int = JPEG_QUALITY,
    backend: str = "auto",
    workers: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
) -> Path:
    """The frame store to read at ``max_pixels``; give exactly one of ``store`` (an existing store) or ``video_dirs``.

    - ``store`` built at exactly ``max_pixels`` (its sampling.json says so): returned as it is; nothing is written.
    - ``store`` built larger: a store at ``max_pixels`` is derived from it into ``output_dir`` (``derive_store``,
      resumable) and ``output_dir`` is returned.
    - ``store`` built smaller: ValueError naming both sizes (frames are never enlarged).
    - ``store`` without sampling.json (not written by the sampler, e.g. a synthetic test store): returned as it
      is when all its frames fit ``max_pixels`` (a warning is logged: its build size is unknown), else ValueError.
    - ``video_dirs``: the videos are sampled at ``max_pixels`` into ``output_dir`` (``sample_videos``, resumable).
    - ``store`` that a sampler is still writing: ValueError naming that process.

    ``num_frames`` must match the store's; ``jpeg_quality`` applies to what is written (a reused store keeps its own).
    """
    if (store is None) == (video_dirs is None):
        raise ValueError(f"give exactly one of store and video_dirs (store={store!r}, video_dirs={video_dirs!r})")
    output_dir = Path(os.path.abspath(output_dir))
    if video_dirs is not None:
        sample_videos(video_dirs, output_dir, num_frames=num_frames, max_pixels=max_pixels, backend=backend,
                      workers=workers, retry_failed=retry_failed, progress=progress, jpeg_quality=jpeg_quality)
        return output_dir
    store = Path(os.path.abspath(store))
    sampling = read_sampling(store)
    if sampling is None:
        records = read_manifest(store)
        largest = max(records, key=lambda r: r.width * r.height, default=None)
        if largest is not None and largest.width * largest.height > max_pixels:
            raise ValueError(
                f"{store} has no {SAMPLING_NAME}, so the size it was built at is unknown, and its frames (up to "
                f"{largest.width}x{largest.height} = {largest.width * largest.height} pixels) exceed max_pixels "
                f"{max_pixels}")
        logger.warning("%s has no %s (not written by the sampler); its frames fit max_pixels %d, using it as it is",
                       store, SAMPLING_NAME, max_pixels)
        return store
    holder = lock_holder(store)
    if holder is not None:
        raise ValueError(f"{store} is still being written ({describe_holder(holder)}); use it once it is finished")
    if sampling["num_frames"] != num_frames:
        raise ValueError(f"{store} holds {sampling['num_frames']} frames per video, not the {num_frames} asked for")
    built = int(sampling["max_pixels"])
    if built == max_pixels:
        return store
    if built < max_pixels:
        raise ValueError(
            f"{store} was built at max_pixels {built}, smaller than the max_pixels {max_pixels} asked for; frames are "
            f"never enlarged: sample the videos again at max_pixels {max_pixels}, or ask for at most {built}")
    derive_store(store, output_dir, max_pixels=max_pixels, jpeg_quality=jpeg_quality, workers=workers,
                 progress=progress)
    return output_dir

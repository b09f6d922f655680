"""The frame sampler: turn folders of raw videos into the frame store the pretext tasks read.

``sample_videos(video_dirs, output_dir)`` finds every video under the folders (recursively; the extensions of
``constants.VIDEO_EXTENSIONS`` in any case), takes ``num_frames`` frames per video on the clock of
``videossr.sampling.store`` (the frame on screen at the centre of each of ``num_frames`` equal bins of the 5%..95%
span), shrinks them to fit ``max_pixels`` and writes::

    ROOT/sampling.json           the sampling parameters; a rerun with others is refused
    ROOT/manifest.jsonl          one VideoRecord per sampled video, sorted by video_id
    ROOT/failures.jsonl          one line per video that could not be sampled: video_id, source, kind, message
    ROOT/<video_id>/000.jpg ...  the frames, plus record.json: the video's manifest line

A failure's kind is one of ``videossr.sampling.video.ERROR_KINDS`` (``too_short``: fewer than ``num_frames``
distinct frames in the span) or ``unexpected`` (logged with its traceback); the batch goes on either way.

``sample_video`` is the work of one video: decode, write the JPEGs into a new temporary folder of ROOT, return the
record. It runs here (``workers=1``), in worker processes that die with this one (``executor="local"``) or as Ray
tasks (``executor="ray"``; with ``RAY_ADDRESS`` every node must see the videos and ROOT at the same paths, checked
before any decoding), largest files first (``videossr.procs.run_jobs``). This process alone writes the store,
under its writer lock (``videossr.procs.output_lock``): it renames finished folders to ``ROOT/<video_id>`` and
writes the manifest. Same inputs give byte-identical stores, whatever the executor. A folder ``ROOT/<video_id>``
exists only once complete; the manifest and failures are rebuilt from the folders at the end of a run, also when
it is interrupted (the videos in progress are dropped at once). A rerun skips finished videos, and failed ones
unless ``retry_failed``. Only temporaries with this program's prefix are removed; the output folder may not be,
hold or lie in an input folder.

``derive_store(source, root, max_pixels=...)`` makes a smaller store from a finished one by shrinking its JPEGs
(no video decoded); ``ensure_store`` (what a build calls) reuses, derives or samples a store.

A video's id is ``<slug>-<hash>``: the slug is its path relative to its input folder without the extension, every
character outside ``A-Za-z0-9._-`` replaced by ``_`` (at most 60), the hash the first 10 hex digits of the SHA-1
of ``<folder key>/<relative path>``; the folder key is the input folder's name, with as many parent names as
needed to tell apart input folders that share a name.

Usage::

    summary = sample_videos(["data/demo"], "data/frames", num_frames=48, max_pixels=512 * 512, workers=4)
    summary = sample_videos(["/shared/videos"], "/shared/frames", executor="ray")   # RAY_ADDRESS=... for a cluster
    train_store = ensure_store("data/frames_256", max_pixels=256 * 256, store="data/frames")  # derived, not decoded
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from videossr import constants
from videossr.io import TMP_PREFIX, TMP_SUFFIX, check_output_folder, remove_temporaries, write_json_atomic, \
    write_jsonl_atomic
from videossr.procs import EXECUTORS, describe_holder, lock_holder, output_lock, run_jobs
from videossr.sampling.store import (FAILURES_NAME, MANIFEST_NAME, RECORD_NAME, SAMPLING_NAME, VideoRecord,
                                     encode_jpeg, read_failures, read_manifest, read_record, read_sampling)
from videossr.sampling.video import BACKENDS, VideoDecodeError, VideoInfo, fit_size, probe_and_decode

logger = logging.getLogger(__name__)

DEFAULT_NUM_FRAMES = constants.NUM_FRAMES
DEFAULT_MAX_PIXELS = constants.EVAL_MAX_PIXELS  # a store that serves VIUBench too; builds derive smaller ones
JPEG_QUALITY = constants.JPEG_QUALITY
SPAN = (0.05, 0.95)  # the part of the video frames are sampled from
default_workers = constants.default_workers


@dataclass(frozen=True)
class VideoSource:
    """One input video: where it is and the id it gets in the frame store."""

    path: Path  # absolute
    folder_key: str  # tells its input folder apart from the other input folders
    relpath: str  # relative to its input folder, "/" separators

    @property
    def video_id(self) -> str:
        return video_id_for(self.folder_key, self.relpath)


def video_id_for(folder_key: str, relpath: str) -> str:
    """The video id rule (see the module docstring)."""
    if not relpath:
        raise ValueError("relpath must be non-empty")
    stem = relpath.rsplit(".", 1)[0] if "." in relpath.rsplit("/", 1)[-1] else relpath
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", stem).strip("._")[:60] or "video"
    return f"{slug}-{hashlib.sha1(f'{folder_key}/{relpath}'.encode('utf-8')).hexdigest()[:10]}"


def _folder_keys(folders: Sequence[Path]) -> list[str]:
    """For each folder, the shortest tail of its path (at least the name) that no other folder shares."""
    parts = [f.parts[1:] if f.is_absolute() else f.parts for f in folders]
    keys = []
    for i, p in enumerate(parts):
        depth = 1
        while depth < len(p) and any(j != i and tuple(q[-depth:]) == tuple(p[-depth:]) for j, q in enumerate(parts)):
            depth += 1
        keys.append("/".join(p[-depth:]) if p else "root")
    return keys


def find_videos(video_dirs: Sequence[str | os.PathLike] | str | os.PathLike) -> list[VideoSource]:
    """Every video file under the folders (recursive, hidden entries skipped), sorted by video id; a file reached
    from two input folders is listed once. FileNotFoundError names a folder that does not exist."""
    if isinstance(video_dirs, (str, os.PathLike)):
        video_dirs = [video_dirs]
    folders: list[Path] = []
    for d in video_dirs:
        folder = Path(os.path.abspath(d))
        if not folder.is_dir():
            raise FileNotFoundError(f"video folder {d} does not exist or is not a folder")
        if folder not in folders:
            folders.append(folder)
    seen: set[Path] = set()
    walked: set[str] = set()
    found: list[VideoSource] = []
    for folder, key in zip(folders, _folder_keys(folders)):
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            if os.path.realpath(dirpath) in walked:  # a symlink loop, or a folder already searched
                dirnames[:] = []
                continue
            walked.add(os.path.realpath(dirpath))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or os.path.splitext(name)[1].lower() not in constants.VIDEO_EXTENSIONS:
                    continue
                path = Path(dirpath) / name
                if path.resolve() not in seen:
                    seen.add(path.resolve())
                    found.append(VideoSource(path=path, folder_key=key, relpath=path.relative_to(folder).as_posix()))
    clash = [i for i, n in Counter(s.video_id for s in found).items() if n > 1]
    if clash:  # only with a SHA-1 prefix collision
        raise ValueError(f"video id collision: {clash}")
    return sorted(found, key=lambda s: s.video_id)


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


def frame_names(video_id: str, num_frames: int) -> list[str]:
    """The frame files of a video, relative to the store root: ``<video_id>/000.jpg`` ..."""
    width = max(3, len(str(num_frames - 1)))
    return [f"{video_id}/{i:0{width}d}.jpg" for i in range(num_frames)]


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


def decode_video(source: VideoSource, params: SamplingParams, backend: str = "auto") -> tuple[VideoRecord, list]:
    """The record of one video and its frames (arrays). Raises VideoDecodeError."""
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

    decoded = probe_and_decode(source.path, times_for, backend=backend, max_pixels=params.max_pixels)
    info = header[0]  # the header the times come from (the decoding backend may be a later one)
    stamps = [round(float(t), 6) for t in decoded.timestamps]
    if len(set(stamps)) < n:
        raise VideoDecodeError("too_short", source.path,
                               f"only {len(set(stamps))} distinct frames at the {n} sample times of the 5%..95% span")
    h, w = decoded.frames[0].shape[:2]
    record = VideoRecord(video_id=source.video_id, source=str(source.path),
                         frames=tuple(frame_names(source.video_id, n)), timestamps=tuple(stamps),
                         sample_fps=sample_fps_for(info.duration, n), duration=float(info.duration), width=int(w),
                         height=int(h), source_width=int(info.width), source_height=int(info.height),
                         decoder=decoded.backend)
    return record, decoded.frames


def _write_video(root: str | os.PathLike, record: VideoRecord, jpegs: Iterable[bytes]) -> dict:
    """A video's JPEGs and record.json in a new temporary folder of ``root`` (removed if interrupted), for the store's
    writer to rename (``_publish``)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{record.video_id}-", suffix=TMP_SUFFIX, dir=root))
    try:
        nbytes = 0
        for name, data in zip(record.frames, jpegs):
            (tmp / name.rsplit("/", 1)[1]).write_bytes(data)
            nbytes += len(data)
        (tmp / RECORD_NAME).write_text(record.to_jsonl_line(), encoding="utf-8")
        tmp.chmod(0o755)  # temporary folders are private; a finished one is as readable as the files in it
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"ok": True, "record": record.to_json(), "folder": tmp.name, "bytes": nbytes}


def sample_video(source: VideoSource, root: str, params: SamplingParams, backend: str = "auto") -> dict:
    """The work of one video (here, in a worker process or a Ray task): ``_write_video``'s result, or
    ``{"ok": False, "failure": ...}`` for a video that cannot be sampled (never raises for a bad video)."""
    try:
        record, frames = decode_video(source, params, backend)
    except VideoDecodeError as e:
        kind, message = e.kind, e.message
    except (OSError, ValueError, RuntimeError, MemoryError) as e:  # one odd file must not stop the batch
        logger.warning("unexpected error on %s", source.path, exc_info=True)
        kind, message = "unexpected", f"{type(e).__name__}: {e}"
    else:
        return _write_video(root, record, (encode_jpeg(frame, params.jpeg_quality) for frame in frames))
    return {"ok": False, "failure": {"video_id": source.video_id, "source": str(source.path), "kind": kind,
                                     "message": message}}


def _publish(root: Path, result: dict) -> None:
    """Rename a finished video's temporary folder to ``root/<video_id>`` (the store's one writer does this)."""
    final = root / result["record"]["video_id"]
    if final.exists():
        raise FileExistsError(f"refusing to overwrite existing directory {final}")
    os.rename(root / result["folder"], final)


# ----------------------------------------------------------------------------------------------------------------------
# The store's writer


def _finished(root: Path) -> dict[str, VideoRecord]:
    """The records of the finished video folders under ``root`` (a damaged record.json raises, naming it)."""
    done = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or not (entry / RECORD_NAME).is_file():
            continue
        record = read_record(entry / RECORD_NAME)
        if record.video_id != entry.name:
            raise ValueError(f"{entry / RECORD_NAME}: belongs to video {record.video_id!r}, not to its folder "
                             f"{entry.name!r}")
        done[record.video_id] = record
    return done


@contextlib.contextmanager
def _store_writer(root: Path, what: str, wanted: dict) -> Iterator[tuple]:
    """Under ``root``'s writer lock, with ``wanted`` sampling parameters (the store's own, or refused) and no
    temporaries left: yields the lock and the finished videos' records."""
    with output_lock(root, what=what) as lock:
        stored = read_sampling(root)
        if stored is None:
            write_json_atomic(root / SAMPLING_NAME, wanted)
        elif stored != wanted:
            raise ValueError(f"{root} holds frames made with {stored}, not {wanted}: use another output folder")
        remove_temporaries(root)
        yield lock, _finished(root)


def _collect(root: Path, results: Iterator[dict], total: int, failures: dict, desc: str, progress: bool) -> dict:
    """Publish each finished video of ``results`` and note each failure (``failures``: video id -> line); at the
    end, also on Ctrl-C or an error, the manifest and failures files are rewritten from what is on disk."""
    from tqdm import tqdm

    out = {"done": 0, "frames": 0, "bytes": 0, "kinds": Counter()}
    try:
        with contextlib.closing(results), tqdm(total=total, desc=desc, unit="video", disable=not progress) as bar:
            for result in results:
                if result["ok"]:
                    _publish(root, result)
                    out["done"] += 1
                    out["frames"] += len(result["record"]["frames"])
                    out["bytes"] += result["bytes"]
                    failures.pop(result["record"]["video_id"], None)
                else:
                    f = failures[result["failure"]["video_id"]] = result["failure"]
                    out["kinds"][f["kind"]] += 1
                    logger.warning("%s: %s: %s", f["source"], f["kind"], f["message"])
                bar.update(1)
    finally:
        remove_temporaries(root)
        done = _finished(root)
        write_jsonl_atomic(root / MANIFEST_NAME, [done[v].to_json() for v in sorted(done)])
        write_jsonl_atomic(root / FAILURES_NAME, [failures[v] for v in sorted(failures) if v not in done])
        out["manifest_videos"] = len(done)
    return out


def _check_workers(workers: int | None) -> int:
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    return workers


@dataclass(frozen=True)
class SamplingSummary:
    """What one run of ``sample_videos`` did."""

    output_dir: str
    found: int  # videos in the input folders
    sampled: int  # by this run
    already_done: int  # by an earlier run
    skipped_failed: int  # failed in an earlier run (retry_failed=False)
    failed: int  # in this run (too_short included)
    frames_written: int
    bytes_written: int
    manifest_videos: int  # lines in manifest.jsonl after this run
    failure_kinds: dict = field(default_factory=dict)  # kind -> count, this run

    def __str__(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.failure_kinds.items())) or "none"
        per_video = self.bytes_written / self.sampled if self.sampled else 0
        return (f"{self.found} videos found: {self.sampled} sampled, {self.already_done + self.skipped_failed} "
                f"skipped ({self.already_done} done before, {self.skipped_failed} failed before), {self.failed} "
                f"failed ({kinds}); {self.frames_written} frames, {self.bytes_written / 1e6:.2f} MB written "
                f"({per_video / 1e3:.1f} kB per video); manifest: {self.manifest_videos} videos in {self.output_dir}")


def sample_videos(video_dirs: Sequence[str | os.PathLike] | str | os.PathLike, output_dir: str | os.PathLike, *,
                  num_frames: int = DEFAULT_NUM_FRAMES, max_pixels: int = DEFAULT_MAX_PIXELS, backend: str = "auto",
                  workers: int | None = None, retry_failed: bool = False, progress: bool = True,
                  jpeg_quality: int = JPEG_QUALITY, executor: str = "local") -> SamplingSummary:
    """Sample every video under ``video_dirs`` into the frame store ``output_dir`` (see the module docstring).

    ``workers``: videos sampled at a time (local), or the CPUs of a local Ray instance. Raises
    ``videossr.procs.OutputLockedError`` when another process writes ``output_dir``, ValueError for an output folder
    that is, holds or lies in an input folder (or, with Ray, that a node cannot see), FileNotFoundError for a
    missing input folder."""
    params = SamplingParams(num_frames=num_frames, max_pixels=max_pixels, jpeg_quality=jpeg_quality)
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    workers = _check_workers(workers)
    sources = find_videos(video_dirs)
    root = Path(os.path.abspath(output_dir))
    check_output_folder(root, [video_dirs] if isinstance(video_dirs, (str, os.PathLike)) else video_dirs)

    with _store_writer(root, "frame sampler", params.to_json()) as (lock, done):
        failures = {f["video_id"]: f for f in read_failures(root)}
        todo = [s for s in sources if s.video_id not in done and (retry_failed or s.video_id not in failures)]
        already = sum(s.video_id in done for s in sources)
        logger.info("%d videos found, %d to sample (%d done before, %d failed before) into %s",
                    len(sources), len(todo), already, len(sources) - len(todo) - already, root)

        def size(s: VideoSource) -> int:
            with contextlib.suppress(OSError):
                return os.stat(s.path).st_size
            return 0

        todo.sort(key=lambda s: (-size(s), s.video_id))  # largest first: no long video ends the run alone
        first_of_folder = {s.folder_key: s.path for s in reversed(todo)}  # with Ray, every node must see them
        results = run_jobs(sample_video, ((s, str(root), params, backend) for s in todo), executor=executor,
                           workers=min(workers, max(1, len(todo))), lock=lock,
                           ray_check=(root, *first_of_folder.values()))
        out = _collect(root, results, len(todo), failures, "sampling", progress)
    summary = SamplingSummary(output_dir=str(root), found=len(sources), sampled=out["done"], already_done=already,
                              skipped_failed=len(sources) - len(todo) - already, failed=sum(out["kinds"].values()),
                              frames_written=out["frames"], bytes_written=out["bytes"],
                              manifest_videos=out["manifest_videos"], failure_kinds=dict(sorted(out["kinds"].items())))
    logger.info("%s", summary)
    return summary


# ----------------------------------------------------------------------------------------------------------------------
# Stores at other sizes


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


def _derive_video(record_json: dict, source_root: Path, root: Path, max_pixels: int, quality: int,
                  same_encoding: bool) -> dict:
    """The work of one video of ``derive_store``: its frames from the source store, shrunk to the size sampling at
    ``max_pixels`` gives (never larger than they are)."""
    from PIL import Image

    record = VideoRecord.from_json(record_json)
    width, height = fit_size(record.source_width, record.source_height, max_pixels)
    if width > record.width or height > record.height:
        width, height = record.width, record.height
    copy = same_encoding and (width, height) == (record.width, record.height)

    def jpegs() -> Iterator[bytes]:
        for rel in record.frames:
            try:
                if copy:  # nothing to change: the bytes sampling at this size would give
                    yield (source_root / rel).read_bytes()
                    continue
                with Image.open(source_root / rel) as im:
                    if im.size != (record.width, record.height):
                        raise ValueError(f"it is {im.size[0]}x{im.size[1]}, its record says "
                                         f"{record.width}x{record.height}")
                    picture = im.convert("RGB")
                if (width, height) != picture.size:
                    picture = picture.resize((width, height), Image.Resampling.BICUBIC)
            except (OSError, SyntaxError, ValueError) as e:
                raise ValueError(f"frame {source_root / rel} of the source store cannot be used: {e}") from None
            yield encode_jpeg(picture, quality)

    return _write_video(root, dataclasses.replace(record, width=width, height=height), jpegs())


def derive_store(source: str | os.PathLike, output_dir: str | os.PathLike, *, max_pixels: int,
                 jpeg_quality: int = JPEG_QUALITY, workers: int | None = None, progress: bool = True) -> DeriveSummary:
    """Make a frame store at a smaller ``max_pixels`` from the finished store ``source``, without decoding videos.

    Each frame is the source JPEG shrunk (PIL bicubic) to the size sampling at ``max_pixels`` gives and encoded as
    the sampler encodes (one already that size, at the same quality, is copied). Ids, timestamps, sample_fps and
    failures are the source's; sampling.json records ``derived_from``. Written like a sampled store (lock, atomic
    folders, resumable, byte-identical on rerun). ValueError when ``source`` has no sampling.json, is not larger,
    is being written or damaged, or when the folders overlap; OutputLockedError when ``output_dir`` is in use."""
    params = SamplingParams(max_pixels=max_pixels, jpeg_quality=jpeg_quality)  # validates both
    workers = _check_workers(workers)
    source_root, root = Path(os.path.abspath(source)), Path(os.path.abspath(output_dir))
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
    failures = {f["video_id"]: f for f in read_failures(source_root)}
    wanted = {**sampling, "max_pixels": max_pixels, "jpeg_quality": jpeg_quality,
              "derived_from": {k: sampling[k] for k in ("max_pixels", "jpeg_quality", "derived_from") if k in sampling}}

    with _store_writer(root, "frame store derivation", wanted) as (lock, done):
        todo = [r for r in records if r.video_id not in done]
        logger.info("%d videos in %s, %d to derive at max_pixels %d into %s", len(records), source_root, len(todo),
                    max_pixels, root)
        args = (source_root, root, params.max_pixels, params.jpeg_quality, sampling.get("jpeg_quality") == jpeg_quality)
        results = run_jobs(_derive_video, ((r.to_json(), *args) for r in todo),
                           workers=min(workers, max(1, len(todo))), lock=lock)
        out = _collect(root, results, len(todo), failures, "deriving", progress)
    summary = DeriveSummary(output_dir=str(root), source_dir=str(source_root), max_pixels=max_pixels,
                            source_max_pixels=int(sampling["max_pixels"]), videos=len(records), derived=len(todo),
                            already_done=len(records) - len(todo), frames_written=out["frames"],
                            bytes_written=out["bytes"], manifest_videos=out["manifest_videos"])
    logger.info("%s", summary)
    return summary


def ensure_store(output_dir: str | os.PathLike, *, max_pixels: int, store: str | os.PathLike | None = None,
                 video_dirs: Sequence[str | os.PathLike] | str | os.PathLike | None = None,
                 num_frames: int = DEFAULT_NUM_FRAMES, jpeg_quality: int = JPEG_QUALITY, backend: str = "auto",
                 workers: int | None = None, retry_failed: bool = False, progress: bool = True,
                 executor: str = "local") -> Path:
    """The frame store to read at ``max_pixels``; give exactly one of ``store`` (an existing store) or ``video_dirs``.

    ``video_dirs``: sampled at ``max_pixels`` into ``output_dir`` (``sample_videos`` with ``executor``). ``store``
    built at exactly ``max_pixels``: returned as it is; built larger: derived into ``output_dir`` (locally); built
    smaller, still being written, or holding another ``num_frames``: ValueError. A store without sampling.json (not
    the sampler's, e.g. a synthetic test store) is returned as it is when its frames fit ``max_pixels`` (with a
    warning), else ValueError. ``jpeg_quality`` applies to what is written."""
    if (store is None) == (video_dirs is None):
        raise ValueError(f"give exactly one of store and video_dirs (store={store!r}, video_dirs={video_dirs!r})")
    output_dir = Path(os.path.abspath(output_dir))
    if video_dirs is not None:
        sample_videos(video_dirs, output_dir, num_frames=num_frames, max_pixels=max_pixels, backend=backend,
                      workers=workers, retry_failed=retry_failed, progress=progress, jpeg_quality=jpeg_quality,
                      executor=executor)
        return output_dir
    store = Path(os.path.abspath(store))
    sampling = read_sampling(store)
    if sampling is None:
        largest = max(read_manifest(store), key=lambda r: r.width * r.height, default=None)
        if largest is not None and largest.width * largest.height > max_pixels:
            raise ValueError(f"{store} has no {SAMPLING_NAME}, so the size it was built at is unknown, and its frames "
                             f"(up to {largest.width}x{largest.height} = {largest.width * largest.height} pixels) "
                             f"exceed max_pixels {max_pixels}")
        logger.warning("%s has no %s (not written by the sampler); its frames fit max_pixels %d, using it as it is",
                       store, SAMPLING_NAME, max_pixels)
        return store
    holder = lock_holder(store)
    if holder is not None:
        raise ValueError(f"{store} is still being written ({describe_holder(holder)}); use it once it is finished")
    if sampling["num_frames"] != num_frames:
        raise ValueError(f"{store} holds {sampling['num_frames']} frames per video, not the {num_frames} asked for")
    built = int(sampling["max_pixels"])
    if built < max_pixels:
        raise ValueError(f"{store} was built at max_pixels {built}, smaller than the max_pixels {max_pixels} asked "
                         f"for; frames are never enlarged: sample the videos again at max_pixels {max_pixels}, or ask "
                         f"for at most {built}")
    if built > max_pixels:
        derive_store(store, output_dir, max_pixels=max_pixels, jpeg_quality=jpeg_quality, workers=workers,
                     progress=progress)
        return output_dir
    return store

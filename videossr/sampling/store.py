"""The frame store's layout and manifest, and the readers that check them.

The frame sampler (``videossr.sampling.sampler``) writes, under its output directory ``ROOT``::

    ROOT/manifest.jsonl        one JSON line per sampled video (a ``VideoRecord``), sorted by video_id
    ROOT/failures.jsonl        one JSON line per video that could not be sampled (video_id, source, kind, message)
    ROOT/<video_id>/000.jpg    the sampled frames, in time order
    ROOT/<video_id>/record.json  that video's manifest line (a folder holding it is complete; used to resume)
    ROOT/sampling.json         the sampling parameters, max_pixels included (a store is never extended with other
                               parameters)

The pretext tasks read only this, through ``TaskContext`` / ``load_frame`` / ``frame_path`` below: they never
decode videos.

Damage is reported, never absorbed. ``read_manifest`` raises ValueError naming the file and line for a line that
is cut short or is not JSON (the last one included: the manifest is written whole, so a torn line is damage, not an
interrupted append), for a line missing fields or holding bad values, and for a video listed twice (which would
skew the task mix). ``read_record`` and ``read_sampling`` name the file when it is empty or unreadable.
``verify_store(root)`` checks the whole store: every frame of the manifest is there and is a whole JPEG (start and
end markers; ``decode=True`` also decodes it), every record.json agrees with its manifest line, no finished video
folder is missing from the manifest, and the records agree with sampling.json; it raises ``StoreDamagedError``
naming the first few problems and their count.

The clock. Frames are sampled at the centres of ``num_frames`` equal bins of the 5%..95% span of the video, so
the real spacing between consecutive frames is ``span / num_frames`` seconds and ``sample_fps`` is its inverse.
On the model's clock (the one Qwen3-VL prints as timestamps for a frame list, and the one grounding answers use)
frame ``i`` sits at ``i / sample_fps`` seconds, i.e. seconds since the start of the sampled span; frame ``i``
covers ``[i / sample_fps, (i + 1) / sample_fps)``. ``timestamps`` records where each frame really is in the
source video (seconds from its start), for auditing.

Usage::

    records = read_manifest("data/frames")
    report = verify_store("data/frames")        # StoreDamagedError if anything is missing or broken
    print(report)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from videossr.constants import JPEG_OPTIONS, JPEG_QUALITY
from videossr.io import dumps_jsonl_line, read_jsonl_lines

MANIFEST_NAME = "manifest.jsonl"
FAILURES_NAME = "failures.jsonl"
RECORD_NAME = "record.json"
SAMPLING_NAME = "sampling.json"


@dataclass(frozen=True)
class VideoRecord:
    """One sampled video, as a line of ``manifest.jsonl``."""

    video_id: str  # stable, unique, filesystem-safe; derived from the video's path relative to its input folder
    source: str  # path of the source video
    frames: tuple[str, ...]  # frame files, relative to the frame store root
    timestamps: tuple[float, ...]  # seconds in the source video of each sampled frame
    sample_fps: float  # 1 / real spacing of the sampled frames (see the module docstring)
    duration: float  # seconds
    width: int  # size of the stored frames
    height: int
    source_width: int  # size of the source video as a player shows it (rotation applied)
    source_height: int
    decoder: str  # backend that decoded it: torchcodec | decord | pyav

    def __post_init__(self) -> None:
        if not self.video_id:
            raise ValueError("video_id must be non-empty")
        if len(self.frames) != len(self.timestamps):
            raise ValueError(
                f"{self.video_id}: {len(self.frames)} frames but {len(self.timestamps)} timestamps"
            )
        if not self.sample_fps > 0:
            raise ValueError(f"{self.video_id}: sample_fps must be > 0, got {self.sample_fps!r}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"{self.video_id}: bad frame size {self.width}x{self.height}")

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def frame_paths(self, root: str | os.PathLike) -> list[Path]:
        """Absolute paths of the frames, given the frame store root."""
        root = Path(root).resolve()
        return [root / f for f in self.frames]

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["frames"] = list(self.frames)
        d["timestamps"] = list(self.timestamps)
        d["num_frames"] = self.num_frames
        return d

    def check_inside_store(self) -> None:
        """ValueError unless every frame is a relative path inside the store (what a store on disk must hold)."""
        for f in self.frames:
            if not isinstance(f, str) or not f or f.startswith("/") or ".." in PurePosixPath(f).parts:
                raise ValueError(f"video record {self.video_id!r}: a frame must be a path inside the store, "
                                 f"got {f!r}")

    @classmethod
    def from_json(cls, d: dict) -> VideoRecord:
        """A record from its JSON object; ValueError naming the missing fields or the bad value."""
        if not isinstance(d, dict):
            raise ValueError(f"a video record must be a JSON object, got {type(d).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        missing = sorted(set(fields) - set(d))
        if missing:
            raise ValueError(f"video record {d.get('video_id', '?')!r} is missing the fields {missing}")
        kwargs = {k: v for k, v in d.items() if k in fields}
        for name in ("frames", "timestamps"):
            if not isinstance(kwargs[name], list):
                raise ValueError(f"video record {d['video_id']!r}: {name} must be a list, got {kwargs[name]!r:.80}")
        for name in ("video_id", "source", "decoder"):
            if not isinstance(kwargs[name], str):
                raise ValueError(f"video record {d['video_id']!r}: {name} must be a string, got {kwargs[name]!r}")
        for name in ("width", "height", "source_width", "source_height"):
            if isinstance(kwargs[name], bool) or not isinstance(kwargs[name], int):
                raise ValueError(f"video record {d['video_id']!r}: {name} must be an integer, got {kwargs[name]!r}")
        try:
            kwargs["frames"] = tuple(kwargs["frames"])
            kwargs["timestamps"] = tuple(float(t) for t in kwargs["timestamps"])
            kwargs["sample_fps"] = float(kwargs["sample_fps"])
            kwargs["duration"] = float(kwargs["duration"])
        except (TypeError, ValueError) as e:
            raise ValueError(f"video record {d['video_id']!r}: a number is not a number ({e})") from None
        return cls(**kwargs)

    def to_jsonl_line(self) -> str:
        return dumps_jsonl_line(self.to_json())


def read_manifest(root: str | os.PathLike) -> list[VideoRecord]:
    """All records of a frame store, sorted by video_id; damage raises ValueError naming the file and line.

    Raises FileNotFoundError naming the missing manifest.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no frame manifest at {path}: run `python pretext_tasks/sample_frames.py --output-dir {root}` first"
        )
    records = []
    seen: dict[str, int] = {}
    for line, obj in read_jsonl_lines(path, strict=True):
        try:
            record = VideoRecord.from_json(obj)
            record.check_inside_store()
        except ValueError as e:
            raise ValueError(f"{path}:{line}: {e}") from None
        if record.video_id in seen:
            raise ValueError(f"{path}:{line}: video {record.video_id!r} is listed again (first on line "
                             f"{seen[record.video_id]}); a video listed twice would be sampled twice as often")
        seen[record.video_id] = line
        records.append(record)
    return sorted(records, key=lambda r: r.video_id)


def read_failures(root: str | os.PathLike) -> list[dict]:
    """The failures of a frame store (none when the file is missing); damage raises ValueError naming the line."""
    path = Path(root) / FAILURES_NAME
    out = []
    seen: dict[str, int] = {}
    for line, obj in read_jsonl_lines(path, strict=True):
        if not isinstance(obj, dict) or not isinstance(obj.get("video_id"), str):
            raise ValueError(f"{path}:{line}: a failure must be a JSON object with a video_id, got {obj!r:.80}")
        if obj["video_id"] in seen:
            raise ValueError(f"{path}:{line}: video {obj['video_id']!r} is listed again (first on line "
                             f"{seen[obj['video_id']]})")
        seen[obj["video_id"]] = line
        out.append(obj)
    return out


def _read_json_object(path: Path, what: str) -> dict:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: the {what} cannot be read ({e.strerror or e})") from None
    if not data.strip():
        raise ValueError(f"{path}: the {what} is empty (damaged by a crash or a full disk?)")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: the {what} is not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: the {what} must be a JSON object, got {type(obj).__name__}")
    return obj


def read_record(path: str | os.PathLike) -> VideoRecord:
    """A video folder's ``record.json``; ValueError naming the file when it is empty, unreadable or incomplete."""
    path = Path(path)
    obj = _read_json_object(path, "video record")
    try:
        record = VideoRecord.from_json(obj)
        record.check_inside_store()
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return record


def read_sampling(root: str | os.PathLike) -> dict | None:
    """A store's ``sampling.json`` (None when the store has none); ValueError naming the file when it is damaged."""
    path = Path(root) / SAMPLING_NAME
    if not path.exists():
        return None
    obj = _read_json_object(path, "sampling parameters file")
    for key in ("num_frames", "max_pixels"):
        value = obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{path}: {key} must be a positive integer, got {value!r}")
    return obj


# ----------------------------------------------------------------------------------------------------------------------
# Checking a whole store


class StoreDamagedError(ValueError):
    """A frame store has missing or broken files; ``problems`` lists (path, what is wrong) for each."""

    def __init__(self, root: Path, problems: list[tuple[str, str]], shown: int = 5):
        self.root = root
        self.problems = problems
        listed = "; ".join(f"{p}: {why}" for p, why in problems[:shown])
        more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
        super().__init__(f"frame store {root} is damaged: {len(problems)} problem(s): {listed}{more}")


@dataclass(frozen=True)
class StoreReport:
    """What ``verify_store`` checked."""

    root: str
    videos: int
    frames: int
    bytes: int  # of the frames
    max_pixels: int | None  # from sampling.json (None when the store has none)

    def __str__(self) -> str:
        size = f"max_pixels {self.max_pixels}" if self.max_pixels else "no sampling.json"
        return (f"{self.root}: {self.videos} videos, {self.frames} frames, {self.bytes / 1e6:.1f} MB "
                f"({size}): all present and whole")


def _jpeg_problem(path: Path) -> tuple[int, str | None]:
    """(size, problem or None) of a frame file, from its size and its JPEG start and end markers."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0, "missing"
    except OSError as e:
        return 0, f"cannot be read ({e.strerror or e})"
    if not path.is_file():
        return 0, "not a file"
    if size == 0:
        return 0, "empty"
    try:
        with open(path, "rb") as f:
            head = f.read(3)
            f.seek(max(0, size - 2))
            tail = f.read(2)
    except OSError as e:
        return size, f"cannot be read ({e.strerror or e})"
    if head != b"\xff\xd8\xff":
        return size, "not a JPEG (no start marker)"
    if tail != b"\xff\xd9":
        return size, "cut short (no JPEG end marker)"
    return size, None


def verify_store(root: str | os.PathLike, *, decode: bool = False, shown: int = 5) -> StoreReport:
    """Check that a frame store is whole (see the module docstring); raises ``StoreDamagedError`` if it is not.

    ``decode=True`` also decodes every frame and checks its size against the record (slower: a full JPEG decode per
    frame instead of reading a few bytes). Manifest, record and sampling files that are damaged raise ValueError
    naming the file.
    """
    root = Path(root)
    sampling = read_sampling(root)
    records = read_manifest(root)
    problems: list[tuple[str, str]] = []
    frames = nbytes = 0
    listed = set()
    for r in records:
        listed.add(r.video_id)
        if sampling is not None:
            if r.num_frames != sampling["num_frames"]:
                problems.append((r.video_id, f"{r.num_frames} frames, sampling.json says {sampling['num_frames']}"))
            if r.width * r.height > sampling["max_pixels"]:
                problems.append((r.video_id, f"frames of {r.width}x{r.height} exceed max_pixels "
                                             f"{sampling['max_pixels']} of sampling.json"))
        record_file = root / r.video_id / RECORD_NAME
        if record_file.exists():
            try:
                on_disk = read_record(record_file)
            except ValueError as e:
                problems.append((str(record_file), str(e).split(": ", 1)[-1]))
            else:
                if on_disk != r:
                    problems.append((str(record_file), "differs from its manifest line"))
        for rel in r.frames:
            path = root / rel
            size, problem = _jpeg_problem(path)
            if problem is None and decode:
                problem = _decode_problem(path, r.width, r.height)
            if problem is not None:
                problems.append((str(path), problem))
            frames += 1
            nbytes += size
    for entry in sorted(root.iterdir()):
        if (not entry.name.startswith(".") and entry.name not in listed and entry.is_dir()
                and (entry / RECORD_NAME).exists()):
            problems.append((str(entry), "a finished video folder that the manifest does not list"))
    if problems:
        raise StoreDamagedError(root, problems, shown)
    return StoreReport(root=str(root), videos=len(records), frames=frames, bytes=nbytes,
                       max_pixels=sampling["max_pixels"] if sampling else None)


def frame_file_problem(path: str | os.PathLike) -> str | None:
    """Why the frame file ``path`` cannot be shown (None if it can): missing, empty, or not a whole decodable image.

    A JPEG is decoded at 1/8 scale, which still reads its whole compressed stream (a truncated or corrupt file is
    caught) at a fraction of a full decode's cost: what validation checks for every frame, and the trainer's dataset
    class for every frame of an item it loads.
    """
    from PIL import Image

    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        return f"missing frame {path}"
    except OSError as e:
        return f"unreadable frame {path}: {e}"
    if size == 0:
        return f"empty frame {path}"
    try:
        with Image.open(p) as im:
            if im.format == "JPEG":
                im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except Exception as e:  # noqa: BLE001 - whatever PIL raises on a broken file is this file's problem
        return f"frame {path} does not decode: {type(e).__name__}: {e}"
    return None


def _decode_problem(path: Path, width: int, height: int) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            size = im.size
    except (OSError, SyntaxError, ValueError) as e:
        return f"cannot be decoded ({e})"
    if size != (width, height):
        return f"is {size[0]}x{size[1]}, the record says {width}x{height}"
    return None


# ----------------------------------------------------------------------------------------------------------------
# Reading frames: what the pretext tasks and perturbations see of a frame store


@dataclass(frozen=True)
class TaskContext:
    """What a task may look at besides its own video."""

    frames_root: Path  # the frame store (holds manifest.jsonl)
    pool: Sequence[VideoRecord] = ()  # every sampled video, for tasks that borrow another video (e.g. Swap)


def encode_jpeg(picture: np.ndarray | Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    """A frame (uint8 HxWx3 RGB array or PIL RGB image) as JPEG bytes, with the encoder settings of every frame this
    project writes: the sampler's store, a materialised sample's new frames and the in-memory frames of a recipe row
    (equal pixels give equal bytes, and so the same pixels whichever way a sample was built)."""
    import io

    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    buf = io.BytesIO()
    picture.save(buf, format="JPEG", **{**JPEG_OPTIONS, "quality": quality})
    return buf.getvalue()


def load_frame(ctx: TaskContext, video: VideoRecord, i: int) -> np.ndarray:
    """Frame ``i`` of ``video`` as a uint8 HxWx3 RGB array."""
    with Image.open(Path(ctx.frames_root) / video.frames[i]) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def frame_path(ctx: TaskContext, video: VideoRecord, i: int) -> Path:
    """Absolute path of frame ``i`` of ``video``: how a task references a frame it leaves untouched.

    The store root is resolved once per process (frame names are plain relative paths: the manifest refuses ``..``
    and absolute names), and a video's paths are made once: a recipe row references up to 48 frames each time it is
    loaded, and validation lists the frames of every row.
    """
    return _frame_paths(str(ctx.frames_root), video.frames)[i]


@functools.lru_cache(maxsize=1024)
def _frame_paths(root: str, frames: tuple[str, ...]) -> tuple[Path, ...]:
    base = _resolved_root(root)
    return tuple(base / f for f in frames)


@functools.lru_cache(maxsize=64)
def _resolved_root(root: str) -> Path:
    return Path(root).resolve()


@functools.lru_cache(maxsize=4)
def _load_store(frames_root: str, _stamp: tuple[int, int]) -> tuple[TaskContext, dict[str, VideoRecord]]:
    records = read_manifest(frames_root)
    return TaskContext(frames_root=Path(frames_root), pool=tuple(records)), {r.video_id: r for r in records}


def store_context(frames_root: str | os.PathLike) -> tuple[TaskContext, dict[str, VideoRecord]]:
    """The frame store's task context and its records by video id, read once per process (and again if the
    manifest changes)."""
    frames_root = str(frames_root)
    st = os.stat(Path(frames_root) / MANIFEST_NAME)
    return _load_store(frames_root, (st.st_mtime_ns, st.st_size))

"""Atomic file output and JSONL helpers.

Everything VideoSSR writes goes through these: a file is written under a temporary name in its final directory and
renamed into place when complete, so an interrupted run never leaves a half-written file, and a rerun can trust that
every file it finds is whole.

Temporary names are unmistakably this program's own: ``.videossr-tmp-<final name>-<random>.tmp`` (``TMP_PREFIX``).
``is_temporary`` recognises them and ``remove_temporaries`` deletes only those, so cleaning up after a killed run
never touches a user's file, whatever it is called. Call ``remove_temporaries`` only while holding the folder's
writer lock (``videossr.procs.output_lock``): a temporary of a live writer is indistinguishable from a stale one.

Reading: ``read_jsonl`` reads a JSONL file; with ``strict=True`` (files written whole, such as manifests) any damaged
line is an error naming the file and line; otherwise (append-only logs) a torn last line left by an interrupted
append is dropped and reported in the log.

Usage::

    with atomic_path("out/result.json") as tmp:
        tmp.write_text("...")            # out/result.json appears only when the block succeeds
    write_jsonl_atomic("out/rows.jsonl", rows)
    rows = read_jsonl("out/rows.jsonl", strict=True)
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TMP_PREFIX = ".videossr-tmp-"
TMP_SUFFIX = ".tmp"
_NAME_KEEP = 80  # characters of the final name kept in a temporary name (file names are limited to 255 bytes)


def _tmp_prefix(path: Path) -> str:
    return f"{TMP_PREFIX}{path.name[:_NAME_KEEP]}-"


def is_temporary(name: str | os.PathLike) -> bool:
    """Whether a file or folder name is one of this module's temporaries (``.videossr-tmp-...tmp``)."""
    name = Path(name).name
    return name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX)


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporaries (``is_temporary``) directly inside ``folder`` and return what was removed.

    Only names this module makes are touched; nothing else in the folder is, and sub-folders are not searched.
    Call it only while holding the folder's writer lock, when no writer can be using them.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in sorted(folder.iterdir()):
        if not is_temporary(entry.name):
            continue
        logger.info("removing %s, left by an interrupted run", entry)
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


_UMASK_LOCK = threading.Lock()


@functools.cache
def _umask() -> int:
    """The process umask, read once: from /proc on Linux, elsewhere by setting it and back (under a lock, so that two
    threads asking at once cannot leave it at 0)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``, on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files others may read
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory next to ``path``; on success rename it onto ``path``.

    ``path`` must not exist yet (a finished directory is never overwritten). On error the temporary directory is
    removed, so ``path`` either does not exist or is complete.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"refusing to overwrite existing directory {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path), suffix=TMP_SUFFIX, dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def dumps_jsonl_line(obj: Any) -> str:
    """One canonical JSONL line (sorted keys, no trailing spaces) so equal records give equal bytes."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_jsonl_atomic(path: str | os.PathLike, records: Iterable[Any]) -> None:
    write_text_atomic(path, "".join(dumps_jsonl_line(r) for r in records))


def append_jsonl(path: str | os.PathLike, obj: Any) -> None:
    """Append one line and flush it to disk (for logs that must survive an interrupt, e.g. eval results)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(dumps_jsonl_line(obj))
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike, *, strict: bool = False) -> list[Any]:
    """Read a JSONL file (a missing file reads as no lines; blank lines are skipped).

    ``strict=True`` (files written whole, e.g. with ``write_jsonl_atomic``): every line must be valid JSON, the last
    one included; a bad line raises ValueError naming the file and line. ``strict=False`` (append-only logs): a
    torn last line, left by an interrupted ``append_jsonl``, is dropped with a warning in the log; a bad line
    anywhere else still raises.
    """
    return [obj for _, obj in read_jsonl_lines(path, strict=strict)]


def read_jsonl_lines(path: str | os.PathLike, *, strict: bool = False) -> list[tuple[int, Any]]:
    """Like ``read_jsonl``, with each object's 1-based line number, for error messages that name the line."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e})") from None
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append((i + 1, json.loads(line)))
        except json.JSONDecodeError as e:
            if i == len(lines) - 1 and not strict:
                logger.warning("%s:%d: dropping a torn last line (an interrupted append?): %r", path, i + 1,
                               line[:80])
                break
            what = "the last line is cut short or damaged" if i == len(lines) - 1 else "not a JSON line"
            raise ValueError(f"{path}:{i + 1}: {what} ({e.msg}): {line[:80]!r}") from None
    return out


# ----------------------------------------------------------------------------------------------------------------
# JSON helpers


def json_ready(obj: Any) -> Any:
    """``obj`` with tuples turned into lists and keys into strings, recursively (what json.dumps round-trips)."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def params_to_json(params: Any) -> dict:
    """A (Params) dataclass as a JSON-ready dict."""
    import dataclasses

    return json_ready(dataclasses.asdict(params))


# ----------------------------------------------------------------------------------------------------------------
# Output folders


def check_output_folder(output_dir: str | os.PathLike, inputs: Any) -> None:
    """Refuse, before any work, an output folder that is a file, is an input folder, lies inside one, or contains
    one (ValueError naming both). ``inputs``: paths, or a mapping of what each is ("frame store") to its path.

    Inside an input folder, the outputs would be searched as inputs and fill the user's tree; containing one, the
    program would own (and clean up in) a folder holding the user's files. A run writes only into its own folder.
    """
    named = inputs.items() if isinstance(inputs, dict) else (("input folder", d) for d in inputs)
    out = Path(os.path.realpath(output_dir))
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output {output_dir} exists and is not a folder")
    for what, d in named:
        if d is None:
            continue
        folder = Path(os.path.realpath(d))
        if out == folder:
            raise ValueError(f"the output folder {output_dir} is the {what} {d}: outputs never go next to their "
                             f"inputs; choose another output folder")
        if folder in out.parents:
            raise ValueError(f"the output folder {output_dir} is inside the {what} {d}: its files would be "
                             f"mixed with the inputs; choose a folder outside {d}")
        if out in folder.parents:
            raise ValueError(f"the {what} {d} is inside the output folder {output_dir}, which the program owns "
                             f"and cleans up; choose an output folder that holds none of your files")

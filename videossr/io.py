"""Atomic file output and JSONL helpers.

Everything VideoSSR writes goes through these: a file is written under a temporary name in its final directory and
renamed into place when complete, so an interrupted run never leaves a half-written file, and a rerun can trust that
every file it finds is whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``, on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
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


def read_jsonl(path: str | os.PathLike) -> list[Any]:
    """Read a JSONL file; a torn last line (interrupted append) is ignored, any other bad line raises."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise ValueError(f"{path}:{i + 1}: not a JSON line: {line[:80]!r}") from None
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

"""videossr.io: temporaries carry the program's own prefix, cleanup spares everything else, JSONL damage is reported."""

from __future__ import annotations

import logging

import pytest

from videossr.io import (
    TMP_PREFIX,
    atomic_dir,
    atomic_path,
    is_temporary,
    read_jsonl,
    remove_temporaries,
    write_jsonl_atomic,
)


def test_temporary_names_are_the_programs_own(tmp_path):
    with atomic_path(tmp_path / "manifest.jsonl") as tmp:
        tmp.write_text("x\n")
        assert tmp.parent == tmp_path and tmp.name.startswith(TMP_PREFIX + "manifest.jsonl-")
        assert is_temporary(tmp)
    with atomic_dir(tmp_path / "video-123") as tmp:
        assert tmp.name.startswith(TMP_PREFIX + "video-123-") and is_temporary(tmp.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.jsonl", "video-123"]
    # names an older version used, or a user might use, are not ours
    for name in (".manifest.jsonl.abc123.tmp", ".notes.tmp", "videossr-tmp-x.tmp", ".videossr-tmp-x", "a.tmp"):
        assert not is_temporary(name), name


def test_failed_atomic_writes_leave_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "f").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "d").mkdir()
    with pytest.raises(FileExistsError, match="d"):
        with atomic_dir(tmp_path / "d"):
            pass


def test_remove_temporaries_spares_user_files(tmp_path):
    # the user's files, some named like the temporaries of older versions (".<name>.<random>.tmp")
    users = {
        ".holiday.mp4.k2j3h4.tmp": b"user video",
        ".notes.tmp": b"user notes",
        "clip.mp4": b"video",
        ".videossr-tmp-but-no-suffix": b"not ours either",
    }
    for name, data in users.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / ".drafts.tmp").mkdir()
    (tmp_path / ".drafts.tmp" / "keep.txt").write_text("user draft")
    # what a killed run of ours leaves
    ours_dir = tmp_path / f"{TMP_PREFIX}video-abc-x1y2z3.tmp"
    ours_dir.mkdir()
    (ours_dir / "000.jpg").write_bytes(b"half")
    ours_file = tmp_path / f"{TMP_PREFIX}manifest.jsonl-q9w8e7.tmp"
    ours_file.write_text("half")
    # a temporary in a sub-folder is left alone (only the folder's own entries are cleaned)
    (tmp_path / "sub").mkdir()
    nested = tmp_path / "sub" / f"{TMP_PREFIX}x-1.tmp"
    nested.write_text("x")

    removed = remove_temporaries(tmp_path)
    assert sorted(removed) == sorted([ours_dir, ours_file])
    for name, data in users.items():
        assert (tmp_path / name).read_bytes() == data, name
    assert (tmp_path / ".drafts.tmp" / "keep.txt").read_text() == "user draft"
    assert nested.exists()
    assert remove_temporaries(tmp_path / "missing") == []


def test_read_jsonl_strict_and_tolerant(tmp_path, caplog):
    path = tmp_path / "log.jsonl"
    write_jsonl_atomic(path, [{"a": 1}, {"a": 2}])
    assert read_jsonl(path, strict=True) == [{"a": 1}, {"a": 2}]
    path.write_bytes(path.read_bytes() + b'{"a": 3, "b"')  # an interrupted append
    with pytest.raises(ValueError, match=r"log\.jsonl:3: the last line is cut short"):
        read_jsonl(path, strict=True)
    with caplog.at_level(logging.WARNING, logger="videossr.io"):
        assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    assert "log.jsonl:3" in caplog.text and "torn last line" in caplog.text
    path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    for strict in (True, False):
        with pytest.raises(ValueError, match=r"log\.jsonl:2: not a JSON line"):
            read_jsonl(path, strict=strict)
    assert read_jsonl(tmp_path / "missing.jsonl", strict=True) == []


def test_outputs_follow_the_umask_read_without_changing_it(tmp_path):
    """Files and folders written atomically get the modes the process umask gives (027 here), and reading the umask
    leaves it as it was, in both ways of reading it (/proc, and setting it and back where /proc is missing)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import builtins, os, stat, sys
        from pathlib import Path
        os.umask(0o027)
        if sys.argv[2] == "no-proc":
            real_open = builtins.open
            def no_proc(file, *args, **kwargs):
                if str(file).startswith("/proc/"):
                    raise FileNotFoundError(file)
                return real_open(file, *args, **kwargs)
            builtins.open = no_proc
        from videossr.io import atomic_dir, write_text_atomic
        out = Path(sys.argv[1])
        write_text_atomic(out / "f.txt", "x")
        with atomic_dir(out / "d") as d:
            (d / "g").write_text("y")
        now = os.umask(0)
        print(oct(stat.S_IMODE((out / "f.txt").stat().st_mode)), oct(stat.S_IMODE((out / "d").stat().st_mode)),
              oct(now))
    """)
    for way in ("proc", "no-proc"):
        out = tmp_path / way
        run = subprocess.run([sys.executable, "-c", code, str(out), way], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["0o640", "0o750", "0o27"], way

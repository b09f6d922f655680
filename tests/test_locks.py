"""videossr.procs: one writer per folder (real processes, real flocks), workers that die with their parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from videossr.procs import (
    LOCK_NAME,
    WORKERS_LOCK_NAME,
    OutputLockedError,
    lock_holder,
    output_lock,
)

REPO = Path(__file__).resolve().parent.parent


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a killed child nobody reaped yet is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def start_python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ----------------------------------------------------------------------------------------------------------------------


def test_second_writer_is_refused_and_told_who_holds_it(tmp_path):
    folder = tmp_path / "out"
    assert lock_holder(folder) is None
    with output_lock(folder, what="frame sampler") as lock:
        info = json.loads((folder / LOCK_NAME).read_text())
        assert info == lock.holder and info["pid"] == os.getpid() and info["what"] == "frame sampler"
        assert {"host", "command", "started"} <= set(info)
        assert lock_holder(folder) == info
        with pytest.raises(OutputLockedError) as err:
            with output_lock(folder, what="build"):
                pass
        message = str(err.value)
        assert str(folder) in message and f"pid {os.getpid()}" in message and "frame sampler" in message
        assert err.value.holder == info
    assert not (folder / LOCK_NAME).exists() and not (folder / WORKERS_LOCK_NAME).exists()
    assert lock_holder(folder) is None
    with pytest.raises(ValueError, match="what"):
        with output_lock(folder, what=""):
            pass


def test_stale_lock_file_does_not_block(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    # left by a run that was killed: the file is there, the flock died with its process
    (folder / LOCK_NAME).write_text(json.dumps({"what": "frame sampler", "pid": 999999, "host": "gone"}))
    (folder / WORKERS_LOCK_NAME).write_text("")
    with output_lock(folder, what="frame sampler") as lock:
        assert json.loads((folder / LOCK_NAME).read_text())["pid"] == os.getpid() == lock.holder["pid"]
    assert sorted(os.listdir(folder)) == []


def test_lock_of_a_killed_process_is_free_at_once(tmp_path):
    folder = tmp_path / "out"
    holder = start_python("""
        import sys, time
        from videossr.procs import output_lock
        with output_lock(sys.argv[1], what="holder"):
            print("locked", flush=True)
            time.sleep(60)
    """, str(folder))
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError, match=f"holder, pid {holder.pid}"):
            with output_lock(folder, what="second"):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        with output_lock(folder, what="second") as lock:  # no waiting, no manual cleanup
            assert lock.holder["what"] == "second"
    finally:
        holder.kill()
        holder.wait()


def test_workers_die_with_their_parent_and_release_the_folder(tmp_path):
    """SIGKILL of a process with a worker_pool: its workers die at once, and a new writer can start at once."""
    folder = tmp_path / "out"
    parent = start_python("""
        import sys, time
        from videossr.procs import output_lock, worker_pool

        def main():
            with output_lock(sys.argv[1], what="parent") as lock:
                pool = worker_pool(2, lock=lock)
                futures = [pool.submit(time.sleep, 60) for _ in range(2)]
                time.sleep(0.5)
                print(" ".join(str(p) for p in pool._processes), flush=True)
                futures[0].result()

        if __name__ == "__main__":
            main()
    """, str(folder))
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(alive(p) for p in workers)
        # the workers hold the folder too: even with the parent gone they would keep a new writer out
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_until(lambda: not any(alive(p) for p in workers), 5, "the workers to die with their parent")
        with output_lock(folder, what="next run", orphan_wait=5):
            pass
    finally:
        parent.kill()
        parent.wait()


def test_new_writer_waits_for_orphans_then_gives_up_naming_the_file(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    # an orphan worker that did not die (e.g. a platform without PR_SET_PDEATHSIG, before its watchdog fires)
    orphan = start_python("""
        import fcntl, os, sys, time
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_SH)
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """, str(folder / WORKERS_LOCK_NAME), "60")
    try:
        assert orphan.stdout.readline().strip() == "holding"
        start = time.monotonic()
        with pytest.raises(OutputLockedError, match=r"worker processes of an earlier run still hold .*lock-workers"):
            with output_lock(folder, what="next run", orphan_wait=0.3):
                pass
        assert time.monotonic() - start < 5
        assert not (folder / LOCK_NAME).exists()  # the refused writer left nothing behind
    finally:
        orphan.kill()
        orphan.wait()
    with output_lock(folder, what="next run", orphan_wait=5):  # the orphan is gone: free
        pass


def test_workers_start_with_one_thread_per_numerical_library(monkeypatch):
    """worker_pool's processes see OMP/OpenBLAS/MKL thread counts of 1 from their start (a value the user set is
    kept); this process's own environment is left as it was."""
    from videossr.procs import WORKER_ENVIRONMENT, worker_pool

    for key in WORKER_ENVIRONMENT:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    with worker_pool(1) as pool:
        seen = {key: pool.submit(os.getenv, key).result() for key in WORKER_ENVIRONMENT}
    assert seen == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "3"}
    assert "OMP_NUM_THREADS" not in os.environ and "OPENBLAS_NUM_THREADS" not in os.environ
    assert os.environ["MKL_NUM_THREADS"] == "3"


def test_run_jobs_hands_a_workers_error_to_the_caller_and_kills_the_workers_when_stopped():
    """A job's exception reaches the caller; stopping early (an exception, Ctrl-C, close) kills the workers at once
    instead of waiting for the jobs in progress."""
    import contextlib
    import multiprocessing
    import operator

    from videossr.procs import run_jobs

    assert sorted(run_jobs(operator.add, [(1, 2), (3, 4), (5, 6)], workers=2)) == [3, 7, 11]
    assert list(run_jobs(operator.add, [(1, 2)], workers=1)) == [3]  # one worker: in this process
    with pytest.raises(ZeroDivisionError):
        list(run_jobs(operator.truediv, [(1, 1), (1, 0), (2, 1)], workers=2))
    assert not multiprocessing.active_children()

    start = time.monotonic()
    jobs = run_jobs(time.sleep, [(0,)] + [(60,)] * 4, workers=2)
    with contextlib.closing(jobs):
        next(jobs)  # the first job is done, two minute-long jobs are running
    assert not multiprocessing.active_children() and time.monotonic() - start < 30
    with pytest.raises(ValueError, match="executor"):
        next(run_jobs(operator.add, [(1, 2)], executor="threads"))

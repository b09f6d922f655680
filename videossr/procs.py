"""One writer per output folder; jobs run here, in worker processes that die with their parent, or as Ray tasks.

``output_lock(folder, what=...)`` makes a program the only writer of ``folder`` inside a ``with`` block: an
exclusive ``flock`` on ``folder/.videossr-lock``, taken without waiting; when another process holds it,
``OutputLockedError`` names the holder (what, pid, host, command, start time, which the holder writes into the
file). The kernel drops a flock when its process dies, however it dies, so a killed run never blocks the next one.
Workers of a pool made with ``lock=`` hold a shared flock on ``folder/.videossr-lock-workers`` while they live, and
``output_lock`` waits (up to ``orphan_wait`` seconds) until no worker of an earlier run holds it: a new writer never
runs beside a leftover worker. Locks are advisory and need a filesystem with flock.

``worker_pool(n, lock=lock)``: a process pool (spawn) whose workers die with the process that made it
(``prctl(PR_SET_PDEATHSIG)`` on Linux, and a watchdog thread everywhere); make it from a thread that outlives it
(Linux ties the signal to the thread). ``run_jobs(fn, jobs, executor=..., workers=...)`` yields ``fn(*job)`` as
jobs finish: in this process (``local``, one worker), in a ``worker_pool`` (``local``) or as Ray tasks (``ray``:
a local instance of ``workers`` CPUs, or the cluster at ``RAY_ADDRESS``, after ``check_shared``); at most twice
the workers' jobs are in flight, and stopping early kills the workers or cancels the tasks at once.
``sigterm_as_interrupt()`` turns SIGTERM into ``Terminated`` (a ``KeyboardInterrupt``): a terminated program stops
as on Ctrl-C.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import itertools
import json
import logging
import multiprocessing
import os
import secrets
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_NAME = ".videossr-lock"
WORKERS_LOCK_NAME = ".videossr-lock-workers"
EXECUTORS = ("local", "ray")
_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


class OutputLockedError(RuntimeError):
    """Another process is writing the folder (or its workers still run). The message names the holder."""

    def __init__(self, folder: Path, message: str, holder: dict | None = None):
        self.folder, self.holder = folder, holder
        super().__init__(message)


@dataclass(frozen=True)
class OutputLock:
    """A held output lock (what ``output_lock`` yields)."""

    folder: Path
    path: Path  # the lock file
    workers_path: Path  # the file the workers of this writer hold shared
    holder: dict  # what was written into the lock file


def _read_holder(folder: Path) -> dict | None:
    try:
        info = json.loads((folder / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def lock_holder(folder: str | os.PathLike) -> dict | None:
    """What the process holding ``folder``'s lock now wrote about itself ({} if nothing yet); None if none holds it.
    Creates nothing."""
    try:
        fd = os.open(Path(folder) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in _BUSY:
            raise
        return _read_holder(Path(folder)) or {}
    finally:
        os.close(fd)
    return None


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "an unknown process (it has not written its details yet)"
    return (f"{holder.get('what', '?')}, pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
            f"started {holder.get('started', '?')}, command: {holder.get('command', '?')}")


def _flock(path: Path, operation: int) -> int | None:
    """Open ``path`` (created) and flock it without waiting: the fd, or None when someone else holds it.

    A releasing holder unlinks the file, and a lock on an unlinked file guards nothing: retried until the locked
    file is the one at ``path``."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in _BUSY:
                return None
            raise OSError(e.errno, f"cannot lock {path}: {e.strerror} (does this file system support flock?)"
                          ) from None
        try:
            if os.path.samestat(os.stat(path), os.fstat(fd)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike, *, what: str, orphan_wait: float = 30.0) -> Iterator[OutputLock]:
    """Be the only writer of ``folder`` (created if missing) inside the block; see the module docstring."""
    if not what:
        raise ValueError("what must name the program taking the lock, e.g. 'frame sampler'")
    folder = Path(os.path.abspath(folder))
    folder.mkdir(parents=True, exist_ok=True)
    path, workers_path = folder / LOCK_NAME, folder / WORKERS_LOCK_NAME
    fd = _flock(path, fcntl.LOCK_EX)
    if fd is None:
        holder = _read_holder(folder)
        raise OutputLockedError(folder, f"{folder} is being written by another process: {describe_holder(holder)} "
                                        f"(lock file {path}). Wait for it to finish or stop it; two writers would "
                                        f"corrupt each other's output.", holder)
    try:
        holder = {"what": what, "pid": os.getpid(), "host": socket.gethostname(),
                  "command": shlex.join(sys.argv) if sys.argv and sys.argv[0] else sys.executable,
                  "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder, sort_keys=True) + "\n").encode("utf-8"), 0)
        deadline, waited = time.monotonic() + orphan_wait, False
        while (workers_fd := _flock(workers_path, fcntl.LOCK_EX)) is None:  # workers of an earlier run still live
            if not waited:
                logger.warning("%s: waiting for worker processes of an earlier run to exit", folder)
            waited = True
            if time.monotonic() >= deadline:
                raise OutputLockedError(folder, f"{folder}: worker processes of an earlier run still hold "
                                                f"{workers_path} after {orphan_wait:g} s; they may still be writing. "
                                                f"Stop them (`fuser -v {workers_path}` lists them) and run again.")
            time.sleep(0.05)
        os.close(workers_fd)
        yield OutputLock(folder=folder, path=path, workers_path=workers_path, holder=holder)
    finally:
        workers_fd = _flock(workers_path, fcntl.LOCK_EX) if workers_path.exists() else None
        if workers_fd is not None:  # else a worker still holds it, and it still protects the folder
            with contextlib.suppress(FileNotFoundError):
                os.unlink(workers_path)
            os.close(workers_fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # while still holding it: see _flock
        os.close(fd)


# ----------------------------------------------------------------------------------------------------------------------
# Workers


_worker_lock_fd: int | None = None  # a worker's share of the workers lock, held for its life


def _init_worker(parent_pid: int, workers_lock: str | None) -> None:
    """In each worker: die with the parent (SIGKILL), leave Ctrl-C to it, hold the workers lock's share."""
    global _worker_lock_fd
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG

    def watch() -> None:  # also where prctl is missing; an orphan is re-parented
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGKILL)

    if os.getppid() != parent_pid:  # the parent died before the request above was in place
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, name="videossr-parent-watchdog", daemon=True).start()
    if workers_lock is not None:
        _worker_lock_fd = _flock(Path(workers_lock), fcntl.LOCK_SH)
        if _worker_lock_fd is None:
            raise OutputLockedError(Path(workers_lock).parent,
                                    f"cannot share {workers_lock}: another writer is starting in this folder")


# One thread per numerical library in a worker (the pool's parallelism is its processes; OpenBLAS also starts its
# threads when numpy is imported, before any initializer runs). A value the user has set is kept.
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def worker_pool(max_workers: int, *, lock: OutputLock | None = None) -> cf.ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` (spawn) whose workers die with this process and, with ``lock``, hold its share.
    The workers start at once (their start-up overlaps the caller's next steps), with ``WORKER_ENVIRONMENT``."""
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
    pool = cf.ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_init_worker,
                                  initargs=(os.getpid(), str(lock.workers_path) if lock is not None else None))
    added = [k for k in WORKER_ENVIRONMENT if k not in os.environ]
    os.environ.update({k: WORKER_ENVIRONMENT[k] for k in added})
    try:
        for _ in range(max_workers):
            pool.submit(os.getpid)  # starts one worker each, in that environment
    finally:
        for k in added:
            os.environ.pop(k, None)
    return pool


def run_jobs(fn: Callable, jobs: Iterable[tuple], *, executor: str = "local", workers: int = 1,
             lock: OutputLock | None = None, ray_check: Sequence[str | os.PathLike] = ()) -> Iterator:
    """Yield ``fn(*job)`` for each job as they finish (see the module docstring); use it in a ``with
    contextlib.closing(...)`` block, so that stopping early stops the work at once.

    ``fn``: a module-level function. ``lock``: the local workers hold its share. ``ray_check``: folders and files
    every Ray node must see (``check_shared``), checked before the first job."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    jobs = iter(jobs)
    if executor == "ray":
        yield from _run_ray(fn, jobs, workers, ray_check)
    elif workers == 1:
        for job in jobs:
            yield fn(*job)
    else:
        pool = worker_pool(workers, lock=lock)
        pending: set[cf.Future] = set()
        try:
            while True:
                pending |= {pool.submit(fn, *job) for job in itertools.islice(jobs, 2 * workers - len(pending))}
                if not pending:
                    break
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:  # stopped early: kill the workers now, what they were doing is lost
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError, ValueError):
                    process.kill()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


@contextlib.contextmanager
def ray_session(workers: int) -> Iterator[None]:
    """Ray for the block, unless a session is up: the cluster at ``RAY_ADDRESS``, else a local instance of
    ``workers`` CPUs (shut down at the end)."""
    import ray

    if ray.is_initialized():
        yield
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _run_ray(fn: Callable, jobs: Iterator[tuple], workers: int, ray_check: Sequence) -> Iterator:
    import ray

    with ray_session(workers):
        if ray_check:
            check_shared(ray_check)
        task = ray.remote(num_cpus=1, max_retries=0)(fn)
        window = 2 * max(1, int(ray.cluster_resources().get("CPU", workers)))
        pending: list = []
        try:
            while True:
                pending += [task.remote(*job) for job in itertools.islice(jobs, window - len(pending))]
                if not pending:
                    break
                done, pending = ray.wait(pending, num_returns=1, timeout=1.0)  # a timeout: Ctrl-C is seen
                for ref in done:
                    yield ray.get(ref)
        except BaseException:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise


def _sees(checks: list[tuple[str, str | int]]) -> tuple[str, list[str]]:
    """On a Ray node: its host name and the paths it does not see as the driver does (a marker file's content, an
    input file's size)."""
    missing = []
    for path, expected in checks:
        try:
            ok = (os.stat(path).st_size if isinstance(expected, int) else Path(path).read_text("ascii")) == expected
        except OSError:
            ok = False
        if not ok:
            missing.append(path)
    return socket.gethostname(), missing


def check_shared(paths: Sequence[str | os.PathLike], timeout: float = 120.0) -> None:
    """A task on every alive Ray node must see ``paths`` as this process does, else ValueError naming the nodes and
    paths: into a folder a marker with a random token is written (and removed), and the task reads it back; of a
    file (an input) the task checks the size. Tasks open the paths the driver gives them."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from videossr.io import TMP_PREFIX, TMP_SUFFIX

    token = secrets.token_hex(16)
    checks: list[tuple[str, str | int]] = []
    markers = []
    try:
        for p in map(Path, paths):
            if p.is_dir():
                markers.append(p / f"{TMP_PREFIX}shared-check-{token[:8]}{TMP_SUFFIX}")
                markers[-1].write_text(token, encoding="ascii")
                checks.append((str(markers[-1]), token))
            else:
                checks.append((str(p), p.stat().st_size))
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
        probe = ray.remote(num_cpus=0, max_retries=0)(_sees)
        refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
                              ).remote(checks) for n in nodes]
        blind = [(host, missing) for host, missing in ray.get(refs, timeout=timeout) if missing]
    finally:
        for marker in markers:
            with contextlib.suppress(OSError):
                marker.unlink()
    if blind:
        shown = {str(m): str(m.parent) for m in markers}
        detail = "; ".join(f"node {host} does not see {', '.join(shown.get(m, m) for m in missing)}"
                           for host, missing in blind)
        raise ValueError(f"{detail}: with Ray, the videos and the output folder must be on a filesystem that every "
                         f"node mounts at the same path")


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM (``sigterm_as_interrupt``): handled wherever Ctrl-C is."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM raises ``Terminated`` in the main thread (nothing changes in other threads)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""One writer per output folder, and worker processes that die with their parent.

``output_lock(folder, what=...)`` makes a program the only writer of ``folder`` for the duration of a ``with``
block. It takes an exclusive ``fcntl.flock`` on ``folder/.videossr-lock`` without waiting: when another process
holds it, ``OutputLockedError`` is raised at once, naming the holder (what it is, pid, host, command, start time,
which the holder writes into the lock file). The kernel drops a flock when its process dies, however it dies, so a
lock file left by a killed run never blocks the next one. The lock file is removed when the block ends.

``worker_pool(n, lock=lock)`` is a process pool (spawn start method) whose workers die with the process that made
it: on Linux each worker asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and on every
platform a watchdog thread in each worker kills it when its parent process is gone. With ``lock=``, every worker
also holds a shared flock on ``folder/.videossr-lock-workers`` while it lives, and ``output_lock`` waits (up to
``orphan_wait`` seconds) for the exclusive flock on that file before it returns: a new writer therefore never runs
beside a worker left over from a killed run. Use ``init_worker`` with ``worker_initargs`` to give a pool made
elsewhere the same behaviour.

Usage::

    with output_lock("data/frames", what="frame sampler") as lock:
        with worker_pool(4, lock=lock) as pool:
            results = list(pool.map(work, items))
    # elsewhere, at the same time:
    #   OutputLockedError: data/frames is being written by another process: frame sampler, pid 4242 on host ...

Locks are advisory (only programs that take them are kept out) and need a file system with flock (local file
systems; NFS v4 emulates it with byte-range locks). Processes that share one lock must create their pools from the
thread that holds the lock or another thread that outlives the pool: Linux ties PR_SET_PDEATHSIG to the thread that
started the worker.

``run_jobs(fn, jobs, executor=..., workers=...)`` yields ``fn(*job)`` for every job as they finish: in this process
(``local`` with one worker), in a ``worker_pool`` (``local``) or as Ray tasks (``ray``: a local Ray instance of
``workers`` CPUs, or the cluster at ``RAY_ADDRESS``). A bounded number of jobs is in flight, so a million jobs cost
no more memory than a few. When the caller stops early (an exception, Ctrl-C), the local workers are killed and
the Ray tasks cancelled at once. ``check_shared(folders)`` checks that every Ray node sees the driver's folders.
``sigterm_as_interrupt()`` turns SIGTERM into ``Terminated`` (a ``KeyboardInterrupt``), so that a terminated
program stops exactly as on Ctrl-C.
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
DEFAULT_ORPHAN_WAIT = 30.0  # seconds a new writer waits for the workers of a killed run to exit
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class OutputLockedError(RuntimeError):
    """Another process is writing the folder (or its workers are still running). The message names the holder."""

    def __init__(self, folder: Path, message: str, holder: dict | None = None):
        self.folder = folder
        self.holder = holder
        super().__init__(message)


@dataclass(frozen=True)
class OutputLock:
    """A held output lock (what ``output_lock`` yields)."""

    folder: Path
    path: Path  # the lock file
    workers_path: Path  # the file the workers of this writer hold shared
    holder: dict  # what was written into the lock file


def _holder_info(what: str) -> dict:
    return {
        "what": what,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": shlex.join(sys.argv) if sys.argv and sys.argv[0] else sys.executable,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def read_lock_holder(folder: str | os.PathLike) -> dict | None:
    """What the current (or last) holder of ``folder``'s lock wrote about itself; None if nothing readable."""
    try:
        text = (Path(folder) / LOCK_NAME).read_text(encoding="utf-8")
        info = json.loads(text)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def lock_holder(folder: str | os.PathLike) -> dict | None:
    """If a process holds ``folder``'s output lock now: what it wrote about itself ({} if nothing yet); else None.

    Creates nothing (works on read-only folders).
    """
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        return read_lock_holder(folder) or {}
    finally:
        os.close(fd)
    return None


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "an unknown process (it has not written its details yet)"
    return (f"{holder.get('what', '?')}, pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
            f"started {holder.get('started', '?')}, command: {holder.get('command', '?')}")


def _flock_same_file(path: Path, operation: int) -> int | None:
    """Open ``path`` (creating it) and flock it without waiting; the fd, or None when someone else holds it.

    A releasing holder unlinks the lock file; a lock taken on an unlinked file would guard nothing, so the lock is
    retried until the locked file is the one at ``path``.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return None
            raise OSError(e.errno, f"cannot lock {path}: {e.strerror} (does this file system support flock?)"
                          ) from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        mine = os.fstat(fd)
        if (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)


def _wait_for_orphans(folder: Path, workers_path: Path, timeout: float) -> None:
    """Take (then drop) the exclusive flock on the workers file: returns once no worker of an earlier run lives."""
    deadline = time.monotonic() + timeout
    warned = False
    while True:
        fd = _flock_same_file(workers_path, fcntl.LOCK_EX)
        if fd is not None:
            os.close(fd)
            return
        if time.monotonic() >= deadline:
            raise OutputLockedError(
                folder,
                f"{folder}: worker processes of an earlier run still hold {workers_path} after {timeout:g} s; "
                f"they may still be writing. Stop them (e.g. `fuser -v {workers_path}` lists them) and run again.",
            )
        if not warned:
            logger.warning("%s: waiting for worker processes of an earlier run to exit", folder)
            warned = True
        time.sleep(0.05)


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike, *, what: str, orphan_wait: float = DEFAULT_ORPHAN_WAIT
                ) -> Iterator[OutputLock]:
    """Be the only writer of ``folder`` (created if missing) inside the block; see the module docstring.

    Raises ``OutputLockedError`` at once when another process holds the lock (the message names it), or after
    ``orphan_wait`` seconds when workers of an earlier, killed writer are still alive.
    """
    if not what:
        raise ValueError("what must name the program taking the lock, e.g. 'frame sampler'")
    folder = Path(os.path.abspath(folder))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    workers_path = folder / WORKERS_LOCK_NAME
    fd = _flock_same_file(path, fcntl.LOCK_EX)
    if fd is None:
        holder = read_lock_holder(folder)
        raise OutputLockedError(
            folder,
            f"{folder} is being written by another process: {describe_holder(holder)} (lock file {path}). "
            f"Wait for it to finish or stop it; two writers would corrupt each other's output.",
            holder,
        )
    try:
        holder = _holder_info(what)
        data = (json.dumps(holder, sort_keys=True) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        _wait_for_orphans(folder, workers_path, orphan_wait)
        yield OutputLock(folder=folder, path=path, workers_path=workers_path, holder=holder)
    finally:
        _release_workers_file(workers_path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # while still holding it: see _flock_same_file
        os.close(fd)


def _release_workers_file(workers_path: Path) -> None:
    """Remove the workers file when no worker holds it any more (otherwise leave it: it still protects the folder)."""
    fd = _flock_same_file(workers_path, fcntl.LOCK_EX) if workers_path.exists() else None
    if fd is None:
        if workers_path.exists():
            logger.warning("%s is still held by worker processes; leaving it in place", workers_path)
        return
    try:
        os.unlink(workers_path)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------------------------------
# Workers


_worker_lock_fd: int | None = None  # kept open for the life of a worker process: its share of the workers lock


def die_with_parent(parent_pid: int, *, poll_seconds: float = 1.0) -> None:
    """Make this process die (SIGKILL) when the process ``parent_pid`` that started it is gone.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, immediate. Everywhere: a daemon thread that checks every
    ``poll_seconds`` whether this process's parent is still ``parent_pid`` (an orphan is re-parented).
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
                logger.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except (OSError, AttributeError):
            logger.debug("prctl is not available; relying on the watchdog thread")
    if os.getppid() != parent_pid:  # the parent died before the request above was in place
        os.kill(os.getpid(), signal.SIGKILL)

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="videossr-parent-watchdog", daemon=True).start()


def init_worker(parent_pid: int, workers_lock: str | None, initializer: Callable | None,
                initargs: Sequence) -> None:
    """Pool initializer: die with the parent, hold the lock's worker share, then run ``initializer(*initargs)``.

    Use through ``worker_pool`` or as ``ProcessPoolExecutor(initializer=init_worker,
    initargs=worker_initargs(lock))``.
    """
    global _worker_lock_fd
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills its workers
    die_with_parent(parent_pid)
    if workers_lock is not None:
        fd = _flock_same_file(Path(workers_lock), fcntl.LOCK_SH)
        if fd is None:
            raise OutputLockedError(Path(workers_lock).parent,
                                    f"cannot share {workers_lock}: another writer is starting in this folder")
        _worker_lock_fd = fd
    if initializer is not None:
        initializer(*initargs)


def worker_initargs(lock: OutputLock | None = None, initializer: Callable | None = None,
                    initargs: Sequence = ()) -> tuple:
    """The ``initargs`` for ``init_worker`` in a pool started by this process."""
    return (os.getpid(), str(lock.workers_path) if lock is not None else None, initializer, tuple(initargs))


def worker_pool(max_workers: int, *, lock: OutputLock | None = None, initializer: Callable | None = None,
                initargs: Sequence = ()) -> cf.ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` (spawn) whose workers die with this process and, with ``lock``, hold its share.

    The workers are started right away (each runs a no-op task), so that their start-up overlaps with whatever the
    caller does next. They start with one thread per numerical library (``WORKER_ENVIRONMENT``).
    """
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
    pool = cf.ProcessPoolExecutor(
        max_workers=max_workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=worker_initargs(lock, initializer, initargs),
    )
    with _worker_environment():
        for _ in range(max_workers):
            pool.submit(os.getpid)  # starts one worker process each
    return pool


# One thread per numerical library in each worker: the pool's parallelism is its processes, and BLAS or OpenMP
# thread pools sized to the machine in every worker would oversubscribe the cores (OpenBLAS also starts its threads
# when numpy is imported, about 0.1 s of CPU per worker). A value the user has set is kept.
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def _worker_environment() -> Iterator[None]:
    """Set ``WORKER_ENVIRONMENT`` (where unset) while worker processes start; this process's own is then restored.

    The variables must be in a worker's environment when its interpreter starts (numpy reads them on import, before
    any initializer runs), and spawned processes take the environment of this process.
    """
    added = [k for k in WORKER_ENVIRONMENT if k not in os.environ]
    for k in added:
        os.environ[k] = WORKER_ENVIRONMENT[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def kill_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes now (what they were doing is lost) and shut the pool down."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------------------------------------------------------------
# Running many jobs: here, in a process pool or as Ray tasks

EXECUTORS = ("local", "ray")


def run_jobs(fn: Callable, jobs: Iterable[tuple], *, executor: str = "local", workers: int = 1,
             lock: OutputLock | None = None, ray_check: Sequence[str | os.PathLike] = ()) -> Iterator:
    """Yield ``fn(*job)`` for each job, in the order they finish (see the module docstring); use it in a ``with
    contextlib.closing(...)`` block, so that stopping early stops the work at once.

    ``fn`` must be importable by name (a module-level function). ``lock``: the local workers hold its share.
    ``ray_check``: output folders and input files every Ray node must see (``check_shared``), checked before the first
    job.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    jobs = iter(jobs)
    if executor == "local" and workers == 1:
        for job in jobs:
            yield fn(*job)
        return
    if executor == "local":
        yield from _run_pool(fn, jobs, workers, lock)
    else:
        yield from _run_ray(fn, jobs, workers, ray_check)


def _run_pool(fn: Callable, jobs: Iterator[tuple], workers: int, lock: OutputLock | None) -> Iterator:
    pool = worker_pool(workers, lock=lock)
    pending: set[cf.Future] = set()
    try:
        while True:
            for job in itertools.islice(jobs, 2 * workers - len(pending)):
                pending.add(pool.submit(fn, *job))
            if not pending:
                break
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
    except BaseException:
        kill_workers(pool)
        raise
    pool.shutdown(wait=True)


@contextlib.contextmanager
def ray_session(workers: int) -> Iterator[None]:
    """Ray, started for the block if no session is up: the cluster at ``RAY_ADDRESS``, else a local instance of
    ``workers`` CPUs (shut down again at the end)."""
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
    """Run on a Ray node: its host name and the paths it does not see as the driver does (a marker file's content,
    an input file's size)."""
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
    """Check that a task on every alive Ray node sees ``paths`` as this process does; ValueError naming the nodes
    and paths otherwise.

    Into a folder a marker file with a random token is written (and removed afterwards), and the task reads it back;
    of a file (an input, never written to) the task checks the size. Ray tasks open the paths the driver gives
    them, so inputs and outputs must be on a filesystem that every node mounts at the same path.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from videossr.io import TMP_PREFIX, TMP_SUFFIX

    token = secrets.token_hex(16)
    checks: list[tuple[str, str | int]] = []
    markers = []
    try:
        for p in map(Path, paths):
            if p.is_dir():
                marker = p / f"{TMP_PREFIX}shared-check-{token[:8]}{TMP_SUFFIX}"
                marker.write_text(token, encoding="ascii")
                markers.append(marker)
                checks.append((str(marker), token))
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


# ----------------------------------------------------------------------------------------------------------------------
# SIGTERM


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

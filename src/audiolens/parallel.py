"""One executor interface for per-recording work: ordered results, bounded memory, progress.

:func:`ordered_map` runs ``fn`` over ``items`` on the backend an :class:`ExecutorSettings`
names and yields results in input order, so a stage can stream results into its outputs
without holding the corpus in memory and still write byte-identical files whatever the
backend or worker count:

``scheduler: processes``
    a local process pool of ``n_jobs`` workers (``concurrent.futures``; ``n_jobs: 1`` runs in
    this process). The first item always runs in this process and is timed: when it says the
    whole map is less than ``inline_below_s`` seconds of work, the rest runs here too (starting
    and feeding a pool costs more than a second core saves on that little work), otherwise the
    pool, forked after the first item (so its workers inherit what that call imported or
    cached), takes the rest. Workers end with their parent: each watches its parent and exits when the
    parent is gone (killed with SIGKILL, say) instead of waiting forever on the task pipe; when
    the parent stops early (an exception, SIGTERM turned into one by
    :func:`audiolens.runtime.stage_main`, or the consumer dropping the generator), the pool's
    workers are terminated, not awaited.
``scheduler: local``
    a Dask ``LocalCluster`` of ``n_jobs`` single-threaded worker processes, started for the
    call and closed after it.
``scheduler: tcp://host:8786`` (any Dask address)
    the running Dask cluster there; ``n_jobs`` is ignored (the cluster's threads count).
    Workers need the same audiolens version and the data root (and the stage's output
    folder, for stages whose tasks write files) at the same path (docs/scaling.md).

Every backend runs the same picklable task function on chunks of items; only where the
chunks run differs.
"""
from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, TypeVar

from audiolens.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["ExecutorSettings", "ordered_map"]


@dataclass(frozen=True, kw_only=True)
class ExecutorSettings:
    """Where per-recording tasks run (built from the ``audio`` params section).

    Attributes
    ----------
    n_jobs : int
        Worker processes for ``processes`` and ``local``; 1 with ``processes`` runs inline.
    scheduler : str
        ``processes`` (local pool), ``local`` (Dask LocalCluster) or a Dask address.
    inline_below_s : float
        ``processes`` only: estimated seconds of work (first item's time x number of items)
        below which the whole map runs in this process; 0 always uses the pool.
    """

    n_jobs: int
    scheduler: str
    inline_below_s: float

    def __post_init__(self) -> None:
        if self.n_jobs < 1:
            raise ConfigError(f"audio.n_jobs must be >= 1 (got {self.n_jobs})")
        if not self.inline_below_s >= 0:
            raise ConfigError(f"audio.inline_below_s must be >= 0 seconds (got {self.inline_below_s})")
        if self.scheduler not in ("processes", "local") and "://" not in self.scheduler:
            raise ConfigError(f"audio.scheduler must be processes, local or a Dask address like "
                              f"tcp://host:8786 (got {self.scheduler!r})")

    @property
    def uses_dask(self) -> bool:
        return self.scheduler != "processes"

    def describe(self) -> str:
        if self.scheduler == "processes":
            return f"{self.n_jobs} local process(es)"
        if self.scheduler == "local":
            return f"Dask LocalCluster of {self.n_jobs} worker(s)"
        return f"Dask cluster at {self.scheduler}"


@functools.lru_cache(maxsize=1)
def _thread_controller():
    """threadpoolctl's controller of the BLAS/OpenMP libraries loaded here (None without threadpoolctl).

    Finding the libraries scans every loaded shared object (tens of ms with SciPy and librosa
    loaded); done once in the parent (memoised), forked pool workers inherit the result and only
    set their limit, so a pool starts that much faster.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None
    return ThreadpoolController()


def _single_thread() -> None:
    """Worker set-up: one BLAS/OpenMP thread per worker (no oversubscription)."""
    controller = _thread_controller()
    if controller is not None:
        controller.limit(limits=1)


def _parent_gone(parent_pid: int, first_ppid: int) -> bool:
    if os.getppid() != first_ppid:  # reparented: whoever started this worker has died
        return True
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


def _watch_parent(parent_pid: int, interval_s: float) -> None:
    """Exit this worker as soon as the process that made the pool is gone (e.g. SIGKILL)."""
    import multiprocessing
    from multiprocessing.connection import wait

    first_ppid = os.getppid()  # parent_pid with fork; the fork server otherwise
    sentinel = getattr(multiprocessing.parent_process(), "sentinel", None)
    while not _parent_gone(parent_pid, first_ppid):
        if sentinel is not None:
            try:
                if wait([sentinel], timeout=interval_s):
                    sentinel = None  # closed: the loop re-checks the parent itself, then polls
            except OSError:
                sentinel = None
        else:
            threading.Event().wait(interval_s)
    os._exit(1)


def _init_worker(parent_pid: int, interval_s: float = 0.5) -> None:
    """Pool initializer: default SIGTERM, one BLAS/OpenMP thread, exit with the parent."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the stage's handler inherited by fork
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C: the parent decides
    threading.Thread(target=_watch_parent, args=(parent_pid, interval_s), daemon=True,
                     name="audiolens-parent-watch").start()
    _single_thread()


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what is queued and terminate the workers (no waiting on them)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(x) for x in chunk]


@contextmanager
def _local_backend(n_jobs: int) -> Iterator[tuple[Callable[..., Any], int]]:
    _thread_controller()  # found here once; the forked workers inherit it (_single_thread)
    pool = ProcessPoolExecutor(max_workers=n_jobs, initializer=_init_worker, initargs=(os.getpid(),))
    try:
        yield pool.submit, n_jobs
    except BaseException:  # an error, SIGTERM or an abandoned generator: do not wait for the workers
        _terminate_workers(pool)
        raise
    pool.shutdown(wait=True)


@contextmanager
def _dask_backend(settings: ExecutorSettings) -> Iterator[tuple[Callable[..., Any], int]]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
        raise ConfigError(f"audio.scheduler: {settings.scheduler!r} needs dask[distributed] "
                          f"(pip install 'dask[distributed]')") from exc
    cluster = None
    if settings.scheduler == "local":
        cluster = LocalCluster(n_workers=settings.n_jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(settings.scheduler, timeout=30)
        except OSError as exc:
            raise ConfigError(f"audio.scheduler: cannot reach the Dask scheduler at {settings.scheduler} "
                              f"({exc})") from exc
    try:
        client.run(_single_thread)
        slots = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()) or 1

        def submit(fn: Callable[..., Any], *args: Any) -> Any:
            return client.submit(fn, *args, pure=False)

        yield submit, slots
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _backend(settings: ExecutorSettings):
    return _dask_backend(settings) if settings.uses_dask else _local_backend(settings.n_jobs)


def ordered_map(fn: Callable[[T], R], items: Sequence[T], *, executor: ExecutorSettings,
                chunksize: int | None = None, desc: str | None = None,
                inflight_per_job: int = 4) -> Iterator[R]:
    """Yield ``fn(item)`` for every item, in input order, on the backend ``executor`` names.

    With ``scheduler: processes`` the first item runs here, timed; the map stays here when
    that time x ``len(items)`` is under ``executor.inline_below_s`` (or ``n_jobs`` is 1),
    otherwise a pool runs the rest. Same results either way: only where they are computed differs.

    Parameters
    ----------
    fn : callable
        A module-level (picklable) function of one argument; its module must be importable
        by the workers.
    items : sequence
    executor : ExecutorSettings
    chunksize : int, optional
        Items per task; default aims at ~16 tasks per worker (at most 64 items).
    desc : str, optional
        Label of the tqdm progress bar (counts items).
    inflight_per_job : int
        Chunks submitted ahead per worker slot (bounds memory held by finished results).
    """
    from tqdm import tqdm

    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit="item", mininterval=1.0, leave=False)
    try:
        if len(items) == 0:
            return
        if not executor.uses_dask:
            t0 = time.perf_counter()
            first = fn(items[0])
            first_s = time.perf_counter() - t0
            yield first
            bar.update(1)
            items = items[1:]
            if executor.n_jobs <= 1 or len(items) <= 1 or first_s * (len(items) + 1) < executor.inline_below_s:
                for x in items:
                    yield fn(x)
                    bar.update(1)
                return
        with _backend(executor) as (submit, slots):
            size = chunksize or max(1, min(64, len(items) // (16 * slots)))
            chunks = (items[i: i + size] for i in range(0, len(items), size))
            pending: deque = deque()
            for chunk in chunks:
                pending.append(submit(_run_chunk, fn, chunk))
                if len(pending) >= slots * inflight_per_job:
                    break
            while pending:
                results = pending.popleft().result()
                nxt = next(chunks, None)
                if nxt is not None:
                    pending.append(submit(_run_chunk, fn, nxt))
                for r in results:
                    yield r
                bar.update(len(results))
    finally:
        bar.close()

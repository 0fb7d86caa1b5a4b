"""Process-pool map that keeps input order, bounds memory and shows progress.

:func:`ordered_map` runs ``fn`` over ``items`` in ``n_jobs`` worker processes, in chunks,
with at most a few chunks in flight per worker, and yields results in input order, so
a stage can stream results into its outputs without holding the corpus in memory and
still write byte-identical files whatever ``n_jobs`` is.

Workers end with their parent: each watches its parent and exits when the parent is gone
(killed with SIGKILL, say), instead of waiting forever on the task pipe; when the parent
stops early (an exception, SIGTERM turned into one by :func:`audiolens.runtime.stage_main`,
or the consumer dropping the generator), the pool's workers are terminated, not awaited.
"""
from __future__ import annotations

import os
import signal
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["ordered_map"]


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
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


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


def ordered_map(fn: Callable[[T], R], items: Sequence[T], *, n_jobs: int = 1,
                chunksize: int | None = None, desc: str | None = None,
                inflight_per_job: int = 4) -> Iterator[R]:
    """Yield ``fn(item)`` for every item, in input order.

    Parameters
    ----------
    fn : callable
        A module-level (picklable) function of one argument.
    items : sequence
    n_jobs : int
        Worker processes; 1 runs in this process (no pool).
    chunksize : int, optional
        Items per task; default aims at ~16 tasks per worker (at most 64 items).
    desc : str, optional
        Label of the tqdm progress bar (counts items).
    inflight_per_job : int
        Chunks submitted ahead per worker (bounds memory held by finished results).
    """
    from tqdm import tqdm

    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit="item", mininterval=1.0, leave=False)
    try:
        if n_jobs <= 1 or len(items) <= 1:
            for x in items:
                yield fn(x)
                bar.update(1)
            return
        if chunksize is None:
            chunksize = max(1, min(64, len(items) // (16 * n_jobs)))
        chunks = [items[i: i + chunksize] for i in range(0, len(items), chunksize)]
        pool = ProcessPoolExecutor(max_workers=n_jobs, initializer=_init_worker, initargs=(os.getpid(),))
        finished = False
        try:
            pending: deque = deque()
            it = iter(chunks)
            for chunk in it:
                pending.append(pool.submit(_run_chunk, fn, chunk))
                if len(pending) >= n_jobs * inflight_per_job:
                    break
            while pending:
                results = pending.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(_run_chunk, fn, nxt))
                for r in results:
                    yield r
                bar.update(len(results))
            finished = True
        finally:
            if finished:
                pool.shutdown(wait=True)
            else:  # an error, SIGTERM or an abandoned generator: do not wait for the workers
                _terminate_workers(pool)
    finally:
        bar.close()

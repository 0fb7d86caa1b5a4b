"""Process-pool map that keeps input order, bounds memory and shows progress.

:func:`ordered_map` runs ``fn`` over ``items`` in ``n_jobs`` worker processes, in chunks,
with at most a few chunks in flight per worker, and yields results in input order, so
a stage can stream results into its outputs without holding the corpus in memory and
still write byte-identical files whatever ``n_jobs`` is.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["ordered_map"]


def _single_thread() -> None:
    """Pool initializer: one BLAS/OpenMP thread per worker (no oversubscription)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


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
        with ProcessPoolExecutor(max_workers=n_jobs, initializer=_single_thread) as pool:
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
    finally:
        bar.close()

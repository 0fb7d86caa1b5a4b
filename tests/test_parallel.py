"""ordered_map: input order whatever the pool does, same results as serial."""
from __future__ import annotations

import os
import time

from audiolens.parallel import ExecutorSettings, ordered_map

INLINE, POOL2 = ExecutorSettings(n_jobs=1, scheduler="processes"), ExecutorSettings(n_jobs=2, scheduler="processes")


def _slow_square(x: int) -> tuple[int, int]:
    time.sleep(0.002 * (x % 5))  # uneven task times shuffle completion order
    return x * x, os.getpid()


def test_results_keep_input_order_and_use_workers():
    items = list(range(200))
    serial = [r[0] for r in ordered_map(_slow_square, items, executor=INLINE)]
    pooled = list(ordered_map(_slow_square, items, executor=POOL2, chunksize=3, inflight_per_job=2))
    assert serial == [x * x for x in items] == [r[0] for r in pooled]
    assert len({pid for _, pid in pooled}) == 2 and os.getpid() not in {pid for _, pid in pooled}
    assert list(ordered_map(_slow_square, [], executor=POOL2)) == []


def _blas_threads(_: int) -> tuple[list[int], bool]:
    from threadpoolctl import threadpool_info

    import audiolens.parallel as par

    return [lib["num_threads"] for lib in threadpool_info()], par._thread_controller.cache_info().currsize == 1


def test_pool_workers_run_one_blas_thread_with_the_parents_library_scan():
    """Workers are limited to one BLAS/OpenMP thread; the library scan was done in the parent
    before the fork (the workers inherit it instead of rescanning: a faster pool start)."""
    import audiolens.parallel as par

    out = list(ordered_map(_blas_threads, range(4), executor=POOL2, chunksize=1))
    assert par._thread_controller.cache_info().currsize == 1  # found (memoised) in the parent
    assert all(threads and set(threads) == {1} and inherited for threads, inherited in out)

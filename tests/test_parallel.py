"""ordered_map: input order whatever the pool does, same results as serial."""
from __future__ import annotations

import os
import time

from audiolens.parallel import ExecutorSettings, ordered_map

INLINE = ExecutorSettings(n_jobs=1, scheduler="processes", inline_below_s=0.0)
POOL2 = ExecutorSettings(n_jobs=2, scheduler="processes", inline_below_s=0.0)  # always the pool


def _slow_square(x: int) -> tuple[int, int]:
    time.sleep(0.002 * (x % 5))  # uneven task times shuffle completion order
    return x * x, os.getpid()


def test_results_keep_input_order_and_use_workers():
    items = list(range(200))
    serial = [r[0] for r in ordered_map(_slow_square, items, executor=INLINE)]
    pooled = list(ordered_map(_slow_square, items, executor=POOL2, chunksize=3, inflight_per_job=2))
    assert serial == [x * x for x in items] == [r[0] for r in pooled]
    assert pooled[0][1] == os.getpid()  # the first item is the probe, run here
    workers = {pid for _, pid in pooled[1:]}
    assert len(workers) == 2 and os.getpid() not in workers
    assert list(ordered_map(_slow_square, [], executor=POOL2)) == []


def _sleep_and_pid(x: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def test_small_work_stays_in_this_process_large_work_goes_to_the_pool():
    """The first item's time x the number of items decides: under inline_below_s no pool starts."""
    items = list(range(12))  # >= 12 x 0.05 s = 0.6 s of work
    inline = list(ordered_map(_sleep_and_pid, items, executor=ExecutorSettings(
        n_jobs=2, scheduler="processes", inline_below_s=60.0)))
    assert set(inline) == {os.getpid()}
    pooled = list(ordered_map(_sleep_and_pid, items, chunksize=1, executor=ExecutorSettings(
        n_jobs=2, scheduler="processes", inline_below_s=0.3)))
    assert pooled[0] == os.getpid() and os.getpid() not in set(pooled[1:]) and len(set(pooled[1:])) == 2


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
    assert all(threads and set(threads) == {1} and inherited for threads, inherited in out[1:])  # [0]: the probe, here

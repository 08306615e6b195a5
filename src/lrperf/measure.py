"""Measurement plumbing shared by the suite, the scripts and ``lrperf train``.

* ``threads(n)``: Numba's threads and the BLAS/OpenMP pools set together, and
  restored afterwards: comparisons are only fair at equal thread counts.
* ``interleaved``: median times of several callables measured side by side,
  in alternating order, each after a pause that lets the other's thread pool
  park (on 2 cores a spinning pool steals the other's core).
"""
import contextlib
import statistics
import time

from .argtypes import pause_seconds, positive_int  # noqa: F401  (argparse types, shared)

DEFAULT_GAP_S = 0.3  # OpenBLAS spins about 0.1 s after a call; Numba's pool briefly


@contextlib.contextmanager
def threads(n):
    """Run the body with ``n`` Numba threads and ``n`` BLAS/OpenMP threads."""
    import numba
    from threadpoolctl import threadpool_limits

    n = int(n)
    if not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be between 1 and NUMBA_NUM_THREADS = "
                         f"{numba.config.NUMBA_NUM_THREADS}, got {n}")
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        numba.set_num_threads(previous)


def timed(fn, clock=time.perf_counter):
    """Seconds one call of ``fn()`` takes."""
    t0 = clock()
    fn()
    return clock() - t0


# The reference workload's size: about 0.3-0.6 ms of interpreter work on the
# machines seen so far, with no data to pull through the caches.
REFERENCE_ITERATIONS = 10000


def reference_seconds(iterations=REFERENCE_ITERATIONS, clock=time.perf_counter):
    """Seconds of a fixed pure-Python float loop: how fast this machine runs right
    now, in the process that asks (``results_format.REFERENCE_WORKLOAD``)."""
    t0 = clock()
    s, x = 0.0, 1.0000001
    for _ in range(iterations):
        s = s * x + 1.0
    return clock() - t0


def interleaved(calls, *, rounds=7, per_round=3, gap=DEFAULT_GAP_S, warmup=True,
                clock=time.perf_counter, sleep=time.sleep, between=None):
    """Times of each of ``calls`` ({name: fn}), measured side by side.

    Each round runs every callable ``per_round`` times back to back, the order
    reversed every other round so drift hits all alike; before each
    callable's turn the process sleeps ``gap`` seconds (the previous pool
    parks), then makes one untimed call (its own pool wakes).  With
    ``warmup`` every callable is called once first (JIT compilation stays out
    of the times).  ``between(round)`` is called after each round.  Returns
    {name: [seconds, ...]}; take ``median`` of them.
    """
    names = list(calls)
    if warmup:
        for name in names:
            calls[name]()
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn = calls[name]
            if gap:
                sleep(gap)
                fn()
            times[name] += [timed(fn, clock) for _ in range(per_round)]
        if between is not None:
            between(r)
    return times


def median(values):
    return statistics.median(values)


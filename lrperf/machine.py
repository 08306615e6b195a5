"""What the machine is and what it can physically do: the study's reference line.

``read_bandwidth`` measures memory read bandwidth as a multi-threaded sum over
a large array (the same access pattern a one-pass gradient step needs), so
strategies can be reported as a share of it.
"""
import os
import platform
import statistics
import time

import numba as nb
import numpy as np


# Eight independent accumulators: one chain of additions is bound by the
# add latency (about 16 GB/s a core here), not by memory.  fastmath is no
# substitute: measured slower with Numba 0.68 on this machine.
@nb.njit(parallel=True, cache=True)
def _parallel_sum(flat, nthreads):
    n = flat.size
    partial = np.zeros(nthreads)
    chunk = ((n + nthreads - 1) // nthreads + 7) // 8 * 8
    for t in nb.prange(nthreads):
        lo = t * chunk
        hi = min(n, lo + chunk)
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        k = lo
        while k + 8 <= hi:
            a0 += flat[k]
            a1 += flat[k + 1]
            a2 += flat[k + 2]
            a3 += flat[k + 3]
            a4 += flat[k + 4]
            a5 += flat[k + 5]
            a6 += flat[k + 6]
            a7 += flat[k + 7]
            k += 8
        while k < hi:
            a0 += flat[k]
            k += 1
        partial[t] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    return partial.sum()


def _contiguous_view(a):
    """A 1-D view of a's memory (C or F contiguous), without copying."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    if a.flags.f_contiguous:
        return a.T.reshape(-1)
    raise ValueError("read_bandwidth needs a C- or Fortran-contiguous array")


def read_bandwidth(array=None, *, nbytes=1 << 30, repeats=5, threads=None):
    """Median read bandwidth in GB/s (1e9 bytes/s) of a parallel sum.

    Sums ``array``'s memory (or a fresh array of ``nbytes``) ``repeats`` times
    after one warm-up pass (which also compiles the kernel) and returns the
    median rate.  ``threads`` defaults to Numba's current thread count.
    """
    if array is None:
        array = np.ones(max(nbytes // 8, 1))
    flat = _contiguous_view(array)
    if flat.dtype != np.float64:
        raise TypeError(f"read_bandwidth needs a float64 array, got {flat.dtype}")
    previous = nb.get_num_threads()
    if threads is not None:
        nb.set_num_threads(threads)
    try:
        nthreads = nb.get_num_threads()
        _parallel_sum(flat, nthreads)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            _parallel_sum(flat, nthreads)
            times.append(time.perf_counter() - t0)
    finally:
        nb.set_num_threads(previous)
    return flat.nbytes / statistics.median(times) / 1e9


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info():
    """The BLAS library NumPy uses and its thread count (via threadpoolctl if present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"blas": "unknown (install threadpoolctl)", "blas_threads": None}
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return {"blas": "none found", "blas_threads": None}
    p = pools[0]
    return {"blas": f"{p.get('internal_api')} {p.get('version')}", "blas_threads": p.get("num_threads")}


def machine_info():
    """CPU model, core count, BLAS and its threads, NumPy and Numba versions."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "numba_threads": nb.config.NUMBA_NUM_THREADS,
        **blas_info(),
        "numpy": np.__version__,
        "numba": nb.__version__,
        "python": platform.python_version(),
    }

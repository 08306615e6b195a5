"""What the machine is and what it can physically do: the study's reference line.

``read_bandwidth`` measures memory read bandwidth as a multi-threaded sum over
a large array (the same access pattern a one-pass gradient step needs), so
strategies can be reported as a share of it.
"""
import functools
import os
import platform
from pathlib import Path
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


SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "neon", "asimd",
              "sve")


def _size_bytes(text):
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def _count_cpus(cpu_list):
    count = 0
    for part in cpu_list.strip().split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def cache_sizes():
    """{"L1d"/"L2"/"L3": {"bytes": size of one cache, "shared_by": cpus}} of cpu0.

    Read from Linux's sysfs: the running machine's own caches, per instance
    (py-cpuinfo reports some of them summed over cores).  {} where unknown.
    """
    found = {}
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(root.glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = _size_bytes((index / "size").read_text())
            shared = _count_cpus((index / "shared_cpu_list").read_text())
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        name = f"L{level}d" if kind == "Data" else f"L{level}"
        found[name] = {"bytes": size, "shared_by": shared}
    return found


@functools.lru_cache(maxsize=1)
def cpu_facts():
    """CPU model, SIMD flags that matter, caches, cores and advertised clock."""
    try:
        import cpuinfo
        info = cpuinfo.get_cpu_info()
    except Exception:  # py-cpuinfo missing or failing on an exotic platform
        info = {}
    flags = set(info.get("flags", ()))
    caches = cache_sizes()
    if not caches:
        for name, key in (("L1d", "l1_data_cache_size"), ("L2", "l2_cache_size"),
                          ("L3", "l3_cache_size")):
            if isinstance(info.get(key), int):
                caches[name] = {"bytes": info[key], "shared_by": None}
    return {
        "cpu": info.get("brand_raw") or platform.processor() or platform.machine(),
        "arch": info.get("arch_string_raw") or platform.machine(),
        "simd": [f for f in SIMD_FLAGS if f in flags],
        "caches": caches,
        "cores": os.cpu_count(),
        "ghz_advertised": round(info["hz_advertised"][0] / 1e9, 3)
        if info.get("hz_advertised") else None,
    }


def last_level_cache_bytes(default=8 << 20):
    """Size of the largest cache (the last level) of this machine."""
    caches = cpu_facts()["caches"]
    return max((c["bytes"] for c in caches.values()), default=default)


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
    """CPU facts (model, SIMD flags, caches, cores), BLAS and its threads, versions."""
    return {
        **cpu_facts(),
        "numba_threads": nb.config.NUMBA_NUM_THREADS,
        **blas_info(),
        "numpy": np.__version__,
        "numba": nb.__version__,
        "python": platform.python_version(),
    }

"""The ceiling B(size, threads): the fastest plain read of a working set, in GB/s.

A share of a physical limit is only honest if the limit is not under-read.
So one "plain read" is measured by several probes and the fastest wins:

* ``sum``: a Numba parallel sum, ``fastmath`` reassociation so LLVM splits it
  over SIMD lanes and several independent vector accumulators (one scalar
  chain is bound by the add latency, not by memory);
* ``gemv`` and ``gemv_t``: the BLAS streams ``X @ v`` and ``v @ X``, which the
  vendor tuned for this CPU.

Each probe takes the best of its repeats (an upper bound is what a ceiling
is), and the probes run side by side (``measure.interleaved``) at equal
thread counts (``measure.threads``).  Small working sets are read several
times per timed call, so call overhead stays out of the rate.

The sizes form a ladder from inside L1 to 4x the last-level cache, as pmbw
and the Empirical Roofline Toolkit do, derived from the running machine's
caches (``machine.cpu_facts``); each point is named after the cache level
that holds it (``level_of``).
"""
import math

import numba as nb
import numpy as np

from . import measure
from .machine import cpu_facts

LEVELS = ("L1", "L2", "L3", "DRAM")
# Bytes each timed call reads at least (small sets are re-read): long enough
# that a call's fixed cost (thread wake-up, dispatch) is a small part of it.
MIN_BYTES_PER_CALL = 32 << 20
# Python-level repeats of a BLAS call are capped: its per-call overhead makes
# it lose at tiny sizes anyway, and the Numba probe covers those.
MAX_GEMV_PASSES = 64
_GEMV_COLUMNS = 512  # a generated buffer is read as (rows, 512): 4 KB rows
_ALIGN_BYTES = 4096


@nb.njit(fastmath={"reassoc"}, cache=True)
def _sum_into(part, s):
    for k in range(part.size):
        s += part[k]
    return s


# Each thread sums its own slice: a loop index offset by a run-time start
# (flat[lo + k]) makes Numba check for negative indices per element, which
# blocks vectorization (measured 30x slower here).  The running sum carries
# over between passes, so LLVM cannot hoist the read out of the pass loop.
@nb.njit(parallel=True, cache=True)
def _sum_probe(flat, nthreads, passes):
    n = flat.size
    partial = np.zeros(nthreads)
    chunk = ((n + nthreads - 1) // nthreads + 7) // 8 * 8
    for t in nb.prange(nthreads):
        lo = min(n, t * chunk)
        hi = min(n, lo + chunk)
        part = flat[lo:hi]
        s = 0.0
        for _ in range(passes):
            s = _sum_into(part, s)
        partial[t] = s
    return partial.sum()


def _flat(array):
    """A 1-D view of a C- or F-contiguous array's memory, without copying."""
    if array.flags.c_contiguous:
        return array.reshape(-1)
    if array.flags.f_contiguous:
        return array.T.reshape(-1)
    raise ValueError("the read probe needs a C- or Fortran-contiguous array, got strides "
                     f"{array.strides} for shape {array.shape}")


def _matrix(array):
    """A 2-D view for the BLAS probes: the array itself, or rows of 4 KB."""
    if array.ndim == 2:
        return array
    flat = _flat(array)
    cols = _GEMV_COLUMNS if flat.size % _GEMV_COLUMNS == 0 else flat.size
    return flat.reshape(-1, cols)


def passes_for(nbytes):
    """Reads of the working set per timed call (at least ``MIN_BYTES_PER_CALL``)."""
    return max(1, math.ceil(MIN_BYTES_PER_CALL / max(int(nbytes), 1)))


def _probe_sum(array, threads, passes):
    flat = _flat(array)
    return (lambda: _sum_probe(flat, threads, passes)), flat.nbytes * passes


def _gemv(array, transposed, passes):
    X = _matrix(array)
    passes = min(passes, MAX_GEMV_PASSES)
    v = np.ones(X.shape[0] if transposed else X.shape[1], dtype=X.dtype)

    def read():
        for _ in range(passes):
            (v @ X) if transposed else (X @ v)

    return read, X.nbytes * passes


PROBES = {
    "sum": _probe_sum,
    "gemv": lambda array, threads, passes: _gemv(array, False, passes),
    "gemv_t": lambda array, threads, passes: _gemv(array, True, passes),
}


def probe_read(nbytes=None, threads=1, *, array=None, probes=None, rounds=3, per_round=3,
               gap=0.05, clock=None, sleep=None):
    """The fastest plain read of ``nbytes`` (or of ``array``'s memory) on ``threads``.

    Returns {"nbytes", "threads", "level", "gbs" (the ceiling: the fastest
    probe's best rate, 1e9 bytes/s), "best_probe", "probes" ({name: best
    GB/s})}.  ``probes`` maps a name to ``factory(array, threads, passes) ->
    (call, bytes read per call)``; ``clock``/``sleep`` go to
    ``measure.interleaved`` (tests pass fake ones).
    """
    if array is None:
        if nbytes is None or int(nbytes) < 8:
            raise ValueError(f"nbytes must be at least 8 bytes, got {nbytes!r}")
        array = np.ones(int(nbytes) // 8)
    elif not isinstance(array, np.ndarray) or array.dtype not in (np.float32, np.float64):
        raise TypeError("array must be a float32 or float64 numpy array, got "
                        f"{getattr(array, 'dtype', type(array).__name__)}")
    size = array.nbytes
    probes = PROBES if probes is None else probes
    passes = passes_for(size)
    kwargs = {}
    if clock is not None:
        kwargs["clock"] = clock
    if sleep is not None:
        kwargs["sleep"] = sleep
    with measure.threads(threads) as n:
        calls, volume = {}, {}
        for name, factory in probes.items():
            calls[name], volume[name] = factory(array, n, passes)
        times = measure.interleaved(calls, rounds=rounds, per_round=per_round, gap=gap, **kwargs)
    rates = {name: rate(volume[name], min(t)) for name, t in times.items()}
    best = max(rates, key=rates.get)
    return {"nbytes": size, "threads": n, "level": level_of(size, n), "gbs": rates[best],
            "best_probe": best, "probes": rates}


def rate(nbytes, seconds):
    """GB/s (1e9 bytes per second) of reading ``nbytes`` in ``seconds``."""
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    return nbytes / seconds / 1e9


def _caches(caches):
    caches = cpu_facts()["caches"] if caches is None else caches
    return {name: c["bytes"] for name, c in caches.items() if c.get("bytes")}


def _round(nbytes):
    return max(_ALIGN_BYTES, int(round(nbytes / _ALIGN_BYTES)) * _ALIGN_BYTES)


def ladder(caches=None):
    """Working-set sizes in bytes, from inside L1 to 4x the last-level cache.

    Half of each cache (surely held by it), 4x the last level (surely out of
    it) and the geometric midpoint between neighbours (the transitions).
    Rounded to whole 4 KB pages.  ``caches`` as in ``machine.cache_sizes()``.
    """
    sizes = sorted(set(_caches(caches).values()))
    if not sizes:
        sizes = [8 << 20]  # no cache facts: still a memory point and an in-cache one
    anchors = [_round(s / 2) for s in sizes] + [_round(4 * sizes[-1])]
    points = set(anchors)
    for lo, hi in zip(anchors, anchors[1:]):
        points.add(_round(math.sqrt(lo * hi)))
    return tuple(sorted(points))


def ladder_upto(nbytes, caches=None):
    """``ladder()`` up to the first size of at least ``nbytes``: the levels a
    working set of ``nbytes`` or less reaches, and the one above it (a share
    reads the largest size not above its X, ``ceiling_at``)."""
    sizes = ladder(caches)
    reach = next((i + 1 for i, s in enumerate(sizes) if s >= nbytes), len(sizes))
    return sizes[:reach]


def level_of(nbytes, threads=1, caches=None):
    """Which level holds a working set of ``nbytes`` read by ``threads`` threads.

    L1 and L2 are per core: each thread reads its own share (nbytes /
    threads).  The last level is shared: the whole set must fit.
    """
    sizes = _caches(caches)
    share = nbytes / max(int(threads), 1)
    if "L1d" in sizes and share <= sizes["L1d"]:
        return "L1"
    if "L2" in sizes and share <= sizes["L2"] and "L3" in sizes:
        return "L2"
    if "L2" in sizes and "L3" not in sizes and nbytes <= sizes["L2"]:
        return "L2"
    if "L3" in sizes and nbytes <= sizes["L3"]:
        return "L3"
    return "DRAM"


def curve(sizes=None, thread_counts=None, **kwargs):
    """probe_read at every ladder size and thread count: the ceiling B(size, threads)."""
    from .grid import thread_counts as default_threads

    sizes = ladder() if sizes is None else sizes
    thread_counts = default_threads() if thread_counts is None else thread_counts
    return [probe_read(s, t, **kwargs) for t in thread_counts for s in sizes]


def ceiling_at(points, nbytes, threads):
    """B(nbytes, threads) in GB/s from measured points ({"nbytes", "threads", "gbs"}).

    Reading gets no faster as the working set grows, so the point at the
    largest measured size not above ``nbytes`` bounds B from above (the
    smallest point where ``nbytes`` is below them all): a share computed
    against it can err low, never high.
    """
    mine = sorted((p["nbytes"], p["gbs"]) for p in points if p["threads"] == threads)
    if not mine:
        raise ValueError(f"no ceiling point measured at threads={threads}; measured: "
                         f"{sorted({p['threads'] for p in points})}")
    below = [gbs for size, gbs in mine if size <= nbytes]
    return below[-1] if below else mine[0][1]


def share(nbytes, seconds, ceiling_gbs):
    """Achieved read rate of ``nbytes`` in ``seconds`` as a fraction of the ceiling."""
    if not ceiling_gbs > 0:
        raise ValueError(f"ceiling_gbs must be > 0, got {ceiling_gbs!r}")
    return rate(nbytes, seconds) / ceiling_gbs


def plateaus(points, caches=None):
    """{threads: {level: median GB/s of the points that level holds}}."""
    out = {}
    for p in points:
        level = level_of(p["nbytes"], p["threads"], caches)
        out.setdefault(p["threads"], {}).setdefault(level, []).append(p["gbs"])
    return {t: {lv: float(np.median(v)) for lv, v in sorted(d.items(), key=lambda kv:
                                                             LEVELS.index(kv[0]))}
            for t, d in sorted(out.items())}


def read_bandwidth(array=None, *, nbytes=1 << 30, repeats=5, threads=None):
    """The fastest plain read of ``array``'s memory (or of ``nbytes``), in GB/s.

    The ceiling at that working-set size: the best of several read probes
    (``probe_read``), each the best of ``repeats`` timed calls.  ``threads``
    defaults to Numba's current thread count.
    """
    if threads is None:
        threads = nb.get_num_threads()
    kwargs = {"nbytes": nbytes} if array is None else {"array": array}
    return probe_read(threads=threads, rounds=repeats, per_round=1, **kwargs)["gbs"]

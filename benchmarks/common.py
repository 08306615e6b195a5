"""Grid, thread control, data and cost estimates shared by the suite's modules.

Nothing here is a benchmark: asv only collects names starting with time_,
timeraw_, peakmem_, mem_ or track_.
"""
import math
import os
import secrets
import time

import numpy as np

import lrperf
from lrperf import environment, grid, measure, results_format
from lrperf.datasets import synthetic

GRID = grid.GRIDS[grid.grid_name()]
STRATEGY_NAMES = list(lrperf.STRATEGIES)
LAYOUTS = list(grid.LAYOUTS)
DTYPES = list(grid.DTYPES)
THREADS = grid.thread_counts()

# Bounds on the estimated time of one propagate call; points above are
# skipped (NotImplementedError in setup), which keeps the full suite within
# about 15 minutes on a 2-core machine.  Which points they skip depends on the
# machine and its load: LRPERF_BENCH_TIME_BOUND=off measures every point
# (lrperf.environment.time_bounds).
MAX_CALL_S, MAX_OPTIMIZE_CALL_S = environment.time_bounds()
if MAX_CALL_S is not None and getattr(GRID, "max_call_s", None) is not None:
    # A first look's bound holds for both: an optimize point whose propagate
    # point is skipped would cost 100 such calls a sample and stand alone.
    MAX_CALL_S = min(MAX_CALL_S, GRID.max_call_s)
    MAX_OPTIMIZE_CALL_S = min(MAX_OPTIMIZE_CALL_S, GRID.max_call_s)


def _load_serial_numba():
    """Compile or load serial Numba strategies here, before asv forks a process per point.

    Each fork would otherwise load them from the on-disk cache again (about
    0.3 s a point).  Parallel ones are left alone: a process that has run
    OpenMP threads must not fork.
    """
    for s in lrperf.STRATEGIES.values():
        if s.available and s.device == "cpu" and not s.parallel:
            for order in LAYOUTS:
                X, Y = synthetic(4, 3, order=order)
                s.step(np.zeros(4), 0.0, *s.prepared(X, Y.reshape(-1)))


_load_serial_numba()


def _import_before_fork():
    """Import here, once, what every point process would import again: the
    libraries strategies name as safe to import before a fork (jax takes about
    1.4 s a process), and the CPU facts numba_fused plans by."""
    import importlib

    from lrperf import machine
    machine.cpu_facts()
    for s in lrperf.STRATEGIES.values():
        if s.available:
            for name in getattr(s, "imports", ()):
                importlib.import_module(name)


_import_before_fork()

# Where `lrperf study` counts points: one line per point process.
PROGRESS_ENV = results_format.PROGRESS_ENV
_announced = False


def announce(family):
    """Tell the study one more point of ``family`` has started (once per point process)."""
    global _announced
    if _announced or not os.environ.get(PROGRESS_ENV):
        return
    _announced = True
    try:
        results_format.announce_point(family)
    except (TypeError, AttributeError):  # an older lrperf under history: no families
        results_format.announce_point()


_threads = None


def set_threads(n):
    """Numba's threads and the BLAS/OpenMP pools, set together for the rest of
    this benchmark process (asv forks one per point)."""
    global _threads
    if _threads is not None and _threads[0] == n:
        return
    if _threads is not None:
        _threads[1].__exit__(None, None, None)
    context = measure.threads(n)
    context.__enter__()
    _threads = (n, context)


def _timed_call(step, w, X, Y):
    return measure.timed(lambda: step(w, 0.0, X, Y))


_cost_model = {}
# Set by `lrperf study`: a file the run's point processes share the cost model
# through, so each (strategy, layout, dtype) is probed once per run instead of
# once per process (a numba_fused probe loads two more compiled variants, a
# jax_xla probe compiles two more shapes: seconds a process).
COST_MODEL_ENV = "LRPERF_COST_MODEL_FILE"
# A point of at most this many elements is measured directly: probing at
# 128 x 128 would cost about as much as the point itself.
DIRECT_ELEMENTS = 4 * 128 * 128


def _shared_cost_model():
    import json
    path = os.environ.get(COST_MODEL_ENV)
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return {tuple(k.split("|")): tuple(v) for k, v in json.load(f).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _share_cost_model():
    import json
    path = os.environ.get(COST_MODEL_ENV)
    if not path:
        return
    try:
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"|".join(k): list(v) for k, v in _cost_model.items()}, f)
        os.replace(tmp, path)
    except OSError:
        pass  # a courtesy: the next process probes again


def _fastest_call(strategy, n_x, m, layout, dtype):
    X, Y = synthetic(n_x, m, order=layout, dtype=dtype, seed=1)
    record = lrperf.STRATEGIES[strategy]
    X, Y = record.prepared(X, Y.reshape(-1))
    w = np.zeros(n_x)
    step = record.step
    step(w, 0.0, X, Y)  # compiles or loads the cache
    return min(_timed_call(step, w, X, Y) for _ in range(5))


def estimated_call(strategy, layout, dtype, n_x, m):
    """Seconds for one call, from the fastest of 5 calls at 8 x 8 and at 128 x 128.

    A fixed cost per call (thread wake-up, dispatch) plus a cost per element:
    extrapolating the 128 x 128 time alone by size would charge the fixed
    cost once per 16384 elements.
    """
    key = (strategy, layout, dtype)
    if key not in _cost_model:
        _cost_model.update(_shared_cost_model())
    if key not in _cost_model:
        t_small = _fastest_call(strategy, 8, 8, layout, dtype)
        t_big = _fastest_call(strategy, 128, 128, layout, dtype)
        per_element = max(t_big - t_small, 0.0) / (128 * 128 - 8 * 8)
        _cost_model[key] = (t_small, per_element)
        _share_cost_model()
    fixed, per_element = _cost_model[key]
    return fixed + per_element * n_x * m


def _check(strategy, n_x, m, how, seconds, limit, bound):
    if seconds > limit:
        raise NotImplementedError(
            f"skipped: {strategy} at {n_x} x {m} takes about {seconds:.2g} s a call "
            f"({how}), over the bound of {bound} s")


# How long after its threads are set a point process waits before it is timed.
SETTLE_S = 0.12

# Where an array lands in memory changes a small point's time (cache sets,
# 4K aliasing between X, w, Y and the outputs).  asv forks every process of a
# run from one server, so the arrays of a point would land at the same
# addresses in all its processes, an arrangement fixed within a run and
# different in the next: a between-run offset that no spread between
# processes could show.  So each process puts them at a random cache line of
# a page.  The line offset stays 16 bytes, what glibc gives a large NumPy
# array (a page plus malloc's header): jax_xla then copies X per call, as it
# does for a user's plain array.
PLACEMENT_OFFSET = 16


def placed(a):
    """A copy of ``a``, in its own layout, at a random cache line of a page
    (``PLACEMENT_OFFSET`` bytes past it), drawn afresh in each process."""
    start = 64 * secrets.randbelow(4096 // 64) + PLACEMENT_OFFSET
    buf = np.empty(a.nbytes + 4096 + 64, np.uint8)
    start += (-buf.ctypes.data) % 64
    order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    out = np.ndarray(a.shape, a.dtype, buffer=buf, offset=start, order=order)
    out[...] = a
    return out


class Point:
    """One grid point, set up once per process: data, warm-up, measured call time.

    Skips (NotImplementedError) when one call would take longer than
    ``max_call_s`` (None: never), checked three times, each dearer and more accurate:
    small calls extrapolated by size (noisy on a busy machine: only 10x the
    bound skips), the first m/8 columns of X (1.5x), then the whole of X,
    which also faults X's pages in.  Small calls miss cache misses, strides
    and BLAS thread wake-ups.  A point of at most ``DIRECT_ELEMENTS`` is
    measured directly, without the first.
    """

    def __init__(self, strategy, n_x, m, layout, dtype, threads, max_call_s):
        record = lrperf.STRATEGIES[strategy]
        if not record.available:
            raise NotImplementedError(f"skipped: {strategy} is unavailable: {record.unavailable}")
        if record.chunked:
            raise NotImplementedError(
                f"skipped: {strategy} runs on a cluster of worker processes; "
                "benchmarks/dask.py measures it on its own cluster, start-up timed apart")
        if dtype not in record.dtypes:
            # It would time a float64 copy of X plus the float64 step: the float64
            # point already shows that, and the grid stays affordable.
            raise NotImplementedError(
                f"skipped: {strategy} reads {dtype} X through a float64 copy; see its "
                "float64 point")
        if record.fixed_pool is not None and threads != record.fixed_pool():
            raise NotImplementedError(
                f"skipped: {strategy}'s thread pool spreads over this process's "
                f"{record.fixed_pool()} cores, fixed when its library starts; "
                f"{threads}-thread points run in a pinned process in scripts/bench_jax.py")
        set_threads(threads)
        threads_set = time.perf_counter()
        bound = max_call_s
        direct = n_x * m <= DIRECT_ELEMENTS
        if bound is not None and not direct:
            _check(strategy, n_x, m, "extrapolated from 128 x 128",
                   estimated_call(strategy, layout, dtype, n_x, m), 10 * bound, bound)
        X, Y = synthetic(n_x, m, order=layout, dtype=dtype, seed=0)
        self.X, self.Y, self.w = placed(X), placed(Y.reshape(m)), placed(np.zeros(n_x))
        del X, Y
        self.strategy = strategy
        if direct:
            # What the probe did otherwise: compile or load the cache, untimed.
            self.propagate(self.w, 0.0, self.X, self.Y)
        k = max(32, m // 8)
        if bound is not None and k < m:
            # A copy in X's layout: a strided view has another Numba type
            # and would time a compilation.
            head = np.array(self.X[:, :k], order=layout)
            probe = self._measure(head, self.Y[:k].copy(), m / k, 1.5 * bound)
            del head
            _check(strategy, n_x, m, f"measured on {k} columns", probe * m / k,
                   1.5 * bound, bound)
        self.call_s = self._measure(self.X, self.Y, 1.0, bound)
        if bound is not None:
            _check(strategy, n_x, m, "measured", self.call_s, bound, bound)
        self._check_equal_to_numpy()
        # Setting the threads in a forked process starts OpenBLAS's pool anew, and
        # its workers spin for 2**28 cycles (about 0.1 s) before they sleep: on 2
        # cores they steal the timed thread's core, and a pure-Python step of
        # 0.7 ms measured 0.7 to 3.3 ms by process.  The setup above runs during
        # the spin; the rest of it is waited out here.
        time.sleep(max(0.0, SETTLE_S - (time.perf_counter() - threads_set)))
        if threads > 1:
            # Wake this strategy's own pool before asv times it.
            self.propagate(self.w, 0.0, self.X, self.Y)

    def _check_equal_to_numpy(self):
        """As perfplot does: a point whose result is wrong fails instead of timing."""
        w = np.random.default_rng(2).normal(size=self.X.shape[0]) / np.sqrt(self.X.shape[0])
        got, cost = self.propagate(w, 0.1, self.X, self.Y)
        if self.X.dtype == np.float64:
            # On one BLAS thread: a woken BLAS pool spins for a while after its
            # call and, on 2 cores, would steal this strategy's core in its first
            # samples (bimodal times), unless the point slept 0.3 s for it to park.
            from threadpoolctl import threadpool_limits
            with threadpool_limits(limits=1, user_api="blas"):
                ref, ref_cost = lrperf.propagate(w, 0.1, self.X, self.Y,
                                                 strategy=grid.REFERENCE)
            ref_dw, ref_db = ref["dw"], ref["db"]
        else:
            # numpy computes float32 X in float32: check against float64 on the same values.
            from lrperf import accuracy
            ref_dw, ref_db, ref_cost = accuracy.float64_step(w, 0.1, self.X, self.Y)
        record = lrperf.STRATEGIES[self.strategy]
        if record.accumulation(self.X.dtype) == "float64":
            np.testing.assert_allclose(got["dw"], ref_dw, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{self.strategy} disagrees with numpy")
            np.testing.assert_allclose([got["db"], cost], [ref_db, ref_cost], rtol=1e-9,
                                       err_msg=f"{self.strategy} disagrees with numpy")
            return
        from lrperf import accuracy
        tol = accuracy.tolerance(record.accumulation(self.X.dtype), *self.X.shape)
        for what, a, b in (("dw", got["dw"], ref_dw), ("cost", cost, ref_cost)):
            err = accuracy.relative_error(a, b)
            assert err <= tol, (f"{self.strategy}: {what} off by {err:.2g} relative, over "
                                f"the {tol:.2g} of {record.accumulation(self.X.dtype)} sums")

    def _measure(self, X, Y, scale, limit):
        """One call's time; a short call over the limit is retried (scheduling jitter)."""
        if lrperf.STRATEGIES[self.strategy].compiles_per_shape:
            # XLA compiles once per shape (about 1 s): the first call at this
            # shape is compilation, not the step.
            self.propagate(self.w, 0.0, X, Y)
        t = _timed_call(self.propagate, self.w, X, Y)
        if limit is not None and t * scale > limit and t < 0.1:
            t = min(t, _timed_call(self.propagate, self.w, X, Y),
                    _timed_call(self.propagate, self.w, X, Y))
        return t

    def propagate(self, w, b, X, Y):
        return lrperf.propagate(w, b, X, Y, strategy=self.strategy)

    def calls_for(self, seconds, lo, hi):
        return max(lo, min(hi, math.ceil(seconds / max(self.call_s, 1e-9))))


_points = {}


def point(strategy, n_x, m, layout, dtype, threads, max_call_s):
    """The memoized Point: asv may re-run setup before every sample."""
    key = (strategy, n_x, m, layout, dtype, threads, max_call_s)
    if key not in _points:
        _points.clear()  # one point alive at a time bounds memory
        _points[key] = Point(strategy, n_x, m, layout, dtype, threads, max_call_s)
    return _points[key]

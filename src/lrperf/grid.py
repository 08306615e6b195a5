"""The study's axes and named grids: the one schema the suite, the study, the
report and the tests import.

Adding an axis means adding it to ``AXES`` (and its values to the grids) here,
then teaching the code that really differs (the benchmark's setup, a figure)
what to do with it.
"""
import os
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

# The benchmarks' names and parameters belong to the results format (the study
# writes them, the report reads them); the suite and the tests find them here too.
from .results_format import (  # noqa: F401
    ACCURACY_PARAMS, BENCH_BANDWIDTH, BENCH_DEVICE_READ, BENCH_ERROR_COST, BENCH_ERROR_DW,
    BENCH_FIRST_CALL, BENCH_GPU_STEP, BENCH_H2D, BENCH_OPTIMIZE, BENCH_PEAKMEM,
    BENCH_READ_BANDWIDTH, BENCH_STEP, BENCH_XLA_DOT_FUSIONS, BENCH_XLA_DOTS,
    BENCH_XLA_X_READS, GPU_STEP_PARAMS, OPTIMIZE_ITERATIONS, READ_PARAMS, XLA_PARAMS)

# Parameters of every grid benchmark, in asv's order.
AXES = ("strategy", "n_x", "m", "layout", "dtype", "threads")
LAYOUTS = ("C", "F")
# dtype of X: float32 halves the bytes one step reads; a strategy
# that does not read it natively gets one float64 copy per call (registry).
DTYPES = ("float64", "float32")
# The strategy every other is checked against and timed beside: the plain
# vectorized NumPy step.  Named here once; callers never spell it.
REFERENCE = "numpy"
# What the speedups are measured against.
BASELINES = ("python_loops", REFERENCE)
# The course's cat/non-cat training set: marked on the figures.
CAT_SHAPE = (12288, 209)
GRID_ENV = "LRPERF_BENCH_GRID"
# The strategy whose compiled program the xla.Program benchmarks count.
XLA_STRATEGY = "jax_xla"


@dataclass(frozen=True)
class Grid:
    n_x: Tuple[int, ...]
    m: Tuple[int, ...]
    description: str
    # The accuracy benchmarks' sizes (n_x values, m values); None: the grid's,
    # with m up to the cat set's.
    accuracy: Optional[Tuple[Tuple[int, ...], Tuple[int, ...]]] = None
    # The benchmarks `lrperf study` runs on this grid (exact names); None: all.
    benchmarks: Optional[Tuple[str, ...]] = None
    # A tighter bound (seconds) on one propagate call than the suite's 1 s: a
    # first look skips the pure-Python loops where one call costs more.
    max_call_s: Optional[float] = None
    # The read ceiling at every size of its ladder (to 4x the last cache), or
    # only up to the largest X of the grid: a first look needs no ceiling its
    # X never reaches (a VM that reports a 480 MB L3 asks for 2 GB reads).
    full_ladder: bool = True
    # Processes a step point is timed in (lrperf.samples: the unit of
    # evidence).  4, the fewest an exact rank test can find a change with
    # (p = 2/70), when every process's reference takes the machine's speed
    # out; a first look keeps its few minutes with them.
    processes: int = 5


# What a first look needs: the step's time (the answer), the resident step
# (optimize), the errors, the read ceiling (shares) and what XLA compiled.
# Peak memory, the bandwidth track and the first call (a fresh interpreter per
# sample) are left to the full grid.
FIRST_LOOK = (BENCH_STEP, BENCH_OPTIMIZE, BENCH_ERROR_DW, BENCH_ERROR_COST,
              BENCH_READ_BANDWIDTH, BENCH_XLA_DOTS, BENCH_XLA_X_READS, BENCH_XLA_DOT_FUSIONS,
              BENCH_GPU_STEP, BENCH_DEVICE_READ, BENCH_H2D)

GRIDS = {
    # 1.2 KB (in L1) to 329 MB of float64 X (out of any cache); 12288 x 209
    # is the cat training set.
    "full": Grid((12, 192, 3072, 12288), (13, 209, 836, 3344),
                 "n_x 12..12288 x m 13..3344 (1.2 KB to 329 MB of float64 X)"),
    # A first look: tiny up to the cat data's size; errors at one shape (the
    # 50-digit reference at the cat size alone takes about 20 s per dtype).
    "quick": Grid((12, 12288), (13, 209),
                  "n_x 12, 12288 x m 13, 209 (up to the cat size; calls over 20 ms "
                  "skipped; measured: 2 min 50 s on a 2-core Xeon VM, JIT included)",
                  accuracy=((12288,), (13,)), benchmarks=FIRST_LOOK, max_call_s=0.02,
                  full_ladder=False, processes=4),
    # CI and the report's fixture.
    "tiny": Grid((16, 128), (13, 209),
                 "n_x 16, 128 x m 13, 209 (measured: 2 min 49 s on a 2-core Xeon VM, "
                 "JIT included)",
                 accuracy=((128,), (209,)), benchmarks=FIRST_LOOK, max_call_s=0.02,
                 full_ladder=False, processes=4),
}


def accuracy_grid(g):
    """The sizes of the accuracy benchmarks: ``g.accuracy``, else ``g``'s with m
    up to the cat set's (the 50-digit reference costs seconds per million
    products)."""
    if g.accuracy is not None:
        n_x, ms = g.accuracy
    else:
        n_x, ms = g.n_x, tuple(m for m in g.m if m <= CAT_SHAPE[1]) or (min(g.m),)
    return Grid(tuple(n_x), tuple(ms),
                f"n_x {', '.join(map(str, n_x))} x m {', '.join(map(str, ms))}")


def largest_x(g):
    """Bytes of the largest float64 X of grid ``g``."""
    return nbytes(max(g.n_x), max(g.m))


def nbytes(n_x, m, dtype="float64"):
    """Bytes of an (n_x, m) X of ``dtype``: what one read of X costs."""
    return int(n_x) * int(m) * np.dtype(dtype).itemsize


def thread_counts(cores=None):
    """1 and every core Numba may use: the thread axis."""
    if cores is None:
        import numba
        cores = numba.config.NUMBA_NUM_THREADS
    return sorted({1, int(cores)})


def grid_name(environ=None):
    """The grid named by LRPERF_BENCH_GRID ("full" when unset)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(GRID_ENV, "")
    name = raw.strip().lower() or "full"
    if name not in GRIDS:
        raise ValueError(f"{GRID_ENV} must be one of {sorted(GRIDS)} (or unset for 'full'), "
                         f"got {raw!r}")
    return name

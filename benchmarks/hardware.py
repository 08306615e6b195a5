"""What the machine can physically do, recorded with every run.

What the machine *is* (CPU, SIMD flags, caches, versions) and what the tuner
chose are not benchmarks: ``lrperf study`` writes them beside each result
file (``lrperf.report.load.write_sidecar``).
"""
from .common import GRID, THREADS, announce

from lrperf import grid

try:
    from lrperf.ceiling import ladder, probe_read
except ImportError:  # a commit from before lrperf.ceiling existed
    ladder = probe_read = None


def sizes():
    """The working sets measured: the ladder, or up to the grid's largest X."""
    if ladder is None:
        return [1 << 28]
    if getattr(GRID, "full_ladder", True):
        return list(ladder())
    from lrperf.ceiling import ladder_upto
    return list(ladder_upto(grid.largest_x(GRID)))


def setup(nbytes, threads):
    announce("read_ceiling")


def track_read_bandwidth(nbytes, threads):
    """The ceiling B(nbytes, threads): fastest plain read of the working set, GB/s.

    The best of a vectorized Numba sum and BLAS gemv streams (lrperf.ceiling),
    each the best of its repeats, side by side at the same thread count.
    """
    if probe_read is None:
        raise NotImplementedError("lrperf.ceiling is not in this commit")
    return probe_read(nbytes, threads, rounds=3, per_round=2)["gbs"]


track_read_bandwidth.params = [sizes(), THREADS]
track_read_bandwidth.param_names = list(grid.READ_PARAMS)
track_read_bandwidth.unit = "GB/s"
track_read_bandwidth.timeout = 120

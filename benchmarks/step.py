"""The gradient step of every registered strategy over the size/layout/thread grid."""
import statistics
import time

import lrperf
from lrperf import grid, measure

from .common import (DTYPES, GRID, LAYOUTS, MAX_CALL_S, MAX_OPTIMIZE_CALL_S, STRATEGY_NAMES,
                     THREADS, announce, point)

try:
    from lrperf.samples import PROCESSES, SAMPLES_PER_PROCESS
except ImportError:  # a commit from before lrperf.samples: the same counts
    PROCESSES, SAMPLES_PER_PROCESS = 5, 10
try:
    from lrperf.measure import reference_seconds
    from lrperf.results_format import record_reference
except ImportError:  # a commit from before the reference workload
    reference_seconds = record_reference = None


class _Grid:
    params = [STRATEGY_NAMES, list(GRID.n_x), list(GRID.m), LAYOUTS, DTYPES, THREADS]
    param_names = list(grid.AXES)
    rounds = 1          # one process per point: the grid is long enough
    warmup_time = 0.0   # setup already compiled and ran the step once
    timeout = 120
    max_call_s = MAX_CALL_S

    def setup(self, strategy, n_x, m, layout, dtype, threads):
        announce(type(self).__name__.lower())
        self.p = point(strategy, n_x, m, layout, dtype, threads, self.max_call_s)


# asv times one call of a benchmark per sample whenever the benchmark has a
# setup (asv_runner 0.3: every timed call sees fresh setup state), so a 20 µs
# step would be timed one call at a time: ten calls a process, the first of
# them cold.  So a sample makes enough calls to last SAMPLE_S, and its clock
# is perf_counter divided by that count: asv's samples stay seconds per call.
SAMPLE_S = 0.002
MAX_CALLS = 1000
_calls = [1]
# This process's reference times (one per setup, and asv runs setup before
# each sample), whether it took samples, its token in the reference file, and
# (wall, thread CPU) clocks when its first setup ended.
_process = {"references": [], "sampled": False, "token": None, "since": None}


def _slowness(strategy):
    """This process's median reference time over the share of a core its thread
    got since the first setup (lrperf.results_format's reference protocol).

    The reference (0.25 ms) fits in a scheduler's time slice, so it sees the
    machine's speed but not a neighbour that takes turns on the core; the
    thread's CPU time over the wall time does.  Only a strategy whose step runs
    on the calling thread alone (the record's ``parallel`` is False) is judged
    by it: a parallel one's calling thread waits for its pool.
    """
    slow = statistics.median(_process["references"])
    if lrperf.STRATEGIES[strategy].parallel or _process["since"] is None:
        return slow
    wall0, cpu0 = _process["since"]
    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
    return slow / min(1.0, cpu / wall) if wall > 0 and cpu > 0 else slow


def per_call_clock():
    """perf_counter / the calls one sample of this process makes (``_calls``)."""
    _process["sampled"] = True
    return time.perf_counter() / _calls[0]


class Step(_Grid):
    """One ``propagate``: time, peak memory and achieved bandwidth."""
    repeat = (3, 20, 1.0)   # at least 3 samples, at most 20 or about 1 s

    def setup(self, strategy, n_x, m, layout, dtype, threads):
        super().setup(strategy, n_x, m, layout, dtype, threads)
        _calls[0] = self.calls = self.p.calls_for(SAMPLE_S, 1, MAX_CALLS)
        if reference_seconds is not None:
            # The machine's speed just before the sample (lrperf.results_format).
            _process["references"].append(reference_seconds())
            if _process["since"] is None:
                _process["since"] = (time.perf_counter(), time.thread_time())

    def teardown(self, strategy, n_x, m, layout, dtype, threads):
        # asv runs teardown between samples too: each line holds all so far,
        # and the study keeps a process's last.
        refs = _process["references"]
        if record_reference is None or not _process["sampled"] or not refs:
            return
        if _process["token"] is None:
            import secrets
            _process["token"] = secrets.token_hex(8)
        record_reference([repr(v) for v in (strategy, n_x, m, layout, dtype, threads)],
                         _slowness(strategy), process=_process["token"], count=len(refs))

    def time_propagate(self, strategy, n_x, m, layout, dtype, threads):
        p = self.p
        for _ in range(self.calls):
            p.propagate(p.w, 0.0, p.X, p.Y)

    # The process is the unit of evidence (lrperf.samples): the grid's processes
    # a point, interleaved by asv over the run, a fixed number of samples each,
    # so the recorded samples (--record-samples) split back into processes.
    time_propagate.rounds = getattr(GRID, "processes", PROCESSES)
    time_propagate.repeat = SAMPLES_PER_PROCESS
    time_propagate.timer = per_call_clock

    def peakmem_propagate(self, strategy, n_x, m, layout, dtype, threads):
        p = self.p
        p.propagate(p.w, 0.0, p.X, p.Y)

    def track_bandwidth(self, strategy, n_x, m, layout, dtype, threads):
        """Bytes of X read per second by one call (X read once = 1x), median."""
        p = self.p
        times = [measure.timed(lambda: p.propagate(p.w, 0.0, p.X, p.Y))
                 for _ in range(p.calls_for(0.1, 3, 50))]
        return p.X.nbytes / statistics.median(times) / 1e9

    track_bandwidth.unit = "GB/s"


class Optimize(_Grid):
    """100 gradient-descent iterations through ``lrperf.optimize``."""
    repeat = (1, 3, 1.0)    # a sample is 100 calls already
    min_run_count = 1
    max_call_s = MAX_OPTIMIZE_CALL_S

    def time_optimize(self, strategy, n_x, m, layout, dtype, threads):
        p = self.p
        lrperf.optimize(p.w, 0.0, p.X, p.Y, num_iterations=grid.OPTIMIZE_ITERATIONS, learning_rate=0.009,
                        strategy=strategy)

"""What the machine is and what it can physically do, recorded with every run."""
import json

from .common import THREADS

from lrperf import grid

try:
    from lrperf.machine import machine_info
except ImportError:  # a commit from before lrperf.machine existed
    machine_info = None
try:
    from lrperf.ceiling import ladder, probe_read
except ImportError:  # a commit from before lrperf.ceiling existed
    ladder = probe_read = None
try:
    from lrperf import tuning
except ImportError:  # a commit from before lrperf.tuning existed
    tuning = None


def _machine_json():
    if machine_info is None:
        return "{}"
    return json.dumps(machine_info(), sort_keys=True)


def track_read_bandwidth(nbytes, threads):
    """The ceiling B(nbytes, threads): fastest plain read of the working set, GB/s.

    The best of a vectorized Numba sum and BLAS gemv streams (lrperf.ceiling),
    each the best of its repeats, side by side at the same thread count.
    """
    if probe_read is None:
        raise NotImplementedError("lrperf.ceiling is not in this commit")
    return probe_read(nbytes, threads, rounds=3, per_round=2)["gbs"]


track_read_bandwidth.params = [list(ladder()) if ladder else [1 << 28], THREADS]
track_read_bandwidth.param_names = list(grid.READ_PARAMS)
track_read_bandwidth.unit = "GB/s"
track_read_bandwidth.timeout = 120


def track_machine_info(machine):
    """The core count; the parameter's value is the JSON machine description."""
    return json.loads(machine).get("cores") or 0


track_machine_info.params = [[_machine_json()]]
track_machine_info.param_names = ["machine"]
track_machine_info.unit = "cores"


def _tuning_json():
    if tuning is None:
        return "{}"
    return json.dumps(tuning.plan(THREADS, grid.DTYPES), sort_keys=True)


def track_tuning(plan):
    """Keys tuned on this machine; the parameter is what numba_fused chooses for each and why.

    JSON of ``lrperf.tuning.plan``: the mode (LRPERF_TUNING), the CPU the
    wisdom is filed under, and per key (C/size class/threads/dtype) the loop,
    tile width (in L2s) and prefetch distance, with the source (wisdom or
    cache-derived default).
    """
    return sum(v["source"] == "wisdom" for v in json.loads(plan).get("keys", {}).values())


track_tuning.params = [[_tuning_json()]]
track_tuning.param_names = ["plan"]
track_tuning.unit = "keys"

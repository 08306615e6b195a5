"""The step on a GPU: resident and with transfer, and the device's own limits.

Every benchmark here is skipped (NotImplementedError in setup) where there is
no GPU, and under Numba's simulator; nothing here imports numba.cuda until a
point's setup runs on a GPU.

* ``GpuStep.time_step``: one step of a GPU strategy.  ``resident``: X and Y
  prepared on the device once in setup, then timed steps (w goes up, dw, db,
  cost come back, synchronized).  ``transfer``: ``lrperf.propagate`` on host
  arrays, so every call moves X to the device first.
* ``track_device_read_bandwidth`` (GB/s, param ``nbytes``): the fastest plain
  read of a working set, from within L2 to device memory: the ceiling a
  resident step is measured against.
* ``track_h2d_bandwidth`` (GB/s, param ``host``: pageable or pinned memory).

Sizes: the cat training set, 4096 x 50000 (1.6 GB), and "quarter": 4096 x m
with X a quarter of the device's memory.  CUDA context creation and
compilation happen in setup, outside the timings (scripts/bench_gpu.py
reports them).
"""
import numpy as np

import lrperf
from lrperf import grid

from .common import announce

# Never empty (asv refuses a parameter without values): a commit from before
# the GPU strategies gets the names, and setup skips them.
GPU_STRATEGIES = ([name for name, s in lrperf.STRATEGIES.items() if s.device == "gpu"]
                  or ["cupy", "numba_cuda"])
SIZES = {"cat": grid.CAT_SHAPE, "4096x50000": (4096, 50_000), "quarter": None}
MiB = 2**20
READ_SIZES = [2**k * MiB for k in range(0, 15, 2)]  # 1 MiB .. 16 GiB, x4 apart


def _gpu():
    """lrperf.gpu_measure, or skip: imported only here so a CPU run never loads CUDA."""
    try:
        from lrperf import gpu_measure
    except ImportError:
        raise NotImplementedError("skipped: lrperf.gpu_measure is not in this commit") from None
    reason = gpu_measure.no_gpu_reason()
    if reason is not None:
        raise NotImplementedError(f"skipped: no GPU: {reason}")
    return gpu_measure


def shape_of(size, memory_bytes):
    if SIZES[size] is not None:
        return SIZES[size]
    n_x = 4096
    return n_x, memory_bytes // 4 // (8 * n_x)


class GpuStep:
    params = [GPU_STRATEGIES, list(SIZES), list(grid.LAYOUTS), ["resident", "transfer"]]
    param_names = list(grid.GPU_STEP_PARAMS)
    timeout = 600
    number = 1
    repeat = (5, 21, 60.0)

    def setup(self, strategy, size, layout, mode):
        announce("gpu")
        gm = _gpu()
        record = lrperf.STRATEGIES.get(strategy)
        if record is None:
            raise NotImplementedError(f"skipped: no strategy {strategy!r} in this commit")
        if not record.available:
            raise NotImplementedError(f"skipped: {strategy} is unavailable: {record.unavailable}")
        n_x, m = shape_of(size, gm.device_info()["memory_bytes"])
        X, Y = gm.device_problem(n_x, m, layout)
        self.w = np.full(n_x, 1.0 / n_x)
        if mode == "resident":
            self.X, self.Y = record.prepared(X, Y)
            self.step = record.step
            self.call = lambda: self.step(self.w, 0.1, self.X, self.Y)
        else:
            host_X = X.copy_to_host()
            del X
            self.call = lambda: lrperf.propagate(self.w, 0.1, host_X, Y, strategy=strategy)
        self.call()  # compilation and the CUDA context stay out of the timings

    def time_step(self, strategy, size, layout, mode):
        self.call()


def _setup_read(nbytes):
    # asv skips a point only when setup raises NotImplementedError; from the
    # body it would be recorded as a failure.
    announce("gpu")
    if nbytes > _gpu().device_info()["free_bytes"] // 2:
        raise NotImplementedError(f"skipped: {nbytes} bytes is over half the free device memory")


def track_device_read_bandwidth(nbytes):
    return _gpu().device_read_bandwidth(nbytes)


track_device_read_bandwidth.params = [READ_SIZES]
track_device_read_bandwidth.param_names = ["nbytes"]
track_device_read_bandwidth.unit = "GB/s"
track_device_read_bandwidth.timeout = 300
track_device_read_bandwidth.setup = _setup_read


def track_h2d_bandwidth(host):
    return _gpu().h2d_bandwidth(256 * MiB, pinned=host == "pinned")


track_h2d_bandwidth.params = [["pageable", "pinned"]]
track_h2d_bandwidth.param_names = ["host"]
track_h2d_bandwidth.unit = "GB/s"
track_h2d_bandwidth.timeout = 120
def _setup_h2d(host):
    announce("gpu")
    _gpu()


track_h2d_bandwidth.setup = _setup_h2d

"""Measurements on an NVIDIA GPU, shared by benchmarks/gpu.py and scripts/bench_gpu.py.

* ``device_read_bandwidth(nbytes)``: the device's own ceiling, the fastest
  plain read (a sum) of a working set of ``nbytes``: within L2 it measures
  L2, beyond it device memory (HBM).  Timed with CUDA events.
* ``h2d_bandwidth(nbytes, pinned)``: host-to-device copies, what ``prepare``
  pays for a host X (pageable memory, as a NumPy array is).
* ``device_problem(n_x, m, layout)``: an X made on the device (no host copy of
  a multi-GB array needed), with host labels.
* ``step_times``: a strategy's step, resident (X prepared once) or with
  transfer (``lrperf.propagate`` on host arrays: ``prepare`` every call).

Nothing here runs without a GPU: ``no_gpu_reason()`` says why, and the
simulator counts as none (its timings are of Python threads).
"""
import importlib.util
import math
import statistics
import time

import numpy as np

from .strategies import gpu_numba_cuda

READ_BLOCK = 256
# Grid sizes tried for the read ceiling (blocks per multiprocessor): the
# fastest is the ceiling, so no one choice has to suit every device.
READ_BLOCKS_PER_SM = (2, 4, 8, 16, 32)
MiB = 2**20

cuda = None
_read = None
_fill = None


def no_gpu_reason():
    """Why GPU timings cannot be taken here, or None."""
    if gpu_numba_cuda.simulator_enabled():
        return "NUMBA_ENABLE_CUDASIM is set: the simulator's timings are not a GPU's"
    if importlib.util.find_spec("numba_cuda") is None:
        return "needs the numba-cuda package (pip install 'lrperf[gpu]')"
    return gpu_numba_cuda.no_gpu_reason()


def _load():
    global cuda, _read, _fill
    if cuda is None:
        from numba import cuda as module
        cuda = module

        @cuda.jit
        def read(a, out):
            sh = cuda.shared.array(READ_BLOCK, np.float64)
            t = cuda.threadIdx.x
            s = 0.0
            for k in range(cuda.grid(1), a.size, cuda.gridsize(1)):
                s += a[k]
            sh[t] = s
            cuda.syncthreads()
            half = READ_BLOCK // 2
            while half > 0:
                if t < half:
                    sh[t] += sh[t + half]
                cuda.syncthreads()
                half //= 2
            if t == 0:
                out[cuda.blockIdx.x] = sh[0]

        @cuda.jit
        def fill(X, seed):
            # A hash of (j, i) to [-1, 1): reproducible, any layout, no host data.
            i, j = cuda.grid(2)  # examples on x: the grid's y dimension stops at 65535
            if j < X.shape[0] and i < X.shape[1]:
                h = (j * 0x9E3779B1 + i * 0x85EBCA77 + seed) & 0xFFFFFFFF
                h ^= h >> 15
                h = (h * 0x2C1B3C6D) & 0xFFFFFFFF
                h ^= h >> 12
                X[j, i] = h / 2147483648.0 - 1.0

        _read, _fill = read, fill
    return cuda


def device_info():
    """What the device is: recorded with every GPU figure."""
    _load()
    device = cuda.get_current_device()
    free, total = cuda.current_context().get_memory_info()
    cc = device.compute_capability
    name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
    return {"gpu": name, "compute_capability": f"{cc[0]}.{cc[1]}",
            "multiprocessors": int(device.MULTIPROCESSOR_COUNT),
            "l2_bytes": int(device.L2_CACHE_SIZE), "memory_bytes": int(total),
            "free_bytes": int(free)}


def context_seconds():
    """Seconds to create the CUDA context (the first CUDA call of a process)."""
    _load()
    t0 = time.perf_counter()
    cuda.current_context()
    return time.perf_counter() - t0


def _event_seconds(fn, repeats):
    start, end = cuda.event(), cuda.event()
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    end.synchronize()
    return cuda.event_elapsed_time(start, end) / 1e3 / repeats


def device_read_bandwidth(nbytes, repeats=5):
    """GB/s of the fastest plain read of ``nbytes`` of device memory (best grid size,
    median of ``repeats`` measurements, each of enough launches to last ~10 ms)."""
    _load()
    n = max(1, int(nbytes) // 8)
    a = cuda.device_array(n, dtype=np.float64)
    _fill[(math.ceil(n / 256), 1), (256, 1)](a.reshape(1, n), 1)
    sms = int(cuda.get_current_device().MULTIPROCESSOR_COUNT)
    best = 0.0
    for per_sm in READ_BLOCKS_PER_SM:
        blocks = min(per_sm * sms, math.ceil(n / READ_BLOCK))
        out = cuda.device_array(blocks, dtype=np.float64)

        def launch():
            _read[blocks, READ_BLOCK](a, out)

        launch()  # compile, and bring a small working set into L2 as a repeat would
        once = _event_seconds(launch, 3)
        launches = max(3, min(10_000, int(0.01 / max(once, 1e-7))))
        seconds = statistics.median(_event_seconds(launch, launches) for _ in range(repeats))
        best = max(best, n * 8 / seconds / 1e9)
    return best


def ceiling_sizes(l2_bytes, memory_bytes):
    """Working-set sizes from well within L2 to a quarter of device memory, x4 apart."""
    sizes, size = [], max(MiB, l2_bytes // 16)
    while size <= memory_bytes // 4:
        sizes.append(size)
        size *= 4
    return sizes


def h2d_bandwidth(nbytes, pinned=False, repeats=5):
    """GB/s of a host-to-device copy of ``nbytes``: median of ``repeats``."""
    _load()
    n = max(1, int(nbytes) // 8)
    host = cuda.pinned_array(n, dtype=np.float64) if pinned else np.empty(n)
    host[:] = 1.0  # pages touched: the first copy does not pay for faults
    device = cuda.device_array(n, dtype=np.float64)
    times = []
    for _ in range(repeats + 1):
        cuda.synchronize()
        t0 = time.perf_counter()
        device.copy_to_device(host)
        cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return n * 8 / statistics.median(times[1:]) / 1e9


def device_problem(n_x, m, layout, seed=0):
    """(X on the device in ``layout``, Y on the host): X hashed in [-1, 1), Y 0/1."""
    _load()
    X = cuda.device_array((n_x, m), dtype=np.float64, order=layout)
    _fill[(math.ceil(m / 16), math.ceil(n_x / 16)), (16, 16)](X, seed)
    cuda.synchronize()
    Y = (np.random.default_rng(seed).random(m) < 0.5).astype(np.float64)
    return X, Y


def timed_calls(fn, repeats):
    """Seconds of each of ``repeats`` calls of ``fn`` (which must synchronize),
    after one untimed call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times

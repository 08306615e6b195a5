"""The step on an NVIDIA GPU: a fused kernel written with Numba's CUDA target.

One launch of ``fused`` reads X once from device memory.  Examples are cut
into tiles of ``tile`` consecutive examples; the blocks of a fixed-size grid
take tiles ``blockIdx, blockIdx + gridDim, ...``.  For each tile a block of
``BLOCK`` threads

1. computes z for the tile's examples (each example's dot product is split
   over ``BLOCK // tile`` threads and summed by a fixed tree in shared memory),
   then a, the loss and dz, as the CPU strategies do (``lrperf.numerics``);
2. adds the tile's share X[:, tile] dz to the block's own row of ``partial``,
   re-reading the tile just read in 1, from L1/L2 rather than device memory
   (the tile size is chosen so the tiles in flight fit in half of L2, down
   to a minimum of 4 examples).

A second launch, ``reduce``, sums the rows of ``partial`` (and the blocks'
cost and db) in block order.  Every sum has a fixed order that depends only
on (n_x, m, grid, tile), so two calls on one device give bit-identical results.

Coalescing: consecutive threads read consecutive addresses in both layouts.
Columns contiguous (Fortran order, the course's layout): threads are laid
along the features of an example, and in 2 one thread per feature walks the
tile's examples.  Rows contiguous (C order): threads are laid along the
tile's examples of a row (segments of ``tile`` values, at least one 32-byte
sector), and in 2 each row's products are summed in shared memory.

X and Y are moved to the device once per ``propagate``/``optimize`` call, by
``prepare``; a device array (anything with ``__cuda_array_interface__``, or a
Numba device array) is used where it is, with no copy.  Per step only w
(n_x values) goes to the device and dw, db, cost (n_x + 2 values) come back.

numba.cuda is imported on first use, not with lrperf: the import alone takes
a second or more, and NUMBA_ENABLE_CUDASIM (Numba's CPU simulator, used by
the tests where there is no GPU) is read when it is imported.
"""
import contextlib
import ctypes
import functools
import importlib.util
import math
import os
import sys
import warnings

import numpy as np

from ..numerics import columns_contiguous, loss_scalar, sigmoid_scalar

# Threads per block of the fused kernel.
BLOCK = 256
# Blocks per multiprocessor in the grid: enough warps in flight to cover
# device-memory latency while each block keeps its tile in L1/L2.  A first
# choice, not yet tuned on a device: scripts/bench_gpu.py --sweep measures
# the alternatives and prints the best.
BLOCKS_PER_SM = 4
# Examples per tile: a power of two in [MIN_TILE, MAX_TILE], the largest
# whose tiles in flight (grid x n_x x tile x itemsize) fit in half of L2.
# At least 4: in C order a row segment of 4 float64 is one 32-byte sector.
MIN_TILE = 4
MAX_TILE = 32
# Threads per block of the reduce kernel.
REDUCE_BLOCK = 128
# The simulator has no device attributes: a small pretend device, so that
# the tests' small problems still get several blocks and several tiles each.
# It also runs each thread as a Python thread: smaller blocks keep it quick
# (the kernel takes the block size as a parameter; the tests also run 256).
SIMULATED_SMS = 2
SIMULATED_L2_BYTES = 8 * 1024
SIMULATED_BLOCK = 32

DTYPES = ("float64", "float32")

cuda = None  # numba.cuda, bound by _load_cuda(); a module global so the simulator can swap it


def simulator_enabled(environ=None):
    """True when NUMBA_ENABLE_CUDASIM asks for Numba's simulator (read as Numba does: an int)."""
    environ = os.environ if environ is None else environ
    try:
        return int(environ.get("NUMBA_ENABLE_CUDASIM", "0") or 0) != 0
    except ValueError:
        return False


def _driver_device_count():
    """NVIDIA devices the driver sees, or a reason there are none.

    Asks NVML, not the CUDA driver: cuInit in this process would break CUDA
    in every process it later forks (asv forks one per benchmark).
    """
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return 0, f"no NVIDIA driver here ({names[0]} not found)"
    nvml_name = "nvml.dll" if sys.platform == "win32" else "libnvidia-ml.so.1"
    try:
        nvml = ctypes.CDLL(nvml_name)
    except OSError:
        return 1, None  # a driver without NVML: let the first call find out
    if nvml.nvmlInit_v2() != 0:
        return 0, "the NVIDIA driver is installed but did not initialize (nvmlInit failed)"
    try:
        count = ctypes.c_uint(0)
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return 0, "the NVIDIA driver could not count its devices"
        return count.value, (None if count.value else "no NVIDIA GPU here (the driver sees none)")
    finally:
        nvml.nvmlShutdown()


def no_gpu_reason():
    """Why no NVIDIA GPU can be used here, or None (shared with the cupy strategy)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return "CUDA_VISIBLE_DEVICES is empty: no GPU is visible"
    count, reason = _driver_device_count()
    return reason if count == 0 else None


def unavailable_reason():
    """Why this strategy cannot run here, or None; cheap (never imports numba.cuda)."""
    if importlib.util.find_spec("numba_cuda") is None:
        return "needs the numba-cuda package (pip install 'lrperf[gpu]')"
    if simulator_enabled():
        return None
    reason = no_gpu_reason()
    if reason is not None:
        return reason + "; NUMBA_ENABLE_CUDASIM=1 runs it on Numba's CPU simulator"
    return None


def _load_cuda():
    global cuda
    if cuda is None:
        from numba import cuda as module
        cuda = module
    return cuda


@functools.lru_cache(maxsize=None)
def kernels(block):
    """(fused, reduce) for blocks of ``block`` threads (a power of two >= 8)."""
    if block < 8 or block & (block - 1):
        raise ValueError(f"block must be a power of two >= 8, got {block}")
    _load_cuda()
    sigmoid = cuda.jit(device=True)(sigmoid_scalar)
    loss = cuda.jit(device=True)(loss_scalar)

    @cuda.jit
    def fused(X, Y, w, b, tile, columns, partial, sums):
        t = cuda.threadIdx.x
        blk = cuda.blockIdx.x
        n_x = X.shape[0]
        m = X.shape[1]
        lanes = block // tile  # threads per example in the dot product
        if columns:
            r = t % lanes  # consecutive threads: consecutive features of a column
            e = t // lanes
        else:
            e = t % tile   # consecutive threads: consecutive examples of a row
            r = t // tile
        sh = cuda.shared.array(block, np.float64)
        dz = cuda.shared.array(block, np.float64)
        # Zeroed by thread j % block; in C order row j is added to by another
        # thread, after at least one syncthreads (below), which makes it visible.
        for j in range(t, n_x, block):
            partial[blk, j] = 0.0
        cost = 0.0
        db = 0.0
        for k in range(blk, (m + tile - 1) // tile, cuda.gridDim.x):
            i0 = k * tile
            n = min(tile, m - i0)
            i = i0 + e
            s = 0.0
            if e < n:
                for j in range(r, n_x, lanes):
                    s += w[j] * X[j, i]
            sh[e * lanes + r] = s
            cuda.syncthreads()
            half = lanes // 2
            while half > 0:  # fixed-order tree: deterministic
                if r < half:
                    sh[e * lanes + r] += sh[e * lanes + r + half]
                cuda.syncthreads()
                half //= 2
            if r == 0:
                d = 0.0
                if e < n:
                    z = sh[e * lanes] + b
                    y = Y[i]
                    d = sigmoid(z) - y
                    cost += loss(z, y)
                    db += d
                dz[e] = d
            cuda.syncthreads()
            if columns:
                for j in range(t, n_x, block):
                    acc = 0.0
                    for q in range(n):
                        acc += X[j, i0 + q] * dz[q]
                    partial[blk, j] += acc
            else:
                for j0 in range(0, n_x, lanes):
                    j = j0 + r
                    v = 0.0
                    if j < n_x and e < n:
                        v = X[j, i] * dz[e]
                    sh[r * tile + e] = v
                    cuda.syncthreads()
                    if t < lanes and j0 + t < n_x:
                        acc = 0.0
                        for q in range(tile):
                            acc += sh[t * tile + q]
                        partial[blk, j0 + t] += acc
                    cuda.syncthreads()
        cuda.syncthreads()
        if r == 0:
            sh[e] = cost
            dz[e] = db
        cuda.syncthreads()
        if t == 0:
            c = 0.0
            d = 0.0
            for q in range(tile):
                c += sh[q]
                d += dz[q]
            sums[blk, 0] = c
            sums[blk, 1] = d

    @cuda.jit
    def reduce(partial, sums, m, out):
        # out: dw (n_x values), then cost, then db; every sum in block order.
        j = cuda.grid(1)
        n_x = partial.shape[1]
        s = 0.0
        if j < n_x:
            for k in range(partial.shape[0]):
                s += partial[k, j]
            out[j] = s / m
        elif j < n_x + 2:
            for k in range(sums.shape[0]):
                s += sums[k, j - n_x]
            out[j] = s / m

    return fused, reduce


def device_facts():
    """(multiprocessors, L2 bytes) of the current device (a pretend one in the simulator)."""
    _load_cuda()
    if simulator_enabled():
        return SIMULATED_SMS, SIMULATED_L2_BYTES
    device = cuda.get_current_device()
    return int(device.MULTIPROCESSOR_COUNT), int(device.L2_CACHE_SIZE)


def launch_config(n_x, m, itemsize, sms, l2_bytes, blocks_per_sm=BLOCKS_PER_SM):
    """(blocks, tile) for an (n_x, m) X: see BLOCKS_PER_SM and MIN_TILE."""
    resident = max(1, blocks_per_sm * sms)
    tile = MAX_TILE
    while tile > MIN_TILE and resident * n_x * tile * itemsize > l2_bytes // 2:
        tile //= 2
    return max(1, min(resident, math.ceil(m / tile))), tile


class OnDevice:
    """X, Y and the step's buffers on the device: made by ``prepare`` once per api call.

    ``moved``: bytes copied host -> device to make it (0 for device data).
    """

    def __init__(self, X, Y, *, blocks=None, tile=None, block=None, moved=0):
        if block is None:
            block = SIMULATED_BLOCK if simulator_enabled() else BLOCK
        n_x, m = X.shape
        sms, l2 = device_facts()
        self.tile = (launch_config(n_x, m, X.dtype.itemsize, sms, l2)[1] if tile is None
                     else int(tile))
        if not (1 <= self.tile <= min(MAX_TILE, block) and self.tile & (self.tile - 1) == 0):
            raise ValueError(f"tile must be a power of two in [1, {min(MAX_TILE, block)}], "
                             f"got {tile}")
        tiles = math.ceil(m / self.tile)
        self.blocks = min(tiles, BLOCKS_PER_SM * sms if blocks is None else int(blocks))
        if self.blocks < 1:
            raise ValueError(f"blocks must be >= 1, got {blocks}")
        self.block = block
        self.fused, self.reduce = kernels(block)
        self.X, self.Y = X, Y
        self.shape = (n_x, m)
        self.columns = bool(columns_contiguous(X))
        self.moved = moved
        self.quiet = _ignore_fp_warnings if simulator_enabled() else contextlib.nullcontext
        self.w = cuda.device_array(n_x, dtype=np.float64)
        self.partial = cuda.device_array((self.blocks, n_x), dtype=np.float64)
        self.sums = cuda.device_array((self.blocks, 2), dtype=np.float64)
        self.out = cuda.device_array(n_x + 2, dtype=np.float64)

    def config(self):
        """The launch parameters chosen, for records and reports."""
        return {"block": self.block, "blocks": self.blocks, "tile": self.tile,
                "layout": "F" if self.columns else "C"}


def to_device_X(X):
    """X on the device: a device array as it is, a host array copied once
    (made contiguous in its nearer order, and float64 unless float32)."""
    _load_cuda()
    if getattr(X, "__cuda_ndarray__", False):
        return X, 0
    if hasattr(X, "__cuda_array_interface__"):
        return cuda.as_cuda_array(X), 0
    if X.dtype.name not in DTYPES:
        X = X.astype(np.float64)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.asarray(X, order="F" if columns_contiguous(X) else "C")
    return cuda.to_device(X), X.nbytes


def prepare(X, Y, **launch):
    """X and Y on the device, once per api call; ``launch``: blocks, tile, block."""
    Xd, moved = to_device_X(X)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    Yd = cuda.to_device(Y)
    return OnDevice(Xd, Yd, moved=moved + Y.nbytes, **launch), Yd


def step(w, b, X, Y):
    """dw, db, cost; X is ``prepare``'s OnDevice, Y the device labels."""
    if not isinstance(X, OnDevice):
        raise TypeError("the numba_cuda step reads X as its prepare() returns it (OnDevice), "
                        f"got {type(X).__name__}")
    n_x = X.shape[0]
    X.w.copy_to_device(np.ascontiguousarray(w, dtype=np.float64))
    with X.quiet():
        X.fused[X.blocks, X.block](X.X, Y, X.w, float(b), X.tile, X.columns, X.partial, X.sums)
        X.reduce[(n_x + 2 + REDUCE_BLOCK - 1) // REDUCE_BLOCK, REDUCE_BLOCK](
            X.partial, X.sums, X.shape[1], X.out)
    out = X.out.copy_to_host()  # synchronizes: the step is complete when it returns
    return out[:n_x], float(out[n_x + 1]), float(out[n_x])


@contextlib.contextmanager
def _ignore_fp_warnings():
    # The simulator runs the kernel in Python threads on NumPy scalars, which
    # warn on inf * 0 where a GPU is silent; the api's np.errstate is
    # thread-local and does not reach those threads.  Warning filters are global.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield

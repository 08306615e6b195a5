"""The vectorized step on an NVIDIA GPU with CuPy: the GPU twin of ``numpy``.

z = w X + b and dw = X dz are two cuBLAS matrix-vector products (two reads
of X, as the ``numpy`` strategy does on the CPU); a, dz and the loss are one
element-wise kernel with the formulas of ``lrperf.numerics``; db and the cost
are CuPy reductions.

X and Y go to the device once per api call (``prepare``); CuPy arrays and
other GPU arrays (``__cuda_array_interface__``) are used where they are.  A
float32 X is widened to float64 once, on the device, in ``prepare``: a
mixed-precision product would widen it on every step.

CuPy is imported on first use: the import is slow and needs a CUDA driver.
"""
import importlib.util

import numpy as np

from .gpu_numba_cuda import no_gpu_reason

cupy = None
_dz_loss = None

# The loss as softplus((1 - 2y) z) and the two-sided sigmoid: see lrperf.numerics.
_DZ_LOSS_SOURCE = """
double t = (1.0 - 2.0 * y) * z;
loss = fmax(t, 0.0) + log1p(exp(-fabs(t)));
double e = exp(-fabs(z));
double a = z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
dz = a - y;
"""


def unavailable_reason():
    """Why this strategy cannot run here, or None; never imports CuPy."""
    if importlib.util.find_spec("cupy") is None:
        return ("needs CuPy and an NVIDIA GPU (pip install cupy-cuda12x or cupy-cuda13x, "
                "matching the CUDA driver)")
    return no_gpu_reason()


def _load():
    global cupy, _dz_loss
    if cupy is None:
        import cupy as module
        _dz_loss = module.ElementwiseKernel(
            "float64 z, float64 y", "float64 dz, float64 loss", _DZ_LOSS_SOURCE,
            "lrperf_dz_loss")
        cupy = module
    return cupy


class OnDevice:
    """X as a CuPy array, made once per api call; ``moved``: bytes copied to the device."""

    def __init__(self, X, moved):
        self.X, self.moved = X, moved
        self.shape = X.shape


def prepare(X, Y):
    cp = _load()
    on_host = isinstance(X, np.ndarray)
    Xd = cp.asarray(X)  # no copy for a GPU array already
    if Xd.dtype != np.float64:
        Xd = Xd.astype(np.float64)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    return OnDevice(Xd, (X.nbytes if on_host else 0) + Y.nbytes), cp.asarray(Y)


def step(w, b, X, Y):
    """dw, db, cost; X is ``prepare``'s OnDevice, Y the labels on the device."""
    if not isinstance(X, OnDevice):
        raise TypeError("the cupy step reads X as its prepare() returns it (OnDevice), "
                        f"got {type(X).__name__}")
    cp = cupy
    m = X.shape[1]
    z = cp.asarray(w) @ X.X
    z += b
    dz, loss = _dz_loss(z, Y)
    dw = X.X @ dz
    dw /= m
    # One device-to-host copy each; the last one synchronizes.
    return cp.asnumpy(dw), float(dz.sum()) / m, float(loss.sum()) / m

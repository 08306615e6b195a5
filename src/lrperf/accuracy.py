"""How far a strategy's step is from the exact one, on the same input values.

The exact step is ``lrperf.reference`` (50 decimal digits) evaluated on X's
own values, widened exactly to float64: a float32 X is not "rounded data"
here, it is the input; what is measured is only the error of the arithmetic.

Errors are relative and normwise: max |dw - dw*| / max |dw*| (one number per
step, meaningful even when single components of dw* are near zero), and
|cost - cost*| / |cost*|.
"""
import numpy as np

from . import api
from .numerics import mean_loss, sigmoid
from .reference import reference_step

# rtol of an equivalence test for a strategy that accumulates in this dtype.
# float64: what the tests have always asked.  float32: see ``tolerance``.
_FLOAT64_RTOL = 1e-9


def tolerance(accumulation, n_x, m):
    """Normwise relative bound on the error of dw and of the cost of a step
    whose sums run in ``accumulation`` (registry ``Strategy.accumulation``)."""
    accumulation = np.dtype(accumulation)
    if accumulation == np.float64:
        return _FLOAT64_RTOL
    if accumulation == np.float32:
        # Rounding errors of blocked/pairwise sums grow like sqrt(terms) * u
        # (Higham & Mary, "A new approach to probabilistic rounding error
        # analysis", SISC 2019): z sums n_x terms, dw and the cost sum m, and
        # z's error reaches dw through dz.  The factor 8 leaves room for the
        # cancellation in sums of mixed sign.  Measured for numpy (float32
        # BLAS, F order): 6e-8 at 12 x 13 (bound 3.4e-6), 2.6e-7 at
        # 12288 x 209 (bound 6.0e-5), 4.1e-7 at 128 x 3344 (bound 3.3e-5).
        u = float(np.finfo(np.float32).eps) / 2
        return 8.0 * u * (np.sqrt(n_x) + np.sqrt(m))
    raise ValueError(f"accumulation must be float64 or float32, got {accumulation}")


def relative_error(got, exact):
    """max |got - exact| / max |exact| (absolute error where exact is 0)."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    exact = np.asarray(exact, dtype=np.float64).reshape(-1)
    scale = float(np.max(np.abs(exact))) if exact.size else 0.0
    diff = float(np.max(np.abs(got - exact))) if exact.size else 0.0
    return diff / scale if scale > 0.0 else diff


def problem(n_x, m, dtype="float64", *, layout="F", seed=0):
    """The accuracy benchmarks' input: (w, b, X, Y), X of ``dtype`` in ``layout``;
    w scaled so that z = w^T x + b is of order 1 (no saturated sigmoid)."""
    from .datasets import synthetic

    X, Y = synthetic(n_x, m, order=layout, dtype=dtype, seed=seed)
    w = np.random.default_rng(seed + 1).normal(size=n_x) / np.sqrt(n_x)
    return w, 0.25, X, Y.reshape(m)


def float64_step(w, b, X, Y, block_bytes=1 << 25):
    """The step in float64 NumPy on X's values widened, a block of columns at a
    time: a check of a large float32 X without a float64 copy of all of it."""
    n_x, m = X.shape
    w = np.asarray(w, dtype=np.float64).reshape(n_x)
    Y = np.asarray(Y, dtype=np.float64).reshape(m)
    cols = max(1, block_bytes // (8 * n_x))
    blocks = [slice(s, min(m, s + cols)) for s in range(0, m, cols)]
    z = np.concatenate([w @ X[:, s].astype(np.float64) for s in blocks]) + b
    dz = sigmoid(z) - Y
    dw = sum(X[:, s].astype(np.float64) @ dz[s] for s in blocks) / m
    return dw, float(dz.sum()) / m, mean_loss(z, Y)


def exact(w, b, X, Y):
    """The 50-digit step on X's values: (dw, db, cost), dw an (n_x,) float64 array."""
    dw, db, cost = reference_step(np.reshape(w, -1), b, X, np.reshape(Y, -1))
    return np.array(dw), db, cost


def errors(strategy, w, b, X, Y, reference=None):
    """(relative error of dw, relative error of the cost) of one ``propagate``
    with ``strategy``; ``reference``: ``exact(w, b, X, Y)`` if already known."""
    ref_dw, _, ref_cost = exact(w, b, X, Y) if reference is None else reference
    grads, cost = api.propagate(w, b, X, Y, strategy=strategy)
    return relative_error(grads["dw"], ref_dw), relative_error(cost, ref_cost)

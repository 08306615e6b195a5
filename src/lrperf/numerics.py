"""Numerically stable sigmoid and cross-entropy shared by every strategy, and the
layout test the loops that walk X share.

Each formula exists once, as a scalar function on Python floats using only
the math module.  The pure-Python strategies call these directly, the Numba
strategies call the jitted twins below (same source, compiled), and the
vectorized strategy uses the array versions, which are the same formulas
written with NumPy ufuncs.

The loss is computed from z, never from a = sigmoid(z): for a label
y in {0, 1},

    -(y log a + (1 - y) log(1 - a)) = softplus((1 - 2y) z),
    softplus(t) = max(t, 0) + log1p(exp(-|t|)),

which is finite for every finite z (no log(0) when a saturates to 0 or 1)
and involves no cancellation.  exp is only ever called on -|t| <= 0, so
nothing overflows for |z| up to the float64 limit.
"""
import math

import numba
import numpy as np


def sigmoid_scalar(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def loss_scalar(z, y):
    t = (1.0 - 2.0 * y) * z
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


sigmoid_jit = numba.njit(cache=True, inline="always")(sigmoid_scalar)
loss_jit = numba.njit(cache=True, inline="always")(loss_scalar)


def sigmoid(z):
    """Element-wise stable sigmoid of an array."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def mean_loss(z, y):
    """Mean cross-entropy of labels y (0/1) given logits z."""
    t = (1.0 - 2.0 * y) * z
    return float(np.mean(np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))))


def columns_contiguous(X):
    """Whether X's columns (one example's features) are its shorter stride: Fortran
    order, or nearly; the loops that walk X pick their order by it."""
    return abs(X.strides[0]) <= abs(X.strides[1])

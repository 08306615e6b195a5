"""The python_loops algorithm compiled by Numba in nopython mode.

Same loop order as the lecture (examples, then features), so on C-ordered X
the inner loop walks a row stride; that is the study's point, not a bug.
"""
import numba as nb
import numpy as np

from ..numerics import loss_jit, sigmoid_jit



@nb.njit(cache=True)
def step(w, b, X, Y):
    n_x, m = X.shape
    dw = np.zeros(n_x)
    db = 0.0
    cost = 0.0
    for i in range(m):
        z = b
        for j in range(n_x):
            z += w[j] * X[j, i]
        a = sigmoid_jit(z)
        cost += loss_jit(z, Y[i])
        dz = a - Y[i]
        for j in range(n_x):
            dw[j] += X[j, i] * dz
        db += dz
    for j in range(n_x):
        dw[j] /= m
    return dw, db / m, cost / m

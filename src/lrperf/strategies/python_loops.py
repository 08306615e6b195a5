"""The lecture's double loop: over examples, then over features, in pure Python.

X is read through a memoryview so each element arrives as a Python float
without copying X; all arithmetic is Python floats and the math module.
"""
from ..numerics import loss_scalar, sigmoid_scalar



def step(w, b, X, Y):
    n_x, m = X.shape
    x = memoryview(X)
    wl = w.tolist()
    yl = Y.tolist()
    dw = [0.0] * n_x
    db = 0.0
    cost = 0.0
    for i in range(m):
        z = b
        for j in range(n_x):
            z += wl[j] * x[j, i]
        a = sigmoid_scalar(z)
        cost += loss_scalar(z, yl[i])
        dz = a - yl[i]
        for j in range(n_x):
            dw[j] += x[j, i] * dz
        db += dz
    return [v / m for v in dw], db / m, cost / m

"""One Python loop over examples; the feature dimension is vectorized with NumPy."""
import numpy as np

from ..numerics import loss_scalar, sigmoid_scalar



def step(w, b, X, Y):
    n_x, m = X.shape
    yl = Y.tolist()
    dw = np.zeros(n_x)
    db = 0.0
    cost = 0.0
    for i in range(m):
        x = X[:, i]
        z = float(np.dot(w, x)) + b
        a = sigmoid_scalar(z)
        cost += loss_scalar(z, yl[i])
        dz = a - yl[i]
        dw += dz * x
        db += dz
    dw /= m
    return dw, db / m, cost / m

"""An independent reference for the gradient step: the textbook formulas in
50-digit decimal arithmetic, sharing no code with the strategies.

It lives in the package (not only in tests/) so that ``lrperf.accuracy`` and
the asv suite can measure errors against it from an installed lrperf.
NumPy object arrays only hold the Decimals (the sums run in C instead of a
Python loop, about 3x faster at the cat size); every operation is a Decimal
one under the 50-digit context, so the order of the sums does not matter.

-log(a) = log(1 + e^-z) and -log(1 - a) = log(1 + e^z) are used for the loss
so that saturated examples (|z| ~ 1e4) stay exact instead of taking log(0).
"""
from decimal import Decimal, localcontext

import numpy as np

DIGITS = 50
_decimal = np.frompyfunc(Decimal, 1, 1)  # exact: every float is a finite decimal


def reference_step(w, b, X, Y):
    """w (n_x,), X (n_x, m), Y (m,) as arrays or nested sequences of floats;
    returns floats (dw list, db, cost)."""
    X = np.asarray(X, dtype=np.float64)
    n_x, m = X.shape
    with localcontext() as ctx:
        ctx.prec = DIGITS
        one = Decimal(1)
        Xd = _decimal(X)
        wd = _decimal(np.asarray(w, dtype=np.float64).reshape(n_x))
        z = wd @ Xd + Decimal(b)
        dz = np.empty(m, dtype=object)
        cost = Decimal(0)
        for i, (zi, y) in enumerate(zip(z, np.asarray(Y, dtype=np.float64).reshape(m))):
            a = one / (one + (-zi).exp())
            if y == 1:
                cost += (one + (-zi).exp()).ln()
            else:
                cost += (one + zi.exp()).ln()
            dz[i] = a - Decimal(y)
        dw = Xd @ dz
        db = sum(dz, Decimal(0))
        return [float(v / m) for v in dw], float(db / m), float(cost / m)

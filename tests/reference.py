"""An independent reference for the gradient step: the textbook formulas in
50-digit decimal arithmetic, sharing no code with lrperf.

-log(a) = log(1 + e^-z) and -log(1 - a) = log(1 + e^z) are used for the loss
so that saturated examples (|z| ~ 1e4) stay exact instead of taking log(0).
"""
from decimal import Decimal, localcontext


def reference_step(w, b, X, Y):
    """w, X, Y as nested lists / sequences of floats; returns floats (dw list, db, cost)."""
    n_x, m = len(X), len(X[0])
    with localcontext() as ctx:
        ctx.prec = 50
        one = Decimal(1)
        dw = [Decimal(0)] * n_x
        db = Decimal(0)
        cost = Decimal(0)
        for i in range(m):
            z = Decimal(b) + sum(Decimal(w[j]) * Decimal(X[j][i]) for j in range(n_x))
            a = one / (one + (-z).exp())
            y = Decimal(Y[i])
            if y == 1:
                cost += (one + (-z).exp()).ln()
            else:
                cost += (one + z.exp()).ln()
            dz = a - y
            for j in range(n_x):
                dw[j] += Decimal(X[j][i]) * dz
            db += dz
        return [float(v / m) for v in dw], float(db / m), float(cost / m)

"""numba_fused: one pass over X per step, fused, multi-threaded Numba kernels, planned per machine.

* ``kernels``: the compiled loops (F order: pipelined groups of examples;
  C order: two passes over whole rows, or tiles; gradient descent in C order
  fused across steps, X read T + 1 times in T steps);
* ``plan``: the one key function, the candidates of a key, the bounded
  planner, ``describe`` of a choice;
* ``wisdom``: the file the plans are kept in.

``step`` and ``descend`` are what the registry calls (``Strategy.step`` and
``Strategy.descend``).  The same machine, threads and plan give bit-identical
results: every partial sum has a fixed place and is added in a fixed order.
"""
import time

import numba as nb
import numpy as np

from . import kernels, planner as _plan
from .planner import (MODE_ENV, PATH_ENV, Choice, Params, TuningWarning, candidates,  # noqa: F401
                   choose, column_group, default_choice, describe, entry_choice, key,
                   load_wisdom, machine_id, mode, plan, reset, resolve, save_wisdom, tune,
                   tuning_record, wisdom_path)

# Params used instead of the planned choice where it fits the call (tests force each loop).
FORCED = None


def _layout(X):
    return "F" if abs(X.strides[0]) <= abs(X.strides[1]) else "C"


def run_params(w, b, X, Y, params, nthreads=None):
    """One step with the given Params (C order: rows or tiles; F order: groups or pairs)."""
    nthreads = nb.get_num_threads() if nthreads is None else nthreads
    row = kernels._pad(X.shape[0])
    if params.variant in ("groups", "columns"):
        return kernels._step_columns(w, b, X.T, Y, nthreads, row, params.group,
                                     params.variant == "groups")
    if params.variant == "tiles":
        return kernels._step_tiles(w, b, X, Y, nthreads, row, params.tile, params.ahead)
    return kernels._step_rows(w, b, X, Y, nthreads)


def _forced(kind, layout):
    f = FORCED
    if f is not None and f.variant in _plan.VARIANTS[(kind, layout)] + (
            ("columns",) if layout == "F" else ()):
        return f
    return None


def step(w, b, X, Y):
    nthreads = nb.get_num_threads()
    layout = _layout(X)
    params = _forced("step", layout) or choose(
        "step", layout, X, nthreads, run=lambda p: run_params(w, b, X, Y, p, nthreads))
    return run_params(w, b, X, Y, params, nthreads)


class _Descent:
    """Buffers of a C-order descent, allocated once per optimize call."""

    def __init__(self, w, X, nthreads):
        n_x, m = X.shape
        self.zs = np.empty((nthreads, m))
        self.dz = np.empty(m)
        self.dw = np.empty(n_x)
        self.wn = np.empty(n_x)
        self.sums = np.empty((kernels.z_blocks(m), 2))


def _descend_c(w, b, X, Y, iterations, lr, params, nthreads, on_step):
    buf = _Descent(w, X, nthreads)
    pipelined = params.variant == "descent"
    kernels.descent_start(w, X, buf.zs, nthreads)
    wn, dw = buf.wn, buf.dw
    db = 0.0
    for i in range(max(iterations, 1)):
        db, cost = kernels.descent_dz(buf.zs, b, Y, buf.dz, buf.sums)
        more = i + 1 < iterations
        kernels.descent_step(w, wn, X, buf.dz, lr, buf.zs, dw, nthreads, pipelined, more)
        if iterations == 0:
            on_step(None, dw, db, cost, w, b)
            break
        on_step(i, dw, db, cost, w, b)
        w, wn = wn, w
        b -= lr * db
    return w, b, dw, db


def _descend_f(w, b, X, Y, iterations, lr, params, nthreads, on_step):
    XT, row = X.T, kernels._pad(X.shape[0])
    pipelined = params.variant == "groups"
    update = np.empty_like(w)
    dw, db = None, 0.0
    for i in range(max(iterations, 1)):
        dw, db, cost = kernels._step_columns(w, b, XT, Y, nthreads, row, params.group, pipelined)
        if iterations == 0:
            on_step(None, dw, db, cost, w, b)
            break
        on_step(i, dw, db, cost, w, b)
        np.multiply(dw, lr, out=update)
        w -= update
        b -= lr * db
    return w, b, dw, db


def _descent_runner(w, b, X, Y, nthreads):
    """run(Params): one step of the descent a plan would choose, on scratch buffers."""
    if _layout(X) == "F":
        return lambda p: run_params(w, b, X, Y, p, nthreads)
    buf = _Descent(w, X, nthreads)
    kernels.descent_start(w, X, buf.zs, nthreads)
    kernels.descent_dz(buf.zs, b, Y, buf.dz, buf.sums)
    scratch = np.empty_like(buf.zs)

    def run(p):
        kernels.descent_step(w, buf.wn, X, buf.dz, 0.0, scratch, buf.dw, nthreads,
                             p.variant == "descent", True)
    return run


def descend(w, b, X, Y, iterations, lr, on_step):
    """Gradient descent from (w, b): ``iterations`` steps of rate ``lr``; returns
    (w, b, dw, db) with the gradients of the last step.

    ``on_step(i, dw, db, cost, w, b)`` is called after every step with w before its
    update (i is None for the one gradient of ``iterations == 0``); it may raise
    to stop.  ``w`` is updated in place or swapped with a buffer: pass a copy.
    C order: X is read ``iterations + 1`` times.  A key with no wisdom is planned
    on this first use (bounded: ``plan``)."""
    nthreads = nb.get_num_threads()
    layout = _layout(X)
    params = _forced("descent", layout) or choose(
        "descent", layout, X, nthreads, run=_lazy_runner(w, b, X, Y, nthreads), plan=True)
    if params.variant in ("descent", "descent-plain"):
        return _descend_c(w, b, X, Y, iterations, lr, params, nthreads, on_step)
    if layout == "F":
        return _descend_f(w, b, X, Y, iterations, lr, params, nthreads, on_step)
    # A C-order step loop (a forced rows/tiles kernel): one step at a time.
    update = np.empty_like(w)
    dw, db = None, 0.0
    for i in range(max(iterations, 1)):
        dw, db, cost = run_params(w, b, X, Y, params, nthreads)
        on_step(None if iterations == 0 else i, dw, db, cost, w, b)
        if iterations == 0:
            break
        np.multiply(dw, lr, out=update)
        w -= update
        b -= lr * db
    return w, b, dw, db


def _lazy_runner(w, b, X, Y, nthreads):
    made = []

    def run(p):
        if not made:
            made.append(_descent_runner(w, b, X, Y, nthreads))
        return made[0](p)
    return run


def plan_points(points, *, progress=None, replan=False):
    """Plan every (n_x, m, layout, dtype, threads) point, step and descent, that has no
    wisdom yet, on synthetic X of its shape; save the plans.  Returns {"plan_s": seconds
    spent, "planned": [keys], "known": keys already planned, "mode"}.  Nothing is
    timed with LRPERF_TUNING=off.  "plan_s" is the timed calls (the bound: 16 steps
    of X a key); "first_calls_s" (JIT compilation) and "wall_s" (with the
    synthetic data) are apart.  ``replan``: plan known keys again (``lrperf tune``).
    ``progress(key, entry)`` after each key."""
    from ..datasets import synthetic
    from ..measure import threads as using_threads

    how = mode()
    result = {"mode": how, "plan_s": 0.0, "first_calls_s": 0.0, "wall_s": 0.0, "planned": [],
              "known": 0}
    if how == "off" and not replan:
        return result
    known = {} if replan else load_wisdom()
    t0 = time.perf_counter()
    seen = set()
    new = {}
    for n_x, m, layout, dtype, threads in points:
        keys = {kind: key(kind, layout, n_x, m, threads, np.dtype(dtype).name) for kind in
                _plan.KINDS}
        todo = [kind for kind, k in keys.items() if k not in known and k not in seen]
        result["known"] += sum(k in known for k in keys.values())
        seen.update(keys.values())
        if not todo:
            continue
        X, Y = synthetic(n_x, m, order=layout, dtype=dtype, seed=0)
        Y = np.ascontiguousarray(Y.reshape(-1), dtype=np.float64)
        w = np.full(n_x, 1.0 / n_x)
        itemsize = X.dtype.itemsize
        with using_threads(threads):
            nt = nb.get_num_threads()
            for kind in todo:
                run = (_descent_runner(w, 0.0, X, Y, nt) if kind == "descent"
                       else (lambda p: run_params(w, 0.0, X, Y, p, nt)))
                entry = tune(kind, layout, run, n_x, itemsize)
                new[keys[kind]] = entry
                result["planned"].append(keys[kind])
                if progress:
                    progress(keys[kind], entry)
        del X
    if new:
        save_wisdom(new)
    # The plan's cost is its timed calls; the first calls (JIT compilation or a
    # load from Numba's cache) and making the synthetic X are reported apart.
    result["plan_s"] = sum(e["plan_s"] for e in new.values())
    result["first_calls_s"] = sum(e["first_calls_s"] for e in new.values())
    result["wall_s"] = time.perf_counter() - t0
    _plan._state["plan_s"] += result["plan_s"]
    return result


def plan_grid(name, thread_counts=None, *, progress=None):
    """``plan_points`` over a named grid (lrperf.grid.GRIDS): every shape, layout, dtype
    and thread count the study times."""
    from .. import grid

    g = grid.GRIDS[name]
    threads = thread_counts or grid.thread_counts()
    return plan_points([(n_x, m, layout, dtype, t) for n_x in g.n_x for m in g.m
                        for layout in grid.LAYOUTS for dtype in grid.DTYPES for t in threads],
                       progress=progress)


def tune_here(kind, layout, n_x, m, threads, dtype="float64", *, progress=None):
    """Plan one key again at (n_x, m) on this machine, whatever the wisdom says; save it.

    Returns (key, entry)."""
    from ..datasets import synthetic
    from ..measure import threads as using_threads

    X, Y = synthetic(n_x, m, order=layout, dtype=dtype, seed=0)
    Y = np.ascontiguousarray(Y.reshape(-1), dtype=np.float64)
    w = np.full(n_x, 1.0 / n_x)
    k = key(kind, layout, n_x, m, threads, np.dtype(dtype).name)
    with using_threads(threads):
        nt = nb.get_num_threads()
        run = (_descent_runner(w, 0.0, X, Y, nt) if kind == "descent"
               else (lambda p: run_params(w, 0.0, X, Y, p, nt)))
        entry = tune(kind, layout, run, n_x, X.dtype.itemsize,
                     progress=(lambda name, s: progress(k, name, s)) if progress else None)
    save_wisdom({k: entry})
    return k, entry

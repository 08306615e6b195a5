"""Public API: validation and dispatch, the only place inputs are checked.

Inputs are validated once per call.  X is never scanned on the hot path:
a NaN or inf in X always makes dw non-finite (x * dz is nan or inf for any
dz, including 0), so a cheap O(n_x) check of each step's result detects it,
and only then is X scanned to say where.

dtype of X: float64 and float32 are accepted as they are.  Each strategy
declares the dtypes it reads natively (``Strategy.dtypes``, listed by
``lrperf strategies``); ``Strategy.prepared`` gives it X as it is when it reads
X's dtype, else one float64 copy of X per ``propagate``/``optimize``/``model``
call (never per step).  Widening is exact, so such a strategy computes on the
same values as the caller's X; only its memory (one more X, twice as wide) and
its speed differ.  X in the other byte order, or not aligned to its item size
(a view into a byte buffer), is likewise copied once per call into native
order (``registry.native_layout``), so every strategy reads it alike.  What a native float32 strategy accumulates in is
``Strategy.accumulation(dtype)``: ``numpy`` uses float32 arithmetic on float32
X (as NumPy itself does), ``numba_fused`` reads float32 and sums in float64.
``lrperf.accuracy`` measures the errors this gives.  The caller's X is never
modified or converted in place.
"""
import functools
import math
import numbers

import numpy as np

from . import strategies as _strategies  # noqa: F401  (fills the registry)
from .numerics import mean_loss, sigmoid
from .registry import get_strategy

_REAL_KINDS = "biuf"
# Float dtypes wider than float64 (longdouble) are refused rather than
# narrowed: the step computes in float64, so their extra range and precision
# would be dropped silently (or overflow to inf in the cast).
_MAX_FLOAT_ITEMSIZE = 8


def _interruptible(func):
    """Ctrl-C during a Numba call surfaces as KeyboardInterrupt, never as SystemError.

    When SIGINT arrives while compiled code runs, Python's handler is run at
    the next Python-level call: Numba's boxing of the returned array calls
    ``numba.core.serialize._numba_unpickle``, which raises KeyboardInterrupt
    there, and the dispatcher then returns its result with that exception
    set, which CPython reports as ``SystemError(... returned a result with an
    exception set)`` caused by the KeyboardInterrupt.  The interrupt itself
    is what the caller must see.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SystemError as exc:
            cause = interrupt_behind(exc)
            if cause is not None:
                raise cause.with_traceback(cause.__traceback__) from None
            raise
    return wrapper


def interrupt_behind(exc):
    """The KeyboardInterrupt behind Numba's SystemError("... with an exception set"), if any."""
    cause = exc.__cause__ or exc.__context__
    return cause if isinstance(cause, KeyboardInterrupt) else None


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def _check_dtype(name, dtype):
    if dtype.kind not in _REAL_KINDS:
        raise TypeError(
            f"{name} must have a real numeric dtype (float64 or float32), "
            f"got dtype {dtype}"
        )
    if dtype.kind == "f" and dtype.itemsize > _MAX_FLOAT_ITEMSIZE:
        raise TypeError(
            f"{name} must be float64 or float32 (or an integer dtype), got dtype "
            f"{dtype}: the step computes in float64 and would drop its extra range "
            f"and precision; pass {name}.astype(np.float64) if its values fit"
        )


def _check_ndarray(name, value):
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} must be a plain numpy.ndarray, got a masked array: masked values have "
            f"no defined meaning in the step; pass {name}.filled(value) or drop the "
            "masked examples")
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        raise TypeError(
            f"{name} must be a plain numpy.ndarray, got the subclass "
            f"{type(value).__module__}.{type(value).__name__}; pass np.asarray({name})")
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {_describe(value)}")
    _check_dtype(name, value.dtype)


def _is_device(value):
    """A GPU array: anything with ``__cuda_array_interface__`` (CuPy, Numba,
    PyTorch...) or a Numba device array (the simulator's have no interface)."""
    return not isinstance(value, np.ndarray) and (
        hasattr(value, "__cuda_array_interface__")
        or bool(getattr(value, "__cuda_ndarray__", False)))


def _is_chunked(value):
    """A chunked array of a Dask-style collection (``__dask_graph__`` and ``chunks``):
    its shape and dtype are metadata, its data is not read here."""
    return (not isinstance(value, np.ndarray) and hasattr(value, "__dask_graph__")
            and hasattr(value, "chunks") and hasattr(value, "dtype"))


def _device_shape(name, value):
    """Shape of a device array, its dtype checked; its data is not touched."""
    interface = getattr(value, "__cuda_array_interface__", None)
    if interface is not None:
        shape, dtype = tuple(interface["shape"]), np.dtype(interface["typestr"])
    else:
        shape, dtype = tuple(value.shape), np.dtype(value.dtype)
    _check_dtype(name, dtype)
    return shape


def _to_host(value):
    """A host copy of a device array (label checks and error paths only)."""
    if not _is_device(value):
        return value
    if hasattr(value, "copy_to_host"):  # Numba
        return value.copy_to_host()
    if hasattr(value, "get"):  # CuPy
        return value.get()
    from numba import cuda
    return cuda.as_cuda_array(value).copy_to_host()


def _as_X(X, name="X", device=False, chunked=False):
    """X as given, checked; ``device``: a GPU array is accepted too (the
    strategy decides whether it can read it), and its data is not touched;
    ``chunked``: likewise a Dask array (``Strategy.chunked``)."""
    if _is_chunked(X):
        if not chunked:
            raise TypeError(
                f"{name} must be a numpy.ndarray here, got the chunked array "
                f"{type(X).__module__}.{type(X).__name__}; pass {name}.compute()")
        _check_dtype(name, np.dtype(X.dtype))
        shape = tuple(X.shape)
    elif _is_device(X):
        if not device:
            raise TypeError(
                f"{name} must be a host numpy.ndarray here, got the GPU array "
                f"{type(X).__module__}.{type(X).__name__}; copy it to the host first")
        shape = _device_shape(name, X)
    else:
        _check_ndarray(name, X)
        shape = X.shape
    if len(shape) != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_x, m), one example per column, "
            f"got {len(shape)}-D shape {shape}"
        )
    n_x, m = shape
    if m == 0:
        raise ValueError(f"{name} must hold at least one example (m >= 1), got shape {shape}")
    if n_x == 0:
        raise ValueError(f"{name} must have at least one feature (n_x >= 1), got shape {shape}")
    # Used as it is: the strategy's prepare() decides what it reads natively
    # and copies anything else to float64 once per call (module docstring).
    return X


def _as_w(w, n_x):
    _check_ndarray("w", w)
    if w.ndim == 2 and w.shape[0] == 1 and w.shape[1] > 1:
        raise ValueError(
            f"w must be a column of shape ({n_x}, 1) or 1-D ({n_x},), "
            f"got a row of shape {w.shape}; pass w.T"
        )
    if not (w.ndim == 1 or (w.ndim == 2 and w.shape[1] == 1)):
        raise ValueError(f"w must have shape ({n_x}, 1) or ({n_x},), got shape {w.shape}")
    if w.shape[0] != n_x:
        raise ValueError(
            f"w must have n_x = {n_x} entries to match X's {n_x} rows, got shape {w.shape}"
        )
    wv = np.array(w, dtype=np.float64).reshape(n_x)  # our own copy: never alias the caller's w
    if not np.isfinite(wv).all():
        raise ValueError("w must contain only finite values, got NaN or inf")
    return wv


def _as_b(b):
    if isinstance(b, np.ndarray) and b.ndim == 0:
        b = b[()]
    if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
        raise TypeError(f"b must be a real number (float), got {_describe(b)}")
    b = float(b)
    if not math.isfinite(b):
        raise ValueError(f"b must be finite, got {b}")
    return b


def _as_Y(Y, m, name="Y"):
    if _is_chunked(Y):
        # m labels, read once per call to check them: the size of one row of X.
        _check_dtype(name, np.dtype(Y.dtype))
        Y = np.asarray(Y.compute())
    if _is_device(Y):
        # m labels, checked on the host: one small copy per call, never per step.
        _device_shape(name, Y)
        Y = _to_host(Y)
    _check_ndarray(name, Y)
    if Y.ndim == 2 and Y.shape[1] == 1 and Y.shape[0] > 1:
        raise ValueError(
            f"{name} must be a row of shape (1, {m}) or 1-D ({m},), "
            f"got a column of shape {Y.shape}; pass {name}.T"
        )
    if not (Y.ndim == 1 or (Y.ndim == 2 and Y.shape[0] == 1)):
        raise ValueError(f"{name} must have shape (1, {m}) or ({m},), got shape {Y.shape}")
    if Y.shape[-1] != m:
        raise ValueError(
            f"{name} must have m = {m} labels to match X's {m} columns, got shape {Y.shape}"
        )
    Yv = Y.reshape(m)
    Yv = Yv if Yv.dtype == np.float64 else Yv.astype(np.float64)
    bad = (Yv != 0.0) & (Yv != 1.0)
    if bad.any():
        values = np.unique(Yv[bad])[:5].tolist()
        raise ValueError(f"{name} must contain only labels 0 and 1, got also {values}")
    return Yv


def _first_non_finite(X, name="X"):
    """Where X holds NaN or inf, or None; scans in blocks to bound memory."""
    n_x, m = X.shape
    block = max(1, (1 << 20) // n_x)
    for start in range(0, m, block):
        bad = ~np.isfinite(np.asarray(X[:, start:start + block]))
        if bad.any():
            j, i = np.argwhere(bad)[0]
            return int(j), int(start + i)
    return None


def _wx(w, X):
    """w^T X on the host: a chunked X is read block by block by its scheduler."""
    return np.asarray(X.T.dot(w)) if _is_chunked(X) else w @ X


def _xv(X, v):
    return np.asarray(X.dot(v)) if _is_chunked(X) else X @ v


def _raise_non_finite(X, w, b, Y, result):
    """Says why a step's result is not finite: a NaN or inf in X, else which
    product overflowed, recomputed in float64 (only on this error path)."""
    X = _to_host(X)
    where = _first_non_finite(X)
    if where is not None:
        raise ValueError(f"X must contain only finite values, got {np.asarray(X[where])} "
                         f"at X[{where[0]}, {where[1]}]")
    z = _wx(w, X) + b
    if not np.isfinite(z).all():
        j = int(np.argmin(np.isfinite(z)))
        raise FloatingPointError(
            f"w^T X + b overflowed at example {j} although X, w and b are finite "
            "(are w or learning_rate too large?)")
    Y = np.asarray(_to_host(Y), dtype=np.float64).reshape(-1)
    dz = sigmoid(z) - Y
    dw = _xv(X, dz)
    if not np.isfinite(dw).all():
        i = int(np.argmin(np.isfinite(dw)))
        raise FloatingPointError(
            f"the gradient X dZ^T overflowed at feature {i} although X, w and b are finite: "
            f"X holds values up to {float(np.max(np.abs(np.asarray(X[i])))):.3g}, too near the float64 "
            "maximum for a sum over examples; scale X down")
    if not math.isfinite(mean_loss(z, Y)):
        raise FloatingPointError(
            "the cost (the mean over examples of losses as large as |w^T x + b|, here up to "
            f"{float(np.max(np.abs(z))):.3g}) overflowed although X, w and b are finite "
            "(are w or learning_rate too large?)")
    narrow = ""
    if X.dtype == np.float32:
        narrow = (" (X is float32: a strategy computing in float32 overflows above "
                  f"{float(np.finfo(np.float32).max):.3g}; pass X.astype(np.float64) "
                  "or scale X down)")
    raise FloatingPointError(
        f"{result} is not finite although X, w and b are, and w^T X + b, X dZ^T and the "
        f"cost are finite in float64: the strategy's own arithmetic overflowed{narrow}")


def _step_checked(step, w, b, X, Y, flags=None, source=None):
    """One step and its O(n_x) finiteness check; ``flags``: a reusable bool buffer;
    ``source``: the caller's (X, Y), to say what went wrong."""
    # Callers run this under np.errstate(all="ignore"): a non-finite X or an
    # overflow becomes one clear exception below, not a RuntimeWarning first.
    dw, db, cost = step(w, b, X, Y)
    dw = np.asarray(dw, dtype=np.float64)
    if not (math.isfinite(cost) and math.isfinite(db) and np.isfinite(dw, out=flags).all()):
        Xs, Ys = source if source is not None else (X, Y)
        _raise_non_finite(Xs, w, b, Ys, "the gradient")
    return dw, float(db), float(cost)


def _validated(w, b, X, Y, strategy):
    """The strategy's step and the inputs in the form it reads, once per call."""
    record = get_strategy(strategy)
    Xv = _as_X(X, device=True, chunked=True)
    if record.device != "gpu" and _is_device(Xv):
        raise TypeError(
            f"X is a GPU array ({type(X).__module__}.{type(X).__name__}) but strategy "
            f"{strategy!r} runs on the {record.device}: pass a host numpy.ndarray, or a "
            "gpu strategy")
    if not record.chunked and _is_chunked(Xv):
        raise TypeError(
            f"X is a chunked array ({type(X).__module__}.{type(X).__name__}) but strategy "
            f"{strategy!r} reads an array in memory: pass X.compute(), or a strategy that "
            "reads chunks (lrperf strategies: dask)")
    n_x, m = _device_shape("X", Xv) if _is_device(Xv) else tuple(Xv.shape)
    wv, bv, Yv = _as_w(w, n_x), _as_b(b), _as_Y(Y, m)
    Xp, Yp = record.prepared(Xv, Yv)
    return record.step, wv, bv, Xp, Yp


@_interruptible
def propagate(w, b, X, Y, *, strategy="numpy"):
    """One forward and backward pass: ``({"dw": ..., "db": ...}, cost)``.

    w: (n_x, 1) or (n_x,); b: real; X: (n_x, m); Y: (1, m) or (m,) of 0/1.
    With a gpu strategy X (and Y) may be GPU arrays (``__cuda_array_interface__``):
    X is then read where it is, never copied.
    dw has w's shape (float64); db and cost are floats.  X of a dtype the
    strategy does not read natively is copied to float64 once (see the module
    docstring); float32 X with ``numpy`` is computed in float32.
    """
    step, wv, bv, Xv, Yv = _validated(w, b, X, Y, strategy)
    with np.errstate(all="ignore"):
        dw, db, cost = _step_checked(step, wv, bv, Xv, Yv, source=(X, Y))
    return {"dw": dw.reshape(w.shape), "db": db}, cost


@_interruptible
def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False,
             *, strategy="numpy", callback=None):
    """Gradient descent: ``(params, grads, costs)`` as in the course.

    costs holds the cost of every iteration i with i % 100 == 0; grads are
    those of the last step.  ``callback(i, cost)``, if given, is called after
    every iteration (progress reporting).  Inputs are not modified.
    """
    step, wv, bv, Xv, Yv = _validated(w, b, X, Y, strategy)
    descend = get_strategy(strategy).descend
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, numbers.Integral):
        raise TypeError(f"num_iterations must be an int, got {_describe(num_iterations)}")
    if num_iterations < 0:
        raise ValueError(f"num_iterations must be >= 0, got {num_iterations}")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"learning_rate must be a real number, got {_describe(learning_rate)}")
    lr = float(learning_rate)
    if not (math.isfinite(lr) and lr >= 0.0):
        raise ValueError(f"learning_rate must be finite and >= 0, got {learning_rate!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(i, cost) or None, "
                        f"got {_describe(callback)}")

    with np.errstate(all="ignore"):
        if descend is not None:
            return _descend_whole(descend, w.shape, wv, bv, Xv, Yv, num_iterations, lr,
                                  print_cost, callback, (X, Y))
        return _descend(step, w.shape, wv, bv, Xv, Yv, num_iterations, lr, print_cost,
                        callback, (X, Y))


def _descend_whole(descend, shape, wv, bv, Xv, Yv, num_iterations, lr, print_cost, callback,
                   source):
    """``_descend``'s results and reports from a strategy's own descent loop."""
    costs = []
    flags = np.empty(wv.shape, dtype=bool)

    def on_step(i, dw, db, cost, w, b):
        if not (math.isfinite(cost) and math.isfinite(db) and np.isfinite(dw, out=flags).all()):
            Xs, Ys = source
            _raise_non_finite(Xs, w, b, Ys, "the gradient")
        if i is None:
            return
        _record(i, cost, costs, print_cost, callback)

    wv, bv, dw, db = descend(wv, bv, Xv, Yv, num_iterations, lr, on_step)
    params = {"w": np.array(wv).reshape(shape), "b": float(bv)}
    grads = {"dw": np.array(dw, dtype=np.float64).reshape(shape), "db": float(db)}
    return params, grads, costs


def _record(i, cost, costs, print_cost, callback):
    """The course's bookkeeping after step ``i``: the cost every 100 steps, printed
    if asked, and the caller's callback."""
    if i % 100 == 0:
        costs.append(cost)
        if print_cost:
            print(f"Cost after iteration {i}: {cost:f}")
    if callback is not None:
        callback(i, cost)


def _descend(step, shape, wv, bv, Xv, Yv, num_iterations, lr, print_cost, callback, source):
    costs = []
    # Allocated once: the loop adds nothing per iteration beyond the step.
    flags = np.empty(wv.shape, dtype=bool)
    update = np.empty_like(wv)
    if num_iterations == 0:
        dw, db, _ = _step_checked(step, wv, bv, Xv, Yv, flags, source)
    for i in range(num_iterations):
        dw, db, cost = _step_checked(step, wv, bv, Xv, Yv, flags, source)
        np.multiply(dw, lr, out=update)
        wv -= update
        bv -= lr * db
        _record(i, cost, costs, print_cost, callback)
    params = {"w": wv.reshape(shape), "b": bv}
    grads = {"dw": dw.reshape(shape), "db": db}
    return params, grads, costs


def _predict_validated(wv, bv, Xv):
    with np.errstate(all="ignore"):
        Z = _wx(wv, Xv) + bv
        if not np.isfinite(Z).all():
            _raise_non_finite(Xv, wv, bv, None, "w^T X + b")  # raises at the z check
    return (sigmoid(Z) > 0.5).astype(np.float64).reshape(1, -1)


@_interruptible
def predict(w, b, X):
    """Labels 0./1. of shape (1, m): 1 where sigmoid(w^T x + b) > 0.5."""
    Xv = _as_X(X, chunked=True)
    return _predict_validated(_as_w(w, Xv.shape[0]), _as_b(b), Xv)


@_interruptible
def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5,
          print_cost=False, *, strategy="numpy", callback=None):
    """Train from w = 0, b = 0 and predict both sets, as the course's ``model``."""
    Xtr = _as_X(X_train, "X_train", chunked=True)
    Xte = _as_X(X_test, "X_test", chunked=True)
    if Xte.shape[0] != Xtr.shape[0]:
        raise ValueError(
            f"X_test must have n_x = {Xtr.shape[0]} rows like X_train, got shape {Xte.shape}"
        )
    _as_Y(Y_train, Xtr.shape[1], "Y_train")
    _as_Y(Y_test, Xte.shape[1], "Y_test")
    w = np.zeros((Xtr.shape[0], 1))
    params, _, costs = optimize(w, 0.0, Xtr, Y_train, num_iterations, learning_rate,
                                print_cost, strategy=strategy, callback=callback)
    w, b = params["w"], params["b"]
    wv = w.reshape(-1)
    return {
        "costs": costs,
        "Y_prediction_test": _predict_validated(wv, b, Xte),
        "Y_prediction_train": _predict_validated(wv, b, Xtr),
        "w": w,
        "b": b,
        "learning_rate": learning_rate,
        "num_iterations": num_iterations,
    }

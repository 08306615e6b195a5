"""Every bad input gets a ValueError/TypeError naming the argument, what was
expected and what was given; inputs are never modified."""
import warnings

import numpy as np
import pytest

import lrperf
from lrperf import api


def good(n_x=3, m=4):
    rng = np.random.default_rng(0)
    return {
        "w": rng.normal(size=(n_x, 1)),
        "b": 0.5,
        "X": rng.normal(size=(n_x, m)),
        "Y": np.array([[0, 1, 1, 0]], dtype=np.float64)[:, :m],
    }


# (argument changed, bad value, exception, regex the message must match)
BAD = [
    ("X", np.ones(4), ValueError, r"X must be 2-D .*\(n_x, m\).*got 1-D shape \(4,\)"),
    ("X", np.ones((3, 4, 1)), ValueError, r"X must be 2-D.*got 3-D"),
    ("X", np.ones((3, 0)), ValueError, r"X must hold at least one example.*\(3, 0\)"),
    ("X", [[1.0] * 4] * 3, TypeError, r"X must be a numpy.ndarray, got list"),
    ("X", np.ones((3, 4), dtype=complex), TypeError, r"X must have a real numeric dtype.*complex128"),
    ("X", np.array([["a"] * 4] * 3), TypeError, r"X must have a real numeric dtype.*<U1"),
    ("X", np.ones((3, 4), dtype=object), TypeError, r"X must have a real numeric dtype.*object"),
    ("X", np.ones((5, 4)), ValueError, r"w must have n_x = 5 entries to match X's 5 rows, got shape \(3, 1\)"),
    ("X", np.ones((3, 5)), ValueError, r"Y must have m = 5 labels to match X's 5 columns, got shape \(1, 4\)"),
    ("Y", np.array([[0], [1], [1], [0]], dtype=float), ValueError,
     r"Y must be a row of shape \(1, 4\) or 1-D \(4,\), got a column of shape \(4, 1\)"),
    ("Y", np.array([[0, 1, 2, 0]]), ValueError, r"Y must contain only labels 0 and 1, got also \[2.0\]"),
    ("Y", np.array([[0, 1, 0.5, np.nan]]), ValueError, r"Y must contain only labels 0 and 1, got also \[0.5, nan\]"),
    ("Y", np.array([[0, 1, 1]]), ValueError, r"Y must have m = 4 labels.*got shape \(1, 3\)"),
    ("Y", np.ones((2, 4)), ValueError, r"Y must have shape \(1, 4\) or \(4,\), got shape \(2, 4\)"),
    ("Y", np.array([[0, 1, 1, 0]], dtype=complex), TypeError, r"Y must have a real numeric dtype.*complex"),
    ("Y", [0, 1, 1, 0], TypeError, r"Y must be a numpy.ndarray, got list"),
    ("w", np.ones((1, 3)), ValueError, r"w must be a column of shape \(3, 1\) or 1-D \(3,\), got a row of shape \(1, 3\)"),
    ("w", np.ones((4, 1)), ValueError, r"w must have n_x = 3 entries.*got shape \(4, 1\)"),
    ("w", np.ones((3, 2)), ValueError, r"w must have shape \(3, 1\) or \(3,\), got shape \(3, 2\)"),
    ("w", np.array([[1.0], [np.inf], [0.0]]), ValueError, r"w must contain only finite values"),
    ("w", np.array([[1.0], [np.nan], [0.0]]), ValueError, r"w must contain only finite values"),
    ("w", [1.0, 2.0, 3.0], TypeError, r"w must be a numpy.ndarray, got list"),
    ("w", np.ones((3, 1), dtype=complex), TypeError, r"w must have a real numeric dtype"),
    ("b", float("nan"), ValueError, r"b must be finite, got nan"),
    ("b", float("inf"), ValueError, r"b must be finite, got inf"),
    ("b", 1 + 2j, TypeError, r"b must be a real number \(float\), got complex"),
    ("b", "0.5", TypeError, r"b must be a real number \(float\), got str '0.5'"),
    ("b", np.ones(2), TypeError, r"b must be a real number.*shape \(2,\)"),
]


@pytest.mark.parametrize("arg, value, exc, pattern", BAD, ids=[f"{a}-{i}" for i, (a, *_) in enumerate(BAD)])
@pytest.mark.parametrize("entry", ["propagate", "optimize"])
def test_bad_input(entry, arg, value, exc, pattern):
    kwargs = good()
    kwargs[arg] = value
    with pytest.raises(exc, match=pattern):
        getattr(lrperf, entry)(**kwargs)


@pytest.mark.parametrize("arg, value, exc, pattern",
                         [case for case in BAD if case[0] != "Y" and "labels to match" not in case[3]])
def test_bad_input_predict(arg, value, exc, pattern):
    kwargs = good()
    kwargs.pop("Y")
    kwargs[arg] = value
    with pytest.raises(exc, match=pattern):
        lrperf.predict(**kwargs)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [(0, 0), (2, 3), (1, 2)])
def test_non_finite_X_found_from_results(strategy, value, where):
    kwargs = good()
    kwargs["w"] = np.zeros((3, 1))  # 0 * inf is nan: still caught
    X = kwargs["X"].copy()
    X[where] = value
    kwargs["X"] = X
    pattern = rf"X must contain only finite values, got {value} at X\[{where[0]}, {where[1]}\]"
    with pytest.raises(ValueError, match=pattern):
        lrperf.propagate(**kwargs, strategy=strategy)
    with pytest.raises(ValueError, match=pattern):
        lrperf.optimize(**kwargs, num_iterations=3, strategy=strategy)


def test_non_finite_X_in_predict():
    kwargs = good()
    kwargs["X"][1, 1] = np.nan
    kwargs.pop("Y")
    with pytest.raises(ValueError, match=r"X must contain only finite values, got nan at X\[1, 1\]"):
        lrperf.predict(**kwargs)


def test_overflow_is_reported_not_returned(strategy):
    # z = +-inf on confidently wrong labels: an infinite cost, not a silent inf.
    X = np.array([[1e300, -1e300]])
    with pytest.raises(FloatingPointError, match="overflowed"):
        lrperf.propagate(np.array([1e10]), 0.0, X, np.array([0, 1]), strategy=strategy)


@pytest.mark.parametrize("name, exc, pattern", [
    ("fortran", ValueError, r"strategy must be one of \['python_loops', 'example_loop', 'numpy', 'numba'"),
    (None, TypeError, r"strategy must be a str naming one of .*got NoneType None"),
    (3, TypeError, r"strategy must be a str.*got int 3"),
])
def test_unknown_strategy_lists_valid_names(name, exc, pattern):
    with pytest.raises(exc, match=pattern):
        lrperf.propagate(**good(), strategy=name)
    with pytest.raises(exc, match=pattern):
        lrperf.optimize(**good(), strategy=name)


@pytest.mark.parametrize("kw, value, exc, pattern", [
    ("num_iterations", -1, ValueError, r"num_iterations must be >= 0, got -1"),
    ("num_iterations", 2.5, TypeError, r"num_iterations must be an int, got float 2.5"),
    ("learning_rate", "fast", TypeError, r"learning_rate must be a real number, got str"),
    ("learning_rate", float("nan"), ValueError, r"learning_rate must be finite and >= 0, got nan"),
    ("learning_rate", -0.1, ValueError, r"learning_rate must be finite and >= 0, got -0.1"),
    # Once failed at the first iteration as "'int' object is not callable".
    ("callback", 5, TypeError, r"callback must be callable as callback\(i, cost\) or None, got int 5"),
])
def test_bad_optimize_arguments(kw, value, exc, pattern):
    with pytest.raises(exc, match=pattern):
        lrperf.optimize(**good(), **{kw: value})
    if kw == "callback":
        g = good()
        with pytest.raises(exc, match=pattern):
            lrperf.model(g["X"], g["Y"], g["X"], g["Y"], num_iterations=2, callback=value)


def test_model_checks_both_sets():
    g = good()
    with pytest.raises(ValueError, match=r"X_test must have n_x = 3 rows like X_train, got shape \(4, 4\)"):
        lrperf.model(g["X"], g["Y"], np.ones((4, 4)), g["Y"])
    with pytest.raises(ValueError, match=r"Y_test must contain only labels 0 and 1"):
        lrperf.model(g["X"], g["Y"], g["X"], g["Y"] * 3)
    with pytest.raises(ValueError, match=r"Y_train must be a row of shape \(1, 4\)"):
        lrperf.model(g["X"], g["Y"].T, g["X"], g["Y"])
    with pytest.raises(ValueError, match=r"X_train must hold at least one example"):
        lrperf.model(np.ones((3, 0)), np.ones((1, 0)), g["X"], g["Y"])


def test_inputs_never_modified(strategy):
    g = good()
    g["X"] = np.asfortranarray(g["X"])
    for arr in (g["w"], g["X"], g["Y"]):
        arr.flags.writeable = False  # a write would raise
    before = {k: np.copy(v) for k, v in g.items()}
    lrperf.propagate(**g, strategy=strategy)
    params, grads, _ = lrperf.optimize(**g, num_iterations=3, learning_rate=0.5, strategy=strategy)
    lrperf.model(g["X"], g["Y"], g["X"], g["Y"], num_iterations=3, strategy=strategy)
    lrperf.predict(g["w"], g["b"], g["X"])
    for k, v in before.items():
        np.testing.assert_array_equal(g[k], v)
    assert not np.shares_memory(params["w"], g["w"])
    assert not np.array_equal(params["w"], g["w"])


def test_float64_X_is_not_copied(strategy):
    import tracemalloc

    if lrperf.STRATEGIES[strategy].chunked:
        pytest.skip("a chunked strategy sends X to its workers' processes once per call "
                    "(serialized: a copy by design); its steps send only w and b")

    X = np.random.default_rng(0).normal(size=(300, 3000))  # 7.2 MB
    Y = (np.arange(3000) % 2).astype(float)
    # Compile first, on this very X: a slice of it is another Numba type (layout 'A'),
    # and another size may take another numba_fused variant, whose compilation
    # inside the traced call would be counted (11 MB with a fresh Numba cache).
    lrperf.propagate(np.zeros(300), 0.0, X, Y, strategy=strategy)
    tracemalloc.start()
    try:
        lrperf.propagate(np.zeros(300), 0.0, X, Y, strategy=strategy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 8, f"peak {peak} bytes for X of {X.nbytes} bytes"


def test_validation_is_in_one_place():
    # The step runs on what _validated returns: float64 X passes through as is.
    X = np.asfortranarray(np.ones((2, 3)))
    step, wv, bv, Xv, Yv = api._validated(np.ones(2), 0, X, np.ones(3), "numpy")
    assert Xv is X and wv.shape == (2,) and Yv.shape == (3,) and isinstance(bv, float)


def _masked(a):
    return np.ma.masked_array(a, mask=np.zeros(a.shape, dtype=bool))


def _matrix(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix's own notice
        return np.asmatrix(a)


class Tagged(np.ndarray):
    """Any other subclass: it may override operators the strategies use."""


SUBCLASSES = {
    "masked": (_masked, r"must be a plain numpy.ndarray, got a masked array.*\.filled\(value\)"),
    "matrix": (_matrix, r"must be a plain numpy.ndarray, got the subclass numpy.matrix"
                        r".*np\.asarray\("),
    "other": (lambda a: a.view(Tagged), r"must be a plain numpy.ndarray, got the subclass "
                                        r"test_validation.Tagged.*np\.asarray\("),
}


@pytest.mark.parametrize("kind", list(SUBCLASSES))
@pytest.mark.parametrize("arg", ["X", "Y", "w"])
def test_array_subclasses_are_refused_by_every_strategy(strategy, arg, kind):
    # Masked values and matrix semantics mean different things to different
    # strategies (one used the masked value, one broadcast wrongly): all refuse.
    make, pattern = SUBCLASSES[kind]
    kwargs = good()
    kwargs[arg] = make(kwargs[arg])
    with pytest.raises(TypeError, match=rf"^{arg} {pattern}"):
        lrperf.propagate(**kwargs, strategy=strategy)
    with pytest.raises(TypeError, match=rf"^{arg} {pattern}"):
        lrperf.optimize(**kwargs, num_iterations=2, strategy=strategy)


@pytest.mark.parametrize("kind", list(SUBCLASSES))
def test_array_subclasses_are_refused_by_predict_and_model(kind):
    make, pattern = SUBCLASSES[kind]
    g = good()
    with pytest.raises(TypeError, match=rf"^X {pattern}"):
        lrperf.predict(g["w"], g["b"], make(g["X"]))
    with pytest.raises(TypeError, match=rf"^w {pattern}"):
        lrperf.predict(make(g["w"]), g["b"], g["X"])
    with pytest.raises(TypeError, match=rf"^X_test {pattern}"):
        lrperf.model(g["X"], g["Y"], make(g["X"]), g["Y"])
    with pytest.raises(TypeError, match=rf"^Y_train {pattern}"):
        lrperf.model(g["X"], make(g["Y"]), g["X"], g["Y"])


@pytest.mark.parametrize("arg", ["X", "Y", "w"])
def test_longdouble_is_refused_not_narrowed(arg):
    # float64 arithmetic would drop its extra range: 1e400 became inf with a
    # RuntimeWarning from the cast.
    kwargs = good()
    kwargs[arg] = kwargs[arg].astype(np.longdouble)
    if arg == "X":
        kwargs["X"][0, 0] = np.longdouble("1e400")
    pattern = rf"^{arg} must be float64 or float32 .*got dtype float128.*{arg}\.astype\(np\.float64\)"
    if np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(TypeError, match=pattern):
        lrperf.propagate(**kwargs)
    if arg != "Y":
        kwargs.pop("Y")
        with pytest.raises(TypeError, match=pattern):
            lrperf.predict(**kwargs)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.uint8, np.bool_])
def test_narrow_dtypes_are_converted_exactly(dtype):
    g = good()
    X = (g["X"] > 0).astype(dtype)
    got, cost = lrperf.propagate(g["w"], g["b"], X, g["Y"])
    ref, ref_cost = lrperf.propagate(g["w"], g["b"], X.astype(np.float64), g["Y"])
    assert got["dw"].tolist() == ref["dw"].tolist() and cost == ref_cost


# Which product overflowed, for finite X, w and b (w = 0: z is 0, only X dZ^T
# can overflow; the report blamed "w^T X + b" for it).
OVERFLOWS = [
    ("X dZ^T", np.zeros(2), np.full((2, 4), 1e308), np.zeros(4),
     r"^the gradient X dZ\^T overflowed at feature 0 .*values up to 1e\+308"),
    ("cost", np.array([1e8]), np.full((1, 4), 1e300), np.zeros(4),
     r"^the cost .*up to 1e\+308\) overflowed"),
    ("z", np.array([1e10]), np.array([[1e300, -1e300]]), np.array([0.0, 1.0]),
     r"^w\^T X \+ b overflowed at example 0"),
]


@pytest.mark.parametrize("what, w, X, Y, pattern", OVERFLOWS, ids=[o[0] for o in OVERFLOWS])
def test_overflow_names_the_product(strategy, what, w, X, Y, pattern):
    with pytest.raises(FloatingPointError, match=pattern):
        lrperf.propagate(w, 0.0, X, Y, strategy=strategy)
    with pytest.raises(FloatingPointError, match=pattern):
        lrperf.optimize(w, 0.0, X, Y, num_iterations=3, strategy=strategy)


def test_overflow_in_predict_names_z():
    with pytest.raises(FloatingPointError, match=r"^w\^T X \+ b overflowed at example 1"):
        lrperf.predict(np.array([1e10]), 0.0, np.array([[1.0, 1e300]]))


def _unaligned(A):
    """A copy of A whose data starts one byte past an aligned address."""
    buf = np.zeros(A.nbytes + 1, dtype=np.uint8)
    order = "F" if A.flags.f_contiguous and not A.flags.c_contiguous else "C"
    U = np.frombuffer(buf[1:].data, dtype=A.dtype, count=A.size).reshape(A.shape, order=order)
    U[...] = A
    assert not U.flags.aligned
    return U


# X in the other byte order or unaligned: python_loops' memoryview refused it
# (NotImplementedError) and Numba raised a TypingError, where numpy read it right.
FOREIGN = {
    "big-endian": lambda A: A.astype(A.dtype.newbyteorder(">" if np.little_endian else "<")),
    "unaligned": _unaligned,
}


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_byte_order_and_unaligned_X_are_read_by_every_strategy(strategy, kind, dtype, order):
    from reference import reference_step

    rng = np.random.default_rng(3)
    native = np.asarray(rng.normal(size=(5, 9)), dtype=dtype, order=order)
    w, b, Y = rng.normal(size=(5, 1)), 0.25, (np.arange(9) % 2).astype(float)
    X = FOREIGN[kind](native)
    assert X.dtype.isnative != (kind == "big-endian") and np.array_equal(X, native)
    X.flags.writeable = False
    ref_dw, ref_db, ref_cost = reference_step(w.ravel().tolist(), b, native.astype(np.float64).tolist(),
                                              Y.tolist())
    rtol = 1e-9 if dtype == np.float64 else 1e-5  # float32 sums (numpy) carry float32 rounding
    grads, cost = lrperf.propagate(w, b, X, Y, strategy=strategy)
    np.testing.assert_allclose(grads["dw"].ravel(), ref_dw, rtol=rtol, atol=rtol)
    assert grads["db"] == pytest.approx(ref_db, rel=rtol, abs=rtol)
    assert cost == pytest.approx(ref_cost, rel=rtol, abs=rtol)
    _, _, costs = lrperf.optimize(w, b, X, Y, num_iterations=2, strategy=strategy)
    assert costs[0] == pytest.approx(ref_cost, rel=rtol, abs=rtol)
    np.testing.assert_array_equal(X, native)  # read, never converted in place


def test_foreign_X_is_converted_once_per_call_before_the_step(strategy):
    # One native, aligned copy made by prepare: the step (run many times by
    # optimize) always gets that same array, whatever strategy.
    X = np.ones((3, 4), dtype=">f8" if np.little_endian else "<f8")
    _, _, _, Xp, _ = api._validated(np.ones(3), 0.0, X, np.ones(4), strategy)
    if isinstance(Xp, np.ndarray):  # jax_xla and the GPU strategies hold X on their device
        assert Xp.dtype.isnative and Xp.flags.aligned and Xp is not X

"""Every strategy against an independent 50-digit reference and against each other."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lrperf
from reference import reference_step

RTOL = 1e-9


def check_against_reference(strategy, w, b, X, Y):
    grads, cost = lrperf.propagate(w, b, X, Y, strategy=strategy)
    ref_dw, ref_db, ref_cost = reference_step(
        np.reshape(w, -1).tolist(), b, np.asarray(X, dtype=np.float64).tolist(),
        np.reshape(Y, -1).tolist())
    # Sums of terms of mixed sign lose relative accuracy near zero: scale atol
    # by the size of the terms summed.
    atol = 1e-12 * (1.0 + float(np.max(np.abs(X))))
    np.testing.assert_allclose(np.reshape(grads["dw"], -1), ref_dw, rtol=RTOL, atol=atol)
    assert math.isclose(grads["db"], ref_db, rel_tol=RTOL, abs_tol=1e-12)
    assert math.isclose(cost, ref_cost, rel_tol=RTOL, abs_tol=1e-12)
    assert grads["dw"].shape == np.shape(w)
    assert isinstance(grads["db"], float) and isinstance(cost, float)


@st.composite
def problems(draw):
    n_x = draw(st.integers(1, 8))
    m = draw(st.integers(1, 12))
    finite = dict(allow_nan=False, allow_infinity=False)
    X = draw(arrays(np.float64, (n_x, m), elements=st.floats(-5, 5, **finite)))
    w = draw(arrays(np.float64, (n_x, 1), elements=st.floats(-3, 3, **finite)))
    b = draw(st.floats(-3, 3, **finite))
    Y = draw(arrays(np.float64, (1, m), elements=st.sampled_from([0.0, 1.0])))
    order = draw(st.sampled_from(["C", "F"]))
    return w, b, np.asarray(X, order=order), Y


@settings(max_examples=40, deadline=None)
@given(problem=problems())
def test_random_problems_match_reference(strategy, problem):
    check_against_reference(strategy, *problem)


@settings(max_examples=25, deadline=None)
@given(problem=problems())
def test_strategies_agree_pairwise(problem):
    w, b, X, Y = problem
    results = {s: lrperf.propagate(w, b, X, Y, strategy=s) for s in lrperf.available()}
    names = list(results)
    for i, a in enumerate(names):
        for other in names[i + 1:]:
            (ga, ca), (gb, cb) = results[a], results[other]
            np.testing.assert_allclose(ga["dw"], gb["dw"], rtol=RTOL, atol=1e-12,
                                       err_msg=f"{a} vs {other}")
            assert math.isclose(ga["db"], gb["db"], rel_tol=RTOL, abs_tol=1e-12)
            assert math.isclose(ca, cb, rel_tol=RTOL, abs_tol=1e-12)


def _base(n_x=6, m=9, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_x, m))
    w = rng.normal(size=(n_x, 1))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    return w, 0.25, X, Y


LAYOUTS = {
    "C": lambda X: np.ascontiguousarray(X),
    "F": lambda X: np.asfortranarray(X),
    "strided": lambda X: np.repeat(np.repeat(X, 2, axis=0), 3, axis=1)[::2, ::3],
    "reversed": lambda X: np.ascontiguousarray(X[::-1, ::-1])[::-1, ::-1],
    "transposed-view": lambda X: np.ascontiguousarray(X.T).T,
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layouts(strategy, layout):
    w, b, X, Y = _base()
    Xl = LAYOUTS[layout](X)
    assert np.array_equal(Xl, X)
    check_against_reference(strategy, w, b, Xl, Y)


@pytest.mark.parametrize("n_x, m", [(1, 1), (1, 17), (17, 1), (3, 2)])
def test_degenerate_shapes(strategy, n_x, m):
    check_against_reference(strategy, *_base(n_x, m))


def test_float32_and_1d_inputs(strategy):
    w, b, X, Y = _base()
    X32 = X.astype(np.float32)
    # The reference sees exactly the float32 values, widened.
    check_against_reference(strategy, w.ravel(), b, X32, Y.ravel())


def test_integer_and_bool_labels(strategy):
    w, b, X, Y = _base()
    g1, c1 = lrperf.propagate(w, b, X, Y.astype(np.int8), strategy=strategy)
    g2, c2 = lrperf.propagate(w, b, X, Y.astype(bool), strategy=strategy)
    check_against_reference(strategy, w, b, X, Y)
    g3, c3 = lrperf.propagate(w, b, X, Y, strategy=strategy)
    assert c1 == c2 == c3 and g1["db"] == g2["db"] == g3["db"]


def test_extreme_z_no_warning(strategy):
    # pytest turns warnings into errors, so any RuntimeWarning fails here.
    w = np.ones((1, 1))
    X = np.array([[1e4, -1e4, 1e4, -1e4, 7e3, 0.0]])
    Y = np.array([[1, 0, 0, 1, 1, 0]])
    grads, cost = lrperf.propagate(w, 0.0, X, Y, strategy=strategy)
    assert np.isfinite(cost) and np.isfinite(grads["dw"]).all()
    check_against_reference(strategy, w, 0.0, X, Y)


def test_optimize_matches_reference_descent(strategy):
    w, b, X, Y = _base(4, 7)
    lr, steps = 0.3, 5
    params, grads, costs = lrperf.optimize(w, b, X, Y, steps, lr, strategy=strategy)
    rw, rb = w.ravel().tolist(), b
    for _ in range(steps):
        dw, db, cost = reference_step(rw, rb, X.tolist(), Y.ravel().tolist())
        rw = [wi - lr * di for wi, di in zip(rw, dw)]
        rb -= lr * db
    np.testing.assert_allclose(params["w"].ravel(), rw, rtol=1e-9, atol=1e-12)
    assert math.isclose(params["b"], rb, rel_tol=1e-9, abs_tol=1e-12)
    np.testing.assert_allclose(grads["dw"].ravel(), dw, rtol=1e-9, atol=1e-12)
    assert len(costs) == 1

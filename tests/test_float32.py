"""float32 X (issue 12): read natively where a strategy says so, errors within
bounds that follow from what each strategy accumulates in, inputs untouched."""
import math
import tracemalloc

import numpy as np
import pytest

import lrperf
from lrperf import accuracy, grid


def _problem(n_x=6, m=9, seed=3, layout="F"):
    return accuracy.problem(n_x, m, "float32", layout=layout, seed=seed)


def _reads_natively(strategy):
    return "float32" in lrperf.STRATEGIES[strategy].dtypes


def test_dtype_is_an_axis_of_the_grid():
    assert grid.DTYPES == ("float64", "float32")
    assert "dtype" in grid.AXES
    assert grid.nbytes(4096, 50000, "float32") * 2 == grid.nbytes(4096, 50000, "float64")


def test_registry_says_what_each_strategy_reads_and_sums_in():
    numpy = lrperf.STRATEGIES["numpy"]
    assert numpy.dtypes == ("float64", "float32")
    assert numpy.accumulation("float32") == "float32"
    assert numpy.accumulation("float64") == "float64"
    for name in ("python_loops", "example_loop", "numba"):
        s = lrperf.STRATEGIES[name]
        assert "float32" not in s.dtypes and s.accumulation("float32") == "float64"


@pytest.mark.parametrize("layout", ["C", "F"])
def test_numpy_keeps_float32_X_as_it_is(layout):
    w, b, X, Y = _problem(layout=layout)
    Xp, Yp = lrperf.STRATEGIES["numpy"].prepared(X, Y)
    assert Xp is X and Yp.dtype == np.float32
    dw, _, _ = lrperf.STRATEGIES["numpy"].step(w, b, Xp, Yp)
    assert dw.dtype == np.float32  # float32 arithmetic throughout, as NumPy does


@pytest.mark.parametrize("layout", ["C", "F"])
def test_numpy_on_float32_allocates_nothing_like_X(layout):
    # 20 MB of float32 X (the cat set's size): a float64 copy would be 40 MB.
    w, b, X, Y = _problem(2048, 2560, seed=4, layout=layout)
    lrperf.optimize(w, b, X, Y, num_iterations=1)
    tracemalloc.start()
    try:
        lrperf.optimize(w, b, X, Y, num_iterations=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 20


@pytest.mark.parametrize("name", ["python_loops", "example_loop", "numba"])
def test_float64_only_strategies_get_one_exact_float64_copy(name):
    w, b, X, Y = _problem()
    Xp, _ = lrperf.STRATEGIES[name].prepared(X, Y)
    assert Xp.dtype == np.float64 and np.array_equal(Xp, X)  # widening is exact
    got, cost = lrperf.propagate(w, b, X, Y, strategy=name)
    ref, ref_cost = lrperf.propagate(w, b, X.astype(np.float64), Y, strategy=name)
    assert got["dw"].tolist() == ref["dw"].tolist() and cost == ref_cost


def test_float32_overflow_says_float32():
    # w^T x = 1e20 * 1e20 overflows float32 (3.4e38), not float64.
    X = np.full((1, 4), 1e20, dtype=np.float32)
    with pytest.raises(FloatingPointError, match=r"X is float32: .*overflows above 3\.4e\+38"):
        lrperf.propagate(np.array([1e20]), 0.0, X, np.array([0.0, 1.0, 0.0, 1.0]),
                         strategy="numpy")
    grads, cost = lrperf.propagate(np.array([1e20]), 0.0, X.astype(np.float64),
                                   np.array([0.0, 1.0, 0.0, 1.0]), strategy="numpy")
    assert math.isfinite(cost)


# numba_fused: float32 X read as it is, sums in float64 -------------------------------

@pytest.fixture(params=["F", "C-tiles", "C-rows"])
def fused_layout(request, monkeypatch):
    """numba_fused's three kernels: columns (F), C-order tiles, C-order whole rows."""
    from lrperf import numba_fused
    from lrperf.numba_fused import Params
    if request.param != "F":
        monkeypatch.setattr(numba_fused, "FORCED", Params("tiles", 32, 64)
                            if request.param == "C-tiles" else Params("rows", 0, 0))
    return request.param[0]


def test_numba_fused_reads_float32_and_sums_in_float64():
    s = lrperf.STRATEGIES["numba_fused"]
    assert "float32" in s.dtypes and s.accumulation("float32") == "float64"
    w, b, X, Y = _problem()
    assert s.prepared(X, Y)[0] is X


@pytest.mark.parametrize("n_x,m", [(37, 53), (130, 7), (1, 19), (300, 400)])
def test_numba_fused_float32_matches_the_exact_step_to_float64_level(n_x, m, fused_layout):
    w, b, X, Y = _problem(n_x, m, layout=fused_layout)
    ref = accuracy.exact(w, b, X, Y)
    grads, cost = lrperf.propagate(w, b, X, Y, strategy="numba_fused")
    # The float64 bound, componentwise as for float64 X (tests/test_equivalence.py).
    np.testing.assert_allclose(grads["dw"], ref[0], rtol=1e-9, atol=1e-15)
    assert grads["db"] == pytest.approx(ref[1], rel=1e-9, abs=1e-15)
    assert cost == pytest.approx(ref[2], rel=1e-9)


def test_numba_fused_float32_copies_no_X(fused_layout):
    # 20 MB of float32 X; tracemalloc sees NumPy allocations (a copy or a
    # float64 widening of X), so the peak must stay far below one X.
    w, b, X, Y = _problem(2048, 2560, seed=4, layout=fused_layout)
    lrperf.propagate(w, b, X, Y, strategy="numba_fused")  # compile / load outside the trace
    lrperf.optimize(w, b, X, Y, num_iterations=1, strategy="numba_fused")  # its own kernels
    tracemalloc.start()
    try:
        lrperf.optimize(w, b, X, Y, num_iterations=2, strategy="numba_fused")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 20


# lrperf.accuracy and the accuracy benchmarks ------------------------------------------

def test_relative_error_is_normwise():
    assert accuracy.relative_error([1.0, 2.000002], [1.0, 2.0]) == pytest.approx(1e-6)
    assert accuracy.relative_error([1e-3, 2.0], [0.0, 2.0]) == pytest.approx(5e-4)
    assert accuracy.relative_error(0.5, 0.0) == 0.5  # exact 0: the absolute error


def test_tolerance_follows_the_accumulation():
    assert accuracy.tolerance("float64", 12288, 209) == 1e-9
    u = np.finfo(np.float32).eps / 2
    assert accuracy.tolerance(np.float32, 100, 400) == pytest.approx(8 * u * (10 + 20))
    with pytest.raises(ValueError, match="accumulation must be float64 or float32, got float16"):
        accuracy.tolerance("float16", 1, 1)


def test_errors_measure_the_strategy_against_the_exact_step(monkeypatch):
    from lrperf import registry
    monkeypatch.setattr(registry, "STRATEGIES", dict(registry.STRATEGIES))
    right = registry.STRATEGIES["numba"]

    def off_by_1e6(w, b, X, Y):
        dw, db, cost = right.step(w, b, X, Y)
        return dw * (1 + 1e-6), db, cost * (1 - 3e-7)

    registry.STRATEGIES["off"] = registry.Strategy(
        name="off", step=off_by_1e6, description="d", order=99)
    w, b, X, Y = _problem(20, 30)
    err_dw, err_cost = accuracy.errors("off", w, b, X, Y)
    assert err_dw == pytest.approx(1e-6, rel=1e-6)
    assert err_cost == pytest.approx(3e-7, rel=1e-6)


@pytest.mark.parametrize("layout", ["C", "F"])
def test_float64_step_in_blocks_matches_the_exact_step(layout):
    w, b, X, Y = _problem(50, 70, layout=layout)
    got = accuracy.float64_step(w, b, X, Y, block_bytes=8 * 50 * 16)  # 5 blocks of 16
    want = accuracy.exact(w, b, X, Y)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-9, atol=1e-15)
    assert got[1] == pytest.approx(want[1], rel=1e-9, abs=1e-15)
    assert got[2] == pytest.approx(want[2], rel=1e-9)


def test_accuracy_grid_stops_at_the_cat_size():
    g = grid.accuracy_grid(grid.GRIDS["full"])
    assert g.n_x == grid.GRIDS["full"].n_x and max(g.m) == grid.CAT_SHAPE[1]


def test_accuracy_benchmarks_follow_the_contract():
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path
    code = ("import json, benchmarks.accuracy as a\n"
            "names = [f'accuracy.Accuracy.{k}' for k in vars(a.Accuracy) if k.startswith('track_')]\n"
            "print(json.dumps([a.Accuracy.param_names, sorted(names), a.Accuracy.params]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         env=dict(os.environ, LRPERF_BENCH_GRID="tiny"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    names, benchmarks, params = json.loads(out.stdout)
    assert names == list(grid.ACCURACY_PARAMS)
    assert benchmarks == sorted([grid.BENCH_ERROR_DW, grid.BENCH_ERROR_COST])
    assert params[0] == list(lrperf.STRATEGIES) and params[3] == list(grid.DTYPES)


# Every strategy on float32 X -------------------------------------------------------------

@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("n_x,m", [(1, 19), (37, 53), (700, 300)])
def test_every_strategy_on_float32_is_within_its_accumulation_bound(strategy, n_x, m, layout):
    record = lrperf.STRATEGIES[strategy]
    if not record.available:
        pytest.skip(record.unavailable)
    w, b, X, Y = _problem(n_x, m, seed=n_x, layout=layout)
    ref = accuracy.exact(w, b, X, Y)
    tol = accuracy.tolerance(record.accumulation("float32"), n_x, m)
    grads, cost = lrperf.propagate(w, b, X, Y, strategy=strategy)
    assert accuracy.relative_error(grads["dw"], ref[0]) <= tol
    assert accuracy.relative_error(cost, ref[2]) <= tol
    # db sums m values of dz, each as exact as the cost's terms.
    assert abs(grads["db"] - ref[1]) <= tol * max(1.0, abs(ref[1]))
    assert grads["dw"].dtype == np.float64 and isinstance(cost, float)


def test_float32_inputs_are_never_modified(strategy):
    record = lrperf.STRATEGIES[strategy]
    if not record.available:
        pytest.skip(record.unavailable)
    w, b, X, Y = _problem(30, 40)
    w32, Y32 = w.astype(np.float32).reshape(-1, 1), Y.astype(np.float32).reshape(1, -1)
    X.setflags(write=False)  # a read-only X must be accepted, not written to
    before = [a.copy() for a in (w32, X, Y32)]
    lrperf.propagate(w32, b, X, Y32, strategy=strategy)
    lrperf.optimize(w32, b, X, Y32, num_iterations=3, strategy=strategy)
    lrperf.model(X, Y32, X, Y32, num_iterations=3, strategy=strategy)
    for old, new in zip(before, (w32, X, Y32)):
        assert new.dtype == old.dtype and np.array_equal(new, old)


def _accuracy(Y_pred, Y):
    return 100.0 * float(np.mean(Y_pred == Y))


# At most one example of either set may change class between float64 and
# float32 training: 0.48% of the 209 training images, 2% of the 50 test ones.
# Measured (2000 steps): none changes with numpy or numba_fused; numpy's costs
# differ from float64 training on the same values by 1.1e-7 relative (the
# float32 bound here is 6.0e-5), numba_fused's by 0.
CAT_MARGIN_EXAMPLES = 1


CAT_RUN = dict(num_iterations=2000, learning_rate=0.005)


@pytest.fixture(scope="module")
def cat_float64(cat_data):
    """float64 training on the float64 pixels and on the float32 pixels widened."""
    X_train32 = cat_data.X_train.astype(np.float32)
    X_test32 = cat_data.X_test.astype(np.float32)
    on_64 = lrperf.model(cat_data.X_train, cat_data.Y_train, cat_data.X_test, cat_data.Y_test,
                         strategy="numba_fused", **CAT_RUN)
    on_32 = lrperf.model(X_train32.astype(np.float64), cat_data.Y_train,
                         X_test32.astype(np.float64), cat_data.Y_test,
                         strategy="numba_fused", **CAT_RUN)
    return X_train32, X_test32, on_64, on_32


@pytest.mark.parametrize("strategy_name", ["numpy", "numba_fused"])
def test_cat_model_in_float32_learns_what_float64_does(cat_data, cat_float64, strategy_name):
    # The course's run: 2000 steps at 0.005 give 99.04% train, 70% test accuracy.
    X_train32, X_test32, d64, same = cat_float64
    d32 = lrperf.model(X_train32, cat_data.Y_train, X_test32, cat_data.Y_test,
                       strategy=strategy_name, **CAT_RUN)
    assert _accuracy(d64["Y_prediction_train"], cat_data.Y_train) == pytest.approx(99.04, abs=0.01)
    assert _accuracy(d64["Y_prediction_test"], cat_data.Y_test) == pytest.approx(70.0)
    for part in ("train", "test"):
        changed = int(np.sum(d32[f"Y_prediction_{part}"] != d64[f"Y_prediction_{part}"]))
        assert changed <= CAT_MARGIN_EXAMPLES, f"{changed} {part} predictions changed"
    # The costs: against float64 training on the same (float32) pixel values,
    # within the bound of the strategy's accumulation.
    n_x, m = X_train32.shape
    tol = accuracy.tolerance(lrperf.STRATEGIES[strategy_name].accumulation("float32"), n_x, m)
    assert len(d32["costs"]) == len(same["costs"]) == 20
    np.testing.assert_allclose(d32["costs"], same["costs"], rtol=tol)


def test_suite_checks_float32_points_against_their_declared_accumulation():
    # In a subprocess: a Point sets the process's Numba and BLAS threads.  Every
    # strategy passes on float32 X; numba_fused declares float64 sums, so a
    # numba_fused that summed in float32 (numpy's step) fails its point.
    import subprocess
    import sys
    from pathlib import Path
    code = ("import dataclasses, lrperf\n"
            "from benchmarks import common\n"
            "for s in lrperf.available():\n"
            "    if 'float32' not in lrperf.STRATEGIES[s].dtypes or lrperf.STRATEGIES[s].chunked:\n"
            "        continue\n"
            "    for layout in 'CF':\n"
            "        common.Point(s, 40, 300, layout, 'float32', 1, max_call_s=None)\n"
            "print('all passed')\n"
            "try:\n"
            "    common.Point('python_loops', 40, 300, 'C', 'float32', 1, max_call_s=None)\n"
            "except NotImplementedError as exc:\n"
            "    print('copy skipped:', exc)\n"
            "S = lrperf.STRATEGIES\n"
            "S['numba_fused'] = dataclasses.replace(S['numba_fused'], step=S['numpy'].step,\n"
            "                                       prepare=S['numpy'].prepare)\n"
            "try:\n"
            "    common.Point('numba_fused', 40, 300, 'F', 'float32', 1, max_call_s=None)\n"
            "except AssertionError as exc:\n"
            "    print('failed:', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "all passed" in out.stdout
    assert "copy skipped:" in out.stdout and "float64 copy" in out.stdout
    assert "failed:" in out.stdout and "numba_fused disagrees with numpy" in out.stdout

"""Tests specific to the fused kernel: layouts, tiling, threads, determinism, memory.

The reference is computed here from first principles with math.fsum (exactly
rounded sums), not with lrperf code.
"""
import math
import subprocess
import sys
import textwrap
import tracemalloc

import numba
import numpy as np
import pytest

import lrperf
from lrperf import numba_fused as fused_module
from lrperf.numba_fused import step as numba_fused
from lrperf.numba_fused import Params

MAX_THREADS = numba.config.NUMBA_NUM_THREADS


def reference_step(w, b, X, Y):
    """dw, db, cost of one step in float64 with exactly rounded sums."""
    n_x, m = X.shape
    rows = X.tolist()
    columns = [[rows[j][i] for j in range(n_x)] for i in range(m)]
    dz = []
    losses = []
    for i, x in enumerate(columns):
        z = math.fsum([wj * xj for wj, xj in zip(w.tolist(), x)]) + b
        a = 1.0 / (1.0 + math.exp(-z))  # |z| stays small in these tests
        y = float(Y[i])
        losses.append(-(y * math.log(a) + (1.0 - y) * math.log(1.0 - a)))
        dz.append(a - y)
    dw = [math.fsum([rows[j][i] * dz[i] for i in range(m)]) / m for j in range(n_x)]
    return np.array(dw), math.fsum(dz) / m, math.fsum(losses) / m


def problem(n_x, m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m))
    Y = (rng.random(m) < 0.5).astype(np.float64)
    w = rng.standard_normal(n_x) * (1.0 / math.sqrt(n_x))
    return w, 0.25, X, Y


@pytest.fixture
def threads():
    """Restore Numba's thread count after a test that changes it."""
    previous = numba.get_num_threads()
    yield
    numba.set_num_threads(previous)


def assert_matches(got, want):
    dw, db, cost = got
    np.testing.assert_allclose(dw, want[0], rtol=1e-9, atol=1e-15)
    assert db == pytest.approx(want[1], rel=1e-9, abs=1e-15)
    assert cost == pytest.approx(want[2], rel=1e-9)


def layouts(X, Y):
    """(name, X view, Y) with the same values as X in several memory layouts."""
    n_x, m = X.shape
    big = np.zeros((2 * n_x + 1, 3 * m + 2))
    big[1::2, 2::3] = X
    readonly = X.copy(order="F")  # a copy: asfortranarray may return X itself
    readonly.setflags(write=False)
    return [
        ("C", np.ascontiguousarray(X), Y),
        ("F", np.asfortranarray(X), Y),
        ("strided", big[1::2, 2::3], Y),
        ("strided-F", np.asfortranarray(big)[1::2, 2::3], Y),
        ("reversed", np.ascontiguousarray(X[:, ::-1])[:, ::-1], Y),
        ("read-only", readonly, Y),
    ]


# n_x not a multiple of 4 (kernels' 4-row tail), m not a multiple of 8 or of
# the thread count (chunk tails), m smaller than the thread chunk.
@pytest.fixture(params=["tiles", "rows"])
def c_kernel(request, monkeypatch):
    """Both C-order kernels: tiles (X beyond the cache) and whole rows (X in it)."""
    params = Params("tiles", 32, 64) if request.param == "tiles" else Params("rows", 0, 0)
    monkeypatch.setattr(fused_module, "FORCED", params)
    return request.param


@pytest.mark.parametrize("n_x,m", [(37, 53), (8, 1), (1, 19), (130, 7)])
def test_every_layout_matches_fsum_reference(n_x, m, c_kernel):
    w, b, X, Y = problem(n_x, m)
    want = reference_step(w, b, X, Y)
    for name, Xv, Yv in layouts(X, Y):
        assert_matches(numba_fused(w, b, Xv, Yv), want)


def test_c_order_tiles_with_partial_last_tile(monkeypatch):
    monkeypatch.setattr(fused_module, "FORCED", Params("tiles", 32, 64))
    # Several tiles per thread and a partial last one, at the default tile
    # width and at a width that is not a multiple of the cache-line padding.
    w, b, X, Y = problem(21, 203, seed=1)
    assert_matches(numba_fused(w, b, np.ascontiguousarray(X), Y), reference_step(w, b, X, Y))
    monkeypatch.setattr(fused_module, "FORCED", Params("tiles", 5, 64))
    assert_matches(numba_fused(w, b, np.ascontiguousarray(X), Y), reference_step(w, b, X, Y))


# F order in pairs (X in cache) and pipelined groups of 2 and 4 examples: m
# with every remainder of a group, one group or less per thread, and n_x of
# every SIMD tail.
@pytest.mark.parametrize("params", [Params("columns", 0, 0, 2), Params("groups", 0, 0, 2),
                                    Params("groups", 0, 0, 4)], ids=["pairs", "g2", "g4"])
@pytest.mark.parametrize("n_x,m", [(37, 53), (5, 1), (3, 2), (9, 3), (16, 7), (130, 9), (1, 19)])
def test_f_order_groups_match_fsum_reference(params, n_x, m, threads, monkeypatch):
    monkeypatch.setattr(fused_module, "FORCED", params)
    w, b, X, Y = problem(n_x, m, seed=n_x + m)
    want = reference_step(w, b, X, Y)
    for nthreads in sorted({1, min(2, MAX_THREADS)}):
        numba.set_num_threads(nthreads)
        for name, Xv, Yv in layouts(X, Y):
            if abs(Xv.strides[0]) <= abs(Xv.strides[1]):
                assert_matches(numba_fused(w, b, Xv, Yv), want)
        # float32 X is read as it is and summed in float64: float64-level agreement
        # with the reference on its values.
        X32 = np.asfortranarray(X, dtype=np.float32)
        assert_matches(numba_fused(w, b, X32, Y), reference_step(w, b, X32.astype(np.float64), Y))


@pytest.mark.parametrize("group", [2, 4])
def test_f_order_groups_are_bit_identical_run_to_run(group, threads, monkeypatch):
    monkeypatch.setattr(fused_module, "FORCED", Params("groups", 0, 0, group))
    w, b, X, Y = problem(300, 2001, seed=4)
    X = np.asfortranarray(X)
    numba.set_num_threads(min(2, MAX_THREADS))
    first = numba_fused(w, b, X, Y)
    again = numba_fused(w, b, X, Y)
    assert np.array_equal(again[0], first[0]) and again[1:] == first[1:]


@pytest.mark.parametrize("order", ["C", "F"])
def test_same_thread_count_is_bit_identical(order, threads, c_kernel):
    w, b, X, Y = problem(300, 2001, seed=2)
    X = np.asarray(X, order=order)
    numba.set_num_threads(min(2, MAX_THREADS))
    first = numba_fused(w, b, X, Y)
    for _ in range(3):
        again = numba_fused(w, b, X, Y)
        assert np.array_equal(again[0], first[0])
        assert again[1] == first[1] and again[2] == first[2]


@pytest.mark.skipif(MAX_THREADS < 2, reason="needs 2 Numba threads")
@pytest.mark.parametrize("order", ["C", "F"])
def test_one_and_two_threads_agree(order, threads, c_kernel):
    w, b, X, Y = problem(257, 3001, seed=3)
    X = np.asarray(X, order=order)
    numba.set_num_threads(1)
    one = numba_fused(w, b, X, Y)
    numba.set_num_threads(2)
    two = numba_fused(w, b, X, Y)
    np.testing.assert_allclose(two[0], one[0], rtol=1e-9, atol=1e-15)
    assert two[1] == pytest.approx(one[1], rel=1e-9, abs=1e-15)
    assert two[2] == pytest.approx(one[2], rel=1e-9)


@pytest.mark.parametrize("order", ["C", "F"])
def test_propagate_allocates_nothing_like_X(order, c_kernel):
    # tracemalloc sees NumPy's allocations (the API layer, any copy of X).
    w, b, X, Y = problem(512, 4000, seed=4)
    X = np.asarray(X, order=order)
    lrperf.propagate(w, b, X, Y, strategy="numba_fused")  # compile / load outside the trace
    tracemalloc.start()
    try:
        lrperf.propagate(w, b, X, Y, strategy="numba_fused")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 20


def test_kernel_peak_memory_stays_far_below_X():
    # Numba's own allocations bypass tracemalloc, so measure the process's
    # peak resident memory in a fresh interpreter around one call on a 256 MB X.
    script = textwrap.dedent("""
        import resource, numpy as np
        from lrperf.numba_fused import step as numba_fused
        n_x, m = 2048, 16384
        w = np.full(n_x, 1e-3); Y = (np.arange(m) % 2).astype(float)
        for order in "CF":  # compile or load both kernels first
            numba_fused(w, 0.0, np.ones((n_x, 9), order=order), Y[:9])
        out = []
        for order in "CF":
            X = np.ones((n_x, m), order=order)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            numba_fused(w, 0.0, X, Y)
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out.append((after - before) * 1024 / X.nbytes)
            del X
        print(*out)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    growth = [float(v) for v in run.stdout.split()]
    assert len(growth) == 2
    assert max(growth) < 0.05, f"peak RSS grew by {growth} of X.nbytes (C, F)"


def test_does_not_modify_inputs():
    w, b, X, Y = problem(40, 90, seed=5)
    copies = [a.copy() for a in (w, X, Y)]
    numba_fused(w, b, X, Y)
    numba_fused(w, b, np.asfortranarray(X), Y)
    for before, after in zip(copies, (w, X, Y)):
        assert np.array_equal(before, after)


def _bench_columns():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "scripts" / "bench_columns.py"
    spec = importlib.util.spec_from_file_location("bench_columns", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_columns_prints_one_row_per_shape_and_thread_count(capsys):
    assert _bench_columns().main(["--shapes", "64x500", "600x9", "--threads", "1",
                                  "--rounds", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| 64 x 500") or line.startswith("| 600 x 9")]
    assert len(rows) == 2
    # 512-byte columns are shorter than an eighth of any L1d: pairs, not pipelined.
    assert rows[0].split("|")[7].strip() == "pairs"


@pytest.mark.parametrize("shape", ["64", "0x5", "ax3"])
def test_bench_columns_refuses_a_bad_shape_in_one_line(shape, capsys):
    with pytest.raises(SystemExit) as exc:
        _bench_columns().main(["--shapes", shape])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --shapes: expected a shape N_XxM with both >= 1, e.g. 4096x50000, got {shape!r}" in err


# Gradient descent (Strategy.descend): C order fused across steps ---------------------------

DESCENTS = {"C": [Params("descent", 0, 0), Params("descent-plain", 0, 0), Params("rows", 0, 0)],
            "F": [Params("groups", 0, 0, 4), Params("groups", 0, 0, 2), Params("columns", 0, 0)]}


def descent_problem(n_x, m, order, seed=3):
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n_x, m)), order=order)
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    w = rng.standard_normal((n_x, 1)) * 0.1
    return w, 0.1, X, Y


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("nthreads", sorted({1, MAX_THREADS}))
@pytest.mark.parametrize("n_x,m", [(37, 501), (130, 64), (3, 9)])
def test_descent_matches_numpy_after_100_steps(order, index, nthreads, n_x, m, monkeypatch,
                                               threads):
    monkeypatch.setattr(fused_module, "FORCED", DESCENTS[order][index])
    numba.set_num_threads(nthreads)
    w, b, X, Y = descent_problem(n_x, m, order)
    want = lrperf.optimize(w, b, X, Y, 100, 0.05, strategy="numpy")
    got = lrperf.optimize(w, b, X, Y, 100, 0.05, strategy="numba_fused")
    np.testing.assert_allclose(got[0]["w"], want[0]["w"], rtol=1e-9, atol=1e-13)
    assert got[0]["b"] == pytest.approx(want[0]["b"], rel=1e-9, abs=1e-13)
    np.testing.assert_allclose(got[1]["dw"], want[1]["dw"], rtol=1e-9, atol=1e-13)
    assert got[1]["db"] == pytest.approx(want[1]["db"], rel=1e-9, abs=1e-13)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-9)
    assert len(got[2]) == 1 and got[0]["w"].shape == w.shape


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("index", [0, 1])
def test_descent_first_gradient_matches_the_exact_step(order, index, monkeypatch):
    # 0 iterations: the gradient at the initial (w, b), against exactly rounded sums.
    monkeypatch.setattr(fused_module, "FORCED", DESCENTS[order][index])
    w, b, X, Y = descent_problem(37, 203, order)
    params, grads, costs = lrperf.optimize(w, b, X, Y, 0, 0.05, strategy="numba_fused")
    want = reference_step(w.reshape(-1), b, np.ascontiguousarray(X), Y.reshape(-1))
    np.testing.assert_allclose(grads["dw"].reshape(-1), want[0], rtol=1e-9, atol=1e-15)
    assert grads["db"] == pytest.approx(want[1], rel=1e-9, abs=1e-15)
    assert costs == [] and params["b"] == b
    np.testing.assert_array_equal(params["w"], w)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("nthreads", sorted({1, MAX_THREADS}))
def test_descent_is_bit_identical_run_to_run(order, nthreads, threads):
    numba.set_num_threads(nthreads)
    w, b, X, Y = descent_problem(130, 777, order)
    runs = [lrperf.optimize(w, b, X, Y, 150, 0.05, strategy="numba_fused") for _ in range(3)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other[0]["w"], runs[0][0]["w"])
        assert other[0]["b"] == runs[0][0]["b"] and other[2] == runs[0][2]
        np.testing.assert_array_equal(other[1]["dw"], runs[0][1]["dw"])


def test_descent_keeps_the_callback_print_and_costs_semantics(capsys):
    w, b, X, Y = descent_problem(20, 90, "C")
    seen = {}
    for s in ("numpy", "numba_fused"):
        calls = []
        out = lrperf.optimize(w, b, X, Y, 201, 0.05, print_cost=True, strategy=s,
                              callback=lambda i, c: calls.append((i, c)))
        seen[s] = (calls, out[2], capsys.readouterr().out)
    (calls_np, costs_np, text_np), (calls_f, costs_f, text_f) = seen["numpy"], seen["numba_fused"]
    assert [i for i, _ in calls_f] == list(range(201)) == [i for i, _ in calls_np]
    np.testing.assert_allclose([c for _, c in calls_f], [c for _, c in calls_np], rtol=1e-9)
    assert len(costs_f) == 3 and text_f.count("Cost after iteration") == 3
    assert text_f.splitlines()[0].startswith("Cost after iteration 0:")


def test_descent_reports_non_finite_x_like_the_step():
    w, b, X, Y = descent_problem(20, 90, "C")
    X[3, 7] = np.nan
    with pytest.raises(ValueError, match=r"X\[3, 7\]"):
        lrperf.optimize(w, b, X, Y, 5, 0.05, strategy="numba_fused")


def test_descent_does_not_modify_inputs():
    w, b, X, Y = descent_problem(20, 90, "C")
    copies = [a.copy() for a in (w, X, Y)]
    lrperf.optimize(w, b, X, Y, 5, 0.05, strategy="numba_fused")
    for a, c in zip((w, X, Y), copies):
        np.testing.assert_array_equal(a, c)

"""The registry, the grid schema and the measurement toolkit (the project's house)."""
import dataclasses

import numba
import numpy as np
import pytest

import lrperf
from lrperf import grid, measure, registry
from lrperf.registry import Strategy


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry that a test may change."""
    monkeypatch.setattr(registry, "STRATEGIES", dict(registry.STRATEGIES))
    return registry.STRATEGIES


def _noop(w, b, X, Y):
    return np.zeros_like(w), 0.0, 0.0


def test_registration_refuses_a_duplicate(scratch_registry):
    with pytest.raises(ValueError, match="'numpy' is already registered"):
        registry.register(Strategy(name="numpy", step=_noop, description="again", order=1))


def test_registration_keeps_listing_order(scratch_registry):
    registry.register(Strategy(name="first", step=_noop, description="d", order=-1))
    assert list(scratch_registry)[0] == "first"


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        lrperf.get_strategy("fortran")
    for name in lrperf.STRATEGIES:
        assert repr(name) in str(info.value)
    with pytest.raises(TypeError, match="strategy must be a str"):
        lrperf.get_strategy(3)


def test_an_unavailable_strategy_is_listed_with_its_reason(scratch_registry):
    registry.register(Strategy(name="far_away", step=None, description="d", order=99,
                               unavailable="needs the far_away package"))
    assert "far_away" in scratch_registry and "far_away" not in registry.available()
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match="unavailable here: needs the far_away package"):
        lrperf.propagate(np.zeros(2), 0.0, X, np.array([0.0, 1.0, 1.0]), strategy="far_away")


def test_prepare_runs_once_per_call_and_feeds_the_step(scratch_registry):
    seen = {"prepare": 0, "steps": 0, "dtype": None}

    def prepare(X, Y):
        seen["prepare"] += 1
        return X * 2.0, Y

    def step(w, b, X, Y):
        seen["steps"] += 1
        seen["dtype"] = X.dtype
        return lrperf.STRATEGIES["numpy"].step(w, b, X, Y)

    registry.register(Strategy(name="doubled", step=step, description="d", order=99,
                               prepare=prepare))
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 5)), np.array([[0.0, 1.0, 1.0, 0.0, 1.0]])
    lrperf.optimize(np.zeros((3, 1)), 0.0, X, Y, num_iterations=7, strategy="doubled")
    assert seen == {"prepare": 1, "steps": 7, "dtype": np.float64}
    grads, _ = lrperf.propagate(np.zeros((3, 1)), 0.0, X, Y, strategy="doubled")
    ref, _ = lrperf.propagate(np.zeros((3, 1)), 0.0, 2.0 * X, Y, strategy="numpy")
    np.testing.assert_array_equal(grads["dw"], ref["dw"])


def test_default_prepare_copies_only_dtypes_not_read_natively():
    X32 = np.ones((2, 3), dtype=np.float32)
    Y = np.array([0.0, 1.0, 1.0])
    f64_only = Strategy(name="a", step=_noop, description="d", order=1)
    both = dataclasses.replace(f64_only, dtypes=("float64", "float32"))
    assert f64_only.prepared(X32, Y)[0].dtype == np.float64
    assert both.prepared(X32, Y)[0] is X32
    assert f64_only.accumulation("float32") == "float64"


def test_nbytes_follows_the_dtype():
    assert grid.nbytes(12288, 209) == 12288 * 209 * 8
    assert grid.nbytes(12288, 209, "float32") == 12288 * 209 * 4
    assert grid.nbytes(3, 4, np.float32) == 48


def test_grid_name_is_checked():
    assert grid.grid_name({}) == "full"
    assert grid.grid_name({grid.GRID_ENV: " Tiny "}) == "tiny"
    with pytest.raises(ValueError, match="LRPERF_BENCH_GRID must be one of .* got 'huge'"):
        grid.grid_name({grid.GRID_ENV: "huge"})


def test_threads_sets_numba_and_blas_together_and_restores():
    from threadpoolctl import threadpool_info
    before = numba.get_num_threads()
    with measure.threads(1):
        assert numba.get_num_threads() == 1
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and set(blas) == {1}
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be between 1 and"):
        with measure.threads(numba.config.NUMBA_NUM_THREADS + 1):
            pass


def test_interleaved_alternates_order_pauses_and_warms_up():
    now = [0.0]
    log = []

    def clock():
        return now[0]

    def make(name, cost):
        def fn():
            log.append(name)
            now[0] += cost
        return fn

    sleeps = []
    times = measure.interleaved({"a": make("a", 1.0), "b": make("b", 2.0)}, rounds=2,
                                per_round=2, gap=0.3, clock=clock, sleep=sleeps.append)
    assert times == {"a": [1.0] * 4, "b": [2.0] * 4}
    # warm-up a, b; round 0: a (wake + 2), b (wake + 2); round 1 reversed: b first.
    assert log == ["a", "b"] + ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3
    assert sleeps == [0.3] * 4

"""The strategy registry: typed records, registered explicitly, their traits."""
import importlib.util
import dataclasses

import numpy as np
import pytest

import lrperf
from lrperf import grid, registry
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


def test_traits_say_what_callers_used_to_ask_by_name():
    records = lrperf.STRATEGIES
    fixed = [n for n, s in records.items() if s.fixed_pool is not None]
    per_shape = [n for n, s in records.items() if s.compiles_per_shape]
    assert fixed == per_shape == ["jax_xla"]
    assert records["jax_xla"].fixed_pool() >= 1
    for name, s in records.items():
        assert s.peer is None or s.peer in records, name
    assert grid.REFERENCE in records and grid.REFERENCE in grid.BASELINES


def test_every_record_says_where_its_code_lives(scratch_registry):
    for name, s in lrperf.STRATEGIES.items():
        assert s.module.startswith("lrperf.") and importlib.util.find_spec(s.module), name
    assert lrperf.STRATEGIES["numpy"].module == "lrperf.strategies.vectorized"
    added = registry.register(Strategy(name="here", step=_noop, description="d", order=1))
    assert added.module == __name__ and scratch_registry["here"].module == __name__


def test_a_fixed_pool_skips_other_thread_counts_in_the_suite(monkeypatch):
    import sys
    from pathlib import Path
    repo = str(Path(__file__).resolve().parents[1])
    sys.path.insert(0, repo)
    try:
        from benchmarks import common
    finally:
        sys.path.remove(repo)
    record = dataclasses.replace(lrperf.STRATEGIES["numpy"], name="pooled",
                                 fixed_pool=lambda: 99)
    monkeypatch.setitem(lrperf.STRATEGIES, "pooled", record)
    with pytest.raises(NotImplementedError, match="pooled's thread pool spreads over this "
                                                  "process's 99 cores"):
        common.Point("pooled", 8, 8, "C", "float64", 1, max_call_s=10.0)

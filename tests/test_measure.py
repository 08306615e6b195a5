"""The measurement toolkit: equal threads, interleaved medians."""
import numba
import pytest

from lrperf import measure


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

"""The ceiling B(size, threads): ladder, levels, units and shares, with fake timings.

No test here compares measured times: the probes' timings come from a fake
clock, so every expected rate is exact arithmetic on chosen numbers.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from lrperf import ceiling, grid

REPO = Path(__file__).resolve().parents[1]
KB, MB = 1 << 10, 1 << 20
# Two made-up machines: a Skylake-SP-like one and a Zen 2-like one.
SKX = {"L1d": {"bytes": 32 * KB, "shared_by": 1}, "L2": {"bytes": 1 * MB, "shared_by": 1},
       "L3": {"bytes": 36608 * KB, "shared_by": 2}}
ZEN2 = {"L1d": {"bytes": 32 * KB, "shared_by": 2}, "L2": {"bytes": 512 * KB, "shared_by": 2},
        "L3": {"bytes": 16 * MB, "shared_by": 8}}


@pytest.mark.parametrize("caches", [SKX, ZEN2])
def test_ladder_spans_l1_to_four_times_the_last_level(caches):
    sizes = ceiling.ladder(caches)
    assert list(sizes) == sorted(set(sizes))
    assert all(s % 4096 == 0 for s in sizes)
    assert sizes[0] <= caches["L1d"]["bytes"] // 2
    assert sizes[-1] >= 4 * caches["L3"]["bytes"] - 4096
    # Every level is represented: a point inside each cache and one beyond the last.
    levels = {ceiling.level_of(s, 1, caches) for s in sizes}
    assert levels == {"L1", "L2", "L3", "DRAM"}


def test_ladder_follows_the_caches_not_constants():
    assert ceiling.ladder(SKX) != ceiling.ladder(ZEN2)
    assert max(ceiling.ladder(ZEN2)) == 64 * MB  # 4 x 16 MB
    assert ceiling.ladder(ZEN2)[:3] == (16 * KB, 64 * KB, 256 * KB)  # L1/2, midpoint, L2/2


def test_a_first_look_ladder_stops_at_the_first_size_holding_its_largest_x():
    # ZEN2: 16 KB (L1/2), 64 KB, 256 KB (L2/2), then the L3 levels up to 64 MB.
    assert ceiling.ladder_upto(214 * KB, ZEN2) == (16 * KB, 64 * KB, 256 * KB)
    assert ceiling.ladder_upto(256 * KB, ZEN2) == (16 * KB, 64 * KB, 256 * KB)
    assert ceiling.ladder_upto(1, ZEN2) == (16 * KB,)
    assert ceiling.ladder_upto(1 << 40, ZEN2) == ceiling.ladder(ZEN2)


def test_only_the_first_look_grids_cut_the_ladder():
    from lrperf import grid
    assert grid.GRIDS["full"].full_ladder
    assert not grid.GRIDS["tiny"].full_ladder and not grid.GRIDS["quick"].full_ladder
    assert grid.largest_x(grid.GRIDS["tiny"]) == 128 * 209 * 8


def test_ladder_without_cache_facts_still_has_two_points():
    sizes = ceiling.ladder({})
    assert len(sizes) >= 2 and sizes[-1] >= 4 * sizes[0]


@pytest.mark.parametrize("nbytes,threads,level", [
    (16 * KB, 1, "L1"), (48 * KB, 1, "L2"), (48 * KB, 2, "L1"),  # per-core caches: a share each
    (1 * MB, 1, "L2"), (2 * MB, 2, "L2"), (3 * MB, 2, "L3"),
    (30 * MB, 2, "L3"), (30 * MB, 1, "L3"), (40 * MB, 2, "DRAM"),  # shared L3: the whole set
])
def test_level_of_per_core_and_shared_caches(nbytes, threads, level):
    assert ceiling.level_of(nbytes, threads, SKX) == level


def test_rate_is_bytes_over_seconds_in_gb_per_s():
    assert ceiling.rate(3e9, 1.5) == 2.0
    assert ceiling.rate(1 << 20, 1e-3) == pytest.approx(1.048576)
    with pytest.raises(ValueError, match="seconds must be > 0"):
        ceiling.rate(1, 0.0)


def test_share_is_achieved_over_ceiling():
    # 1.6 GB in 40 ms = 40 GB/s; against a 50 GB/s ceiling: 80%.
    assert ceiling.share(1.6e9, 0.040, 50.0) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="ceiling_gbs"):
        ceiling.share(1.6e9, 0.040, 0.0)


POINTS = [{"nbytes": n, "threads": t, "gbs": g} for n, t, g in [
    (16 * KB, 1, 90.0), (512 * KB, 1, 60.0), (16 * MB, 1, 30.0), (128 * MB, 1, 12.0),
    (16 * KB, 2, 170.0), (512 * KB, 2, 110.0), (16 * MB, 2, 45.0), (128 * MB, 2, 20.0)]]


@pytest.mark.parametrize("nbytes,threads,want", [
    (16 * KB, 1, 90.0),      # on a ladder point
    (20 * MB, 1, 30.0),      # between points: the smaller size's (higher) rate
    (1 << 40, 2, 20.0),      # beyond the ladder: its last point
    (1 * KB, 2, 170.0),      # below the ladder: its first point
    (128 * MB, 2, 20.0),
])
def test_ceiling_at_uses_the_kernels_own_size_and_threads(nbytes, threads, want):
    assert ceiling.ceiling_at(POINTS, nbytes, threads) == want


def test_ceiling_at_never_mixes_thread_counts():
    with pytest.raises(ValueError, match="threads=4"):
        ceiling.ceiling_at(POINTS, 16 * KB, 4)


def test_share_against_the_size_dependent_ceiling():
    # A 20 MB step of 1 ms on 2 threads reads 20.97 GB/s; B(20 MB, 2) = 45 GB/s.
    got = ceiling.share(20 * MB, 1e-3, ceiling.ceiling_at(POINTS, 20 * MB, 2))
    assert got == pytest.approx(20 * MB / 1e-3 / 1e9 / 45.0)


def test_plateaus_name_levels_from_the_caches():
    got = ceiling.plateaus(POINTS, SKX)
    assert got[1] == {"L1": 90.0, "L2": 60.0, "L3": 30.0, "DRAM": 12.0}
    assert got[2] == {"L1": 170.0, "L2": 110.0, "L3": 45.0, "DRAM": 20.0}


class FakeClock:
    """perf_counter stand-in: each probe call advances it by that probe's cost."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def fake_probes(clock, seconds_per_call):
    def factory(name):
        def make(array, threads, passes):
            def call():
                clock.now += seconds_per_call[name]
            return call, array.nbytes * passes
        return make
    return {name: factory(name) for name in seconds_per_call}


def test_probe_read_takes_the_fastest_probe_and_counts_every_pass():
    clock = FakeClock()
    probes = fake_probes(clock, {"slow": 4e-3, "fast": 1e-3, "mid": 2e-3})
    got = ceiling.probe_read(64 * KB, 1, probes=probes, rounds=2, per_round=2,
                             clock=clock, sleep=lambda s: None)
    volume = 64 * KB * ceiling.passes_for(64 * KB)
    assert ceiling.passes_for(64 * KB) == ceiling.MIN_BYTES_PER_CALL // (64 * KB)
    assert got["probes"] == pytest.approx({"slow": volume / 4e-3 / 1e9,
                                           "fast": volume / 1e-3 / 1e9,
                                           "mid": volume / 2e-3 / 1e9})
    assert got["best_probe"] == "fast"
    assert got["gbs"] == got["probes"]["fast"]
    assert (got["nbytes"], got["threads"]) == (64 * KB, 1)
    assert got["level"] == ceiling.level_of(64 * KB, 1)


def test_each_probe_takes_its_best_repeat():
    clock = FakeClock()
    costs = iter([5e-3, 1e-3, 3e-3, 2e-3, 9e-3, 4e-3] * 10)

    def make(array, threads, passes):
        def call():
            clock.now += next(costs)
        return call, 1e6

    got = ceiling.probe_read(array=np.ones(1 << 16), threads=1, probes={"only": make},
                             rounds=2, per_round=2, clock=clock, sleep=lambda s: None)
    # interleaved: warm-up (5), then per round one untimed call and two timed.
    assert got["gbs"] == pytest.approx(1e6 / 2e-3 / 1e9)


def test_probe_read_refuses_bad_input():
    with pytest.raises(ValueError, match="nbytes"):
        ceiling.probe_read(4, 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        ceiling.probe_read(array=np.ones(8, dtype=np.int64))
    with pytest.raises(ValueError, match="contiguous"):
        ceiling.probe_read(array=np.ones((8, 8))[:, ::2])


@pytest.mark.parametrize("order", ["C", "F"])
def test_real_probes_read_the_arrays_own_memory(order):
    # The real probes on a tiny array: a positive finite rate, every probe ran.
    X = np.ones((64, 48), order=order)
    got = ceiling.probe_read(array=X, threads=1, rounds=1, per_round=1, gap=0)
    assert set(got["probes"]) == set(ceiling.PROBES)
    assert got["nbytes"] == X.nbytes
    assert all(np.isfinite(v) and v > 0 for v in got["probes"].values())


def test_sum_probe_reads_every_element_every_pass():
    flat = np.arange(1.0, 1001.0)
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        assert ceiling._sum_probe(flat, threads, 3) == 3 * 500500.0


def test_read_bandwidth_is_the_ceiling_of_the_array(monkeypatch):
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return {"gbs": 42.0}

    monkeypatch.setattr(ceiling, "probe_read", fake)
    X = np.ones((8, 8))
    assert ceiling.read_bandwidth(X, repeats=4, threads=1) == 42.0
    assert seen["array"] is X and seen["threads"] == 1 and seen["rounds"] == 4


def test_suite_benchmark_follows_the_grid_contract():
    code = ("import json, benchmarks.hardware as h; f = h.track_read_bandwidth; "
            "print(json.dumps([f.__name__, f.param_names, f.params, f.unit]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env=dict(os.environ, LRPERF_BENCH_GRID="tiny"), check=True)
    name, names, params, unit = json.loads(out.stdout)
    assert f"hardware.{name}" == grid.BENCH_READ_BANDWIDTH
    assert names == list(grid.READ_PARAMS)
    # The tiny grid is a first look: the ladder up to its largest X.
    assert params == [list(ceiling.ladder_upto(128 * 209 * 8)), grid.thread_counts()]
    assert unit == "GB/s"

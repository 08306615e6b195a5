"""The asv suite: it passes ``asv check`` and a quick tiny-grid run gives results that parse."""
import ast
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numba
import pytest

import lrperf
from lrperf import study

asv = pytest.importorskip("asv", reason="the bench extra (asv) is not installed")
from asv.results import Results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
from lrperf import grid  # noqa: E402
from lrperf.ceiling import ladder_upto  # noqa: E402
from lrperf.environment import TIME_BOUND_ENV  # noqa: E402
from lrperf.grid import AXES, DTYPES, nbytes  # noqa: E402
from lrperf.strategies.jax_xla import pool_cores as jax_pool_cores  # noqa: E402

GRID_PARAMS = list(AXES)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh HOME: no ~/.asv-machine.json, as on a new machine."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


def test_asv_check_passes(tmp_path, home):
    config = study.write_config(REPO, tmp_path / "results", tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "asv", "check", "--config", str(config), "--python=same"],
        cwd=REPO, env=dict(os.environ, LRPERF_BENCH_GRID="tiny"),
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No problems found" in out.stdout


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("asv")
    home = tmp / "home"
    home.mkdir()
    # The time bound off: which points the tests below see measured must not
    # depend on how fast, or how busy, the machine is.
    saved = {k: os.environ.get(k) for k in ("HOME", TIME_BOUND_ENV)}
    os.environ.update({"HOME": str(home), TIME_BOUND_ENV: "off"})
    log = tmp / "asv.log"
    try:
        with open(log, "w") as stream:
            # Every benchmark, not only the first look's: the tests below read
            # peak memory, the bandwidth track and the first call too.
            run = study.run_suite(REPO, tmp / "results", quick=True, grid="tiny",
                                  bench=".", stream=stream)
            results_dir = run.results_dir
    finally:
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
    assert (home / ".asv-machine.json").is_file(), "the machine file was not created"
    files = [p for p in results_dir.glob("*/*.json") if p.name != "machine.json"]
    assert len(files) == 1, (files, log.read_text()[-3000:])
    results = Results.load(str(files[0]))
    results.lrperf_path = files[0]
    results.lrperf_run = run
    return results, log.read_text()


def test_every_point_of_the_real_suite_is_counted_for_the_progress_bar(tiny_results):
    """Each point's process announces itself (benchmarks/common.py announce), so
    the bar moves per point, not per benchmark: all points asv ran are counted."""
    announced, total = tiny_results[0].lrperf_run.points
    assert total and total > 50, total
    assert announced == total


def _grid_values(results, name):
    """{param tuple: value} of a grid benchmark, params decoded from asv's reprs."""
    params = results.get_result_params(name)
    values = results.get_result_value(name, params)
    decoded = [[ast.literal_eval(v) for v in axis] for axis in params]
    return decoded, dict(zip(itertools.product(*decoded), values))


def test_results_are_named_by_the_python_version(tiny_results):
    # study predicts asv's own file name to rename it; a wrong guess would keep the path.
    results, _ = tiny_results
    assert results.env_name == study.portable_env_name()
    assert os.sep not in results.params["python"]


@pytest.mark.parametrize("name", ["step.Step.time_propagate", "step.Optimize.time_optimize",
                                  "step.Step.peakmem_propagate", "step.Step.track_bandwidth"])
def test_grid_benchmarks_cover_every_strategy(tiny_results, name):
    results, log = tiny_results
    axes, values = _grid_values(results, name)
    assert axes[0] == list(lrperf.STRATEGIES)
    assert len(axes[1]) == 2 and len(axes[2]) == 2  # the tiny grid: 2 x 2 sizes
    assert axes[3] == ["C", "F"]
    assert axes[4] == list(DTYPES)
    assert axes[5] == sorted({1, numba.config.NUMBA_NUM_THREADS})
    assert len(values) == math.prod(map(len, axes))
    # With the time bound off every point of an available strategy is
    # measured, whatever the machine's load, but jax_xla at other than the size of XLA's
    # fixed pool and dtypes a strategy reads only through a float64 copy; an
    # unavailable strategy's points skipped (NaN).
    pool = jax_pool_cores()
    available = set(lrperf.available())

    def expected_skip(k):
        return (k[0] not in available or (k[0] == "jax_xla" and k[5] != pool)
                or k[4] not in lrperf.STRATEGIES[k[0]].dtypes
                # a chunked strategy runs on a cluster: benchmarks/dask.py, not a point per process
                or lrperf.STRATEGIES[k[0]].chunked)

    bad = {k: v for k, v in values.items()
           if not (v is not None and (math.isnan(v) if expected_skip(k)
                                      else v > 0 and math.isfinite(v)))}
    assert not bad, (bad, log[-3000:])


def test_param_names_follow_the_contract():
    out = subprocess.run(
        [sys.executable, "-c",
         "import json, benchmarks.step as s; "
         "print(json.dumps([s.Step.param_names, s.Optimize.param_names]))"],
        cwd=REPO, env=dict(os.environ, LRPERF_BENCH_GRID="tiny"),
        capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [GRID_PARAMS, GRID_PARAMS]


def test_bandwidth_is_bytes_over_time(monkeypatch):
    """X's bytes over the median call time, in GB/s: checked with a fake clock.

    Comparing it with a separately measured time_propagate would compare two
    timings of a shared machine (it failed that way once in CI).
    """
    import types

    import numpy as np

    from lrperf import measure

    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks import step

    ticks = iter([0.0, 0.002, 1.0, 1.001, 2.0, 2.004, 3.0, 3.003, 4.0, 4.005])  # 2,1,4,3,5 ms
    real_timed = measure.timed
    monkeypatch.setattr(measure, "timed", lambda fn: real_timed(fn, clock=lambda: next(ticks)))
    calls = []
    X = np.empty((100, 30))
    bench = step.Step()
    bench.p = types.SimpleNamespace(X=X, w=None, Y=None, calls_for=lambda s, lo, hi: 5,
                                    propagate=lambda *args: calls.append(args))
    got = bench.track_bandwidth("numpy", 100, 30, "C", "float64", 1)
    assert len(calls) == 5
    assert got == pytest.approx(100 * 30 * 8 / 0.003 / 1e9)  # median 3 ms, 1e9 bytes/s
    assert step.Step.track_bandwidth.unit == "GB/s"


def test_machine_is_recorded(tiny_results):
    results, _ = tiny_results
    from lrperf.report.load import sidecar_path
    info = json.loads(sidecar_path(results.lrperf_path).read_text())
    assert info["tuning"]["mode"] in ("on", "off", "auto")
    assert info["cores"] == os.cpu_count()
    assert info["numpy"] == __import__("numpy").__version__
    assert info["numba"] == numba.__version__
    assert "cpu" in info and "blas" in info and "blas_threads" in info
    rb_params = results.get_result_params(grid.BENCH_READ_BANDWIDTH)
    rates = results.get_result_value(grid.BENCH_READ_BANDWIDTH, rb_params)
    decoded = [[ast.literal_eval(v) for v in axis] for axis in rb_params]
    # The suite's tiny grid is a first look: the ladder up to its largest X.
    assert decoded == [list(ladder_upto(grid.largest_x(grid.GRIDS["tiny"]))),
                       sorted({1, numba.config.NUMBA_NUM_THREADS})]
    assert len(rates) == len(decoded[0]) * len(decoded[1])
    assert all(r is not None and r > 0 and math.isfinite(r) for r in rates), rates


def test_first_call_is_recorded_cold_and_warm(tiny_results):
    results, log = tiny_results
    axes, values = _grid_values(results, "first_call.FirstCall.timeraw_first_call")
    assert axes == [list(lrperf.STRATEGIES), ["cold", "warm"]]
    available = set(lrperf.available())
    assert all(v is not None and (v > 0 if k[0] in available else math.isnan(v))
               for k, v in values.items()), (values, log[-3000:])


def test_slow_points_are_skipped():
    # In a subprocess: a Point sets the process's Numba and BLAS threads.
    code = ("from benchmarks import common\n"
            "try:\n"
            "    common.Point('python_loops', 64, 64, 'C', 'float64', 1, max_call_s=1e-9)\n"
            "except NotImplementedError as exc:\n"
            "    print('skipped:', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert "skipped:" in out.stdout and "over the bound of 1e-09 s" in out.stdout


# A machine so busy that every call seems to take 1000 s: with the bound on the
# point is skipped, with LRPERF_BENCH_TIME_BOUND=off it is measured all the same.
BUSY = ("from benchmarks import common, step\n"
        "common._timed_call = lambda *args: 1000.0\n"
        "for bench in (step.Step, step.Optimize):\n"
        "    try:\n"
        "        common.point('numba', 8, 8, 'C', 'float64', 1, bench.max_call_s)\n"
        "        print('measured', bench.__name__)\n"
        "    except NotImplementedError as exc:\n"
        "        print('skipped', bench.__name__, exc)\n")


@pytest.mark.parametrize("value, words", [("off", "measured Step\nmeasured Optimize\n"),
                                          (None, "skipped Step"), ("on", "skipped Step")])
def test_the_time_bound_can_be_put_out_of_the_way(value, words):
    env = {k: v for k, v in os.environ.items() if k != TIME_BOUND_ENV}
    if value is not None:
        env[TIME_BOUND_ENV] = value
    out = subprocess.run([sys.executable, "-c", BUSY], cwd=REPO, env=env, capture_output=True,
                         text=True, check=True)
    assert words in out.stdout, out.stdout


def test_a_bad_time_bound_value_is_refused():
    out = subprocess.run([sys.executable, "-c", "import benchmarks.common"], cwd=REPO,
                         env=dict(os.environ, **{TIME_BOUND_ENV: "sometimes"}),
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert f"{TIME_BOUND_ENV} must be 'on' or 'off'" in out.stderr and "'sometimes'" in out.stderr


def test_a_wrong_strategy_fails_its_point():
    # perfplot's rule: a strategy that computes the wrong thing is not timed.
    code = ("import lrperf\n"
            "from benchmarks import common\n"
            "import dataclasses\n"
            "right = lrperf.STRATEGIES['numba'].step\n"
            "def wrong(w, b, X, Y):\n"
            "    dw, db, cost = right(w, b, X, Y)\n"
            "    return dw * (1 + 1e-6), db, cost\n"
            "lrperf.STRATEGIES['numba'] = dataclasses.replace(lrperf.STRATEGIES['numba'], step=wrong)\n"
            "try:\n"
            "    common.Point('numba', 32, 40, 'F', 'float64', 1, max_call_s=None)\n"
            "except AssertionError as exc:\n"
            "    print('failed:', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert "failed:" in out.stdout and "numba disagrees with numpy" in out.stdout


def test_unknown_grid_is_refused():
    out = subprocess.run([sys.executable, "-c", "import benchmarks.common"], cwd=REPO,
                         env=dict(os.environ, LRPERF_BENCH_GRID="huge"),
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "LRPERF_BENCH_GRID must be one of" in out.stderr and "'huge'" in out.stderr


def test_study_refuses_unknown_grid(tmp_path):
    with pytest.raises(ValueError, match="grid must be one of"):
        study.run_suite(REPO, tmp_path, grid="huge")


def test_study_needs_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "__file__", str(tmp_path / "lrperf" / "study.py"))
    with pytest.raises(FileNotFoundError, match="asv.conf.json"):
        study.find_repo_root(tmp_path)


def test_what_xla_compiled_is_recorded_at_the_tiny_grid_largest_shape(tiny_results):
    # The tiny grid lacks the cat shape, so its largest shape is used.
    results, log = tiny_results
    tiny = grid.GRIDS["tiny"]
    assert grid.CAT_SHAPE[0] not in tiny.n_x
    shape = (max(tiny.n_x), max(tiny.m))
    available = "jax_xla" in lrperf.available()
    if available:
        from lrperf.strategies import jax_xla
        summaries = {lay: jax_xla.hlo_summary(*shape, transposed=lay == "F") for lay in "CF"}
    for name, count in ((grid.BENCH_XLA_DOTS, lambda s: s["dots"]),
                        (grid.BENCH_XLA_X_READS, lambda s: len(s["x_reads"])),
                        (grid.BENCH_XLA_DOT_FUSIONS,
                         lambda s: sum("dot" in f["ops"] for f in s["fusions"]))):
        axes, values = _grid_values(results, name)
        assert axes == [[shape[0]], [shape[1]], ["C", "F"]], name
        for (_, _, layout), value in values.items():
            if available:
                assert value == count(summaries[layout]), (name, layout, log[-3000:])
            else:
                assert value is not None and math.isnan(value), (name, value)


def test_a_process_slowness_counts_the_core_share_only_where_one_thread_does_the_work(
        monkeypatch):
    """A neighbour taking turns on the core leaves a 0.25 ms reference alone (it
    fits in a time slice) and halves a single-threaded step's share of the core:
    the slowness divides by that share.  A parallel strategy's calling thread
    waits for its pool, so its share says nothing and is not used."""
    import time

    from benchmarks import step
    now_wall, now_cpu = 100.0, 10.0
    monkeypatch.setattr(time, "perf_counter", lambda: now_wall)
    monkeypatch.setattr(time, "thread_time", lambda: now_cpu)
    monkeypatch.setattr(step, "_process", {"references": [2e-4, 3e-4, 9e-4], "sampled": True,
                                           "token": "t", "since": (99.0, 9.5)})
    serial = [s for s, r in lrperf.STRATEGIES.items() if not r.parallel and r.device == "cpu"]
    parallel = [s for s, r in lrperf.STRATEGIES.items() if r.parallel and r.device == "cpu"]
    assert serial and parallel
    for name in serial:   # 0.5 s of CPU in 1 s of wall time: half the core
        assert step._slowness(name) == pytest.approx(6e-4)
    for name in parallel:
        assert step._slowness(name) == pytest.approx(3e-4)
    step._process["since"] = (99.0, 8.0)   # more CPU than wall (clock steps): share 1
    assert step._slowness(serial[0]) == pytest.approx(3e-4)

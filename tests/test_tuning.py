"""numba_fused's planner and wisdom file: injected timings, temporary files, made-up CPUs.

No test compares measured times: the planner is given its timings; what runs
is checked against numpy or the 50-digit reference.
"""
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import lrperf
from lrperf import numba_fused
from lrperf.machine import cpu_facts
from lrperf.numba_fused import Choice, Params, planner, wisdom
from reference import reference_step

KB, MB = 1 << 10, 1 << 20
SKX = {"cpu": "Fake Skylake-SP", "arch": "x86_64", "simd": ["avx2", "avx512f"],
       "caches": {"L1d": {"bytes": 32 * KB, "shared_by": 1},
                  "L2": {"bytes": 1 * MB, "shared_by": 1},
                  "L3": {"bytes": 36608 * KB, "shared_by": 2}}}
TINY = {"cpu": "Fake tiny", "arch": "x86_64", "simd": [],
        "caches": {"L1d": {"bytes": 1 * KB, "shared_by": 1},
                   "L2": {"bytes": 4 * KB, "shared_by": 1},
                   "L3": {"bytes": 16 * KB, "shared_by": 2}}}


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    """Every test: its own wisdom file, LRPERF_TUNING unset (plan on first use), no state."""
    path = tmp_path / "cache" / "wisdom.json"
    monkeypatch.setenv(wisdom.PATH_ENV, str(path))
    monkeypatch.delenv(planner.MODE_ENV, raising=False)
    numba_fused.reset()
    yield path
    numba_fused.reset()


def fake_timer(seconds, log=None, other=2.0):
    """A timer that 'measures' ``seconds`` ({name: s}, ``other`` for any other) and records
    calls."""
    def timer(calls):
        if log is not None:
            log.append(sorted(calls))
        return {name: seconds.get(name, other) for name in calls}
    return timer


def problem(n_x, m, order="C", seed=0):
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n_x, m)), order=order)
    Y = (rng.random(m) < 0.5).astype(np.float64)
    w = rng.standard_normal(n_x) * (1.0 / np.sqrt(n_x))
    return w, 0.25, X, Y


def entry(variant, **fields):
    return {"variant": variant, "tile_l2": 1.0, "prefetch": 1.0, "group": 0, "n_x": 64,
            "times_s": {"x": 0.001}, "tuned_at": "2026-12-01T00:00:00+00:00", **fields}


# The planner --------------------------------------------------------------------------

def test_the_planner_keeps_the_fastest_candidate():
    seen = []
    got = planner.tune("step", "C", lambda p: seen.append(p), 1024, 8, facts=SKX,
                       timer=fake_timer({"rows": 3.0, "tiles 1 L2, prefetch x1": 1.0}))
    assert got["variant"] == "tiles" and got["tile_l2"] == 1.0
    assert got["default"] == "rows" and got["times_s"]["rows"] == 3.0
    assert got["plan_s"] >= 0 and "first_calls_s" in got
    assert len(seen) == len(got["times_s"])  # one untimed call each, outside the plan's cost


def test_the_default_stays_unless_beaten_by_the_margin():
    timer = fake_timer({"rows": 1.0, "tiles 0.5 L2, prefetch x1": 1.0 / (planner.MARGIN * 0.99)})
    assert planner.tune("step", "C", lambda p: None, 1024, 8, facts=SKX,
                        timer=timer)["variant"] == "rows"


def test_candidates_of_the_same_kernel_arguments_are_timed_once():
    log = []
    # n_x so large that every tile width gives the smallest tile: rows and one tile.
    planner.tune("step", "C", lambda p: None, 1 << 20, 8, facts=TINY, timer=fake_timer({}, log))
    assert len(log[0]) == 2


def test_f_order_rules_are_planned_candidates_too():
    log = []
    got = planner.tune("step", "F", lambda p: None, 4096, 8, facts=SKX,
                       timer=fake_timer({"columns": 0.1}, log))
    # groups of 4 is what the caches give at 4096 rows: timed once, under the default's name
    assert set(log[0]) == {"groups (from the L2)", "groups of 2", "columns"}
    assert got["variant"] == "columns"


def test_no_untuned_kernel_defaults():
    assert planner.default_choice("step", "C")[0] == Choice("rows")
    assert planner.default_choice("descent", "C")[0] == Choice("descent")
    assert planner.default_choice("step", "F")[0] == Choice("groups")
    # Without wisdom and with planning off, a C-order step runs the two passes.
    w, b, X, Y = problem(64, 300)
    os.environ[planner.MODE_ENV] = "off"
    try:
        numba_fused.step(w, b, X, Y)
        assert {r["variant"] for r in numba_fused.tuning_record()["choices"].values()} == {"rows"}
    finally:
        del os.environ[planner.MODE_ENV]


def test_keys_separate_n_x_and_m_classes():
    k = planner.key("descent", "C", 4096, 50000, 2, "float64")
    assert k == "descent/C/4096x32768/2/float64"
    assert planner.key("descent", "C", 12288, 50000, 2, "float64") != k  # another n_x class
    assert planner.key("descent", "C", 4096, 209, 2, "float64") != k      # another m class
    assert planner.key("descent", "C", 5000, 40000, 2, "float64") == k    # same classes
    assert planner.key("step", "C", 4096, 50000, 2, "float64") != k


def test_optimize_plans_a_new_key_once_and_keeps_it(monkeypatch, fresh):
    log = []
    monkeypatch.setattr(planner, "median_times", fake_timer({"descent-plain": 0.1}, log))
    w, b, X, Y = problem(40, 300)
    first = lrperf.optimize(w, b, X, Y, 5, 0.1, strategy="numba_fused")
    second = lrperf.optimize(w, b, X, Y, 5, 0.1, strategy="numba_fused")
    assert len(log) == 1  # planned on first use only
    k = planner.key("descent", "C", 40, 300, lrperf.numba_fused.nb.get_num_threads(), "float64")
    saved = numba_fused.load_wisdom()
    assert saved[k]["variant"] == "descent-plain"
    assert numba_fused.tuning_record()["plan_s"] >= 0
    np.testing.assert_array_equal(first[0]["w"], second[0]["w"])
    numba_fused.reset()  # a new process reads the plan from the file
    lrperf.optimize(w, b, X, Y, 5, 0.1, strategy="numba_fused")
    assert len(log) == 1
    rec = next(r for r in numba_fused.tuning_record()["choices"].values() if r["key"] == k)
    assert rec["source"] == "wisdom" and rec["variant"] == "descent-plain"


def test_propagate_does_not_plan_unless_auto(monkeypatch):
    log = []
    monkeypatch.setattr(planner, "median_times", fake_timer({}, log))
    w, b, X, Y = problem(40, 300)
    lrperf.propagate(w, b, X, Y, strategy="numba_fused")
    assert log == []
    monkeypatch.setenv(planner.MODE_ENV, "auto")
    numba_fused.reset()
    lrperf.propagate(w, b, X, Y, strategy="numba_fused")
    assert len(log) == 1


def test_off_times_nothing(monkeypatch):
    log = []
    monkeypatch.setattr(planner, "median_times", fake_timer({}, log))
    monkeypatch.setenv(planner.MODE_ENV, "off")
    w, b, X, Y = problem(40, 300)
    lrperf.optimize(w, b, X, Y, 3, 0.1, strategy="numba_fused")
    assert log == [] and numba_fused.plan_points([(40, 300, "C", "float64", 1)])["planned"] == []


def test_plan_points_plans_each_key_once_and_reports_its_cost(monkeypatch):
    log = []
    monkeypatch.setattr(planner, "median_times", fake_timer({}, log))
    points = [(40, 300, "C", "float64", 1), (41, 301, "C", "float64", 1),
              (40, 300, "F", "float32", 1)]
    got = numba_fused.plan_points(points)
    assert len(got["planned"]) == 4 and len(log) == 4  # step and descent, two distinct keys each
    assert got["plan_s"] >= 0 and got["mode"] == "on"
    again = numba_fused.plan_points(points)
    assert again["planned"] == [] and again["known"] == 6 and len(log) == 4
    described = numba_fused.plan()
    assert set(described["keys"]) == set(got["planned"])


def test_the_study_records_the_plan_beside_each_result_file():
    from lrperf import study

    got = study.describe_machine()
    assert got["tuning"]["mode"] == "on" and got["tuning"]["keys"] == {}  # empty wisdom
    assert got["tuning"]["defaults"]["step/C"]["choice"] == "rows"


def test_describe_says_what_runs():
    assert numba_fused.describe(Params("tiles", 64, 8)) == \
        "tiles of 64 examples, prefetch 8 rows ahead"
    assert numba_fused.describe(entry("groups", group=4)) == "groups of 4"
    assert numba_fused.describe({"variant": 3}) == "invalid entry"


def test_bad_mode_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(planner.MODE_ENV, "sometimes")
    with pytest.raises(ValueError, match="LRPERF_TUNING must be one of"):
        planner.mode()


# Every choice computes the same step ----------------------------------------------------

def exact(w, b, X, Y):
    return reference_step(w.tolist(), b, X.tolist(), Y.tolist())


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("facts", [SKX, TINY], ids=["skx", "tiny"])
def test_every_candidate_matches_the_reference(layout, facts):
    w, b, X, Y = problem(37, 203, order=layout)
    dw, db, cost = exact(w, b, X, Y)
    for choice in planner.candidates("step", layout):
        got = numba_fused.run_params(w, b, X, Y, planner.resolve(choice, 37, 8, facts))
        np.testing.assert_allclose(got[0], dw, rtol=1e-9, atol=1e-15)
        assert got[1] == pytest.approx(db, rel=1e-9, abs=1e-15)
        assert got[2] == pytest.approx(cost, rel=1e-9)


# Hardening: the wisdom file and its entries ------------------------------------------------

def test_a_fifo_as_wisdom_is_not_read_and_never_blocks(tmp_path):
    fifo = tmp_path / "wisdom.fifo"
    os.mkfifo(fifo)
    code = textwrap.dedent("""
        import warnings, lrperf
        from lrperf import numba_fused
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert numba_fused.load_wisdom() == {}
        assert any("not a regular file" in str(w.message) for w in caught), caught
        try:
            numba_fused.save_wisdom({"step/C/1x1/1/float64": {"variant": "rows"}})
        except OSError as exc:
            assert "not a regular file" in str(exc)
        else:
            raise SystemExit("wrote to a FIFO")
        print("ok")
    """)
    env = dict(os.environ, LRPERF_WISDOM=str(fifo))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)  # the old reader blocked forever on open
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_an_oversized_wisdom_file_is_ignored(fresh, monkeypatch):
    numba_fused.save_wisdom({"step/C/64x256/1/float64": entry("rows")})
    monkeypatch.setattr(wisdom, "MAX_BYTES", 100)
    with pytest.warns(wisdom.TuningWarning, match="more than the 100"):
        assert numba_fused.load_wisdom() == {}


@pytest.mark.parametrize("text", ['{"format": 1}', "my notes, not JSON\n",
                                  '{"lrperf": "other", "machines": {}}'])
def test_a_file_that_is_not_wisdom_is_never_overwritten(fresh, text):
    fresh.parent.mkdir(parents=True)
    fresh.write_text(text)
    with pytest.raises(OSError, match="not an lrperf wisdom file"):
        numba_fused.save_wisdom({"step/C/64x256/1/float64": entry("rows")})
    assert fresh.read_text() == text


def test_a_device_is_never_written(monkeypatch):
    monkeypatch.setenv(wisdom.PATH_ENV, os.devnull)
    with pytest.raises(OSError, match="not a regular file"):
        numba_fused.save_wisdom({"step/C/64x256/1/float64": entry("rows")})


def test_plan_on_first_use_survives_a_refused_file(fresh, monkeypatch):
    fresh.parent.mkdir(parents=True)
    fresh.write_text("someone else's file\n")
    monkeypatch.setattr(planner, "median_times", fake_timer({}))
    w, b, X, Y = problem(40, 300)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lrperf.optimize(w, b, X, Y, 2, 0.1, strategy="numba_fused")
    assert any("could not save" in str(c.message) for c in caught)
    assert fresh.read_text() == "someone else's file\n"


BAD_ENTRIES = {
    "an F-order loop under a C key": ("step/C/64x256/1/float64", entry("groups", group=4)),
    "a C-order loop under an F key": ("step/F/64x256/1/float64", entry("tiles")),
    "a step loop under a descent key": ("descent/C/64x256/1/float64", entry("tiles")),
    "a list variant": ("step/C/64x256/1/float64", entry(["rows"])),
    "a string width": ("step/C/64x256/1/float64", entry("tiles", tile_l2="wide")),
    "a boolean width": ("step/C/64x256/1/float64", entry("tiles", tile_l2=True)),
    "a zero width": ("step/C/64x256/1/float64", entry("tiles", tile_l2=0.0)),
    "a NaN prefetch": ("step/C/64x256/1/float64", entry("tiles", prefetch=float("nan"))),
    "a string group": ("step/F/64x256/1/float64", entry("groups", group="4")),
    "a group of 3": ("step/F/64x256/1/float64", entry("groups", group=3)),
    "a list entry": ("step/C/64x256/1/float64", ["rows"]),
    "a malformed key": ("C/DRAM/1/float64", entry("rows")),
}


@pytest.mark.parametrize("name", list(BAD_ENTRIES))
def test_a_bad_entry_is_ignored_with_a_warning_and_the_step_runs(fresh, name):
    k, bad = BAD_ENTRIES[name]
    good = "descent/F/64x256/1/float64"
    numba_fused.save_wisdom({k: bad, good: entry("columns")})
    with pytest.warns(wisdom.TuningWarning, match="ignoring the wisdom entry"):
        loaded = numba_fused.load_wisdom()
    assert k not in loaded and good in loaded
    layout = "F" if "/F/" in k else "C"
    w, b, X, Y = problem(64, 256, order=layout)
    numba_fused.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wisdom.TuningWarning)
        got = lrperf.propagate(w, b, X, Y, strategy="numba_fused")
    want = lrperf.propagate(w, b, X, Y, strategy="numpy")
    np.testing.assert_allclose(got[0]["dw"], want[0]["dw"], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("data", [
    {"lrperf": "wisdom", "format": 2, "machines": {"MINE": "a string"}},
    {"lrperf": "wisdom", "format": 2, "machines": {"MINE": {"entries": ["rows"]}}},
    {"lrperf": "wisdom", "format": 2, "machines": []},
    [1, 2, 3],
])
def test_wrong_typed_structure_never_crashes_a_step(fresh, data):
    text = json.dumps(data).replace("MINE", numba_fused.machine_id())
    fresh.parent.mkdir(parents=True)
    fresh.write_text(text)
    w, b, X, Y = problem(64, 256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wisdom.TuningWarning)
        assert numba_fused.load_wisdom() == {}
        got = lrperf.propagate(w, b, X, Y, strategy="numba_fused")
    assert np.isfinite(got[1])


@pytest.mark.parametrize("bad", [dict(variant="tiles", tile=0, ahead=4),
                                 dict(variant="groups", tile=0, ahead=0, group=0),
                                 dict(variant="tiles", tile=-3, ahead=0),
                                 dict(variant="tiles", tile=2.5, ahead=0),
                                 dict(variant="spiral", tile=8, ahead=0)])
def test_a_plan_whose_loop_would_not_advance_is_refused_where_it_is_made(bad):
    with pytest.raises(ValueError, match="Params"):
        Params(**bad)


def test_resolve_always_gives_a_tile_of_at_least_one():
    for n_x in (1, 7, 1 << 30):
        for tile_l2 in (1e-3, 1.0, 1e3):
            p = planner.resolve(Choice("tiles", tile_l2), n_x, 8, TINY)
            assert p.tile >= 1


def _save_many(path, start, count):
    os.environ[wisdom.PATH_ENV] = path
    for i in range(start, start + count):
        wisdom.save_entries({f"step/C/{i}x1/1/float64": entry("rows")})


def test_two_processes_saving_at_once_lose_no_entry(fresh):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_save_many, args=(str(fresh), k * 100, 60)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    saved = wisdom.load_entries(fresh)
    assert len(saved) == 120


def test_a_different_cpu_does_not_reuse_wisdom(fresh):
    numba_fused.save_wisdom({"step/C/64x256/1/float64": entry("rows")}, facts=SKX)
    assert numba_fused.load_wisdom() == {}
    assert numba_fused.load_wisdom(facts=SKX)


def test_two_cpus_of_one_name_do_not_share_wisdom():
    emr = dict(SKX, cpu_id="GenuineIntel family 6 model 207 stepping 2")
    spr = dict(SKX, cpu_id="GenuineIntel family 6 model 143 stepping 8")
    assert numba_fused.machine_id(emr) != numba_fused.machine_id(spr)


def test_cpu_facts_name_family_model_and_stepping(monkeypatch):
    import cpuinfo

    from lrperf import machine
    monkeypatch.setattr(machine, "proc_cpuinfo", lambda: {})  # not Linux: py-cpuinfo
    monkeypatch.setattr(cpuinfo, "get_cpu_info", lambda: {
        "brand_raw": "Intel(R) Xeon(R) Processor", "vendor_id_raw": "GenuineIntel",
        "family": 6, "model": 207, "stepping": 2, "flags": ["avx2", "avx512f"]})
    facts = cpu_facts.__wrapped__()
    assert facts["cpu_id"] == "GenuineIntel family 6 model 207 stepping 2"


# lrperf tune ------------------------------------------------------------------------------

def test_tune_command_plans_the_shapes_and_shows_them(fresh, capsys, monkeypatch):
    from lrperf.cli import main

    monkeypatch.setenv("COLUMNS", "200")  # rich would shorten the keys to the terminal
    assert main(["tune", "--shapes", "8x40", "--threads", "1"]) == 0
    saved = numba_fused.load_wisdom()
    assert set(saved) == {f"{kind}/{lay}/8x32/1/float64" for kind in ("step", "descent")
                          for lay in "CF"}
    capsys.readouterr()
    assert main(["tune", "--show"]) == 0
    assert "step/C/8x32/1/float64" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:  # argparse's own usage error
        main(["tune", "--shapes", "0x4"])
    assert stop.value.code == 2 and "N_XxM" in capsys.readouterr().err


def test_the_cpu_is_read_from_proc_cpuinfo_as_py_cpuinfo_names_it():
    from lrperf.machine import proc_cpuinfo
    intel = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
             "model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\nstepping\t: 4\n"
             "cpu MHz\t\t: 2394.374\nflags\t\t: fpu avx2 fma avx512f\n\n"
             "processor\t: 1\nmodel name\t: another\n")
    got = proc_cpuinfo(intel)
    assert got["brand_raw"] == "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"
    assert (got["vendor_id_raw"], got["family"], got["model"], got["stepping"]) == (
        "GenuineIntel", 6, 85, 4)
    assert got["flags"] == ["avx2", "avx512f", "fma", "fpu"]
    assert got["hz_advertised"] == (2_400_000_000, 0)
    # No clock in the name (a VM's "AMD EPYC"): the kernel's MHz, as py-cpuinfo does.
    amd = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel name\t: AMD EPYC\ncpu MHz\t: 2596.132\n"
    assert proc_cpuinfo(amd)["hz_advertised"] == (2_596_132_000, 0)
    assert "model" not in proc_cpuinfo(amd)
    assert proc_cpuinfo("") == {} and proc_cpuinfo("garbage\n\x00") == {}

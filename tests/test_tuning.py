"""The autotuner and its wisdom: fake timers, temporary wisdom files, made-up CPUs.

Timings come from a fake clock (no test compares measured times); results of
every tunable choice are checked against the 50-digit reference.
"""
import json

import numba
import numpy as np
import pytest

from lrperf import tuning
from lrperf.machine import cpu_facts
from lrperf.strategies import numba_fused
from reference import reference_step

KB, MB = 1 << 10, 1 << 20
SKX = {"cpu": "Fake Skylake-SP", "arch": "x86_64", "simd": ["avx2", "avx512f"],
       "caches": {"L1d": {"bytes": 32 * KB, "shared_by": 1},
                  "L2": {"bytes": 1 * MB, "shared_by": 1},
                  "L3": {"bytes": 36608 * KB, "shared_by": 2}}}
ZEN2 = {"cpu": "Fake EPYC Zen 2", "arch": "x86_64", "simd": ["avx2"],
        "caches": {"L1d": {"bytes": 32 * KB, "shared_by": 2},
                   "L2": {"bytes": 512 * KB, "shared_by": 2},
                   "L3": {"bytes": 16 * MB, "shared_by": 8}}}


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    """Every test: its own wisdom file, tuning mode unset, no state from other tests."""
    monkeypatch.setenv(tuning.PATH_ENV, str(tmp_path / "cache" / "wisdom.json"))
    monkeypatch.delenv(tuning.MODE_ENV, raising=False)
    tuning.reset()
    yield tmp_path / "cache" / "wisdom.json"
    tuning.reset()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def fake_runner(clock, seconds_of):
    """run(Params) that 'takes' seconds_of(params) on the fake clock."""
    seen = []

    def run(params):
        seen.append(params)
        clock.now += seconds_of(params)
    return run, seen


def test_tuner_picks_the_fastest_candidate():
    clock = FakeClock()
    # 1024 rows of doubles: an L2 of 1 MB holds 128 examples.  Tiles of 64
    # examples (half an L2) with half the default prefetch are fastest.
    width_cost = {32: 5.0, 64: 3.0, 128: 4.0, 256: 4.5, 512: 6.0, 1024: 7.0}
    ahead_cost = {32: 3.0, 0: 8.0, 16: 2.0, 64: 2.5}

    def cost(p):
        if p.variant == "rows":
            return 9.0
        return ahead_cost[p.ahead] if p.tile == 64 else width_cost[p.tile]

    run, seen = fake_runner(clock, cost)
    reported = []
    entry = tuning.tune("C", "DRAM", run, 1024, 8, facts=SKX, clock=clock,
                        sleep=lambda s: None, progress=lambda n, s: reported.append(n))
    assert (entry["variant"], entry["tile_l2"], entry["prefetch"]) == ("tiles", 0.5, 0.5)
    assert entry["times_s"]["rows"] == 9.0
    assert entry["times_s"]["tiles 0.5 L2, prefetch x0.5"] == 2.0
    # rows, 6 distinct widths (8 and 16 L2 are both capped at 1024), 3 prefetch distances
    assert len(entry["times_s"]) == 10
    assert len({(p.variant, p.tile, p.ahead) for p in seen}) == 10
    assert len(reported) == 1 + 6 + 4  # the best width is timed again beside its rivals


def test_tuner_keeps_rows_when_rows_win():
    clock = FakeClock()
    run, _ = fake_runner(clock, lambda p: 1.0 if p.variant == "rows" else 2.0)
    entry = tuning.tune("C", "L3", run, 4096, 8, facts=SKX, clock=clock, sleep=lambda s: None)
    assert entry["variant"] == "rows"
    # rows and 5 distinct widths (a quarter and half an L2 are below 4 cache lines
    # at 4096 rows: the same tile as one L2); no prefetch round for the two-pass loop
    assert len(entry["times_s"]) == 6


def test_default_stays_unless_beaten_by_the_margin():
    clock = FakeClock()
    # Tiles of 4 L2 are 3% faster than rows, the default for X held by L3: noise, not a win.
    run, _ = fake_runner(clock, lambda p: 0.97 if (p.variant, p.tile) == ("tiles", 128) else
                         1.0 if p.variant == "rows" else 2.0)
    entry = tuning.tune("C", "L3", run, 4096, 8, facts=SKX, clock=clock, sleep=lambda s: None)
    assert entry["variant"] == "rows"
    assert entry["times_s"]["tiles 4 L2, prefetch x1"] == pytest.approx(0.97)


def test_tune_command_saves_wisdom_and_refuses_bad_input(fresh, capsys):
    from lrperf import cli

    assert cli.main(["tune", "--threads", "1", "--size-class", "L2", "--rounds", "1"]) == 0
    assert "C/L2/1/float64" in tuning.load_wisdom()
    out = capsys.readouterr()
    assert "rows" in out.err and "C/L2/1/float64" in out.out  # each candidate, then the choice
    assert cli.main(["tune", "--show"]) == 0
    assert "C/L2/1/float64" in capsys.readouterr().out
    assert cli.main(["tune", "--rounds", "0"]) == 2
    assert "--rounds" in capsys.readouterr().err


def test_pick_fastest_uses_medians():
    clock = FakeClock()
    seq = {"a": iter([9, 1, 1, 1, 1, 1, 1, 1, 1, 1]), "b": iter([0.5, 2, 2, 2, 2, 2, 2, 2, 2, 2])}

    def make(name):
        def call():
            clock.now += next(seq[name])
        return call
    best, medians = tuning.pick_fastest({"a": make("a"), "b": make("b")}, rounds=2, per_round=2,
                                        clock=clock, sleep=lambda s: None)
    assert best == "a" and medians == {"a": 1, "b": 2}


def test_defaults_derive_from_the_caches():
    # 1024 rows of doubles: one L2 of Skylake-SP (1 MB) holds 128 examples, of Zen 2 64;
    # prefetched segments fill half the L1 (16 KB).
    assert tuning.resolve(tuning.Choice("tiles"), 1024, 8, SKX) == tuning.Params("tiles", 128, 16)
    assert tuning.resolve(tuning.Choice("tiles"), 1024, 8, ZEN2) == tuning.Params("tiles", 64, 32)
    # Row segments never shorter than 4 cache lines, tiles never wider than the cap.
    assert tuning.resolve(tuning.Choice("tiles", 0.25), 1 << 20, 8, SKX).tile == 32
    assert tuning.resolve(tuning.Choice("tiles", 0.25), 1 << 20, 4, SKX).tile == 64
    assert tuning.resolve(tuning.Choice("tiles"), 12288, 8, SKX) == tuning.Params("tiles", 32, 64)
    assert tuning.resolve(tuning.Choice("tiles", 4.0), 4, 8, SKX).tile == 1024
    assert tuning.resolve(tuning.Choice("tiles", 1.0, 0), 4096, 8, SKX).ahead == 0
    assert tuning.default_choice("C", "DRAM")[0].variant == "tiles"
    assert tuning.default_choice("C", "L3")[0].variant == "rows"
    assert tuning.default_choice("F", "DRAM")[0].variant == "groups"
    assert tuning.default_choice("F", "L3")[0].variant == "groups"
    assert tuning.default_choice("F", "L2")[0].variant == "groups"


def test_f_order_groups_fit_half_the_l2():
    # Two groups of columns, w and a float64 dw row in half of one core's L2:
    # 4 x 4096 doubles: (8 * 8 + 2 * 8) * 4096 = 320 KB, within 512 KB (SKX) but not 256 KB (Zen 2).
    columns = tuning.Choice("groups")
    assert tuning.resolve(columns, 4096, 8, SKX) == tuning.Params("groups", 0, 0, 4)
    assert tuning.resolve(columns, 4096, 8, ZEN2).group == 2
    assert tuning.resolve(columns, 4096, 4, ZEN2).group == 4    # float32: 192 KB
    assert tuning.resolve(columns, 12288, 8, SKX).group == 2    # 960 KB for groups of 4
    assert tuning.resolve(columns, 1 << 20, 8, SKX).group == 2  # nothing fits: the narrowest
    # Columns shorter than an eighth of the L1d (4 KB of SKX's 32 KB) are not pipelined.
    assert tuning.resolve(columns, 511, 8, SKX) == tuning.Params("columns", 0, 0, 2)
    assert tuning.resolve(columns, 512, 8, SKX).variant == "groups"
    assert tuning.resolve(columns, 1023, 4, SKX).variant == "columns"


def test_key_names_layout_size_class_threads_dtype():
    assert tuning.key("C", 40 * MB, 2, "float64", SKX) == "C/DRAM/2/float64"
    assert tuning.key("C", 20 * MB, 2, "float32", SKX) == "C/L3/2/float32"
    assert tuning.key("C", 20 * MB, 2, "float32", ZEN2) == "C/DRAM/2/float32"


def entry(variant="tiles", tile_l2=2.0, prefetch=0.5):
    return {"variant": variant, "tile_l2": tile_l2, "prefetch": prefetch,
            "times_s": {"x": 1.0}, "n_x": 4096, "tuned_at": "2026-11-22T00:00:00+00:00"}


def test_wisdom_round_trips(fresh):
    tuning.save_wisdom({"C/DRAM/2/float64": entry()}, facts=SKX)
    tuning.save_wisdom({"C/L3/1/float64": entry("rows")}, facts=SKX)  # merged, not replaced
    got = tuning.load_wisdom(facts=SKX)
    assert got == {"C/DRAM/2/float64": entry(), "C/L3/1/float64": entry("rows")}
    assert not list(fresh.parent.glob("*.tmp"))  # written atomically: no temp file left
    data = json.loads(fresh.read_text())
    assert data["machines"][tuning.machine_id(SKX)]["cpu"] == "Fake Skylake-SP"


def test_a_different_cpu_does_not_reuse_wisdom():
    tuning.save_wisdom({"C/DRAM/2/float64": entry()}, facts=SKX)
    assert tuning.load_wisdom(facts=ZEN2) == {}
    smaller_l2 = json.loads(json.dumps(SKX))
    smaller_l2["caches"]["L2"]["bytes"] = 512 * KB  # same model name, other caches
    assert tuning.machine_id(smaller_l2) != tuning.machine_id(SKX)
    assert tuning.load_wisdom(facts=smaller_l2) == {}


@pytest.mark.parametrize("text", ["{not json", "[]", '{"format": 99, "machines": {}}',
                                  '{"format": 1, "machines": []}'])
def test_corrupt_wisdom_is_ignored_with_a_warning_naming_it(fresh, text):
    fresh.parent.mkdir(parents=True)
    fresh.write_text(text)
    with pytest.warns(tuning.TuningWarning, match=str(fresh)):
        assert tuning.load_wisdom(facts=SKX) == {}


def test_invalid_entries_are_skipped():
    tuning.save_wisdom({"C/DRAM/2/float64": {"variant": "warp"},
                        "C/DRAM/1/float64": {"variant": "tiles", "tile_l2": float("nan")},
                        "C/L2/1/float64": {"variant": "tiles", "prefetch": -1},
                        "C/L3/2/float64": {"variant": "rows"}}, facts=SKX)
    assert list(tuning.load_wisdom(facts=SKX)) == ["C/L3/2/float64"]


def big_c_x():
    """A C-ordered X in the DRAM class of this machine, as a cheap broadcast view's shape."""
    llc = max(c["bytes"] for c in cpu_facts()["caches"].values()) if cpu_facts()["caches"] \
        else 8 * MB
    n_x = 512
    m = 4 * llc // (8 * n_x)
    return np.lib.stride_tricks.as_strided(np.zeros(1), shape=(n_x, m), strides=(0, 0))


def test_wisdom_is_used_and_off_gives_the_defaults(monkeypatch):
    threads = numba.get_num_threads()
    X = big_c_x()
    k = tuning.key("C", X.nbytes, threads, "float64")
    tuning.save_wisdom({k: entry("tiles", 0.5, 2.0)})
    got = tuning.params_for("C", X, threads)
    assert got == tuning.resolve(tuning.Choice("tiles", 0.5, 2.0), X.shape[0], 8)
    record = tuning.tuning_record()
    assert record["choices"][f"{k}/n_x={X.shape[0]}"]["source"] == "wisdom"
    assert record["mode"] == "on"

    monkeypatch.setenv(tuning.MODE_ENV, "off")
    tuning.reset()  # the mode is read once per process
    got = tuning.params_for("C", X, threads)
    want, _ = tuning.default_choice("C", "DRAM")
    assert got == tuning.resolve(want, X.shape[0], 8)
    record = tuning.tuning_record()
    assert record["mode"] == "off"
    assert record["choices"][f"{k}/n_x={X.shape[0]}"]["source"] == "default"
    assert "LRPERF_TUNING=off" in record["choices"][f"{k}/n_x={X.shape[0]}"]["why"]


def test_no_timing_on_a_normal_call_without_wisdom():
    X = big_c_x()
    calls = []
    got = tuning.params_for("C", X, 1, run=lambda p: calls.append(p))
    assert calls == []
    assert got == tuning.resolve(tuning.default_choice("C", "DRAM")[0], X.shape[0], 8)


def test_auto_tunes_a_new_key_once_and_saves_it(monkeypatch, fresh):
    monkeypatch.setenv(tuning.MODE_ENV, "auto")
    monkeypatch.setattr(tuning, "pick_fastest",
                        lambda calls, **kw: (next(iter(calls)),
                                             {n: 1.0 if i else 0.5 for i, n in enumerate(calls)}))
    X = big_c_x()
    calls = []
    got = tuning.params_for("C", X, 1, run=lambda p: calls.append(p))
    assert got.variant == "rows"  # the fake timer makes the first candidate fastest
    assert tuning.load_wisdom()[tuning.key("C", X.nbytes, 1, "float64")]["variant"] == "rows"
    tuning.reset()
    tuning.params_for("C", X, 1, run=lambda p: pytest.fail("tuned twice"))
    assert tuning.tuning_record()["choices"].popitem()[1]["source"] == "wisdom"


def test_auto_keeps_working_when_the_wisdom_cannot_be_saved(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(tuning.PATH_ENV, str(blocker / "wisdom.json"))  # under a file
    monkeypatch.setenv(tuning.MODE_ENV, "auto")
    monkeypatch.setattr(tuning, "pick_fastest",
                        lambda calls, **kw: (next(iter(calls)),
                                             {n: 1.0 if i else 0.5 for i, n in enumerate(calls)}))
    with pytest.warns(tuning.TuningWarning) as caught:
        got = tuning.params_for("C", big_c_x(), 1, run=lambda p: None)
    assert got.variant == "rows"
    assert any("could not save" in str(w.message) and str(blocker) in str(w.message)
               for w in caught)


def test_the_default_is_kept_under_its_own_name_when_widths_coincide():
    clock = FakeClock()
    # At 4096 rows a quarter, half and one L2 all give 32-example tiles: timed once,
    # filed as the default (1 L2), which wins here.
    run, seen = fake_runner(clock, lambda p: 1.0 if (p.variant, p.tile) == ("tiles", 32) else 2.0)
    entry = tuning.tune("C", "DRAM", run, 4096, 8, facts=SKX, clock=clock, sleep=lambda s: None)
    assert entry["default"] == "tiles 1 L2, prefetch x1"
    assert (entry["variant"], entry["tile_l2"]) == ("tiles", 1.0)
    assert "tiles 0.25 L2, prefetch x1" not in entry["times_s"]


def test_bad_mode_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(tuning.MODE_ENV, "sometimes")
    with pytest.raises(ValueError, match="LRPERF_TUNING.*'sometimes'"):
        tuning.mode()


def problem(n_x, m, seed=0):
    rng = np.random.default_rng(seed)
    X = np.ascontiguousarray(rng.standard_normal((n_x, m)))
    Y = (rng.random(m) < 0.5).astype(np.float64)
    w = rng.standard_normal(n_x) * (1.0 / np.sqrt(n_x))
    return w, 0.25, X, Y


def exact(w, b, X, Y):
    return reference_step(w.tolist(), b, X.tolist(), Y.tolist())


def assert_reference(got, want):
    dw, db, cost = want
    np.testing.assert_allclose(got[0], dw, rtol=1e-9, atol=1e-15)
    assert got[1] == pytest.approx(db, rel=1e-9, abs=1e-15)
    assert got[2] == pytest.approx(cost, rel=1e-9)


# Caches small enough that the candidates give several tiles per thread at 37 x 203.
TINY = {"cpu": "Fake tiny", "arch": "x86_64", "simd": [],
        "caches": {"L1d": {"bytes": 1 * KB, "shared_by": 1},
                   "L2": {"bytes": 4 * KB, "shared_by": 1},
                   "L3": {"bytes": 16 * KB, "shared_by": 2}}}


@pytest.mark.parametrize("facts", [SKX, ZEN2, TINY], ids=["skx", "zen2", "tiny"])
@pytest.mark.parametrize("cls", ["L3", "DRAM"])
def test_every_candidate_matches_the_reference(facts, cls):
    w, b, X, Y = problem(37, 203)
    want = exact(w, b, X, Y)
    choices = tuning.candidates("C", cls)
    choices += [c for t in choices if t.variant == "tiles" for c in tuning.prefetch_candidates(t)]
    for choice in choices:
        params = tuning.resolve(choice, X.shape[0], 8, facts)
        assert_reference(numba_fused.run_params(w, b, X, Y, params), want)


@pytest.mark.parametrize("tile,ahead", [(1, 0), (5, 1), (8, 64), (13, 1000), (64, 3)])
def test_odd_tiles_and_prefetch_distances_match_the_reference(tile, ahead):
    w, b, X, Y = problem(21, 203, seed=1)
    want = exact(w, b, X, Y)
    for nthreads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        got = numba_fused.run_params(w, b, X, Y, tuning.Params("tiles", tile, ahead), nthreads)
        assert_reference(got, want)


def test_plan_records_each_keys_choice_and_source(monkeypatch):
    tuning.save_wisdom({"C/DRAM/2/float64": entry("rows")})
    got = tuning.plan([1, 2])
    assert got["keys"]["C/DRAM/2/float64"] == {
        "choice": "rows", "source": "wisdom",
        "why": "fastest timed on this machine (2026-11-22T00:00:00+00:00)"}
    assert got["keys"]["C/DRAM/1/float64"]["source"] == "default"
    assert set(got["keys"]) == {f"C/{c}/{t}/float64" for c in ("L1", "L2", "L3", "DRAM")
                                for t in (1, 2)}
    assert got["machine_id"] == tuning.machine_id() and got["mode"] == "on"
    monkeypatch.setenv(tuning.MODE_ENV, "off")
    assert tuning.plan([2])["keys"]["C/DRAM/2/float64"]["source"] == "default"


def test_the_study_records_the_plan_beside_each_result_file():
    from lrperf import machine, study

    got = study.describe_machine()
    assert got["tuning"]["mode"] == "on"
    assert got["tuning"]["keys"] and all(
        v["source"] == "default" for v in got["tuning"]["keys"].values())  # empty wisdom
    assert got["cpu"] == machine.machine_info()["cpu"]


def test_cpu_facts_name_family_model_and_stepping(monkeypatch):
    import cpuinfo
    monkeypatch.setattr(cpuinfo, "get_cpu_info", lambda: {
        "brand_raw": "Intel(R) Xeon(R) Processor", "vendor_id_raw": "GenuineIntel",
        "family": 6, "model": 207, "stepping": 2, "flags": ["avx2", "avx512f"]})
    facts = cpu_facts.__wrapped__()  # not the cached facts of this machine
    assert facts["cpu"] == "Intel(R) Xeon(R) Processor"
    assert facts["cpu_id"] == "GenuineIntel family 6 model 207 stepping 2"


def test_two_cpus_of_one_name_do_not_share_wisdom():
    # A VM may name an Emerald Rapids and a Sapphire Rapids alike.
    emr = dict(SKX, cpu_id="GenuineIntel family 6 model 207 stepping 2")
    spr = dict(SKX, cpu_id="GenuineIntel family 6 model 143 stepping 8")
    assert tuning.machine_id(emr) != tuning.machine_id(spr)

"""The report's facets, its first screen and its winner map, on a results table made here.

Every expected value is worked out by hand in the comments from the numbers in the
table, never taken from the report's own analysis code.
"""
import ast
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lrperf import grid
from lrperf.report import analysis as an
from lrperf.report import answer, figures, writeup

REPORT = Path(an.__file__).parent
US = 1e-6


def _row(benchmark, value, lo=None, hi=None, repeat=10, status="ok", **axes):
    row = {"machine": "vm", "commit": "a" * 40, "date": pd.Timestamp("2026-12-01", tz="UTC"),
           "environment": "env", "benchmark": benchmark, "type": "time", "strategy": None,
           "n_x": None, "m": None, "layout": None, "dtype": None, "threads": None,
           "nbytes": None, "params": "{}", "value": value, "unit": "seconds",
           "ci_low": value if lo is None else lo, "ci_high": value if hi is None else hi,
           "q_25": value, "q_75": value, "repeat": repeat, "status": status,
           "renamed_from": None}
    row.update(axes)
    return row


def _step(strategy, n_x, m, t, lo, hi, threads=1, repeat=10, layout="F", dtype="float64"):
    return _row(grid.BENCH_STEP, t * US, lo * US, hi * US, repeat=repeat, strategy=strategy,
                n_x=n_x, m=m, layout=layout, dtype=dtype, threads=threads)


# Layout F, 1 thread.  At 16x13 numba wins clearly: numpy 10 [9.5, 10.5] us over
# numba 4 [3.9, 4.1] us = 2.5x, interval 9.5/4.1 = 2.317 to 10.5/3.9 = 2.692:
# significant.  At 128x209 numba_fused wins narrowly: 100 [90, 110] over
# 95 [80, 105] = 1.0526x, interval 90/105 = 0.857 to 110/80 = 1.375: not
# significant.  python_loops is 500x slower than numpy everywhere.
ROWS = [
    _step("numpy", 16, 13, 10, 9.5, 10.5), _step("numba", 16, 13, 4, 3.9, 4.1),
    _step("numba_fused", 16, 13, 5, 4.8, 5.2), _step("python_loops", 16, 13, 5000, 4900, 5100),
    _step("numpy", 128, 209, 100, 90, 110), _step("numba", 128, 209, 300, 290, 310),
    _step("numba_fused", 128, 209, 95, 80, 105),
    _step("python_loops", 128, 209, 50000, 49000, 51000),
]


def _frame(extra=()):
    return pd.DataFrame([*ROWS, *extra])


def _report(extra=(), description=None, durations=None):
    frame = _frame(extra)
    descriptions = {("vm", "a" * 40, "env"): description} if description else {}
    return an.analyse_machine("vm", frame, {}, descriptions,
                              {("vm", "a" * 40, "env"): durations} if durations else None)


def _cell(report, n_x, m):
    w = report.winners
    return w[(w["n_x"] == n_x) & (w["m"] == m)].iloc[0]


def test_winner_map_cells_hold_the_fastest_and_its_speedup_with_interval():
    report = _report()
    small, large = _cell(report, 16, 13), _cell(report, 128, 209)
    assert small["strategy"] == "numba"
    assert small["speedup"] == pytest.approx(2.5)
    assert small["lo"] == pytest.approx(9.5 / 4.1)
    assert small["hi"] == pytest.approx(10.5 / 3.9)
    assert small["significant"] == True and small["confirmed"]  # noqa: E712 (numpy's bool)
    assert large["strategy"] == "numba_fused"
    assert large["speedup"] == pytest.approx(100 / 95)
    assert large["lo"] == pytest.approx(90 / 105)
    assert large["significant"] == False  # noqa: E712


def test_first_screen_states_the_speedup_and_how_often_it_holds():
    report = _report()
    lines = answer.answer(report)
    # No caches known: runs of shapes with the same winner, in size order.  16x13 of
    # float64 is 1664 bytes (1.66 KB), 128x209 is 214016 (214 KB).
    assert lines[1] == ("- **layout F, 1 thread**: 1.66 KB: numba 2.5× (1/1 significant) | "
                        "214 KB: numba_fused 1.1× (0/1 significant)")
    assert len(lines) == 2
    plain = answer.answer(report, markdown=False)
    assert "**" not in "".join(plain) and "numba 2.5×" in plain[1]


def test_regimes_follow_the_cache_levels_where_the_caches_are_known():
    # L1d 2 KB holds 16x13 (1664 B); L2 1 MB holds 128x209 (214 KB) on one thread.
    caches = {"L1d": {"bytes": 2048, "shared_by": 1}, "L2": {"bytes": 1 << 20, "shared_by": 1},
              "L3": {"bytes": 32 << 20, "shared_by": 2}}
    report = _report(description={"caches": caches})
    assert [(r.level, r.strategy, r.cells) for r in report.regimes] == [
        ("L1", "numba", 1), ("L2", "numba_fused", 1)]
    assert answer.answer(report)[1].startswith("- **layout F, 1 thread**: L1 1.66 KB: numba 2.5×")


def test_a_single_sample_is_unconfirmed_and_kept_out_of_the_first_screen():
    # The same table measured as asv --quick does: one sample, no interval.
    quick = [{**r, "repeat": 1, "ci_low": -math.inf, "ci_high": math.inf} for r in ROWS]
    report = an.analyse_machine("vm", pd.DataFrame(quick), {}, {})
    assert not report.winners["confirmed"].any()
    assert report.winners["significant"].isna().all()
    lines = answer.answer(report)
    assert len(lines) == 2 and not any("2.5×" in x for x in lines)
    assert lines[1] == ("- 2 of 2 shapes unconfirmed: their times have 1 sample (at least 3 samples "
                        "and a finite 99% interval needed: asv --quick takes one, and a point "
                        "near the time bound may be skipped by some of its processes); no "
                        "speed-up is stated for them")
    assert report.unconfirmed == 8


def test_speedups_are_computed_once_for_every_strategy_and_baseline():
    report = _report()
    sp = report.speedups
    row = sp[(sp["base"] == "numpy") & (sp["strategy"] == "numba") & (sp["n_x"] == 128)].iloc[0]
    assert row["speedup"] == pytest.approx(100 / 300)          # numba is 3x slower there
    assert row["hi"] == pytest.approx(110 / 290) and row["significant"] == True  # noqa: E712
    loops = sp[(sp["base"] == "python_loops") & (sp["strategy"] == "numpy")]
    assert sorted(loops["speedup"].round(6)) == [500.0, 500.0]
    assert len(sp) == 2 * 3 + 2 * 3  # 3 others per shape, per baseline


def test_competitors_leave_out_a_strategy_far_from_the_reference():
    # python_loops at 1/500 of numpy's speed is not drawn against it.
    assert _report().competitors == ["numba", "numba_fused"]


def test_share_counts_the_bytes_each_strategy_reads_over_the_table_median():
    ceiling = [_row(grid.BENCH_READ_BANDWIDTH, 10.0, type="track", threads=1, nbytes=None)]
    report = _report(ceiling)
    sh = report.shares.set_index(["strategy", "n_x"])
    # numpy reads X twice: 2 x 214016 B / 100 us = 4.28032 GB/s, 42.8% of 10 GB/s.
    assert sh.loc[("numpy", 128), "bytes_read"] == 2 * 214016
    assert sh.loc[("numpy", 128), "gbs"] == pytest.approx(4.28032)
    assert sh.loc[("numpy", 128), "share"] == pytest.approx(0.428032)
    # numba_fused once: 214016 B / 95 us = 2.25280 GB/s.
    assert sh.loc[("numba_fused", 128), "gbs"] == pytest.approx(2.2528, rel=1e-4)
    # Share from the same interval as the time: 214016 B / 105 us .. / 80 us, over 10 GB/s.
    assert sh.loc[("numba_fused", 128), "share_lo"] == pytest.approx(0.203825, rel=1e-4)
    assert sh.loc[("numba_fused", 128), "share_hi"] == pytest.approx(0.26752, rel=1e-4)


def test_peers_set_the_resident_step_beside_propagate():
    # optimize: 100 steps in 6 ms = 60 us a step; propagate 100 us: 40 us a call more.
    opt = [_row(grid.BENCH_OPTIMIZE, 6e-3, strategy="numpy", n_x=128, m=209, layout="F",
                dtype="float64", threads=1)]
    report = _report(opt)
    row = report.peers.iloc[0]
    assert (row["strategy"], row["n_x"]) == ("numpy", 128)
    assert row["resident"] == pytest.approx(60 * US)
    assert row["per_call"] == pytest.approx(40 * US)
    assert row["per_call_kind"].startswith("its prepare on every call")  # numpy has one


def test_scaling_is_parallel_efficiency_of_the_parallel_strategies_only():
    # numba_fused 95 us on 1 thread, 57 [50, 60] us on 2: 1.667x, efficiency 0.8333,
    # interval (80/60)/2 = 0.6667 to (105/50)/2 = 1.05.  numba is not parallel: left out.
    extra = [_step("numba_fused", 128, 209, 57, 50, 60, threads=2),
             _step("numba", 128, 209, 290, 280, 300, threads=2)]
    sc = _report(extra).scaling
    assert list(sc["strategy"]) == ["numba_fused"]
    r = sc.iloc[0]
    assert r["efficiency"] == pytest.approx(95 / 57 / 2)
    assert (r["lo"], r["hi"]) == (pytest.approx(80 / 60 / 2), pytest.approx(105 / 50 / 2))


def test_skipped_points_are_counted_by_reason_and_the_study_time_is_read():
    skipped = [_row(grid.BENCH_STEP, math.nan, status="skipped", strategy="numba", n_x=16, m=13,
                    layout="F", dtype="float32", threads=1),
               _row(grid.BENCH_STEP, math.nan, status="skipped", strategy="numba", n_x=128,
                    m=209, layout="F", dtype="float32", threads=1),
               _row(grid.BENCH_STEP, math.nan, status="skipped", strategy="python_loops",
                    n_x=128, m=209, layout="C", dtype="float64", threads=1)]
    report = _report(skipped, durations={"step.Step.time_propagate": 61.0,
                                         "step.Optimize.time_optimize": 20.0,
                                         "first_call.FirstCall.timeraw_first_call": 5.0})
    cost = report.cost
    assert (cost.measured, cost.skipped, cost.failed) == (8, 3, 0)
    # numba reads float32 only through a float64 copy (registry dtypes: float64 only).
    assert cost.skipped_by_reason["read through a float64 copy"] == 2
    assert sum(cost.skipped_by_reason.values()) == 3 and not cost.reasons_recorded
    assert cost.families == {"step": 81.0, "first_call": 5.0}
    assert cost.wall_s is None
    text = " ".join(writeup.cost_lines(report))
    assert "step 1 min 21 s, first_call 5 s" in text and "not recorded" not in text
    # What the study recorded wins over the inference.
    assert "asv's time per benchmark family (one round each)" in text
    recorded = {"study": {"skipped": {"no GPU": 7, "estimated too slow": 2}, "wall_s": 463.0,
                          "seconds": {"plan": 12.0, "suite": 451.0},
                          "families": {"step": 300.0, "optimize": 151.0}, "format": 3}}
    cost = _report(skipped, description=recorded,
                   durations={"step.Step.time_propagate": 61.0}).cost
    assert cost.skipped_by_reason == {"no GPU": 7, "estimated too slow": 2}
    assert cost.reasons_recorded and cost.wall_s == 463.0
    # The study's own wall time per family wins over asv's one-round durations.
    assert cost.families == {"step": 300.0, "optimize": 151.0} and cost.families_wall
    text = " ".join(writeup.cost_lines(_report(skipped, description=recorded)))
    assert "The study took 7 min 43 s before its report (plan 12 s, suite 7 min 31 s)" in text
    assert "wall time per benchmark family (process start-up and setup included): " \
        "step 5 min 00 s, optimize 2 min 31 s" in text


def test_winner_map_draws_one_cell_per_shape_labelled_with_its_speedup():
    report = _report()
    fig = figures.draw_winner_map(report)
    ax = fig.axes[0]
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["1.1×", "2.5×"]
    cells = [p for p in ax.patches]
    assert len(cells) == 2
    hatched = {p.get_hatch() for p in cells}
    assert hatched == {None, "//"}  # the non-significant 128x209 cell is hatched
    figures.plt.close(fig)


def test_renderers_never_call_back_into_analysis_and_analysis_imports_no_renderer():
    for name in ("findings", "figures", "writeup", "answer"):
        tree = ast.parse((REPORT / f"{name}.py").read_text())
        imported = {(n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in imported if m.endswith("analysis")}, name
    code = ("import sys; import lrperf.report.analysis; "
            "print(sorted(m for m in sys.modules if m.startswith('lrperf.report.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    loaded = ast.literal_eval(done.stdout.strip())
    assert not {"lrperf.report.findings", "lrperf.report.figures",
                "lrperf.report.writeup"} & set(loaded), loaded

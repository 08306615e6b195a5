"""The report's float32 trade, accuracy and XLA findings, and the speed-against-accuracy
figure, on a small results table made here.

Expected values are recomputed in each test from the table it built, never taken
from the report's analysis code.
"""
import re

import pandas as pd
import pytest

from lrperf import grid
from lrperf.report import analysis as an
from lrperf.report import figures, findings

SHAPES = [(16, 13), (128, 209)]
STRATEGIES = ["python_loops", "numpy", "numba_fused", "jax_xla"]


def _row(benchmark, value, **axes):
    row = {"machine": "vm", "commit": "a" * 40, "date": pd.Timestamp("2026-11-30", tz="UTC"),
           "environment": "existing-py3.11", "benchmark": benchmark, "type": "time",
           "strategy": None, "n_x": None, "m": None, "layout": None, "dtype": None,
           "threads": None, "nbytes": None, "params": "{}", "value": value, "unit": "",
           "ci_low": value, "ci_high": value, "q_25": value, "q_75": value, "repeat": 10,
           "status": "ok", "renamed_from": None}
    row.update(axes)
    return row


def _time(strategy, n_x, m, layout, dtype, threads):
    # Distinct, made-up times: float32 faster for the strategies that read it.
    base = {"python_loops": 50.0, "numpy": 2.0, "numba_fused": 1.0, "jax_xla": 3.0}[strategy]
    t = base * n_x * m * 1e-6 * (1.3 if layout == "C" else 1.0) / threads
    return t / ({"numpy": 2.1, "numba_fused": 1.7}.get(strategy, 1.0) if dtype == "float32"
                else 1.0)


ERRORS = {  # (strategy, dtype): (dw error at SHAPES[0], at SHAPES[1]); cost error = dw / 2
    ("python_loops", "float64"): (1e-15, 2e-15), ("python_loops", "float32"): (3e-15, 1e-15),
    ("numpy", "float64"): (4e-16, 6e-16), ("numpy", "float32"): (9e-8, 2.5e-7),
    ("numba_fused", "float64"): (5e-16, 3e-16), ("numba_fused", "float32"): (7e-16, 4e-16),
    ("jax_xla", "float64"): (8e-16, 9e-16), ("jax_xla", "float32"): (8e-16, 9e-16),
}


def _frame(x_reads=2):
    rows = []
    for s in STRATEGIES:
        for n_x, m in SHAPES:
            for layout in grid.LAYOUTS:
                for dtype in grid.DTYPES:
                    if dtype == "float32" and s not in ("numpy", "numba_fused"):
                        continue  # the suite skips float64-copy dtypes
                    for threads in (1, 2):
                        if s == "jax_xla" and threads == 1:
                            continue  # XLA's pool: all cores only
                        axes = dict(strategy=s, n_x=n_x, m=m, layout=layout, dtype=dtype,
                                    threads=threads)
                        t = _time(s, n_x, m, layout, dtype, threads)
                        rows.append(_row(grid.BENCH_STEP, t, **axes))
                        rows.append(_row(grid.BENCH_OPTIMIZE, 100 * t * 0.8, **axes))
        for (n_x, m), k in zip(SHAPES, (0, 1)):
            for dtype in grid.DTYPES:
                e = ERRORS[(s, dtype)][k]
                ax = dict(strategy=s, n_x=n_x, m=m, dtype=dtype)
                rows.append(_row(grid.BENCH_ERROR_DW, e, type="track", **ax))
                rows.append(_row(grid.BENCH_ERROR_COST, e / 2, type="track", **ax))
    for layout in grid.LAYOUTS:
        ax = dict(n_x=128, m=209, layout=layout, type="track")
        rows.append(_row(grid.BENCH_XLA_DOTS, 2.0, **ax))
        rows.append(_row(grid.BENCH_XLA_X_READS, float(x_reads), **ax))
        rows.append(_row(grid.BENCH_XLA_DOT_FUSIONS, 0.0, **ax))
    return pd.DataFrame(rows)


def _finding(report, heading):
    return next(x for x in findings.findings(report) if x.startswith(f"- **{heading}"))


def test_accuracy_finding_names_the_worst_error_and_its_shape():
    frame = _frame()
    report = an.analyse_machine("vm", frame, {}, {})
    line = _finding(report, "Accuracy, float32 X")
    for s in STRATEGIES:
        errs = ERRORS[(s, "float32")]
        k = max((0, 1), key=lambda i: errs[i])
        n_x, m = SHAPES[k]
        part = re.search(rf"{s}( \([^)]*\))? dw ([\d.e+-]+) at (\d+)×(\d+), [^,]*, cost (\d[\d.e+-]*\d)",
                         line)
        assert part, (s, line)
        assert float(part[2]) == pytest.approx(errs[k], rel=0.05)
        assert (int(part[3]), int(part[4])) == (n_x, m)
        assert float(part[5]) == pytest.approx(max(errs) / 2, rel=0.05)
    # How each reads float32, from the registry: numpy sums in float32, the others in float64.
    assert "numpy (reads it, sums in float32)" in line
    assert "numba_fused (reads it, sums in float64)" in line
    assert "python_loops (gets a float64 copy)" in line


def test_float32_trade_gives_bytes_speed_and_error_at_one_shape():
    report = an.analyse_machine("vm", _frame(), {}, {})
    line = _finding(report, "The float32 trade")
    assert "(layout F, 2 threads, 128×209)" in line
    # 128 x 209 doubles: 214 KB; floats: 107 KB.
    assert "107 KB a step instead of 214 KB" in line
    for s, gain in (("numpy", 2.1), ("numba_fused", 1.7)):
        assert re.search(rf"{s} [^;]* \({gain:.3g}×\)", line), line
        e64, e32 = max(ERRORS[(s, "float64")]), max(ERRORS[(s, "float32")])
        assert f"{s} {e64:.2g} in float64, {e32:.2g} in float32" in line
    assert "python_loops" not in line  # no float32 step points: no trade to state


@pytest.mark.parametrize("x_reads, verdict", [(2, "X is read 2 times per step"),
                                              (1, "X is read once per step")])
def test_xla_finding_sets_the_compiled_program_beside_the_times(x_reads, verdict):
    report = an.analyse_machine("vm", _frame(x_reads), {}, {})
    line = _finding(report, "What XLA compiled** (jax_xla's optimized HLO at 128×209, 214 KB, "
                            "layout F)")
    assert "2 dot(s), 0 fusion(s) holding a dot" in line and verdict in line
    jax = _time("jax_xla", 128, 209, "F", "float64", 2)
    numpy = _time("numpy", 128, 209, "F", "float64", 2)
    assert f"jax_xla {an.human_seconds(jax)} per `propagate`" in line
    assert f"{an.human_seconds(jax * 0.8)} per step of `optimize`" in line
    assert f"numpy {an.human_seconds(numpy)}" in line
    assert "Measured at 2 threads" in line
    threads = _finding(report, "Thread counts")
    assert "jax_xla at 2 threads only" in threads


def test_xla_times_come_from_the_largest_measured_shape_when_the_compiled_one_was_skipped():
    frame = _frame()
    skipped = ((frame["strategy"] == "jax_xla") & (frame["n_x"] == 128)
               & frame["benchmark"].isin([grid.BENCH_STEP, grid.BENCH_OPTIMIZE]))
    report = an.analyse_machine("vm", frame[~skipped], {}, {})
    line = _finding(report, "What XLA compiled** (jax_xla's optimized HLO at 128×209, 214 KB, "
                            "layout F)")
    assert "Measured at 16×13, 1.66 KB, the largest shape with a jax_xla step, at 2 threads" in line
    jax = _time("jax_xla", 16, 13, "F", "float64", 2)
    assert f"jax_xla {an.human_seconds(jax)} per `propagate`" in line
    assert f"numpy {an.human_seconds(_time('numpy', 16, 13, 'F', 'float64', 2))}" in line


def test_no_xla_rows_no_xla_finding():
    frame = _frame()
    frame = frame[~frame["benchmark"].str.startswith("xla.")]
    report = an.analyse_machine("vm", frame, {}, {})
    assert not any("What XLA compiled" in x for x in findings.findings(report))


def test_accuracy_figure_has_a_point_per_strategy_and_dtype():
    report = an.analyse_machine("vm", _frame(), {}, {})
    shape, pts = report.accuracy_at, report.accuracy_points
    assert shape == (128, 209)
    # Step points at 2 threads, layout F: 4 strategies in float64, 2 in float32.
    assert sorted(zip(pts["strategy"], pts["dtype"])) == sorted(
        [(s, "float64") for s in STRATEGIES] + [("numpy", "float32"), ("numba_fused", "float32")])
    fig = figures.draw_accuracy(report)
    assert len(fig.axes[0].collections) == 6
    figures.plt.close(fig)


def test_without_accuracy_results_the_figure_is_left_out():
    frame = _frame()
    frame = frame[~frame["benchmark"].str.startswith("accuracy.")]
    report = an.analyse_machine("vm", frame, {}, {})
    assert figures.draw_accuracy(report) is None
    assert not any("Accuracy" in x for x in findings.findings(report))


def test_the_drawn_ceiling_is_the_one_the_shares_use():
    # Before: drawn with steps-mid, so the line dropped halfway between two ladder
    # sizes while the shares held the smaller size's value up to the next one.
    ladder = [(1e4, 100.0), (1e6, 50.0), (1e8, 10.0)]
    rows = [_row(grid.BENCH_READ_BANDWIDTH, v, type="track", nbytes=n, threads=t)
            for n, v in ladder for t in (1, 2)]
    for s in ("numpy", "numba_fused"):
        for n_x, m in SHAPES:
            for layout in grid.LAYOUTS:
                for t in (1, 2):
                    rows.append(_row(grid.BENCH_BANDWIDTH, 5.0, type="track", strategy=s,
                                     n_x=n_x, m=m, layout=layout, dtype="float64", threads=t))
    frame = pd.concat([_frame(), pd.DataFrame(rows)], ignore_index=True)
    report = an.analyse_machine("vm", frame, {}, {})
    fig = figures.draw_bandwidth(report)
    lines = [ln for ax in fig.axes for ln in ax.get_lines()
             if ln.get_label().startswith("read ceiling B(size")]
    assert len(lines) == 4  # one per facet
    drawn_x, drawn_y = lines[0].get_path().vertices.T  # the staircase as drawn
    figures.plt.close(fig)
    for size in (8 * 16 * 13, 2e4, 9.9e5, 1e6, 5e7, 1e8, 8 * 128 * 209):
        expect = an.ceiling_at(report.ceiling, size, 1)
        # The drawn height just right of ``size``: the last vertex at or left of it.
        at = drawn_y[max(i for i, x in enumerate(drawn_x) if x <= size)]
        assert at == expect * 1e9, (size, at, expect)  # drawn in bytes/s
    assert drawn_x[0] <= 8 * 16 * 13


def test_the_machine_is_named_with_family_model_and_stepping():
    from lrperf.report.writeup import cpu_line, machine_section
    d = {"cpu": "Intel(R) Xeon(R) Processor", "cpu_id": "GenuineIntel family 6 model 207 stepping 2",
         "simd": ["avx2", "avx512f"], "caches": {"L2": {"bytes": 2_000_000, "shared_by": 1}},
         "cores": 2}
    assert cpu_line(d) == ("Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 207 "
                           "stepping 2); SIMD avx2/avx512f; L2 2 MB; 2 cores")
    report = an.analyse_machine("vm", _frame(), {}, {})
    report.description = d
    assert ("| CPU vendor, family, model, stepping | GenuineIntel family 6 model 207 stepping 2 |"
            in machine_section(report))

"""`lrperf report` on a committed fixture from a real asv run of the suite
(LRPERF_BENCH_GRID=tiny, --quick) and on damaged copies of it.

Expected values are read straight from the raw JSON files in the test, by
asv's documented format (values in parameter-product order), never from the
report's own loader.
"""
import ast
import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest

from lrperf import cli
from lrperf.report import NoResultsError, ReportWarning, build_report, load_results
from lrperf.report import analysis

FIXTURE = Path(__file__).parent / "fixtures" / "asv_results"
STEP = "step.Step.time_propagate"
FIGURES = ["time_vs_size.png", "speedup.png", "bandwidth.png", "thread_scaling.png"]  # history: from 2 commits


def _result_files(root):
    return sorted(p for p in root.glob("*/*.json") if p.name != "machine.json")


def _raw(path):
    return json.loads(path.read_text())


def _raw_point(data, name, wanted):
    """The value of benchmark ``name`` at the parameter values ``wanted`` (repr strings)."""
    cols = data["result_columns"]
    row = dict(zip(cols, data["results"][name]))
    params = row["params"]
    index = 0
    for values, want in zip(params, wanted):
        index = index * len(values) + values.index(want)
    return row["result"][index]


@pytest.fixture
def results(tmp_path):
    """A private copy of the fixture: tests may damage it."""
    dst = tmp_path / "results"
    shutil.copytree(FIXTURE, dst)
    return dst


def _snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_fixture_is_a_real_small_asv_run():
    files = _result_files(FIXTURE)
    assert files, "fixture has no result files"
    size = sum(p.stat().st_size for p in FIXTURE.rglob("*") if p.is_file())
    assert size < 1_000_000
    data = _raw(files[0])
    assert data["version"] == 2 and STEP in data["results"]
    assert (FIXTURE / "benchmarks.json").is_file()


def test_loaded_values_match_the_raw_file():
    frame = load_results(FIXTURE)
    data = _raw(_result_files(FIXTURE)[0])
    row = dict(zip(data["result_columns"], data["results"][STEP]))
    strategies, nxs, ms, layouts, threads = row["params"]
    checked = 0
    for s in strategies:
        for n_x in (nxs[0], nxs[-1]):
            for layout in layouts:
                want = _raw_point(data, STEP, [s, n_x, ms[-1], layout, threads[0]])
                got = frame[(frame["benchmark"] == STEP) & (frame["strategy"] == s.strip("'"))
                            & (frame["n_x"] == int(n_x)) & (frame["m"] == int(ms[-1]))
                            & (frame["layout"] == layout.strip("'"))
                            & (frame["threads"] == int(threads[0]))]
                assert len(got) == 1
                if want is None or (isinstance(want, float) and math.isnan(want)):
                    assert math.isnan(got["value"].iloc[0])
                else:
                    assert got["value"].iloc[0] == want
                    assert got["unit"].iloc[0] == "seconds"
                checked += 1
    assert checked == len(strategies) * 2 * len(layouts)


def test_status_counts_match_null_and_nan_in_the_raw_file():
    frame = load_results(FIXTURE)
    data = _raw(_result_files(FIXTURE)[0])
    expected = {"ok": 0, "failed": 0, "skipped": 0}
    for name, values in data["results"].items():
        row = dict(zip(data["result_columns"], values))
        n = math.prod(len(p) for p in row["params"])
        for v in row["result"] if row["result"] is not None else [None] * n:
            key = "failed" if v is None else "skipped" if math.isnan(v) else "ok"
            expected[key] += 1
    got = frame["status"].value_counts().to_dict()
    assert {k: got.get(k, 0) for k in expected} == expected
    assert frame.loc[frame["status"] != "ok", "value"].isna().all()


def test_report_writes_every_output_and_leaves_results_untouched(results, tmp_path, capsys):
    before = _snapshot(results)
    out = tmp_path / "reports"
    assert cli.main(["report", "--results", str(results), "--out", str(out)]) == 0
    assert _snapshot(results) == before
    machine = _raw(results / "vm" / "machine.json")["machine"]
    folder = out / machine
    for name in FIGURES:
        png = folder / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    readme = (folder / "README.md").read_text()
    for name in FIGURES:
        assert f"]({name})" in readme
    # Results from before the sidecar carried the description as a parameter value.
    data = _raw(_result_files(results)[0])
    row = dict(zip(data["result_columns"], data["results"]["hardware.track_machine_info"]))
    info = json.loads(ast.literal_eval(row["params"][0][0]))
    assert f"| NumPy | {info['numpy']} |" in readme
    assert f"| Numba | {info['numba']} |" in readme
    for heading in ("Fastest", "Speedup over python_loops",
                    "Speedup over numpy", "Crossovers", "Share of one out-of-cache read ceiling",
                    "Layout", "Thread scaling"):
        assert heading in readme
    csv = (folder / "results.csv").read_text().splitlines()
    header = csv[0].split(",")
    for col in ("machine", "commit", "date", "environment", "benchmark", "strategy", "n_x",
                "m", "layout", "threads", "value", "unit", "ci_low", "ci_high", "status"):
        assert col in header
    assert len(csv) - 1 == len(load_results(results))
    printed = capsys.readouterr().out
    assert str(folder) in printed and "README.md" in printed
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("damage", ["truncated", "not json", "wrong shape"])
def test_damaged_file_is_skipped_with_a_warning_naming_it(results, tmp_path, damage):
    good = _result_files(results)[0]
    bad = good.with_name("0badc0de-" + good.name.split("-", 1)[1])
    text = good.read_text()
    bad.write_text({"truncated": text[: len(text) // 2], "not json": "<html>oops</html>",
                    "wrong shape": json.dumps([1, 2, 3])}[damage])
    before = _snapshot(results)
    with pytest.warns(ReportWarning, match=bad.name):
        if damage == "truncated":
            out = build_report(results, tmp_path / "reports", figures=False)
            assert (out / "vm" / "README.md").is_file()
        else:
            frame = load_results(results)
    if damage != "truncated":
        assert frame["commit"].nunique() == 1  # the good file's points are all there
    assert _snapshot(results) == before  # the damaged file is left as it was


def _second_commit(results, rename_to=None, keep=None):
    """A copy of the fixture's result file as an older commit, optionally renamed/partial."""
    good = _result_files(results)[0]
    data = _raw(good)
    data["commit_hash"] = "0123456789abcdef0123456789abcdef01234567"
    data["date"] -= 86_400_000
    if rename_to:
        data["results"][rename_to] = data["results"].pop(STEP)
    if keep:
        data["results"] = {k: v for k, v in data["results"].items() if k in keep}
    path = good.with_name("01234567-" + good.name.split("-", 1)[1])
    path.write_text(json.dumps(data))
    return data


def test_benchmark_renamed_between_commits_joins_the_history(results, tmp_path):
    _second_commit(results, rename_to="step.Step.time_step_old_name")
    with pytest.warns(ReportWarning, match="time_step_old_name"):
        frame = load_results(results)
    step = frame[(frame["benchmark"] == STEP) & (frame["status"] == "ok")]
    assert step["commit"].nunique() == 2
    old = step[step["commit"].str.startswith("01234567")]
    assert (old["renamed_from"] == "step.Step.time_step_old_name").all()
    assert old["strategy"].notna().all()
    with pytest.warns(ReportWarning):
        out = build_report(results, tmp_path / "reports", figures=False)
    assert "2 commits in the history" in (out / "vm" / "README.md").read_text()


def test_machine_with_partial_results_still_gets_a_report(results, tmp_path):
    other = results / "other-box"
    other.mkdir()
    machine = _raw(results / "vm" / "machine.json")
    machine["machine"] = "other-box"
    (other / "machine.json").write_text(json.dumps(machine))
    data = _raw(_result_files(results)[0])
    data["params"]["machine"] = "other-box"
    row = dict(zip(data["result_columns"], data["results"][STEP]))
    # Half of the points failed (null): kept as failures, not drawn.
    row["result"] = [v if i % 2 else None for i, v in enumerate(row["result"])]
    data["results"] = {STEP: [row.get(c) for c in data["result_columns"]]}
    (other / "abcdef12-env.json").write_text(json.dumps(data))
    # A third machine whose only benchmark failed as a whole (asv's null result).
    dead = results / "dead-box"
    dead.mkdir()
    data["params"]["machine"] = "dead-box"
    data["results"] = {STEP: [None, row["params"]]}
    (dead / "abcdef12-env.json").write_text(json.dumps(data))
    out = build_report(results, tmp_path / "reports")
    assert "0 measured" in (out / "dead-box" / "README.md").read_text()
    assert not list((out / "dead-box").glob("*.png"))
    assert (out / "vm" / "bandwidth.png").is_file()
    readme = (out / "other-box" / "README.md").read_text()
    # Bandwidth comes from the step times themselves (no track_bandwidth here): drawn.
    assert "time_vs_size.png" in readme and "bandwidth.png" in readme
    assert "history.png" not in readme
    frame = load_results(results)
    part = frame[frame["machine"] == "other-box"]
    assert (part["status"] == "failed").sum() == (len(row["result"]) + 1) // 2


@pytest.mark.parametrize("content", ["empty", "missing", "only garbage"])
def test_nothing_usable_is_a_clear_error_and_nonzero_exit(tmp_path, capsys, content):
    results = tmp_path / "results"
    if content != "missing":
        (results / "vm").mkdir(parents=True)
    if content == "only garbage":
        shutil.copy(FIXTURE / "benchmarks.json", results)
        (results / "vm" / "deadbeef-env.json").write_text("{not json")
    argv = ["report", "--results", str(results), "--out", str(tmp_path / "r")]
    if content == "only garbage":
        with pytest.warns(ReportWarning, match="deadbeef-env.json"):
            with pytest.raises(NoResultsError, match="no usable benchmark results"):
                load_results(results)
        code = cli.main(argv)
    else:
        with pytest.raises(NoResultsError, match="results"):
            load_results(results)
        code = cli.main(argv)
    assert code != 0
    err = capsys.readouterr().err
    assert "lrperf report: error:" in err
    if content == "only garbage":
        assert "warning: skipping" in err and "deadbeef-env.json" in err
    assert not (tmp_path / "r" / "vm").exists()


def test_a_crash_leaves_the_previous_report_intact(results, tmp_path, monkeypatch):
    out = build_report(results, tmp_path / "reports")
    before = _snapshot(out / "vm")

    def boom(*args, **kwargs):
        raise RuntimeError("crash while writing")

    # After the first figure is written: a half-built folder must not replace the report.
    from lrperf.report import figures
    monkeypatch.setattr(figures, "FIGURES", [figures.FIGURES[0],
                                             figures.Figure("boom", "boom", boom)])
    with pytest.raises(RuntimeError, match="crash while writing"):
        build_report(results, out)
    assert _snapshot(out / "vm") == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_report_help_names_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--results", "--out"):
        assert option in text


def test_crossover_names_the_shapes_on_either_side():
    import pandas as pd

    shapes = pd.MultiIndex.from_tuples([(10, 1), (10, 100), (1000, 100)], names=["n_x", "m"])
    times = pd.DataFrame({"a": [1.0, 1.0, 4.0], "b": [2.0, 2.0, 2.0]}, index=shapes)
    kind, (last_below, first_above, below, above) = analysis.crossovers(times, "a", "b")
    assert (kind, last_below, first_above, below, above) == ("one", (10, 100), (1000, 100),
                                                            "a", "b")
    assert analysis.crossovers(times * [1, 0.1], "a", "b")[0] == "none"
    flip = pd.DataFrame({"a": [1.0, 4.0, 1.0], "b": [2.0, 2.0, 2.0]}, index=shapes)
    assert analysis.crossovers(flip, "a", "b") == ("mixed", (2, 3))
    assert analysis.regimes(times) == [((10, 1), (10, 100), "a"), ((1000, 100), (1000, 100), "b")]


def test_slope_of_a_power_law():
    sizes = [1e3, 1e4, 1e5, 1e6]
    assert analysis.slope(sizes, [s ** 0.5 for s in sizes]) == pytest.approx(0.5)
    assert math.isnan(analysis.slope([1e3], [1.0]))


def test_damaged_benchmarks_json_still_gives_named_grid_points(results, tmp_path):
    bench = results / "benchmarks.json"
    bench.write_text(bench.read_text()[:100])
    with pytest.warns(ReportWarning, match="benchmarks.json"):
        frame = load_results(results)
    step = frame[(frame["benchmark"] == STEP) & (frame["status"] == "ok")]
    data = _raw(_result_files(results)[0])
    strategies = dict(zip(data["result_columns"], data["results"][STEP]))["params"][0]
    assert sorted(step["strategy"].unique()) == sorted(s.strip("'") for s in strategies)

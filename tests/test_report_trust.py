"""The report never hangs or lies: damaged fields, exact benchmark names, noise, findings
checked against results.csv, comparisons, no paths of the machine that ran it.

Expected values are recomputed here with pandas from the report's own results.csv
or from the raw asv JSON, never taken from the report's analysis code.
"""
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from lrperf import cli
from lrperf.report import ReportWarning, build_report, load_results

from test_report import STEP, results  # noqa: F401  (a private copy of the asv fixture)


def _result_file(results):
    return next(p for p in sorted((results / "vm").glob("*.json")) if p.name != "machine.json")


def _edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _second_commit(results, factor=None, strategy=None, commit="b" * 40):
    """A copy of the result file as a later commit; ``strategy``'s step times (every
    strategy's with None) times ``factor``."""
    src = _result_file(results)
    data = json.loads(src.read_text())
    data["commit_hash"] = commit
    data["date"] += 3_600_000
    if factor is not None:
        cols = data["result_columns"]
        row = dict(zip(cols, data["results"][STEP]))
        names = [s.strip("'") for s in row["params"][0]]
        per = len(row["result"]) // len(names)
        ks = range(len(names)) if strategy is None else [names.index(strategy)]
        for key in ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75"):
            values = row.get(key)
            if values:
                for i in (i for k in ks for i in range(k * per, (k + 1) * per)):
                    if values[i] is not None:
                        values[i] *= factor
        data["results"][STEP] = [row.get(c) for c in cols]
    dst = src.with_name(f"{commit[:8]}-{src.name.split('-', 1)[1]}")
    dst.write_text(json.dumps(data))
    return dst


def test_other_warnings_during_the_report_cannot_loop(results, tmp_path):
    """Before the fix, any non-report warning re-emitted itself forever (24 GB, OOM)."""
    script = (
        "import sys, warnings\n"
        "warnings.simplefilter('default')\n"
        "from lrperf.report import figures\n"
        "draw = figures.FIGURES[0].draw\n"
        "def noisy(report):\n"
        "    warnings.warn('a warning from matplotlib or pandas', UserWarning)\n"
        "    return draw(report)\n"
        "figures.FIGURES[0] = figures.Figure('time_vs_size', 't', noisy)\n"
        "from lrperf import cli\n"
        f"sys.exit(cli.main(['report', '--results', {str(results)!r}, "
        f"'--out', {str(tmp_path / 'out')!r}]))\n")
    limit = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n")
    done = subprocess.run([sys.executable, "-c", limit + script], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("a warning from matplotlib or pandas") == 1


def test_step_time_comes_from_the_exact_benchmark_never_from_optimize(results, tmp_path):
    """Without time_propagate, 100-step Optimize times must not pose as time per step."""
    _edit(_result_file(results), lambda d: d["results"].pop(STEP))
    build_report(results, tmp_path / "out", figures=False)
    readme = (tmp_path / "out" / "vm" / "README.md").read_text()
    assert "No step timings in these results" in readme
    assert "Time per step, layout" not in readme


@pytest.mark.parametrize("damage, named", [
    ("machine_json_list", "machine.json"),
    ("integer_commit_hash", ".json"),  # asv's own load refuses it
    ("non_hex_commit_hash", "commit_hash must be a hex string, got '../x'"),
    ("threads_1_5", ".json"),
    ("deeply_nested", ".json"),
    ("garbage_strategy", ".json"),
])
def test_a_damaged_field_skips_its_file_or_point_with_a_warning_naming_it(
        results, tmp_path, damage, named):
    path = _result_file(results)
    if damage == "machine_json_list":
        (results / "vm" / "machine.json").write_text(json.dumps({"machine": ["vm", "x"]}))
    elif damage == "integer_commit_hash":
        _second_commit(results)
        _edit(path, lambda d: d.update(commit_hash=12345))
    elif damage == "non_hex_commit_hash":
        _second_commit(results)
        _edit(path, lambda d: d.update(commit_hash="../x"))
    elif damage == "threads_1_5":
        def threads(d):
            row = dict(zip(d["result_columns"], d["results"][STEP]))
            row["params"][-1] = ["'1.5'" if v == "2" else v for v in row["params"][-1]]
            d["results"][STEP] = [row.get(c) for c in d["result_columns"]]
        _edit(path, threads)
    elif damage == "deeply_nested":
        _second_commit(results)
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif damage == "garbage_strategy":
        def garbage(d):
            row = dict(zip(d["result_columns"], d["results"][STEP]))
            row["params"][0][0] = "'; rm -rf /'"
            d["results"][STEP] = [row.get(c) for c in d["result_columns"]]
        _edit(path, garbage)
    with pytest.warns(ReportWarning) as caught:
        out = build_report(results, tmp_path / "out", figures=False)
    # The warning names the file (results path) and, where it is the file's, the field.
    assert any(named in str(w.message) and str(results) in str(w.message) for w in caught)
    readme = (out / "vm" / "README.md").read_text()
    assert "numpy" in readme and "rm -rf" not in readme
    if damage == "threads_1_5":
        frame = pd.read_csv(out / "vm" / "results.csv")
        assert set(frame.loc[frame["benchmark"] == STEP, "threads"].dropna()) == {1}


def test_a_fifo_named_like_a_result_file_is_skipped_not_waited_on(results, tmp_path):
    fifo = results / "vm" / "zzzzzzzz-fifo.json"
    os.mkfifo(fifo)
    # Should the report open the FIFO, it would wait for a writer forever: this
    # writer looks for a waiting reader (a non-blocking open for writing
    # succeeds only then), ends its wait and records it, however long the
    # report takes on a busy machine; no clock involved.
    import errno
    import threading

    def watcher():
        while not done.is_set():
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader has it open
                    raise
                done.wait(0.01)
                continue
            opened.append(True)
            os.write(fd, b"{}")
            os.close(fd)
            return

    done = threading.Event()
    opened = []
    writer = threading.Thread(target=watcher, daemon=True)
    writer.start()
    try:
        with pytest.warns(ReportWarning, match="zzzzzzzz-fifo.json"):
            build_report(results, tmp_path / "out", figures=False)
    finally:
        done.set()
        writer.join()
    assert not opened, "the report opened the FIFO and waited on it"


def test_an_unreadable_machine_folder_is_named(results, tmp_path, monkeypatch):
    (results / "other").mkdir()
    real_glob = Path.glob

    def glob(self, pattern):
        if self.name == "other":
            raise PermissionError(13, "Permission denied")
        return real_glob(self, pattern)

    monkeypatch.setattr(Path, "glob", glob)
    with pytest.warns(ReportWarning, match="machine folder .*other.*cannot be read"):
        build_report(results, tmp_path / "out", figures=False)


def test_results_pointing_at_a_file_says_so(results, tmp_path, capsys):
    assert cli.main(["report", "--results", str(_result_file(results)),
                     "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file" in err[0] and "--results" in err[0]


def _finding(readme, heading):
    line = next(x for x in readme.splitlines() if x.startswith(f"- **{heading}"))
    return line


def test_three_findings_recomputed_from_results_csv(results, tmp_path):
    out = build_report(results, tmp_path / "out", figures=False) / "vm"
    readme = (out / "README.md").read_text()
    csv = pd.read_csv(out / "results.csv")
    steps = csv[(csv["benchmark"] == STEP) & (csv["status"] == "ok")]

    def times(layout, threads):
        sel = steps[(steps["layout"] == layout) & (steps["threads"] == threads)]
        return sel.pivot_table(index=["n_x", "m"], columns="strategy", values="value")

    # 1. The fastest strategy at the first shape named for layout C, 1 thread.
    line = _finding(readme, "Fastest** (layout C, 1 thread)")
    name, n_x, m = re.search(r": (\w+) (?:from|at) (\d+)×(\d+)", line).groups()
    assert times("C", 1).loc[(int(n_x), int(m))].idxmin() == name
    # 2. The range of numba_fused's speedup over numpy, layout F, 2 threads.
    line = _finding(readme, "Speedup over numpy** (layout F, 2 threads)")
    lo, lo_nx, lo_m, hi, hi_nx, hi_m = re.search(
        r"numba_fused ([\d.e+-]+)× \((\d+)×(\d+), [^)]*\) to ([\d.e+-]+)× \((\d+)×(\d+)",
        line).groups()
    t = times("F", 2)
    ratio = t["numpy"] / t["numba_fused"]
    assert ratio.idxmin() == (int(lo_nx), int(lo_m))
    assert ratio.idxmax() == (int(hi_nx), int(hi_m))
    assert float(lo) == pytest.approx(ratio.min(), rel=5e-3)
    assert float(hi) == pytest.approx(ratio.max(), rel=5e-3)
    # 3. The layout ratio of numpy on 1 thread: C time over F time, per shape.
    line = _finding(readme, "Layout** (time in C order over F order, 1 thread")
    lo, lo_nx, lo_m = re.search(r"numpy ([\d.e+-]+)× \((\d+)×(\d+)", line).groups()
    r = times("C", 1)["numpy"] / times("F", 1)["numpy"]
    assert r.idxmin() == (int(lo_nx), int(lo_m))
    assert float(lo) == pytest.approx(r.min(), rel=5e-3)


def test_a_point_with_a_wide_interval_is_flagged(results, tmp_path):
    def widen(d):
        row = dict(zip(d["result_columns"], d["results"][STEP]))
        i = next(i for i, v in enumerate(row["result"]) if v)
        row["stats_ci_99_a"][i] = row["result"][i] * 0.5
        row["stats_ci_99_b"][i] = row["result"][i] * 20
        d["results"][STEP] = [row.get(c) for c in d["result_columns"]]
    _edit(_result_file(results), widen)
    out = build_report(results, tmp_path / "out", figures=False) / "vm"
    line = _finding((out / "README.md").read_text(), "Noisy points")
    assert line.startswith("- **Noisy points** (1 of ")
    assert "Whether they were measured twice is not recorded" in line


def test_the_noise_finding_says_what_the_study_did_for_its_own_commit_only(results, tmp_path):
    from lrperf.report.load import write_sidecar
    test_a_point_with_a_wide_interval_is_flagged(results, tmp_path / "first")
    write_sidecar(_result_file(results), {"cpu": "x", "study": {"remeasured": {
        "points": 3, "still_noisy": 1, "max": 40}}})
    out = build_report(results, tmp_path / "out", figures=False) / "vm"
    line = _finding((out / "README.md").read_text(), "Noisy points")
    assert ("`lrperf study` measured 3 flagged point(s) a second time (at most 40, noisiest "
            "first) and 1 stayed noisy") in line
    newer = _second_commit(results)  # no description of its own: the older one's study
    out = build_report(results, tmp_path / "out2", figures=False) / "vm"   # is not its
    line = _finding((out / "README.md").read_text(), "Noisy points")
    assert "Whether they were measured twice is not recorded" in line
    write_sidecar(newer, {"study": {"remeasured": None}})
    out = build_report(results, tmp_path / "out3", figures=False) / "vm"
    line = _finding((out / "README.md").read_text(), "Noisy points")
    assert "They were measured once (asv --quick, or `lrperf study --no-remeasure`)" in line


def test_history_needs_two_commits_and_is_drawn_at_the_cat_size_or_nearest(results, tmp_path):
    _second_commit(results)
    out = build_report(results, tmp_path / "out") / "vm"
    readme = (out / "README.md").read_text()
    assert "](history.png)" in readme and "2 commits in the history" in readme
    assert (out / "history.png").read_bytes()[:4] == b"\x89PNG"


def _record_samples(path, seed):
    """Give the step points of one result file recorded samples as the suite takes
    them: PROCESSES processes of SAMPLES_PER_PROCESS samples around the point's
    value, each process offset by up to 1%."""
    import numpy as np

    from lrperf import samples as sm
    rng = np.random.default_rng(seed)
    data = json.loads(path.read_text())
    cols = data["result_columns"]
    row = dict(zip(cols, data["results"][STEP]))
    recorded = []
    for i, value in enumerate(row["result"]):
        if value is None or value != value:
            recorded.append(None)
            continue
        recorded.append([value * (1 + rng.uniform(-0.01, 0.01)) * (1 + rng.uniform(-1e-3, 1e-3))
                         for _ in range(sm.PROCESSES) for _ in range(sm.SAMPLES_PER_PROCESS)])
    row["samples"] = recorded
    data["results"][STEP] = [row.get(c) for c in cols]
    path.write_text(json.dumps(data))


def _compare_rows(text):
    return [x.split() for x in text.splitlines()
            if re.match(r"^(same|faster|slower|unconfirmed) ", x)]


def test_compare_marks_a_doubled_strategy_slower_and_nothing_else(results, tmp_path, capsys):
    second = _second_commit(results, factor=2.0, strategy="numba_fused")
    _record_samples(_result_file(results), seed=1)
    _record_samples(second, seed=2)
    assert cli.main(["compare", "a83eb0b1", "bbbbbbbb", "--results", str(results),
                     "--out", str(tmp_path / "cmp")]) == 0
    text = capsys.readouterr().out
    rows = _compare_rows(text)
    assert rows and "drift: B ran" in text
    for verdict, ratio, _judged, p, *rest in rows:
        if "numba_fused" in rest:
            assert float(ratio) == pytest.approx(2.0, rel=0.03)
            assert verdict == "slower" and float(p) < 0.05
        else:
            assert float(ratio) == pytest.approx(1.0, abs=0.03) and verdict == "same"
    assert list((tmp_path / "cmp").glob("compare-*.png"))


def test_a_run_slower_everywhere_is_drift_unless_told_otherwise(results, tmp_path, capsys):
    """Every strategy 1.5x: the machine's speed or a change of everything; the
    compare says so once instead of marking every point, and --no-drift marks them."""
    second = _second_commit(results, factor=1.5, strategy=None)
    _record_samples(_result_file(results), seed=1)
    _record_samples(second, seed=2)
    args = ["compare", "a83eb0b1", "bbbbbbbb", "--results", str(results)]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "drift: B ran 1.5x A" in text and "the drift is beyond 1.1x" in text
    assert all(r[0] == "same" for r in _compare_rows(text))
    assert cli.main(args + ["--no-drift"]) == 0
    text = capsys.readouterr().out
    assert "not divided out (--no-drift)" in text
    assert all(r[0] == "slower" for r in _compare_rows(text))


def test_compare_without_recorded_samples_claims_no_change(results, tmp_path, capsys):
    """One process, no samples (asv run without --record-samples, older results):
    a doubled time is shown, but unconfirmed, never counted as a change."""
    _second_commit(results, factor=2.0, strategy="numba_fused")
    assert cli.main(["compare", "a83eb0b1", "bbbbbbbb", "--results", str(results),
                     "--out", str(tmp_path / "cmp")]) == 0
    text = capsys.readouterr().out
    rows = _compare_rows(text)
    assert rows and all(r[0] == "unconfirmed" for r in rows)
    assert any("numba_fused" in r and float(r[1]) == pytest.approx(2.0, rel=1e-3) for r in rows)
    assert "0 faster, 0 slower" in text and "--record-samples" in text


def test_compare_with_an_unknown_run_is_one_line(results, capsys):
    assert cli.main(["compare", "a83eb0b1", "ffff", "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no commit starting with 'ffff'" in err[0]


def test_no_path_of_the_running_machine_in_the_report(results, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = build_report(results, "out", figures=False)
    text = "".join(p.read_text() for p in out.rglob("*.md"))
    text += (out / "vm" / "results.csv").read_text()
    for path in (str(tmp_path), str(Path.home()), "/root", "pyenv", "/tmp"):
        assert path not in text
    assert "existing-py3.11" in text


def test_report_files_get_normal_permissions(results, tmp_path):
    old = os.umask(0o022)
    try:
        out = build_report(results, tmp_path / "out", figures=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((out / "vm").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "README.md").stat().st_mode) == 0o644


def test_results_csv_carries_asv_spread(results, tmp_path):
    out = build_report(results, tmp_path / "out", figures=False) / "vm"
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    for col in ("ci_low", "ci_high", "q_25", "q_75", "repeat"):
        assert col in header
    frame = load_results(results)
    assert frame["q_25"].notna().any()


def test_report_and_compare_find_the_results_that_exist(results, tmp_path, monkeypatch,
                                                          capsys):
    """No --results: compare looks in asv run's history folder (asv.conf.json's
    results_dir), then the study's; the report reads the newest of them."""
    import shutil
    checkout = tmp_path / "checkout"
    (checkout / "benchmarks").mkdir(parents=True)
    (checkout / "asv.conf.json").write_text(
        '{\n  // as asv writes it\n  "results_dir": ".asv/results/history"\n}\n')
    history = checkout / ".asv" / "results" / "history"
    shutil.copytree(results, history)
    _second_commit(history)
    study_tiny = checkout / ".asv" / "results" / "tiny"
    shutil.copytree(results, study_tiny)
    monkeypatch.chdir(checkout)
    assert cli.main(["compare", "a83eb0b1", "bbbbbbbb", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"results: {history}"
    # the study's folder is newer: the report takes it, and says so
    later = _result_file(study_tiny)
    os.utime(later, (time.time() + 60, time.time() + 60))
    assert cli.main(["report", "--no-figures", "--out", str(tmp_path / "r")]) == 0
    assert "reading .asv/results/tiny (the newest results" in capsys.readouterr().out


def test_compare_names_a_run_by_a_git_revision(results, monkeypatch):
    from lrperf.report import compare as cmp
    _second_commit(results)
    monkeypatch.setattr(cmp, "_revision", lambda spec: {"HEAD~1": "a83eb0b1"}.get(spec))
    lines, _ = cmp.compare(results, "HEAD~1", "bbbbbbbb")
    assert any("over A = vm:a83eb0b1" in line for line in lines)
    with pytest.raises(ValueError, match="no commit starting with 'HEAD~5'"):
        cmp.compare(results, "HEAD~5", "bbbbbbbb")


def test_compare_without_any_results_folder_says_where_it_looked(tmp_path, monkeypatch,
                                                                  capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", "a83eb0b1", "bbbbbbbb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no results folder holds both runs" in err[0]


def _record_modes(path, seed, factor=1.0, strategy=None):
    """Recorded samples whose processes each ran at one of two machine speeds 1.9x
    apart (``strategy``'s times also x ``factor``), and each process's reference
    time at its speed in the sidecar, as the study writes them."""
    import itertools

    import numpy as np

    from lrperf import results_format as rf
    from lrperf import samples as sm
    rng = np.random.default_rng(seed)
    data = json.loads(path.read_text())
    cols = data["result_columns"]
    row = dict(zip(cols, data["results"][STEP]))
    recorded, points = [], []
    for value, point in zip(row["result"], itertools.product(*row["params"])):
        if value is None or value != value:
            recorded.append(None)
            continue
        key = list(point) if len(point) == 6 else [*point[:4], "'float64'", point[4]]
        f = factor if strategy is None or point[0] == repr(strategy) else 1.0
        speeds = rng.choice([1.0, 1.9], size=sm.PROCESSES)
        recorded.append([value * f * s * (1 + rng.normal(0, 0.005))
                         for s in speeds for _ in range(sm.SAMPLES_PER_PROCESS)])
        points.append([key, [3e-4 * s * (1 + rng.normal(0, 0.005)) for s in speeds]])
    row["samples"] = recorded
    data["results"][STEP] = [row.get(c) for c in cols]
    path.write_text(json.dumps(data))
    rf.write_sidecar(path, {"study": {"reference": {"workload": rf.REFERENCE_WORKLOAD,
                                                    "points": points}}})


def test_compare_finds_a_change_hidden_in_two_machine_speeds_through_the_references(
        results, tmp_path, capsys):
    second = _second_commit(results)
    _record_modes(_result_file(results), seed=1)
    _record_modes(second, seed=2, factor=1.3, strategy="numba_fused")
    args = ["compare", "a83eb0b1", "bbbbbbbb", "--results", str(results)]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "reference: each process's samples divided by its own slowness" in text
    rows = _compare_rows(text)
    mine = [r for r in rows if "numba_fused" in r]
    assert mine and all(r[0] == "slower" for r in mine)
    assert all(float(r[2]) == pytest.approx(1.3, rel=0.05) for r in mine)
    assert all(r[0] == "same" for r in rows if "numba_fused" not in r)
    # Judged as measured, the same processes hide most of it in the spread.
    assert cli.main(args + ["--no-reference"]) == 0
    text = capsys.readouterr().out
    assert "reference: not used (--no-reference)" in text
    mine = [r for r in _compare_rows(text) if "numba_fused" in r]
    assert sum(r[0] == "slower" for r in mine) < len(mine) / 2

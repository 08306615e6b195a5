"""``lrperf study`` keeps results apart and never loses them (asv itself replaced by a fake:
these tests check what the study does around asv, in seconds)."""
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrperf import cli, study

pytest.importorskip("asv", reason="the bench extra (asv) is not installed")

REPO = Path(__file__).resolve().parents[1]
FIXTURE_RESULTS = Path(__file__).resolve().parent / "fixtures" / "asv_results"
HEAD = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                      check=True).stdout.strip()
MACHINE = "testbox"

ASV_OUTPUT = """\
· Discovering benchmarks
· Running 3 total benchmarks (1 commits * 1 environments * 3 benchmarks)
[ 0.00%] · For lrperf commit abcdef12 <main>:
[ 0.00%] ·· Benchmarking existing-py_usr_bin_python3
[16.67%] ··· Running (step.Step.time_propagate--).
[33.33%] ··· Running (step.Optimize.time_optimize--).
[50.00%] ··· step.Step.time_propagate                                        ok
[50.00%] ··· ========== ====== =====
              strategy   n_x    m
             ========== ====== =====
[66.67%] ··· step.Optimize.time_optimize                                 failed
[83.33%] ··· hardware.track_read_bandwidth                               2.5±0.1GB/s
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME whose asv machine file names this machine ``testbox``."""
    path = tmp_path / "home"
    path.mkdir()
    import platform
    node = platform.uname().node
    (path / ".asv-machine.json").write_text(json.dumps(
        {node: {"machine": MACHINE, "os": "Linux"}, "version": 1}))
    monkeypatch.setenv("HOME", str(path))
    return path


EXE = str(Path(sys.executable).resolve().parent)  # in every path asv would record
PORTABLE = f"{HEAD[:8]}-existing-py{sys.version_info[0]}.{sys.version_info[1]}.json"


def _result_file(commit, value, bench="step.Step.time_propagate"):
    return {"commit_hash": commit, "env_name": "existing-py" + EXE.replace(os.sep, "_"),
            "python": sys.executable, "params": {"machine": MACHINE, "python": sys.executable},
            "results": {bench: [[value, value]]}, "version": 2}


class FakeAsv:
    """Stands in for ``asv run``: writes what asv would write into the results folder
    of the config it is given, or fails, or is interrupted half-way."""

    def __init__(self, value=1.0, fail=False, interrupt=False, bench="step.Step.time_propagate"):
        self.value, self.fail, self.interrupt, self.bench = value, fail, interrupt, bench
        self.calls = []

    def __call__(self, cmd, *, cwd, env, on_line):
        if "--append-samples" in cmd:  # the step's further processes: asv merges them
            self.appends = getattr(self, "appends", []) + [cmd]
            return 0
        self.calls.append(cmd)
        config = json.loads(Path(cmd[cmd.index("--config") + 1]).read_text())
        results = Path(config["results_dir"])
        for line in ASV_OUTPUT.splitlines(keepends=True):
            on_line(line)
        if self.fail:
            return 1
        folder = results / MACHINE
        folder.mkdir(parents=True, exist_ok=True)
        (results / "benchmarks.json").write_text(json.dumps({"version": 2}))
        (folder / "machine.json").write_text(json.dumps({"machine": MACHINE}))
        path = folder / study.asv_result_name(MACHINE, HEAD)
        data = _result_file(HEAD, self.value, self.bench)
        if path.is_file():  # as asv's Results.load_data: earlier values of this commit
            data["results"] = {**json.loads(path.read_text())["results"], **data["results"]}
        if self.interrupt:
            path.write_text('{"half": ')  # asv killed while writing
            raise KeyboardInterrupt
        path.write_text(json.dumps(data))
        return 0


@pytest.fixture
def fake_asv(monkeypatch):
    def install(**kwargs):
        fake = FakeAsv(**kwargs)
        monkeypatch.setattr(study.supervise, "run_supervised", fake)
        return fake
    return install


def _tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _listing(root):
    """What is in the results root, but the lock file that stays there."""
    return sorted(p.name for p in root.iterdir() if p.name != study.LOCK_NAME)


def _run(root, out, **kwargs):
    """run_suite with its terminal output in the file ``out``."""
    with open(out, "w", encoding="utf-8") as stream:
        return study.run_suite(REPO, root, stream=stream, **kwargs)


def test_kinds_of_run_have_folders_of_their_own():
    kinds = {study.run_kind(g, q) for g in ("full", "quick", "tiny") for q in (False, True)}
    assert kinds == {"full", "quick", "tiny", "full-quick", "quick-quick", "tiny-quick"}
    with pytest.raises(ValueError, match=r"grid must be one of \['full', 'quick', 'tiny'\], "
                                         r"got 'huge'"):
        study.run_kind("huge", False)


def test_a_full_result_survives_a_tiny_run(tmp_path, home, fake_asv):
    root = tmp_path / "results"
    fake_asv(value=7.0)
    full = _run(root, tmp_path / "out.txt", grid="full")
    before = _tree(root / "full")
    fake_asv(value=1.0)
    tiny = _run(root, tmp_path / "out.txt", grid="tiny", quick=True)
    assert full.results_dir == root / "full" and tiny.results_dir == root / "tiny-quick"
    assert _tree(root / "full") == before
    saved = json.loads((root / "tiny-quick" / MACHINE / PORTABLE)
                       .read_text())
    assert saved["results"]["step.Step.time_propagate"] == [[1.0, 1.0]]
    assert _listing(root) == ["full", "tiny-quick"]


def test_replacing_results_needs_replace_and_says_so(tmp_path, home, fake_asv):
    root = tmp_path / "results"
    fake_asv(value=7.0)
    _run(root, tmp_path / "out.txt", grid="tiny")
    before = _tree(root / "tiny")
    fake = fake_asv(value=1.0)
    with pytest.raises(study.ResultsExist) as info:
        _run(root, tmp_path / "out.txt", grid="tiny")
    text = str(info.value)
    assert "--replace" in text and HEAD[:8] in text and MACHINE in text and "tiny" in text
    assert "2 measured points" in text
    assert fake.calls == [], "asv started although the run was refused"
    assert _tree(root / "tiny") == before
    _run(root, tmp_path / "out.txt", grid="tiny", replace=True)
    assert "warning: replacing the results" in (tmp_path / "out.txt").read_text()
    saved = json.loads((root / "tiny" / MACHINE / PORTABLE).read_text())
    assert saved["results"]["step.Step.time_propagate"] == [[1.0, 1.0]]


def test_the_staged_copy_lets_asv_merge_into_earlier_results(tmp_path, home, fake_asv):
    root = tmp_path / "results"
    fake_asv(value=7.0)
    _run(root, tmp_path / "out.txt", grid="tiny")
    seen = {}

    def asv_sees(cmd, *, cwd, env, on_line):
        staged = Path(json.loads(Path(cmd[cmd.index("--config") + 1]).read_text())
                      ["results_dir"])
        seen.setdefault("files", sorted(str(p.relative_to(staged))  # the first pass
                                        for p in staged.rglob("*.json")))
        return FakeAsv(value=2.0)(cmd, cwd=cwd, env=env, on_line=on_line)

    study.supervise.run_supervised = asv_sees  # restored by the fake_asv fixture's monkeypatch
    _run(root, tmp_path / "out.txt", grid="tiny", replace=True)
    # Under the name asv looks for, so that asv merges into it.
    assert seen["files"] == [f"{MACHINE}/{study.asv_result_name(MACHINE, HEAD)}"]


def test_a_benchmark_not_run_again_keeps_its_earlier_value(tmp_path, home, fake_asv):
    root = tmp_path / "results"
    fake_asv(value=7.0)
    _run(root, tmp_path / "out.txt", grid="tiny")
    fake_asv(value=2.0, bench="step.Optimize.time_optimize")  # as `--bench Optimize`
    _run(root, tmp_path / "out.txt", grid="tiny", replace=True)
    saved = json.loads((root / "tiny" / MACHINE / PORTABLE).read_text())["results"]
    assert saved == {"step.Step.time_propagate": [[7.0, 7.0]],
                     "step.Optimize.time_optimize": [[2.0, 2.0]]}


def test_results_name_the_python_version_not_the_path_of_the_interpreter(
        tmp_path, home, fake_asv):
    fake_asv()
    run = _run(tmp_path / "results", tmp_path / "out.txt", grid="tiny")
    files = sorted(p.name for p in (run.results_dir / MACHINE).iterdir())
    sidecar = PORTABLE.replace(".json", ".lrperf-machine.jsonl")
    assert files == sorted(["machine.json", PORTABLE, sidecar])
    described = json.loads((run.results_dir / MACHINE / sidecar).read_text())
    assert described["cpu"] and described["caches"] and "tuning" in described
    assert described["format"] == 1
    data = json.loads((run.results_dir / MACHINE / PORTABLE).read_text())
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert data["env_name"] == f"existing-py{version}"
    assert data["python"] == version and data["params"]["python"] == version
    for path in run.results_dir.rglob("*.json"):
        text = path.read_text()
        assert EXE not in text and EXE.replace(os.sep, "_") not in text


@pytest.mark.parametrize("how", ["interrupted", "failed"])
def test_an_interrupted_or_failed_run_leaves_earlier_results_as_they_were(
        tmp_path, home, fake_asv, how):
    root = tmp_path / "results"
    fake_asv(value=7.0)
    _run(root, tmp_path / "out.txt", grid="tiny")
    before = _tree(root / "tiny")
    fake_asv(interrupt=how == "interrupted", fail=how == "failed")
    expected = KeyboardInterrupt if how == "interrupted" else RuntimeError
    with pytest.raises(expected):
        _run(root, tmp_path / "out.txt", grid="tiny", replace=True)
    after = _tree(root / "tiny")
    # Only asv's log is new: the results are byte for byte those of before.
    assert after.pop("asv.log") and before.pop("asv.log")
    assert after == before
    assert _listing(root) == ["tiny"], "a staging folder was left"


def test_asv_output_goes_to_the_log_and_one_line_per_benchmark_to_the_terminal(
        tmp_path, home, fake_asv):
    fake_asv()
    run = _run(tmp_path / "results", tmp_path / "out.txt", grid="tiny")
    assert run.log == tmp_path / "results" / "tiny" / "asv.log"
    assert run.log.read_text() == ASV_OUTPUT
    shown = (tmp_path / "out.txt").read_text()
    assert "strategy   n_x" not in shown, "asv's tables reached the terminal"
    assert re.findall(r"\]\s+(\S+)\s+(\S+)", shown) == [
        ("step.Step.time_propagate", "ok"), ("step.Optimize.time_optimize", "failed"),
        ("hardware.track_read_bandwidth", "2.5±0.1GB/s")]
    assert (run.benchmarks, run.failed) == (3, 1)
    assert "asv.log" in shown


def test_a_stale_staging_folder_of_a_killed_run_is_removed(tmp_path, home, fake_asv):
    root = tmp_path / "results"
    root.mkdir()
    (root / ".tiny.tmp-dead").mkdir()
    (root / ".tiny.tmp-dead" / "half.json").write_text("{")
    fake_asv()
    _run(root, tmp_path / "out.txt", grid="tiny")
    assert _listing(root) == ["tiny"]


# -- the command ------------------------------------------------------------------------------

@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A stand-in checkout: the study's default folders land in it, not in the repository."""
    path = tmp_path / "checkout"
    path.mkdir()
    monkeypatch.setattr(study, "find_repo_root", lambda start=None: path)
    monkeypatch.chdir(path)
    return path


def _never(*args, **kwargs):
    raise AssertionError("the suite started although the input was bad")


@pytest.mark.parametrize("option", ["--out", "--results"])
def test_study_checks_its_folders_before_the_suite(tmp_path, checkout, monkeypatch, capsys,
                                                   option):
    monkeypatch.setattr(study, "run_suite", _never)
    (tmp_path / "file").write_text("x")
    code = cli.main(["study", "--grid", "tiny", option, str(tmp_path / "file" / "sub")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"lrperf study: error: {option}")


def test_study_refusing_to_replace_is_one_line_and_exit_2(checkout, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise study.ResultsExist("results of commit abcdef12 ... pass --replace")
    monkeypatch.setattr(study, "run_suite", refuse)
    assert cli.main(["study", "--grid", "tiny"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--replace" in err


def test_study_outside_a_checkout_says_what_it_needs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(study, "run_suite", _never)
    assert cli.main(["study", "--grid", "tiny"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "asv.conf.json" in err and "clone" in err


def test_study_ends_with_a_summary_and_writes_the_report_outside_tracked_files(
        tmp_path, checkout, monkeypatch, capsys):
    results = checkout / ".asv" / "results" / "tiny"
    shutil.copytree(FIXTURE_RESULTS, results)

    def fake_suite(repo_root, root, **kwargs):
        assert Path(root) == checkout / ".asv" / "results" and kwargs["grid"] == "tiny"
        return study.SuiteRun(results, results / "asv.log", "a83eb0b1" + "0" * 32, "tiny",
                              "vm", 65.0, 0, 12, 0)

    monkeypatch.setattr(study, "run_suite", fake_suite)
    monkeypatch.setattr(study, "publish_html",
                        lambda repo, res, log=None: checkout / ".asv" / "html" / "tiny")
    assert cli.main(["study", "--grid", "tiny"]) == 0
    out = capsys.readouterr().out
    assert (checkout / "reports" / "tiny" / "vm" / "README.md").is_file()
    assert re.search(r"done in .*: suite 1 min 05 s \(12 benchmarks\), report ", out)
    assert "results: .asv/results/tiny (commit a83eb0b1, machine vm, tiny run)" in out
    assert "asv log: .asv/results/tiny/asv.log" in out
    assert "report:  reports/tiny/README.md" in out
    learned = out.split("what this run found")[1].split("results:")[0]
    # The report's first screen; the fixture is an asv --quick run (one sample a point):
    # no speed-up is stated from it.
    assert "Fastest strategy per regime" in learned, learned
    assert "16 of 16 shapes unconfirmed: their times have 1 sample" in learned, learned
    assert not re.search(r"\d×", learned), learned
    assert sorted(p.name for p in checkout.iterdir()) == [".asv", "reports"]


def test_report_refuses_the_root_of_several_kinds(tmp_path, capsys):
    for kind in ("full", "tiny"):
        shutil.copytree(FIXTURE_RESULTS, tmp_path / "results" / kind)
    code = cli.main(["report", "--results", str(tmp_path / "results"),
                     "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "several kinds of run (full, tiny)" in err and "results/full" in err


def test_gitignore_covers_generated_output():
    for path in ("reports/full/vm/README.md", ".asv/results/full/asv.log",
                 "reports/.vm.tmp-1a2b", "reports/.README.md.tmp-1a2b", "x/.vm.old-1a2b"):
        out = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
        assert out.returncode == 0, f"{path} is not git-ignored"


def test_study_interrupted_says_the_earlier_results_are_unchanged(checkout, monkeypatch,
                                                                   capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(study, "run_suite", interrupted)
    assert cli.main(["study", "--grid", "tiny", "--quick"]) == 130
    err = capsys.readouterr().err
    assert err == ("lrperf study: interrupted (Ctrl-C); earlier results in "
                   ".asv/results/tiny are unchanged\n")


def test_study_quick_is_the_quick_grid_with_every_sample(checkout, monkeypatch):
    """--quick takes fewer points, never asv's --quick (one sample a point)."""
    seen = {}

    def fake(*args, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt
    monkeypatch.setattr(study, "run_suite", fake)
    assert cli.main(["study", "--quick"]) == 130
    assert seen["grid"] == "quick" and seen["quick"] is False


def test_a_second_study_on_the_same_results_is_refused(tmp_path, home, fake_asv):
    from lrperf import atomic
    root = tmp_path / "results"
    root.mkdir()
    fake = fake_asv()
    with atomic.exclusive(root / study.LOCK_NAME) as mine:
        assert mine
        with pytest.raises(study.StudyBusy, match="another lrperf study is running"):
            _run(root, tmp_path / "out.txt", grid="tiny")
    assert fake.calls == []
    _run(root, tmp_path / "out.txt", grid="tiny")  # free again once the first has ended
    assert len(fake.calls) == 1


# The re-measure pass: a step point whose samples are noisy is measured once more.
STEP = "step.Step.time_propagate"
STEP_PARAMS = [["'numpy'", "'numba'"], ["12", "209"]]
CALM = {"ci_99_a": 0.9, "ci_99_b": 1.1, "q_25": 0.95, "q_75": 1.05}
WIDE = {"ci_99_a": 0.1, "ci_99_b": 5.0, "q_25": 0.5, "q_75": 4.0}   # bimodal samples


def _name(point):
    return f"{STEP}({', '.join(point)})"


class NoisyAsv:
    """A fake ``asv run`` that writes the 4 points of STEP_PARAMS with the spreads
    ``first`` ({point name: stats}), and on a call with ``--bench`` merges new
    values for the points those regexes select, as asv's ``selected_idx`` does."""

    def __init__(self, first, second=CALM, interrupt_second=False, skipped=()):
        self.first, self.second, self.interrupt_second = first, second, interrupt_second
        self.skipped = set(skipped)   # point names the first pass skips (no value)
        self.calls = []

    def __call__(self, cmd, *, cwd, env, on_line):
        if "--append-samples" in cmd:  # the step's further processes: asv merges them
            self.appends = getattr(self, "appends", []) + [cmd]
            return 0
        self.calls.append(cmd)
        results = Path(json.loads(Path(cmd[cmd.index("--config") + 1]).read_text())
                       ["results_dir"])
        regexes = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--bench"]
        folder = results / MACHINE
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "machine.json").write_text(json.dumps({"machine": MACHINE}))
        path = folder / study.asv_result_name(MACHINE, HEAD)
        points = [_name(p) for p in itertools.product(*STEP_PARAMS)]
        if regexes and path.is_file():  # the second pass (the first selects the grid's benchmarks)
            row = json.loads(path.read_text())["results"][STEP]
            for i, name in enumerate(points):
                if any(re.search(r, name) for r in regexes):
                    row[0][i] = 2.0
                    for k, key in enumerate(("ci_99_a", "ci_99_b", "q_25", "q_75")):
                        row[5 + k][i] = self.second[key] * 2.0
            if self.interrupt_second:
                path.write_text('{"half": ')
                raise KeyboardInterrupt
        else:
            stats = [self.first.get(name, CALM) for name in points]
            row = [[None if name in self.skipped else 1.0 for name in points],
                   STEP_PARAMS, None, None, None,
                   *([s[key] for s in stats] for key in ("ci_99_a", "ci_99_b", "q_25", "q_75"))]
        path.write_text(json.dumps({
            "commit_hash": HEAD, "env_name": "existing-py" + EXE.replace(os.sep, "_"),
            "python": sys.executable, "params": {"machine": MACHINE, "python": sys.executable},
            "requirements": {}, "date": 1, "env_vars": {}, "durations": {},
            "result_columns": ["result", "params", "version", "started_at", "duration",
                               "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75"],
            "results": {STEP: row}, "version": 2}))
        return 0


def _saved_values(run):
    from asv.results import Results
    res = Results.load(str(run.results_dir / MACHINE / PORTABLE))
    values = res.get_result_value(STEP, res.get_result_params(STEP))
    return dict(zip((_name(p) for p in itertools.product(*STEP_PARAMS)), values))


def test_noisy_points_are_measured_once_more_and_only_they(tmp_path, home, monkeypatch):
    noisy = _name(("'numba'", "12"))
    fake = NoisyAsv({noisy: WIDE})
    monkeypatch.setattr(study.supervise, "run_supervised", fake)
    run = _run(tmp_path / "results", tmp_path / "out.txt", grid="full")
    assert len(fake.calls) == 2
    regexes = [fake.calls[1][i + 1] for i, a in enumerate(fake.calls[1]) if a == "--bench"]
    chosen = [n for n in map(_name, itertools.product(*STEP_PARAMS))
              if any(re.search(r, n) for r in regexes)]
    assert chosen == [noisy]
    assert _saved_values(run) == {n: (2.0 if n == noisy else 1.0)
                                  for n in map(_name, itertools.product(*STEP_PARAMS))}
    assert run.remeasured == (1, 0)
    sidecar = json.loads((run.results_dir / MACHINE / PORTABLE.replace(
        ".json", ".lrperf-machine.jsonl")).read_text())
    assert sidecar["study"]["remeasured"] == {"points": 1, "still_noisy": 0,
                                              "max": study.remeasure.REMEASURE_MAX}
    # what planning numba_fused cost before the suite (the tests plan nothing)
    assert sidecar["study"]["numba_fused_plan"]["mode"] == "off"
    assert sidecar["study"]["format"] == study.accounting.RUN_INFO_FORMAT
    assert set(sidecar["study"]["seconds"]) == {"suite", "remeasure", "plan"}
    assert all(v >= 0 for v in sidecar["study"]["seconds"].values())
    shown = (tmp_path / "out.txt").read_text()
    assert "re-measuring 1 noisy point(s) once" in shown
    assert "re-measured 1 point(s): 1 now calm, 0 still noisy" in shown


def test_a_point_still_noisy_is_counted_and_calm_runs_have_no_second_pass(
        tmp_path, home, monkeypatch):
    noisy = _name(("'numpy'", "209"))
    fake = NoisyAsv({noisy: WIDE}, second=WIDE)
    monkeypatch.setattr(study.supervise, "run_supervised", fake)
    run = _run(tmp_path / "results", tmp_path / "out.txt", grid="full")
    assert run.remeasured == (1, 1)
    assert "0 now calm, 1 still noisy" in (tmp_path / "out.txt").read_text()
    # A first-look grid's points have their processes: no second pass either.
    for kwargs in ({"remeasure": False}, {"quick": True}, {"grid": "tiny"}):
        fake = NoisyAsv({noisy: WIDE})
        monkeypatch.setattr(study.supervise, "run_supervised", fake)
        other = _run(tmp_path / "other", tmp_path / "out.txt", replace=True,
                     **{"grid": "full", **kwargs})
        assert len(fake.calls) == 1, kwargs
        sidecar = json.loads((other.results_dir / MACHINE / PORTABLE.replace(
            ".json", ".lrperf-machine.jsonl")).read_text())
        assert sidecar["study"]["remeasured"] is None
    fake = NoisyAsv({})
    monkeypatch.setattr(study.supervise, "run_supervised", fake)
    _run(tmp_path / "calm", tmp_path / "out.txt", grid="full")
    assert len(fake.calls) == 1


def test_the_noisiest_points_go_first_and_their_number_is_bounded(tmp_path, home,
                                                                   monkeypatch):
    widths = {_name(p): {**WIDE, "ci_99_b": 2.0 + i, "q_75": 2.0 + i}
              for i, p in enumerate(itertools.product(*STEP_PARAMS))}
    fake = NoisyAsv(widths)
    monkeypatch.setattr(study.supervise, "run_supervised", fake)
    monkeypatch.setattr(study.remeasure, "REMEASURE_MAX", 2)
    run = _run(tmp_path / "results", tmp_path / "out.txt", grid="full")
    regexes = [fake.calls[1][i + 1] for i, a in enumerate(fake.calls[1]) if a == "--bench"]
    names = list(map(_name, itertools.product(*STEP_PARAMS)))
    assert [n for n in names[::-1] if any(re.search(r, n) for r in regexes)] == names[:1:-1]
    assert run.remeasured[0] == 2
    assert "the 2 noisiest" in (tmp_path / "out.txt").read_text()


def test_an_interrupted_re_measure_pass_keeps_the_first_pass(tmp_path, home, monkeypatch):
    noisy = _name(("'numba'", "209"))
    fake = NoisyAsv({noisy: WIDE}, interrupt_second=True)
    monkeypatch.setattr(study.supervise, "run_supervised", fake)
    root = tmp_path / "results"
    with pytest.raises(KeyboardInterrupt):
        _run(root, tmp_path / "out.txt", grid="full")
    assert len(fake.calls) == 2
    from asv.results import Results
    res = Results.load(str(root / "full" / MACHINE / PORTABLE))
    assert res.get_result_value(STEP, STEP_PARAMS) == [1.0] * 4
    assert _listing(root) == ["full"], "a staging folder was left"
    assert "the first pass's results are saved" in (tmp_path / "out.txt").read_text()


def test_the_progress_bar_counts_points_as_their_processes_announce_them(tmp_path):
    import io
    (tmp_path / "benchmarks.json").write_text(json.dumps({
        "a.A.time_x": {"name": "a.A.time_x", "params": [["1", "2"], ["'C'", "'F'", "'G'"]]},
        "b.track_y": {"name": "b.track_y", "params": []}, "version": 2}))
    assert study.point_counts(tmp_path) == {"a.A.time_x": 6, "b.track_y": 1}
    assert study.point_counts(tmp_path, [r"^a\.A\.time_x\(2, 'F'\)$"]) == {"a.A.time_x": 1}
    assert study.point_counts(tmp_path / "nowhere") is None
    points = tmp_path / "points"
    with open(tmp_path / "log", "w") as log:
        progress = study.Progress(log, io.StringIO(), results_dir=tmp_path,
                                   points_file=points)
        with progress:
            task = progress.bar.tasks[0]
            points.write_bytes(b"1.0 step\n" * 4)
            progress._refresh()
            assert (task.completed, task.total) == (4, 7)
            points.write_bytes(b"1.0 step\n" * 6)  # asv reports a benchmark after its points
            progress.feed("[50.00%] ··· a.A.time_x    ok\n")
            assert task.completed == 6
            progress._refresh()
            assert task.completed == 6
            points.write_bytes(b"1.0 step\n" * 7)
            progress.feed("[100.00%] ··· b.track_y    2.0\n")
            assert task.completed == 7
    assert progress.points == (7, 7)


def test_benchmarks_announce_each_point_once_in_the_file_the_study_names(tmp_path,
                                                                         monkeypatch):
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks import common
    finally:
        sys.path.remove(str(REPO))
    assert common.PROGRESS_ENV == study.PROGRESS_ENV
    monkeypatch.setattr(common, "_announced", False)
    monkeypatch.setenv(study.PROGRESS_ENV, str(tmp_path / "points"))
    common.announce("step")
    common.announce("step")  # asv may call setup again in the same point process
    line = (tmp_path / "points").read_bytes()
    assert line.count(b"\n") == 1 and line.endswith(b" step\n")
    assert abs(float(line.split()[0]) - time.time()) < 60


def test_family_seconds_split_the_pass_between_the_families_that_ran(tmp_path):
    from lrperf.results_format import family_seconds
    points = tmp_path / "points"
    # Out of order (two processes may append at once), a torn line, a hostile name.
    points.write_bytes(b"100.0 step\n104.0 optimize\n102.5 step\nnot a line\n"
                       b"106.0 a/../b\n")
    assert family_seconds(points, end=110.0) == {"step": 4.0, "optimize": 2.0, "a/../b": 4.0}
    assert family_seconds(tmp_path / "missing", end=1.0) == {}


def test_a_family_name_cannot_break_the_progress_line(tmp_path):
    from lrperf.results_format import announce_point, announced_points, family_seconds
    env = {study.PROGRESS_ENV: str(tmp_path / "points")}
    announce_point("evil name\n1 x", environ=env, clock=lambda: 5.0)
    announce_point("ok", environ=env, clock=lambda: 7.0)
    assert announced_points(tmp_path / "points") == 2
    assert family_seconds(tmp_path / "points", end=8.0) == {"evil_name_1_x": 2.0, "ok": 1.0}


def test_skipped_points_are_counted_by_reason(tmp_path):
    """The sidecar says why points are missing: each NaN point of a result file by
    the suite's own rules (registry traits), failures (null) are not skips."""
    import lrperf
    from lrperf.registry import STRATEGIES
    f64_only = next(n for n, r in STRATEGIES.items() if r.available and "float32" not in r.dtypes)
    both = next(n for n, r in STRATEGIES.items() if r.available and "float32" in r.dtypes)
    gpu = next((n for n, r in STRATEGIES.items() if r.device == "gpu" and not r.available),
               None)
    strategies = [f64_only, both] + ([gpu] if gpu else [])
    params = [[repr(s) for s in strategies], ["12"], ["13"], ["'F'"], ["'float64'", "'float32'"],
              ["1"]]
    values = {(f64_only, "float64"): 1e-3, (f64_only, "float32"): math.nan,
              (both, "float64"): math.nan, (both, "float32"): None,
              (gpu, "float64"): math.nan, (gpu, "float32"): math.nan}
    row = [[values[(s, d)] for s in strategies for d in ("float64", "float32")], params,
           None, None, 12.5]
    stage = tmp_path / "stage"
    (stage / MACHINE).mkdir(parents=True)
    (stage / "benchmarks.json").write_text(json.dumps(
        {STEP: {"param_names": list(lrperf.grid.AXES)}, "version": 2}))
    (stage / MACHINE / study.asv_result_name(MACHINE, HEAD)).write_text(json.dumps({
        "commit_hash": HEAD, "env_name": "existing-py", "python": "3.11",
        "params": {"machine": MACHINE}, "requirements": {}, "date": 1, "env_vars": {},
        "durations": {}, "result_columns": ["result", "params", "version", "started_at",
                                            "duration"],
        "results": {STEP: row}, "version": 2}))
    got = study.accounting.run_accounting(stage, HEAD)
    want = {"read through a float64 copy": 1, "estimated too slow": 1}
    if gpu:
        want["no GPU"] = 2
    assert got == {"skipped": want}


def test_a_grids_selection_picks_its_benchmarks_as_asv_matches_them():
    """asv matches a parametrized benchmark's regex against NAME(params) only."""
    from types import SimpleNamespace

    from asv.benchmarks import Benchmarks

    from lrperf import grid
    found = [{"name": grid.BENCH_STEP, "params": [["'numpy'"], ["12"]]},
             {"name": grid.BENCH_PEAKMEM, "params": [["'numpy'"], ["12"]]},
             {"name": grid.BENCH_XLA_DOTS, "params": []},
             {"name": grid.BENCH_FIRST_CALL, "params": [["'numpy'"]]}]
    chosen = Benchmarks(SimpleNamespace(benchmark_dir=""), found,
                        regex=study.accounting.default_selection("tiny"))
    assert sorted(chosen) == sorted([grid.BENCH_STEP, grid.BENCH_XLA_DOTS])
    assert study.accounting.default_selection("full") is None


def test_each_step_process_is_a_run_of_its_own_whose_samples_are_appended(tmp_path, home,
                                                                           monkeypatch):
    """The processes one forkserver forks agree with each other more than with the
    next run's: the study times the step's processes in separate asv runs."""
    points = [_name(p) for p in itertools.product(*STEP_PARAMS)]
    fake = NoisyAsv({}, skipped=[points[1]])
    monkeypatch.setattr(study.supervise, "run_supervised", fake)
    _run(tmp_path / "results", tmp_path / "out.txt", grid="tiny")
    from lrperf.grid import GRIDS
    PROCESSES = GRIDS["tiny"].processes
    first, = fake.calls
    assert first[first.index("-a") + 1] == "rounds=1" and "--append-samples" not in first
    assert len(fake.appends) == PROCESSES - 1
    for cmd in fake.appends:
        assert cmd[cmd.index("-a") + 1] == "rounds=1"
        chosen = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--bench"]
        # Exactly the points the first pass timed: the skipped one is not started again.
        picked = [n for n in points if any(re.search(r, n) for r in chosen)]
        assert picked == [n for n in points if n != points[1]]
        assert not any(re.search(r, "step.Optimize.time_optimize('numba')") for r in chosen)
    shown = (tmp_path / "out.txt").read_text()
    assert f"the step's process {PROCESSES} of {PROCESSES}" in shown


def test_the_further_processes_time_the_step_points_of_a_selection_only():
    """A user's --bench also picks other benchmarks (".": all of them); only its step
    points need more processes."""
    step = STEP + "('numba', 12)"
    for bench, picked, left in ((".", [step], ["step.Optimize.time_optimize('numba')",
                                               "first_call.FirstCall.timeraw_first_call(1)"]),
                                (r"^step\.Step\.time_propagate\('numba'", [step],
                                 [STEP + "('numpy', 12)"]),
                                ("optimize", [], [step])):
        regexes = study.run.step_selection(bench)
        assert all(any(re.search(r, n) for r in regexes) for n in picked), bench
        assert not any(re.search(r, n) for r in regexes for n in left), bench



def test_the_plan_time_before_the_suite_is_kept_when_the_machine_is_described(tmp_path,
                                                                             monkeypatch):
    """The sidecar's plan time is numba_fused's planning plus describing the machine
    after the suite, never the second alone (a report once read "plan 0 s" for 25 s)."""
    folder = tmp_path / MACHINE
    folder.mkdir()
    (folder / study.asv_result_name(MACHINE, HEAD)).write_text(json.dumps(_result_file(HEAD, 1.0)))
    clock = {"now": 1000.0}

    def describe():   # describing the machine takes 1.5 s of a fake clock
        clock["now"] += 1.5
        return {"cpu": "test"}

    monkeypatch.setattr(study.store.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr(study.store, "describe_machine", describe)
    info = {"seconds": {"plan": 25.0, "suite": 100.0}}
    study.store.make_portable(tmp_path, HEAD, info)
    sidecar = json.loads((folder / PORTABLE.replace(".json", ".lrperf-machine.jsonl")).read_text())
    assert sidecar["study"]["seconds"] == {"plan": 26.5, "suite": 100.0}


def test_reference_lines_keep_each_process_last_in_the_order_processes_began(tmp_path):
    from lrperf import results_format as rf
    path = tmp_path / "refs"
    env = {rf.REFERENCE_ENV: str(path)}
    a, b = ["'numpy'", "16"], ["'numba'", "16"]
    rf.record_reference(a, 1.0, process="p1", count=1, environ=env)
    rf.record_reference(b, 5.0, process="p2", count=1, environ=env)
    rf.record_reference(a, 2.0, process="p1", count=2, environ=env)
    rf.record_reference(a, 3.0, process="p3", count=1, environ=env)
    with open(path, "a", encoding="utf-8") as f:   # what no benchmark writes is left out
        f.write("not json\n[1, 2]\n")
        f.write(json.dumps({"point": a, "process": "p4", "count": 1, "s": -1.0}) + "\n")
        f.write(json.dumps({"point": ["x" * 500], "process": "p5", "count": 1, "s": 1.0}) + "\n")
        f.write(json.dumps({"point": a, "process": "p6", "count": True, "s": 1.0}) + "\n")
        f.write(json.dumps({"point": [1], "process": "p7", "count": 1, "s": 1.0}) + "\n")
    assert rf.read_references(path) == [(tuple(a), 2.0), (tuple(b), 5.0), (tuple(a), 3.0)]
    assert rf.read_references(tmp_path / "missing") == []
    rf.record_reference(a, 1.0, process="p", count=1, environ={})   # no file named: nothing
    entry = rf.reference_entry([[(tuple(a), 1.0), (tuple(b), 5.0)], [(tuple(a), 2.0)]],
                               again=[(tuple(b), 7.0), (tuple(b), 8.0)])
    assert rf.references_of({"study": {"reference": entry}}) == {tuple(a): [1.0, 2.0],
                                                                 tuple(b): [7.0, 8.0]}
    other = dict(entry, workload="something else")
    assert rf.references_of({"study": {"reference": other}}) == {}
    damaged = dict(entry, points=[[a, [1.0, "x"]], "junk", [["y" * 500], [1.0]], [b, [2.0]]])
    assert rf.references_of({"study": {"reference": damaged}}) == {tuple(b): [2.0]}
    assert rf.references_of({"study": {"reference": dict(entry, points="x")}}) == {}
    assert rf.references_of(None) == {} and rf.references_of({"study": 3}) == {}


def test_the_sidecar_holds_each_step_points_references_in_pass_order(tmp_path, home,
                                                                    monkeypatch):
    from lrperf import results_format as rf
    points = [p for p in itertools.product(*STEP_PARAMS)]
    fake = NoisyAsv({})
    passes = []

    def with_references(cmd, *, cwd, env, on_line):
        passes.append(cmd)
        for k, point in enumerate(points):
            rf.record_reference(list(point), float(len(passes)), process=f"{len(passes)}-{k}",
                                count=1, environ=env)
        return fake(cmd, cwd=cwd, env=env, on_line=on_line)

    monkeypatch.setattr(study.supervise, "run_supervised", with_references)
    run = _run(tmp_path / "results", tmp_path / "out.txt", grid="tiny")
    from lrperf.grid import GRIDS
    PROCESSES = GRIDS["tiny"].processes
    sidecar = json.loads((run.results_dir / MACHINE / PORTABLE.replace(
        ".json", ".lrperf-machine.jsonl")).read_text())
    refs = rf.references_of(sidecar)
    assert refs == {tuple(p): [float(k) for k in range(1, PROCESSES + 1)] for p in points}

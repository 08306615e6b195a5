"""``lrperf study``: run the asv suite on the working tree, then build the report.

The suite (``benchmarks/``, configured by ``asv.conf.json``) runs in the
current Python against the lrperf importable here (the working tree, for an
editable install); results are recorded under the commit hash of HEAD.

Results never mix and are never lost:

- each grid and mode has a results folder of its own, ``RESULTS/<kind>``
  (``full``, ``quick``, ``tiny``, with ``-quick`` for asv's ``--quick``), so a
  tiny run cannot replace a full one;
- a run that would replace results of the same commit, kind and machine
  stops before it starts unless ``replace`` is given;
- asv writes into a staging folder beside the results; its files are moved
  in (one ``os.replace`` each) only when asv has finished, so an interrupted,
  killed or failed run leaves the earlier results as they were;
- the environment is named by the Python version (``existing-py3.11``), not
  by the interpreter's path, as asv names it, so no result, report or file
  name carries a path of the machine that ran it.

asv's own output goes to ``RESULTS/<kind>/asv.log``; the terminal shows one
line per benchmark and a progress bar with an ETA (rich).
"""
import contextlib
import itertools
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .grid import GRIDS

LOG_NAME = "asv.log"


def find_repo_root(start=None):
    """The source checkout holding asv.conf.json: ``start`` (the cwd) or a folder above it."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "asv.conf.json").is_file() and (folder / "benchmarks").is_dir():
            return folder
    raise FileNotFoundError(
        "lrperf study needs a source checkout of lrperf (asv.conf.json and benchmarks/), "
        f"none found in {here} or its parents: run it inside a clone of the repository"
    )


def _asv():
    try:
        import asv  # noqa: F401
        import psutil  # noqa: F401
        from asv import util
    except ImportError as exc:
        raise ImportError(f"lrperf study needs asv and psutil ({exc}): "
                          "pip install 'lrperf[bench]'") from None
    return util


def _git(repo_root, *args):
    try:
        out = subprocess.run(["git", *args], cwd=repo_root, check=True,
                             capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise FileNotFoundError(
            f"lrperf study records results under a git commit: `git {' '.join(args)}` "
            f"failed in {repo_root} ({exc})") from None
    return out.stdout.strip()


def run_kind(grid, quick):
    """Name of the results folder of a grid and mode: runs of one kind compare."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {list(GRIDS)}, got {grid!r}")
    return f"{grid}-quick" if quick else grid


def write_config(repo_root, results_dir, folder, html_dir=None):
    """A copy of asv.conf.json with absolute paths and ``results_dir``; returns its path."""
    util = _asv()
    conf = util.load_json(str(repo_root / "asv.conf.json"), js_comments=True)
    for key in ("env_dir", "html_dir"):
        conf[key] = str((repo_root / conf[key]).resolve())
    if html_dir is not None:
        conf["html_dir"] = str(Path(html_dir).resolve())
    conf["repo"] = str(repo_root)
    conf["benchmark_dir"] = str(repo_root / conf.get("benchmark_dir", "benchmarks"))
    conf["results_dir"] = str(Path(results_dir).resolve())
    path = Path(folder) / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def ensure_machine_file(env):
    """asv refuses to run before ``asv machine`` has described the machine."""
    if not (Path(env.get("HOME", Path.home())) / ".asv-machine.json").is_file():
        out = subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"`asv machine --yes` failed (exit status {out.returncode}): "
                               f"{out.stdout.strip()[-300:]}")


def machine_name(env):
    """The machine name asv will record results under (as asv picks it), or None."""
    try:
        data = json.loads((Path(env.get("HOME", Path.home())) / ".asv-machine.json")
                          .read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    names = [k for k, v in data.items() if k != "version" and isinstance(v, dict)]
    node = platform.uname().node
    if node in names:
        return str(data[node].get("machine", node))
    if len(names) == 1:
        return str(data[names[0]].get("machine", names[0]))
    return None


def existing_results(kind_dir, commit, machine=None):
    """Result files of ``commit`` in ``kind_dir`` (of ``machine``, or of any machine)."""
    pattern = f"{machine if machine else '*'}/{commit[:8]}-*.json"
    return sorted(p for p in Path(kind_dir).glob(pattern) if p.name != "machine.json")


def _count_points(path):
    """Measured values in an asv result file (for the replace warning)."""
    try:
        data = json.loads(Path(path).read_text())
        total = 0
        for entry in data.get("results", {}).values():
            value = entry[0] if isinstance(entry, list) and entry else entry
            values = value if isinstance(value, list) else [value]
            total += sum(v is not None for v in values)
        return total
    except (OSError, ValueError, TypeError, AttributeError, IndexError):
        return None


class ResultsExist(ValueError):
    """A run would replace earlier results; bad input until ``replace`` is asked for."""


class StudyBusy(RuntimeError):
    """Another study is running on the same results."""


LOCK_NAME = ".lrperf-study.lock"


def _relative(path):
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass
class SuiteRun:
    results_dir: Path     # RESULTS/<kind>: asv's results folder of this kind of run
    log: Path             # asv's own output
    commit: str
    kind: str
    machine: object       # str or None
    seconds: float
    exit_status: int
    benchmarks: int       # benchmarks asv reported as done
    failed: int           # of those, how many failed
    points: tuple = (None, None)   # (points its processes announced, points asv selected)
    remeasured: tuple = (0, 0)     # (noisy points measured again, of those still noisy)


# The file each benchmark process appends one line to (benchmarks/common.py
# names it the same; older commits' benchmarks may not, and then the bar moves
# once per benchmark instead of once per point).
PROGRESS_ENV = "LRPERF_PROGRESS_FILE"
_PROGRESS_LINE = len(b"point\n")


def point_counts(results_dir, bench=None):
    """{benchmark: number of points asv will run}, from the benchmarks.json asv
    writes after discovery, selected as asv selects (``--bench`` regexes also
    match ``name(param, ...)``); None until that file exists."""
    from types import SimpleNamespace

    from asv.benchmarks import Benchmarks
    try:
        data = json.loads((Path(results_dir) / "benchmarks.json").read_text(encoding="utf-8"))
        found = [v for k, v in data.items() if k != "version" and isinstance(v, dict)]
        chosen = Benchmarks(SimpleNamespace(benchmark_dir=""), found, regex=bench)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {name: 1 if sel is None else len(sel)
            for name, sel in chosen.benchmark_selection.items() if name in chosen}


class _Progress:
    """asv's output -> its log file; the terminal gets one line per benchmark and a
    rich bar of points with an ETA.

    asv reports a parametrized benchmark only when all its points are done, so
    points are counted from the progress file each benchmark process appends
    to (``PROGRESS_ENV``), polled twice a second, against the total from
    asv's benchmarks.json.  asv's own lines are ``[ 42.86%] ... NAME status``.
    """
    LINE = re.compile(r"^\s*\[\s*(\d+(?:\.\d+)?)%\]\s*[\u00b7.]*\s*(.*?)\s*$")
    RUNNING = re.compile(r"^Running \((\S+?)-*\)")
    NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
    POLL_S = 0.5

    def __init__(self, log, stream=None, *, results_dir=None, points_file=None, bench=None,
                 title="asv"):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self.log = log
        self.console = Console(file=stream, highlight=False) if stream else Console(
            highlight=False)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("points"), TimeElapsedColumn(),
                            TextColumn("eta"), TimeRemainingColumn(),
                            console=self.console, transient=True)
        self.task = self.bar.add_task(f"starting {title}", total=None)
        self.results_dir, self.points_file, self.bench = results_dir, points_file, bench
        self.counts = None
        self.done = 0
        self.failed = 0
        self.done_points = 0
        self.lines_at_done = 0
        self.points = (None, None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self.bar.start()
        self._poller.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._poller.join()
        self._refresh()
        self.bar.stop()
        total = sum(self.counts.values()) if self.counts is not None else None
        # (points announced by their processes, points selected; None if unknown),
        # kept: the progress file goes with the run's temporary folder.
        self.points = (self._lines(), total)

    def _lines(self):
        try:
            return os.stat(self.points_file).st_size // _PROGRESS_LINE
        except (OSError, TypeError):
            return 0

    def _refresh(self):
        with self._lock:
            if self.counts is None and self.results_dir is not None:
                self.counts = point_counts(self.results_dir, self.bench)
            if self.counts is None:
                return
            total = sum(self.counts.values())
            running = max(0, min(self._lines() - self.lines_at_done, total - self.done_points))
            self.bar.update(self.task, total=total,
                            completed=min(total, self.done_points + running))

    def _poll(self):
        while not self._stop.wait(self.POLL_S):
            self._refresh()

    def feed(self, line):
        self.log.write(line)
        self.log.flush()
        match = self.LINE.match(line)
        if not match:
            return
        percent, text = float(match.group(1)), match.group(2)
        running = self.RUNNING.match(text)
        words = text.split()
        if running:
            self.bar.update(self.task, description=running.group(1))
        elif len(words) >= 2 and self.NAME.match(words[0]):
            status = " ".join(words[1:])
            self.done += 1
            self.failed += status.startswith("failed")
            with self._lock:
                if self.counts is None and self.results_dir is not None:
                    self.counts = point_counts(self.results_dir, self.bench)
                self.done_points += (self.counts or {}).get(words[0], 0)
                self.lines_at_done = self._lines()
            self._refresh()
            self.bar.console.print(f"  [{percent:3.0f}%] {words[0]}  {status}")
            self.bar.update(self.task, description=f"done {words[0]}")
        elif words:
            self.bar.update(self.task, description=text[:60])


def portable_env_name():
    """The environment's name in the results: the Python version, not the path of
    the interpreter on the machine that ran it."""
    return f"existing-py{sys.version_info[0]}.{sys.version_info[1]}"


def asv_result_name(machine, commit):
    """The file name asv itself gives results of ``--python=same`` (its environment
    is named after the interpreter's absolute path), by asv's own functions."""
    from asv import util
    from asv.environment import get_env_name
    from asv.results import get_filename
    exe = os.path.abspath(util.which(sys.executable))
    env = get_env_name("existing", exe.replace(os.path.sep, "_"), {}, {})
    return Path(get_filename(machine, commit, env)).name


def _portable_name(commit):
    return f"{commit[:8]}-{portable_env_name()}.json"


def _stage_existing(files, kind_dir, stage, commit):
    """Copy a commit's earlier result files into the staging folder under the names
    asv looks for: asv merges new results into them, so benchmarks not re-run keep
    their values."""
    staged = {}
    for path in files:
        dest = stage / path.relative_to(kind_dir)
        if path.name == _portable_name(commit):
            dest = dest.with_name(asv_result_name(path.parent.name, commit))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        staged[dest] = _stamp(dest)
    return staged


def _stamp(path):
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


def _written(stage, staged):
    """Result files asv wrote in ``stage``: new ones, or staged copies it rewrote."""
    return [p for p in stage.glob("*/*.json")
            if p.name != "machine.json" and staged.get(p) != _stamp(p)]


def describe_machine():
    """What the report says of the machine: CPU, SIMD flags, caches, versions, and the
    tuner's choices for numba_fused."""
    from .grid import DTYPES, thread_counts
    from .machine import machine_info
    from .tuning import plan
    return {**machine_info(), "tuning": plan(thread_counts(), DTYPES)}


def _make_portable(stage, commit, run_info=None):
    """Rename asv's result files of this run to the portable environment name and
    drop the interpreter's path from them (a report must not show the paths of
    the machine that ran it).  A file asv named otherwise than predicted is left
    as asv wrote it.  ``run_info`` (what this study did, e.g. its re-measure
    pass) goes into the sidecar as its "study" entry."""
    for path in stage.glob(f"*/{commit[:8]}-*.json"):
        if path.name != asv_result_name(path.parent.name, commit):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        data["env_name"] = portable_env_name()
        data["python"] = version
        if isinstance(data.get("params"), dict) and "python" in data["params"]:
            data["params"]["python"] = version
        target = path.with_name(_portable_name(commit))
        target.write_text(json.dumps(data), encoding="utf-8")
        path.unlink()
    from .report.load import write_sidecar
    info = describe_machine()
    if run_info is not None:
        info["study"] = run_info
    for path in stage.glob(f"*/{commit[:8]}-*.json"):
        write_sidecar(path, info)


def _move_results(stage, kind_dir):
    """Move every file asv wrote into ``kind_dir``, one atomic rename each."""
    moved = []
    from .report.load import SIDECAR_SUFFIX
    for path in sorted([*stage.rglob("*.json"), *stage.rglob(f"*{SIDECAR_SUFFIX}")]):
        dest = kind_dir / path.relative_to(stage)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
        moved.append(dest)
    return moved


def run_suite(repo_root=None, results_dir=None, *, quick=False, grid="full", bench=None,
              show_stderr=False, replace=False, remeasure=True, stream=None):
    """Run the asv suite on the working tree; return a SuiteRun (its ``results_dir``
    is ``results_dir/<kind>``).

    ``results_dir`` is the root of the results folders (default
    ``.asv/results`` in the checkout); ``grid`` is LRPERF_BENCH_GRID ("full",
    "quick" or "tiny"); ``bench`` an asv ``-b`` regular expression;
    ``show_stderr`` puts the benchmarks' own output in the log;
    ``replace`` allows replacing results of the same commit, kind and
    machine (ResultsExist otherwise, before anything runs); ``remeasure``
    runs a second asv pass over the step points the report would flag as
    noisy (at most REMEASURE_MAX, noisiest first), whose new samples replace
    the first ones.  Progress goes to ``stream`` (stdout).
    """
    kind = run_kind(grid, quick)
    _asv()
    repo_root = Path(repo_root) if repo_root is not None else find_repo_root()
    root = Path(results_dir) if results_dir is not None else repo_root / ".asv" / "results"
    kind_dir = root / kind
    commit = _git(repo_root, "rev-parse", "HEAD")
    env = dict(os.environ, LRPERF_BENCH_GRID=grid)
    ensure_machine_file(env)
    machine = machine_name(env)
    earlier = existing_results(kind_dir, commit, machine)
    say = (lambda text: print(text, file=stream, flush=True)) if stream else (
        lambda text: print(text, flush=True))
    if earlier:
        points = _count_points(earlier[0])
        what = (f"{_relative(earlier[0])}" + (f" ({points} measured points)"
                                              if points is not None else ""))
        if not replace:
            raise ResultsExist(
                f"results of commit {commit[:8]} for the {kind} run on machine "
                f"{machine or '?'} already exist in {what}; pass --replace to measure again "
                "(they are kept until the new run has finished), or commit first")
        say(f"warning: replacing the results in {what} (kept until this run has finished)")
    if _git(repo_root, "status", "--porcelain", "--untracked-files=no"):
        say(f"note: the working tree has uncommitted changes; its results are recorded "
            f"under HEAD {commit[:8]}")
    kind_dir.mkdir(parents=True, exist_ok=True)
    log_path = kind_dir / LOG_NAME
    with contextlib.ExitStack() as stack:
        if not stack.enter_context(atomic.exclusive(root / LOCK_NAME)):
            raise StudyBusy(
                f"another lrperf study is running on {_relative(root)}: wait for it to end "
                "(two at once would also disturb each other's timings)")
        t0 = time.perf_counter()
        stage = stack.enter_context(atomic.temp_folder(kind_dir))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="lrperf-study-"))
        log = stack.enter_context(open(log_path, "w", encoding="utf-8"))
        staged = _stage_existing(earlier, kind_dir, stage, commit)
        config = write_config(repo_root, stage, tmp)
        base = [sys.executable, "-m", "asv", "run", "--config", str(config), "--python=same",
                "--set-commit-hash", commit, "--launch-method", "forkserver"]
        if quick:
            base.append("--quick")
        if show_stderr:
            base.append("--show-stderr")
        say(f"running the benchmark suite ({GRIDS[grid].description}"
            f"{', asv --quick' if quick else ''}) on the working tree; "
            f"asv's output: {_relative(log_path)}")
        selection = [bench] if bench else None
        progress = _asv_pass(base, selection, log, stream, stage, Path(tmp) / "points", env,
                             repo_root, "the suite")
        code = progress.code
        seconds = time.perf_counter() - t0
        # asv exits non-zero when some benchmark failed; the others are saved.
        if not _written(stage, staged):
            raise RuntimeError(f"asv run failed (exit status {code}) and wrote no results; "
                               f"see {_relative(log_path)}")
        second, remeasured = None, (0, 0)
        picks = noisy_points(stage, commit)[:REMEASURE_MAX] if remeasure and not quick else []
        if picks:
            say(f"re-measuring {len(picks)} noisy point(s) once (asv's 99% interval wider "
                "than the median, or quartiles more than half of it apart"
                + (f"; the {REMEASURE_MAX} noisiest" if len(picks) == REMEASURE_MAX else "")
                + ")")
            log.write(f"\n# lrperf: re-measure pass of {len(picks)} noisy points\n")
            regexes = ["^" + re.escape(f"{name}({', '.join(point)})") + "$"
                       for name, point, _ in picks]
            first = _snapshot(stage, commit, Path(tmp) / "first-pass")
            try:
                second = _asv_pass(base, regexes, log, stream, stage, Path(tmp) / "points-2",
                                   env, repo_root, "re-measure")
            except KeyboardInterrupt:
                # The first pass is a whole run: keep it, as it was before the second began.
                for path, copy in first.items():
                    os.replace(copy, path)
                _make_portable(stage, commit)
                _move_results(stage, kind_dir)
                say("interrupted during the re-measure pass: the first pass's results are saved")
                raise
            still = {(n, p) for n, p, _ in noisy_points(stage, commit)}
            kept = sum((n, p) in still for n, p, _ in picks)
            remeasured = (len(picks), kept)
            say(f"re-measured {len(picks)} point(s): {len(picks) - kept} now calm, {kept} "
                "still noisy (flagged in the report)")
            seconds = time.perf_counter() - t0
        _make_portable(stage, commit, {
            "remeasured": None if not remeasure or quick else {
                "points": remeasured[0], "still_noisy": remeasured[1],
                "max": REMEASURE_MAX}})
        _move_results(stage, kind_dir)
    if code != 0:
        say(f"warning: asv run exited with status {code}: {progress.failed} benchmark(s) "
            f"failed (see {_relative(log_path)}); the others are saved")
    if second is not None and second.code != 0:
        say(f"warning: the re-measure pass exited with status {second.code}; the first "
            "measurements of its points are kept where it wrote none")
    return SuiteRun(kind_dir, log_path, commit, kind, machine, seconds, code,
                    progress.done, progress.failed, progress.points, remeasured)


def _asv_pass(base, selection, log, stream, stage, points_file, env, repo_root, title):
    """One ``asv run`` (``base`` plus a ``--bench`` per regex of ``selection``) with
    its progress shown; returns the _Progress, its exit status as ``code``."""
    cmd = list(base)
    for regex in selection or ():
        cmd += ["--bench", regex]
    with _Progress(log, stream, results_dir=stage, points_file=points_file, bench=selection,
                   title=title) as progress:
        progress.code = run_supervised(cmd, cwd=repo_root,
                                       env=dict(env, **{PROGRESS_ENV: str(points_file)}),
                                       on_line=progress.feed)
    return progress


def _snapshot(stage, commit, folder):
    """Copies of this commit's result files in ``stage``: {file: copy}."""
    folder.mkdir()
    copies = {}
    for i, path in enumerate(stage.glob(f"*/{commit[:8]}-*.json")):
        copies[path] = folder / f"{i}.json"
        shutil.copy2(path, copies[path])
    return copies


# The second pass re-runs at most this many points (about 1 s each in the
# full grid): enough for a quiet machine's few, bounded on a busy one.
REMEASURE_MAX = 40


def noisy_points(stage, commit):
    """The step points of ``commit`` in ``stage`` that the report's noise rule
    flags, noisiest first: [(benchmark, asv's param strings, score)]."""
    from asv.results import Results
    from asv.util import UserError

    from .grid import BENCH_STEP
    from .report.analysis import noise_score
    found = []
    for path in stage.glob(f"*/{commit[:8]}-*.json"):
        try:
            res = Results.load(str(path))
        except (UserError, OSError, ValueError, KeyError):
            continue  # not one asv wrote in this run: nothing to re-measure there
        if BENCH_STEP not in res.get_all_result_keys():
            continue
        params = res.get_result_params(BENCH_STEP)
        values = res.get_result_value(BENCH_STEP, params)
        stats = res.get_result_stats(BENCH_STEP, params) or [None] * len(values)
        for point, value, st in zip(itertools.product(*params), values, stats):
            if (not isinstance(value, (int, float)) or not math.isfinite(value)
                    or not isinstance(st, dict)):
                continue
            spread = [st.get(k) for k in ("ci_99_a", "ci_99_b", "q_25", "q_75")]
            score = float(noise_score(value, *(math.nan if x is None else x for x in spread)))
            if score > 1:
                found.append((BENCH_STEP, tuple(point), score))
    found.sort(key=lambda f: -f[2])
    return found


def _session_members(sid):
    """Live processes of session ``sid``: asv and everything it started, whatever
    process group they moved to (asv puts each forkserver in a group of its own)."""
    import psutil
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid:
                members.append(proc)
        except (OSError, psutil.Error):  # gone meanwhile
            continue
    return members


def stop_session(proc, grace=3.0):
    """End ``proc`` (started with ``start_new_session``) and every process of its session.

    SIGTERM first, SIGKILL after ``grace`` seconds; repeated while the session
    still has members, so a child forked during the sweep is caught too.
    """
    import psutil
    sid = proc.pid
    for signum in (signal.SIGTERM, signal.SIGKILL, signal.SIGKILL):
        members = _session_members(sid)
        if not members:
            break
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.send_signal(signum)
        psutil.wait_procs(members, timeout=grace)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


@contextlib.contextmanager
def _signals_ignored():
    """Ignore a second Ctrl-C or SIGTERM while the block runs: it must not cut the
    cleanup short.  (Blocking them with a signal mask would not do: the BLAS
    pool's threads would still take them.)  The first one is already on its way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {signum: signal.signal(signum, lambda *_: None)
           for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


def run_supervised(cmd, *, cwd, env, on_line):
    """Run ``cmd`` in a session of its own, passing each output line to ``on_line``;
    return its exit status.

    Its own session keeps the terminal's Ctrl-C from reaching asv half-way;
    on any exception here (KeyboardInterrupt, SIGTERM raised as one) the whole
    session is ended before the exception goes on, so no asv or forkserver
    outlives lrperf.
    """
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            bufsize=1, start_new_session=True)
    try:
        for line in proc.stdout:
            on_line(line)
        return proc.wait()
    except BaseException:
        with _signals_ignored():
            stop_session(proc)
        raise
    finally:
        proc.stdout.close()


def publish_html(repo_root, results_dir, log=None):
    """asv's own HTML pages of one results folder (``asv preview`` serves them), in
    ``.asv/html/<kind>``; returns that folder."""
    results_dir = Path(results_dir)
    html = Path(repo_root) / ".asv" / "html" / results_dir.name
    with tempfile.TemporaryDirectory(prefix="lrperf-study-") as tmp:
        config = write_config(repo_root, results_dir, tmp, html_dir=html)
        lines = []
        code = run_supervised([sys.executable, "-m", "asv", "publish", "--config", str(config)],
                              cwd=repo_root, env=None, on_line=lines.append)
        if log is not None:
            with open(log, "a", encoding="utf-8") as f:
                f.writelines(lines)
        if code != 0:
            raise RuntimeError(f"asv publish failed (exit status {code}): "
                               f"{''.join(lines)[-300:].strip()}")
    return html

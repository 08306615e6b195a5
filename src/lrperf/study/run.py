"""One run of the asv suite, in phases: preflight, plan, first pass, re-measure, commit.

- preflight: everything that can refuse the run does so before asv starts
  (asv missing, no checkout, results of this commit that ``replace`` was not
  given for);
- plan: the results lock, the staging folder (earlier results of the commit
  copied in, for asv to merge into) and asv's command line;
- first pass: the suite, or the ``bench`` selection, one process a point;
- process passes: the step's other processes, one asv run each, their
  samples appended (``process_passes``);
- re-measure: a second asv pass over the step points the noise rule flags
  (at most ``remeasure.REMEASURE_MAX``, noisiest first), whose samples
  replace the first ones;
- commit: the staged files made portable and moved in, one rename each.
"""
import contextlib
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import atomic
from ..grid import GRIDS
from ..paths import shown
from ..results_format import (BENCH_STEP, PROGRESS_ENV, REFERENCE_ENV, family_seconds,
                              read_references, reference_entry)
from . import accounting, config, remeasure as noise, store, supervise
from .progress import Progress


class StudyBusy(RuntimeError):
    """Another study is running on the same results."""


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


@dataclass
class Preflight:
    """What the preflight found: where the run goes and under which commit."""
    repo_root: Path
    root: Path            # root of the results folders
    kind_dir: Path        # root/<kind>
    kind: str
    grid: str
    quick: bool
    commit: str
    env: dict             # the environment of asv and the benchmarks
    machine: object       # asv's name of this machine, or None
    earlier: list         # result files of this commit, kind and machine

    @property
    def log_path(self):
        return self.kind_dir / store.LOG_NAME


@dataclass
class Passes:
    """What every asv pass of one run shares."""
    base: list            # asv's command line, without a selection
    log: object           # asv.log, open
    stream: object
    stage: Path           # the staging folder asv writes into
    tmp: Path
    env: dict
    repo_root: Path
    selection: object = None   # the first pass's --bench regexes (None: every benchmark)

    def run(self, selection, points_name, title, extra=()):
        """One ``asv run`` (a ``--bench`` per regex of ``selection``, then ``extra``
        arguments) with its progress shown; returns the Progress, asv's exit
        status as ``code``."""
        cmd = list(self.base) + list(extra)
        for regex in selection or ():
            cmd += ["--bench", regex]
        points_file = self.tmp / points_name
        references = self.tmp / f"{points_name}.references"
        env = dict(self.env, **{PROGRESS_ENV: str(points_file), REFERENCE_ENV: str(references)})
        with Progress(self.log, self.stream, results_dir=self.stage, points_file=points_file,
                      bench=selection, title=title) as progress:
            progress.code = supervise.run_supervised(cmd, cwd=self.repo_root, env=env,
                                                     on_line=progress.feed)
        progress.families = family_seconds(points_file, time.time())
        progress.references = read_references(references)
        return progress


def _sayer(stream):
    if stream:
        return lambda text: print(text, file=stream, flush=True)
    return lambda text: print(text, flush=True)


def preflight(repo_root, results_dir, grid, quick, replace, say):
    """Check all that can refuse the run before asv starts; returns the Preflight."""
    kind = config.run_kind(grid, quick)
    config.require_asv()
    repo_root = Path(repo_root) if repo_root is not None else config.find_repo_root()
    root = Path(results_dir) if results_dir is not None else repo_root / ".asv" / "results"
    commit = config.git(repo_root, "rev-parse", "HEAD")
    env = dict(os.environ, LRPERF_BENCH_GRID=grid)
    config.ensure_machine_file(env)
    machine = config.machine_name(env)
    found = Preflight(repo_root, root, root / kind, kind, grid, quick, commit, env, machine,
                      store.existing_results(root / kind, commit, machine))
    _check_earlier(found, replace, say)
    if config.git(repo_root, "status", "--porcelain", "--untracked-files=no"):
        say(f"note: the working tree has uncommitted changes; its results are recorded "
            f"under HEAD {commit[:8]}")
    return found


def _check_earlier(pre, replace, say):
    """Refuse to replace results of this commit, kind and machine unless ``replace``."""
    if not pre.earlier:
        return
    points = store.count_points(pre.earlier[0])
    what = (f"{shown(pre.earlier[0])}" + (f" ({points} measured points)"
                                         if points is not None else ""))
    if not replace:
        raise store.ResultsExist(
            f"results of commit {pre.commit[:8]} for the {pre.kind} run on machine "
            f"{pre.machine or '?'} already exist in {what}; pass --replace to measure again "
            "(they are kept until the new run has finished), or commit first")
    say(f"warning: replacing the results in {what} (kept until this run has finished)")


def plan(stack, pre, stream, show_stderr):
    """Take the results lock and set up the staging folder and asv's command line;
    everything is undone by ``stack``.  Returns (Passes, staged copies)."""
    if not stack.enter_context(atomic.exclusive(pre.root / store.LOCK_NAME)):
        raise StudyBusy(
            f"another lrperf study is running on {shown(pre.root)}: wait for it to end "
            "(two at once would also disturb each other's timings)")
    stage = stack.enter_context(atomic.temp_folder(pre.kind_dir))
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lrperf-study-")))
    log = stack.enter_context(open(pre.log_path, "w", encoding="utf-8"))
    staged = store.stage_existing(pre.earlier, pre.kind_dir, stage, pre.commit)
    conf = config.write_config(pre.repo_root, stage, tmp)
    # --record-samples: the compare's unit is the process (lrperf.samples).
    base = [sys.executable, "-m", "asv", "run", "--config", str(conf), "--python=same",
            "--set-commit-hash", pre.commit, "--launch-method", "forkserver",
            "--record-samples"]
    if pre.quick:
        base.append("--quick")
    if show_stderr:
        base.append("--show-stderr")
    env = dict(pre.env, **accounting.shared_caches(tmp))
    return Passes(base, log, stream, stage, tmp, env, pre.repo_root), staged


def plan_numba_fused(grid, say):
    """numba_fused is timed as planned on this machine: plan every grid point first,
    outside any timing; returns what it cost (kept in the sidecar)."""
    from ..numba_fused import plan_grid
    got = plan_grid(grid)
    say(f"numba_fused: planned {len(got['planned'])} new key(s) in {got['plan_s']:.1f} s of "
        f"timed calls ({got['known']} known; LRPERF_TUNING={got['mode']})")
    return {**{k: got[k] for k in ("mode", "plan_s", "first_calls_s", "wall_s", "known")},
            "planned": len(got["planned"])}


def first_pass(pre, passes, staged, bench, say):
    """The suite (or ``bench``'s selection); RuntimeError if asv wrote nothing."""
    say(f"running the benchmark suite ({GRIDS[pre.grid].description}"
        f"{', asv --quick' if pre.quick else ''}) on the working tree; "
        f"asv's output: {shown(pre.log_path)}")
    passes.selection = [bench] if bench else accounting.default_selection(pre.grid)
    progress = passes.run(passes.selection, "points", "the suite", ONE_PROCESS)
    # asv exits non-zero when some benchmark failed; the others are saved.
    if not store.written(passes.stage, staged):
        raise RuntimeError(f"asv run failed (exit status {progress.code}) and wrote no "
                           f"results; see {shown(pre.log_path)}")
    return progress


# The step's processes come from separate asv runs, each with its own
# forkserver: the processes one server forks share its heap, its addresses and
# its hash seed, so they agree with each other more than with the next run's,
# and a compare of two runs built on them cried wolf.  asv's own rounds stay
# for a plain ``asv run`` (benchmarks/step.py).
ONE_PROCESS = ("-a", "rounds=1")
STEP_SELECTION = accounting.benchmark_selection([BENCH_STEP])


def step_selection(bench=None):
    """asv ``--bench`` regexes of the step points of ``bench`` (a user's regex,
    None: all of them): a lookahead that asks for both, as asv matches."""
    if not bench:
        return STEP_SELECTION
    return [r"^(?=" + re.escape(BENCH_STEP) + r"(?:\(|$))(?=.*?(?:" + bench + "))"]


def process_selection(pre, passes, bench):
    """asv ``--bench`` regexes of exactly the step points the first pass timed
    (of ``bench``'s selection): a point it skipped or that failed would only be
    skipped again, a process start and a setup each time."""
    wanted = [re.compile(r) for r in step_selection(bench)]
    picks = [p for p in noise.measured_points(passes.stage, pre.commit)
             if any(r.search(f"{p[0]}({', '.join(p[1])})") for r in wanted)]
    return noise.selection(picks)


def process_passes(pre, passes, bench, say):
    """Processes 2 to the grid's ``processes`` of every step point the first pass
    timed (of ``bench``'s selection), one ``asv run --append-samples`` each;
    returns their Progress records."""
    done = []
    if pre.quick:
        return done  # asv --quick: one sample a point, never a claim
    selection = process_selection(pre, passes, bench)
    if not selection:
        return done  # no step point was timed: nothing to add processes to
    count = GRIDS[pre.grid].processes
    for k in range(2, count + 1):
        say(f"the step's process {k} of {count} (a new asv run, its own forkserver)")
        done.append(passes.run(selection, f"points-p{k}", f"process {k} of {count}",
                               ONE_PROCESS + ("--append-samples",)))
    return done


def remeasure_pass(pre, passes, say):
    """Measure the noisy step points once more; returns (the pass's Progress or None,
    (points re-measured, of those still noisy)).  Interrupted, it commits the first
    pass as it was and lets the interrupt go on."""
    most = noise.REMEASURE_MAX
    picks = noise.noisy_points(passes.stage, pre.commit)[:most]
    if not picks:
        return None, (0, 0)
    say(f"re-measuring {len(picks)} noisy point(s) once (asv's 99% interval wider "
        "than the median, or quartiles more than half of it apart"
        + (f"; the {most} noisiest" if len(picks) == most else "") + ")")
    passes.log.write(f"\n# lrperf: re-measure pass of {len(picks)} noisy points\n")
    first = store.snapshot(passes.stage, pre.commit, passes.tmp / "first-pass")
    try:
        second = passes.run(noise.selection(picks), "points-2", "re-measure")
    except KeyboardInterrupt:
        # The first pass is a whole run: keep it, as it was before the second began.
        store.restore(first)
        commit(pre, passes.stage)
        say("interrupted during the re-measure pass: the first pass's results are saved")
        raise
    kept = noise.still_noisy(passes.stage, pre.commit, picks)
    say(f"re-measured {len(picks)} point(s): {len(picks) - kept} now calm, {kept} "
        "still noisy (flagged in the report)")
    return second, (len(picks), kept)


def commit(pre, stage, run_info=None):
    """Make the staged results portable and move them in, one atomic rename each."""
    store.make_portable(stage, pre.commit, run_info)
    store.move_results(stage, pre.kind_dir)


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
    runs the re-measure pass (not with ``quick``).  Progress goes to
    ``stream`` (stdout).
    """
    say = _sayer(stream)
    pre = preflight(repo_root, results_dir, grid, quick, replace, say)
    pre.kind_dir.mkdir(parents=True, exist_ok=True)
    # A first look's points have their processes (lrperf.samples) and no time
    # to spare; a second pass over asv's noise rule is for the full grid.
    remeasure = remeasure and not quick and GRIDS[pre.grid].benchmarks is None
    with contextlib.ExitStack() as stack:
        t_plan = time.perf_counter()
        passes, staged = plan(stack, pre, stream, show_stderr)
        planned = plan_numba_fused(pre.grid, say)
        t0 = time.perf_counter()
        phases = {"plan": round(t0 - t_plan, 1)}
        progress = first_pass(pre, passes, staged, bench, say)
        more = process_passes(pre, passes, bench, say)
        phases["suite"] = round(time.perf_counter() - t0, 1)
        t1 = time.perf_counter()
        second, remeasured = remeasure_pass(pre, passes, say) if remeasure else (None, (0, 0))
        if remeasure:
            phases["remeasure"] = round(time.perf_counter() - t1, 1)
        families = {}
        for done in [progress, *more, second]:
            for family, s in (getattr(done, "families", None) or {}).items():
                families[family] = families.get(family, 0.0) + s
        commit(pre, passes.stage, {
            "format": accounting.RUN_INFO_FORMAT,
            "remeasured": None if not remeasure else {
                "points": remeasured[0], "still_noisy": remeasured[1],
                "max": noise.REMEASURE_MAX},
            "seconds": phases, "wall_s": round(time.perf_counter() - t_plan, 1),
            "selection": passes.selection, "numba_fused_plan": planned,
            **accounting.run_accounting(passes.stage, pre.commit),
            "families": {k: round(v, 1) for k, v in sorted(families.items(),
                                                           key=lambda kv: -kv[1])},
            "reference": reference_entry(
                [getattr(done, "references", ()) for done in [progress, *more]],
                again=getattr(second, "references", ()) if second is not None else ())})
        seconds = time.perf_counter() - t_plan
    if progress.code != 0:
        say(f"warning: asv run exited with status {progress.code}: {progress.failed} "
            f"benchmark(s) failed (see {shown(pre.log_path)}); the others are saved")
    for k, done in enumerate(more, start=2):
        if done.code != 0:
            say(f"warning: the step's process {k} exited with status {done.code} (see "
                f"{shown(pre.log_path)}); points it did not measure have fewer processes")
    if second is not None and second.code != 0:
        say(f"warning: the re-measure pass exited with status {second.code}; the first "
            "measurements of its points are kept where it wrote none")
    return SuiteRun(pre.kind_dir, pre.log_path, pre.commit, pre.kind, pre.machine, seconds,
                    progress.code, progress.done, progress.failed, progress.points, remeasured)

"""The ``lrperf`` command: every subcommand is defined here.

Heavy imports (pandas, matplotlib, asv) happen inside the subcommand that
needs them, so ``lrperf --help`` and ``lrperf strategies`` stay fast.
"""
import argparse
import contextlib
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from . import api, datasets
from .grid import DTYPES, GRIDS
from .registry import STRATEGIES, available
from .study import REMEASURE_MAX

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _accuracy(Y_pred, Y):
    return 100.0 - float(np.mean(np.abs(Y_pred - Y))) * 100.0


def _nearest_existing(path):
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return Path(".")


def output_folder(path, option="--out"):
    """``path`` as a folder lrperf may create and write in, checked before any work
    starts (a study takes minutes); ValueError naming ``option`` otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} must be a folder, got {str(path)!r}, which is a file")
    place = _nearest_existing(path)
    if not place.is_dir():
        raise ValueError(f"{option} {str(path)!r} cannot be created: {str(place)!r} is a file, "
                         "not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {str(path)!r} cannot be written: {str(place)!r} is "
                         "not writable by this user")
    return path


def input_folder(path, option="--results"):
    """``path`` as an existing, readable folder; ValueError naming ``option`` otherwise."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{option} {str(path)!r} does not exist (`lrperf study` writes "
                         "asv's results; point --results at that folder)")
    if not path.is_dir():
        raise ValueError(f"{option} must be a folder (asv's results: one folder per machine), "
                         f"got {str(path)!r}, which is a file")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ValueError(f"{option} {str(path)!r} cannot be read by this user")
    return path


def _one_kind(results):
    """Refuse the root of the study's results folders, which holds one per kind of run."""
    if (results / "benchmarks.json").exists():
        return
    kinds = sorted(p.name for p in results.iterdir() if (p / "benchmarks.json").is_file())
    if kinds:
        raise ValueError(
            f"--results {str(results)!r} holds the results of several kinds of run "
            f"({', '.join(kinds)}), which must not be mixed: pick one, e.g. "
            f"--results {str(results / kinds[0])!r}")


def cmd_strategies(args):
    width = max(map(len, STRATEGIES))
    for name, s in STRATEGIES.items():
        where = f"[{s.device}, reads {'/'.join(s.dtypes)}]"
        note = f"  (unavailable: {s.unavailable})" if not s.available else ""
        print(f"{name:<{width}}  {s.description} {where}{note}")
    return 0


def cmd_train(args):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    if args.data is None:
        data = datasets.synthetic_split(seed=args.seed)
        source = (f"built-in synthetic data (n_x={data.X_train.shape[0]}, "
                  f"m_train={data.X_train.shape[1]}, m_test={data.X_test.shape[1]}, seed={args.seed})")
    else:
        data = datasets.load_catvnoncat(args.data)
        source = f"cat/non-cat data from {args.data}"
    print(f"training on {source} with strategy {args.strategy!r}, "
          f"{args.iterations} iterations, learning rate {args.learning_rate}", flush=True)

    # JIT compilation (or loading from Numba's on-disk cache) happens on the
    # first call; time it on its own so it does not pollute the step timing.
    t0 = time.perf_counter()
    api.propagate(np.zeros(data.X_train.shape[0]), 0.0, data.X_train[:, :2],
                  data.Y_train[:, :2], strategy=args.strategy)
    first_call = time.perf_counter() - t0

    columns = (TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("train", total=max(args.iterations, 1))

        def report(i, cost):
            if i % 100 == 0:
                bar.console.print(f"Cost after iteration {i}: {cost:f}", highlight=False)
            bar.update(task, completed=i + 1)

        t0 = time.perf_counter()
        result = api.model(data.X_train, data.Y_train, data.X_test, data.Y_test,
                           args.iterations, args.learning_rate, strategy=args.strategy,
                           callback=report)
        elapsed = time.perf_counter() - t0
    print(f"train accuracy: {_accuracy(result['Y_prediction_train'], data.Y_train):.2f} %")
    print(f"test accuracy:  {_accuracy(result['Y_prediction_test'], data.Y_test):.2f} %")
    per_step = elapsed / max(args.iterations, 1)
    print(f"time: {elapsed:.3f} s for {args.iterations} steps ({per_step * 1e3:.3f} ms/step); "
          f"first call (JIT compile or cache load) {first_call * 1e3:.1f} ms")
    return 0


def _duration(seconds):
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{seconds:.1f} s"


def _shown(path):
    """``path`` relative to the current folder where it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_study(args):
    from . import study
    t0 = time.perf_counter()
    repo_root = study.find_repo_root()
    grid = args.grid or ("quick" if args.quick else "full")
    kind = study.run_kind(grid, args.quick)
    root = args.results if args.results is not None else repo_root / ".asv" / "results"
    out = args.out if args.out is not None else repo_root / "lrperf-out" / kind
    # Checked before the suite's minutes, not after.
    output_folder(root, "--results")
    output_folder(out, "--out")
    args.interrupt_note = f"; earlier results in {_shown(root / kind)} are unchanged"
    run = study.run_suite(repo_root, root, quick=args.quick, grid=grid, bench=args.bench,
                          show_stderr=args.verbose, replace=args.replace,
                          remeasure=not args.no_remeasure)
    args.interrupt_note = (f"; the suite's results are saved in {_shown(run.results_dir)}, "
                           "the report was not finished")
    from .report import build_report  # lazily: pandas, matplotlib
    print(f"building the report in {_shown(out)}", flush=True)
    t1 = time.perf_counter()
    learned = {}
    report_dir = build_report(run.results_dir, out, summaries=learned)
    html_dir = study.publish_html(repo_root, run.results_dir, log=run.log)
    report_s = time.perf_counter() - t1
    failed = f", {run.failed} failed" if run.failed else ""
    print(f"done in {_duration(time.perf_counter() - t0)}: suite {_duration(run.seconds)} "
          f"({run.benchmarks} benchmarks{failed}), report {_duration(report_s)}")
    lines = learned.get(run.machine) or next(iter(learned.values()), [])
    if lines:
        print("what this run found (every number from one measured shape; the report has "
              "the rest):")
        for line in lines:
            print(f"  {line}")
    print(f"  results: {_shown(run.results_dir)} (commit {run.commit[:8]}, "
          f"machine {run.machine or '?'}, {run.kind} run)")
    print(f"  asv log: {_shown(run.log)}")
    print(f"  report:  {_shown(Path(report_dir) / 'README.md')}")
    print(f"  asv html: {_shown(html_dir)} (serve it with `asv preview`)")
    return 0


@contextlib.contextmanager
def _report_warnings():
    """Print ReportWarnings as one line each, as they happen; others go their usual way.

    A replacement ``showwarning`` (restored by catch_warnings) prints without
    re-emitting, so no warning can feed back into what is being printed.
    """
    from .report import ReportWarning
    with warnings.catch_warnings():
        warnings.simplefilter("always", ReportWarning)
        usual = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, ReportWarning):
                print(f"lrperf: warning: {message}", file=sys.stderr)
            else:
                usual(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def cmd_report(args):
    from .report import build_report
    input_folder(args.results)
    _one_kind(args.results)
    if args.out is None:
        args.out = Path("lrperf-out") / (args.results.resolve().name or "results")
    output_folder(args.out)
    with _report_warnings():
        out = build_report(args.results, args.out, figures=not args.no_figures)
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        print(f"{folder}/: README.md, results.csv, "
              + ", ".join(sorted(p.name for p in folder.glob("*.png"))))
    print(f"report written: {out / 'README.md'}")
    return 0


def cmd_compare(args):
    from .report.compare import compare
    with _report_warnings():
        lines, figure = compare(args.results, args.a, args.b, out=args.out,
                                threshold=args.threshold)
    print("\n".join(lines))
    if figure:
        print(f"figure written: {figure}")
    return 0


def cmd_tune(args):
    """Time numba_fused's C-order candidates per size class and thread count; save wisdom."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from . import grid, tuning

    console = Console(stderr=True)
    if args.rounds < 1:
        raise ValueError(f"--rounds must be >= 1, got {args.rounds}")
    threads = args.threads or grid.thread_counts()
    for n in threads:
        if not 1 <= n <= __import__("numba").config.NUMBA_NUM_THREADS:
            raise ValueError(f"--threads must be between 1 and NUMBA_NUM_THREADS, got {n}")
    path = tuning.wisdom_path()
    if args.show:
        wisdom = tuning.load_wisdom(path)
        table = Table(title=f"wisdom for this CPU in {path}")
        for col in ("key", "choice", "n_x", "tuned at"):
            table.add_column(col)
        for k, e in sorted(wisdom.items()):
            table.add_row(k, tuning._valid(e).name, str(e.get("n_x")), str(e.get("tuned_at")))
        Console().print(table if wisdom else f"no wisdom for this CPU in {path}")
        return 0
    if tuning.mode() == "off":
        console.print(f"note: {tuning.MODE_ENV}=off: the wisdom is saved but not used")
    keys = [(c, t) for t in threads for c in args.size_class]
    done = []
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("tuning", total=len(keys))
            for cls, n in keys:
                bar.update(task, description=f"C order, {cls}, {n} thread(s)")

                def show(name, seconds, cls=cls, n=n):
                    bar.console.print(f"  C/{cls}/{n}: {name:<32} {seconds * 1e3:9.3f} ms")
                got = tuning.tune_here(cls, n, args.dtype, progress=show,
                                       rounds=args.rounds)
                if got is None:
                    bar.console.print(f"  C/{cls}/{n}: no such size class on this machine")
                else:
                    done.append(got)
                bar.advance(task)
    except KeyboardInterrupt:
        print(f"lrperf tune: interrupted; {len(done)} key(s) were saved to {path}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"lrperf tune: error: cannot write the wisdom file {path}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    table = Table(title=f"chosen (saved to {path})")
    for col in ("key", "X timed", "choice", "ms", "default would be"):
        table.add_column(col)
    for k, (n_x, m), entry in done:
        name = tuning._valid(entry).name
        default = entry.get("default") or "-"
        ms = {n: f"{t * 1e3:.3f}" for n, t in entry["times_s"].items() if t is not None}
        table.add_row(k, f"{n_x} x {m}", name, ms.get(name, "-"),
                      f"{default} ({ms.get(default, '-')})")
    Console().print(table)
    return 0


def _positive_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lrperf",
        description="Loop strategies for one logistic-regression gradient step, "
                    "proven equivalent and compared honestly.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("strategies", help="list the registered strategies",
                       description="List the registered strategies, slowest first, with the "
                                   "device each runs on, the dtypes of X it reads without a "
                                   "copy, and why any is unavailable here.")
    p.set_defaults(func=cmd_strategies)

    p = sub.add_parser(
        "train", help="train the model with one strategy and report accuracy",
        description="Train logistic regression by gradient descent with one strategy, "
                    "printing the cost every 100 iterations, then train/test accuracy "
                    "and the time per step (JIT compilation timed separately).")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="folder with train_catvnoncat.h5 and test_catvnoncat.h5 "
                        "(default: built-in synthetic data)")
    p.add_argument("--strategy", default="numpy", choices=available(),
                   help="strategy for the gradient step (default: numpy)")
    p.add_argument("--iterations", type=_positive_int, default=2000,
                   help="gradient-descent iterations (default: 2000)")
    p.add_argument("--learning-rate", type=float, default=0.005,
                   help="learning rate (default: 0.005)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic data (default: 0)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "study", help="benchmark every strategy (asv) and write the report",
        description="Run the asv benchmark suite (benchmarks/) on the working tree in this "
                    "Python, record the results under HEAD's commit hash, then build the "
                    "report from them.  The full grid takes about 15 minutes on 2 cores; "
                    "--quick (one timed call per point, 4 sizes) about 2.  Each grid and "
                    "mode keeps its results in a folder of its own (.asv/results/<grid>, "
                    "-quick appended for --quick), never mixed; results of this commit are "
                    "replaced only with --replace, and only once the new run has finished.  "
                    "asv's output goes to asv.log in that folder; Ctrl-C stops asv and "
                    "everything it started (exit 130).  Step points whose samples are noisy are measured once more in a second pass (--no-remeasure skips it).  For history across commits use "
                    "`asv run` directly (see asv.conf.json).")
    p.add_argument("--quick", action="store_true",
                   help="one timed call per point (asv --quick): checks the suite, rough numbers")
    p.add_argument("--results", metavar="DIR", type=Path, default=None,
                   help="root of the results folders: each grid and mode has its own, "
                        "DIR/full, DIR/quick, DIR/tiny (DIR/<grid>-quick with --quick), "
                        "holding asv's results and asv.log, its output "
                        "(default: .asv/results in the checkout)")
    p.add_argument("--out", metavar="DIR", type=Path, default=None,
                   help="where the report goes (default: lrperf-out/<grid>, -quick appended "
                        "for --quick, in the checkout, git-ignored)")
    p.add_argument("--replace", action="store_true",
                   help="measure again when this commit already has results of this grid "
                        "and mode on this machine (without it the study stops; the earlier "
                        "results are kept until the new run has finished)")
    p.add_argument("--no-remeasure", action="store_true",
                   help="skip the second pass that measures once more the step points "
                        "flagged as noisy (asv's 99%% interval wider than the median, or "
                        "quartiles more than half of it apart; at most "
                        f"{REMEASURE_MAX}, noisiest first)")
    p.add_argument("--grid", choices=list(GRIDS), default=None,
                   help="size grid: " + "; ".join(f"{k}: {g.description}"
                                                  for k, g in GRIDS.items())
                        + " (default: full, or quick with --quick)")
    p.add_argument("--bench", metavar="REGEX", default=None,
                   help="only benchmarks matching this regular expression (asv -b)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="keep the benchmarks' own output (e.g. why a point was skipped) in "
                        "asv.log")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser(
        "report", help="turn asv results into tables, figures and a written study",
        description="Load every asv result file (all machines, commits and environments) "
                    "through asv's results API and write, per machine, OUT/<machine>/ with "
                    "results.csv, PNG figures (time against size, speedup over numpy, "
                    "bandwidth against the read ceiling, thread scaling, history across "
                    "commits) and README.md stating the findings, each number from one "
                    "measured shape. Damaged result files are skipped with a warning naming "
                    "them; asv's results are never modified; the previous report is replaced "
                    "only once the new one is complete.")
    p.add_argument("--results", default=Path(".asv/results/full"), type=Path, metavar="DIR",
                   help="asv results folder: one of `lrperf study`'s, .asv/results/<grid> "
                        "(default: .asv/results/full)")
    p.add_argument("--out", default=None, type=Path, metavar="DIR",
                   help="output folder, one subfolder per machine (default: "
                        "lrperf-out/<name of the results folder>, git-ignored)")
    p.add_argument("--no-figures", action="store_true",
                   help="write README.md and results.csv only (drawing takes most of the time)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "compare", help="each step point's time ratio between two runs, with significance",
        description="Compare run B against run A point by point, as `asv compare` does: "
                    "the ratio of the step times and whether the change is significant "
                    "(the 99%% intervals do not overlap and the ratio passes --threshold). "
                    "A run is a machine name (its newest commit), a commit hash prefix, or "
                    "MACHINE:COMMIT.  Prints the table and writes a figure of the ratios.")
    p.add_argument("a", metavar="A", help="the run compared against (e.g. a commit prefix)")
    p.add_argument("b", metavar="B", help="the run compared (e.g. a newer commit, or a machine)")
    p.add_argument("--results", default=Path(".asv/results/full"), type=Path, metavar="DIR",
                   help="asv results folder holding both runs (default: .asv/results/full)")
    p.add_argument("--out", default="lrperf-out/compare", metavar="DIR",
                   help="where the figure goes (default: lrperf-out/compare)")
    p.add_argument("--threshold", type=float, default=1.1, metavar="RATIO",
                   help="smallest ratio counted as a change (default: 1.1, as asv compare)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "tune", help="time numba_fused's loop variants on this machine and keep the fastest",
        description="Autotune the numba_fused kernel for C-ordered X on this machine, as FFTW "
                    "plans: for each size class of X (held by L2, by L3, or only in memory; "
                    "sizes derived from this CPU's caches) and thread count, time the "
                    "two-pass row loop and one-pass tiles of several widths (multiples of "
                    "the L2) and prefetch distances, side by side, and save the fastest as "
                    "wisdom (a JSON file under the user cache directory, or $LRPERF_WISDOM), "
                    "filed under this CPU's model and caches so another CPU never uses it. "
                    "Without wisdom numba_fused uses defaults derived from the cache sizes. "
                    "LRPERF_TUNING=off ignores the wisdom (reproducible runs); "
                    "LRPERF_TUNING=auto tunes a new key on its first call. For Fortran-ordered X "
                    "the loop (pipelined groups of 4 or 2 examples, or pairs for short "
                    "columns) follows from the cache sizes and is not timed here "
                    "(scripts/bench_columns.py compares them). Takes about a minute.")
    p.add_argument("--threads", type=int, nargs="+", metavar="N", default=None,
                   help="thread counts to tune (default: 1 and all cores Numba may use)")
    p.add_argument("--size-class", nargs="+", choices=["L2", "L3", "DRAM"],
                   default=["L2", "L3", "DRAM"],
                   help="size classes of X to tune (default: all three)")
    p.add_argument("--dtype", choices=list(DTYPES), default="float64",
                   help="dtype of X (default: float64)")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds of timing per candidate (default: 3)")
    p.add_argument("--show", action="store_true",
                   help="print this CPU's wisdom and where it is kept; time nothing")
    p.set_defaults(func=cmd_tune)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that cleanups run as for Ctrl-C."""


def _terminate(signum, frame):
    raise Terminated()


# Paths the user named that cannot be used: bad input, as a ValueError is.
_BAD_PATH = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
             FileExistsError)
_BAD_INPUT = (ValueError, TypeError, ImportError, FloatingPointError) + _BAD_PATH


def _interrupt_cause(exc):
    """The KeyboardInterrupt behind Numba's SystemError("... with an exception set"), if any."""
    cause = exc.__cause__ or exc.__context__
    return cause if isinstance(cause, KeyboardInterrupt) else None


def main(argv=None):
    """Run one subcommand; every failure ends with one line on stderr and an exit status.

    0 success; 1 a failure that is not the input's fault (a benchmark run that
    wrote nothing, a disk error); 2 bad input (argparse's own status too);
    130 Ctrl-C; 143 SIGTERM.  ``LRPERF_DEBUG=1`` shows the traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    name = f"lrperf {args.command}"
    handler = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(args, name)
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


def _say(name, text):
    try:
        print(f"{name}: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr closed: the exit status still tells


def _run(args, name):
    debug = os.environ.get("LRPERF_DEBUG", "") not in ("", "0")
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except Terminated:
        _say(name, "terminated (SIGTERM)" + getattr(args, "interrupt_note", ""))
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _say(name, "interrupted (Ctrl-C)" + getattr(args, "interrupt_note", ""))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`lrperf ... | head`): nothing to say to it.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except _BAD_INPUT as exc:
        if debug:
            raise
        _say(name, f"error: {exc}")
        return EXIT_BAD_INPUT
    except SystemError as exc:
        if _interrupt_cause(exc) is not None:
            _say(name, "interrupted (Ctrl-C)" + getattr(args, "interrupt_note", ""))
            return EXIT_INTERRUPTED
        if debug:
            raise
        _say(name, f"internal error: SystemError: {exc} (LRPERF_DEBUG=1 shows the traceback)")
        return EXIT_FAILED
    except (RuntimeError, OSError) as exc:
        if debug:
            raise
        _say(name, f"error: {exc}")
        return EXIT_FAILED
    except Exception as exc:
        if debug:
            raise
        _say(name, f"internal error: {type(exc).__name__}: {exc} "
                   "(LRPERF_DEBUG=1 shows the traceback)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

"""The ``lrperf`` command: every subcommand is defined here.

Heavy imports (pandas, matplotlib, asv) happen inside the subcommand that
needs them, so ``lrperf --help`` and ``lrperf strategies`` stay fast.
"""
import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import api, datasets
from .grid import DTYPES, GRIDS
from .registry import STRATEGIES, available

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _accuracy(Y_pred, Y):
    return 100.0 - float(np.mean(np.abs(Y_pred - Y))) * 100.0


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


def cmd_study(args):
    import subprocess

    from . import study
    repo_root = study.find_repo_root()
    t0 = time.perf_counter()
    grid = args.grid or ("quick" if args.quick else "full")
    try:
        results_dir = study.run_suite(repo_root, args.results, quick=args.quick, grid=grid,
                                      bench=args.bench, show_stderr=args.verbose)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"lrperf study: error: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - t0
    print(f"suite: {elapsed:.0f} s, results in {results_dir}", flush=True)
    from .report import build_report  # lazily: pandas, matplotlib
    print(f"building the report from {results_dir}", flush=True)
    report_dir = build_report(results_dir, args.out)
    html_dir = study.publish_html(repo_root, results_dir)
    print(f"results: {results_dir}")
    print(f"report:  {report_dir}")
    print(f"asv html: {html_dir} (serve it with `asv preview`)")
    return 0


def _size(text):
    try:
        n_x, m = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected N_XxM such as 12288x209, got {text!r}") from None
    return n_x, m


def cmd_report(args):
    from .report import ReportWarning, build_report
    # Skipped files are printed as plain lines (also when the report then fails).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReportWarning)
        try:
            out = build_report(args.results, args.out, history_size=args.history_size)
        finally:
            for w in caught:
                if issubclass(w.category, ReportWarning):
                    print(f"lrperf report: warning: {w.message}", file=sys.stderr)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        print(f"{folder}/: README.md, results.csv, "
              + ", ".join(sorted(p.name for p in folder.glob("*.png"))))
    print(f"report written: {out / 'README.md'}")
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
                    "--quick (one timed call per point, 4 sizes) about 2.  For history "
                    "across commits use `asv run` directly (see asv.conf.json).")
    p.add_argument("--quick", action="store_true",
                   help="one timed call per point (asv --quick): checks the suite, rough numbers")
    p.add_argument("--results", metavar="DIR", type=Path, default=None,
                   help="asv results folder (default: .asv/results in the checkout)")
    p.add_argument("--out", metavar="DIR", type=Path, default=Path("reports"),
                   help="where the report goes (default: reports/)")
    p.add_argument("--grid", choices=list(GRIDS), default=None,
                   help="size grid: " + "; ".join(f"{k}: {g.description}"
                                                  for k, g in GRIDS.items())
                        + " (default: full, or quick with --quick)")
    p.add_argument("--bench", metavar="REGEX", default=None,
                   help="only benchmarks matching this regular expression (asv -b)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show the benchmarks' own output, e.g. why a point was skipped")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser(
        "report", help="turn asv results into tables, figures and a written study",
        description="Load every asv result file (all machines, commits and environments) "
                    "into one table and write, per machine, OUT/<machine>/ with results.csv, "
                    "PNG figures (time against size, speedups, bandwidth against the "
                    "measured read bandwidth, thread scaling, history across commits) and "
                    "README.md stating the findings in numbers. Damaged result files are "
                    "skipped with a warning; asv's results are never modified.")
    p.add_argument("--results", default=".asv/results", metavar="DIR",
                   help="asv results folder (default: .asv/results)")
    p.add_argument("--out", default="reports", metavar="DIR",
                   help="output folder, one subfolder per machine (default: reports)")
    p.add_argument("--history-size", type=_size, default=None, metavar="N_XxM",
                   help="grid point of the history figure, e.g. 12288x209 "
                        "(default: the largest shape every strategy measured)")
    p.set_defaults(func=cmd_report)

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
                    "LRPERF_TUNING=auto tunes a new key on its first call. Fortran-ordered X "
                    "has a single loop: nothing to tune. Takes about a minute.")
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


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError, FloatingPointError) as exc:
        print(f"lrperf {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())

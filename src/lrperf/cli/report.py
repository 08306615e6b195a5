"""``lrperf report``: asv results -> tables, figures and a written study."""
import contextlib
import sys
import warnings
from pathlib import Path

from ..overlap import refuse_overlap
from .args import REPORTS, input_folder, one_kind, output_folder

NAME = "report"
HELP = "turn asv results into tables, figures and a written study"
DESCRIPTION = (
    "Load every asv result file (all machines, commits and environments) "
    "through asv's results API and write, per machine, OUT/<machine>/ with "
    "results.csv, PNG figures (time against size, speedup over numpy, "
    "bandwidth against the read ceiling, thread scaling, history across "
    "commits) and README.md stating the findings, each number from one "
    "measured shape. Damaged result files are skipped with a warning naming "
    "them; asv's results are never modified; the previous report is replaced "
    "only once the new one is complete.")


def add_arguments(p):
    p.add_argument("--results", default=None, type=Path, metavar="DIR",
                   help="asv results folder: `asv run`'s .asv/results/history or one of "
                        "`lrperf study`'s, .asv/results/<grid> (default: whichever of "
                        "those holds the newest results)")
    p.add_argument("--out", default=None, type=Path, metavar="DIR",
                   help="output folder, one subfolder per machine (default: "
                        "reports/<name of the results folder>, git-ignored)")
    p.add_argument("--no-figures", action="store_true",
                   help="write README.md and results.csv only (drawing takes most of the time)")


@contextlib.contextmanager
def report_warnings():
    """Print ReportWarnings as one line each, as they happen; others go their usual way.

    A replacement ``showwarning`` (restored by catch_warnings) prints without
    re-emitting, so no warning can feed back into what is being printed.
    """
    from ..report import ReportWarning
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


def run(args):
    from ..report import build_report
    if args.results is None:
        from ..paths import shown
        from ..report.compare import newest_folder
        args.results = newest_folder()
        if args.results is None:
            raise ValueError("no results found (looked in asv run's .asv/results/history and "
                             "lrperf study's .asv/results/<grid>): run `lrperf study` or "
                             "`asv run`, or name a folder with --results")
        print(f"reading {shown(args.results)} (the newest results; --results to choose)")
    input_folder(args.results)
    one_kind(args.results)
    if args.out is None:
        args.out = REPORTS / (args.results.resolve().name or "results")
    output_folder(args.out)
    refuse_overlap(args.results, args.out)
    with report_warnings():
        out = build_report(args.results, args.out, figures=not args.no_figures)
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        print(f"{folder}/: README.md, index.html, results.csv, "
              + ", ".join(sorted(p.name for p in folder.glob("*.png"))))
    print(f"report written: {out / 'README.md'}")
    return 0

"""``lrperf compare``: each step point's time ratio between two runs, with significance."""
from pathlib import Path

from .args import REPORTS, ratio
from .report import report_warnings

NAME = "compare"
HELP = "each step point's time ratio between two runs, with significance"
DESCRIPTION = (
    "Compare run B against run A point by point, as `asv compare` does: "
    "the ratio of the step times and whether the change is significant "
    "(the 99%% intervals do not overlap and the ratio passes --threshold). "
    "A run is a machine name (its newest commit), a commit hash prefix, or "
    "MACHINE:COMMIT.  Prints the table and writes a figure of the ratios.")


def add_arguments(p):
    p.add_argument("a", metavar="A", help="the run compared against (e.g. a commit prefix)")
    p.add_argument("b", metavar="B", help="the run compared (e.g. a newer commit, or a machine)")
    p.add_argument("--results", default=Path(".asv/results/full"), type=Path, metavar="DIR",
                   help="asv results folder holding both runs (default: .asv/results/full)")
    p.add_argument("--out", default=str(REPORTS / "compare"), metavar="DIR",
                   help="where the figure goes (default: reports/compare)")
    p.add_argument("--threshold", type=ratio, default=1.1, metavar="RATIO",
                   help="smallest ratio counted as a change (default: 1.1, as asv compare)")


def run(args):
    from ..report.compare import compare
    with report_warnings():
        lines, figure = compare(args.results, args.a, args.b, out=args.out,
                                threshold=args.threshold)
    print("\n".join(lines))
    if figure:
        print(f"figure written: {figure}")
    return 0

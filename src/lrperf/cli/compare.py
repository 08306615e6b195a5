"""``lrperf compare``: each step point's time ratio between two runs, with significance."""
from pathlib import Path

from .args import REPORTS, ratio
from .report import report_warnings

NAME = "compare"
HELP = "each step point's time ratio between two runs, with significance"
DESCRIPTION = (
    "Compare run B against run A point by point: the ratio of the step times and "
    "whether the change is significant: an exact rank test across the per-process "
    "medians (each point timed in several processes, samples recorded) at p < 0.05, "
    "and a ratio beyond --threshold, after dividing each process's samples by its "
    "slowness (a fixed loop timed before each sample, over the share of a core its "
    "thread got: the machine's speed at that moment) and dividing out the drift: the "
    "median ratio over all points, the machine's speed between the runs.  Runs "
    "without recorded samples are unconfirmed. "
    "A run is a machine name (its newest commit), a commit hash prefix, a git "
    "revision (HEAD~1), or MACHINE:COMMIT.  Prints the table and writes a figure of "
    "the ratios.")


def add_arguments(p):
    p.add_argument("a", metavar="A", help="the run compared against (e.g. a commit prefix)")
    p.add_argument("b", metavar="B", help="the run compared (e.g. a newer commit, or a machine)")
    p.add_argument("--results", default=None, type=Path, metavar="DIR",
                   help="asv results folder holding both runs (default: the first of "
                        "`asv run`'s .asv/results/history and `lrperf study`'s "
                        ".asv/results/<grid> that holds both)")
    p.add_argument("--out", default=str(REPORTS / "compare"), metavar="DIR",
                   help="where the figure goes (default: reports/compare)")
    p.add_argument("--threshold", type=ratio, default=1.1, metavar="RATIO",
                   help="smallest ratio counted as a change (default: 1.1, as asv compare)")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="judge each process's samples as measured, without dividing them by "
                        "the slowness the process recorded (the machine's speed at that "
                        "moment)")
    p.add_argument("--no-drift", dest="drift", action="store_false",
                   help="judge each point as measured, without dividing out the drift (the "
                        "median ratio over all points: the machine's speed between the runs)")


def run(args):
    from ..report.compare import compare
    with report_warnings():
        lines, figure = compare(args.results, args.a, args.b, out=args.out,
                                threshold=args.threshold, judge_drift=args.drift,
                                judge_reference=args.reference)
    print("\n".join(lines))
    if figure:
        print(f"figure written: {figure}")
    return 0

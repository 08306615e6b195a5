"""``lrperf study``: the asv suite on the working tree, then the report."""
import time
from pathlib import Path

from ..grid import GRIDS
from ..overlap import refuse_overlap
from ..paths import shown
from ..study.remeasure import REMEASURE_MAX
from .args import REPORTS, duration, output_folder, regex

NAME = "study"
HELP = "benchmark every strategy (asv) and write the report"
DESCRIPTION = (
    "Run the asv benchmark suite (benchmarks/) on the working tree in this "
    "Python, record the results under HEAD's commit hash, then build the "
    "report from them.  The full grid takes about 15 minutes on 2 cores; "
    "--quick (the quick grid) and --grid tiny what their descriptions below say.  "
    "Each grid keeps its results in a folder of its own (.asv/results/<grid>), "
    "never mixed; results of this commit are "
    "replaced only with --replace, and only once the new run has finished.  "
    "asv's output goes to asv.log in that folder; Ctrl-C stops asv and "
    "everything it started (exit 130).  Step points whose samples are noisy are measured "
    "once more in a second pass (--no-remeasure skips it).  For history across commits use "
    "`asv run` directly (see asv.conf.json).")


def add_arguments(p):
    p.add_argument("--quick", action="store_true",
                   help="the quick grid (--grid quick): fewer points and benchmarks, the "
                        "same samples a point")
    p.add_argument("--results", metavar="DIR", type=Path, default=None,
                   help="root of the results folders: each grid and mode has its own, "
                        "DIR/full, DIR/quick, DIR/tiny (DIR/<grid>-quick with --quick), "
                        "holding asv's results and asv.log, its output "
                        "(default: .asv/results in the checkout)")
    p.add_argument("--out", metavar="DIR", type=Path, default=None,
                   help="where the report goes, one folder per machine (default: "
                        "reports/<grid>, -quick appended for --quick, in the checkout, "
                        "git-ignored)")
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
    p.add_argument("--bench", metavar="REGEX", type=regex, default=None,
                   help="only benchmarks matching this regular expression (asv -b)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="keep the benchmarks' own output (e.g. why a point was skipped) in "
                        "asv.log")


def run(args):
    from .. import study
    t0 = time.perf_counter()
    repo_root = study.find_repo_root()
    grid = args.grid or ("quick" if args.quick else "full")
    kind = study.run_kind(grid, False)
    root = args.results if args.results is not None else repo_root / ".asv" / "results"
    out = args.out if args.out is not None else repo_root / REPORTS / kind
    # Checked before the suite's minutes, not after.
    output_folder(root, "--results")
    output_folder(out, "--out")
    refuse_overlap(root, out)
    args.interrupt_note = f"; earlier results in {shown(root / kind)} are unchanged"
    # --quick is the quick grid: fewer points, never fewer samples a point (asv's own
    # --quick takes one sample, too few for any claim).
    suite = study.run_suite(repo_root, root, quick=False, grid=grid, bench=args.bench,
                            show_stderr=args.verbose, replace=args.replace,
                            remeasure=not args.no_remeasure)
    args.interrupt_note = (f"; the suite's results are saved in {shown(suite.results_dir)}, "
                           "the report was not finished")
    from ..report import build_report  # lazily: pandas, matplotlib
    print(f"building the report in {shown(out)}", flush=True)
    t1 = time.perf_counter()
    learned = {}
    report_dir = build_report(suite.results_dir, out, summaries=learned)
    html_dir = study.publish_html(repo_root, suite.results_dir, log=suite.log)
    _summary(suite, time.perf_counter() - t0, time.perf_counter() - t1, learned, report_dir,
             html_dir)
    return 0


def _summary(suite, total_s, report_s, learned, report_dir, html_dir):
    """The closing lines: times, what the run found, where everything is."""
    failed = f", {suite.failed} failed" if suite.failed else ""
    print(f"done in {duration(total_s)}: suite {duration(suite.seconds)} "
          f"({suite.benchmarks} benchmarks{failed}), report {duration(report_s)}")
    lines = learned.get(suite.machine) or next(iter(learned.values()), [])
    if lines:
        print("what this run found (every number from one measured shape; the report has "
              "the rest):")
        for line in lines:
            print(f"  {line}")
    print(f"  results: {shown(suite.results_dir)} (commit {suite.commit[:8]}, "
          f"machine {suite.machine or '?'}, {suite.kind} run)")
    print(f"  asv log: {shown(suite.log)}")
    print(f"  report:  {shown(Path(report_dir) / 'README.md')}")
    print(f"  asv html: {shown(html_dir)} (serve it with `asv preview`)")

"""``lrperf tune``: plan numba_fused on this machine (every shape of a grid, both
layouts, step and descent); save the fastest as wisdom."""
import sys

from .. import signals
from ..grid import DTYPES, GRIDS
from .args import positive_int, shape
from .status import EXIT_BAD_INPUT

NAME = "tune"
HELP = "plan numba_fused on this machine: time its loops, keep the fastest"
DESCRIPTION = (
    "Plan the numba_fused kernels on this machine, as FFTW plans: for every shape of a "
    "grid, both layouts, both thread counts, a propagate step and a gradient descent, "
    "time each candidate loop (C order: two passes over rows, tiles of several widths; "
    "descent fused across steps, pipelined or not; F order: groups of 4 or 2 examples, "
    "pairs) side by side, and keep the fastest as wisdom (a JSON file under the user "
    "cache directory, or $LRPERF_WISDOM), keyed by n_x and m rounded to powers of two "
    "and filed under this CPU's model and caches. Each key costs at most 20 steps of "
    "its X; the cost is printed. optimize/model and the study plan a new key on first "
    "use anyway; this plans again. LRPERF_TUNING=off ignores the wisdom; "
    "LRPERF_TUNING=auto plans a propagate too.")


def add_arguments(p):
    p.add_argument("--threads", type=positive_int, nargs="+", metavar="N", default=None,
                   help="thread counts to plan (default: 1 and all cores Numba may use)")
    p.add_argument("--grid", choices=sorted(GRIDS), default="quick",
                   help="the grid whose shapes are planned (default: quick)")
    p.add_argument("--shapes", nargs="+", type=shape, default=None, metavar="N_XxM",
                   help="shapes to plan instead of the grid's")
    p.add_argument("--dtype", choices=list(DTYPES), default="float64",
                   help="dtype of X (default: float64)")
    p.add_argument("--show", action="store_true",
                   help="print this CPU's wisdom and where it is kept; time nothing")


def _threads(args):
    from .. import grid
    threads = args.threads or grid.thread_counts()
    for n in threads:
        if not 1 <= n <= __import__("numba").config.NUMBA_NUM_THREADS:
            raise ValueError(f"--threads must be between 1 and NUMBA_NUM_THREADS, got {n}")
    return threads


def _show(path):
    from rich.console import Console
    from rich.table import Table

    from .. import numba_fused
    wisdom = numba_fused.load_wisdom(path)
    table = Table(title=f"wisdom for this CPU in {path}")
    for col in ("key", "choice", "n_x", "plan s", "tuned at"):
        table.add_column(col)
    for k, e in sorted(wisdom.items()):
        cost = e.get("plan_s")
        table.add_row(k, numba_fused.describe(e), str(e.get("n_x")),
                      f"{cost:.2f}" if isinstance(cost, (int, float)) else "-",
                      str(e.get("tuned_at")))
    Console().print(table if wisdom else f"no wisdom for this CPU in {path}")
    return 0


def _chosen(done, path, result):
    from rich.table import Table

    from .. import numba_fused
    table = Table(title=f"planned (saved to {path}): timed calls {result['plan_s']:.1f} s, "
                        f"first calls (JIT) {result['first_calls_s']:.1f} s")
    for col in ("key", "choice", "ms", "default would be", "plan s"):
        table.add_column(col)
    for k, entry in done:
        ms = {n: f"{t * 1e3:.3f}" for n, t in entry["times_s"].items()}
        name = numba_fused.entry_choice(entry, k).name
        default = entry.get("default") or "-"
        table.add_row(k, name, ms.get(name, "-"), f"{default} ({ms.get(default, '-')})",
                      f"{entry['plan_s']:.2f}")
    return table


def run(args):
    from rich.console import Console

    from .. import grid, numba_fused
    console = Console(stderr=True)
    threads = _threads(args)
    path = numba_fused.wisdom_path()
    if args.show:
        return _show(path)
    if numba_fused.mode() == "off":
        console.print(f"note: {numba_fused.MODE_ENV}=off: the wisdom is saved but not used")
    g = grid.GRIDS[args.grid]
    shapes = args.shapes or [(n_x, m) for n_x in g.n_x for m in g.m]
    points = [(n_x, m, layout, args.dtype, n) for n_x, m in shapes for layout in grid.LAYOUTS
              for n in threads]
    done = []

    def show(k, entry):
        done.append((k, entry))
        console.print(f"  {k}: {numba_fused.describe(entry)} ({entry['plan_s']:.2f} s)")
    try:
        result = numba_fused.plan_points(points, progress=show, replan=True)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: lrperf.signals tells which
        print(f"lrperf tune: {signals.said(exc)}; nothing of this run was saved to {path}",
              file=sys.stderr)
        return signals.exit_status(exc)
    except OSError as exc:
        print(f"lrperf tune: error: cannot write the wisdom file {path}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    Console().print(_chosen(done, path, result))
    return 0

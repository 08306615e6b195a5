"""``lrperf tune``: time numba_fused's C-order candidates per size class and thread
count on this machine; save the fastest as wisdom."""
import sys

from ..grid import DTYPES
from .status import EXIT_BAD_INPUT, EXIT_INTERRUPTED

NAME = "tune"
HELP = "time numba_fused's loop variants on this machine and keep the fastest"
DESCRIPTION = (
    "Autotune the numba_fused kernel for C-ordered X on this machine, as FFTW "
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


def add_arguments(p):
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


def _threads(args):
    from .. import grid
    if args.rounds < 1:
        raise ValueError(f"--rounds must be >= 1, got {args.rounds}")
    threads = args.threads or grid.thread_counts()
    for n in threads:
        if not 1 <= n <= __import__("numba").config.NUMBA_NUM_THREADS:
            raise ValueError(f"--threads must be between 1 and NUMBA_NUM_THREADS, got {n}")
    return threads


def _show(path):
    from rich.console import Console
    from rich.table import Table

    from .. import tuning
    wisdom = tuning.load_wisdom(path)
    table = Table(title=f"wisdom for this CPU in {path}")
    for col in ("key", "choice", "n_x", "tuned at"):
        table.add_column(col)
    for k, e in sorted(wisdom.items()):
        table.add_row(k, tuning._valid(e).name, str(e.get("n_x")), str(e.get("tuned_at")))
    Console().print(table if wisdom else f"no wisdom for this CPU in {path}")
    return 0


def _tune(args, keys, console, done):
    """Tune each (size class, threads) key, appending what was saved to ``done``."""
    from rich.progress import Progress

    from .. import tuning
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("tuning", total=len(keys))
        for cls, n in keys:
            bar.update(task, description=f"C order, {cls}, {n} thread(s)")

            def show(name, seconds, cls=cls, n=n):
                bar.console.print(f"  C/{cls}/{n}: {name:<32} {seconds * 1e3:9.3f} ms")
            got = tuning.tune_here(cls, n, args.dtype, progress=show, rounds=args.rounds)
            if got is None:
                bar.console.print(f"  C/{cls}/{n}: no such size class on this machine")
            else:
                done.append(got)
            bar.advance(task)


def _chosen(done, path):
    from rich.table import Table

    from .. import tuning
    table = Table(title=f"chosen (saved to {path})")
    for col in ("key", "X timed", "choice", "ms", "default would be"):
        table.add_column(col)
    for k, (n_x, m), entry in done:
        name = tuning._valid(entry).name
        default = entry.get("default") or "-"
        ms = {n: f"{t * 1e3:.3f}" for n, t in entry["times_s"].items() if t is not None}
        table.add_row(k, f"{n_x} x {m}", name, ms.get(name, "-"),
                      f"{default} ({ms.get(default, '-')})")
    return table


def run(args):
    from rich.console import Console

    from .. import tuning
    console = Console(stderr=True)
    threads = _threads(args)
    path = tuning.wisdom_path()
    if args.show:
        return _show(path)
    if tuning.mode() == "off":
        console.print(f"note: {tuning.MODE_ENV}=off: the wisdom is saved but not used")
    done = []
    try:
        _tune(args, [(c, t) for t in threads for c in args.size_class], console, done)
    except KeyboardInterrupt:
        print(f"lrperf tune: interrupted; {len(done)} key(s) were saved to {path}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"lrperf tune: error: cannot write the wisdom file {path}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    Console().print(_chosen(done, path))
    return 0

"""numba_fused's Fortran-order loops, side by side: what the cache-derived choice buys.

For each shape and thread count this times, with ``lrperf.measure.interleaved``
(alternating order, a pause before each turn so the other pool parks,
medians), the F-order kernel with each loop -- ``pairs`` (dot, then dw update,
two examples at a time: the loop before the pipelined groups), ``groups 2``
and ``groups 4`` (software-pipelined) -- and numpy's step, and says which loop
``lrperf.numba_fused`` picks for the shape on this machine.  Steps shorter than
about 2 ms are repeated within one timed call.  Prints Markdown, naming the CPU.

    python scripts/bench_columns.py                                 # the full grid's F shapes
    python scripts/bench_columns.py --shapes 4096x50000 --rounds 5  # the issue's size
    python scripts/bench_columns.py --shapes 64x500 --rounds 1      # a smoke test
"""
import argparse
import sys

import numpy as np

from lrperf import grid, measure, numba_fused
from lrperf.datasets import synthetic
from lrperf.machine import cpu_summary
from lrperf.scripting import shape

LOOPS = {"pairs": (2, False), "groups 2": (2, True), "groups 4": (4, True)}


def _row(n_x, m, threads, rounds):
    X, Y = synthetic(n_x, m, order="F", seed=0)
    Y = np.ascontiguousarray(Y.reshape(m))
    w = np.random.default_rng(1).normal(size=n_x) / np.sqrt(n_x)
    XT, pad = X.T, numba_fused.kernels._pad(n_x)
    v = np.ones(m)
    repeat = int(min(2000, max(1, 2e-3 * 8e9 / X.nbytes)))  # about 2 ms per timed call

    def repeated(fn):
        def run():
            for _ in range(repeat):
                fn()
        return run

    calls = {name: repeated(lambda g=g, p=p: numba_fused.kernels._step_columns(
        w, 0.25, XT, Y, threads, pad, g, p)) for name, (g, p) in LOOPS.items()}
    calls["numpy"] = repeated(lambda: (w @ X, X @ v))
    with measure.threads(threads):
        chosen = numba_fused.choose("step", "F", X, threads)
        times = measure.interleaved(calls, rounds=rounds, per_round=3,
                                    gap=measure.DEFAULT_GAP_S if threads > 1 else 0.02)
    med = {name: measure.median(t) / repeat for name, t in times.items()}
    pick = "pairs" if chosen.variant == "columns" else f"groups {chosen.group}"
    cells = " | ".join(f"{med[name] * 1e3:.3f}" for name in LOOPS)
    return (f"| {n_x} x {m} | {threads} | {X.nbytes / 1e6:.2f} | {cells} | {pick} | "
            f"{med['pairs'] / med[pick]:.2f}x | {med['numpy'] / med[pick]:.2f}x |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", nargs="+", type=shape, default=None,
                   help="N_XxM shapes (default: the full grid's)")
    p.add_argument("--threads", nargs="+", type=measure.positive_int, default=None,
                   help="thread counts (default: 1 and all of Numba's)")
    p.add_argument("--rounds", type=measure.positive_int, default=7,
                   help="interleaved rounds (default 7)")
    args = p.parse_args(argv)
    full = grid.GRIDS["full"]
    shapes = args.shapes or [(n, m) for n in full.n_x for m in full.m]
    thread_counts = args.threads or grid.thread_counts()
    print(f"Machine: {cpu_summary()}\n")
    print("| X (F order) | threads | MB | " + " | ".join(f"{n} ms" for n in LOOPS)
          + " | chosen | chosen over pairs | chosen over numpy |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in LOOPS) + " | --- | ---: | ---: |")
    for threads in thread_counts:
        for n_x, m in shapes:
            print(_row(n_x, m, threads, args.rounds), flush=True)
    print("\nmedians of interleaved rounds (alternating order, a pause before each turn); "
          f"command: python scripts/bench_columns.py {' '.join(sys.argv[1:])}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Do transparent huge pages (the TLB) limit numba_fused's C-order tile reads?

Runs one child per ``NUMPY_MADVISE_HUGEPAGE`` setting (NumPy reads it at
import): each allocates a C-ordered X, says how much of it the kernel backs
with huge pages (AnonHugePages of X's mapping in /proc/self/smaps) and times
the C-order step loops (two passes over rows, tiles of 0.25 / 1 / 4 L2) and a
plain read of X, side by side (``lrperf.measure.interleaved``).  If the tiles,
which jump between rows, lose more without huge pages than the streaming
loops, the TLB limits them.

    cpu-bench env PYTHONPATH=$PWD/src:$PWD python scripts/bench_thp.py --shape 4096x25000
"""
import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys
import numpy as np
import numba as nb
from lrperf import ceiling, measure, numba_fused
from lrperf.datasets import synthetic
from lrperf.numba_fused import Choice, planner

n_x, m, threads = (int(v) for v in sys.argv[1:4])
X, Y = synthetic(n_x, m, order="C", seed=0)
X = np.array(X, order="C")  # a fresh allocation under this process's madvise setting
Y = np.ascontiguousarray(Y.reshape(-1))
w = np.full(n_x, 1.0 / n_x)
start = X.ctypes.data
huge = None
with open("/proc/self/smaps") as f:
    lines = f.read().splitlines()
for i, line in enumerate(lines):
    head = line.split()[0]
    if "-" in head and all(c in "0123456789abcdef-" for c in head):
        lo, hi = (int(v, 16) for v in head.split("-"))
        if lo <= start < hi:
            for extra in lines[i + 1:i + 30]:
                if extra.startswith("AnonHugePages:"):
                    huge = int(extra.split()[1]) * 1024
                    break
            break
choices = {"rows": Choice("rows")}
choices.update({f"tiles {t:g} L2": Choice("tiles", t) for t in (0.25, 1.0, 4.0)})
with measure.threads(threads) as n:
    calls = {name: (lambda p=planner.resolve(c, n_x, 8): numba_fused.run_params(w, 0.0, X, Y, p, n))
             for name, c in choices.items()}
    read, volume = ceiling.PROBES["sum"](X, n, 1)
    calls["plain read"] = read
    times = measure.interleaved(calls, rounds=5, per_round=1, gap=0.05)
out = {name: measure.median(t) for name, t in times.items()}
out["plain read"] *= X.nbytes / volume
print(json.dumps({"huge_bytes": huge, "x_bytes": X.nbytes, "median_s": out}))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="4096x25000")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = p.parse_args(argv)
    n_x, m = (int(v) for v in args.shape.split("x"))
    from lrperf.machine import cpu_summary
    print(f"CPU: {cpu_summary()}")
    print(f"THP: {open('/sys/kernel/mm/transparent_hugepage/enabled').read().strip()}")
    print("| NUMPY_MADVISE_HUGEPAGE | threads | X in huge pages | rows ms | tiles 0.25 L2 ms "
          "| tiles 1 L2 ms | tiles 4 L2 ms | plain read ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for t in args.threads:
        for madvise in ("1", "0"):
            env = dict(os.environ, NUMPY_MADVISE_HUGEPAGE=madvise)
            out = subprocess.run([sys.executable, "-c", CHILD, str(n_x), str(m), str(t)],
                                 env=env, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            s = r["median_s"]
            share = (r["huge_bytes"] or 0) / r["x_bytes"]
            print(f"| {madvise} | {t} | {share:.0%} | {s['rows'] * 1e3:.1f} "
                  f"| {s['tiles 0.25 L2'] * 1e3:.1f} | {s['tiles 1 L2'] * 1e3:.1f} "
                  f"| {s['tiles 4 L2'] * 1e3:.1f} | {s['plain read'] * 1e3:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

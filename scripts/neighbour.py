"""A neighbour that comes and goes, to test a compare on a machine that is not quiet.

Processes (one per core by default) burn the CPU together for a random
``--on`` seconds, then rest for a random ``--off`` seconds, until interrupted
or ``--seconds`` have passed.  Seeded, so a rerun makes the same pattern.
docs/measuring.md's A/A and planted rows "with a neighbour that comes and
goes" ran three tiny-grid studies beside one of these::

    python scripts/neighbour.py &
    lrperf study --grid tiny --results /tmp/a1 --out /tmp/r1   # ... and the others
    kill %1
"""
import argparse
import multiprocessing as mp
import os
import random
import sys
import time


def _burn(on):
    while True:
        on.wait()
        x = 0
        while on.is_set():
            for _ in range(10000):
                x += 1


def _span(text):
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH seconds, got {text!r}") from None
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"expected 0 < LOW <= HIGH, got {text!r}")
    return lo, hi


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="burning processes (default: one per core)")
    parser.add_argument("--on", type=_span, default=(0.3, 3.0), metavar="LOW,HIGH",
                        help="seconds each burst lasts, drawn uniformly (default: 0.3,3)")
    parser.add_argument("--off", type=_span, default=(0.3, 3.0), metavar="LOW,HIGH",
                        help="seconds each rest lasts, drawn uniformly (default: 0.3,3)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this long (default: until interrupted)")
    parser.add_argument("--seed", type=int, default=1, help="the pattern's seed (default: 1)")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes must be at least 1, got {args.processes}")
    on = mp.Event()
    for _ in range(args.processes):
        mp.Process(target=_burn, args=(on,), daemon=True).start()
    rng = random.Random(args.seed)
    end = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while end is None or time.monotonic() < end:
            on.set()
            time.sleep(rng.uniform(*args.on))
            on.clear()
            time.sleep(rng.uniform(*args.off))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""jax_xla's host-to-XLA transfer of X: what every ``propagate`` call pays
before its step (``prepare``), median of ``--rounds`` calls measured side by
side (``lrperf.measure.interleaved``).

* float64 X as NumPy allocates it (16 bytes past a 64-byte boundary): XLA copies it;
* the same X allocated aligned once (``jax_xla.aligned(X)``): XLA aliases it, no copy;
* float32 X: before, ``astype(float64)`` and then XLA's copy (two copies);
  now one NumPy conversion into an aligned buffer that XLA aliases.

    python scripts/bench_xla_transfer.py                    # 4096 x 50000 (1.6 GB), C and F
    python scripts/bench_xla_transfer.py --n-x 512 --m 2000 --rounds 3
"""
import argparse
import gc

import numpy as np


def _ready(prepared):
    prepared[0].data.block_until_ready()


def main(argv=None):
    from lrperf import machine, measure
    from lrperf.strategies import jax_xla

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-x", type=measure.positive_int, default=4096)
    p.add_argument("--m", type=measure.positive_int, default=50000)
    p.add_argument("--rounds", type=measure.positive_int, default=5)
    args = p.parse_args(argv)
    print(f"CPU: {machine.cpu_summary()}")
    jax = jax_xla._jax()
    Y = np.zeros(args.m)
    for order, dtype in (("C", np.float64), ("F", np.float64), ("C", np.float32)):
        X = np.asarray(np.random.default_rng(0).random((args.n_x, args.m), dtype=dtype),
                       order=order)
        if dtype == np.float64:
            A = jax_xla.aligned(X)
            calls = {"NumPy X (XLA copies)": lambda: _ready(jax_xla.prepare(X, Y)),
                     "aligned X (alias)": lambda: _ready(jax_xla.prepare(A, Y))}
        else:
            def before():
                with jax_xla.x64():
                    jax.device_put(X.astype(np.float64)).block_until_ready()
            calls = {"astype + XLA (before)": before,
                     "prepare (now)": lambda: _ready(jax_xla.prepare(X, Y))}
        times = measure.interleaved(calls, rounds=args.rounds, per_round=1, gap=0.3)
        print(f"{args.n_x} x {args.m} {order} {np.dtype(dtype).name} ({X.nbytes / 1e9:.2f} GB, "
              f"at {X.ctypes.data % 64} bytes past 64):")
        for name, t in times.items():
            s = measure.median(t)
            print(f"  {name:24} {s * 1e3:9.2f} ms  ({X.nbytes / s / 1e9:.3g} GB/s of X)")
        del X, calls
        A = None
        gc.collect()


if __name__ == "__main__":
    main()

"""Measure the GPU strategies against the device's own ceiling and the best CPU strategy.

For each size and layout: one step of ``numba_cuda`` and ``cupy`` with X
resident on the device and with the transfer (``lrperf.propagate`` on host
arrays: X moved every call), each as a share of the device read ceiling
measured at X's own size; the best CPU strategy (numba_fused, numpy at all
cores) on the same data.  Also: CUDA context creation and each strategy's
first call (compilation) on their own, host-to-device bandwidth (pageable and
pinned), the read ceiling by working-set size, and the course's ``model`` on
the cat data for 2000 iterations (X resident vs the best CPU strategy).
Prints Markdown; --json saves every figure.  Needs an NVIDIA GPU: without
one it says so in one line and exits 2.

    python scripts/bench_gpu.py                    # 4096 x 50000 and a quarter of memory
    python scripts/bench_gpu.py --quick            # a smoke test
    python scripts/bench_gpu.py --sweep --json gpu.json
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

from lrperf.scripting import (Parser, UsageError, cpu_line, dims, log, positive_int, shape, table,
                              write_json)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = "4096x50000,quarter"
QUICK_SIZES = "1024x20000"
GPU_STRATEGIES = ("numba_cuda", "cupy")
CPU_STRATEGIES = ("numba_fused", "numpy")
SWEEP_TILES = (4, 8, 16, 32)
SWEEP_BLOCKS_PER_SM = (1, 2, 4, 8, 16)


def parse_sizes(text):
    """'4096x50000,quarter' -> [(4096, 50000), 'quarter']."""
    return [item.strip().lower() if item.strip().lower() == "quarter" else shape(item)
            for item in text.split(",")]


def parse_layouts(text):
    layouts = [part.strip().upper() for part in text.split(",")]
    if not layouts or any(layout not in ("C", "F") for layout in layouts):
        raise argparse.ArgumentTypeError(f"layouts must be C, F or C,F, got {text!r}")
    return layouts


def build_parser():
    p = Parser(prog="bench_gpu.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=parse_sizes, default=None,
                   help=f"comma-separated NXxM or 'quarter' (4096 x m, X a quarter of device "
                        f"memory); default {DEFAULT_SIZES}")
    p.add_argument("--layouts", type=parse_layouts, default=["C", "F"], help="C, F or C,F")
    p.add_argument("--repeats", type=positive_int, default=21, help="timed steps per point")
    p.add_argument("--iterations", type=positive_int, default=2000,
                   help="iterations of the cat model (default 2000)")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data",
                   help="where train_catvnoncat.h5 and test_catvnoncat.h5 are")
    p.add_argument("--quick", action="store_true",
                   help=f"a smoke test: {QUICK_SIZES}, 5 repeats, 200 iterations")
    p.add_argument("--sweep", action="store_true",
                   help="also time numba_cuda's launch choices (tile x blocks per SM)")
    p.add_argument("--no-cpu", action="store_true", help="skip the CPU comparison")
    p.add_argument("--json", type=Path, metavar="PATH", help="also save every figure as JSON")
    return p


def parse_args(argv):
    args = build_parser().parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or parse_sizes(QUICK_SIZES)
        args.repeats = min(args.repeats, 5)
        args.iterations = min(args.iterations, 200)
    args.sizes = args.sizes or parse_sizes(DEFAULT_SIZES)
    if args.json is not None and not args.json.parent.is_dir():
        raise UsageError(f"--json: directory {args.json.parent} does not exist")
    return args


def _median(times):
    return statistics.median(times)


def measure_point(gm, strategies, n_x, m, layout, args, ceiling):
    """One size and layout: every strategy resident and with transfer, and the CPU's best."""
    import numpy as np

    import lrperf
    from lrperf.measure import threads

    X, Y = gm.device_problem(n_x, m, layout)
    w = np.full(n_x, 1.0 / n_x)
    point = {"n_x": n_x, "m": m, "layout": layout, "bytes": 8 * n_x * m,
             "ceiling_gbs": ceiling, "gpu": {}, "cpu": {}}
    host_X = X.copy_to_host()
    reference = None
    for name in strategies:
        record = lrperf.STRATEGIES[name]
        Xp, Yp = record.prepared(X, Y)  # X already on the device: no copy
        t0 = time.perf_counter()
        dw, db, cost = record.step(w, 0.1, Xp, Yp)  # compiles for this layout
        first = time.perf_counter() - t0
        if reference is None:
            reference = dw
        else:
            np.testing.assert_allclose(dw, reference, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name} disagrees with {strategies[0]}")
        resident = gm.timed_calls(lambda: record.step(w, 0.1, Xp, Yp), args.repeats)
        del Xp, Yp
        transfer = gm.timed_calls(
            lambda: lrperf.propagate(w, 0.1, host_X, Y, strategy=name),
            max(3, args.repeats // 4))
        point["gpu"][name] = {"first_call_s": first, "resident_s": resident,
                              "transfer_s": transfer}
        log(f"  {name}: resident {_median(resident) * 1e3:.3f} ms, "
            f"with transfer {_median(transfer) * 1e3:.1f} ms")
    if args.sweep and "numba_cuda" in strategies:
        point["sweep"] = sweep(gm, X, Y, w, args.repeats)
    del X
    if not args.no_cpu:
        import numba
        with threads(numba.config.NUMBA_NUM_THREADS):
            for name in CPU_STRATEGIES:
                record = lrperf.STRATEGIES[name]
                Xp, Yp = record.prepared(host_X, Y)
                time.sleep(0.3)  # the other thread pool parks
                times = gm.timed_calls(lambda: record.step(w, 0.1, Xp, Yp),
                                       max(3, args.repeats // 4))
                point["cpu"][name] = times
                log(f"  {name} (CPU): {_median(times) * 1e3:.2f} ms")
    return point


def sweep(gm, X, Y, w, repeats):
    """numba_cuda's step time for each (tile, blocks per SM): the launch choice, measured."""
    from lrperf.strategies import gpu_numba_cuda as kernel

    sms = gm.device_info()["multiprocessors"]
    rows = []
    for tile in SWEEP_TILES:
        for per_sm in SWEEP_BLOCKS_PER_SM:
            Xp, Yp = kernel.prepare(X, Y, tile=tile, blocks=per_sm * sms)
            kernel.step(w, 0.1, Xp, Yp)
            t = _median(gm.timed_calls(lambda: kernel.step(w, 0.1, Xp, Yp), repeats))
            rows.append({"tile": tile, "blocks_per_sm": per_sm, "s": t})
    default = kernel.launch_config(X.shape[0], X.shape[1], 8, sms,
                                   gm.device_info()["l2_bytes"])
    best = min(rows, key=lambda r: r["s"])
    log(f"  sweep: best tile {best['tile']}, {best['blocks_per_sm']} blocks/SM "
        f"({best['s'] * 1e3:.3f} ms); default (blocks, tile) = {default}")
    return {"rows": rows, "default": {"blocks": default[0], "tile": default[1]}}


def cat_model(gm, strategies, args):
    """Seconds of ``optimize`` for --iterations on the cat training set: GPU
    strategies with X resident (a device array), CPU ones at all cores."""
    import numba
    import numpy as np

    import lrperf
    from lrperf.datasets import load_catvnoncat
    from lrperf.measure import threads

    data = load_catvnoncat(args.data_dir)
    X, Y = data.X_train, data.Y_train
    w = np.zeros((X.shape[0], 1))
    X_dev = gm.cuda.to_device(X)
    results = {}

    def run(name, X_in):
        lrperf.optimize(w, 0.0, X_in, Y, 1, 0.005, strategy=name)  # compile, context
        t0 = time.perf_counter()
        params, _, costs = lrperf.optimize(w, 0.0, X_in, Y, args.iterations, 0.005,
                                           strategy=name)
        results[name] = {"s": time.perf_counter() - t0, "final_cost": costs[-1]}
        log(f"  cat model, {name}: {results[name]['s']:.2f} s")

    for name in strategies:
        run(name, X_dev)
    if not args.no_cpu:
        with threads(numba.config.NUMBA_NUM_THREADS):
            for name in CPU_STRATEGIES:
                time.sleep(0.3)
                run(name, X)
    return {"shape": list(X.shape), "iterations": args.iterations, "results": results}


def markdown(payload):
    info = payload["device"]
    lines = [
        f"GPU: {info['gpu']} (compute {info['compute_capability']}, "
        f"{info['multiprocessors']} SMs, L2 {info['l2_bytes'] / 2**20:.0f} MiB, "
        f"{info['memory_bytes'] / 2**30:.0f} GiB); {cpu_line(payload['cpu'])}.  "
        f"CUDA context {payload['context_s'] * 1e3:.0f} ms; "
        f"H2D {payload['h2d_gbs']['pageable']:.1f} GB/s pageable, "
        f"{payload['h2d_gbs']['pinned']:.1f} GB/s pinned.",
        "",
        *table(["X", "layout", "strategy", "first call ms", "resident ms", "ceiling share",
                "with transfer ms", "vs cupy (resident)", "vs best CPU (resident / transfer)"],
               [], "lllrrrrrr"),
    ]
    for p in payload["points"]:
        cpu = {n: _median(t) for n, t in p["cpu"].items()}
        best_cpu = min(cpu.values()) if cpu else None
        gpu = {n: {k: (_median(v) if isinstance(v, list) else v) for k, v in r.items()}
               for n, r in p["gpu"].items()}
        for name, r in gpu.items():
            share = p["bytes"] / r["resident_s"] / 1e9 / p["ceiling_gbs"]
            vs_cupy = (f"{gpu['cupy']['resident_s'] / r['resident_s']:.2f}x"
                       if "cupy" in gpu and name != "cupy" else "")
            vs_cpu = (f"{best_cpu / r['resident_s']:.1f}x / {best_cpu / r['transfer_s']:.2f}x"
                      if best_cpu else "")
            lines.append(
                f"| {p['n_x']} x {p['m']} ({p['bytes'] / 1e9:.2f} GB) | {p['layout']} | {name} "
                f"| {r['first_call_s'] * 1e3:.0f} | {r['resident_s'] * 1e3:.3f} | {share:.0%} "
                f"| {r['transfer_s'] * 1e3:.1f} | {vs_cupy} | {vs_cpu} |")
        if cpu:
            best = min(cpu, key=cpu.get)
            lines.append(f"| | {p['layout']} | best CPU: {best} | | {cpu[best] * 1e3:.2f} "
                         "| | | | |")
    lines += ["", "Read ceiling (fastest plain read, GB/s) by working set: " + ", ".join(
        f"{size / 2**20:.0f} MiB {gbs:.0f}" for size, gbs in payload["ceiling_by_size"])]
    cat = payload.get("cat_model")
    if cat:
        res = cat["results"]
        gpu_best = min((n for n in res if n in GPU_STRATEGIES), key=lambda n: res[n]["s"],
                       default=None)
        cpu_best = min((n for n in res if n in CPU_STRATEGIES), key=lambda n: res[n]["s"],
                       default=None)
        text = ", ".join(f"{n} {r['s']:.2f} s" for n, r in res.items())
        lines += ["", f"Cat model, {cat['iterations']} iterations on {cat['shape']}: {text}."]
        if gpu_best and cpu_best:
            lines.append(f"{gpu_best} (X resident) vs {cpu_best}: "
                         f"{res[cpu_best]['s'] / res[gpu_best]['s']:.2f}x.")
    lines += ["", "Medians of timed steps (each synchronized: w up, dw/db/cost back). ceiling "
              "share = X bytes / resident time / the read ceiling at X's size.  with transfer = "
              "lrperf.propagate on host arrays (X copied to the device every call)."]
    return "\n".join(lines)


def run(args):
    from lrperf import gpu_measure as gm
    from lrperf.machine import machine_info

    import lrperf

    context = gm.context_seconds()
    info = gm.device_info()
    strategies = [n for n in GPU_STRATEGIES if lrperf.STRATEGIES[n].available]
    log(f"{info['gpu']}: strategies {strategies}")
    payload = {"device": info, "cpu": machine_info(), "context_s": context,
               "h2d_gbs": {kind: gm.h2d_bandwidth(256 * gm.MiB, pinned=kind == "pinned")
                           for kind in ("pageable", "pinned")},
               "ceiling_by_size": [], "points": []}
    for size in gm.ceiling_sizes(info["l2_bytes"], info["memory_bytes"]):
        payload["ceiling_by_size"].append((size, gm.device_read_bandwidth(size)))
        log(f"read ceiling {size / 2**20:.0f} MiB: {payload['ceiling_by_size'][-1][1]:.0f} GB/s")
    for size in args.sizes:
        n_x, m = size if size != "quarter" else (4096, info["memory_bytes"] // 4 // (8 * 4096))
        for layout in args.layouts:
            log(f"{n_x} x {m}, {layout}")
            ceiling = gm.device_read_bandwidth(8 * n_x * m)
            payload["points"].append(measure_point(gm, strategies, n_x, m, layout, args, ceiling))
    if (args.data_dir / "train_catvnoncat.h5").is_file():
        payload["cat_model"] = cat_model(gm, strategies, args)
    else:
        log(f"cat data not found in {args.data_dir}: no cat model figures")
    print(markdown(payload))
    if args.json is not None:
        write_json(args.json, payload, indent=1)


def main(argv=None):
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(f"bench_gpu.py: {exc}", file=sys.stderr)
        return 2
    from lrperf import gpu_measure

    reason = gpu_measure.no_gpu_reason()
    if reason is not None:
        print(f"bench_gpu.py: needs an NVIDIA GPU: {reason}", file=sys.stderr)
        return 2
    try:
        run(args)
    except KeyboardInterrupt:
        print("bench_gpu.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The written findings: each number comes from one measured shape, named beside it."""
import math

from .. import grid
from . import analysis as an

hb, hs, shape_text = an.human_bytes, an.human_seconds, an.shape_text
MAX_NOISY_LISTED = 12


def _at(shape, dtype="float64"):
    n_x, m = shape
    return f"{shape_text(n_x, m)}, {hb(grid.nbytes(n_x, m, dtype))}"


def _range(ratios, sig=None):
    """'a× (shape) to b× (shape)' of a Series indexed by (n_x, m)."""
    r = ratios.dropna()
    if r.empty:
        return None
    lo, hi = r.idxmin(), r.idxmax()
    text = f"{r[lo]:.3g}× ({_at(lo)})"
    if hi != lo:
        text += f" to {r[hi]:.3g}× ({_at(hi)})"
    if sig is not None:
        known = sig.reindex(r.index).dropna()
        if len(known):
            text += f", significant at {int(known.sum())} of {len(known)} shapes"
    return text


def _significance(report, rows, a, b):
    """asv compare's verdict for strategy a against b at each shape (NaN: no interval)."""
    out = {}
    for shape, pair in rows[rows["strategy"].isin([a, b])].groupby(["n_x", "m"]):
        ra, rb = pair[pair["strategy"] == a], pair[pair["strategy"] == b]
        if len(ra) == 1 and len(rb) == 1:
            verdict = an.is_different(ra.iloc[0], rb.iloc[0])
            out[tuple(int(v) for v in shape)] = math.nan if verdict is None else float(verdict)
    import pandas as pd
    s = pd.Series(out, dtype=float)
    if len(s):
        s.index = s.index.set_names(["n_x", "m"])
    return s


def _where(layout, threads, dtype="float64"):
    extra = "" if dtype == "float64" else f", {dtype}"
    return f"layout {layout}, {an.threads_text(threads)}{extra}"


def _block(report, layout, threads):
    out = []
    sel = an.select(report.steps, layout=layout, threads=threads, dtype="float64")
    times = an.shape_table(sel)
    if times.empty:
        return out
    where = _where(layout, threads)
    parts = []
    for lo, hi, s in an.regimes(times):
        parts.append(f"{s} at {_at(lo)}" if lo == hi else f"{s} from {_at(lo)} to {_at(hi)}")
    out.append(f"- **Fastest** ({where}): " + "; ".join(parts) + ".")
    for base in grid.BASELINES:
        if base not in times:
            continue
        parts = []
        for s in report.strategies:
            if s not in grid.BASELINES and s in times:
                sig = _significance(report, sel, s, base) if base == "numpy" else None
                text = _range(times[base] / times[s], sig)
                if text:
                    parts.append(f"{s} {text}")
        if parts:
            out.append(f"- **Speedup over {base}** ({where}): " + "; ".join(parts) + ".")
    cross = []
    # numpy against each strategy, and the strategies that are fastest somewhere
    # against each other: the pairs a reader chooses between.
    fastest = {s for _, _, s in an.regimes(times)}
    pairs = [(a, b) for i, a in enumerate(report.strategies) for b in report.strategies[i + 1:]
             if "numpy" in (a, b) or {a, b} <= fastest]
    for a, b in pairs:
        if True:
            kind, detail = an.crossovers(times, a, b)
            if kind == "one":
                below_at, above_at, below, above = detail
                cross.append(f"{below} is faster up to {_at(below_at)}, {above} from "
                             f"{_at(above_at)}")
            elif kind == "mixed":
                cross.append(f"{a} vs {b} flips more than once ({a} faster at {detail[0]} of "
                             f"{detail[1]} shapes: n_x and m decide, not the size alone)")
    if cross:
        out.append(f"- **Crossovers** ({where}): " + "; ".join(cross) + ".")
    return out


def _ceiling_block(report):
    bw = report.bandwidth
    if bw.empty or bw["share"].isna().all():
        return []
    out = []
    kind = ("one out-of-cache read ceiling (these results predate the size ladder)"
            if report.single_ceiling else "the read ceiling measured at the same working-set size")
    for (layout, threads), part in bw[bw["dtype"] == "float64"].groupby(["layout", "threads"]):
        parts = []
        for s in report.strategies:
            col = part[part["strategy"] == s].dropna(subset=["share"])
            if col.empty:
                continue
            best = col.loc[col["share"].idxmax()]
            parts.append(f"{s} up to {100 * best['share']:.2g}% ({best['value']:.3g} of "
                         f"{best['ceiling']:.3g} GB/s at {_at((best['n_x'], best['m']))})")
        if parts:
            out.append(f"- **Share of {kind}** ({_where(layout, int(threads))}): "
                       + "; ".join(parts) + ".")
    over = bw[bw["share"] > 1]
    if len(over):
        shapes = ", ".join(f"{r.strategy} {_at((r.n_x, r.m))}" for r in over.itertuples())
        out.append(f"- **Ceiling too low** at {len(over)} points ({shapes}): a share above "
                   "100% of a physical limit means the limit under-read there (for a single "
                   "out-of-cache ceiling: X fit in a cache), not that the kernel beat it.")
    return out


def _scaling_block(report):
    if len(report.threads) < 2:
        return []
    one, most = report.threads[0], report.threads[-1]
    out = []
    for layout in report.layouts:
        sel = an.select(report.steps, layout=layout, dtype="float64")
        t1 = an.shape_table(sel[sel["threads"] == one])
        tn = an.shape_table(sel[sel["threads"] == most])
        calm = sel[~sel["noisy"]]
        calm1 = an.shape_table(calm[calm["threads"] == one])
        calmn = an.shape_table(calm[calm["threads"] == most])
        parts = []
        for s in report.strategies:
            if s in calm1 and s in calmn:
                text = _range(calm1[s] / calmn[s])
                if text:
                    parts.append(f"{s} {text}")
        dropped = int(((t1.notna() & tn.notna()).sum().sum() if not t1.empty and not tn.empty
                       else 0) - ((calm1.notna() & calmn.notna()).sum().sum()
                                  if not calm1.empty and not calmn.empty else 0))
        if parts:
            note = f"; {dropped} noisy pairs left out" if dropped > 0 else ""
            out.append(f"- **Thread scaling** ({most} threads over {one}, layout {layout}"
                       f"{note}): " + "; ".join(parts) + ".")
    return out


def _layout_block(report):
    if not {"C", "F"} <= set(report.layouts):
        return []
    out = []
    for threads in report.threads:
        sel = an.select(report.steps, threads=threads, dtype="float64")
        c, f = an.shape_table(sel[sel["layout"] == "C"]), an.shape_table(sel[sel["layout"] == "F"])
        parts = [f"{s} {text}" for s in report.strategies if s in c and s in f
                 for text in [_range(c[s] / f[s])] if text]
        if parts:
            out.append(f"- **Layout** (time in C order over F order, "
                       f"{an.threads_text(threads)}; above 1× F is faster): "
                       + "; ".join(parts) + ".")
    return out


def _dtype_block(report):
    if "float32" not in report.dtypes:
        return []
    out = []
    for (layout, threads), sel in report.steps.groupby(["layout", "threads"]):
        d64 = an.shape_table(sel[sel["dtype"] == "float64"])
        d32 = an.shape_table(sel[sel["dtype"] == "float32"])
        parts = [f"{s} {text}" for s in report.strategies if s in d64 and s in d32
                 for text in [_range(d64[s] / d32[s])] if text]
        if parts:
            out.append(f"- **float32 over float64** (time ratio, above 1× float32 is "
                       f"faster; {_where(layout, int(threads))}): " + "; ".join(parts) + ".")
    return out


def _noise_block(report):
    flagged = report.steps[report.steps["noisy"]]
    if flagged.empty:
        return []
    shown = flagged.assign(spread=(flagged["ci_high"] - flagged["ci_low"]) / flagged["value"])
    shown = shown.sort_values("spread", ascending=False)
    pts = "; ".join(
        f"{r.strategy} {_where(r.layout, int(r.threads), r.dtype)} at {_at((r.n_x, r.m))} "
        f"(median {hs(r.value)}, 99% interval {hs(r.ci_low)}–{hs(r.ci_high)})"
        for r in shown.head(MAX_NOISY_LISTED).itertuples())
    more = (f"; and {len(flagged) - MAX_NOISY_LISTED} more (results.csv: ci_low, ci_high, "
            "q_25, q_75)" if len(flagged) > MAX_NOISY_LISTED else "")
    return [f"- **Noisy points** ({len(flagged)} of {len(report.steps)}; asv's 99% interval "
            f"wider than the median, or quartiles more than {100 * an.NOISE_IQR_SHARE:.0f}% "
            f"of it apart; widest first): {pts}{more}. Their ratios above are less certain. "
            f"{_remeasured(report)} Measure again (`lrperf study --replace`) on a quieter "
            "machine."]


def _remeasured(report):
    """What the study that made these results did about noisy points (its sidecar)."""
    study = (report.description or {}).get("study")
    if not isinstance(study, dict) or "remeasured" not in study:
        return ("Whether they were measured twice is not recorded (results of `asv run`, "
                "or of an older lrperf).")
    done = study["remeasured"]
    if not isinstance(done, dict):
        return "They were measured once (asv --quick, or `lrperf study --no-remeasure`)."
    return (f"`lrperf study` measured {done.get('points')} flagged point(s) a second time "
            f"(at most {done.get('max')}, noisiest first) and {done.get('still_noisy')} "
            "stayed noisy; those points show their second measurement.")


def _first_call_block(report):
    first = report.first_call
    if first.empty or "cache" not in first.columns:
        return []
    parts = []
    for s in report.strategies:
        row = first[first["strategy"] == s]
        vals = {c: row[row["cache"] == c]["value"].median() for c in ("cold", "warm")}
        shown = [f"{hs(v)} {c}" for c, v in vals.items() if math.isfinite(v)]
        if shown:
            parts.append(f"{s} " + " / ".join(shown))
    if not parts:
        return []
    return ["- **First call** (compilation or Numba cache load, fresh interpreter, not in "
            "any timing above): " + "; ".join(parts) + "."]


def _reads(strategy, dtype):
    """How a strategy reads X of ``dtype``: natively (and what it sums in) or through a
    float64 copy; from the registry (None: not registered here)."""
    from ..registry import STRATEGIES
    record = STRATEGIES.get(strategy)
    if record is None:
        return None
    if dtype not in record.dtypes:
        return "gets a float64 copy"
    return f"reads it, sums in {record.accumulation(dtype)}"


def _accuracy_block(report):
    acc = report.accuracy
    if acc.empty:
        return []
    out = []
    names = report.strategies + sorted(set(acc["strategy"]) - set(report.strategies))
    top = acc.loc[(acc["n_x"] * acc["m"]).idxmax()]
    for dtype in [d for d in grid.DTYPES if d in set(acc["dtype"])]:
        sel = acc[acc["dtype"] == dtype]
        parts = []
        for s in names:
            r = sel[sel["strategy"] == s]
            if r.empty or r["error_dw"].isna().all():
                continue
            worst = r.loc[r["error_dw"].idxmax()]
            how = _reads(s, dtype) if dtype != "float64" else None
            text = (f"{s}{f' ({how})' if how else ''} dw {worst.error_dw:.2g} at "
                    f"{_at((worst.n_x, worst.m), dtype)}")
            if r["error_cost"].notna().any():
                text += f", cost {r['error_cost'].max():.2g}"
            parts.append(text)
        if parts:
            out.append(f"- **Accuracy, {dtype} X** (largest relative error against the exact "
                       f"50-digit step on the same values, over n_x × m up to "
                       f"{shape_text(top.n_x, top.m)}, layout F): " + "; ".join(parts) + ".")
    return out


def _trade_block(report):
    """The float32 trade in two sentences: bytes, speed and error per dtype, at one shape."""
    if "float32" not in report.dtypes:
        return []
    threads = report.threads[-1]
    sel = an.select(report.steps, layout="F", threads=threads)
    d64 = an.shape_table(sel[sel["dtype"] == "float64"])
    d32 = an.shape_table(sel[sel["dtype"] == "float32"])
    both = [s for s in report.strategies if s in d64 and s in d32
            and (d64[s] / d32[s]).notna().any()]
    if not both:
        return []
    ratios = {s: (d64[s] / d32[s]).dropna() for s in both}
    shapes = set.intersection(*(set(r.index) for r in ratios.values()))
    if not shapes:
        return []
    shape = max(shapes, key=lambda sh: sh[0] * sh[1])
    acc = report.accuracy
    errors = []
    for s in both:
        worst = {d: acc[(acc["strategy"] == s) & (acc["dtype"] == d)]["error_dw"].max()
                 for d in grid.DTYPES} if len(acc) else {}
        if all(math.isfinite(worst.get(d, math.nan)) for d in grid.DTYPES):
            how = _reads(s, "float32")
            errors.append(f"{s} {worst['float64']:.2g} in float64, {worst['float32']:.2g} "
                          f"in float32{f' (it {how})' if how else ''}")
    speed = "; ".join(f"{s} {hs(d64.loc[shape, s])} in float64, {hs(d32.loc[shape, s])} in "
                      f"float32 ({ratios[s][shape]:.3g}×)" for s in both)
    text = (f"- **The float32 trade** (layout F, {an.threads_text(threads)}, "
            f"{shape_text(*shape)}): float32 X is {hb(grid.nbytes(*shape, 'float32'))} a step "
            f"instead of {hb(grid.nbytes(*shape))}: {speed}.")
    if errors:
        text += (" The largest relative error of dw against the exact step (accuracy "
                 "benchmarks): " + "; ".join(errors) + ".")
    return [text]


def _xla_block(report):
    """What XLA compiled (benchmarks/xla.py), beside jax_xla's measured step."""
    prog = report.xla
    if prog.empty or "x_reads" not in prog or prog["x_reads"].isna().all():
        return []
    out = []
    for r in prog.dropna(subset=["x_reads"]).itertuples():
        n_x, m, layout = int(r.n_x), int(r.m), r.layout
        reads = int(r.x_reads)
        fused = "" if not math.isfinite(getattr(r, "dot_fusions", math.nan)) else (
            f", {int(r.dot_fusions)} fusion(s) holding a dot")
        dots = "" if not math.isfinite(getattr(r, "dots", math.nan)) else f"{int(r.dots)} dot(s)"
        verdict = (f"X is read {reads} times per step, as numpy reads it (numba_fused: once)"
                   if reads >= 2 else "X is read once per step")
        text = (f"- **What XLA compiled** (jax_xla's optimized HLO at {_at((n_x, m))}, layout "
                f"{layout}): {dots}{fused}; {reads} instruction(s) take X as an operand, so "
                f"{verdict}.")
        layout_steps = an.select(report.steps, layout=layout, dtype="float64")
        jax = layout_steps[layout_steps["strategy"] == "jax_xla"]
        where = ""
        if len(jax) and not ((jax["n_x"] == n_x) & (jax["m"] == m)).any():
            # Skipped there (estimated too slow): the largest shape it was measured at.
            big = jax.loc[(jax["n_x"] * jax["m"]).idxmax()]
            n_x, m = int(big.n_x), int(big.m)
            where = f" at {_at((n_x, m))}, the largest shape with a jax_xla step,"
        steps = an.select(layout_steps, n_x=n_x, m=m)
        jax_threads = sorted(int(t) for t in steps[steps["strategy"] == "jax_xla"]["threads"])
        if jax_threads:
            t = jax_threads[-1]
            at = an.select(steps, threads=t).set_index("strategy")["value"]
            opt = an.select(report.optimize, n_x=n_x, m=m, layout=layout, dtype="float64",
                            threads=t)
            opt = opt[opt["strategy"] == "jax_xla"]["value"]
            times = [f"jax_xla {hs(at['jax_xla'])} per `propagate` (converts X for XLA on "
                     "every call)"]
            if len(opt):
                times.append(f"{hs(opt.iloc[0] / grid.OPTIMIZE_ITERATIONS)} per step of "
                             f"`optimize` (once per {grid.OPTIMIZE_ITERATIONS} steps)")
            times += [f"{s} {hs(at[s])}" for s in ("numpy", "numba_fused") if s in at]
            text += f" Measured{where} at {an.threads_text(t)}: " + "; ".join(times) + "."
        out.append(text)
    measured = sorted({int(t) for t in
                       report.steps[report.steps["strategy"] == "jax_xla"]["threads"]})
    if measured:
        out.append("- **jax_xla's threads**: its points ran at "
                   + ", ".join(an.threads_text(t) for t in measured)
                   + " only: XLA sizes its thread pool when JAX starts, so the suite skips "
                   "the other thread counts (`python scripts/bench_jax.py` pins a process "
                   "to one core for them).")
    return out


def findings(report):
    if report.steps.empty:
        return ["- No step timings in these results."]
    out = []
    for layout in report.layouts:
        for threads in report.threads:
            out += _block(report, layout, threads)
    out += _layout_block(report) + _scaling_block(report) + _ceiling_block(report)
    out += _dtype_block(report) + _trade_block(report) + _accuracy_block(report)
    out += _xla_block(report) + _noise_block(report) + _first_call_block(report)
    return out


def summary(report):
    """A few lines for the end of a study: fastest per size range and the largest speedups."""
    lines = []
    for layout in report.layouts:
        threads = report.threads[-1]
        times = an.shape_table(an.select(report.steps, layout=layout, threads=threads,
                                         dtype="float64"))
        if times.empty:
            continue
        parts = [f"{s} {_at(lo)}" + ("" if lo == hi else f" to {_at(hi)}")
                 for lo, hi, s in an.regimes(times)]
        lines.append(f"fastest ({_where(layout, threads)}): " + "; ".join(parts))
        if "numpy" in times:
            best = [(float((times["numpy"] / times[s]).max()), s,
                     (times["numpy"] / times[s]).idxmax())
                    for s in report.strategies if s in times and s != "numpy"
                    and (times["numpy"] / times[s]).notna().any()]
            if best:
                r, s, shape = max(best)
                lines.append(f"largest speedup over numpy ({_where(layout, threads)}): "
                             f"{s} {r:.3g}× at {_at(shape)}")
    return lines

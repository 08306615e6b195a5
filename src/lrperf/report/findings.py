"""The written findings, rendered from the report's facets: each number from one measured
shape, named beside it; a number from too few samples says so."""
import math

from .. import grid
from ..escape import md
from .facets import held, interval_name, sample_need
from .units import human_bytes as hb
from .units import human_seconds as hs
from .units import shape_text, threads_text, where_text

MAX_NOISY_LISTED = 12
MAX_LEVELS = 4


def _at(shape, dtype=grid.DTYPES[0]):
    n_x, m = shape
    return f"{shape_text(n_x, m)}, {hb(grid.nbytes(n_x, m, dtype))}"


MARK_UNCONFIRMED = [True]  # off when every point is unconfirmed: one finding says so


def _range(frame, column="ratio", sig=None):
    """'a× (shape) to b× (shape)' over the rows of ``frame`` (n_x, m, column), with how many
    held (``sig``: a column of True/False/None) and how many are unconfirmed."""
    r = frame.dropna(subset=[column])
    if r.empty:
        return None
    lo, hi = r.loc[r[column].idxmin()], r.loc[r[column].idxmax()]
    text = f"{lo[column]:.3g}× ({_at((lo.n_x, lo.m))})"
    if (hi.n_x, hi.m) != (lo.n_x, lo.m):
        text += f" to {hi[column]:.3g}× ({_at((hi.n_x, hi.m))})"
    if sig is not None:
        known = r[r[sig].map(lambda v: v is not None and v == v)]
        if len(known):
            text += (f", significant at {int(sum(held(v) for v in known[sig]))} of {len(known)} "
                     "shapes")
    if MARK_UNCONFIRMED[0] and "confirmed" in r and not r["confirmed"].all():
        weak = int((~r["confirmed"].astype(bool)).sum())
        text += f" ({weak} of {len(r)} unconfirmed: too few samples)"
    return text


def _fastest(report):
    out = []
    for (layout, threads) in sorted({(r.layout, r.threads) for r in report.regimes}):
        parts = []
        for r in report.regimes:
            if (r.layout, r.threads) != (layout, threads):
                continue
            span = (f"at {_at(r.first)}" if r.first == r.last
                    else f"from {_at(r.first)} to {_at(r.last)}")
            weak = "" if r.confirmed == r.cells else (
                " (unconfirmed)" if r.confirmed == 0 else
                f" ({r.cells - r.confirmed} of {r.cells} unconfirmed)")
            level = f"{r.level}: " if r.level else ""
            also = "" if not r.others else " (also " + ", ".join(
                f"{k} at {n}" for k, n in r.others.items()) + " of its shapes)"
            parts.append(f"{level}{r.strategy} {span}{weak}{also}")
        out.append(f"- **Fastest** ({where_text(layout, threads)}): " + "; ".join(parts) + ".")
    return out


def _speedups(report, layout, threads):
    out = []
    sp = report.speedups
    sel = sp[(sp["layout"] == layout) & (sp["threads"] == threads)
             & (sp["dtype"] == report.primary_dtype)]
    for base in grid.BASELINES:
        part = sel[sel["base"] == base]
        parts = []
        for s in report.strategies:
            if s in grid.BASELINES:
                continue
            text = _range(part[part["strategy"] == s], "speedup",
                          "significant" if base == report.reference else None)
            if text:
                parts.append(f"{s} {text}")
        if parts:
            out.append(f"- **Speedup over {base}** ({where_text(layout, threads)}): "
                       + "; ".join(parts) + ".")
    return out


def _crossovers(report, layout, threads):
    cross = []
    for c in report.crossovers:
        if (c.layout, c.threads) != (layout, threads):
            continue
        if c.kind == "one":
            below_at, above_at, below, above = c.detail
            cross.append(f"{below} is faster up to {_at(below_at)}, {above} from {_at(above_at)}")
        else:
            cross.append(f"{c.a} vs {c.b} flips more than once ({c.a} faster at {c.detail[0]} "
                         f"of {c.detail[1]} shapes: n_x and m decide, not the size alone)")
    if not cross:
        return []
    return [f"- **Crossovers** ({where_text(layout, threads)}): " + "; ".join(cross) + "."]


def _shares(report):
    sh = report.shares
    if sh is None or sh.empty or sh["share"].isna().all():
        return []
    kind = ("one out-of-cache read ceiling (these results predate the size ladder)"
            if report.single_ceiling else "the read ceiling at the size of X")
    out = []
    for (layout, threads), part in sh.groupby(["layout", "threads"]):
        parts = []
        for s in report.drawn:
            col = part[part["strategy"] == s].dropna(subset=["share"])
            if col.empty:
                continue
            best = col.loc[col["share"].idxmax()]
            reads = "" if best["passes"] == 1 else f", X read {int(best['passes'])} times"
            level = f" in {best['level']}" if isinstance(best["level"], str) else ""
            weak = "" if best["confirmed"] else ", unconfirmed"
            parts.append(f"{s} up to {100 * best['share']:.2g}% ({best['gbs']:.3g} of "
                         f"{best['ceiling']:.3g} GB/s at {_at((best['n_x'], best['m']))}"
                         f"{level}{reads}{weak})")
        if parts:
            out.append(f"- **Share of {kind}** (bytes read over the median step time of the "
                       f"table, {where_text(layout, int(threads))}): " + "; ".join(parts) + ".")
    over = sh[sh["share"] > 1]
    if len(over):
        shapes = ", ".join(f"{r.strategy} {_at((r.n_x, r.m))}" for r in over.head(8).itertuples())
        more = f" and {len(over) - 8} more" if len(over) > 8 else ""
        out.append(f"- **Ceiling too low** at {len(over)} points ({shapes}{more}): a share above "
                   "100% of a physical limit means the limit under-read there (for a single "
                   "out-of-cache ceiling: X fit in a cache), not that the kernel beat it.")
    return out


def _scaling(report):
    sc = report.scaling
    if sc is None or sc.empty:
        return []
    one, most = report.threads[0], report.threads[-1]
    out = []
    for layout in report.layouts:
        sel = sc[sc["layout"] == layout]
        calm = sel[~sel["noisy"]]
        parts = [f"{s} {text}" for s in report.strategies
                 for text in [_range(calm[calm["strategy"] == s], "speedup")] if text]
        dropped = len(sel) - len(calm)
        if parts:
            note = f"; {dropped} noisy pairs left out" if dropped > 0 else ""
            out.append(f"- **Thread scaling** ({most} threads over {one}, layout {layout}"
                       f"{note}; parallel efficiency is this over {most / one:g}): "
                       + "; ".join(parts) + ".")
    return out


def _layout(report):
    lr = report.layout_ratio
    if lr is None or lr.empty:
        return []
    out = []
    for threads in report.threads:
        sel = lr[lr["threads"] == threads]
        parts = [f"{s} {text}" for s in report.strategies
                 for text in [_range(sel[sel["strategy"] == s])] if text]
        if parts:
            out.append(f"- **Layout** (time in C order over F order, {threads_text(threads)}; "
                       "above 1× F is faster): " + "; ".join(parts) + ".")
    return out


def _dtype(report):
    dr = report.dtype_ratio
    if dr is None or dr.empty:
        return []
    out = []
    for (layout, threads), sel in dr.groupby(["layout", "threads"]):
        parts = [f"{s} {text}" for s in report.strategies
                 for text in [_range(sel[sel["strategy"] == s])] if text]
        if parts:
            out.append(f"- **float32 over float64** (time ratio, above 1× float32 is faster; "
                       f"{where_text(layout, int(threads))}): " + "; ".join(parts) + ".")
    return out


def _peers(report):
    """Each strategy's propagate beside its resident step, at its largest measured point."""
    pe = report.peers
    if pe is None or pe.empty:
        return []
    out = []
    for (layout, threads), sel in pe.groupby(["layout", "threads"]):
        if threads != report.threads[-1]:
            continue
        parts = []
        for s in report.strategies:
            mine = sel[sel["strategy"] == s]
            if mine.empty:
                continue
            r = mine.loc[mine["size"].idxmax()]
            diff = (f"{hs(r.per_call)} a call more: {r.per_call_kind}"
                    if r.per_call > 0.1 * r.resident else "no per-call cost measurable")
            parts.append(f"{s} {hs(r.propagate)} per `propagate`, {hs(r.resident)} per step of "
                         f"`optimize` at {_at((r.n_x, r.m))} ({diff})")
        if parts:
            out.append(f"- **Resident step beside propagate** ({where_text(layout, threads)}; "
                       f"`optimize` runs {grid.OPTIMIZE_ITERATIONS} steps on X prepared once): "
                       + "; ".join(parts) + ".")
    return out


def _noise(report):
    flagged = report.noisy
    if flagged is None or flagged.empty:
        return []
    pts = "; ".join(
        f"{r.strategy} {where_text(r.layout, int(r.threads), r.dtype)} at {_at((r.n_x, r.m))} "
        f"(median {hs(r.value)}, {interval_name(report)} {hs(r.ci_low)}–{hs(r.ci_high)})"
        for r in flagged.head(MAX_NOISY_LISTED).itertuples())
    more = (f"; and {len(flagged) - MAX_NOISY_LISTED} more (results.csv: ci_low, ci_high, "
            "q_25, q_75)" if len(flagged) > MAX_NOISY_LISTED else "")
    return [f"- **Noisy points** ({len(flagged)} of {len(report.steps)}; the "
            f"{interval_name(report)} wider than the median, or quartiles more than {100 * report.noise_iqr_share:.0f}% "
            f"of it apart; widest first): {pts}{more}. Their ratios above are less certain. "
            f"{_remeasured(report.remeasured)} Measure again (`lrperf study --replace`) on a "
            "quieter machine."]


def _remeasured(done):
    """What the study that made these results did about noisy points (its sidecar)."""
    if done == "unrecorded":
        return ("Whether they were measured twice is not recorded (results of `asv run`, "
                "or of an older lrperf).")
    if not isinstance(done, dict):
        return "They were measured once (asv --quick, or `lrperf study --no-remeasure`)."
    return (f"`lrperf study` measured {md(done.get('points'))} flagged point(s) a second "
            f"time (at most {md(done.get('max'))}, noisiest first) and "
            f"{md(done.get('still_noisy'))} "
            "stayed noisy; those points show their second measurement.")


def _unconfirmed(report):
    if not report.unconfirmed:
        return []
    return [f"- **Unconfirmed** ({report.unconfirmed} of {len(report.steps)} step points): "
            f"without {sample_need(report)} (asv --quick takes one sample). Their times are in the table and results.csv; no speed-up of them "
            "is called significant, and the first screen leaves them out."]


def _first_call(report):
    if not report.first_calls:
        return []
    parts = [f"{s} " + " / ".join(f"{hs(v)} {c}" for c, v in vals.items())
             for s, vals in report.first_calls.items()]
    return ["- **First call** (compilation or Numba cache load, fresh interpreter, not in "
            "any timing above): " + "; ".join(parts) + "."]


def _accuracy(report):
    worst = report.accuracy_worst
    if worst is None or worst.empty:
        return []
    out = []
    names = report.strategies + sorted(set(worst["strategy"]) - set(report.strategies))
    top = report.accuracy_shape
    for dtype in [d for d in grid.DTYPES if d in set(worst["dtype"])]:
        sel = worst[worst["dtype"] == dtype]
        parts = []
        for s in names:
            r = sel[sel["strategy"] == s]
            if r.empty:
                continue
            r = r.iloc[0]
            how = r.reads if dtype != report.primary_dtype else None
            text = (f"{s}{f' ({how})' if how else ''} dw {r.error_dw:.2g} at "
                    f"{_at((r.n_x, r.m), dtype)}")
            if math.isfinite(r.error_cost):
                text += f", cost {r.error_cost:.2g}"
            parts.append(text)
        if parts:
            out.append(f"- **Accuracy, {dtype} X** (largest relative error against the exact "
                       f"50-digit step on the same values, over n_x × m up to "
                       f"{shape_text(*top)}, layout F): " + "; ".join(parts) + ".")
    return out


def _trade(report):
    t = report.trade
    if t is None:
        return []
    speed = "; ".join(f"{s} {hs(a)} in float64, {hs(b)} in float32 ({r:.3g}×)"
                      for s, (a, b, r) in t.times.items())
    text = (f"- **The float32 trade** (layout F, {threads_text(t.threads)}, "
            f"{shape_text(*t.shape)}): float32 X is {hb(t.bytes32)} a step "
            f"instead of {hb(t.bytes64)}: {speed}.")
    if t.errors:
        text += (" The largest relative error of dw against the exact step (accuracy "
                 "benchmarks): " + "; ".join(
                     f"{s} {e64:.2g} in float64, {e32:.2g} in float32"
                     + (f" (it {t.reads[s]})" if t.reads.get(s) else "")
                     for s, (e64, e32) in t.errors.items()) + ".")
    return [text]


def _xla(report):
    name = grid.XLA_STRATEGY
    out = []
    for p in report.xla_programs:
        fused = "" if not math.isfinite(p.dot_fusions) else (
            f", {int(p.dot_fusions)} fusion(s) holding a dot")
        dots = "" if not math.isfinite(p.dots) else f"{int(p.dots)} dot(s)"
        verdict = (f"X is read {p.x_reads} times per step, as {report.reference} reads it"
                   if p.x_reads >= 2 else "X is read once per step")
        text = (f"- **What XLA compiled** ({name}'s optimized HLO at {_at(p.shape)}, layout "
                f"{p.layout}): {dots}{fused}; {p.x_reads} instruction(s) take X as an operand, "
                f"so {verdict}.")
        if p.threads is not None:
            where = "" if p.measured_at == p.shape else (
                f" at {_at(p.measured_at)}, the largest shape with a {name} step,")
            times = [f"{name} {hs(p.propagate)} per `propagate` (converts X for XLA on "
                     "every call)"]
            if math.isfinite(p.resident):
                times.append(f"{hs(p.resident)} per step of `optimize` (once per "
                             f"{grid.OPTIMIZE_ITERATIONS} steps)")
            times += [f"{s} {hs(v)}" for s, v in p.others.items()]
            text += f" Measured{where} at {threads_text(p.threads)}: " + "; ".join(times) + "."
        out.append(text)
    return out


def _partial_threads(report):
    if not report.partial_threads:
        return []
    parts = [f"{s} at " + ", ".join(threads_text(t) for t in got) + " only"
             for s, got in report.partial_threads.items()]
    return ["- **Thread counts**: " + "; ".join(parts) + " (a strategy whose thread pool is "
            "sized when its library starts, as XLA's, is skipped at the other counts; "
            "`python scripts/bench_jax.py` pins a process to one core for them)."]


def findings(report):
    if report.steps.empty:
        return ["- No step timings in these results."]
    MARK_UNCONFIRMED[0] = report.unconfirmed < len(report.steps)
    out = _unconfirmed(report) + _fastest(report)
    for layout in report.layouts:
        for threads in report.threads:
            out += _speedups(report, layout, threads) + _crossovers(report, layout, threads)
    out += _layout(report) + _scaling(report) + _shares(report) + _peers(report)
    out += _dtype(report) + _trade(report) + _accuracy(report)
    out += _xla(report) + _partial_threads(report) + _noise(report) + _first_call(report)
    return out

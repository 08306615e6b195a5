"""Analyse once: the tidy results -> one MachineReport of typed facets per machine.

Every number a figure or the text shows is computed here, from single
measured shapes (n_x, m): never a median over different shapes of equal size.
Nothing here imports the renderers (findings, figures, writeup).
"""
import json
import math

import numpy as np
import pandas as pd

from .. import grid
from .facets import Cost, Crossover, MachineReport, Regime, Trade, XlaProgram, held
# compare.py formats its table with these; they live in units.
from .units import human_bytes, human_seconds, shape_text, threads_text  # noqa: F401

# A point is flagged noisy when asv's 99% interval is wider than the median
# itself, or the interquartile range exceeds this share of the median: both
# happen when a second thread pool steals the core and the samples split in two.
NOISE_CI_SHARE = 1.0
NOISE_IQR_SHARE = 0.5
# A time needs this many samples (and a finite interval) before a ratio of it
# is stated as a finding: asv --quick's single sample is not enough.
MIN_SAMPLES = 3
# Competitors: strategies that come within this factor of the reference at a
# calm point; at most MAX_COMPETITORS of them (the fastest) are drawn.
COMPETES_WITHIN = 5.0
MAX_COMPETITORS = 6
PRIMARY_DTYPE = grid.DTYPES[0]
REFERENCE = grid.REFERENCE


def _ok(frame):
    return frame[frame["status"] == "ok"]


def latest(frame):
    """Rows of the newest commit (by date) and, within it, the environment with most ok points."""
    ok = _ok(frame)
    if ok.empty:
        ok = frame
    commit = ok.sort_values("date")["commit"].iloc[-1]
    env = ok[ok["commit"] == commit].groupby("environment").size().idxmax()
    return frame[(frame["commit"] == commit) & (frame["environment"] == env)]


def grid_points(frame, name):
    """Ok points of benchmark ``name`` (exact) that carry the grid axes, with size in bytes."""
    rows = _ok(frame[frame["benchmark"] == name])
    rows = rows[rows["strategy"].notna() & rows["n_x"].notna() & rows["m"].notna()].copy()
    rows["dtype"] = rows["dtype"].fillna(PRIMARY_DTYPE)
    rows["size"] = [grid.nbytes(n, m, d) for n, m, d in zip(rows["n_x"], rows["m"], rows["dtype"])]
    return rows


def noise_score(value, ci_low, ci_high, q_25, q_75):
    """How far past the noise rule a point is (NOISE_CI_SHARE, NOISE_IQR_SHARE):
    noisy when over 1.  Scalars or Series; a spread asv did not give counts 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.asarray(value, float)
        ci = np.nan_to_num(np.divide(np.subtract(ci_high, ci_low), NOISE_CI_SHARE * v),
                           nan=0.0, posinf=0.0, neginf=0.0)
        iqr = np.nan_to_num(np.divide(np.subtract(q_75, q_25), NOISE_IQR_SHARE * v),
                            nan=0.0, posinf=0.0, neginf=0.0)
    return np.maximum(ci, iqr)


def noisy(rows):
    """The noise rule (see noise_score) as a boolean Series."""
    if rows.empty:
        return pd.Series(False, index=rows.index, dtype=bool)
    score = noise_score(*(rows[c].astype(float).to_numpy()
                          for c in ("value", "ci_low", "ci_high", "q_25", "q_75")))
    return pd.Series(score > 1, index=rows.index, dtype=bool)


def confirmed(rows, min_samples=MIN_SAMPLES):
    """True where a time has at least ``min_samples`` samples and a finite 99% interval."""
    lo, hi = rows["ci_low"].astype(float), rows["ci_high"].astype(float)
    n = rows["repeat"].astype(float).fillna(0)
    return (n >= min_samples) & np.isfinite(lo) & np.isfinite(hi)


def ratio_interval(num, num_lo, num_hi, den, den_lo, den_hi):
    """num/den with its interval from the two 99% intervals, and its verdict:
    significant when the interval excludes 1 (the intervals do not overlap, asv
    compare's rule); None where an interval is missing."""
    ratio = num / den
    bounds = [float(x) for x in (num_lo, num_hi, den_lo, den_hi)]
    if not all(math.isfinite(x) for x in bounds) or bounds[2] <= 0:
        return ratio, math.nan, math.nan, None
    lo, hi = bounds[0] / bounds[3], bounds[1] / bounds[2]
    return ratio, lo, hi, bool(lo > 1 or hi < 1)


def is_different(a, b):
    """asv compare's rule on two points' 99% intervals: True, False or None (no interval)."""
    bounds = [float(x) for x in (a["ci_low"], a["ci_high"], b["ci_low"], b["ci_high"])]
    if not all(math.isfinite(x) for x in bounds):
        return None
    return bool(bounds[0] > bounds[3] or bounds[2] > bounds[1])


def select(rows, **axes):
    for axis, value in axes.items():
        if value is not None and rows[axis].notna().any():
            rows = rows[rows[axis] == value]
    return rows


def size_order(shapes):
    """(n_x, m) shapes in size order (n_x breaks ties)."""
    return sorted(shapes, key=lambda s: (int(s[0]) * int(s[1]), int(s[0])))


def shape_table(rows, **axes):
    """(n_x, m) x strategy table of one value per measured shape, ordered by size."""
    sel = select(rows, **axes)
    if sel.empty:
        return pd.DataFrame()
    t = sel.pivot_table(index=["n_x", "m"], columns="strategy", values="value", aggfunc="first")
    sizes = [int(n) * int(m) for n, m in t.index]
    return t.iloc[np.lexsort((t.index.get_level_values("n_x"), sizes))]


def strategy_order(names):
    """Strategies in registry order (slowest first) where known, then the rest."""
    from ..registry import STRATEGIES
    known = [s for s in STRATEGIES if s in names]
    return known + sorted(set(names) - set(known))


def slope(sizes, values):
    """Least-squares exponent k of value ~ size**k (NaN with fewer than 2 points)."""
    s = np.asarray(sizes, float)
    v = np.asarray(values, float)
    keep = np.isfinite(s) & np.isfinite(v) & (s > 0) & (v > 0)
    if keep.sum() < 2 or np.unique(s[keep]).size < 2:
        return math.nan
    return float(np.polyfit(np.log(s[keep]), np.log(v[keep]), 1)[0])


def regimes(times):
    """Runs of consecutive shapes (in size order) with the same fastest strategy."""
    out = []
    for shape, row in times.iterrows():
        row = row.dropna()
        if row.empty:
            continue
        best = row.idxmin()
        if out and out[-1][2] == best:
            out[-1] = (out[-1][0], shape, best)
        else:
            out.append((shape, shape, best))
    return out


def crossovers(times, a, b):
    """Where the faster of strategies a and b changes along the shapes in size order.

    ("none", faster), ("one", (last_shape_below, first_shape_above, faster_below,
    faster_above)), ("mixed", (a_wins, n)) or (None, None) without two common shapes.
    """
    if a not in times or b not in times:
        return None, None
    r = np.log(times[a] / times[b]).dropna()
    r = r[r != 0]
    if len(r) < 2:
        return None, None
    items = list(r.items())
    flips = [(s0, r0, s1) for (s0, r0), (s1, r1) in zip(items, items[1:]) if (r0 > 0) != (r1 > 0)]
    if not flips:
        return "none", (b if r.iloc[0] > 0 else a)
    if len(flips) > 1:
        return "mixed", (int((r < 0).sum()), len(r))
    s0, r0, s1 = flips[0]
    return "one", (s0, s1, b if r0 > 0 else a, a if r0 > 0 else b)


def ceiling_at(ceiling, size, threads):
    """The read ceiling (GB/s) for a working set of ``size`` bytes on ``threads``.

    ``lrperf.ceiling.ceiling_at`` on the measured ladder (a share against it can
    err low, never high); the single out-of-cache value where results predate
    the ladder.
    """
    from ..ceiling import ceiling_at as on_ladder
    c = ceiling[ceiling["threads"] == threads].dropna(subset=["value"])
    if c.empty:
        return math.nan
    ladder = c.dropna(subset=["nbytes"])
    if ladder.empty:
        return float(c["value"].max())
    points = [{"nbytes": int(n), "threads": int(t), "gbs": float(v)}
              for n, t, v in zip(ladder["nbytes"], ladder["threads"], ladder["value"])]
    return float(on_ladder(points, size, int(threads)))


def _record(strategy):
    from ..registry import STRATEGIES
    return STRATEGIES.get(strategy)


def passes(strategy):
    """Reads of X per step (the registry's trait; 1 for a strategy not registered here)."""
    record = _record(strategy)
    return record.passes if record is not None else 1


def per_call_kind(strategy):
    """What a ``propagate`` call does beyond a resident step, from the registry's traits."""
    record = _record(strategy)
    if record is None:
        return "per-call work"
    if record.device == "gpu":
        return "transfer of X to the device per call"
    if record.prepare is not None:
        return "conversion of X per call (its prepare)"
    return "call overhead (checks, thread set-up)"


def reads_text(strategy, dtype):
    """How a strategy reads X of ``dtype``: natively (and what it sums in) or through a
    float64 copy; from the registry (None: not registered here)."""
    record = _record(strategy)
    if record is None:
        return None
    if dtype not in record.dtypes:
        return "gets a float64 copy"
    return f"reads it, sums in {record.accumulation(dtype)}"


def _description(descriptions, machine, commit, env, frame):
    if (machine, commit, env) in descriptions:
        return descriptions[(machine, commit, env)]
    # The newest description of this machine, from any commit; what a study did
    # (its "study" entry) belongs to that commit's run only.
    for c in reversed(frame.sort_values("date")["commit"].unique().tolist()):
        for (m, cc, _), d in descriptions.items():
            if m == machine and cc == c:
                return {k: v for k, v in d.items() if k != "study"}
    return {}


def _wide(cur, names, index):
    """One row per point of ``index``, one column per benchmark of ``names`` ({name: column})."""
    rows = _ok(cur[cur["benchmark"].isin(list(names))])
    if rows.empty:
        return pd.DataFrame(columns=[*index, *names.values()])
    t = rows.pivot_table(index=index, columns="benchmark", values="value", aggfunc="first")
    t = t.rename(columns=names).reset_index()
    t.columns.name = None
    return t


def accuracy_table(cur):
    """Errors of dw and of the cost against the exact step, per strategy, shape and dtype."""
    return _wide(cur, {grid.BENCH_ERROR_DW: "error_dw", grid.BENCH_ERROR_COST: "error_cost"},
                 ["strategy", "n_x", "m", "dtype"])


def xla_table(cur):
    """What XLA compiled for its strategy's step, per shape and layout (benchmarks/xla.py)."""
    return _wide(cur, {grid.BENCH_XLA_DOTS: "dots", grid.BENCH_XLA_X_READS: "x_reads",
                       grid.BENCH_XLA_DOT_FUSIONS: "dot_fusions"}, ["n_x", "m", "layout"])


# --- facets -----------------------------------------------------------------------------

_KEYS = ["layout", "threads", "dtype", "n_x", "m"]


def speedup_facet(steps, base, min_samples=MIN_SAMPLES):
    """Every strategy's speed-up over ``base`` at each point where both were measured."""
    cols = ["base", *_KEYS, "size", "strategy", "time", "base_time", "speedup", "lo", "hi",
            "significant", "confirmed", "samples"]
    ref = steps[steps["strategy"] == base]
    if ref.empty:
        return pd.DataFrame(columns=cols)
    other = steps[steps["strategy"] != base]
    both = other.merge(ref[[*_KEYS, "value", "ci_low", "ci_high", "confirmed", "repeat"]],
                       on=_KEYS, suffixes=("", "_base"))
    out = []
    for r in both.itertuples():
        ratio, lo, hi, sig = ratio_interval(r.value_base, r.ci_low_base, r.ci_high_base,
                                            r.value, r.ci_low, r.ci_high)
        conf = bool(r.confirmed and r.confirmed_base)
        out.append({"base": base, "layout": r.layout, "threads": int(r.threads),
                    "dtype": r.dtype, "n_x": int(r.n_x), "m": int(r.m), "size": r.size,
                    "strategy": r.strategy, "time": r.value, "base_time": r.value_base,
                    "speedup": ratio, "lo": lo, "hi": hi, "significant": sig if conf else None,
                    "confirmed": conf,
                    "samples": int(np.nan_to_num(min(r.repeat, r.repeat_base)))})
    return pd.DataFrame(out, columns=cols)


def winner_facet(primary, speedups, reference):
    """The fastest strategy (smallest median) at each (layout, threads, n_x, m) of
    ``primary``, with its speed-up over ``reference`` from ``speedups`` (the one place it
    is computed); where the reference itself is fastest, whether it beats the runner-up."""
    cols = ["layout", "threads", "n_x", "m", "size", "strategy", "runner_up", "time",
            "speedup", "lo", "hi", "significant", "confirmed", "samples"]
    over = speedups[speedups["base"] == reference].set_index(
        ["layout", "threads", "n_x", "m", "strategy"]) if len(speedups) else None
    out = []
    for (layout, threads, n_x, m), cell in primary.groupby(["layout", "threads", "n_x", "m"]):
        cell = cell.sort_values("value")
        best = cell.iloc[0]
        runner = cell.iloc[1] if len(cell) > 1 else None
        row = {"layout": layout, "threads": int(threads), "n_x": int(n_x), "m": int(m),
               "size": int(best["size"]), "strategy": best["strategy"],
               "runner_up": None if runner is None else runner["strategy"],
               "time": best["value"], "speedup": math.nan, "lo": math.nan, "hi": math.nan,
               "significant": None, "confirmed": bool(best["confirmed"]),
               "samples": int(np.nan_to_num(best["repeat"]))}
        key = (layout, int(threads), int(n_x), int(m), best["strategy"])
        if best["strategy"] == reference:
            row["speedup"] = 1.0
            if runner is not None:
                conf = bool(best["confirmed"] and runner["confirmed"])
                verdict = ratio_interval(runner["value"], runner["ci_low"], runner["ci_high"],
                                         best["value"], best["ci_low"], best["ci_high"])[3]
                row.update(significant=verdict if conf else None, confirmed=conf,
                           samples=int(np.nan_to_num(min(best["repeat"], runner["repeat"]))))
        elif over is not None and key in over.index:
            sp = over.loc[key]
            row.update(speedup=sp["speedup"], lo=sp["lo"], hi=sp["hi"],
                       significant=sp["significant"], confirmed=bool(sp["confirmed"]),
                       samples=int(sp["samples"]))
        out.append(row)
    frame = pd.DataFrame(out, columns=cols)
    if len(frame):
        frame = frame.sort_values(["layout", "threads", "size", "n_x"]).reset_index(drop=True)
    return frame


def regime_facet(winners, caches=None):
    """The regimes of each layout x threads: the cache level that holds X (L1, L2, L3,
    DRAM, as ``lrperf.ceiling.level_of`` places a working set read by that many threads)
    where the caches are known, else runs of consecutive cells (size order) with the
    same winner.  A level's strategy is the one fastest at most of its cells."""
    from ..ceiling import LEVELS, level_of
    out = []
    for (layout, threads), part in winners.groupby(["layout", "threads"], sort=True):
        groups = []
        if caches:
            levels = [level_of(size, threads, caches) for size in part["size"]]
            for level in LEVELS:
                rows = [r for r, lv in zip(part.itertuples(), levels) if lv == level]
                if rows:
                    groups.append((level, rows))
        else:
            for r in part.itertuples():
                if groups and groups[-1][1][-1].strategy == r.strategy:
                    groups[-1][1].append(r)
                else:
                    groups.append((None, [r]))
        for level, rows in groups:
            counts = pd.Series([r.strategy for r in rows]).value_counts()
            strategy = counts.index[0]
            mine = [r for r in rows if r.strategy == strategy]
            conf = [r for r in mine if r.confirmed]
            ratios = [r.speedup for r in conf if math.isfinite(r.speedup)]
            out.append(Regime(
                layout=layout, threads=int(threads), strategy=strategy, level=level,
                first=(rows[0].n_x, rows[0].m), last=(rows[-1].n_x, rows[-1].m),
                first_bytes=int(rows[0].size), last_bytes=int(rows[-1].size), cells=len(rows),
                wins=len(mine), others={k: int(v) for k, v in counts.items() if k != strategy},
                confirmed=len(conf), significant=sum(held(r.significant) for r in conf),
                speedup_min=min(ratios) if ratios else math.nan,
                speedup_max=max(ratios) if ratios else math.nan,
                samples=min(r.samples for r in rows)))
    return out


def crossover_facet(times, strategies, reference):
    """The reference against each strategy, and the strategies fastest somewhere against
    each other: the pairs a reader chooses between."""
    out = []
    for (layout, threads), table in times.items():
        fastest = {s for _, _, s in regimes(table)}
        pairs = [(a, b) for i, a in enumerate(strategies) for b in strategies[i + 1:]
                 if reference in (a, b) or {a, b} <= fastest]
        for a, b in pairs:
            kind, detail = crossovers(table, a, b)
            if kind in ("one", "mixed"):
                out.append(Crossover(layout, threads, a, b, kind, detail))
    return out


def competitor_facet(speedups, strategies, reference):
    """Strategies whose median speed-up over the reference, at calm points of one layout x
    threads, comes within COMPETES_WITHIN; the fastest MAX_COMPETITORS of them."""
    sel = speedups[(speedups["base"] == reference) & speedups["calm"]]
    if sel.empty:
        return []
    best = sel.groupby(["strategy", "layout", "threads"])["speedup"].median() \
        .groupby("strategy").max()
    keep = best[best >= 1 / COMPETES_WITHIN].sort_values(ascending=False)
    top = set(keep.index[:MAX_COMPETITORS])
    return [s for s in strategies if s in top]


def parallel(strategy):
    """Whether a strategy uses several threads (the registry's trait; True if unknown)."""
    record = _record(strategy)
    return record is None or record.parallel


def scaling_facet(primary, threads):
    """Speed-up of the most threads over one, and parallel efficiency, per point of the
    strategies that use several threads."""
    cols = ["layout", "n_x", "m", "size", "strategy", "t1", "tn", "speedup", "efficiency",
            "lo", "hi", "noisy", "confirmed"]
    if len(threads) < 2:
        return pd.DataFrame(columns=cols)
    one, most = threads[0], threads[-1]
    primary = primary[[parallel(s) for s in primary["strategy"]]]
    a = primary[primary["threads"] == one]
    b = primary[primary["threads"] == most]
    keys = ["layout", "n_x", "m", "strategy"]
    both = a.merge(b, on=keys, suffixes=("_1", "_n"))
    out = []
    ideal = most / one
    for r in both.itertuples():
        ratio, lo, hi, _ = ratio_interval(r.value_1, r.ci_low_1, r.ci_high_1,
                                          r.value_n, r.ci_low_n, r.ci_high_n)
        out.append({"layout": r.layout, "n_x": int(r.n_x), "m": int(r.m), "size": r.size_1,
                    "strategy": r.strategy, "t1": r.value_1, "tn": r.value_n,
                    "speedup": ratio, "efficiency": ratio / ideal, "lo": lo / ideal,
                    "hi": hi / ideal, "noisy": bool(r.noisy_1 or r.noisy_n),
                    "confirmed": bool(r.confirmed_1 and r.confirmed_n)})
    return pd.DataFrame(out, columns=cols)


def _pair_ratio(rows, axis, a, b, keys):
    """value at ``axis == a`` over value at ``axis == b``, per point of ``keys``."""
    left = rows[rows[axis] == a]
    right = rows[rows[axis] == b]
    both = left.merge(right, on=keys, suffixes=("_a", "_b"))
    both["ratio"] = both["value_a"] / both["value_b"]
    both["confirmed"] = both["confirmed_a"] & both["confirmed_b"]
    return both[[*keys, "ratio", "confirmed"]]


def share_facet(primary, ceiling, caches):
    """Bytes each strategy reads per step (passes x size of X) over the median step time of
    the same samples as the table, and that rate's share of B(size of X, threads)."""
    from ..ceiling import level_of
    rows = primary.copy()
    if rows.empty:
        return rows.assign(passes=[], bytes_read=[], gbs=[], ceiling=[], level=[], share=[],
                           share_lo=[], share_hi=[])
    rows["passes"] = [passes(s) for s in rows["strategy"]]
    rows["bytes_read"] = rows["passes"] * rows["size"]
    rows["gbs"] = rows["bytes_read"] / rows["value"] / 1e9
    rows["ceiling"] = [ceiling_at(ceiling, s, t) if not ceiling.empty else math.nan
                       for s, t in zip(rows["size"], rows["threads"])]
    rows["level"] = [level_of(s, t, caches) if caches else None
                     for s, t in zip(rows["size"], rows["threads"])]
    with np.errstate(divide="ignore", invalid="ignore"):
        rows["share"] = rows["gbs"] / rows["ceiling"]
        rows["share_lo"] = rows["bytes_read"] / rows["ci_high"] / 1e9 / rows["ceiling"]
        rows["share_hi"] = rows["bytes_read"] / rows["ci_low"] / 1e9 / rows["ceiling"]
    return rows


def peer_facet(steps, optimize):
    """Each strategy's ``propagate`` beside its resident step (``optimize`` per step), and
    the difference, named by what the strategy does per call."""
    cols = ["strategy", *_KEYS, "size", "propagate", "resident", "per_call", "per_call_kind",
            "confirmed"]
    if steps.empty or optimize.empty:
        return pd.DataFrame(columns=cols)
    opt = optimize[["strategy", *_KEYS, "value"]].rename(columns={"value": "optimize"})
    both = steps.merge(opt, on=["strategy", *_KEYS])
    both["propagate"] = both["value"]
    both["resident"] = both["optimize"] / grid.OPTIMIZE_ITERATIONS
    both["per_call"] = both["propagate"] - both["resident"]
    both["per_call_kind"] = [per_call_kind(s) for s in both["strategy"]]
    return both[cols].reset_index(drop=True)


def accuracy_facets(acc):
    """(worst dw error per strategy and dtype with its shape, the largest accuracy shape)."""
    if acc.empty:
        return pd.DataFrame(), None
    top = acc.loc[(acc["n_x"] * acc["m"]).idxmax()]
    worst = []
    for (s, dtype), part in acc.groupby(["strategy", "dtype"]):
        if part["error_dw"].isna().all():
            continue
        w = part.loc[part["error_dw"].idxmax()]
        worst.append({"strategy": s, "dtype": dtype, "error_dw": w["error_dw"],
                      "n_x": int(w["n_x"]), "m": int(w["m"]),
                      "error_cost": part["error_cost"].max() if "error_cost" in part else
                      math.nan, "reads": reads_text(s, dtype)})
    return pd.DataFrame(worst), (int(top["n_x"]), int(top["m"]))


def accuracy_points(acc, steps, threads):
    """Step time and dw error per strategy and dtype at the largest shape with both
    (layout F, as the accuracy benchmarks; most threads): (shape, rows)."""
    if acc.empty:
        return None, None
    sel = select(steps, layout="F", threads=threads)
    pts = acc.merge(sel[["strategy", "n_x", "m", "dtype", "value"]],
                    on=["strategy", "n_x", "m", "dtype"]).dropna(subset=["error_dw", "value"])
    if pts.empty:
        return None, None
    shape = max(zip(pts["n_x"], pts["m"]), key=lambda s: (s == grid.CAT_SHAPE, s[0] * s[1]))
    return shape, pts[(pts["n_x"] == shape[0]) & (pts["m"] == shape[1])]


def trade_facet(steps, acc, strategies, threads, dtypes):
    """The float32 trade at the largest shape where every strategy with both dtypes ran."""
    if len(dtypes) < 2:
        return None
    d64, d32 = dtypes[0], dtypes[1]
    sel = select(steps, layout="F", threads=threads)
    t64 = shape_table(sel[sel["dtype"] == d64])
    t32 = shape_table(sel[sel["dtype"] == d32])
    both = [s for s in strategies if s in t64 and s in t32 and (t64[s] / t32[s]).notna().any()]
    if not both:
        return None
    ratios = {s: (t64[s] / t32[s]).dropna() for s in both}
    shapes = set.intersection(*(set(r.index) for r in ratios.values()))
    if not shapes:
        return None
    shape = max(shapes, key=lambda sh: sh[0] * sh[1])
    errors = {}
    for s in both:
        worst = {d: acc[(acc["strategy"] == s) & (acc["dtype"] == d)]["error_dw"].max()
                 for d in (d64, d32)} if len(acc) else {}
        if all(math.isfinite(worst.get(d, math.nan)) for d in (d64, d32)):
            errors[s] = (worst[d64], worst[d32])
    return Trade(shape=(int(shape[0]), int(shape[1])), threads=threads,
                 bytes64=grid.nbytes(*shape, d64), bytes32=grid.nbytes(*shape, d32),
                 times={s: (t64.loc[shape, s], t32.loc[shape, s], ratios[s][shape])
                        for s in both},
                 errors=errors, reads={s: reads_text(s, d32) for s in both})


def xla_facet(prog, primary, optimize, reference, winners):
    """What XLA compiled (benchmarks/xla.py), beside its strategy's measured step."""
    if prog.empty or "x_reads" not in prog or prog["x_reads"].isna().all():
        return []
    name = grid.XLA_STRATEGY
    out = []
    for r in prog.dropna(subset=["x_reads"]).itertuples():
        n_x, m, layout = int(r.n_x), int(r.m), r.layout
        layout_steps = select(primary, layout=layout)
        mine = layout_steps[layout_steps["strategy"] == name]
        at = (n_x, m)
        if len(mine) and not ((mine["n_x"] == n_x) & (mine["m"] == m)).any():
            # Skipped there (estimated too slow): the largest shape it was measured at.
            big = mine.loc[(mine["n_x"] * mine["m"]).idxmax()]
            at = (int(big.n_x), int(big.m))
        steps = select(layout_steps, n_x=at[0], m=at[1])
        measured = sorted(int(t) for t in steps[steps["strategy"] == name]["threads"])
        threads, prop, resident, others = None, math.nan, math.nan, {}
        if measured:
            threads = measured[-1]
            times = select(steps, threads=threads).set_index("strategy")["value"]
            prop = float(times[name])
            opt = select(optimize, n_x=at[0], m=at[1], layout=layout, dtype=PRIMARY_DTYPE,
                         threads=threads)
            opt = opt[opt["strategy"] == name]["value"]
            if len(opt):
                resident = float(opt.iloc[0]) / grid.OPTIMIZE_ITERATIONS
            fastest = times.drop(name, errors="ignore")
            shown = [reference] + ([fastest.idxmin()] if len(fastest) else [])
            others = {s: float(times[s]) for s in dict.fromkeys(shown) if s in times}
        out.append(XlaProgram(shape=(n_x, m), layout=layout, dots=float(r.dots),
                              x_reads=int(r.x_reads),
                              dot_fusions=float(getattr(r, "dot_fusions", math.nan)),
                              measured_at=at if measured else None, threads=threads,
                              propagate=prop, resident=resident, others=others))
    return out


def partial_threads_facet(primary, threads):
    """{strategy: thread counts measured} for strategies measured at fewer than the grid's."""
    out = {}
    for s, part in primary.groupby("strategy"):
        got = sorted(int(t) for t in part["threads"].unique())
        if len(got) < len(threads):
            out[s] = got
    return out


def first_call_facet(first, strategies):
    out = {}
    if first.empty or "cache" not in first.columns:
        return out
    for s in strategies + sorted(set(first["strategy"].dropna()) - set(strategies)):
        row = first[first["strategy"] == s]
        vals = {c: float(row[row["cache"] == c]["value"].median()) for c in ("cold", "warm")}
        vals = {c: v for c, v in vals.items() if math.isfinite(v)}
        if vals:
            out[s] = vals
    return out


def _skip_reason(strategy, dtype):
    """Why the suite skips a point, inferred from the registry's traits (the study's own
    record is preferred where it has one)."""
    record = _record(strategy)
    if record is not None and not record.available:
        return "not available here" + (" (no GPU)" if record.device == "gpu" else
                                       f" ({record.unavailable})")
    if record is not None and dtype and dtype not in record.dtypes:
        return "read through a float64 copy"
    return "estimated too slow, or the thread count its pool cannot change to"


def _seconds(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and value >= 0 else None


def cost_facet(cur, description, durations):
    """Measured, skipped and failed points; skipped by reason; the study's wall time and
    phases; asv's seconds per benchmark family."""
    counts = cur["status"].value_counts().to_dict()
    study = (description or {}).get("study")
    study = study if isinstance(study, dict) else {}
    recorded = study.get("skipped")
    if isinstance(recorded, dict) and recorded and all(
            isinstance(v, int) and not isinstance(v, bool) for v in recorded.values()):
        by_reason, from_study = {str(k): int(v) for k, v in recorded.items()}, True
    else:
        skipped = cur[cur["status"] == "skipped"]
        by_reason = {}
        for s, d in zip(skipped["strategy"], skipped["dtype"]):
            if s is None or s != s:
                reason = "not applicable here (no GPU, or no such program)"
            else:
                reason = _skip_reason(s, d)
            by_reason[reason] = by_reason.get(reason, 0) + 1
        from_study = False
    phases = {}
    for key, value in (study.get("seconds") or {}).items() if isinstance(
            study.get("seconds"), dict) else []:
        if _seconds(value) is not None:
            phases[str(key)] = _seconds(value)
    families = {}
    for name, seconds in (durations or {}).items():
        if _seconds(seconds) is None or name.startswith("<"):
            continue
        family = name.split(".")[0]
        families[family] = families.get(family, 0.0) + _seconds(seconds)
    return Cost(measured=int(counts.get("ok", 0)), skipped=int(counts.get("skipped", 0)),
                failed=int(counts.get("failed", 0)),
                skipped_by_reason=dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
                reasons_recorded=from_study, wall_s=_seconds(study.get("wall_s")),
                phases=phases, families=dict(sorted(families.items(), key=lambda kv: -kv[1])))


def history_shape(history):
    """The cat data's shape where measured, else the measured shape nearest to it in size."""
    shapes = {(int(n), int(m)) for n, m in zip(history["n_x"], history["m"])}
    if not shapes:
        return None
    if grid.CAT_SHAPE in shapes:
        return grid.CAT_SHAPE
    cat = grid.nbytes(*grid.CAT_SHAPE)
    return min(shapes, key=lambda s: abs(np.log(grid.nbytes(*s) / cat)))


def family(rows):
    """The n_x the figures draw as a line: the cat data's, else the one with most m."""
    if rows.empty:
        return None
    counts = rows.groupby("n_x")["m"].nunique()
    if grid.CAT_SHAPE[0] in counts.index and counts[grid.CAT_SHAPE[0]] > 1:
        return grid.CAT_SHAPE[0]
    return int(max(counts.index, key=lambda n: (counts[n], n)))


def analyse_machine(machine, rows, asv_machine, descriptions, durations=None):
    cur = latest(rows)
    commit, env = cur["commit"].iloc[0], cur["environment"].iloc[0]
    description = _description(descriptions, machine, commit, env, rows)
    history = grid_points(rows, grid.BENCH_STEP)
    steps = grid_points(cur, grid.BENCH_STEP)
    steps["noisy"] = noisy(steps)
    steps["confirmed"] = confirmed(steps)
    ceiling = _ok(cur[cur["benchmark"] == grid.BENCH_READ_BANDWIDTH])[
        ["nbytes", "threads", "value"]].dropna(subset=["threads"])
    first = _ok(cur[cur["benchmark"] == grid.BENCH_FIRST_CALL]).copy()
    if len(first):
        first["cache"] = first["params"].map(lambda p: json.loads(p).get("cache"))
    commits = _ok(rows).groupby("commit")["date"].min().sort_values()
    strategies = strategy_order(steps["strategy"].unique().tolist())
    layouts = sorted(steps["layout"].dropna().unique().tolist()) or ["C"]
    threads = sorted(int(t) for t in steps["threads"].dropna().unique()) or [1]
    dtypes = [d for d in grid.DTYPES if d in set(steps["dtype"].dropna())] or [PRIMARY_DTYPE]
    primary = steps[steps["dtype"] == PRIMARY_DTYPE]
    optimize = grid_points(cur, grid.BENCH_OPTIMIZE)
    acc = accuracy_table(cur)
    report = MachineReport(
        machine=machine, commit=commit, environment=env, date=cur["date"].iloc[0],
        commits=list(commits.items()), description=description, asv_machine=asv_machine,
        rows=rows, steps=steps, history=history, ceiling=ceiling, first_call=first,
        accuracy=acc, xla=xla_table(cur), optimize=optimize, strategies=strategies,
        layouts=layouts, threads=threads, dtypes=dtypes,
        status_counts=cur["status"].value_counts().to_dict(), reference=REFERENCE,
        primary_dtype=PRIMARY_DTYPE, min_samples=MIN_SAMPLES, noise_iqr_share=NOISE_IQR_SHARE,
        primary=primary)
    report.times = {(layout, t): shape_table(primary, layout=layout, threads=t)
                    for layout in layouts for t in threads}
    report.times = {k: v for k, v in report.times.items() if not v.empty}
    speedups = [speedup_facet(steps, base) for base in grid.BASELINES]
    report.speedups = pd.concat([s for s in speedups if len(s)] or [speedups[0]],
                                ignore_index=True)
    calm = steps.set_index([*_KEYS, "strategy"])["noisy"]
    report.speedups["calm"] = [
        not (calm.get((r.layout, r.threads, r.dtype, r.n_x, r.m, r.strategy), False)
             or calm.get((r.layout, r.threads, r.dtype, r.n_x, r.m, r.base), False))
        for r in report.speedups.itertuples()]
    ref64 = report.speedups[(report.speedups["base"] == REFERENCE)
                            & (report.speedups["dtype"] == PRIMARY_DTYPE)]
    report.winners = winner_facet(primary, ref64, REFERENCE)
    report.regimes = regime_facet(report.winners, description.get("caches"))
    report.crossovers = crossover_facet(report.times, strategies, REFERENCE)
    report.competitors = competitor_facet(ref64, strategies, REFERENCE)
    report.drawn = [s for s in strategies if s == REFERENCE or s in report.competitors] \
        if report.competitors else strategies
    report.scaling = scaling_facet(primary, threads)
    report.layout_ratio = _pair_ratio(primary, "layout", "C", "F", ["threads", "strategy",
                                                                    "n_x", "m"]) \
        if {"C", "F"} <= set(layouts) else pd.DataFrame()
    report.dtype_ratio = _pair_ratio(steps, "dtype", dtypes[0], dtypes[1],
                                     ["layout", "threads", "strategy", "n_x", "m"]) \
        if len(dtypes) > 1 else pd.DataFrame()
    report.ceiling = ceiling
    report.shares = share_facet(primary, ceiling, description.get("caches") or {})
    report.peers = peer_facet(steps, optimize)
    flagged = steps[steps["noisy"]]
    report.noisy = flagged.assign(spread=(flagged["ci_high"] - flagged["ci_low"])
                                  / flagged["value"]).sort_values("spread", ascending=False)
    study = (description or {}).get("study")
    report.remeasured = study.get("remeasured", "unrecorded") if isinstance(study, dict) \
        else "unrecorded"
    report.unconfirmed = int((~steps["confirmed"]).sum())
    report.accuracy_worst, report.accuracy_shape = accuracy_facets(acc)
    report.accuracy_at, report.accuracy_points = accuracy_points(acc, steps, threads[-1])
    report.trade = trade_facet(steps, acc, strategies, threads[-1], dtypes)
    report.xla_programs = xla_facet(report.xla, primary, optimize, REFERENCE, report.winners)
    report.partial_threads = partial_threads_facet(primary, threads)
    report.first_calls = first_call_facet(first, strategies)
    report.cost = cost_facet(cur, description, (durations or {}).get((machine, commit, env)))
    report.history_shape = history_shape(history)
    report.family = family(primary)
    return report


def analyse(loaded):
    """One MachineReport per machine of a ``load.Loaded`` record, by machine name."""
    durations = getattr(loaded, "durations", {})
    return [analyse_machine(machine, rows, loaded.asv_machines.get(machine, {}),
                            loaded.descriptions, durations)
            for machine, rows in loaded.frame.groupby("machine", sort=True)]

"""The speed facets: speed-ups with intervals, winners, regimes, crossovers, the
strategies that compete, thread scaling, shares of the read ceiling, peers."""
import math

import numpy as np
import pandas as pd

from .. import grid
from .facets import Crossover, Regime, held
from .points import (ceiling_at, crossovers, parallel, passes, per_call_kind, ratio_interval,
                     regimes)

# Competitors: strategies whose median speed-up over the reference, in one layout x
# threads, comes within this factor; at most MAX_COMPETITORS of them are drawn.
COMPETES_WITHIN = 5.0
MAX_COMPETITORS = 6
KEYS = ["layout", "threads", "dtype", "n_x", "m"]


def speedup_facet(steps, base):
    """Every strategy's speed-up over ``base`` at each point where both were measured."""
    cols = ["base", *KEYS, "size", "strategy", "time", "base_time", "speedup", "lo", "hi",
            "significant", "confirmed", "samples"]
    ref = steps[steps["strategy"] == base]
    if ref.empty:
        return pd.DataFrame(columns=cols)
    steps = with_medians(steps)
    ref = steps[steps["strategy"] == base]
    other = steps[steps["strategy"] != base]
    both = other.merge(ref[[*KEYS, "value", "ci_low", "ci_high", "confirmed", "repeat",
                            "process_medians"]],
                       on=KEYS, suffixes=("", "_base"))
    out = []
    for r in both.itertuples():
        ratio, lo, hi, sig = ratio_interval(r.value_base, r.ci_low_base, r.ci_high_base,
                                            r.value, r.ci_low, r.ci_high,
                                            r.process_medians_base, r.process_medians)
        conf = bool(r.confirmed and r.confirmed_base)
        out.append({"base": base, "layout": r.layout, "threads": int(r.threads),
                    "dtype": r.dtype, "n_x": int(r.n_x), "m": int(r.m), "size": r.size,
                    "strategy": r.strategy, "time": r.value, "base_time": r.value_base,
                    "speedup": ratio, "lo": lo, "hi": hi, "significant": sig if conf else None,
                    "confirmed": conf,
                    "samples": int(np.nan_to_num(min(r.repeat, r.repeat_base)))})
    return pd.DataFrame(out, columns=cols)


def with_medians(rows):
    """``rows`` with a ``process_medians`` column (None where results carry none)."""
    if "process_medians" in rows:
        return rows
    return rows.assign(process_medians=[None] * len(rows))


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
                                         best["value"], best["ci_low"], best["ci_high"],
                                         runner.get("process_medians"),
                                         best.get("process_medians"))[3]
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


def pair_ratio(rows, axis, a, b, keys):
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
    cols = ["strategy", *KEYS, "size", "propagate", "resident", "per_call", "per_call_kind",
            "confirmed"]
    if steps.empty or optimize.empty:
        return pd.DataFrame(columns=cols)
    opt = optimize[["strategy", *KEYS, "value"]].rename(columns={"value": "optimize"})
    both = steps.merge(opt, on=["strategy", *KEYS])
    both["propagate"] = both["value"]
    both["resident"] = both["optimize"] / grid.OPTIMIZE_ITERATIONS
    both["per_call"] = both["propagate"] - both["resident"]
    both["per_call_kind"] = [per_call_kind(s) for s in both["strategy"]]
    return both[cols].reset_index(drop=True)

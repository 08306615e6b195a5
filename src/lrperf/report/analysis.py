"""Analyse once: the tidy results -> one typed MachineReport per machine.

Every number a figure or the write-up shows is computed here, from single
measured shapes (n_x, m): never a median over different shapes of equal size.
"""
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import grid
# The noise rule is the results format's: the study re-measures by it too.
from ..results_format import NOISE_CI_SHARE, NOISE_IQR_SHARE, noise_score  # noqa: F401

# The speedup figure leaves out strategies that never come within this factor
# of numpy: they are in the time figure already and would squash the band.
COMPETES_WITHIN = 5.0


@dataclass
class MachineReport:
    machine: str
    commit: str
    environment: str
    date: object
    commits: list            # [(commit, date)] oldest first
    description: dict        # lrperf's machine description (CPU, caches, SIMD, versions)
    asv_machine: dict
    rows: pd.DataFrame       # every point of this machine: results.csv
    steps: pd.DataFrame      # newest commit, ok step times, with size/noisy/significance
    history: pd.DataFrame    # ok step times of every commit
    bandwidth: pd.DataFrame  # newest commit, achieved GB/s with ceiling and share
    ceiling: pd.DataFrame    # nbytes (NA: one size only), threads, value (GB/s)
    first_call: pd.DataFrame
    accuracy: pd.DataFrame   # strategy, n_x, m, dtype, error_dw, error_cost (newest commit)
    xla: pd.DataFrame        # n_x, m, layout, dots, x_reads, dot_fusions (newest commit)
    optimize: pd.DataFrame   # newest commit, ok 100-step optimize times, per point
    strategies: list
    layouts: list
    threads: list
    dtypes: list
    status_counts: dict
    findings: list = field(default_factory=list)

    @property
    def single_ceiling(self):
        return not self.ceiling.empty and self.ceiling["nbytes"].isna().all()


def _ok(frame):
    return frame[frame["status"] == "ok"]


def shape_text(n_x, m):
    return f"{int(n_x)}×{int(m)}"


def human_bytes(n):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def human_seconds(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def threads_text(n):
    return f"{n} thread" + ("" if n == 1 else "s")


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
    rows["size"] = [grid.nbytes(n, m, d or "float64")
                    for n, m, d in zip(rows["n_x"], rows["m"], rows["dtype"])]
    return rows


def noisy(rows):
    """The noise rule (see noise_score) as a boolean Series."""
    if rows.empty:
        return pd.Series(False, index=rows.index, dtype=bool)
    score = noise_score(*(rows[c].astype(float).to_numpy()
                          for c in ("value", "ci_low", "ci_high", "q_25", "q_75")))
    return pd.Series(score > 1, index=rows.index, dtype=bool)


def is_different(a, b):
    """asv compare's rule on two points' 99% intervals: True, False or None (no interval)."""
    from asv import _stats
    stats = [{"ci_99_a": r["ci_low"], "ci_99_b": r["ci_high"]} for r in (a, b)]
    if any(not (math.isfinite(s["ci_99_a"]) and math.isfinite(s["ci_99_b"])) for s in stats):
        return None
    return bool(_stats.is_different(None, None, stats[0], stats[1]))


def select(rows, **axes):
    for axis, value in axes.items():
        if value is not None and rows[axis].notna().any():
            rows = rows[rows[axis] == value]
    return rows


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
    """What XLA compiled for jax_xla's step, per shape and layout (benchmarks/xla.py)."""
    return _wide(cur, {grid.BENCH_XLA_DOTS: "dots", grid.BENCH_XLA_X_READS: "x_reads",
                       grid.BENCH_XLA_DOT_FUSIONS: "dot_fusions"}, ["n_x", "m", "layout"])


def analyse_machine(machine, rows, asv_machine, descriptions):
    cur = latest(rows)
    commit, env = cur["commit"].iloc[0], cur["environment"].iloc[0]
    history = grid_points(rows, grid.BENCH_STEP)
    steps = grid_points(cur, grid.BENCH_STEP)
    steps["noisy"] = noisy(steps)
    ceiling = _ok(cur[cur["benchmark"] == grid.BENCH_READ_BANDWIDTH])[
        ["nbytes", "threads", "value"]].dropna(subset=["threads"])
    bandwidth = grid_points(cur, grid.BENCH_BANDWIDTH)
    if not bandwidth.empty:
        bandwidth["ceiling"] = [ceiling_at(ceiling, s, t) if not ceiling.empty else math.nan
                                for s, t in zip(bandwidth["size"], bandwidth["threads"])]
        bandwidth["share"] = bandwidth["value"] / bandwidth["ceiling"]
    first = _ok(cur[cur["benchmark"] == grid.BENCH_FIRST_CALL]).copy()
    if len(first):
        first["cache"] = first["params"].map(lambda p: json.loads(p).get("cache"))
    commits = (_ok(rows).groupby("commit")["date"].min().sort_values())
    report = MachineReport(
        machine=machine, commit=commit, environment=env, date=cur["date"].iloc[0],
        commits=list(commits.items()),
        description=_description(descriptions, machine, commit, env, rows),
        asv_machine=asv_machine, rows=rows, steps=steps, history=history,
        bandwidth=bandwidth, ceiling=ceiling, first_call=first,
        accuracy=accuracy_table(cur), xla=xla_table(cur),
        optimize=grid_points(cur, grid.BENCH_OPTIMIZE),
        strategies=strategy_order(steps["strategy"].unique().tolist()),
        layouts=sorted(steps["layout"].dropna().unique().tolist()) or ["C"],
        threads=sorted(int(t) for t in steps["threads"].dropna().unique()) or [1],
        dtypes=[d for d in grid.DTYPES if d in set(steps["dtype"].dropna())] or ["float64"],
        status_counts=cur["status"].value_counts().to_dict())
    from .findings import findings
    report.findings = findings(report)
    return report


def analyse(loaded):
    """One MachineReport per machine of a ``load.Loaded`` record, by machine name."""
    return [analyse_machine(machine, rows, loaded.asv_machines.get(machine, {}),
                            loaded.descriptions)
            for machine, rows in loaded.frame.groupby("machine", sort=True)]

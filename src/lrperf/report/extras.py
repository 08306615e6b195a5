"""The facets beside the speed: accuracy, the float32 trade, what XLA compiled, thread
counts, first calls, what the study left out and cost, the history's shape."""
import math

import numpy as np
import pandas as pd

from .. import grid
from .facets import Cost, Trade, XlaProgram
from .points import PRIMARY_DTYPE, _ok, _record, peer, reads_text, select, shape_table


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


def xla_facet(prog, primary, optimize, reference):
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
            shown = [reference] + ([peer(name)] if peer(name) else [])
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
    phases; the wall seconds per benchmark family (asv's durations for older runs)."""
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
    families, wall = {}, True
    recorded = study.get("families") if study.get("format", 0) >= 3 else None
    if isinstance(recorded, dict) and recorded and all(
            _seconds(v) is not None for v in recorded.values()):
        families = {str(k): _seconds(v) for k, v in recorded.items()}
    else:  # a run from before the study timed families: asv's durations (one round each)
        wall = False
        for name, seconds in (durations or {}).items():
            if _seconds(seconds) is None or name.startswith("<"):
                continue
            family = name.split(".")[0]
            families[family] = families.get(family, 0.0) + _seconds(seconds)
    return Cost(measured=int(counts.get("ok", 0)), skipped=int(counts.get("skipped", 0)),
                failed=int(counts.get("failed", 0)),
                skipped_by_reason=dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
                reasons_recorded=from_study, wall_s=_seconds(study.get("wall_s")),
                phases=phases, families=dict(sorted(families.items(), key=lambda kv: -kv[1])),
                families_wall=wall)


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

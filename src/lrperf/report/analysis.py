"""Analyse once: the tidy results -> one MachineReport of typed facets per machine.

Every number a figure or the text shows is computed here (``speed``, ``extras``,
from the ``points`` helpers), from single measured shapes (n_x, m): never a
median over different shapes of equal size.  Nothing here imports the renderers
(answer, findings, figures, writeup): they read the facets only.
"""
import json

import pandas as pd

from .. import grid
from .extras import (accuracy_facets, accuracy_points, accuracy_table, cost_facet, family,
                     first_call_facet, history_shape, partial_threads_facet, trade_facet,
                     xla_facet, xla_table)
from .facets import MachineReport
from .points import (MIN_SAMPLES, NOISE_CI_SHARE, NOISE_IQR_SHARE, PRIMARY_DTYPE,  # noqa: F401
                     REFERENCE, _ok, ceiling_at, confirmed, crossovers, grid_points,
                     is_different, latest, noise_score, noisy, ratio_interval, regimes,
                     select, shape_table, slope, strategy_order)
from .speed import (COMPETES_WITHIN, KEYS, competitor_facet, crossover_facet,  # noqa: F401
                    pair_ratio, peer_facet, regime_facet, scaling_facet, share_facet,
                    speedup_facet, winner_facet)
# compare.py formats its table with these; they live in units.
from .units import human_bytes, human_seconds, shape_text, threads_text  # noqa: F401


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
        primary=primary,
        by_process=bool("processes" in steps and steps["processes"].notna().any()))
    report.times = {(layout, t): shape_table(primary, layout=layout, threads=t)
                    for layout in layouts for t in threads}
    report.times = {k: v for k, v in report.times.items() if not v.empty}
    speedups = [speedup_facet(steps, base) for base in grid.BASELINES]
    report.speedups = pd.concat([s for s in speedups if len(s)] or [speedups[0]],
                                ignore_index=True)
    calm = steps.set_index([*KEYS, "strategy"])["noisy"]
    report.speedups["calm"] = [
        not (calm.get((r.layout, r.threads, r.dtype, r.n_x, r.m, r.strategy), False)
             or calm.get((r.layout, r.threads, r.dtype, r.n_x, r.m, r.base), False))
        for r in report.speedups.itertuples()]
    ref64 = report.speedups[(report.speedups["base"] == REFERENCE)
                            & (report.speedups["dtype"] == PRIMARY_DTYPE)]
    report.over_reference = ref64
    report.winners = winner_facet(primary, ref64, REFERENCE)
    report.regimes = regime_facet(report.winners, description.get("caches"))
    report.crossovers = crossover_facet(report.times, strategies, REFERENCE)
    report.competitors = competitor_facet(ref64, strategies, REFERENCE)
    report.drawn = [s for s in strategies if s == REFERENCE or s in report.competitors] \
        if report.competitors else strategies
    report.scaling = scaling_facet(primary, threads)
    report.layout_ratio = pair_ratio(primary, "layout", "C", "F", ["threads", "strategy",
                                                                    "n_x", "m"]) \
        if {"C", "F"} <= set(layouts) else pd.DataFrame()
    report.dtype_ratio = pair_ratio(steps, "dtype", dtypes[0], dtypes[1],
                                     ["layout", "threads", "strategy", "n_x", "m"]) \
        if len(dtypes) > 1 else pd.DataFrame()
    report.ceiling = ceiling
    report.shares = share_facet(primary, ceiling, description.get("caches") or {})
    report.peers = peer_facet(primary, optimize)
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
    report.xla_programs = xla_facet(report.xla, primary, optimize, REFERENCE)
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

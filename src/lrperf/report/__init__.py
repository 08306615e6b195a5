"""``lrperf report``: asv results -> tidy table, figures and a written study per machine.

``build_report(results_dir, out_dir)`` writes ``out_dir/<machine>/`` with
``results.csv``, the PNG figures and ``README.md``, plus an index
``out_dir/README.md``.  Each machine's folder is built beside the target and
swapped in, so a crash leaves the previous report intact; asv's results are
only read.
"""
import json
from pathlib import Path

from .. import atomic
from . import analysis as an
from . import writeup
from .load import (NoResultsError, ReportWarning, asv_machines, load_results,
                   machine_description)

__all__ = ["build_report", "load_results", "NoResultsError", "ReportWarning"]


def _safe_name(name):
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
    return keep.strip(".") or "machine"


def _context(frame, machine, results_dir, out_dir, infos, asvm):
    cur = an.latest(frame)
    step_name = an.find_benchmark(cur, "time", ("propagate", "step"))
    bw_name = an.find_benchmark(cur, "track", ("bandwidth",), unit="GB/s",
                                exclude=("read_bandwidth",))
    steps = an.grid_values(cur, step_name) if step_name else cur.iloc[0:0].assign(size=[])
    bandwidth = an.grid_values(cur, bw_name) if bw_name else cur.iloc[0:0].assign(size=[])
    read = cur[cur["benchmark"].str.contains("read_bandwidth", regex=False)
               & (cur["status"] == "ok")]
    read_bw = {int(t): float(v) for t, v in
               read.groupby("threads")["value"].median().items()} if len(read) else {}
    threads = sorted(int(t) for t in steps["threads"].dropna().unique()) or [1]
    first = cur[cur["benchmark"].str.contains("first_call", regex=False)
                & (cur["status"] == "ok")].copy()
    if len(first):
        first["cache"] = first["params"].map(lambda p: json.loads(p).get("cache"))
    commit, env = (cur["commit"].iloc[0], cur["environment"].iloc[0]) if len(cur) else ("", "")
    layout = an.default_layout(steps)
    strategies = an.strategy_order(frame, steps["strategy"].dropna().unique().tolist())
    return {
        "machine": machine, "commit": commit, "environment": env,
        "date": cur["date"].iloc[0] if len(cur) else None,
        "n_commits": frame["commit"].nunique(), "results_dir": str(results_dir),
        "out_dir": str(out_dir), "info": infos.get((machine, commit, env), {}),
        "asv_machine": asvm.get(machine, {}), "step_name": step_name, "steps": steps,
        "bandwidth": bandwidth, "read_bw": read_bw, "threads": threads, "layout": layout,
        "strategies": strategies, "times1": an.table(steps, layout, threads[0]),
        "first_call": first,
        "status_counts": cur["status"].value_counts().to_dict(),
    }


def _history_point(ctx, history_size):
    steps = ctx["steps"]
    if history_size is not None:
        shapes = sorted({(int(n), int(m)) for n, m in zip(steps["n_x"], steps["m"])})
        if tuple(history_size) not in shapes:
            raise ValueError(f"history_size must be a measured (n_x, m) shape, one of "
                             f"{shapes}, got {tuple(history_size)}")
        return tuple(history_size)
    sel = steps[(steps["layout"] == ctx["layout"]) & (steps["threads"] == ctx["threads"][0])]
    # The largest shape that every strategy measured: comparable across strategies.
    counts = (sel if len(sel) else steps).groupby(["n_x", "m"])["strategy"].nunique()
    full = counts[counts == counts.max()]
    n_x, m = max(full.index, key=lambda nm: nm[0] * nm[1])
    return int(n_x), int(m)


def _write_machine(frame, ctx, folder, history_size):
    from . import figures  # matplotlib: only when a report is written, not for `lrperf --help`
    frame.to_csv(folder / "results.csv", index=False)
    made = []
    steps, layout, threads, strategies = (ctx["steps"], ctx["layout"], ctx["threads"],
                                          ctx["strategies"])
    if not steps.empty:
        made.append(("Time per step against problem size",
                     figures.time_vs_size(steps, layout, threads, strategies,
                                          folder / "time_vs_size.png")))
        baselines = [b for b in ("python_loops", "numpy") if b in strategies]
        if baselines:
            made.append(("Speedup over python_loops and numpy",
                         figures.speedup(steps, layout, threads, strategies, baselines,
                                         folder / "speedup.png")))
        if len(threads) > 1:
            made.append(("Thread scaling",
                         figures.thread_scaling(steps, layout, threads, strategies,
                                                folder / "thread_scaling.png")))
        n_x, m = _history_point(ctx, history_size)
        made.append((f"History across commits at n_x={n_x}, m={m}",
                     figures.history(an.grid_values(frame, ctx["step_name"]), n_x, m, layout,
                                     threads[0], strategies, folder / "history.png")))
    if not ctx["bandwidth"].empty:
        made.insert(2, ("Achieved bandwidth against the measured read bandwidth",
                        figures.bandwidth(ctx["bandwidth"], layout, threads, strategies,
                                          ctx["read_bw"], folder / "bandwidth.png")))
    text = writeup.readme(ctx, [(title, Path(p).name) for title, p in made])
    (folder / "README.md").write_text(text, encoding="utf-8")
    return [Path(p).name for _, p in made]


def build_report(results_dir=".asv/results", out_dir="reports", history_size=None):
    """Write the report of every machine in ``results_dir`` to ``out_dir``; return ``out_dir``.

    ``history_size`` is an (n_x, m) pair for the history figure (default: the
    largest shape every strategy measured).  Raises NoResultsError (a
    ValueError) when nothing usable is found; damaged files are skipped with
    a ReportWarning naming them.
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    frame = load_results(results_dir)
    infos = machine_description(frame)
    asvm = asv_machines(results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = ["# lrperf reports", "", f"From asv results in `{results_dir}`.", ""]
    for machine, rows in frame.groupby("machine", sort=True):
        name = _safe_name(machine)
        ctx = _context(rows, machine, results_dir, out_dir, infos, asvm)
        with atomic.replacing_folder(out_dir / name) as tmp:
            made = _write_machine(rows, ctx, tmp, history_size)
        index.append(f"- [{machine}]({name}/README.md): commit `{ctx['commit'][:8]}`, "
                     f"{len(rows)} points, figures: {', '.join(made) or 'none'}")
    atomic.write_text(out_dir / "README.md", "\n".join(index) + "\n")
    return out_dir

"""README.md of one machine's report: the machine, the findings, the table, the figures."""
import math
import shlex

from .. import grid
from ..escape import md, md_code, one_line
from ..machine import cpu_name
from .answer import answer
from .facets import sample_need, significance_rule
from .units import duration_text, shape_text, threads_text
from .units import human_bytes as hb
from .units import human_seconds as hs


def _date(when):
    return "date unknown" if when is None or when != when else f"{when:%Y-%m-%d %H:%M} UTC"


def cpu_line(description, asv_machine=None):
    """'model; SIMD; L1d/L2/L3; cores' — the line every figure's caption names."""
    d, asvm = description or {}, asv_machine or {}
    caches = d.get("caches") or {}
    cache = ", ".join(f"{level} {hb(c['bytes'])}" for level, c in caches.items()
                      if isinstance(c, dict) and c.get("bytes"))
    parts = [cpu_name(d) if d.get("cpu") else asvm.get("cpu") or "CPU not recorded",
             "SIMD " + "/".join(d["simd"]) if d.get("simd") else None,
             cache or None,
             f"{d.get('cores') or asvm.get('num_cpu')} cores"
             if d.get("cores") or asvm.get("num_cpu") else None]
    return "; ".join(p for p in parts if p)


def _tuning(plan):
    if not isinstance(plan, dict) or not isinstance(plan.get("keys"), dict):
        return None
    keys = plan["keys"].values()
    tuned = sum(isinstance(k, dict) and k.get("source") == "wisdom" for k in keys)
    cost = plan.get("wisdom_plan_s")
    cost = f", planning cost {cost:.1f} s" if isinstance(cost, (int, float)) else ""
    return (f"LRPERF_TUNING={plan.get('mode', '?')}: {tuned} keys (kind/layout/n_x x m "
            f"classes/threads/dtype) planned on this machine{cost}; any other shape runs the "
            "defaults (C order: two passes over rows, gradient descent fused across steps; "
            "F order: pipelined groups of examples sized to the L2)")


def machine_section(report):
    d, asvm = report.description, report.asv_machine
    caches = d.get("caches") or {}
    fields = [("asv machine name", report.machine),
              ("CPU", d.get("cpu") or asvm.get("cpu")),
              ("CPU vendor, family, model, stepping", d.get("cpu_id")),
              ("SIMD flags that matter", ", ".join(d.get("simd") or []) or None),
              *[(f"{level} cache", f"{hb(c['bytes'])}" + (
                  f", shared by {c['shared_by']} cores" if c.get("shared_by", 1) > 1 else
                  " per core")) for level, c in caches.items() if isinstance(c, dict)
                and c.get("bytes")],
              ("cores", d.get("cores") or asvm.get("num_cpu")),
              ("advertised clock", f"{d['ghz_advertised']} GHz" if d.get("ghz_advertised")
               else None),
              ("OS", asvm.get("os")),
              ("RAM", hb(float(asvm["ram"])) if str(asvm.get("ram", "")).isdigit() else None),
              ("BLAS", d.get("blas")), ("BLAS threads (default)", d.get("blas_threads")),
              ("Numba threads (default)", d.get("numba_threads")),
              ("NumPy", d.get("numpy")), ("Numba", d.get("numba")),
              ("Python", d.get("python")), ("numba_fused tiling", _tuning(d.get("tuning")))]
    lines = ["## Machine and versions", "", "| | |", "| --- | --- |"]
    lines += [f"| {k} | {md(v) if v not in (None, '') else 'not recorded'} |" for k, v in fields]
    if not d:
        lines += ["", "These results carry no machine description (it is written by "
                  "`lrperf study`): CPU and cores are asv's own record."]
    return lines


def step_table(report):
    lines = []
    for (layout, threads), t in report.times.items():
        cols = [s for s in report.strategies if s in t]
        weak = report.primary[~report.primary["confirmed"]]
        weak = weak[(weak["layout"] == layout) & (weak["threads"] == threads)]
        weak = set(zip(weak["n_x"], weak["m"], weak["strategy"]))
        lines += [f"Time per step, layout {layout}, {threads_text(threads)} "
                  "(— = skipped as too slow, or failed; * = unconfirmed, too few samples):", "",
                  "| n_x × m | size of X | " + " | ".join(cols) + " |",
                  "| ---: | ---: | " + " | ".join("---:" for _ in cols) + " |"]
        for (n_x, m), row in t.iterrows():
            cells = [(hs(row[c]) + ("*" if (n_x, m, c) in weak else ""))
                     if math.isfinite(row[c]) else "—" for c in cols]
            lines.append(f"| {shape_text(n_x, m)} | {hb(grid.nbytes(n_x, m))} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    return lines


def cost_lines(report):
    """What the study left out (by reason) and what it cost (wall time, phases, families)."""
    c = report.cost
    if c is None:
        return []
    reasons = "; ".join(f"{n} {why}" for why, n in c.skipped_by_reason.items())
    how = "by reason" if c.reasons_recorded else "by reason inferred from the strategies' traits"
    lines = [f"Points: {c.measured} measured, {c.failed} failed, {c.skipped} skipped"
             + (f" ({how}: {reasons})" if c.skipped else "") + "."]
    spent = []
    if c.wall_s is not None:
        phases = ", ".join(f"{k} {duration_text(v)}" for k, v in c.phases.items())
        spent.append(f"The study took {duration_text(c.wall_s)} before its report"
                     + (f" ({phases})" if phases else ""))
    if c.families:
        what = ("wall time per benchmark family (process start-up and setup included)"
                if c.families_wall else "asv's time per benchmark family (one round each)")
        spent.append(f"{what}: " + ", ".join(
            f"{k} {duration_text(v)}" for k, v in c.families.items()))
    if not spent:
        spent.append("The study's wall time is not recorded in these results")
    lines.append("; ".join(spent) + ".")
    return lines


def readme(report, figures, results_label):
    n = len(report.commits)
    shown = {name for _, name in figures}
    lines = [f"# lrperf study: machine {md_code(report.machine)}", "",
             f"Measured on **{md(cpu_line(report.description, report.asv_machine))}**.", ""]
    lines += answer(report) + [""]
    if "winner_map.png" in shown:
        lines += ["![Winner map: the fastest strategy at each measured shape, its speed-up "
                  f"over {report.reference}](winner_map.png)", ""]
    lines += cost_lines(report) + [""]
    lines += [f"Commit `{report.commit[:12]}` ({_date(report.date)}), "
              f"environment {md_code(report.environment)}; {n} commit{'' if n == 1 else 's'} "
              "in the history. Every number below comes from one measured shape n_x × m of "
              "these asv results; all points are in [results.csv](results.csv).", ""]
    lines += ["## Findings", ""] + report.findings + [""]
    lines += step_table(report)
    lines += ["## Figures", ""]
    for figure, name in figures:
        if name == "winner_map.png":
            continue
        lines += [f"### {figure.title}", "", f"![{figure.title}]({name})", ""]
    if len(report.commits) < 2:
        lines += ["History across commits is drawn once these results hold two commits or "
                  "more (e.g. `asv run --record-samples HEAD~2..HEAD` measures HEAD~1 and HEAD; then "
                  "`lrperf report`).", ""]
    lines += machine_section(report) + [""]
    lines += ["## Reproduce", "", "```sh",
              "lrperf study            # run the suite on this checkout, then this report",
              f"lrperf report --results {shlex.quote(one_line(results_label))}",
              "```", "",
              (("Timings are the median of a point's per-process medians (each step point "
                "timed in several processes, lrperf.samples), with the range of those medians "
                "as its interval; ") if report.by_process else
               "Timings are asv medians of one call; ")
              + "speedups are ratios of medians measured "
              "in the same run at equal thread counts (Numba and BLAS threads set together). "
              f"\"Significant\": {significance_rule(report)}; a time without "
              f"{sample_need(report)} is unconfirmed and never called significant. "
              "Bandwidth and shares count the bytes each strategy reads per step (X times "
              "its passes over X) over the same median as the table; the suite's separate "
              "`track_bandwidth` measurement is not used. "
              "Skipped points are left out of the figures, never drawn as zero.", ""]
    return "\n".join(lines)

"""README.md of one machine's report: the machine, the findings, the table, the figures."""
import math

from .. import grid
from ..machine import cpu_name
from . import analysis as an

hb, hs = an.human_bytes, an.human_seconds


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
    return (f"LRPERF_TUNING={plan.get('mode', '?')}: {tuned} of {len(keys)} keys (layout/"
            "size class/threads/dtype) timed on this machine by `lrperf tune`, the others "
            "derived from the cache sizes; F order: pipelined groups of examples sized to "
            "the L2 (derived)")


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
    lines += [f"| {k} | {v if v not in (None, '') else 'not recorded'} |" for k, v in fields]
    if not d:
        lines += ["", "These results carry no machine description (it is written by "
                  "`lrperf study`): CPU and cores are asv's own record."]
    return lines


def step_table(report):
    lines = []
    for layout in report.layouts:
        for threads in report.threads:
            t = an.shape_table(an.select(report.steps, layout=layout, threads=threads,
                                         dtype="float64"))
            if t.empty:
                continue
            cols = [s for s in report.strategies if s in t]
            lines += [f"Time per step, layout {layout}, {an.threads_text(threads)} "
                      "(— = skipped as too slow, or failed):", "",
                      "| n_x × m | size of X | " + " | ".join(cols) + " |",
                      "| ---: | ---: | " + " | ".join("---:" for _ in cols) + " |"]
            for (n_x, m), row in t.iterrows():
                cells = [hs(row[c]) if math.isfinite(row[c]) else "—" for c in cols]
                lines.append(f"| {an.shape_text(n_x, m)} | {hb(grid.nbytes(n_x, m))} | "
                             + " | ".join(cells) + " |")
            lines.append("")
    return lines


def readme(report, figures, results_label):
    status = report.status_counts
    n = len(report.commits)
    lines = [f"# lrperf study: machine `{report.machine}`", "",
             f"Measured on **{cpu_line(report.description, report.asv_machine)}**.", "",
             f"Commit `{report.commit[:12]}` ({_date(report.date)}), "
             f"environment `{report.environment}`; {n} commit{'' if n == 1 else 's'} "
             f"in the history. Points: {status.get('ok', 0)} measured, "
             f"{status.get('skipped', 0)} skipped (estimated too slow, not available here, "
             "or a dtype the strategy reads only through a float64 copy), "
             f"{status.get('failed', 0)} failed. Every number below comes from one measured "
             "shape n_x × m of these asv results; all points are in "
             "[results.csv](results.csv).", ""]
    lines += machine_section(report) + ["", "## Findings", ""] + report.findings + [""]
    lines += step_table(report)
    lines += ["## Figures", ""]
    for figure, name in figures:
        lines += [f"### {figure.title}", "", f"![{figure.title}]({name})", ""]
    if len(report.commits) < 2:
        lines += ["History across commits is drawn from two commits on (`asv run "
                  "HEAD~1..HEAD`, then `lrperf report`).", ""]
    lines += ["## Reproduce", "", "```sh",
              "lrperf study            # run the suite on this checkout, then this report",
              f"lrperf report --results {results_label}",
              "```", "",
              "Timings are asv medians of one call; speedups are ratios of medians measured "
              "in the same run at equal thread counts (Numba and BLAS threads set together). "
              "\"Significant\" is asv compare's rule: the two 99% intervals do not overlap. "
              "Skipped points are left out of the figures, never drawn as zero.", ""]
    return "\n".join(lines)

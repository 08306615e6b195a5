"""``lrperf report``: load (asv's API) -> analyse once -> render -> write.

``build_report(results_dir, out_dir)`` writes ``out_dir/<machine>/`` with
``results.csv``, the PNG figures, ``README.md`` and ``index.html`` (the same
text as one self-contained page, figures embedded: ``lrperf.htmlpage``), plus
an index ``out_dir/README.md`` and ``out_dir/index.html``.  Each machine's folder is built beside the target and
swapped in, so a crash leaves the previous report intact; asv's results are
only read.
"""
import os
from pathlib import Path

from ..escape import md, md_code
from ..htmlpage import page
from ..names import assign
from ..overlap import refuse_overlap
from .analysis import analyse
from . import answer as first_screen
from .load import NoResultsError, ReportWarning, load, load_results

# The HTML pages link each other where the Markdown links README.md.
PAGE_LINKS = {"README.md": "index.html"}

__all__ = ["build_report", "load_results", "NoResultsError", "ReportWarning"]


def _label(path):
    """A path as a reader may see it: relative to here when inside, else its last parts."""
    path = Path(path)
    try:
        return os.path.relpath(path.resolve(), Path.cwd()) if path.resolve().is_relative_to(
            Path.cwd()) else "/".join(path.resolve().parts[-2:])
    except (OSError, ValueError):
        return path.name


def _write_machine(report, folder, results_label, draw):
    from . import findings, writeup
    report.findings = findings.findings(report)
    report.rows.drop(columns=["file"]).to_csv(folder / "results.csv", index=False)
    made = []
    if draw:
        from . import figures  # matplotlib only when figures are drawn
        made = figures.render(report, folder)
    text = writeup.readme(report, made, results_label)
    (folder / "README.md").write_text(text, encoding="utf-8")
    (folder / "index.html").write_text(
        page(text, folder, f"lrperf study: {report.machine}", links=PAGE_LINKS),
        encoding="utf-8")
    return [name for _, name in made]


def build_report(results_dir=".asv/results", out_dir="lrperf-out/report", figures=True,
                 summaries=None):
    """Write the report of every machine in ``results_dir`` to ``out_dir``; return ``out_dir``.

    ``figures=False`` writes the text and results.csv only (seconds instead of
    tens of seconds: drawing is most of a report's time).  A dict given as
    ``summaries`` receives {machine: a few lines of what was learned} (the
    end of ``lrperf study``).

    Raises NoResultsError (a ValueError) when nothing usable is found; damaged
    files are skipped with a ReportWarning naming them.
    """
    from ..atomic import replacing_folder, write_text
    from .writeup import cpu_line
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    refuse_overlap(results_dir, out_dir, "results_dir", "out_dir")
    loaded = load(results_dir)
    reports = analyse(loaded)   # analyse once; the renderers below only read the facets
    out_dir.mkdir(parents=True, exist_ok=True)
    label = _label(results_dir)
    index = ["# lrperf reports", "", f"From the asv results in {md_code(label)}.", ""]
    folders = assign(r.machine for r in reports)
    for report in reports:
        name = folders[report.machine]
        with replacing_folder(out_dir / name) as tmp:
            made = _write_machine(report, tmp, label, figures)
        if summaries is not None:
            summaries[report.machine] = first_screen.answer(report, markdown=False)
        index.append(f"- [{md(report.machine)}]({name}/README.md): "
                     f"{md(cpu_line(report.description, report.asv_machine))}; commit "
                     f"`{report.commit[:8]}`, {len(report.steps)} step points, figures: "
                     f"{', '.join(made) or 'none'}")
    index_text = "\n".join(index) + "\n"
    write_text(out_dir / "README.md", index_text)
    write_text(out_dir / "index.html", page(index_text, out_dir, "lrperf reports",
                                            links=PAGE_LINKS))
    return out_dir

"""Output folders that can never overlap the results they are made from.

A report written into its results folder replaces asv's result files with
its own; one written into a folder that holds the results, or inside them,
mixes the two.  ``refuse_overlap`` is called by ``lrperf report``,
``lrperf study`` (before the suite starts) and ``build_report``.
"""
from pathlib import Path


def _real(path):
    # resolve() follows symlinks of the parts that exist and keeps the rest,
    # so a link to the results folder is caught as the folder itself.
    return Path(path).expanduser().resolve()


def overlaps(a, b):
    """Whether folder ``a`` is ``b``, lies inside it, or holds it."""
    a, b = _real(a), _real(b)
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def refuse_overlap(results, out, results_option="--results", out_option="--out"):
    """ValueError naming both options when ``out`` is, lies inside or holds ``results``."""
    if not overlaps(results, out):
        return
    r, o = _real(results), _real(out)
    how = ("is" if r == o else "lies inside" if o.is_relative_to(r) else "holds")
    raise ValueError(
        f"{out_option} {str(out)!r} {how} {results_option} {str(results)!r}: the report "
        "would be written over the results it is made from; choose an output folder "
        "outside the results (the default is under reports/ in the checkout)")

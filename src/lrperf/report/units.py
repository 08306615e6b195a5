"""How the report writes numbers: bytes, seconds, shapes, thread counts.

Formatting only: nothing here computes a result.
"""
from ..grid import DTYPES


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


def duration_text(s):
    """A wall time as a person reads it: '7 min 43 s', '18 s'."""
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def threads_text(n):
    return f"{n} thread" + ("" if n == 1 else "s")


def where_text(layout, threads, dtype=None):
    """'layout F, 2 threads', and the dtype of X where it is not the primary one."""
    extra = "" if dtype in (None, DTYPES[0]) else f", {dtype}"
    return f"layout {layout}, {threads_text(threads)}{extra}"

"""What XLA compiled for jax_xla's step: counts read from its optimized HLO.

The study's question about JAX is whether XLA fuses the two products with X
(``w @ X`` and ``X @ dZ``) into one pass, as numba_fused does by hand, or reads
X twice, as numpy does.  The answer is in the program XLA compiled
(``jit(...).lower(...).compile().as_text()``, summarized by
``lrperf.strategies.jax_xla.hlo_summary``), not in a timing: these
``track_`` benchmarks record it at the cat data's shape (the grid's largest
where it lacks that one), in both layouts,
so the report can set it beside the measured step.

* ``track_dots``: dot instructions in the whole program;
* ``track_x_reads``: instructions of the entry computation that take X as an
  operand, each one pass over X;
* ``track_dot_fusions``: fusions that hold a dot (0: no product was fused with
  the element-wise work).

Skipped (in setup) where jax is not installed.
"""
import lrperf
from lrperf import grid

from .common import GRID, announce

# The cat data's shape where the grid has it (the suite times jax_xla there),
# else the grid's largest.
SHAPE = (grid.CAT_SHAPE if grid.CAT_SHAPE[0] in GRID.n_x and grid.CAT_SHAPE[1] in GRID.m
         else (max(GRID.n_x), max(GRID.m)))


class Program:
    params = [[SHAPE[0]], [SHAPE[1]], list(grid.LAYOUTS)]
    param_names = list(getattr(grid, "XLA_PARAMS", ("n_x", "m", "layout")))
    number = 1
    repeat = 1
    timeout = 300

    def setup(self, n_x, m, layout):
        announce("xla")
        record = lrperf.STRATEGIES.get("jax_xla")
        if record is None:
            raise NotImplementedError("skipped: no strategy 'jax_xla' in this commit")
        if not record.available:
            raise NotImplementedError(f"skipped: jax_xla is unavailable: {record.unavailable}")
        from lrperf.strategies import jax_xla
        self.summary = jax_xla.hlo_summary(n_x, m, transposed=layout == "F")

    def track_dots(self, n_x, m, layout):
        return self.summary["dots"]

    track_dots.unit = "instructions"

    def track_x_reads(self, n_x, m, layout):
        return len(self.summary["x_reads"])

    track_x_reads.unit = "instructions"

    def track_dot_fusions(self, n_x, m, layout):
        return sum(1 for f in self.summary["fusions"] if "dot" in f["ops"])

    track_dot_fusions.unit = "fusions"

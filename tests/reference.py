"""The 50-digit reference, kept in the package (lrperf.reference) so that the
accuracy benchmarks can use it too; the tests import it from here as before."""
from lrperf.reference import reference_step  # noqa: F401

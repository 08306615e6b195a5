"""What the measurement scripts in ``scripts/`` share, so each keeps only what differs:
argument types, one-line failures, JSON written through ``lrperf.atomic``, a
Markdown table and the CPU line every quoted figure carries."""
import argparse
import json
import sys

from . import atomic
from .argtypes import pause_seconds, positive_int, shape  # noqa: F401  (argument types)


# -- argument types -------------------------------------------------------------------------

def dims(text):
    """'4096x50000' -> (4096, 50000); ValueError unless two integers joined by x."""
    n_x, m = (int(part) for part in text.strip().lower().split("x"))
    return n_x, m


class UsageError(Exception):
    """Bad arguments, said in one line."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (UsageError), not a usage block."""

    def error(self, message):
        raise UsageError(message)


# -- output ---------------------------------------------------------------------------------

def log(message):
    """Progress on stderr, so stdout is the Markdown alone."""
    print(message, file=sys.stderr, flush=True)


def write_json(path, payload, indent=2):
    """``payload`` as JSON at ``path``, atomically: an earlier file survives a failed run."""
    atomic.write_text(path, json.dumps(payload, indent=indent))


def table(header, rows, align=None):
    """Markdown table lines: ``header`` (column names), ``rows`` (lists of cells);
    ``align`` a string of 'l'/'r' per column (default: first left, others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    return [f"| {' | '.join(map(str, r))} |" for r in (header, rule, *rows)]


def cpu_line(facts=None):
    """'CPU: name (SIMD; caches; cores)': the line that names the CPU of every figure."""
    from .machine import cpu_summary
    return f"CPU: {cpu_summary(facts)}"


def ms(seconds, digits=3):
    """Seconds as milliseconds, for a table cell."""
    return f"{seconds * 1e3:.{digits}f}"

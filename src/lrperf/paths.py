"""Paths as the user reads them in lrperf's messages."""
from pathlib import Path


def shown(path):
    """``path`` relative to the current folder where it lies below it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

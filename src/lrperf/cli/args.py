"""Argument types and folder checks the subcommands share: bad input is refused
before any work starts, naming the option, what it expects and what it got."""
import os
from pathlib import Path

# Where reports go unless --out says otherwise (git-ignored but for its README.md).
REPORTS = Path("reports")

# The argument types every subcommand and script shares (0 iterations trains
# nothing and still reports: --iterations is non_negative_int).
from ..argtypes import (non_negative_float, non_negative_int, pause_seconds,  # noqa: F401
                        positive_int, ratio, regex, shape)


def _nearest_existing(path):
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return Path(".")


def output_folder(path, option="--out"):
    """``path`` as a folder lrperf may create and write in, checked before any work
    starts (a study takes minutes); ValueError naming ``option`` otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} must be a folder, got {str(path)!r}, which is a file")
    place = _nearest_existing(path)
    if not place.is_dir():
        raise ValueError(f"{option} {str(path)!r} cannot be created: {str(place)!r} is a file, "
                         "not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {str(path)!r} cannot be written: {str(place)!r} is "
                         "not writable by this user")
    return path


def input_folder(path, option="--results"):
    """``path`` as an existing, readable folder; ValueError naming ``option`` otherwise."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{option} {str(path)!r} does not exist (`lrperf study` writes "
                         "asv's results; point --results at that folder)")
    if not path.is_dir():
        raise ValueError(f"{option} must be a folder (asv's results: one folder per machine), "
                         f"got {str(path)!r}, which is a file")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ValueError(f"{option} {str(path)!r} cannot be read by this user")
    return path


def one_kind(results):
    """Refuse the root of the study's results folders, which holds one per kind of run."""
    if (results / "benchmarks.json").exists():
        return
    kinds = sorted(p.name for p in results.iterdir() if (p / "benchmarks.json").is_file())
    if kinds:
        raise ValueError(
            f"--results {str(results)!r} holds the results of several kinds of run "
            f"({', '.join(kinds)}), which must not be mixed: pick one, e.g. "
            f"--results {str(results / kinds[0])!r}")


def duration(seconds):
    """Seconds as a person reads them: ``1 min 05 s`` or ``4.2 s``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{seconds:.1f} s"

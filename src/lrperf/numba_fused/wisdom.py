"""numba_fused's wisdom file: the plans timed on this machine, kept as FFTW keeps its wisdom.

One JSON file (``LRPERF_WISDOM``, else ``wisdom.json`` in the user's cache
folder): ``{"lrperf": "wisdom", "format": 2, "machines": {machine id:
{"cpu", "simd", "caches", "entries": {key: entry}}}}``.  Entries are filed
under a hash of the CPU model, SIMD flags and caches: another CPU never
reuses them.

The file is read only when it is a regular file under ``MAX_BYTES`` (a FIFO
or a device never blocks a step), and written only over a regular file that
holds lrperf wisdom (its marker) or where nothing is: ``LRPERF_WISDOM``
pointing at someone's file or a device node refuses the write.  Saves take
turns on an ``fcntl.flock`` of a lock file beside it and merge what is there,
so processes saving at once lose nothing; the write itself is atomic
(``lrperf.atomic``).
"""
import contextlib
import errno
import hashlib
import json
import os
import stat
import warnings
from pathlib import Path

from .. import atomic
from ..machine import cpu_facts

try:
    import fcntl
except ImportError:  # Windows: saves do not take turns
    fcntl = None

PATH_ENV = "LRPERF_WISDOM"
MARKER = ("lrperf", "wisdom")
FORMAT = 2
# A wisdom file holds a few hundred entries of ~300 bytes: 4 MB is far above any real one.
MAX_BYTES = 4 << 20


class TuningWarning(UserWarning):
    """Wisdom that could not be used or saved (unreadable file, bad entry)."""


def warn(text):
    warnings.warn(text, TuningWarning, stacklevel=3)


def wisdom_path(environ=None):
    environ = os.environ if environ is None else environ
    if environ.get(PATH_ENV):
        return Path(environ[PATH_ENV])
    import platformdirs
    return Path(platformdirs.user_cache_dir("lrperf")) / "wisdom.json"


def caches(facts):
    return {name: c["bytes"] for name, c in facts["caches"].items() if c.get("bytes")}


def machine_id(facts=None):
    """Short hash of what makes a timing portable or not: CPU model (name, and
    family/model/stepping where known), SIMD, caches."""
    facts = cpu_facts() if facts is None else facts
    text = json.dumps([facts["cpu"], facts.get("cpu_id"), facts["arch"], facts["simd"],
                       caches(facts)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_bounded(path):
    """The file's text, or None when absent; OSError/ValueError when it is no
    regular file or too large.  Opened without blocking: a FIFO returns at once."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > MAX_BYTES:
            raise ValueError(f"{st.st_size} bytes, more than the {MAX_BYTES} a wisdom file "
                             "can hold")
        data = os.read(fd, MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ValueError(f"more than {MAX_BYTES} bytes")
        return data.decode("utf-8")
    finally:
        os.close(fd)


def _is_wisdom(data):
    return isinstance(data, dict) and isinstance(data.get("machines"), dict) and (
        data.get(MARKER[0]) == MARKER[1] or data.get("format") == 1)


def read_file(path):
    """The whole file as a dict ({} when absent or unusable, with a warning naming it)."""
    try:
        text = _read_bounded(path)
        if text is None:
            return {}
        data = json.loads(text)
        if not _is_wisdom(data):
            raise ValueError("not an lrperf wisdom file")
        if data.get("format") != FORMAT:
            raise ValueError(f"wisdom of format {data.get('format')!r}, not {FORMAT} "
                             "(planned again as needed)")
        return data
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        warn(f"ignoring the tuning wisdom in {path}: {exc}")
        return {}


def load_entries(path=None, facts=None):
    """{key: raw entry} of this machine in the file (each still to be checked)."""
    path = wisdom_path() if path is None else Path(path)
    mine = read_file(path).get("machines", {}).get(machine_id(facts))
    entries = mine.get("entries") if isinstance(mine, dict) else None
    return dict(entries) if isinstance(entries, dict) else {}


def _writable_target(path):
    """Raise OSError unless ``path`` is absent or a regular file of lrperf wisdom."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, f"{path} is not a regular file; refusing to write wisdom there")
    try:
        text = _read_bounded(path)
        ok = _is_wisdom(json.loads(text)) if text else st.st_size == 0
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise OSError(errno.EEXIST, f"{path} exists and is not an lrperf wisdom file; "
                                    "refusing to overwrite it")


@contextlib.contextmanager
def _turn(path):
    """An exclusive, blocking flock on ``.NAME.lock`` beside ``path``: one save at a time."""
    lock = path.parent / f".{path.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def save_entries(new_entries, path=None, facts=None):
    """Merge ``{key: entry}`` into the file for this machine; returns the path.

    Under the lock the file is read again, so entries other processes saved
    meanwhile are kept."""
    path = wisdom_path() if path is None else Path(path)
    facts = cpu_facts() if facts is None else facts
    _writable_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _turn(path):
        _writable_target(path)
        data = read_file(path) or {MARKER[0]: MARKER[1], "format": FORMAT, "machines": {}}
        mine = data["machines"].get(machine_id(facts))
        mine = mine if isinstance(mine, dict) else {}
        entries = mine.get("entries") if isinstance(mine.get("entries"), dict) else {}
        entries.update(new_entries)
        data["machines"][machine_id(facts)] = {
            "cpu": facts["cpu"], "simd": facts["simd"], "caches": caches(facts),
            "entries": entries}
        atomic.write_text(path, json.dumps(data, indent=1, sort_keys=True))
    return path

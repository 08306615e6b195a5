"""Atomic writes of files and folders: a reader sees the old version or the new, never half.

Everything is built beside its target, as ``.NAME.tmp-XXXX`` in the same
folder (so ``os.replace`` is a rename on one file system), flushed to disk and
then renamed over the target.  A folder cannot be renamed over a non-empty
folder, so it is swapped in two renames (target -> ``.NAME.old-XXXX``, temp ->
target); concurrent writers take turns for the swap through an exclusive
``fcntl.flock`` on the parent folder itself, which leaves no lock file behind.

A run killed half-way leaves its ``.NAME.tmp-*`` / ``.NAME.old-*`` behind;
the next write of the same NAME removes them.  A temp still being written is
told apart from a dead one by a lock its writer holds on it until it is done.

New files and folders get the user's umask (as ``open`` and ``mkdir`` do,
unlike ``mkstemp``/``mkdtemp``); a replaced file keeps its mode.
"""
import contextlib
import glob
import os
import shutil
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; renames are still atomic, turns are not taken
    fcntl = None

__all__ = ["write_text", "write_bytes", "replacing_file", "replacing_folder", "temp_folder",
           "clean_stale", "exclusive"]


def _fsync_dir(folder):
    # The rename itself is durable only once the folder's entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(path, *, blocking=True):
    """An exclusive flock on ``path`` (a folder or file) while the block runs.

    Yields False, without waiting, when ``blocking`` is false and another
    holder has it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if fcntl is None and not blocking:
            yield False  # cannot tell whether another holder has it: assume so
            return
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def exclusive(lock_path):
    """Hold an exclusive flock on the file ``lock_path`` (created if absent) while the
    block runs; yields False at once, without it, when another process holds it."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
        yield True
    finally:
        os.close(fd)


def _hold(path):
    """Open ``path`` and keep an exclusive flock on it: marks a temp as in use."""
    fd = os.open(path, os.O_RDONLY)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _clean_locked(parent, name):
    """Remove dead temps of ``name`` in ``parent``; the caller holds the parent's lock."""
    removed = []
    for kind in ("tmp", "old"):
        for path in parent.glob(f".{glob.escape(name)}.{kind}-*"):
            if kind == "tmp":
                # A temp whose writer is alive is locked by it: leave it alone.
                try:
                    with _locked(path, blocking=False) as free:
                        if not free:
                            continue
                except OSError:
                    continue
            # An .old-* exists only inside a swap, which holds the parent's lock: dead.
            _remove(path)
            removed.append(path)
    return removed


def clean_stale(parent, name):
    """Remove the ``.NAME.tmp-*`` / ``.NAME.old-*`` that killed runs left in ``parent``;
    returns their paths.  Temps of writers still running are kept."""
    parent = Path(parent)
    with _locked(parent):
        return _clean_locked(parent, name)


def _temp_beside(target, make):
    """Create (with ``make(path)``) and hold a fresh temp beside ``target``, after
    removing dead ones; returns (path, fd holding its lock)."""
    parent = target.parent
    with _locked(parent):
        _clean_locked(parent, target.name)
        tmp = parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
        make(tmp)
        try:
            return tmp, _hold(tmp)
        except BaseException:
            _remove(tmp)
            raise


def _fsync_tree(folder):
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        _fsync_dir(root)


@contextlib.contextmanager
def temp_folder(target):
    """Yield an empty working folder beside ``target`` (``.NAME.tmp-*``, same file
    system, so its files can be ``os.replace``d into ``target``), removed when the
    block ends, whatever happens."""
    target = Path(target)
    tmp, fd = _temp_beside(target, lambda p: os.mkdir(p, 0o777))
    try:
        yield tmp
    finally:
        _remove(tmp)
        os.close(fd)


@contextlib.contextmanager
def replacing_folder(target):
    """Yield an empty folder beside ``target``; when the block ends normally it
    replaces ``target`` (created if absent).  On an exception, ``target`` is
    untouched and the temp removed.  The parent folder must exist."""
    target = Path(target)
    tmp, fd = _temp_beside(target, lambda p: os.mkdir(p, 0o777))
    try:
        yield tmp
        _fsync_tree(tmp)
        with _locked(target.parent):
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
            moved = False
            if target.exists() or target.is_symlink():
                os.replace(target, old)
                moved = True
            try:
                os.replace(tmp, target)
            except BaseException:
                if moved:
                    os.replace(old, target)  # put the previous version back
                raise
            _fsync_dir(target.parent)
            if moved:
                _remove(old)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing_file(path, mode="w", *, encoding=None, newline=None):
    """Yield a file object open on a temp beside ``path``; when the block ends
    normally the temp is flushed to disk and renamed over ``path``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    try:
        keep_mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        keep_mode = None

    def make(p):
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))

    tmp, fd = _temp_beside(path, make)
    try:
        if keep_mode is not None:
            os.chmod(tmp, keep_mode)
        with open(tmp, mode, encoding=encoding, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        os.close(fd)


def write_text(path, text, encoding="utf-8"):
    """Replace ``path`` by ``text`` atomically."""
    with replacing_file(path, "w", encoding=encoding) as f:
        f.write(text)


def write_bytes(path, data):
    """Replace ``path`` by ``data`` atomically."""
    with replacing_file(path, "wb") as f:
        f.write(data)

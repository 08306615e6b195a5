"""Atomic writes: a reader sees the old file or folder or the new one, never half of one."""
import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path


def _umask_mode(base):
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def write_text(path, text):
    """Write ``path`` through a temporary file in the same folder and os.replace."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path, data):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode(0o666))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def replace_folder(target):
    """Yield an empty temporary folder beside ``target``; on success it becomes ``target``.

    On any error (Ctrl-C included) the temporary folder is removed and
    ``target`` is left as it was.
    """
    target = Path(target)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    os.chmod(tmp, _umask_mode(0o777))
    try:
        yield tmp
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

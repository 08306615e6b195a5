"""One mapping from a name found in a result file (a machine, an environment,
a run) to a file or folder name, used by every writer.

``safe_name`` is injective: a name made only of ``[A-Za-z0-9._-]``, not too
long, not ``.``/``..``/hidden and not shaped like a file the report writes
(``README.md``, ``index.html``, ``results.csv``, ``*.png``...) is kept as it
is; any other gets a readable stem plus ``~`` and a hash of the exact name.
Kept names never contain ``~``, so the two kinds never meet, and two hashed
names share a folder only if their 60-bit hashes collide.  ``assign`` also
makes names distinct where the file system ignores case.
"""
import hashlib
import re

MAX_LENGTH = 64
_KEEP = re.compile(r"[A-Za-z0-9._-]")
# Suffixes of the files lrperf writes beside the folders it names.
RESERVED_SUFFIXES = (".md", ".html", ".htm", ".csv", ".png", ".svg", ".pdf", ".json",
                     ".jsonl", ".txt", ".log", ".lock", ".tmp", ".old")
HASH_CHARS = 15  # hex digits: 60 bits


def _digest(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def _kept(text):
    return (0 < len(text) <= MAX_LENGTH and all(_KEEP.fullmatch(c) for c in text)
            and not text.startswith((".", "-")) and not text.lower().endswith(RESERVED_SUFFIXES))


def safe_name(name, fallback="machine"):
    """``name`` (any str) as a file or folder name; see the module's note."""
    text = str(name)
    if _kept(text):
        return text
    stem = "".join(c if _KEEP.fullmatch(c) else "_" for c in text).lstrip(".-")
    stem = stem[:MAX_LENGTH - HASH_CHARS - 1].rstrip(".") or fallback
    return f"{stem}~{_digest(text)}"


def joined_name(parts, sep="-vs-", prefix="", suffix=""):
    """A file name for several names at once (``compare-A-vs-B.png``), injective in
    the tuple: the parts' safe names joined when that can be read back, else a
    hash of the exact tuple is added."""
    safe = [safe_name(p) for p in parts]
    body = sep.join(safe)
    if any(sep in s for s in safe) or len(prefix + body + suffix) > 2 * MAX_LENGTH:
        import json
        body = f"{body[:MAX_LENGTH]}~{_digest(json.dumps([str(p) for p in parts]))}"
    return f"{prefix}{body}{suffix}"


class NameCollision(ValueError):
    """Two names would share one folder."""


def assign(names):
    """{name: folder name} for several names at once: distinct also where the
    file system ignores case (``Box`` and ``box`` are then both hashed)."""
    names = list(dict.fromkeys(str(n) for n in names))
    folders = {n: safe_name(n) for n in names}
    seen = {}
    for n, f in folders.items():
        seen.setdefault(f.casefold(), []).append(n)
    for group in seen.values():
        if len(group) > 1:
            for n in group:
                folders[n] = f"{safe_name(n).split('~')[0]}~{_digest(n)}"
    final = list(folders.values())
    if len({f.casefold() for f in final}) != len(final):  # only by a hash collision
        raise NameCollision(f"names {names!r} would share a folder")
    return folders

"""How numba_fused reads C-ordered X on this machine: defaults from the caches, or wisdom.

The C-order kernel has three knobs: the loop (``rows``: whole rows, z then
dw, two passes; ``tiles``: one pass in tiles of examples), the tile width and
the prefetch distance.  Which is fastest depends on the CPU's caches (the
issue "portable speed": constants measured on one CPU lost 2.6x on another).
So they are chosen per key -- layout, size class of X relative to the caches
(``ceiling.level_of``), threads, dtype -- in one of two ways:

* defaults derived from the running machine's cache sizes (``default_choice``):
  the two-pass loop while X fits the last-level cache, tiles as big as one
  core's L2, a prefetch distance whose segments fit half the L1;
* wisdom: candidates timed on this machine (``lrperf tune``, or on first use
  with ``LRPERF_TUNING=auto``), the fastest kept in a JSON file under the
  user's cache directory, as FFTW keeps its wisdom.  Entries are filed under
  the CPU model, SIMD flags and cache sizes: another CPU never reuses them.

``LRPERF_TUNING``: unset or ``on``: wisdom where there is some, else the
defaults (never any timing inside a normal call); ``off``: the defaults only
(reproducible runs); ``auto``: a key with no wisdom is tuned on its first call.
``LRPERF_WISDOM`` names another wisdom file.  ``tuning_record()`` says what
was chosen in this process, and why.
"""
import dataclasses
import datetime
import hashlib
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path

from . import measure
from .ceiling import level_of
from .machine import cpu_facts

MODE_ENV = "LRPERF_TUNING"
PATH_ENV = "LRPERF_WISDOM"
MODES = {"": "on", "on": "on", "off": "off", "auto": "auto"}
FORMAT = 1
# Tile widths to try, as multiples of one core's L2 (the tile is re-read from
# cache by the dw pass): from a quarter of it to a thread's share of a large
# L3; and prefetch distances relative to the default.
# The default (1 L2) first: where widths give the same tile, it is the one kept.
TILE_L2_CANDIDATES = (1.0, 0.5, 2.0, 0.25, 4.0, 8.0, 16.0)
PREFETCH_FACTORS = (0, 0.5, 2.0)
# Row segments of a tile: at least 4 cache lines (256 bytes).  Shorter ones
# cost more per element than the cache they save (at 12288 x 209 on a Zen 2,
# tiles of 8 / 16 / 32 / 64 examples: 2.5 / 2.3 / 1.2 / 1.5 ms).
_MIN_SEGMENT_BYTES, _MAX_TILE = 256, 1024
_MIN_AHEAD, _MAX_AHEAD = 4, 512
# A candidate replaces the cache-derived default only when faster by this
# factor: a noisy, shared machine must not flip the choice on a 1% blip.
MARGIN = 1.05
# F order: examples per group, widest first (4 measured 1.12x faster than 2
# at 4096 x 50000 on Skylake-SP, where 4 x 12288 features no longer fit the L2
# and 2 was 1.05x faster).
COLUMN_GROUPS = (4, 2)
# ... and pipelined only for columns of at least this share of the L1d: shorter
# ones are done before the next group's reads would have stalled (Skylake-SP,
# 1 thread: pairs 1.09x faster at 3 KB columns, groups 1.28x faster at 6 KB;
# scripts/bench_columns.py times all three loops on the running machine).
MIN_PIPELINED_COLUMN_L1 = 1 / 8


class TuningWarning(UserWarning):
    """Wisdom that could not be used (corrupt or unreadable file)."""


@dataclasses.dataclass(frozen=True)
class Choice:
    """One way to run the C-order kernel: ``tile_l2`` is the tile's size in L2s."""
    variant: str            # "rows" or "tiles"; F order: "columns" or "groups" (derived)
    tile_l2: float = 1.0
    prefetch: float = 1.0   # multiple of the default prefetch distance; 0: none

    @property
    def name(self):
        if self.variant != "tiles":
            return self.variant
        return f"tiles {self.tile_l2:g} L2, prefetch x{self.prefetch:g}"


@dataclasses.dataclass(frozen=True)
class Params:
    """What the kernel is called with: loop, examples per tile, rows prefetched ahead;
    for F order (``columns``), examples per group."""
    variant: str
    tile: int
    ahead: int
    group: int = 2


def _caches(facts):
    return {name: c["bytes"] for name, c in facts["caches"].items() if c.get("bytes")}


def _l2(facts):
    caches = _caches(facts)
    return caches.get("L2") or max(caches.values(), default=1 << 20)


def _l1(facts):
    return _caches(facts).get("L1d", 32 << 10)


def column_group(n_x, itemsize, facts=None):
    """Examples per group of the F-order loop at ``n_x`` features of ``itemsize`` bytes.

    The loop holds two groups of columns (this one, whose dw update reads it
    again, and the next, being read from memory) plus w and a dw row (float64)
    in one core's L2; the widest group in ``COLUMN_GROUPS`` whose working set
    fits half of it, else the narrowest.
    """
    facts = cpu_facts() if facts is None else facts
    n_x = max(int(n_x), 1)
    for group in COLUMN_GROUPS:
        if (2 * group * itemsize + 2 * 8) * n_x <= _l2(facts) // 2:
            return group
    return COLUMN_GROUPS[-1]


def resolve(choice, n_x, itemsize, facts=None):
    """The kernel's arguments for ``choice`` at ``n_x`` rows of ``itemsize`` bytes."""
    facts = cpu_facts() if facts is None else facts
    if choice.variant == "groups":
        if max(int(n_x), 1) * itemsize < _l1(facts) * MIN_PIPELINED_COLUMN_L1:
            return Params("columns", 0, 0, 2)
        return Params("groups", 0, 0, column_group(n_x, itemsize, facts))
    if choice.variant != "tiles":
        return Params(choice.variant, 0, 0)
    per_example = max(int(n_x), 1) * itemsize
    tile = int(choice.tile_l2 * _l2(facts) // per_example) // 8 * 8
    tile = min(max(tile, _MIN_SEGMENT_BYTES // itemsize), _MAX_TILE)
    # Rows ahead whose tile segments fill half the L1: prefetched far enough
    # to arrive in time, near enough to be still there when read.
    ahead = _l1(facts) // 2 // (tile * itemsize)
    ahead = min(max(int(ahead * choice.prefetch), _MIN_AHEAD), _MAX_AHEAD) if choice.prefetch else 0
    return Params("tiles", tile, ahead)


def size_class(nbytes, threads, facts=None):
    facts = cpu_facts() if facts is None else facts
    return level_of(nbytes, threads, facts["caches"])


def key(layout, nbytes, threads, dtype, facts=None):
    """"C/DRAM/2/float64": the wisdom key of one call."""
    return f"{layout}/{size_class(nbytes, threads, facts)}/{int(threads)}/{dtype}"


def default_choice(layout, cls):
    """(Choice, why) from the caches alone."""
    if layout != "C":
        return Choice("groups"), ("F order: groups of examples, the dot of the next group "
                                  "in the same loop as the dw update of this one (pairs, "
                                  "not pipelined, for columns shorter than "
                                  f"{MIN_PIPELINED_COLUMN_L1:g} L1d); the widest group of "
                                  f"{'/'.join(map(str, COLUMN_GROUPS))} whose two groups of "
                                  "columns, w and dw fit half of one core's L2")
    if cls != "DRAM":
        return (Choice("rows"), f"X is held by {cls}: two passes over whole rows (long "
                                "contiguous streams), the second one from cache")
    return (Choice("tiles"), "X exceeds the last-level cache: one pass in tiles the size of "
                             "one core's L2, prefetching rows whose segments fill half the L1")


def candidates(layout, cls):
    """Every Choice the tuner may time for a key (rows, then tile widths)."""
    if layout != "C":
        return [default_choice(layout, cls)[0]]
    return [Choice("rows")] + [Choice("tiles", t) for t in TILE_L2_CANDIDATES]


def prefetch_candidates(best):
    """Second round: prefetch distances around the best tile width."""
    return [dataclasses.replace(best, prefetch=f) for f in PREFETCH_FACTORS]


def machine_id(facts=None):
    """Short hash of what makes a timing portable or not: CPU model (name, and
    family/model/stepping where known), SIMD, caches."""
    facts = cpu_facts() if facts is None else facts
    text = json.dumps([facts["cpu"], facts.get("cpu_id"), facts["arch"], facts["simd"],
                       _caches(facts)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mode(environ=None):
    environ = os.environ if environ is None else environ
    raw = environ.get(MODE_ENV, "")
    try:
        return MODES[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"{MODE_ENV} must be one of on, off, auto (or unset), got {raw!r}") \
            from None


def wisdom_path(environ=None):
    environ = os.environ if environ is None else environ
    if environ.get(PATH_ENV):
        return Path(environ[PATH_ENV])
    import platformdirs
    return Path(platformdirs.user_cache_dir("lrperf")) / "wisdom.json"


def _read(path):
    """The whole wisdom file; {} when absent; a warning naming it when unusable."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("format") != FORMAT \
                or not isinstance(data.get("machines"), dict):
            raise ValueError(f"not lrperf wisdom of format {FORMAT}")
        return data
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        warnings.warn(f"ignoring the tuning wisdom in {path}: {exc}", TuningWarning,
                      stacklevel=3)
        return {}


def _valid(entry):
    """The Choice of a wisdom entry, or None when the entry cannot be one."""
    try:
        choice = Choice(entry["variant"], float(entry.get("tile_l2", 1.0)),
                        float(entry.get("prefetch", 1.0)))
    except (KeyError, TypeError, ValueError):
        return None
    sane = 0 < choice.tile_l2 < 1e6 and 0 <= choice.prefetch < 1e6  # NaN fails both
    return choice if sane and choice.variant in ("rows", "tiles", "columns", "groups") else None


def load_wisdom(path=None, facts=None):
    """{key: entry} of this machine's wisdom (entries of other CPUs are not used)."""
    path = wisdom_path() if path is None else Path(path)
    data = _read(path)
    mine = data.get("machines", {}).get(machine_id(facts), {})
    entries = mine.get("entries", {}) if isinstance(mine, dict) else {}
    return {k: e for k, e in entries.items() if isinstance(e, dict) and _valid(e)}


def save_wisdom(new_entries, path=None, facts=None):
    """Merge ``{key: entry}`` into the file for this machine; atomic (temp file + rename)."""
    path = wisdom_path() if path is None else Path(path)
    facts = cpu_facts() if facts is None else facts
    with _lock:
        data = _read(path) or {"format": FORMAT, "machines": {}}
        mine = data["machines"].setdefault(machine_id(facts), {})
        mine.update({"cpu": facts["cpu"], "simd": facts["simd"], "caches": _caches(facts)})
        mine.setdefault("entries", {}).update(new_entries)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        reset()
    return path


# Per-process state: the wisdom read once, and each (key, n_x) resolved once
# so the hot path is one dict lookup.
_lock = threading.Lock()
_state = {"wisdom": None, "resolved": {}, "record": {}, "mode": None}


def reset():
    """Forget what this process read and chose (after the wisdom file or LRPERF_TUNING changed)."""
    _state["mode"] = None
    _state["wisdom"] = None
    _state["resolved"] = {}
    _state["record"] = {}


def _wisdom():
    if _state["wisdom"] is None:
        _state["wisdom"] = load_wisdom()
    return _state["wisdom"]


def pick_fastest(calls, *, rounds=3, per_round=2, gap=0.02, clock=None, sleep=None):
    """(fastest name, {name: median seconds}) of ``calls`` ({name: fn}), side by side."""
    kwargs = {k: v for k, v in (("clock", clock), ("sleep", sleep)) if v is not None}
    times = measure.interleaved(calls, rounds=rounds, per_round=per_round, gap=gap, **kwargs)
    medians = {name: measure.median(t) for name, t in times.items()}
    return min(medians, key=medians.get), medians


def tune(layout, cls, run, n_x, itemsize, *, facts=None, progress=None, **timing):
    """Time the candidates of a key with ``run(Params)``; returns the wisdom entry.

    Round one: the two-pass loop and every tile width (default prefetch);
    round two: prefetch distances around the best tile width.  The winner
    must beat the cache-derived default by ``MARGIN``, else the default
    stays.  ``progress(name, seconds)`` is called for every candidate timed.
    """
    facts = cpu_facts() if facts is None else facts
    first = candidates(layout, cls)
    if len(first) == 1:
        return _entry(first[0], {first[0].name: None}, n_x)
    times = {}
    timed = {}  # Params -> the name its time is filed under
    known = {}  # name -> Choice

    def timed_round(choices):
        # Choices that give the same kernel arguments at this n_x are timed once.
        distinct = {}
        for c in choices:
            distinct.setdefault(resolve(c, n_x, itemsize, facts), c)
        calls = {c.name: (lambda p=p: run(p)) for p, c in distinct.items()}
        best, medians = pick_fastest(calls, **timing)
        times.update(medians)
        timed.update({p: c.name for p, c in distinct.items()})
        known.update({c.name: c for c in distinct.values()})
        if progress:
            for name, seconds in medians.items():
                progress(name, seconds)
        return known[best]

    best = timed_round(first)
    if best.variant == "tiles":
        best = timed_round([best] + prefetch_candidates(best))
    default = timed.get(resolve(default_choice(layout, cls)[0], n_x, itemsize, facts))
    if default is not None and times[best.name] * MARGIN > times[default]:
        best = known[default]
    return {**_entry(best, times, n_x), "default": default}


def _entry(choice, times, n_x):
    return {"variant": choice.variant, "tile_l2": choice.tile_l2, "prefetch": choice.prefetch,
            "times_s": times, "n_x": int(n_x),
            "tuned_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def params_for(layout, X, threads, run=None):
    """The kernel's Params for this call (cached per key and n_x: the hot path).

    ``run(Params)`` times one candidate on this call's data; it is used only
    with LRPERF_TUNING=auto when the key has no wisdom.
    """
    # The memo's key is cheap on purpose: a dtype object, not its name (which
    # numpy builds anew each time).  LRPERF_TUNING is read once per process
    # (reset() re-reads it): an environment lookup costs more than the rest.
    memo = (layout, X.nbytes, X.shape[0], threads, X.dtype)
    found = _state["resolved"].get(memo)
    if found is not None:
        return found
    if _state["mode"] is None:
        _state["mode"] = mode()
    how = _state["mode"]
    n_x = X.shape[0]
    facts = cpu_facts()
    cls = size_class(X.nbytes, threads, facts)
    k = f"{layout}/{cls}/{int(threads)}/{X.dtype.name}"
    choice, why = default_choice(layout, cls)
    source = "default"
    if how == "off":
        why = f"{MODE_ENV}=off: " + why
    else:
        entry = _wisdom().get(k)
        if entry is None and how == "auto" and run is not None and layout == "C":
            entry = tune(layout, cls, run, n_x, X.dtype.itemsize, facts=facts)
            try:
                save_wisdom({k: entry}, facts=facts)
            except OSError as exc:  # a read-only cache dir must not fail the step
                warnings.warn(f"could not save tuning wisdom to {wisdom_path()}: {exc}",
                              TuningWarning, stacklevel=3)
            _state["wisdom"] = None
            _state["mode"] = how
            source = "tuned"
        elif entry is not None:
            source = "wisdom"
        if entry is not None:
            choice = _valid(entry)
            why = (f"fastest of {len(entry.get('times_s') or {})} candidates timed on this "
                   f"machine at n_x={entry.get('n_x')} ({entry.get('tuned_at', 'unknown date')})")
    params = resolve(choice, n_x, X.dtype.itemsize, facts)
    _state["resolved"][memo] = params
    _state["record"][f"{k}/n_x={n_x}"] = {"key": k, "n_x": n_x, "source": source,
                                          "choice": choice.name, **dataclasses.asdict(params),
                                          "why": why}
    return params


def plan(thread_counts, dtypes=("float64",)):
    """What C-ordered X of every size class would get here, and why: recorded with a run.

    {"mode", "machine_id", "cpu", "caches", "wisdom_path", "keys": {key:
    {"choice", "source", "why"}}, "F": {...}}; tile widths are in L2s (examples
    depend on n_x); "F": {size class: {"choice", "why"}} for F-ordered X (derived, never tuned).
    """
    how = mode()
    record = tuning_record()
    wisdom = {} if how == "off" else load_wisdom()
    keys = {}
    for dtype in dtypes:
        for threads in thread_counts:
            for cls in ("L1", "L2", "L3", "DRAM"):
                k = f"C/{cls}/{int(threads)}/{dtype}"
                choice, why = default_choice("C", cls)
                source = "default"
                if k in wisdom:
                    choice, source = _valid(wisdom[k]), "wisdom"
                    why = f"fastest timed on this machine ({wisdom[k].get('tuned_at')})"
                keys[k] = {"choice": choice.name, "source": source, "why": why}
    record.pop("choices")
    columns = {}
    for cls in ("L1", "L2", "L3", "DRAM"):
        choice, why = default_choice("F", cls)
        columns[cls] = {"choice": choice.name, "why": why}
    return {**record, "mode": how, "keys": keys, "F": columns}


def tuning_record():
    """What the fused kernel chose in this process and why, with the machine it was for."""
    facts = cpu_facts()
    try:
        how, path = _state["mode"] or mode(), str(wisdom_path())
    except ValueError as exc:
        how, path = f"invalid ({exc})", None
    return {"mode": how, "wisdom_path": path, "machine_id": machine_id(facts),
            "cpu": facts["cpu"], "caches": _caches(facts),
            "choices": dict(_state["record"])}


def representative_shape(cls, threads, itemsize=8, facts=None):
    """(n_x, m) of a C-ordered X that ``cls`` holds at ``threads``: what ``lrperf tune`` times.

    Sizes from the caches: half of L1/L2 per thread, half the last level, 4x
    the last level for memory; up to 4096 rows with at least 64 examples a
    thread.  None when the class does not exist here (e.g. no L3).
    """
    facts = cpu_facts() if facts is None else facts
    caches = _caches(facts)
    llc = max(caches.values(), default=8 << 20)
    target = {"L1": caches.get("L1d", 0) * threads // 2, "L2": caches.get("L2", 0) * threads // 2,
              "L3": caches.get("L3", 0) // 2, "DRAM": 4 * llc}[cls]
    if target <= 0:
        return None
    n_x = max(8, min(4096, target // (itemsize * 64 * threads)) // 8 * 8)
    m = max(1, target // (itemsize * n_x))
    if size_class(n_x * m * itemsize, threads, facts) != cls:
        return None
    return n_x, m


def tune_here(cls, threads, dtype="float64", *, progress=None, **timing):
    """Tune the C-order key (cls, threads, dtype) on this machine and save the winner.

    Returns (key, (n_x, m), entry) or None when the class does not exist here.
    """
    import numba as nb
    import numpy as np

    from .datasets import synthetic
    from .strategies.numba_fused import run_params

    itemsize = np.dtype(dtype).itemsize
    shape = representative_shape(cls, threads, itemsize)
    if shape is None:
        return None
    X, Y = synthetic(*shape, order="C", dtype=dtype, seed=0)
    Y = np.ascontiguousarray(Y.reshape(-1), dtype=X.dtype)
    w = np.full(shape[0], 1.0 / shape[0], dtype=X.dtype)
    k = key("C", X.nbytes, threads, np.dtype(dtype).name)
    with measure.threads(threads):
        entry = tune("C", cls, lambda p: run_params(w, 0.0, X, Y, p, nb.get_num_threads()),
                     shape[0], itemsize, progress=progress, **timing)
    save_wisdom({k: entry})
    return k, shape, entry

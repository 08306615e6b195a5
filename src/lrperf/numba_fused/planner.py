"""How numba_fused runs a call on this machine: one key function, candidates, a bounded planner.

Each call is filed under one key (``key``): what it is (``step``: one
propagate; ``descent``: optimize/model), the layout, n_x and m each rounded
down to a power of two, the threads and the dtype.  A choice timed at one
shape is carried only to shapes of the same classes, never to one twice as
tall or wide, where the caches hold something else.

What a key gets:

* wisdom: the fastest of its candidates (``candidates``) timed on this
  machine and kept in the wisdom file (``wisdom``), as FFTW plans;
* else the default (``default_choice``): the choice never much slower than
  numpy on any CPU measured so far, not cache arithmetic: in C order the two
  streaming passes over whole rows for a step (tiles sized from the caches
  lost 2-3x on Zen 3 and Skylake-SP), the descent fused across steps for
  optimize; in F order groups of examples sized from the L2, pairs for short
  columns.

Planning (``tune``) is bounded: at most ``len(candidates)`` (<= 4) candidates,
each called once untimed (JIT compilation; recorded apart), once to size the
samples and ``PLAN_ROUNDS`` (3) times timed, so a key costs at most 20 steps
of X; a step under 2 ms is repeated to 2 ms samples in 7 rounds (at most
4 x 8 x 2 ms = 64 ms and 20 steps).  Its cost is measured and recorded (``tuning_record``,
``plan``).  It runs on the first optimize/model of a key with no wisdom, in
``plan_points`` (the study, before it times anything) and in ``lrperf tune``.

``LRPERF_TUNING``: unset or ``on``: wisdom, else plan on first use in
optimize/model (a propagate takes the default); ``auto``: a propagate plans
too; ``off``: the defaults only, nothing timed (reproducible runs; the test
suite).
"""
import dataclasses
import datetime
import math
import numbers
import os
import time

from .. import measure
from ..machine import cpu_facts
from . import wisdom as store
from .wisdom import PATH_ENV, TuningWarning, machine_id, wisdom_path  # noqa: F401

MODE_ENV = "LRPERF_TUNING"
MODES = {"": "on", "on": "on", "off": "off", "auto": "auto"}
KINDS = ("step", "descent")
# What each key may run; the first is the default where nothing is known.
VARIANTS = {
    ("step", "C"): ("rows", "tiles"),
    ("step", "F"): ("groups", "columns"),
    ("descent", "C"): ("descent", "descent-plain"),
    ("descent", "F"): ("groups", "columns"),
}
# Tile widths timed for a C-order step, in L2s (the tile is re-read from cache).
TILE_L2_CANDIDATES = (0.5, 1.0, 4.0)
# Timed calls per candidate (after one untimed one); the median is kept.
PLAN_ROUNDS = 3
# ... for steps shorter than MIN_SAMPLE_S: each sample repeats the step to that
# length, in SHORT_ROUNDS rounds (a few ms of a short step in all).
MIN_SAMPLE_S = 2e-3
SHORT_ROUNDS = 7
# A candidate replaces the default only when faster by this factor: a noisy,
# shared machine must not flip the choice on a 1% blip.
MARGIN = 1.05
_MIN_SEGMENT_BYTES, _MAX_TILE = 256, 1024
_MIN_AHEAD, _MAX_AHEAD = 4, 512
# F order: examples per group, widest first (4 measured 1.12x faster than 2
# at 4096 x 50000 on Skylake-SP); pipelined only for columns of at least this
# share of the L1d (Skylake-SP: pairs 1.09x faster at 3 KB columns).
COLUMN_GROUPS = (4, 2)
MIN_PIPELINED_COLUMN_L1 = 1 / 8
_PARAM_VARIANTS = ("rows", "tiles", "groups", "columns", "descent", "descent-plain")


@dataclasses.dataclass(frozen=True)
class Choice:
    """One way to run a key.  ``tile_l2``: a C-order tile in L2s; ``group``: F-order
    examples per group (0: from the caches)."""
    variant: str
    tile_l2: float = 1.0
    prefetch: float = 1.0   # multiple of the derived prefetch distance; 0: none
    group: int = 0

    @property
    def name(self):
        if self.variant == "tiles":
            return f"tiles {self.tile_l2:g} L2, prefetch x{self.prefetch:g}"
        if self.variant == "groups":
            return f"groups of {self.group}" if self.group else "groups (from the L2)"
        return self.variant


@dataclasses.dataclass(frozen=True)
class Params:
    """What a kernel is called with: loop, examples per tile, rows prefetched ahead,
    F-order examples per group.  Checked here, where a plan is made: every kernel
    loop that steps by ``tile`` or ``group`` advances."""
    variant: str
    tile: int
    ahead: int
    group: int = 2

    def __post_init__(self):
        if self.variant not in _PARAM_VARIANTS:
            raise ValueError(f"Params.variant must be one of {_PARAM_VARIANTS}, "
                             f"got {self.variant!r}")
        for name in ("tile", "ahead", "group"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"Params.{name} must be an int >= 0, got {value!r}")
        if self.variant == "tiles" and self.tile < 1:
            raise ValueError(f"Params.tile must be >= 1 for tiles, got {self.tile}")
        if self.variant == "groups" and self.group not in COLUMN_GROUPS:
            raise ValueError(f"Params.group must be one of {COLUMN_GROUPS}, got {self.group}")


def describe(choice):
    """A choice (Choice, Params or wisdom entry) in words, for the CLI and the report."""
    if isinstance(choice, Params):
        if choice.variant == "tiles":
            return f"tiles of {choice.tile} examples, prefetch {choice.ahead} rows ahead"
        if choice.variant == "groups":
            return f"pipelined groups of {choice.group} examples"
        return {"rows": "two passes over whole rows", "columns": "pairs of examples",
                "descent": "descent fused across steps (pipelined rows)",
                "descent-plain": "descent fused across steps"}[choice.variant]
    if isinstance(choice, dict):
        choice = entry_choice(choice)
        if choice is None:
            return "invalid entry"
    return choice.name


def _caches(facts):
    return store.caches(facts)


def _l2(facts):
    caches = _caches(facts)
    return caches.get("L2") or max(caches.values(), default=1 << 20)


def _l1(facts):
    return _caches(facts).get("L1d", 32 << 10)


def column_group(n_x, itemsize, facts=None):
    """Examples per F-order group from the caches: the widest whose two groups of
    columns, w and a dw row fit half of one core's L2."""
    facts = cpu_facts() if facts is None else facts
    n_x = max(int(n_x), 1)
    for group in COLUMN_GROUPS:
        if (2 * group * itemsize + 2 * 8) * n_x <= _l2(facts) // 2:
            return group
    return COLUMN_GROUPS[-1]


def resolve(choice, n_x, itemsize, facts=None):
    """The kernel's Params for ``choice`` at ``n_x`` rows of ``itemsize`` bytes."""
    facts = cpu_facts() if facts is None else facts
    if choice.variant == "groups":
        if choice.group:
            return Params("groups", 0, 0, choice.group)
        if max(int(n_x), 1) * itemsize < _l1(facts) * MIN_PIPELINED_COLUMN_L1:
            return Params("columns", 0, 0, 2)
        return Params("groups", 0, 0, column_group(n_x, itemsize, facts))
    if choice.variant == "columns":
        return Params("columns", 0, 0, 2)
    if choice.variant != "tiles":
        return Params(choice.variant, 0, 0)
    per_example = max(int(n_x), 1) * itemsize
    tile = int(choice.tile_l2 * _l2(facts) // per_example) // 8 * 8
    tile = min(max(tile, _MIN_SEGMENT_BYTES // itemsize), _MAX_TILE)
    # Rows ahead whose tile segments fill half the L1: far enough to arrive in
    # time, near enough to be still there when read.
    ahead = _l1(facts) // 2 // (tile * itemsize)
    ahead = min(max(int(ahead * choice.prefetch), _MIN_AHEAD), _MAX_AHEAD) if choice.prefetch else 0
    return Params("tiles", tile, ahead)


def size_class(n):
    """n rounded down to a power of two (1 for n < 1)."""
    n = int(n)
    return 1 << (n.bit_length() - 1) if n >= 1 else 1


def key(kind, layout, n_x, m, threads, dtype):
    """"descent/C/4096x32768/2/float64": the wisdom key of one call."""
    return f"{kind}/{layout}/{size_class(n_x)}x{size_class(m)}/{int(threads)}/{dtype}"


def default_choice(kind, layout):
    """(Choice, why) where nothing was timed."""
    if layout == "F":
        return Choice("groups"), ("F order: groups of examples, the dot of the next group in "
                                  "the same loop as the dw update of this one, as wide as the "
                                  "L2 holds; pairs for columns under "
                                  f"{MIN_PIPELINED_COLUMN_L1:g} L1d")
    if kind == "descent":
        return Choice("descent"), ("C order, gradient descent: each group of rows gives its "
                                   "dw, updates its w and adds its share of the next step's "
                                   "z while in cache: T steps read X T + 1 times")
    return Choice("rows"), ("C order: two streaming passes over whole rows, never much slower "
                            "than numpy on any CPU measured (tiles from cache sizes lost 2-3x "
                            "on Zen 3 and Skylake-SP)")


def candidates(kind, layout):
    """The Choices a key's plan times, the default first."""
    if (kind, layout) == ("step", "C"):
        return [Choice("rows")] + [Choice("tiles", t) for t in TILE_L2_CANDIDATES]
    if layout == "F":
        return [Choice("groups")] + [Choice("groups", group=g) for g in COLUMN_GROUPS] + [
            Choice("columns")]
    return [Choice("descent"), Choice("descent-plain")]


def _real(value, lo, hi):
    return (not isinstance(value, bool) and isinstance(value, numbers.Real)
            and math.isfinite(value) and lo <= value <= hi)


def entry_choice(entry, k=None):
    """The Choice of a wisdom entry, or None when it is not one for key ``k``:
    a variant of the key's kind and layout, fields of the right type and range."""
    if not isinstance(entry, dict):
        return None
    variant = entry.get("variant")
    tile_l2, prefetch, group = (entry.get("tile_l2", 1.0), entry.get("prefetch", 1.0),
                                entry.get("group", 0))
    allowed = _PARAM_VARIANTS
    if k is not None:
        parts = k.split("/") if isinstance(k, str) else []
        allowed = VARIANTS.get(tuple(parts[:2]), ()) if len(parts) == 5 else ()
    if not (isinstance(variant, str) and variant in allowed):
        return None
    if not (_real(tile_l2, 1e-3, 1e3) and _real(prefetch, 0, 1e3)):
        return None
    if isinstance(group, bool) or not isinstance(group, int) or group not in (0, *COLUMN_GROUPS):
        return None
    return Choice(variant, float(tile_l2), float(prefetch), int(group))


def mode(environ=None):
    environ = os.environ if environ is None else environ
    raw = environ.get(MODE_ENV, "")
    try:
        return MODES[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"{MODE_ENV} must be one of on, off, auto (or unset), got {raw!r}") \
            from None


def load_wisdom(path=None, facts=None):
    """{key: entry} of this machine's wisdom whose entries fit their keys; each
    one that does not is ignored with a warning."""
    good = {}
    for k, entry in store.load_entries(path, facts).items():
        if entry_choice(entry, k) is None:
            store.warn(f"ignoring the wisdom entry {str(k)[:80]!r}: not a valid choice for "
                       "its key (variant of another layout or kind, or a field of the wrong "
                       "type or range)")
        else:
            good[k] = entry
    return good


def save_wisdom(new_entries, path=None, facts=None):
    path = store.save_entries(new_entries, path, facts)
    _state["wisdom"] = None
    _state["resolved"] = {}
    return path


# Per-process state: wisdom read once; each call shape resolved once, so the
# hot path is one dict lookup.
_state = {"wisdom": None, "resolved": {}, "record": {}, "mode": None, "plan_s": 0.0}


def reset():
    """Forget what this process read and chose (after the wisdom file or LRPERF_TUNING changed)."""
    _state.update(mode=None, wisdom=None, resolved={}, record={}, plan_s=0.0)


def current_mode():
    if _state["mode"] is None:
        _state["mode"] = mode()
    return _state["mode"]


def _wisdom():
    if _state["wisdom"] is None:
        _state["wisdom"] = load_wisdom()
    return _state["wisdom"]


def median_times(calls, rounds=PLAN_ROUNDS):
    """{name: median seconds per call} of ``calls`` side by side (each already called
    once by ``tune``): ``rounds`` rounds (all candidates share Numba's pool: no
    pause between them).  A step shorter than ``MIN_SAMPLE_S`` is repeated within
    one sample, and such short steps get ``SHORT_ROUNDS``: a few milliseconds in
    all, where single calls would be noise."""
    reps = {}
    for name, fn in calls.items():
        t = measure.timed(fn)
        reps[name] = max(1, min(1000, math.ceil(MIN_SAMPLE_S / max(t, 1e-7))))
    if max(reps.values()) > 1:
        rounds = SHORT_ROUNDS

    def repeated(fn, n):
        def run():
            for _ in range(n):
                fn()
        return run
    timed = {name: repeated(fn, reps[name]) for name, fn in calls.items()}
    times = measure.interleaved(timed, rounds=rounds, per_round=1, gap=0, warmup=False)
    return {name: measure.median(t) / reps[name] for name, t in times.items()}


def tune(kind, layout, run, n_x, itemsize, *, facts=None, timer=None, progress=None):
    """Time a key's candidates with ``run(Params)``; returns the wisdom entry.

    ``timer({name: fn}) -> {name: seconds}`` (``median_times`` by default;
    tests inject timings).  Candidates that give the same kernel arguments
    are timed once.  The fastest must beat the default by ``MARGIN``, else the
    default stays.  The entry records every time and the plan's own cost."""
    facts = cpu_facts() if facts is None else facts
    timer = median_times if timer is None else timer
    distinct = {}
    for c in candidates(kind, layout):
        distinct.setdefault(resolve(c, n_x, itemsize, facts), c)
    calls = {c.name: (lambda p=p: run(p)) for p, c in distinct.items()}
    # One untimed call each first: JIT compilation (or a load from Numba's
    # cache) is not the plan's cost; it is recorded on its own.
    t0 = time.perf_counter()
    for fn in calls.values():
        fn()
    t1 = time.perf_counter()
    times = timer(calls)
    cost = time.perf_counter() - t1
    if progress:
        for name, seconds in times.items():
            progress(name, seconds)
    by_name = {c.name: c for c in distinct.values()}
    default = distinct[resolve(default_choice(kind, layout)[0], n_x, itemsize, facts)].name
    best = min(times, key=times.get)
    if times[best] * MARGIN > times[default]:
        best = default
    c = by_name[best]
    return {"variant": c.variant, "tile_l2": c.tile_l2, "prefetch": c.prefetch, "group": c.group,
            "times_s": times, "default": default, "n_x": int(n_x), "plan_s": cost,
            "first_calls_s": t1 - t0,
            "tuned_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def choose(kind, layout, X, threads, run=None, *, plan=False):
    """The kernel's Params for this call (memoized per shape: the hot path).

    ``run(Params)`` times one candidate on this call's data; it is used when
    the key has no wisdom and ``plan`` is true (optimize/model) or
    LRPERF_TUNING=auto."""
    memo = (kind, layout, X.shape, threads, X.dtype)
    found = _state["resolved"].get(memo)
    if found is not None:
        return found
    how = current_mode()
    n_x, m = X.shape
    facts = cpu_facts()
    k = key(kind, layout, n_x, m, threads, X.dtype.name)
    choice, why = default_choice(kind, layout)
    source, entry = "default", None
    if how == "off":
        why = f"{MODE_ENV}=off: " + why
    else:
        entry = _wisdom().get(k)
        if entry is None and run is not None and (plan or how == "auto"):
            entry = tune(kind, layout, run, n_x, X.dtype.itemsize, facts=facts)
            _state["plan_s"] += entry["plan_s"]
            try:
                save_wisdom({k: entry}, facts=facts)
            except OSError as exc:  # a read-only or refused file must not fail the step
                store.warn(f"could not save tuning wisdom to {wisdom_path()}: {exc}")
            _state["wisdom"] = {**_wisdom(), k: entry}
            source = "planned"
        elif entry is not None:
            source = "wisdom"
        if entry is not None:
            choice = entry_choice(entry, k)
            why = (f"fastest of {len(entry.get('times_s') or {})} candidates timed on this "
                   f"machine at n_x={entry.get('n_x')} ({entry.get('tuned_at', '?')})")
    params = resolve(choice, n_x, X.dtype.itemsize, facts)
    _state["resolved"][memo] = params
    _state["record"][f"{k}/n_x={n_x}"] = {"key": k, "n_x": n_x, "source": source,
                                          "choice": choice.name, "kernel": describe(params),
                                          **dataclasses.asdict(params), "why": why}
    return params


def tuning_record():
    """What numba_fused chose in this process and why, the machine, and what planning cost."""
    facts = cpu_facts()
    try:
        how, path = _state["mode"] or mode(), str(wisdom_path())
    except ValueError as exc:
        how, path = f"invalid ({exc})", None
    return {"mode": how, "wisdom_path": path, "machine_id": machine_id(facts),
            "cpu": facts["cpu"], "caches": _caches(facts), "plan_s": _state["plan_s"],
            "choices": dict(_state["record"])}


def plan(thread_counts=None, dtypes=None):
    """What the report says of numba_fused here: the mode, every key in the wisdom
    with its choice, the defaults, and what planning cost this process.

    (``thread_counts`` and ``dtypes`` are accepted for the callers' sake; keys
    are per shape class now, so the wisdom's own keys are listed.)"""
    how = mode()
    record = tuning_record()
    record.pop("choices")
    wisdom = {} if how == "off" else load_wisdom()
    keys = {k: {"choice": describe(e), "source": "wisdom", "plan_s": e.get("plan_s"),
                "why": f"fastest timed on this machine ({e.get('tuned_at')})"}
            for k, e in sorted(wisdom.items())}
    defaults = {f"{kind}/{layout}": {"choice": default_choice(kind, layout)[0].name,
                                     "why": default_choice(kind, layout)[1]}
                for kind in KINDS for layout in ("C", "F")}
    planned = [e.get("plan_s") for e in wisdom.values()]
    return {**record, "mode": how, "keys": keys, "defaults": defaults,
            "wisdom_plan_s": sum(p for p in planned if _real(p, 0, 1e9))}

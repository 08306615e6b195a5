"""JAX/XLA: the course's cost differentiated in reverse mode and compiled by XLA.

Nothing here derives the gradient by hand: the step is ``jax.value_and_grad``
of the summed cross-entropy with respect to (w, b), jitted.  The loss is the
stable form of ``lrperf.numerics`` (softplus of (1 - 2y) z, from z, never
log(a)), finite for every finite z, whose derivative (1 - 2y) sigmoid((1 - 2y) z)
is a - y (see ``total_loss`` for the one point where autodiff of the literal
formula is wrong).

jax is imported on first use only (``import lrperf`` must not pay for it or
need it), and float64 is switched on through JAX's x64 context around each
trace and call: the user's own JAX code keeps its global setting.

The host-to-XLA transfer of X is ``prepare``'s job, once per ``propagate`` or
``optimize`` call.  On the CPU, ``jax.device_put`` aliases a NumPy array that
is float64, C-contiguous and 64-byte aligned (no copy, no time) and copies
any other through XLA's own path, about 2 GB/s.  A Fortran-ordered X is
handed over as X.T, a C-ordered view of the same memory, and the step
contracts over the other axis.  An X that is not contiguous native float64
(float32, big-endian, a strided view) is converted by NumPy straight into a
64-byte aligned buffer, which XLA then aliases: one copy, not two.  A
contiguous float64 X at another address is left to XLA's copy (on a 2-core
Zen 5 VM 1.2 GB/s, faster than NumPy's copy into fresh memory, 0.4 GB/s,
whose page faults cost more there: scripts/bench_xla_transfer.py).

NumPy's own large arrays start 16 bytes into their pages, so they are not
64-byte aligned; ``np.require(X, requirements="CA")`` does not help ("A" is
the dtype's alignment).  To pay no transfer at all, allocate X aligned once
with ``aligned(X)`` (or ``aligned_empty``) and pass that to every call.

Compilation happens on the first call for each shape and layout: ``warm_up``
triggers it, so timings can leave it out, and ``hlo_summary`` says what XLA
compiled (how many dots read X, what it fused).
"""
import collections
import functools
import os
import re
from dataclasses import dataclass

import numpy as np


def _jax():
    import jax

    return jax


def x64():
    """A context in which JAX computes in float64; the global setting is left alone."""
    jax = _jax()
    state = getattr(jax, "enable_x64", None)
    if state is not None:          # jax >= 0.6: a config state, callable as a context
        return state(True)
    from jax.experimental import enable_x64  # older jax
    return enable_x64()


@dataclass(frozen=True)
class OnDevice:
    """X on XLA's device: ``data`` is X (n_x, m), or X.T (m, n_x) when ``transposed``."""
    data: object
    transposed: bool

    @property
    def shape(self):
        return self.data.shape[::-1] if self.transposed else self.data.shape

    @property
    def nbytes(self):
        return self.data.nbytes


def total_loss(w, b, X, Y, transposed=False):
    """Sum over examples of the cross-entropy, in JAX (``transposed``: X is given as X.T)."""
    jnp = _jax().numpy
    z = (X @ w if transposed else w @ X) + b
    t = (1.0 - 2.0 * Y) * z
    # logaddexp(0, t) is numerics' max(t, 0) + log1p(exp(-|t|)), with a
    # derivative defined by JAX for the function, not the program: autodiff of
    # the max/abs form gives 1/2 - 1/2 = 0 at t = 0 (d|t|/dt is taken as 1
    # there), so every example with z = 0 (w = 0, b = 0: the course's start)
    # had dZ = 0 instead of a - y = +-1/2.
    return jnp.sum(jnp.logaddexp(0.0, t))


def _step(w, b, X, Y, transposed):
    jax = _jax()
    m = Y.shape[0]
    # The sum, not the mean, is differentiated and the results divided by m:
    # dw is then X dZ^T / m as every other strategy forms it (the mean's 1/m
    # would scale dZ before the dot), so a sum that overflows does so here too
    # and the api names the same product.
    total, (gw, gb) = jax.value_and_grad(total_loss, argnums=(0, 1))(w, b, X, Y, transposed)
    return gw / m, gb / m, total / m


@functools.lru_cache(maxsize=None)
def jitted():
    """The jitted step (w, b, X, Y, transposed) -> (dw, db, cost) as device arrays."""
    jax = _jax()
    return jax.jit(_step, static_argnums=4)


ALIGNMENT = 64  # bytes: what XLA's CPU client needs to alias a host buffer


def is_aliasable(X):
    """Whether ``jax.device_put`` can use X's memory as it is (no copy)."""
    return (X.dtype == np.float64 and X.dtype.isnative and X.flags.c_contiguous
            and X.ctypes.data % ALIGNMENT == 0)


def aligned_empty(shape, order="C"):
    """An uninitialised float64 array of ``shape`` at a 64-byte aligned address."""
    n = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(n * 8 + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    flat = raw[start:start + n * 8].view(np.float64)
    return flat.reshape(shape, order=order)


def aligned(X):
    """X as float64 in a 64-byte aligned buffer of X's own layout (F stays F), so
    every later jax_xla call on it aliases X instead of copying it; X itself
    when it already is.  Call it once, not per call."""
    X = np.asarray(X)
    order = "F" if X.flags.f_contiguous and not X.flags.c_contiguous else "C"
    host = X.T if order == "F" else X
    if is_aliasable(host):
        return X
    out = aligned_empty(X.shape, order)
    np.copyto(out, X)
    return out


def prepare(X, Y):
    """X and Y moved to XLA's device once per api call (see the module's note)."""
    jax = _jax()
    transposed = X.flags.f_contiguous and not X.flags.c_contiguous
    host = X.T if transposed else X  # C-ordered view of the same memory when F
    if not (host.dtype == np.float64 and host.dtype.isnative and host.flags.c_contiguous):
        # One conversion straight into memory XLA can alias; astype, then
        # device_put, would copy twice.
        copy = aligned_empty(host.shape)
        np.copyto(copy, host)
        host = copy
    with x64():
        data = jax.device_put(host)
        Yd = jax.device_put(np.asarray(Y, dtype=np.float64))
    return OnDevice(data, transposed), Yd


def step(w, b, X, Y):
    """One step on prepared arrays; waits for XLA and returns host values."""
    jax = _jax()
    with x64():
        dw, db, cost = jax.device_get(jitted()(w, b, X.data, Y, X.transposed))
    return np.array(dw, dtype=np.float64), float(db), float(cost)


def warm_up(n_x, m, transposed=False):
    """Compile the step for this shape and layout now (JAX caches it for the process)."""
    X = np.zeros((m, n_x) if transposed else (n_x, m), order="C")
    X = X.T if transposed else X
    step(np.zeros(n_x), 0.0, *prepare(X, np.zeros(m)))


def compiled_text(n_x, m, transposed=False):
    """The optimized HLO XLA compiled for one step of this shape and layout."""
    jax = _jax()
    jnp = jax.numpy
    spec = jax.ShapeDtypeStruct
    with x64():
        shape = (m, n_x) if transposed else (n_x, m)
        lowered = jitted().lower(spec((n_x,), jnp.float64), spec((), jnp.float64),
                                 spec(shape, jnp.float64), spec((m,), jnp.float64), transposed)
        return lowered.compile().as_text()


# "%name = type opcode(operands), attributes" with type possibly a tuple.
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%(?P<name>[\w.-]+)\s*=\s*.*?\s"
                          r"(?P<op>[a-z][\w-]*)\((?P<args>[^)]*)\)(?P<rest>.*)$")
_COMPUTATION = re.compile(r"^(?P<entry>ENTRY\s+)?%(?P<name>[\w.-]+)\s.*\{\s*$")


def _computations(text):
    """{name: [(instruction, opcode, operand names, raw operands, attributes)]};
    the entry computation is named '__entry__'."""
    found, current = {}, None
    for line in text.splitlines():
        head = _COMPUTATION.match(line)
        if head:
            current = "__entry__" if head["entry"] else head["name"]
            found[current] = []
            continue
        if line.strip() == "}":
            current = None
            continue
        inst = _INSTRUCTION.match(line) if current is not None else None
        if inst:
            operands = re.findall(r"%([\w.-]+)", inst["args"])
            found[current].append((inst["name"], inst["op"], operands,
                                   inst["args"].strip(), inst["rest"]))
    return found


def summarize_hlo(text):
    """What an optimized HLO module does, from its text.

    Returns {"dots": dot instructions anywhere, "x_reads": the entry's
    instructions that take X (the step's parameter 2) as an operand, with
    their opcodes, "fusions": [{"name", "kind", "ops": {opcode: count}}] of
    the entry, "entry_ops": {opcode: count} of the entry}.
    """
    comps = _computations(text)
    entry = comps.get("__entry__", [])
    # X is the step's third array argument: parameter(2) of the entry.
    x_params = {name for name, op, _, args, _ in entry if op == "parameter" and args == "2"}
    fusions = []
    for name, op, _, _, rest in entry:
        if op != "fusion":
            continue
        kind = re.search(r"kind=(\w+)", rest)
        called = re.search(r"calls=%([\w.-]+)", rest)
        body = comps.get(called[1], []) if called else []
        ops = collections.Counter(inst[1] for inst in body if inst[1] != "parameter")
        fusions.append({"name": name, "kind": kind[1] if kind else None, "ops": dict(ops)})
    dots = sum(inst[1] in ("dot", "convolution") for body in comps.values() for inst in body)
    x_reads = [{"name": inst[0], "op": inst[1]} for inst in entry
               if x_params.intersection(inst[2])]
    return {
        "dots": dots,
        "x_reads": x_reads,
        "fusions": fusions,
        "entry_ops": dict(collections.Counter(inst[1] for inst in entry)),
    }


def hlo_summary(n_x, m, transposed=False):
    """``summarize_hlo`` of the step XLA compiles for this shape and layout."""
    summary = summarize_hlo(compiled_text(n_x, m, transposed))
    summary.update(n_x=n_x, m=m, layout="F" if transposed else "C")
    return summary


def pool_cores():
    """Cores XLA's CPU thread pool spreads over in this process: those the
    process may run on.  The pool is sized when JAX starts and cannot be
    resized, so fewer threads need another process (see scripts/bench_jax.py)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def unavailable_reason():
    """Why this strategy cannot run here, or None; does not import jax."""
    import importlib.util

    missing = [name for name in ("jax", "jaxlib") if importlib.util.find_spec(name) is None]
    if missing:
        return f"needs {' and '.join(missing)}: pip install 'lrperf[jax]'"
    return None


__all__ = ["prepare", "aligned", "aligned_empty", "is_aliasable", "ALIGNMENT", "step",
           "warm_up", "pool_cores", "hlo_summary", "summarize_hlo", "compiled_text", "total_loss", "jitted", "x64", "OnDevice", "unavailable_reason"]


"""The strategy registry: typed records, registered explicitly.

As opt_einsum does for its contraction paths, the registry is a plain dict
filled by explicit ``register`` calls in ``lrperf/strategies/__init__.py``:
a reader can follow ``api.propagate`` -> ``STRATEGIES[name].step`` -> the
module, and nothing depends on module or function names.

A strategy whose library is missing (JAX, CUDA) is still registered, with
``unavailable`` saying why: it is listed, refused with that reason when
called, and skipped by the tests and the suite.
"""
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Optional, Tuple

import numpy as np

Step = Callable[..., tuple]          # step(w, b, X, Y) -> (dw, db, cost)
Prepare = Callable[..., tuple]       # prepare(X, Y) -> (X', Y') in the step's form
# descend(w, b, X, Y, iterations, lr, on_step) -> (w, b, dw, db)
Descend = Callable[..., tuple]


def native_layout(X, dtypes):
    """X as it is if it is in the machine's byte order and aligned, else one copy
    that is (in ``dtypes`` if X's dtype is there, else float64, keeping X's
    memory order).  Compiled and memoryview readers (Numba, python_loops) take
    only native aligned data; converting here, once per call, gives every
    strategy the same values, and a native aligned X is never copied."""
    if not isinstance(X, np.ndarray) or (X.dtype.isnative and X.flags.aligned):
        return X
    target = X.dtype.name if X.dtype.name in dtypes else "float64"
    return X.astype(np.dtype(target), order="K")


def to_native(X, Y, dtypes):
    """The default ``prepare``: X as it is if its dtype is read natively, else one
    float64 copy per call; Y as a float64 vector (m values: never the cost)."""
    if X.dtype.name not in dtypes:
        X = X.astype(np.float64)
    if Y.dtype != np.float64:
        Y = Y.astype(np.float64)
    return X, Y


@dataclass(frozen=True)
class Strategy:
    """One way of computing the gradient step.

    step:        f(w, b, X, Y) -> (dw, db, cost) on prepared arrays: w (n_x,)
                 float64, b float, X and Y as ``prepare`` returned them.
    order:       place in listings (slow to fast).
    parallel:    uses several threads (Numba prange, a BLAS pool...).
    dtypes:      the dtypes of X it reads without a copy; any other X gets one
                 float64 copy per call (``prepare``).
    accumulates: dtype of X -> dtype its sums are accumulated in.
    device:      "cpu" or "gpu": where the step runs and where X must live.
    prepare:     (X, Y) -> (X', Y'), once per ``propagate``/``optimize`` call:
                 the dtype conversion today, a device transfer for a GPU.
                 ``prepared`` gives it X in native byte order and aligned.
    passes:      times one step reads X from memory (numpy: ``w @ X`` then
                 ``X @ dZ``, 2): the bytes a bandwidth or a share counts.
    unavailable: why it cannot run here (a missing library), or None.

    Traits the suite, the scripts and the report read instead of names:

    module:      where the strategy's code lives (``lrperf strategies`` shows it).
    fixed_pool:  None if its threads follow ``measure.threads``; else a
                 function giving the cores its thread pool spreads over, a
                 number fixed when its library starts (XLA): other thread
                 counts need another process.
    compiles_per_shape: its first call at each new shape of X compiles (XLA),
                 so a timing at a new shape calls it once first.
    peer:        the strategy it is set beside in findings (the one it
                 competes with or is the twin of), or None.
    descend:     optional whole gradient descent on prepared arrays, for a
                 strategy that does better than one ``step`` per iteration
                 (numba_fused reads C-ordered X once per step across steps);
                 calls ``on_step(i, dw, db, cost, w, b)`` after each step, with
                 (w, b) before their update (i is None for the gradient of 0 iterations).
    chunked:     X may also be a chunked array (a Dask collection): the api checks
                 its shape and dtype from its metadata, never reads its data, and
                 ``prepare`` places it (a cluster's workers).
    imports:     modules its first call imports, safe to import before a fork
                 (no thread, no backend started): the suite imports them once
                 before asv forks its point processes (jax: about 1.4 s each).
    """
    name: str
    step: Optional[Step]
    description: str
    order: int
    parallel: bool = False
    dtypes: Tuple[str, ...] = ("float64",)
    accumulates: Mapping[str, str] = field(default_factory=dict)
    device: str = "cpu"
    prepare: Optional[Prepare] = None
    passes: int = 1
    unavailable: Optional[str] = None
    module: str = ""
    fixed_pool: Optional[Callable[[], int]] = None
    compiles_per_shape: bool = False
    peer: Optional[str] = None
    descend: Optional[Descend] = None
    chunked: bool = False
    imports: Tuple[str, ...] = ()

    @property
    def available(self):
        return self.unavailable is None

    def accumulation(self, dtype):
        """The dtype this strategy's sums use for X of ``dtype``."""
        dtype = np.dtype(dtype).name
        native = dtype if dtype in self.dtypes else "float64"
        return self.accumulates.get(native, "float64")

    def prepared(self, X, Y):
        X = native_layout(X, self.dtypes)
        if self.prepare is not None:
            return self.prepare(X, Y)
        return to_native(X, Y, self.dtypes)


STRATEGIES: "dict[str, Strategy]" = {}


def register(strategy):
    """Add ``strategy``; a second one of the same name is refused."""
    if not isinstance(strategy, Strategy):
        raise TypeError(f"register needs a Strategy record, got {type(strategy).__name__}")
    if strategy.name in STRATEGIES:
        raise ValueError(f"strategy {strategy.name!r} is already registered")
    if strategy.device not in ("cpu", "gpu"):
        raise ValueError(f"device must be 'cpu' or 'gpu', got {strategy.device!r}")
    if not strategy.module and strategy.step is not None:
        strategy = replace(strategy, module=getattr(strategy.step, "__module__", None) or "")
    STRATEGIES[strategy.name] = strategy
    ordered = sorted(STRATEGIES.values(), key=lambda s: (s.order, s.name))
    STRATEGIES.clear()
    STRATEGIES.update((s.name, s) for s in ordered)
    return strategy


def available():
    """Names of the strategies that can run here, in listing order."""
    return [name for name, s in STRATEGIES.items() if s.available]


def get_strategy(name):
    """The record registered as ``name``; errors list the valid names."""
    if not isinstance(name, str):
        raise TypeError(
            f"strategy must be a str naming one of {list(STRATEGIES)}, "
            f"got {type(name).__name__} {name!r}"
        )
    try:
        strategy = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {name!r}") from None
    if not strategy.available:
        raise ValueError(f"strategy {name!r} is unavailable here: {strategy.unavailable} "
                         f"(available: {available()})")
    return strategy

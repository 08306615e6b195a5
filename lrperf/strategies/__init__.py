"""Registry of gradient-step strategies.

Every module in this package is one strategy: it defines a function with the
module's own name, ``f(w, b, X, Y) -> (dw, db, cost)`` on validated arrays
(w: (n_x,) float64, b: float, X: (n_x, m) float64 in any layout, Y: (m,)
float64 of 0/1), plus ``RANK`` (order in listings, slow to fast) and a
one-line ``DESCRIPTION``.  Adding a strategy is adding a module.
"""
import importlib
import pkgutil


def _discover():
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append((module.RANK, info.name, module))
    found.sort()
    return {name: getattr(module, name) for _, name, module in found}, {
        name: module.DESCRIPTION for _, name, module in found
    }


STRATEGIES, DESCRIPTIONS = _discover()


def get_strategy(name):
    """The step function registered as ``name``; the error lists valid names."""
    if not isinstance(name, str):
        raise TypeError(
            f"strategy must be a str naming one of {sorted(STRATEGIES)}, "
            f"got {type(name).__name__} {name!r}"
        )
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"strategy must be one of {list(STRATEGIES)}, got {name!r}"
        ) from None

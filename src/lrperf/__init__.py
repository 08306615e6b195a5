"""lrperf: loop strategies for one logistic-regression gradient step, compared honestly.

The public names load on first use (PEP 562): ``import lrperf.cli`` must not
import NumPy, Numba or the strategies, so that the ``lrperf`` command can
handle Ctrl-C, SIGTERM and a bad environment before those imports start.
Reading any of them fills the strategy registry first.
"""
import importlib

_PUBLIC = {"propagate": "api", "optimize": "api", "predict": "api", "model": "api",
           "STRATEGIES": "registry", "Strategy": "registry", "available": "registry",
           "get_strategy": "registry"}

__all__ = list(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name):
    if name not in _PUBLIC:
        # A submodule, as `import lrperf` used to load them all (lrperf.api...).
        try:
            return importlib.import_module("." + name, __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'lrperf' has no attribute {name!r}") from None
    importlib.import_module(".strategies", __name__)  # fills the registry
    value = getattr(importlib.import_module("." + _PUBLIC[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))

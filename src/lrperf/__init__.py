"""lrperf: loop strategies for one logistic-regression gradient step, compared honestly."""
from . import strategies as _strategies  # noqa: F401  (fills the registry)
from .api import model, optimize, predict, propagate
from .registry import STRATEGIES, Strategy, available, get_strategy

__all__ = ["propagate", "optimize", "predict", "model", "STRATEGIES", "Strategy", "available",
           "get_strategy"]
__version__ = "0.1.0"

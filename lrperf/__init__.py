"""lrperf: loop strategies for one logistic-regression gradient step, compared honestly."""
from .api import model, optimize, predict, propagate
from .strategies import DESCRIPTIONS, STRATEGIES, get_strategy

__all__ = ["propagate", "optimize", "predict", "model", "STRATEGIES", "DESCRIPTIONS",
           "get_strategy"]
__version__ = "0.1.0"

"""``lrperf strategies``: the registry, as a listing."""
from .. import STRATEGIES  # fills the registry

NAME = "strategies"
HELP = "list the registered strategies"
DESCRIPTION = ("List the registered strategies, slowest first, with the device each runs "
               "on, the dtypes of X it reads without a copy, the module that holds it, and "
               "why any is unavailable here.")


def add_arguments(parser):
    pass


def run(args):
    width = max(map(len, STRATEGIES))
    for name, s in STRATEGIES.items():
        where = f"[{s.device}, reads {'/'.join(s.dtypes)}]"
        note = f"  (unavailable: {s.unavailable})" if not s.available else ""
        print(f"{name:<{width}}  {s.description} {where} in {s.module}{note}")
    return 0

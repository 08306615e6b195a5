"""The ``lrperf`` command: the parser is built from ``COMMANDS``, one module per subcommand.

Each subcommand module names itself (``NAME``, ``HELP``, ``DESCRIPTION``),
adds its arguments (``add_arguments``) and runs (``run(args)`` -> exit
status).  Adding a subcommand: write its module, add its name to ``_MODULES``.

Start-up: importing this package loads nothing heavy.  ``main`` first puts
SIGTERM's handler in place, then, inside the one ``try`` that turns every
failure into one line and an exit status, checks the environment
(``lrperf.environment``) and only then imports the subcommands, and with them
NumPy, Numba and the strategies: Ctrl-C or SIGTERM during those imports, or a
bad NUMBA_NUM_THREADS or LRPERF_* variable, ends as any failure does.  Heavy
imports (pandas, matplotlib, asv) happen inside the subcommand that needs them.
"""
import argparse
import contextlib
import importlib
import os
import sys

from .. import environment, signals
from ..signals import Terminated, terminate as _terminate  # noqa: F401  (for callers)
from .status import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED  # noqa: F401

_MODULES = ("strategies", "train", "study", "report", "compare", "tune")

# Paths the user named that cannot be used: bad input, as a ValueError is.
_BAD_PATH = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
             FileExistsError)
_BAD_INPUT = (ValueError, TypeError, ImportError, FloatingPointError) + _BAD_PATH


def commands():
    """The subcommand modules, in the order ``lrperf --help`` lists them (imported here)."""
    return tuple(importlib.import_module(f".{name}", __name__) for name in _MODULES)


def __getattr__(name):
    # cli.COMMANDS and cli.<subcommand> load on first use, as the package's own names.
    if name == "COMMANDS":
        return commands()
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lrperf",
        description="Loop strategies for one logistic-regression gradient step, "
                    "proven equivalent and compared honestly.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands():
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.DESCRIPTION)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


def main(argv=None):
    """Run one subcommand; every failure ends with one line on stderr and an exit status.

    0 success; 1 a failure that is not the input's fault (a benchmark run that
    wrote nothing, a disk error); 2 bad input, a bad environment variable
    (argparse's own status too); 130 Ctrl-C; 143 SIGTERM (``lrperf.signals``),
    from the first line of this function on.  ``LRPERF_DEBUG=1`` shows the
    traceback instead.
    """
    restore = signals.install()
    try:
        run = _Run()
        return run.guarded(lambda: run.start(argv))
    finally:
        restore()


class _Run:
    """One command: its name and arguments once parsed, for its last line."""

    def __init__(self):
        self.name, self.args = "lrperf", None

    def start(self, argv):
        environment.check()
        parser = build_parser()  # imports the subcommands: NumPy, Numba, the strategies
        self.args = parser.parse_args(argv)
        self.name = f"lrperf {self.args.command}"
        code = self.args.func(self.args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code

    def note(self):
        return getattr(self.args, "interrupt_note", "")  # set while the command runs

    def guarded(self, body):
        try:
            return body()
        except KeyboardInterrupt as exc:  # Ctrl-C, and SIGTERM as signals.Terminated
            _say(self.name, signals.said(exc) + self.note())
            return signals.exit_status(exc)
        except BrokenPipeError:
            # The reader of our output went away (`lrperf ... | head`): nothing to say to it.
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_FAILED
        except Exception as exc:
            interrupt = _interrupt_behind(exc)
            if interrupt is not None:
                _say(self.name, signals.said(interrupt) + self.note())
                return signals.exit_status(interrupt)
            if os.environ.get("LRPERF_DEBUG", "") not in ("", "0"):
                raise
            _say(self.name, _failure(exc))
            return EXIT_BAD_INPUT if isinstance(exc, _BAD_INPUT) else EXIT_FAILED


def _interrupt_behind(exc):
    """The interrupt behind Numba's SystemError ("... with an exception set"), if any."""
    if not isinstance(exc, SystemError):
        return None
    from ..api import interrupt_behind  # loaded already: only a Numba call raises this
    return interrupt_behind(exc)


def _say(name, text):
    try:
        print(f"{name}: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr closed: the exit status still tells


def _failure(exc):
    """The one line a failure gets: an error the user can act on, or an internal one."""
    if isinstance(exc, (*_BAD_INPUT, RuntimeError, OSError)):
        return f"error: {exc}"
    return (f"internal error: {type(exc).__name__}: {exc} "
            "(LRPERF_DEBUG=1 shows the traceback)")

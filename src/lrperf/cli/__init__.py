"""The ``lrperf`` command: the parser is built from ``COMMANDS``, one module per subcommand.

Each subcommand module names itself (``NAME``, ``HELP``, ``DESCRIPTION``),
adds its arguments (``add_arguments``) and runs (``run(args)`` -> exit
status).  Heavy imports (pandas, matplotlib, asv) happen inside the
subcommand that needs them, so ``lrperf --help`` and ``lrperf strategies``
stay fast.  Adding a subcommand: write its module, add it to ``COMMANDS``.
"""
import argparse
import contextlib
import os
import signal
import sys
import threading

from ..api import interrupt_behind
from . import compare, report, strategies, study, train, tune
from .status import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED

COMMANDS = (strategies, train, study, report, compare, tune)


# Paths the user named that cannot be used: bad input, as a ValueError is.
_BAD_PATH = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
             FileExistsError)
_BAD_INPUT = (ValueError, TypeError, ImportError, FloatingPointError) + _BAD_PATH


def build_parser():
    parser = argparse.ArgumentParser(
        prog="lrperf",
        description="Loop strategies for one logistic-regression gradient step, "
                    "proven equivalent and compared honestly.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.DESCRIPTION)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that cleanups run as for Ctrl-C."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv=None):
    """Run one subcommand; every failure ends with one line on stderr and an exit status.

    0 success; 1 a failure that is not the input's fault (a benchmark run that
    wrote nothing, a disk error); 2 bad input (argparse's own status too);
    130 Ctrl-C; 143 SIGTERM.  ``LRPERF_DEBUG=1`` shows the traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    name = f"lrperf {args.command}"
    handler = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(args, name)
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


def _say(name, text):
    try:
        print(f"{name}: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr closed: the exit status still tells


def _run(args, name):
    debug = os.environ.get("LRPERF_DEBUG", "") not in ("", "0")
    note = lambda: getattr(args, "interrupt_note", "")  # noqa: E731: set while it runs
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except Terminated:
        _say(name, "terminated (SIGTERM)" + note())
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _say(name, "interrupted (Ctrl-C)" + note())
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`lrperf ... | head`): nothing to say to it.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:
        if isinstance(exc, SystemError) and interrupt_behind(exc) is not None:
            _say(name, "interrupted (Ctrl-C)" + note())
            return EXIT_INTERRUPTED
        if debug:
            raise
        _say(name, _failure(exc))
        return EXIT_BAD_INPUT if isinstance(exc, _BAD_INPUT) else EXIT_FAILED


def _failure(exc):
    """The one line a failure gets: an error the user can act on, or an internal one."""
    if isinstance(exc, (*_BAD_INPUT, RuntimeError, OSError)):
        return f"error: {exc}"
    return (f"internal error: {type(exc).__name__}: {exc} "
            "(LRPERF_DEBUG=1 shows the traceback)")

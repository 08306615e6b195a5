"""Which signal stopped the program, what to say, and the exit status: one place.

SIGTERM is raised as ``Terminated``, a KeyboardInterrupt, where the program
is, so that every cleanup written for Ctrl-C runs for it too; whoever ends a
command by an interrupt (the command line, or a command that saves what it
has first) asks ``exit_status`` and ``said`` for the status and the words, so
a SIGTERM is never reported as Ctrl-C.  The status is the shell's for a
process killed by that signal: 128 + its number, 130 for SIGINT, 143 for SIGTERM.

SIGINT keeps Python's own handler (KeyboardInterrupt), and stays ignored in a
process started with it ignored (a background job of a script).
"""
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that cleanups run as for Ctrl-C."""


_WORDS = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)"}


def terminate(signum, frame):
    """The SIGTERM handler."""
    raise Terminated()


def install():
    """Handle SIGTERM from here on (main thread only); returns a function that
    puts the previous handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, terminate)
    return lambda: signal.signal(signal.SIGTERM, previous)


def stopped_by(exc):
    """The signal behind the interrupt ``exc``: SIGTERM for Terminated, else SIGINT."""
    return signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT


def exit_status(exc):
    """The exit status for a command stopped by the interrupt ``exc``."""
    return 128 + int(stopped_by(exc))


def said(exc):
    """How the interrupt ``exc`` is named in the command's last line."""
    return _WORDS[stopped_by(exc)]

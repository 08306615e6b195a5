"""asv in a session of its own, ended whole on Ctrl-C or SIGTERM, so that no asv or
forkserver outlives lrperf."""
import contextlib
import os
import signal
import subprocess
import threading


def _session_members(sid):
    """Live processes of session ``sid``: asv and everything it started, whatever
    process group they moved to (asv puts each forkserver in a group of its own)."""
    import psutil
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid:
                members.append(proc)
        except (OSError, psutil.Error):  # gone meanwhile
            continue
    return members


def stop_session(proc, grace=3.0):
    """End ``proc`` (started with ``start_new_session``) and every process of its session.

    SIGTERM first, SIGKILL after ``grace`` seconds; repeated while the session
    still has members, so a child forked during the sweep is caught too.
    """
    import psutil
    sid = proc.pid
    for signum in (signal.SIGTERM, signal.SIGKILL, signal.SIGKILL):
        members = _session_members(sid)
        if not members:
            break
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.send_signal(signum)
        psutil.wait_procs(members, timeout=grace)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


@contextlib.contextmanager
def signals_ignored():
    """Ignore a second Ctrl-C or SIGTERM while the block runs: it must not cut the
    cleanup short.  (Blocking them with a signal mask would not do: the BLAS
    pool's threads would still take them.)  The first one is already on its way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {signum: signal.signal(signum, lambda *_: None)
           for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


def run_supervised(cmd, *, cwd, env, on_line):
    """Run ``cmd`` in a session of its own, passing each output line to ``on_line``;
    return its exit status.

    Its own session keeps the terminal's Ctrl-C from reaching asv half-way;
    on any exception here (KeyboardInterrupt, SIGTERM raised as one) the whole
    session is ended before the exception goes on.
    """
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            bufsize=1, start_new_session=True)
    try:
        for line in proc.stdout:
            on_line(line)
        return proc.wait()
    except BaseException:
        with signals_ignored():
            stop_session(proc)
        raise
    finally:
        proc.stdout.close()

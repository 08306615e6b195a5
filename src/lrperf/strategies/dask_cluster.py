"""Which Dask scheduler the ``dask`` strategy uses, and how long it waits.

In this order:

1. the caller's active ``distributed.Client`` (``Client("tcp://host:8786")``
   before calling lrperf), so a real cluster works unchanged;
2. else Dask's ``scheduler-address`` setting (``DASK_SCHEDULER_ADDRESS``),
   which lets ``lrperf train --strategy dask`` reach a cluster;
3. else a ``LocalCluster`` started on first use: one worker process per core,
   one thread each (every chunk's kernel runs single-threaded, so the workers
   add up to the cores and nothing is oversubscribed), closed at exit.

Every wait is bounded: a step by ``lrperf.step-timeout`` (Dask config,
seconds, default 600), start-up and connection by ``lrperf.start-timeout``
(default 120).  A lost scheduler or a timeout ends the call with one
``ClusterError`` line, never a hang.
"""
import atexit
import os
import threading

_OWN = {"client": None, "cluster": None}
_LOCK = threading.Lock()


class ClusterError(RuntimeError):
    """The cluster failed the call: scheduler lost, step timed out, workers gone."""


def unavailable_reason():
    """Why the dask strategy cannot run here, or None (found, not imported:
    importing distributed costs a second that ``import lrperf`` must not pay)."""
    from importlib.util import find_spec

    def absent(name):
        try:
            return find_spec(name) is None
        except (ImportError, ValueError):  # a module set to None in sys.modules
            return True

    missing = [name for name in ("dask", "distributed") if absent(name)]
    if missing:
        return (f"needs dask[array] and distributed (missing: {', '.join(missing)}): "
                "pip install 'lrperf[dask]'")
    return None


def _setting(name, default):
    import dask

    value = dask.config.get(f"lrperf.{name}", default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"dask config lrperf.{name} must be a number of seconds, "
                         f"got {value!r}") from None
    if not value > 0:
        raise ValueError(f"dask config lrperf.{name} must be > 0 seconds, got {value!r}")
    return value


def step_timeout():
    return _setting("step-timeout", 600)


def start_timeout():
    return _setting("start-timeout", 120)


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _running(client):
    return client is not None and client.status == "running"


def get_client():
    """The client this call uses (see the module docstring)."""
    import dask
    import distributed

    try:
        active = distributed.get_client()
    except ValueError:
        active = None
    if _running(active):
        return active
    with _LOCK:
        if _running(_OWN["client"]):
            return _OWN["client"]
        _close_own()
        address = dask.config.get("scheduler-address", None)
        try:
            if address:
                _OWN["client"] = distributed.Client(address, timeout=start_timeout(),
                                                    set_as_default=False)
            else:
                _start_local(distributed)
        except (OSError, TimeoutError) as exc:
            _close_own()
            where = f"the scheduler at {address}" if address else "a LocalCluster"
            raise ClusterError(f"could not start or reach {where} within "
                               f"{start_timeout():g} s: {exc}") from None
    return _OWN["client"]


def _start_local(distributed):
    n = cores()
    # Ports chosen by the OS (no clash with another cluster), the dashboard's
    # port either (the scheduler's HTTP server on a free port); one single-threaded worker per core.
    cluster = distributed.LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, scheduler_port=0,
        dashboard_address=":0", silence_logs=40)
    _OWN["cluster"] = cluster
    _OWN["client"] = distributed.Client(cluster, timeout=start_timeout(), set_as_default=False)
    _OWN["client"].wait_for_workers(n, timeout=start_timeout())


def own_cluster():
    """The LocalCluster this module started, or None."""
    return _OWN["cluster"]


def _close_own():
    client, cluster = _OWN["client"], _OWN["cluster"]
    _OWN["client"] = _OWN["cluster"] = None
    timeout = 10
    if client is not None:
        try:
            client.close(timeout=timeout)
        except Exception:  # closing at exit: a dead scheduler must not fail it
            pass
    if cluster is not None:
        try:
            cluster.close(timeout=timeout)
        except Exception:
            pass


def abandon(client):
    """Give up a client whose scheduler is gone, quietly: the caller says so in one
    line, and distributed's reconnection attempts must not print tracebacks after it."""
    import logging

    logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)
    with _LOCK:
        if client is _OWN["client"]:
            # Not closed: closing waits on the lost scheduler; the process ends.
            _OWN["client"] = _OWN["cluster"] = None


def close():
    """Close the LocalCluster started here (the caller's own client is left alone)."""
    with _LOCK:
        _close_own()


atexit.register(close)

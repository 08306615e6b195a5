"""What the machine is and what it can physically do, recorded with every run."""
import json

from .common import THREADS

try:
    from lrperf.machine import machine_info, read_bandwidth
except ImportError:  # a commit from before lrperf.machine existed
    machine_info = read_bandwidth = None


def _machine_json():
    if machine_info is None:
        return "{}"
    return json.dumps(machine_info(), sort_keys=True)


def track_read_bandwidth(threads):
    """Memory read bandwidth of a parallel sum over 256 MB (median of 5)."""
    if read_bandwidth is None:
        raise NotImplementedError("lrperf.machine is not in this commit")
    return read_bandwidth(nbytes=256 * 2**20, repeats=5, threads=threads)


track_read_bandwidth.params = [THREADS]
track_read_bandwidth.param_names = ["threads"]
track_read_bandwidth.unit = "GB/s"
track_read_bandwidth.timeout = 120


def track_machine_info(machine):
    """The core count; the parameter's value is the JSON machine description."""
    return json.loads(machine).get("cores") or 0


track_machine_info.params = [[_machine_json()]]
track_machine_info.param_names = ["machine"]
track_machine_info.unit = "cores"

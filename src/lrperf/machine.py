"""What the machine is and what it can physically do: the study's reference line.

``cpu_facts`` names the CPU and its caches; ``machine_info`` adds BLAS and
the versions.  What the machine can read, the ceiling strategies are reported
as a share of, is measured in ``lrperf.ceiling`` (which reads the caches here).
"""
import functools
import os
import platform
import re
from pathlib import Path

import numba as nb
import numpy as np


SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "neon", "asimd",
              "sve")


def _size_bytes(text):
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def _count_cpus(cpu_list):
    count = 0
    for part in cpu_list.strip().split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def cache_sizes():
    """{"L1d"/"L2"/"L3": {"bytes": size of one cache, "shared_by": cpus}} of cpu0.

    Read from Linux's sysfs: the running machine's own caches, per instance
    (py-cpuinfo reports some of them summed over cores).  {} where unknown.
    """
    found = {}
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(root.glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = _size_bytes((index / "size").read_text())
            shared = _count_cpus((index / "shared_cpu_list").read_text())
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        name = f"L{level}d" if kind == "Data" else f"L{level}"
        found[name] = {"bytes": size, "shared_by": shared}
    return found


_ADVERTISED = re.compile(r"@\s*([0-9.]+)\s*GHz", re.IGNORECASE)


def proc_cpuinfo(text=None):
    """py-cpuinfo's fields of the first CPU in Linux's /proc/cpuinfo (``text``, else
    the file), or {} where there is no such file or it lacks a model.

    py-cpuinfo takes about a second (it probes CPUID in a subprocess), which every
    process that plans numba_fused would pay; the kernel has the same facts."""
    if text is None:
        try:
            text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return {}
    fields = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    if not fields.get("model name") and not fields.get("vendor_id"):
        return {}
    info = {"brand_raw": fields.get("model name", ""), "vendor_id_raw": fields.get("vendor_id", ""),
            "flags": sorted(fields.get("flags", "").split()),
            "arch_string_raw": platform.machine()}
    for key, name in (("family", "cpu family"), ("model", "model"), ("stepping", "stepping")):
        if fields.get(name, "").isdigit():
            info[key] = int(fields[name])
    ghz = _ADVERTISED.search(info["brand_raw"])
    mhz = fields.get("cpu MHz", "")
    if ghz:
        info["hz_advertised"] = (int(float(ghz.group(1)) * 1e9), 0)
    elif mhz.replace(".", "", 1).isdigit():  # as py-cpuinfo does without a brand clock
        info["hz_advertised"] = (int(float(mhz) * 1e6), 0)
    return info


@functools.lru_cache(maxsize=1)
def cpu_facts():
    """CPU model (and vendor/family/model/stepping), SIMD flags that matter, caches,
    cores and advertised clock."""
    info = proc_cpuinfo()
    if not info:
        try:
            import cpuinfo
            info = cpuinfo.get_cpu_info()
        except Exception:  # py-cpuinfo missing or failing on an exotic platform
            info = {}
    flags = set(info.get("flags", ()))
    caches = cache_sizes()
    if not caches:
        for name, key in (("L1d", "l1_data_cache_size"), ("L2", "l2_cache_size"),
                          ("L3", "l3_cache_size")):
            if isinstance(info.get(key), int):
                caches[name] = {"bytes": info[key], "shared_by": None}
    # A VM may show only "Intel(R) Xeon(R) Processor": family, model and stepping
    # still tell two CPUs apart (6/207 is an Emerald Rapids, 6/85 a Skylake-SP).
    ident = [f"{key} {info[key]}" for key in ("family", "model", "stepping")
             if isinstance(info.get(key), int)]
    return {
        "cpu": info.get("brand_raw") or platform.processor() or platform.machine(),
        "cpu_id": " ".join([info.get("vendor_id_raw") or "", *ident]).strip() or None,
        "arch": info.get("arch_string_raw") or platform.machine(),
        "simd": [f for f in SIMD_FLAGS if f in flags],
        "caches": caches,
        "cores": os.cpu_count(),
        "ghz_advertised": round(info["hz_advertised"][0] / 1e9, 3)
        if info.get("hz_advertised") else None,
    }


def cpu_name(facts=None):
    """The CPU's name, with vendor/family/model/stepping where known (a VM may call
    different CPUs alike): how every report and script names the machine."""
    facts = cpu_facts() if facts is None else facts
    return f"{facts['cpu']} ({facts['cpu_id']})" if facts.get("cpu_id") else facts["cpu"]


def cpu_summary(facts=None):
    """'name (SIMD; caches; cores)': the header line of the measurement scripts."""
    facts = cpu_facts() if facts is None else facts
    caches = ", ".join(f"{k} {v['bytes'] >> 10} KB" for k, v in facts["caches"].items())
    return (f"{cpu_name(facts)} ({', '.join(facts['simd'])}; {caches}; "
            f"{facts['cores']} cores)")


def last_level_cache_bytes(default=8 << 20):
    """Size of the largest cache (the last level) of this machine."""
    caches = cpu_facts()["caches"]
    return max((c["bytes"] for c in caches.values()), default=default)


def blas_info():
    """The BLAS library NumPy uses and its thread count (via threadpoolctl if present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"blas": "unknown (install threadpoolctl)", "blas_threads": None}
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return {"blas": "none found", "blas_threads": None}
    p = pools[0]
    return {"blas": f"{p.get('internal_api')} {p.get('version')}", "blas_threads": p.get("num_threads")}


def machine_info():
    """CPU facts (model, SIMD flags, caches, cores), BLAS and its threads, versions."""
    return {
        **cpu_facts(),
        "numba_threads": nb.config.NUMBA_NUM_THREADS,
        **blas_info(),
        "numpy": np.__version__,
        "numba": nb.__version__,
        "python": platform.python_version(),
    }

"""The analysed report: one typed record per machine, made of facets.

``analysis.analyse`` fills these once; the text (``answer``, ``findings``,
``writeup``), the figures and the HTML page read them and compute nothing.
Frames hold one row per measured point; every ratio carries its 99% interval
(``lo``, ``hi``), whether it is significant (True, False, None: no interval)
and whether it is confirmed (enough samples behind both of its times).
"""
from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from .. import grid


def held(verdict):
    """True where a significance verdict (True, False, None or NaN; numpy's bools too)
    says the difference holds."""
    return verdict is not None and verdict == verdict and bool(verdict)


@dataclass(frozen=True)
class Regime:
    """Shapes of one layout x threads held by one cache level (or, where the caches are
    not known, a run of shapes in size order with the same fastest strategy)."""
    layout: str
    threads: int
    strategy: str           # fastest at most of the cells
    level: Optional[str]    # L1, L2, L3, DRAM (None: a run)
    first: tuple            # (n_x, m) of the smallest shape
    last: tuple             # and of the largest
    first_bytes: int
    last_bytes: int
    cells: int
    wins: int               # cells where ``strategy`` is fastest
    others: dict            # {strategy: cells} where another one is
    confirmed: int          # cells won by ``strategy`` whose times have enough samples
    significant: int        # confirmed cells whose speed-up over the reference holds
    speedup_min: float      # over the reference, confirmed cells (NaN: none)
    speedup_max: float
    samples: int            # fewest samples behind a cell of the run


@dataclass(frozen=True)
class Crossover:
    layout: str
    threads: int
    a: str
    b: str
    kind: str               # "one" or "mixed"
    detail: tuple


@dataclass(frozen=True)
class Trade:
    """The float32 trade at one shape: bytes, times and worst errors per strategy."""
    shape: tuple
    threads: int
    bytes64: int
    bytes32: int
    times: dict             # {strategy: (t64, t32, t64 / t32)}
    errors: dict            # {strategy: (worst dw error float64, float32)}
    reads: dict             # {strategy: how it reads float32 X}


@dataclass(frozen=True)
class XlaProgram:
    """What XLA compiled at one shape, beside the measured step of its strategy."""
    shape: tuple
    layout: str
    dots: float
    x_reads: int
    dot_fusions: float
    measured_at: Optional[tuple]   # the shape its step times are from (None: none)
    threads: Optional[int]
    propagate: float
    resident: float                # per step of optimize (NaN: not measured)
    others: dict                   # {strategy: step time} at the same point


@dataclass(frozen=True)
class Cost:
    """What the study left out and what it cost."""
    measured: int
    skipped: int
    failed: int
    skipped_by_reason: dict        # {reason: count}
    reasons_recorded: bool         # from the study's own record, not inferred
    wall_s: Optional[float]        # the whole study (None: not recorded)
    phases: dict                   # {phase: seconds} the study recorded (plan, tune, suite...)
    families: dict                 # {benchmark family: seconds}
    families_wall: bool = True     # wall seconds the study timed (False: asv's durations)


@dataclass
class MachineReport:
    machine: str
    commit: str
    environment: str
    date: object
    commits: list            # [(commit, date)] oldest first
    description: dict        # lrperf's machine description (CPU, caches, SIMD, versions)
    asv_machine: dict
    rows: pd.DataFrame       # every point of this machine: results.csv
    steps: pd.DataFrame      # newest commit, ok step times (every dtype), size/noisy/confirmed
    history: pd.DataFrame    # ok step times of every commit
    ceiling: pd.DataFrame    # nbytes (NA: one size only), threads, value (GB/s), level
    first_call: pd.DataFrame
    accuracy: pd.DataFrame   # strategy, n_x, m, dtype, error_dw, error_cost (newest commit)
    xla: pd.DataFrame        # n_x, m, layout, dots, x_reads, dot_fusions (newest commit)
    optimize: pd.DataFrame   # newest commit, ok 100-step optimize times, per point
    strategies: list
    layouts: list
    threads: list
    dtypes: list
    status_counts: dict
    reference: str = grid.REFERENCE
    primary_dtype: str = grid.DTYPES[0]
    min_samples: int = 3
    # Whether the step times come from per-process samples (lrperf.samples):
    # then every interval is the range of the process medians and every
    # "significant" the rank test across them.
    by_process: bool = False
    noise_iqr_share: float = 0.5
    # Facets: what the text and the figures show.
    primary: pd.DataFrame = None     # steps of the primary dtype
    times: dict = field(default_factory=dict)   # {(layout, threads): (n_x, m) x strategy}
    speedups: pd.DataFrame = None    # base, layout, threads, dtype, n_x, m, size, strategy,
    #                                  time, base_time, speedup, lo, hi, significant, confirmed
    over_reference: pd.DataFrame = None  # the speedups over the reference, primary dtype
    winners: pd.DataFrame = None     # layout, threads, n_x, m, size, strategy, runner_up,
    #                                  speedup, lo, hi, significant, confirmed, samples
    regimes: list = field(default_factory=list)        # [Regime]
    crossovers: list = field(default_factory=list)     # [Crossover]
    competitors: list = field(default_factory=list)    # strategies drawn against the reference
    drawn: list = field(default_factory=list)          # the reference and its competitors
    scaling: pd.DataFrame = None     # layout, n_x, m, size, strategy, t1, tn, speedup,
    #                                  efficiency, lo, hi, noisy, confirmed
    layout_ratio: pd.DataFrame = None  # threads, strategy, n_x, m, ratio (C over F)
    dtype_ratio: pd.DataFrame = None   # layout, threads, strategy, n_x, m, ratio (64 over 32)
    shares: pd.DataFrame = None      # step points + passes, bytes_read, gbs, ceiling, level,
    #                                  share, share_lo, share_hi
    peers: pd.DataFrame = None       # strategy, layout, threads, dtype, n_x, m, propagate,
    #                                  resident, per_call, per_call_kind
    noisy: pd.DataFrame = None       # the flagged step points, widest interval first
    remeasured: object = None        # the study's record of its re-measure pass
    unconfirmed: int = 0             # step points with fewer than min_samples samples
    accuracy_worst: pd.DataFrame = None  # strategy, dtype, error_dw, n_x, m, error_cost
    accuracy_shape: Optional[tuple] = None  # the largest shape of the accuracy runs
    accuracy_at: Optional[tuple] = None     # the shape of accuracy_points
    accuracy_points: pd.DataFrame = None    # time and error per strategy and dtype there
    trade: Optional[Trade] = None
    xla_programs: list = field(default_factory=list)   # [XlaProgram]
    partial_threads: dict = field(default_factory=dict)  # {strategy: [threads measured]}
    first_calls: dict = field(default_factory=dict)     # {strategy: {"cold": s, "warm": s}}
    cost: Optional[Cost] = None
    history_shape: Optional[tuple] = None
    family: Optional[int] = None     # the n_x the figures draw as a line
    findings: list = field(default_factory=list)

    @property
    def single_ceiling(self):
        return not self.ceiling.empty and self.ceiling["nbytes"].isna().all()


def interval_name(report):
    """What a time's interval is, in words, for the renderers."""
    return ("range of the per-process medians" if report.by_process else "99% interval")


def significance_rule(report):
    """When a ratio is called significant, in words."""
    if report.by_process:
        from ..samples import ALPHA
        return f"a rank test across the per-process medians gives p < {ALPHA:g}"
    return "the two 99% intervals do not overlap (asv compare's rule)"


def sample_need(report):
    """What a time needs to be confirmed, in words."""
    if report.by_process:
        from ..samples import MIN_PROCESSES, SAMPLES_PER_PROCESS
        return f"{MIN_PROCESSES} processes of {SAMPLES_PER_PROCESS} samples"
    return f"at least {report.min_samples} samples and a finite 99% interval"


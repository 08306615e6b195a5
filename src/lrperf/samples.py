"""How many samples a claim needs, and the test that compares two runs' samples.

Runs of separate processes differ more than the samples inside one process
say: where a process's X and code land in memory, which core's frequency it
meets, what the neighbours of a shared machine do.  Samples inside one
process share all of that, so an interval built from them is too narrow, and
a compare of two runs built on those intervals cries wolf (an A/A compare of
one commit on the tiny grid marked 16 of 112 points).

So the unit of evidence is the process.  The suite times each step point in
``PROCESSES`` processes (asv's ``rounds``, which asv interleaves over the whole
run, so they also see the run's drift), ``SAMPLES_PER_PROCESS`` samples each
(asv's fixed ``repeat``, so the recorded samples split back into their
processes), and records the samples (``asv run --record-samples``).  A point's
number is the median of its per-process medians; two runs differ when

- a two-sided exact Mann-Whitney rank test across the per-process medians
  gives p < ``ALPHA`` (with 5 processes a side: at most 2 of the 25 pairs out
  of order), and
- the ratio of the medians passes the threshold (1.1, as asv compare's).

A shared machine also changes speed from one second to the next (a 2-core VM
flipped between two speeds 1.9x apart inside one process), and a point's
processes land in one speed or the other.  So each process also records its
slowness (lrperf.results_format's reference protocol: a fixed pure-Python loop
timed before each sample, over the share of a core its thread got), and a
compare judges each process's samples divided by its own
(``at_reference_speed``); the times shown stay as measured.

A run's processes still share its time: a shared or virtual machine runs
faster or slower by tens of percent from one quarter of an hour to the next
(two tiny-grid runs of one commit on a 2-core VM: every point 0.74x in the
second).  No test on the points' own samples can see that, so a compare
first measures it from the two runs themselves (``drift``: the median ratio
over all their common points) and judges each point's ratio against it.  A
change in one strategy moves few points and stays visible; a change of
every point at once is reported as the drift, never as changes.

Nothing here times anything: it reads sample lists.
"""
import math
import statistics
from functools import lru_cache

# asv's rounds and fixed repeat of the step's timing benchmark.
PROCESSES = 5
SAMPLES_PER_PROCESS = 10
# With 3 processes a side the smallest two-sided rank-test p is 0.1: no
# difference could ever be significant at 5%.  4 is the fewest that can.
MIN_PROCESSES = 4
ALPHA = 0.05
THRESHOLD = 1.1


def _finite(samples):
    return [float(s) for s in samples if isinstance(s, (int, float))
            and not isinstance(s, bool) and math.isfinite(s)]


def per_process(samples, per=SAMPLES_PER_PROCESS):
    """The median of each process's samples, in recorded order; [] when the
    samples do not split into whole processes of ``per`` (asv's single
    process, a quick run, results recorded without samples)."""
    if not samples or per < 1 or len(samples) % per:
        return []
    values = _finite(samples)
    if len(values) != len(samples):
        return []
    return [statistics.median(values[i:i + per]) for i in range(0, len(values), per)]


def enough(samples, per=SAMPLES_PER_PROCESS, processes=MIN_PROCESSES):
    """True when ``samples`` back a claim: at least ``processes`` processes of
    ``per`` samples each.  A number without them is unconfirmed and stays out
    of any headline."""
    return len(per_process(samples, per)) >= processes


def interval(samples, per=SAMPLES_PER_PROCESS):
    """(median, low, high, confidence) of a point from its per-process medians,
    or None without enough samples.

    low..high is the range of the k process medians: it holds the median of
    the process-median distribution with probability 1 - 2 * 0.5**k (94% for
    5 processes), whatever that distribution is.
    """
    meds = per_process(samples, per)
    if len(meds) < MIN_PROCESSES:
        return None
    return (statistics.median(meds), min(meds), max(meds), 1 - 2 * 0.5 ** len(meds))


@lru_cache(maxsize=None)
def _u_counts(n, m):
    """Number of orderings of n + m distinct values giving each U = 0..n*m (the
    Mann-Whitney null distribution), by the recurrence on the largest value."""
    if n == 0 or m == 0:
        return (1,)
    top_a = _u_counts(n - 1, m)   # the largest is from the first group: U grows by m
    top_b = _u_counts(n, m - 1)
    counts = [0] * (n * m + 1)
    for u, c in enumerate(top_a):
        counts[u + m] += c
    for u, c in enumerate(top_b):
        counts[u] += c
    return tuple(counts)


def rank_test(a, b):
    """Two-sided exact Mann-Whitney p-value of samples ``a`` against ``b``
    (ties count a half, the exact null of distinct values is used)."""
    a, b = _finite(a), _finite(b)
    if not a or not b:
        raise ValueError(f"rank_test needs values on both sides, got {len(a)} and {len(b)}")
    u = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)
    counts = _u_counts(len(a), len(b))
    total = sum(counts)
    low = min(u, len(a) * len(b) - u)
    tail = sum(c for k, c in enumerate(counts) if k <= low + 1e-9)
    return min(1.0, 2 * tail / total)


def at_reference_speed(samples, references, scale, per=SAMPLES_PER_PROCESS):
    """``samples`` with each process's divided by that process's reference time and
    multiplied by ``scale`` (the run's median reference): what each process
    would have measured at the run's usual speed.  The samples as they are when
    the references do not match the processes one to one (a run without them,
    a process whose line was lost)."""
    procs = len(per_process(samples or [], per))
    if not procs or not references or len(references) != procs or not (
            isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        return samples
    refs = _finite(references)
    if len(refs) != procs or min(refs) <= 0:
        return samples
    return [float(x) * scale / refs[i // per] for i, x in enumerate(samples)]


# The drift needs this many points both runs confirmed; with fewer it is 1.
MIN_DRIFT_POINTS = 8


def drift(pairs, per=SAMPLES_PER_PROCESS):
    """(factor, points): how much slower run B ran than run A as a whole, the
    geometric median of B/A over the ``pairs`` [(samples_a, samples_b)] that
    both have the processes for; (1.0, n) with fewer than MIN_DRIFT_POINTS."""
    logs = []
    for a, b in pairs:
        ma, mb = per_process(a or [], per), per_process(b or [], per)
        if len(ma) >= MIN_PROCESSES and len(mb) >= MIN_PROCESSES:
            ra, rb = statistics.median(ma), statistics.median(mb)
            if ra > 0 and rb > 0:
                logs.append(math.log(rb / ra))
    if len(logs) < MIN_DRIFT_POINTS:
        return 1.0, len(logs)
    return math.exp(statistics.median(logs)), len(logs)


def verdict(samples_a, samples_b, threshold=THRESHOLD, alpha=ALPHA,
            per=SAMPLES_PER_PROCESS, drift=1.0):
    """("slower" | "faster" | "same" | "unconfirmed", ratio B/A, p) for one point.

    ``drift`` (``drift()``'s factor) is divided out of B before the test and
    the threshold: the ratio returned is B/A as measured.  "unconfirmed":
    either side lacks ``MIN_PROCESSES`` processes; ratio is then the ratio of
    the plain medians, p None.
    """
    if not (isinstance(threshold, (int, float)) and threshold >= 1):
        raise ValueError(f"threshold must be a ratio >= 1, got {threshold!r}")
    if not (isinstance(drift, (int, float)) and math.isfinite(drift) and drift > 0):
        raise ValueError(f"drift must be a positive ratio, got {drift!r}")
    ma, mb = per_process(samples_a, per), per_process(samples_b, per)
    if len(ma) < MIN_PROCESSES or len(mb) < MIN_PROCESSES:
        fa, fb = _finite(samples_a or []), _finite(samples_b or [])
        ratio = (statistics.median(fb) / statistics.median(fa)
                 if fa and fb and statistics.median(fa) > 0 else math.nan)
        return "unconfirmed", ratio, None
    ratio = statistics.median(mb) / statistics.median(ma)
    p = rank_test(ma, [x / drift for x in mb])
    if p < alpha and ratio / drift > threshold:
        return "slower", ratio, p
    if p < alpha and ratio / drift < 1 / threshold:
        return "faster", ratio, p
    return "same", ratio, p

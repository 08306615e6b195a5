"""The sample rule and the compare test, on synthetic samples with known answers."""
import itertools
import math

import numpy as np
import pytest

from lrperf import samples as sm

PER = sm.SAMPLES_PER_PROCESS


def run(rng, true, processes=sm.PROCESSES, process_sd=0.08, sample_sd=0.02, per=PER):
    """Samples of one run: each process has its own offset (log-normal, sd
    ``process_sd``), each sample its own jitter: the between-process noise a
    compare must see."""
    out = []
    for _ in range(processes):
        offset = true * math.exp(rng.normal(0, process_sd))
        out += list(offset * np.exp(rng.normal(0, sample_sd, per)))
    return out


def test_per_process_splits_whole_processes_only():
    samples = [1.0] * PER + [2.0] * PER + [3.0] * PER
    assert sm.per_process(samples) == [1.0, 2.0, 3.0]
    assert sm.per_process(samples[:-1]) == []       # a partial process: not split
    assert sm.per_process([]) == []
    assert sm.per_process(None) == []
    assert sm.per_process([1.0, math.nan] * PER) == []


def test_enough_needs_the_processes_a_rank_test_can_use():
    assert not sm.enough([5e-3])                     # asv --quick: one sample
    assert not sm.enough([1e-3] * (PER * 3))         # 3 processes: p >= 0.1 always
    assert sm.enough([1e-3] * (PER * 4))
    assert sm.enough([1e-3] * (PER * sm.PROCESSES))


def test_interval_is_the_range_of_process_medians():
    samples = sum(([float(v)] * PER for v in (3, 1, 5, 2, 4)), [])
    med, lo, hi, conf = sm.interval(samples)
    assert (med, lo, hi) == (3.0, 1.0, 5.0)
    assert conf == pytest.approx(1 - 2 / 32)
    assert sm.interval([1.0] * PER) is None


def test_null_distribution_counts_every_ordering():
    for n, m in [(1, 1), (2, 3), (4, 4), (5, 5), (3, 6)]:
        counts = sm._u_counts(n, m)
        assert sum(counts) == math.comb(n + m, n)
        # brute force: every way of choosing which ranks belong to the first group
        brute = [0] * (n * m + 1)
        for ranks in itertools.combinations(range(n + m), n):
            u = sum(r - i for i, r in enumerate(ranks))   # values of b below each a
            brute[u] += 1
        assert list(counts) == brute


def test_rank_test_known_p_values():
    # complete separation, 5 against 5: 2 orderings of 252
    assert sm.rank_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert sm.rank_test([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) == pytest.approx(2 / 252)
    # 3 against 3 can never reach 5%
    assert sm.rank_test([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)
    # one pair out of order, 5 against 5: P(U <= 1) = 2/252, two-sided 4/252
    assert sm.rank_test([1, 2, 3, 4, 6], [5, 7, 8, 9, 10]) == pytest.approx(4 / 252)
    assert sm.rank_test([1, 2, 3, 4, 7], [5, 6, 8, 9, 10]) == pytest.approx(8 / 252)  # U = 2
    assert sm.rank_test([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]) > 0.5


def test_rank_test_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.normal(0, 1, 5), rng.normal(0.7, 1, 5)
        want = scipy_stats.mannwhitneyu(a, b, alternative="two-sided", method="exact").pvalue
        assert sm.rank_test(a, b) == pytest.approx(want)


def test_rank_test_refuses_empty_sides():
    with pytest.raises(ValueError, match="both sides"):
        sm.rank_test([], [1.0])


def test_a_a_false_alarms_stay_under_alpha_with_between_process_noise():
    """Two runs of one true time: processes differ by 8%, samples by 2%.  The
    within-process interval would call many of these different; the
    per-process test marks at most ALPHA of them."""
    rng = np.random.default_rng(7)
    trials = 2000
    marked = sum(sm.verdict(run(rng, 1e-3), run(rng, 1e-3), threshold=1.0)[0] != "same"
                 for _ in range(trials))
    # exact under exchangeable processes: P(p < 0.05) = 8/252 = 3.2% (U <= 2)
    assert marked / trials <= sm.ALPHA
    assert marked > 0          # the test is not blind: its level is used


def test_within_process_intervals_would_cry_wolf_on_the_same_runs():
    """The failure the method fixes: quartile intervals of pooled samples of one
    process each overlap rarely under the same noise."""
    rng = np.random.default_rng(7)
    disjoint = 0
    for _ in range(500):
        a = run(rng, 1e-3, processes=1, per=20)
        b = run(rng, 1e-3, processes=1, per=20)
        qa, qb = np.percentile(a, [1, 99]), np.percentile(b, [1, 99])
        disjoint += qa[1] < qb[0] or qb[1] < qa[0]
    assert disjoint / 500 > 0.2


def test_planted_slowdown_of_1_3_is_found():
    rng = np.random.default_rng(11)
    trials = 500
    found = [sm.verdict(run(rng, 2e-3), run(rng, 2.6e-3)) for _ in range(trials)]
    assert sum(v == "slower" for v, _, _ in found) / trials >= 0.95
    assert all(r > 1 for _, r, _ in found)
    faster = [sm.verdict(run(rng, 2.6e-3), run(rng, 2e-3))[0] for _ in range(100)]
    assert faster.count("faster") >= 95


def test_threshold_keeps_small_true_changes_unmarked():
    rng = np.random.default_rng(5)
    v = [sm.verdict(run(rng, 1e-3, process_sd=0.001), run(rng, 1.05e-3, process_sd=0.001))
         for _ in range(50)]
    assert all(p < sm.ALPHA for _, _, p in v)       # real, and seen ...
    assert all(x == "same" for x, _, _ in v)        # ... but under the 1.1 threshold


def test_too_few_samples_is_unconfirmed_not_a_finding():
    v, ratio, p = sm.verdict([1e-3], [5e-3])        # asv --quick: one sample a side
    assert (v, p) == ("unconfirmed", None)
    assert ratio == pytest.approx(5.0)
    v, _, _ = sm.verdict([1e-3] * PER * 3, [5e-3] * PER * 3)
    assert v == "unconfirmed"


def test_verdict_checks_the_threshold():
    with pytest.raises(ValueError, match="threshold"):
        sm.verdict([1.0], [1.0], threshold=0.5)


def test_a_run_that_ran_slower_as_a_whole_is_drift_not_changes():
    """Run B of the same code on a machine 26% faster for its quarter of an hour
    (seen on a 2-core VM): every point shifts.  Judged as measured, most points
    "change"; the drift, measured from the two runs, takes it out."""
    rng = np.random.default_rng(13)
    times = np.geomspace(5e-5, 8e-3, 60)
    pairs = [(run(rng, t), run(rng, 0.74 * t)) for t in times]
    factor, points = sm.drift(pairs)
    assert points == 60 and factor == pytest.approx(0.74, rel=0.05)
    raw = sum(sm.verdict(a, b)[0] != "same" for a, b in pairs)
    judged = sum(sm.verdict(a, b, drift=factor)[0] != "same" for a, b in pairs)
    assert raw > 30 and judged <= 0.05 * len(pairs)


def test_a_slowdown_of_one_strategy_survives_the_drift():
    """One strategy of six planted 1.3x slower in B, B's machine 0.8x: the drift is
    the machine's (the planted points are too few to move a median) and every
    planted point is still found."""
    rng = np.random.default_rng(17)
    times = np.geomspace(1e-3, 8e-3, 12)
    pairs, planted = [], []
    for s in range(6):
        for t in times:
            pairs.append((run(rng, t), run(rng, 0.8 * t * (1.3 if s == 0 else 1.0))))
            planted.append(s == 0)
    factor, _ = sm.drift(pairs)
    assert factor == pytest.approx(0.8, rel=0.05)
    found = [sm.verdict(a, b, drift=factor)[0] for a, b in pairs]
    hits = [v for v, p in zip(found, planted) if p]
    assert hits.count("slower") / len(hits) >= 0.95
    others = [v for v, p in zip(found, planted) if not p]
    assert sum(v != "same" for v in others) <= 0.05 * len(others)


def test_the_drift_needs_enough_points_and_is_checked():
    rng = np.random.default_rng(19)
    few = [(run(rng, 1e-3), run(rng, 2e-3)) for _ in range(sm.MIN_DRIFT_POINTS - 1)]
    assert sm.drift(few) == (1.0, sm.MIN_DRIFT_POINTS - 1)
    assert sm.drift([([1e-3], [2e-3])] * 20) == (1.0, 0)   # no processes: no drift
    with pytest.raises(ValueError, match="drift must be a positive ratio, got 0"):
        sm.verdict([1.0], [1.0], drift=0)


def test_each_process_is_brought_to_the_runs_usual_speed_by_its_own_reference():
    per = 3
    samples = [2.0, 2.0, 2.2, 4.0, 4.4, 4.0]   # process 2 ran at half speed
    got = sm.at_reference_speed(samples, [1.0, 2.0], 1.5, per=per)
    assert got == pytest.approx([3.0, 3.0, 3.3, 3.0, 3.3, 3.0])
    # References that do not match the processes one to one leave the samples as measured.
    for refs in (None, [], [1.0], [1.0, 2.0, 3.0], [1.0, 0.0], [1.0, math.nan]):
        assert sm.at_reference_speed(samples, refs, 1.5, per=per) is samples
    assert sm.at_reference_speed(samples, [1.0, 2.0], math.inf, per=per) is samples
    assert sm.at_reference_speed(samples[:5], [1.0, 2.0], 1.0, per=per) == samples[:5]


def test_a_change_hidden_in_two_machine_speeds_is_found_through_the_references():
    """Processes land at one speed or the other (1.9x apart); a 1.3x change hides in
    that spread, and the reference each process timed at its speed brings it out."""
    rng = np.random.default_rng(7)
    found_raw = found_ref = 0
    for _ in range(40):
        def run(factor):
            speeds = rng.choice([1.0, 1.9], size=sm.PROCESSES)
            samples = [1e-3 * factor * s * (1 + rng.normal(0, 0.01))
                       for s in speeds for _ in range(sm.SAMPLES_PER_PROCESS)]
            refs = [3e-4 * s * (1 + rng.normal(0, 0.01)) for s in speeds]
            return samples, refs
        (a, ra), (b, rb) = run(1.0), run(1.3)
        found_raw += sm.verdict(a, b)[0] == "slower"
        found_ref += sm.verdict(sm.at_reference_speed(a, ra, 3e-4),
                                sm.at_reference_speed(b, rb, 3e-4))[0] == "slower"
    assert found_ref == 40
    assert found_raw < 30

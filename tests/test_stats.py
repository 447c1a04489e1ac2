"""nsde.stats.intervals: interval estimates (scipy.stats), paired and unpaired differences."""
import numpy as np
import pytest

from nsde.stats.intervals import (accuracy_interval, bootstrap_interval, format_interval, paired_difference,
                                  unpaired_difference, wilson_interval)


def test_wilson_contains_estimate_and_shrinks_with_n():
    small = wilson_interval(8, 10)
    large = wilson_interval(800, 1000)
    assert small.low < 0.8 < small.high
    assert (large.high - large.low) < (small.high - small.low)
    zero = wilson_interval(0, 32)  # not degenerate at p = 0 (unlike the Wald interval)
    assert zero.low == 0.0 and zero.high > 0.05


def test_wilson_matches_textbook_value_and_the_previous_implementation():
    iv = wilson_interval(5, 10)  # Newcombe (1998): [0.2366, 0.7634]
    assert iv.low == pytest.approx(0.2366, abs=1e-3) and iv.high == pytest.approx(0.7634, abs=1e-3)
    from statistics import NormalDist
    z = NormalDist().inv_cdf(0.975)
    for k, n in [(0, 7), (3, 48), (47, 48), (400, 480)]:  # the closed form the book used before scipy
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        iv = wilson_interval(k, n)
        assert iv.low == pytest.approx(max(0, centre - half), abs=1e-9)
        assert iv.high == pytest.approx(min(1, centre + half), abs=1e-9)


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError, match="n must be positive"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


def test_bootstrap_is_seeded_and_covers_the_mean():
    values = np.random.default_rng(1).normal(size=200)
    a, b = bootstrap_interval(values, seed=3), bootstrap_interval(values, seed=3)
    assert a == b and a.low < values.mean() < a.high
    assert format_interval(a, percent=False).startswith(f"{values.mean():.3f}")
    # the percentile interval of the mean of 200 N(0, 1) values is about +-1.96 / sqrt(200)
    assert a.high - a.low == pytest.approx(2 * 1.96 / np.sqrt(200), rel=0.15)
    one = bootstrap_interval([0.3])  # one value has no spread: the interval is undefined, never "significant"
    assert one.estimate == 0.3 and np.isnan(one.low) and np.isnan(one.high)
    with pytest.raises(ValueError):
        bootstrap_interval([])


def test_accuracy_interval_is_wilson_for_binary_and_bootstrap_for_expected_correctness():
    binary = np.array([1, 0, 1, 1] * 10, dtype=float)
    assert accuracy_interval(binary) == wilson_interval(30, 40)
    frac = np.array([0.2, 0.9, 1.0, 0.5] * 10)
    iv = accuracy_interval(frac)
    assert iv.estimate == pytest.approx(frac.mean()) and iv.low < iv.estimate < iv.high
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        accuracy_interval([1.5])


def test_paired_difference_decides_what_unpaired_intervals_cannot():
    rng = np.random.default_rng(0)
    hard = rng.random(300) < 0.5                  # shared difficulty of the images
    a = hard | (rng.random(300) < 0.12)           # a also gets ~6% more images right
    b = hard.copy()
    d = paired_difference(a, b)
    assert d.low > 0                              # clearly higher
    assert paired_difference(b, b).estimate == 0 and paired_difference(b, b).low == 0
    with pytest.raises(ValueError, match="same samples"):
        paired_difference([1, 0], [1])


def test_unpaired_differences():
    assert unpaired_difference([1, 2, 3, 4], [0, 1, 0, 1]).estimate == pytest.approx(2.0)
    assert np.isnan(unpaired_difference([1.0], [0.0, 1.0]).low)


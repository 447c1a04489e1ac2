"""nsde.stats: interval estimates."""
import numpy as np
import pytest

from nsde.stats import bootstrap_interval, format_interval, wilson_interval


def test_wilson_contains_estimate_and_shrinks_with_n():
    small = wilson_interval(8, 10)
    large = wilson_interval(800, 1000)
    assert small.low < 0.8 < small.high
    assert (large.high - large.low) < (small.high - small.low)
    # Wilson interval at p = 0 is not degenerate (unlike the Wald interval)
    zero = wilson_interval(0, 32)
    assert zero.low == 0.0 and zero.high > 0.05


def test_wilson_matches_textbook_value():
    # 95% Wilson interval for 5/10 is [0.2366, 0.7634] (Newcombe 1998, Table I style)
    iv = wilson_interval(5, 10)
    assert iv.low == pytest.approx(0.2366, abs=1e-3)
    assert iv.high == pytest.approx(0.7634, abs=1e-3)


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError, match="n must be positive"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


def test_bootstrap_is_seeded_and_covers_the_mean():
    values = np.random.default_rng(1).normal(size=200)
    a = bootstrap_interval(values, seed=3)
    b = bootstrap_interval(values, seed=3)
    assert a == b
    assert a.low < values.mean() < a.high
    assert format_interval(a, percent=False).startswith(f"{values.mean():.3f}")
    with pytest.raises(ValueError):
        bootstrap_interval([])

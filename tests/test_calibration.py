"""The verdict pipeline's error rates, proven by simulating it: under the null it announces a
difference at most 5% of the time and its interval covers at least 93%, at 2, 3 and 5 seeds;
a deliberately broken interval fails the same checks. Small replicate counts, binomial
tolerances (three standard errors), a few seconds in all."""
import math

import numpy as np
import pytest

import nsde.stats.compare as compare
from nsde.report.calibration import (AUDIT, Structure, calibrate, estimate_structure, reachable, simulate_tables,
                                    true_difference)
from nsde.stats.inference import SeedTest

REPS = 300
SMALL = Structure(accuracy=(0.85, 0.7, 0.5, 0.3), settings=(0.05, 0.1, 0.15, 0.2), r_seed=0.03)


def upper(rate, n=REPS):
    return rate + 3 * math.sqrt(rate * (1 - rate) / n)


def lower(rate, n=REPS):
    return rate - 3 * math.sqrt(rate * (1 - rate) / n)


@pytest.mark.parametrize("seeds", [2, 3, 5])
def test_under_the_null_the_pipeline_rarely_announces_a_difference_and_covers(seeds):
    cal = calibrate(SMALL, n_seeds=seeds, n_images=64, effects=[0.0], reps=REPS, seed=seeds).iloc[0]
    assert cal["claims a difference"] <= upper(0.05)
    assert cal["coverage"] >= lower(0.93)


def test_at_the_audit_sizes_the_false_positive_rate_is_nominal():
    """The sizes at which the old pipeline announced a difference 26% of the time."""
    cal = calibrate(AUDIT, n_seeds=3, n_images=192, effects=[0.0], reps=REPS, seed=1).iloc[0]
    assert cal["claims a difference"] <= upper(0.05) and cal["coverage"] >= lower(0.93)


def _images_only(a, b=None, *, level=0.95, paired=True):
    """The old mistake: every (seed, image) treated as an independent image."""
    d = np.asarray(a, dtype=float) - (0 if b is None else np.asarray(b, dtype=float))
    d = d.ravel()
    return SeedTest(float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), d.size - 1.0, 1, d.size, level)


def test_a_broken_interval_that_ignores_the_seeds_fails_the_same_checks(monkeypatch):
    monkeypatch.setattr(compare, "seed_test", _images_only)
    cal = calibrate(AUDIT, n_seeds=3, n_images=192, effects=[0.0], reps=REPS, seed=1).iloc[0]
    assert cal["claims a difference"] > upper(0.05) and cal["coverage"] < lower(0.93)


def test_power_rises_with_the_true_effect_and_the_interval_covers_it():
    cal = calibrate(SMALL, n_seeds=5, n_images=200, effects=[0.0, 0.05, 0.2], reps=150, seed=2)
    power = cal["in the paper's direction"].tolist()
    assert power[0] <= upper(0.025, 150) and power[0] < power[1] < power[2] and power[2] > 0.9
    assert (cal["coverage"] >= lower(0.93, 150)).all()


def test_the_simulated_truth_is_the_probit_model_accuracy_difference():
    big = Structure(accuracy=(0.8, 0.4), r_seed=0.0, r_pair=0.0)
    a, b = simulate_tables(big, 4, 20000, np.random.default_rng(0), delta=0.3)
    assert (a.mean() - b.mean()) == pytest.approx(true_difference(big, 0.3), abs=0.01)


def test_the_structure_of_a_build_is_recovered_from_its_tables():
    truth = Structure(accuracy=(0.85, 0.6, 0.35), r_image=0.4, r_pair=0.1, r_seed=0.05, settings=(0.05, 0.1, 0.2))
    a, b = simulate_tables(truth, 8, 1500, np.random.default_rng(3))
    got = estimate_structure(a, b, truth.settings)
    assert got.accuracy == pytest.approx(truth.accuracy, abs=0.04)
    assert got.r_image == pytest.approx(0.4, abs=0.08) and got.r_pair == pytest.approx(0.1, abs=0.08)
    assert got.r_seed == pytest.approx(0.05, abs=0.04)


def test_bad_structures_are_refused():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        Structure(accuracy=(1.0, 0.5))
    with pytest.raises(ValueError, match="sum to less than 1"):
        Structure(accuracy=(0.5,), r_image=0.6, r_seed=0.5)


def test_an_effect_the_accuracies_cannot_reach_is_left_out_not_an_error():
    """At 97% everywhere no model is 5 points better: that effect gets no row (a recorded
    data set on which every model is nearly perfect stopped the verdicts page here)."""
    high = Structure(accuracy=(0.97, 0.96))
    assert not reachable(high, 0.05) and reachable(high, 0.02) and reachable(high, 0.0)
    table = calibrate(high, n_seeds=2, n_images=16, effects=[0.0, 0.02, 0.05], reps=5)
    assert list(table["effect"]) == [0.0, 0.02]


def test_a_build_with_no_informative_setting_is_calibrated_at_every_setting_and_says_so():
    from nsde.report.calibration import structure_of_study
    from nsde.stats.compare import table_from_scores

    truth = Structure(accuracy=(0.5, 0.1), settings=(0.05, 0.5))
    a, b = simulate_tables(truth, 2, 400, np.random.default_rng(0))
    ta, tb = (table_from_scores("intensity", [0.05, 0.5], [m[:, k] for k in range(2)]) for m in (a, b))
    st, basis = structure_of_study(ta, tb, "intensity", [0.05])
    assert len(st.accuracy) == 1 and basis == "the informative settings (1)"
    st, basis = structure_of_study(ta, tb, "intensity", [])
    assert st.accuracy == pytest.approx((0.5, 0.1), abs=0.06) and "none is informative" in basis

"""Seed-level tests on inputs whose answer is known, checked against scipy and statsmodels."""
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

from nsde.stats.inference import holm, mean_over_settings, per_seed_test, seed_test, simultaneous


def test_with_no_image_spread_the_seed_test_is_the_t_test_over_seed_means():
    rows = np.array([0.10, -0.02, 0.05, 0.07])
    d = np.repeat(rows[:, None], 12, axis=1)  # every image of a seed differs by the same amount
    t = seed_test(d)
    ref = stats.ttest_1samp(rows, 0.0)
    assert t.df == 3 and t.n_seeds == 4 and t.n_images == 12
    assert t.p == pytest.approx(ref.pvalue) and t.low == pytest.approx(ref.confidence_interval().low)


def test_with_one_seed_the_seed_test_is_the_paired_t_over_images():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, 40).astype(float), rng.integers(0, 2, 40).astype(float)
    t = seed_test(a, b)
    assert t.method == "images (one seed)" and t.df == 39
    assert t.p == pytest.approx(stats.ttest_rel(a, b).pvalue)


def test_the_image_term_widens_the_interval_when_images_favour_one_model():
    rng = np.random.default_rng(2)
    seeds = rng.normal(0, 0.01, size=(3, 1))
    favour = rng.normal(0, 0.5, size=(1, 200))  # images that suit model a, the same for every seed
    d = seeds + favour + rng.normal(0, 0.05, size=(3, 200))
    with_images = seed_test(d)
    seeds_only_se = d.mean(1).std(ddof=1) / math.sqrt(3)  # the t over seed means misses the images
    assert with_images.se > 1.5 * seeds_only_se
    assert with_images.se == pytest.approx(math.sqrt(seeds_only_se ** 2 + favour.var(ddof=1) / 200), rel=0.2)


def test_pairing_narrows_the_interval_when_seed_effects_are_shared():
    rng = np.random.default_rng(3)
    shared = rng.normal(0, 0.1, size=(5, 1))  # seed i is lucky or unlucky for both models
    a = 0.6 + shared + rng.normal(0, 0.02, size=(5, 100))
    b = 0.6 + shared + rng.normal(0, 0.02, size=(5, 100))
    paired, unpaired = seed_test(a, b), seed_test(a, b, paired=False)
    assert paired.estimate == pytest.approx(unpaired.estimate)
    assert paired.high - paired.low < 0.5 * (unpaired.high - unpaired.low)


def test_mismatched_tables_are_refused():
    with pytest.raises(ValueError, match="same seeds and images"):
        seed_test(np.zeros((3, 10)), np.zeros((2, 10)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        seed_test(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        seed_test(np.zeros((2, 3)), level=95)


def test_tost_equals_statsmodels_two_one_sided_tests():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.02, 0.3, 60), rng.normal(0.0, 0.3, 60)
    t = seed_test(a, b)
    assert t.equivalence_p(0.15) == pytest.approx(ttost_paired(a, b, -0.15, 0.15)[0])
    assert t.equivalent(0.15) == (ttost_paired(a, b, -0.15, 0.15)[0] < 0.05)
    with pytest.raises(ValueError, match="margin must be > 0"):
        t.equivalence_p(0)


def test_a_difference_far_inside_the_margin_is_equivalent_and_one_on_it_is_not():
    inside = seed_test(np.array([0.01, -0.01, 0.0, 0.005, -0.005])[:, None] * np.ones((1, 4)))
    assert inside.equivalent(0.05)
    edge = seed_test((0.05 + np.array([0.01, -0.01, 0.0, 0.005, -0.005]))[:, None] * np.ones((1, 4)))
    assert not edge.equivalent(0.05)


def test_the_minimal_detectable_effect_is_statsmodels_power_solution():
    rows = np.array([0.03, -0.01, 0.02, 0.00, 0.04])
    t = seed_test(np.repeat(rows[:, None], 3, axis=1))
    effect = TTestPower().solve_power(nobs=5, alpha=0.05, power=0.8)
    assert t.mde() == pytest.approx(effect * rows.std(ddof=1))
    assert t.mde(power=0.9) > t.mde(power=0.8)


def test_the_minimal_detectable_effect_has_the_power_it_claims_in_simulation():
    rng = np.random.default_rng(5)
    sd, s = 0.05, 4
    t = seed_test(rng.normal(0, sd, size=(s, 1)) * np.ones((1, 2)))
    mde = t.mde() / t.se * sd / math.sqrt(s)  # the MDE at the true standard error
    hits = sum(seed_test(rng.normal(mde, sd, size=(s, 1)) * np.ones((1, 2))).p < 0.05 for _ in range(2000))
    assert 0.76 < hits / 2000 < 0.84


def test_per_seed_test_is_the_paired_t_over_seeds():
    a, b = np.array([0.3, 0.5, 0.4]), np.array([0.2, 0.45, 0.1])
    t = per_seed_test(a, b)
    assert t.p == pytest.approx(stats.ttest_rel(a, b).pvalue) and t.n_images == 0
    with pytest.raises(ValueError, match="as many values"):
        per_seed_test(a, b[:2])


def test_holm_equals_statsmodels():
    rng = np.random.default_rng(6)
    for _ in range(8):  # statsmodels' multipletests runs a garbage collection per call: few cases
        p = rng.uniform(size=rng.integers(1, 9)) ** 2
        reject, adjusted = holm(p)
        ref_reject, ref_adjusted, _, _ = multipletests(p, method="holm")
        assert np.allclose(adjusted, ref_adjusted) and (reject == ref_reject).all()
    reject, adjusted = holm([0.01, 0.04, 0.03])
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06]) and reject.tolist() == [True, False, False]


def test_simultaneous_intervals_are_wider_by_bonferroni():
    t = seed_test(np.array([[0.1, 0.2, 0.0, 0.1], [0.0, 0.1, 0.1, 0.2]]))
    wide = simultaneous([t, t, t, t])[0]
    assert wide.level == pytest.approx(1 - 0.05 / 4) and wide.high - wide.low > t.high - t.low


def test_mean_over_settings_needs_one_shape():
    assert mean_over_settings([np.ones((2, 3)), np.zeros((2, 3))]).tolist() == [[0.5] * 3] * 2
    with pytest.raises(ValueError, match="different seeds or images"):
        mean_over_settings([np.ones((2, 3)), np.zeros((2, 4))])

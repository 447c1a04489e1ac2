"""The studies' rules on hand-made inputs: the chance rule, the regime choice, convergence,
the compared classifiers and the provenance footer."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nsde.report import provenance
from nsde.stats.compare import table_from_scores
from nsde.studies import noise_study as ns
from nsde.studies import regime
from nsde.studies.protocols import BASELINE, ENSEMBLE, NOISE_OFF, classifiers
from nsde.studies.profiles import get_profile


def test_chance_is_the_share_of_the_most_frequent_class():
    assert ns.chance_rate(np.array([0, 0, 1, 2])) == 0.5
    with pytest.raises(ValueError, match="at least one label"):
        ns.chance_rate(np.array([]))


def test_an_intensity_counts_only_where_every_classifier_beats_chance_at_every_seed():
    n, chance = 200, 1 / 16
    good = np.r_[np.ones(60), np.zeros(n - 60)]             # 30%: far above chance
    flat = np.r_[np.ones(13), np.zeros(n - 13)]             # 6.5%: at chance
    a = table_from_scores("intensity", [0.05, 0.5, 1.0], [np.stack([good, good]), np.stack([good, flat]),
                                                          np.stack([flat, flat])])
    b = table_from_scores("intensity", [0.05, 0.5, 1.0], [np.stack([good, good])] * 3)
    assert ns.informative_intensities({"a": a, "b": b}, chance) == [0.05]  # 0.5: one seed of a at chance


def _search(rows):
    df = pd.DataFrame(rows).set_index("setting")
    df["train images"], df["image_size"] = 7000, 64
    if "arch" not in df:
        df["arch"] = "resnet10t"
    return df


def test_the_regime_rule_keeps_the_nearest_and_the_cheapest_of_the_tied():
    s = _search([{"setting": "centre", "distance to paper (points)": 4.6, "epochs": 20},
                 {"setting": "epochs=10", "distance to paper (points)": 5.2, "epochs": 10},
                 {"setting": "top_db=30", "distance to paper (points)": 6.6, "epochs": 20}])
    assert regime.choose(s) == "epochs=10"  # within a point of the nearest, and half the cost
    s.loc["epochs=10", "distance to paper (points)"] = 5.7
    assert regime.choose(s) == "centre"
    s.loc["top_db=30", ["distance to paper (points)", "arch"]] = [5.0, "convnext_atto"]
    assert regime.choose(s) == "top_db=30"  # tied with the nearest: the paper's family is preferred


def test_the_profile_is_compared_with_the_chosen_setting_knob_by_knob():
    s = _search([{"setting": "centre", "distance to paper (points)": 4.6, "epochs": 20, "arch": "resnet10t",
                  "n_per_class": 625, "lr": 0.004, "batch_size": 32}])
    s["image_size"] = 64
    p = get_profile("default")
    differs = regime.profile_agrees(p, s)
    assert set(differs) == ({"epochs"} if p.epochs != 20 else set())
    quick = regime.profile_agrees(get_profile("quick"), s)
    assert {"n_per_class", "image_size"} <= set(quick)
    assert "departs from it in `n_per_class` (48 instead of 625)" in regime.choice_sentence(
        s.assign(**{"val 0": 89.0}), get_profile("quick"))


def test_a_run_has_converged_when_its_validation_accuracy_peaked_or_flattened():
    hist = lambda accs: [{"val_acc": a} for a in accs]  # noqa: E731
    assert regime.converged(hist([0.5, 0.8, 0.7]))          # peaked before the end
    assert regime.converged(hist([0.5, 0.800, 0.801, 0.802, 0.803]))  # +0.3 points over the last 3
    assert not regime.converged(hist([0.5, 0.6, 0.7, 0.8]))  # still rising
    runs = {"baseline": [SimpleNamespace(history=hist([0.5, 0.6, 0.7, 0.8]), train_cfg=SimpleNamespace(seed=0))]}
    assert regime.convergence_sentence(runs).endswith("still rising: baseline seed 0.")


def test_the_three_classifiers_share_the_nsde_networks_and_pair_their_seeds():
    p = get_profile("quick")
    zoo = {"baseline": ["b0", "b1"], f"nsde-{p.noise_shape}": ["n0", "n1"]}
    c = classifiers(zoo, p)
    assert list(c) == [BASELINE, NOISE_OFF, ENSEMBLE]
    assert c[NOISE_OFF].runs == c[ENSEMBLE].runs == ("n0", "n1") and c[ENSEMBLE].eval == {"noise": "on",
                                                                                           "samples": p.eval_samples}
    assert c[BASELINE].eval == {"noise": "off", "samples": 1}


def test_the_footer_names_profile_commit_versions_and_time():
    s = SimpleNamespace(profile=SimpleNamespace(name="quick"), started=0.0)
    text = provenance.footer(s, "02_training")
    assert "Chapter `02_training`, profile `quick`, commit `" in text and "torch " in text and "threads" in text


def test_the_default_profile_trains_at_the_recorded_regime_choice_but_for_its_declared_epochs():
    """The default profile holds the setting the recorded search chose (results/regime_search.csv)
    on every knob but one, declared in the chapter's sentence: 10 epochs instead of the centre's 20,
    to fit the book's time budget. A change of the profile's lr, data size, image size or
    architecture fails here."""
    from pathlib import Path

    search = regime.load_search(Path(__file__).resolve().parents[1] / "results" / "regime_search.csv")
    p = get_profile("default")
    assert regime.profile_agrees(p, search) == {"epochs": (10, 20)}
    text = regime.choice_sentence(search, p)
    assert "departs from it in `epochs` (10 instead of 20)" in text
    missing = [name for name, _ in regime.settings() if name not in search.index]
    assert all(f"`{m}`" in text for m in missing) and ("not yet recorded" in text) == bool(missing)
    assert all(f"`{m}`" not in text for m in search.index if m != regime.choose(search))

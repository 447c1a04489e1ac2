"""nsde.report.verdicts: the book's conclusions, on hand-made inputs whose right answer is known."""
import pandas as pd
import pytest

from nsde.report import verdicts as vd
from nsde.stats.compare import compare_tables
from nsde.stats.intervals import Interval


def _cmp(outcomes: dict, unit="intensity") -> pd.DataFrame:
    d = {"higher": 0.1, "lower": -0.1, "no difference": 0.0}
    return pd.DataFrame({unit: list(outcomes), "difference": [d[o] for o in outcomes.values()],
                         "low": [d[o] - 0.05 if o != "no difference" else -0.05 for o in outcomes.values()],
                         "high": [d[o] + 0.05 if o != "no difference" else 0.05 for o in outcomes.values()],
                         "outcome": list(outcomes.values())}).set_index(unit)


def test_english_lists():
    assert vd.english_list([]) == "" and vd.english_list(["a"]) == "a"
    assert vd.english_list(["a", "b"]) == "a and b" and vd.english_list(["a", "b", "c"]) == "a, b and c"


def test_a_paired_difference_that_excludes_zero_reads_higher_and_one_that_straddles_reads_no_difference():
    a = pd.DataFrame({"eps": [0.1, 0.2], "accuracy": [0.9, 0.5], "low": 0, "high": 1})
    b = a.copy()
    a.attrs["correct"] = {0.1: (1.0,) * 90 + (0.0,) * 10, 0.2: (1.0, 0.0) * 50}
    b.attrs["correct"] = {0.1: (1.0,) * 50 + (0.0,) * 50, 0.2: (0.0, 1.0) * 50}
    cmp = compare_tables(a, b, "eps")
    assert cmp["outcome"].tolist() == ["higher", "no difference"]
    text = vd.comparison_sentence("The NSDE", "the baseline", cmp, unit="budget", units="budgets")
    assert text == ("The NSDE is more accurate than the baseline at 1 of 2 budgets (0.1) and not distinguishable at "
                    "the other one.")


def test_comparison_sentences_read_as_english_at_the_edges():
    none = vd.comparison_sentence("The NSDE", "the baseline", _cmp({0.05: "no difference", 0.1: "no difference"}))
    assert none == "The NSDE is not distinguishable from the baseline at any of the 2 intensities."
    assert "(-)" not in none and "at 0 " not in none
    every = vd.comparison_sentence("The NSDE", "the baseline", _cmp({0.05: "higher", 0.1: "higher", 0.2: "higher"}))
    assert every == "The NSDE is more accurate than the baseline at all 3 intensities."
    mixed = vd.comparison_sentence("X", "Y", _cmp({0.05: "higher", 0.1: "lower", 0.15: "lower", 0.2: "no difference"}))
    assert mixed == ("X is more accurate than Y at 1 of 4 intensities (0.05), less accurate than it at 2 of 4 "
                     "intensities (0.1 and 0.15), and not distinguishable at the other one.")
    one = vd.comparison_sentence("X", "Y", _cmp({0.1: "lower"}, "eps"), unit="budget", units="budgets")
    assert one == "X is less accurate than Y at the budget."
    worse = vd.comparison_sentence("X", "Y", _cmp({0.05: "lower", 0.1: "no difference"}))
    assert worse == "X is less accurate than Y at 1 of 2 intensities (0.05) and not distinguishable at the other one."


def test_stability_sentence_respects_the_measure_direction():
    lower = Interval(-0.1, -0.2, -0.05, 24)
    assert "more stable for the NSDE" in vd.stability_sentence(lower, measure="log change", lower_is_stable=True)
    assert "less stable for the NSDE" in vd.stability_sentence(lower, measure="top-k overlap", lower_is_stable=False)
    flat = Interval(0.0, -0.1, 0.1, 24)
    text = vd.stability_sentence(flat, measure="log change", lower_is_stable=True, paper="it smaller for the NSDE")
    assert "not distinguishable between the NSDE and the baseline" in text and text.endswith(
        "the paper reports it smaller for the NSDE.")


def test_correlation_sentence_reads_the_sign_only_where_the_permutation_test_rejects():
    text = vd.correlation_sentence(0.9, 0.02, 6)
    assert "+0.90, a strong positive association. The association **agrees with the claim**" in text
    assert "p = 0.02 is at most 0.05" in text
    assert "2/6! = 0.0028" in text
    assert "**runs against the claim**" in vd.correlation_sentence(-0.9, 0.01, 6)
    weak = vd.correlation_sentence(0.54, 0.24, 7)  # the default build's I-ASIDE figure
    assert "**inconclusive**" in weak and "could arise by chance" in weak and "agrees" not in weak
    assert "no ordering can reach it" in vd.correlation_sentence(1.0, 1 / 3, 3)  # 2/3! > 0.05
    assert "does not vary" in vd.correlation_sentence(float("nan"), 1.0, 3)
    with pytest.raises(ValueError, match="at least 3"):
        vd.correlation_sentence(1.0, 0.0, 2)


def test_correlation_word_is_inconclusive_above_alpha():
    assert vd.correlation_word(0.9, 0.01) == "agrees with the claim"
    assert vd.correlation_word(-0.9, 0.01) == "runs against the claim"
    assert vd.correlation_word(0.54, 0.24) == "inconclusive"
    assert vd.correlation_word(-0.9, 0.2) == "inconclusive"
    assert vd.correlation_word(float("nan"), 1.0) == "not testable here"


def test_data_size_sentence():
    table = pd.DataFrame({"intensity": [0.0, 0.0, 0.0], "train images": [560, 1120, 2240],
                          "baseline": [0.6, 0.7, 0.75], "nsde": [0.55, 0.72, 0.8],
                          "difference low": [-0.08, -0.01, 0.01], "difference high": [-0.02, 0.05, 0.09]})
    text = vd.data_size_sentence(table, 0.0)
    assert text == ("On clean test images the NSDE is better than the baseline with 2240 training images, worse "
                    "with 560, and not distinguishable at the other size. From 2240 to 560 training images the baseline changes "
                    "by -15.0 points and the NSDE by -25.0.")
    with pytest.raises(ValueError, match="no rows at intensity 0.5"):
        vd.data_size_sentence(table, 0.5)
    flat = table.assign(**{"difference low": -0.05, "difference high": 0.05})
    assert vd.data_size_sentence(flat, 0.0).startswith(
        "On clean test images the NSDE is not distinguishable from the baseline at any of the 3 sizes.")
    worse = table.assign(**{"difference low": [-0.08, -0.05, -0.05], "difference high": [-0.02, 0.05, 0.05]})
    assert vd.data_size_sentence(worse, 0.0).startswith(
        "On clean test images the NSDE is worse than the baseline with 560 training images and not distinguishable "
        "at the other 2 sizes.")


def test_shape_choice_sentence():
    cmp = pd.DataFrame({"better": ["a", "no difference", "b"]}, index=["noise AUC", "clean", "stability topk"])
    text = vd.shape_choice_sentence(cmp, "Brownian", "attribution-shaped", clean_a=Interval(-0.01, -0.03, 0.01, 9),
                                    clean_b=Interval(-0.05, -0.08, -0.02, 9))
    assert text.startswith("Neither shape wins: Brownian is better on noise AUC, attribution-shaped on stability topk.")
    assert text.endswith("attribution-shaped at -5.0 points [-8.0, -2.0].")
    only_a = vd.shape_choice_sentence(cmp.assign(better=["a", "a", "no difference"]), "X", "Y",
                                      clean_a=Interval(0, 0, 0, 1), clean_b=Interval(0, 0, 0, 1))
    assert only_a.startswith("X is better than Y on 2 of 3 measures (noise AUC and clean) and worse on none.")


def test_grid_best_sentence_uses_the_best_net_count_and_every_row():
    counts = pd.DataFrame({"better": [2, 4, 0], "worse": [0, 5, 0]},
                          index=pd.MultiIndex.from_tuples([("white", 0.1), ("pink", 0.1), ("brown", 0.1)]))
    counts["net"] = counts["better"] - counts["worse"]
    counts = counts.sort_values("net", ascending=False)
    text = vd.grid_best_sentence(counts)
    assert text == ("Across the grid, the best balance against the baseline (measures better minus worse) is white "
                    "noise at sigma 0.1: white@0.1 better on 2 and worse on 0. Worse than the baseline beyond the 95% "
                    "intervals: pink@0.1 (5 measures).")
    assert vd.grid_verdict(counts) == "best net: white@0.1; worse on some measure: pink@0.1 (5 measures)"
    worse_only = pd.DataFrame({"better": [0, 3], "worse": [0, 5]}, index=pd.MultiIndex.from_tuples(
        [("white", 0.1), ("pink", 0.1)])).assign(net=lambda d: d["better"] - d["worse"])
    assert "best balance" in vd.grid_best_sentence(worse_only)  # pink beats it on 3 measures: not "none"
    none = worse_only.assign(better=0)
    assert vd.grid_best_sentence(none).startswith("No noise shape or level beats the baseline")
    assert vd.grid_best_sentence(none).endswith("Worse than the baseline beyond the 95% intervals: pink@0.1 (5 measures).")
    assert vd.grid_verdict(none) == "no shape beats the baseline; worse on some measure: pink@0.1 (5 measures)"
    level = none.assign(worse=[0, 1])
    assert vd.grid_verdict(level) == "no shape beats the baseline; worse on some measure: pink@0.1 (1 measure)"
    neutral = none.assign(worse=0)
    assert vd.grid_verdict(neutral) == "no shape beats the baseline"
    assert vd.grid_best_sentence(neutral).endswith("No entry is worse than the baseline on any measure beyond the 95% "
                                                   "intervals.")


def test_checked_facts():
    assert vd.beats_chance(0.4, 16, 2) == "beats chance (6%) by at least 2x: True"
    assert vd.beats_chance(0.1, 16, 2).endswith("False")
    t = pd.DataFrame({"intensity": [0.05, 1.0], "accuracy": [0.6, 0.1]})
    assert vd.loses_accuracy({"a": t, "b": t}) == "every classifier is less accurate at intensity 1 than at 0.05: True"


def test_masking_summary_counts_and_names_the_failed_checks():
    checks = pd.DataFrame({"classifier": ["NSDE ensemble"] * 3, "check": ["A as strong as the battery", "B", "C"],
                           "eps": [0.2] * 3, "result": ["failed", "passed", "cannot tell"]})
    text = vd.masking_summary(checks)
    assert text.startswith("Of 3 checks (each at one budget), 1 passed, 1 failed and 1 cannot tell at these sizes.")
    assert "Failed: NSDE ensemble: A as strong as the battery." in text
    assert vd.masking_summary(checks.iloc[0:0]) == "No gradient-masking check could be run."


def test_abc_contrast_sentences_say_when_a_model_reverses_the_papers_table4():
    from types import SimpleNamespace

    from nsde.studies.explanation_study import contrast_sentences

    def study(*contrasts):
        return SimpleNamespace(by_outcome={(f"m{i}", "clean"): pd.DataFrame({"contrast": c})
                                           for i, c in enumerate(contrasts)} | {("m0", "noisy"): pd.DataFrame(
                                               {"contrast": [-1.0, -1.0]})})

    lines = contrast_sentences(study([0.30, 0.31, 0.29], [-0.30, -0.31, -0.29], [0.2, -0.2, 0.01], [0.4],
                                     [float("nan")]))
    assert len(lines) == 5  # the noisy condition is not a clean contrast
    assert lines[0].startswith("m0: ABC is higher on correct predictions, as in the paper's Table 4 (correct minus "
                               "incorrect +0.300 [")
    assert "the reverse of the paper's Table 4" in lines[1] and "-0.300" in lines[1] and "3 seeds" in lines[1]
    assert "not distinguishable" in lines[2] and "Table 4" not in lines[2]
    assert lines[3] == "m3: ABC correct minus incorrect +0.400 (one seed: no interval)."
    assert "undefined" in lines[4]

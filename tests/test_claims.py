"""Every verdict word from a hand-made test whose answer is known, and the sentences they make."""
import pytest

from nsde.report import paper
from nsde.report.claims import CLAIMS, WORDS, judge, paper_table2_effect, paper_table3_effect
from nsde.stats.inference import SeedTest


def made(estimate, se, df=4, n_seeds=5, n_images=200):
    return SeedTest(estimate, se, df, n_seeds, n_images)


#: (primary estimate, se, per-setting (estimate, se), expected word) for a claim that the NSDE is higher.
CASES = [
    (0.05, 0.005, [(0.05, 0.005), (0.06, 0.005)], "holds"),
    (0.05, 0.005, [(0.09, 0.005), (0.01, 0.02)], "holds in part"),
    (0.05, 0.005, [(0.12, 0.005), (-0.02, 0.002)], "is mixed"),
    (-0.05, 0.005, [(-0.05, 0.005), (-0.05, 0.005)], "does not hold"),
    (0.001, 0.002, [(0.001, 0.002), (0.0, 0.002)], "equivalent"),
    (0.03, 0.02, [(0.03, 0.02), (0.03, 0.02)], "inconclusive"),
    (0.0, 0.02, [(0.10, 0.005), (-0.10, 0.005)], "is mixed"),
]


@pytest.mark.parametrize("primary,se,settings,word", CASES, ids=[c[-1] for c in CASES])
def test_each_word_comes_from_its_hand_made_case(primary, se, settings, word):
    v = judge("table2", made(primary, se), settings={0.05 * (i + 1): made(e, s) for i, (e, s) in enumerate(settings)},
              included=[0.05, 0.1], what="intensity")
    assert v.word == word and v.word in WORDS


def test_a_claim_of_lower_holds_when_the_nsde_is_lower():
    assert judge("table1", made(-0.04, 0.005)).word == "holds"
    assert judge("table1", made(0.04, 0.005)).word == "does not hold"


def test_a_question_without_direction_is_answered_higher_or_lower():
    assert judge("noise-training", made(0.04, 0.005)).word == "higher"
    assert judge("noise-training", made(-0.04, 0.005)).word == "lower"
    assert judge("noise-training", made(0.0, 0.001)).word == "equivalent"


def test_the_paper_effect_is_computed_from_the_paper_tables_on_the_included_settings():
    t2 = paper.TABLE2
    first_two = ((t2["Neural SDE"][0] - t2["ConvNeXt-Base"][0]) + (t2["Neural SDE"][1] - t2["ConvNeXt-Base"][1])) / 200
    assert paper_table2_effect([0.05, 0.1]) == pytest.approx(first_two)
    assert paper_table3_effect([0.05, 0.1, 0.15, 0.2]) == pytest.approx(0.0625)
    assert CLAIMS["table1"].paper_effect(()) == pytest.approx(-0.0432)
    with pytest.raises(ValueError, match="no intensity"):
        paper_table2_effect([0.3])


def test_an_inconclusive_sentence_says_what_the_data_cannot_exclude_and_names_the_paper_effect():
    v = judge("table2", made(0.02, 0.02), settings={0.05: made(0.02, 0.02), 0.1: made(0.02, 0.02)},
              included=[0.05, 0.1], excluded=[0.75, 1.0], what="intensity")
    s = v.sentence()
    assert "**inconclusive**" in s and "+2.0 points" in s and "5 training seeds per model, 200 images" in s
    assert f"{100 * paper_table2_effect([0.05, 0.1]):+.1f} points, which this interval contains" in s
    assert "cannot exclude differences from" in s and "detectable with 80% power" in s
    assert "intensity 0.75 and 1" in s


def test_evidence_against_the_paper_number_is_said_as_such():
    v = judge("table3", made(0.0, 0.005), included=[0.05, 0.1, 0.15, 0.2])
    assert v.word == "equivalent" and "+6.2 points, which this interval excludes" in v.sentence()


def test_one_seed_is_said_to_be_about_those_networks():
    v = judge("table2", SeedTest(0.05, 0.01, 199, 1, 200, method="images (one seed)"), included=[0.05])
    assert "these two trained networks, not the method" in v.sentence()


def test_short_form_carries_word_estimate_and_interval():
    v = judge("table4", made(0.1, 0.01))
    assert v.short.startswith("holds: +0.100 [")


def test_a_sentence_says_whose_claim_it_is():
    assert CLAIMS["table2"].head == "The paper's claim (Table 2) that the NSDE is more accurate under random noise"
    assert CLAIMS["table3-adaptive"].head.startswith("The claim that the NSDE keeps more accuracy against")
    assert CLAIMS["table3-adaptive"].head.endswith("(not in the paper: Table 3's claim under an adaptive attack)")
    assert CLAIMS["less-data"].head == "Our reading of Sec. 5, that the NSDE helps more when training data are scarce"
    assert not any(c.head.startswith("The paper's") for c in CLAIMS.values() if c.source.startswith("not in"))

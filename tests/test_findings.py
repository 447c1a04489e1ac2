"""nsde.report.findings: chapters record verdicts; the findings page reads them back, per data set."""
import pytest

from nsde.report import findings
from nsde.report.claims import CLAIMS, judge
from nsde.stats.inference import SeedTest


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def verdict(key="table2", estimate=0.05, se=0.005):
    return judge(key, SeedTest(estimate, se, 4, 5, 200), included=[0.05, 0.1])


def test_every_claim_has_a_paper_entry_and_a_chapter():
    numbers = findings.paper_numbers()
    assert set(numbers) == set(CLAIMS)
    assert "87.20%" in numbers["table1"] and "82.88%" in numbers["table1"]  # from nsde.report.paper, not typed here
    assert all(c.chapter[:2].isdigit() for c in CLAIMS.values())


def test_recorded_verdicts_fill_their_row_and_column_with_estimate_sizes_and_power():
    findings.record("p", verdict(), "plaid", chapter="07_plaid")
    findings.record("p", verdict(estimate=0.0, se=0.03), "harmonic")
    findings.record("p", verdict(), "harmonic")  # the same key again: replaced
    table = findings.findings_table("p")
    assert list(table.columns) == ["paper", "harmonic", "plaid"]  # the simulator first
    assert len(table) == len(CLAIMS) and table.index[0] == f"{CLAIMS['table1'].source}: {CLAIMS['table1'].text}"
    assert "(not in the paper" in table.index[list(CLAIMS).index("table3-adaptive")]
    row = table.loc[f"{CLAIMS['table2'].source}: {CLAIMS['table2'].text}"]
    assert row["harmonic"].startswith("[holds](03_robustness) +5.0 points [")
    assert "5 training seeds per model, 200 images; detectable:" in row["harmonic"]
    assert row["plaid"].startswith("[holds](07_plaid)")
    assert (table.drop(index=row.name)[["harmonic", "plaid"]] == "not run").all().all()
    assert len(findings.load("p")) == 2
    compact = findings.findings_table("p", compact=True)
    assert "detectable" not in compact.loc[row.name, "harmonic"]


def test_profiles_are_kept_apart_and_clear_forgets_one():
    findings.record("a", verdict("table1", -0.04), "harmonic")
    findings.record("b", verdict("table1", 0.04), "harmonic")
    findings.clear("a")
    assert findings.load("a").empty and findings.load("b")["verdict"].tolist() == ["does not hold"]
    assert (findings.findings_table("a")["harmonic"] == "not run").all()


def test_a_finding_that_is_not_a_seed_test_is_recorded_as_text():
    findings.record_text("p", "iaside", "harmonic", "runs against the claim", "Spearman rho -0.80 ...")
    assert findings.load("p")["verdict"].tolist() == ["runs against the claim"]


def test_an_unknown_claim_is_refused():
    with pytest.raises(ValueError, match=r"claim must be one of \[.*'table1'.*\], but found 'table9'"):
        findings.record_text("p", "table9", "harmonic", "holds", "x")


@pytest.mark.parametrize("profile, others", [("quick", ("default", "paper profile")),
                                             ("default", ("quick", "paper profile"))])
def test_a_build_speaks_only_of_its_own_profile(profile, others):
    findings.record(profile, verdict(), "harmonic")
    text = findings.answer(profile) + findings.evidence(profile) + findings.findings_table(profile).to_string()
    assert not [o for o in others if o in text]


def test_more_seeds_shrink_the_detectable_effect_in_the_frontier():
    findings.record("p", verdict(estimate=0.01, se=0.02), "harmonic")
    frontier = findings.power_frontier("p", seeds=(5, 20)).iloc[0]
    five, twenty = (float(frontier[f"{s} seeds"].split()[0]) for s in (5, 20))
    assert twenty < five and frontier["claim"] == "table2"

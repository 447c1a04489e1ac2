"""nsde.report.findings: chapters record verdicts; the findings page reads them back, per data set."""
import pytest

from nsde.report import findings


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def test_every_claim_has_a_paper_entry_and_a_chapter():
    numbers = findings.paper_numbers()
    assert set(numbers) == set(findings.CLAIMS)
    assert "87.20%" in numbers["table1"] and "82.88%" in numbers["table1"]  # from nsde.report.paper, not typed here
    assert all(chapter[:2].isdigit() for _, chapter in findings.CLAIMS.values())


def test_recorded_verdicts_fill_their_row_and_column_and_link_to_the_chapter():
    findings.record("p", "table2", "plaid", "holds", "The NSDE is better ...", chapter="07_plaid")
    findings.record("p", "table2", "harmonic", "is not supported", "No difference ...")
    findings.record("p", "table2", "harmonic", "holds", "again", chapter="03_robustness")  # same key: replaced
    table = findings.findings_table("p")
    assert list(table.columns) == ["paper", "harmonic", "plaid"]  # the simulator first
    assert list(table.index) == [text for text, _ in findings.CLAIMS.values()]
    row = table.loc[findings.CLAIMS["table2"][0]]
    assert row["harmonic"] == "[holds](03_robustness)" and row["plaid"] == "[holds](07_plaid)"
    assert (table.drop(index=row.name)[["harmonic", "plaid"]] == "not run").all().all()
    assert len(findings.load("p")) == 2


def test_profiles_are_kept_apart_and_clear_forgets_one():
    findings.record("a", "table1", "harmonic", "holds", "x")
    findings.record("b", "table1", "harmonic", "does not hold", "y")
    findings.clear("a")
    assert findings.load("a").empty and findings.load("b")["verdict"].tolist() == ["does not hold"]
    assert (findings.findings_table("a")["harmonic"] == "not run").all()


def test_an_unknown_claim_is_refused():
    with pytest.raises(ValueError, match=r"claim must be one of \[.*'table1'.*\], but found 'table9'"):
        findings.record("p", "table9", "harmonic", "holds", "x")

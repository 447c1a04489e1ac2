"""nsde.stats.compare: paired and seed-pooled comparisons of per-image correctness."""
import numpy as np
import pandas as pd
import pytest

from nsde.stats.compare import compare_tables, format_tables, outcome, pool_seeds
from nsde.stats.intervals import Interval


def _table(correct: dict) -> pd.DataFrame:
    rows = [{"eps": k, "accuracy": float(np.mean(v)), "low": 0.0, "high": 1.0} for k, v in correct.items()]
    df = pd.DataFrame(rows)
    df.attrs["correct"] = {k: tuple(np.asarray(v, dtype=float).tolist()) for k, v in correct.items()}
    return df


def test_outcome_from_the_interval():
    assert outcome(Interval(0.1, 0.02, 0.2, 10)) == "higher"
    assert outcome(Interval(-0.1, -0.2, -0.01, 10)) == "lower"
    assert outcome(Interval(0.05, -0.01, 0.1, 10)) == "no difference"


def test_paired_comparison_row_by_row():
    a = _table({0.1: [1] * 40, 0.2: [1, 0] * 20, 0.3: [0] * 40})
    b = _table({0.1: [0] * 40, 0.2: [1, 0] * 20, 0.3: [1] * 40})
    cmp = compare_tables(a, b, "eps")
    assert cmp["outcome"].tolist() == ["higher", "no difference", "lower"]
    assert cmp.loc[0.1, "difference"] == 1.0 and cmp.loc[0.2, "difference"] == 0.0
    c = _table({0.1: [1] * 30})
    with pytest.raises(ValueError, match="same images"):
        compare_tables(a, c, "eps")
    with pytest.raises(ValueError, match="per-image correctness"):
        compare_tables(a, pd.DataFrame(b), "eps")


def test_pooled_seeds_are_compared_with_the_seed_as_unit():
    rng = np.random.default_rng(0)
    seeds = [_table({0.1: (rng.random(100) < p).astype(float)}) for p in (0.5, 0.6, 0.7)]
    pooled = pool_seeds(seeds, "eps")
    assert pooled["seeds"].iloc[0] == 3 and pooled["n"].iloc[0] == 100
    assert pooled["accuracy"].iloc[0] == pytest.approx(np.mean([t["accuracy"].iloc[0] for t in seeds]))
    assert pooled["seed sd"].iloc[0] > 0.05
    base = pool_seeds([_table({0.1: (rng.random(100) < 0.1).astype(float)}) for _ in range(3)], "eps")
    cmp = compare_tables(pooled, base, "eps")
    assert cmp["outcome"].iloc[0] == "higher"
    one = compare_tables(seeds[0], _table({0.1: base.attrs["correct"][0.1][0]}), "eps")
    assert (cmp["high"] - cmp["low"]).iloc[0] > (one["high"] - one["low"]).iloc[0]  # seed spread widens it
    with pytest.raises(ValueError, match="same seeds and images"):
        compare_tables(pooled, seeds[0], "eps")
    with pytest.raises(ValueError, match="different eps rows"):
        pool_seeds([seeds[0], _table({0.2: [1.0] * 100})], "eps")


def test_format_tables_side_by_side():
    a = pd.DataFrame(dict(eps=[0.1, 0.3], accuracy=[0.9, 0.1], low=[0.8, 0.0], high=[0.95, 0.2]))
    f = format_tables({"a": a, "b": a.iloc[:1]}, "eps")
    assert f.loc[0.1, "a"] == "90.0 [80.0, 95.0]" and f.loc[0.3, "b"] == "-"

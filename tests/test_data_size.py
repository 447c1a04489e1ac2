"""nsde.studies.data_size: the less-training-data study scores every pair on the same images."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nsde.data import SignalDataset
from nsde.measures.evaluation import correctness
from nsde.studies.data_size import data_size_table, fraction_epochs, train_fraction_zoo
from nsde.studies.profiles import get_profile


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def _split(n_per_class, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(4).repeat_interleave(n_per_class)
    r, c = torch.arange(32)[:, None], torch.arange(32)[None, :]
    pat = torch.stack([torch.zeros(32, 32), (r % 2).expand(32, 32), (c % 2).expand(32, 32), ((r + c) % 2).float()])
    x = (0.4 * torch.rand(len(y), 1, 32, 32, generator=g) + 0.6 * pat[y][:, None]).clamp(0, 1)
    return SignalDataset(x.float(), y.long())


def test_every_pair_is_scored_on_the_same_images_over_seeds():
    splits = SimpleNamespace(train=_split(12, 0), val=_split(6, 1), test=_split(5, 2), class_names=list("abcd"))
    P = dataclasses.replace(get_profile("quick"), arch="convnext_atto", epochs=1, batch_size=16)
    runs = train_fraction_zoo(splits, P, [0.5, 1.0], n_seeds=2)
    assert list(runs) == [0.5, 1.0] and len(runs[0.5]["baseline"]) == 2
    assert runs[0.5]["baseline"][0].key != runs[1.0]["baseline"][0].key
    assert [len(runs[f]["baseline"][0].history) for f in (0.5, 1.0)] == [2, 1]  # the same number of steps
    table = data_size_table(runs, splits, intensities=[0.0, 0.1], samples=2)
    assert len(table) == 4 and table["train images"].tolist() == [24, 24, 48, 48] and set(table["seeds"]) == {2}
    assert np.allclose(table["difference"], table["nsde"] - table["baseline"])
    for col in ("baseline", "nsde"):
        assert ((table[f"{col} low"] <= table[col]) & (table[col] <= table[f"{col} high"])).all()
    clean = np.mean([correctness(t, splits.test.x, splits.test.y).mean() for t in runs[1.0]["baseline"]])
    assert table.query("fraction == 1.0 and intensity == 0.0")["baseline"].item() == pytest.approx(clean)
    again = data_size_table(runs, splits, intensities=[0.0, 0.1], samples=2)
    assert again.equals(table)  # seeded: the same numbers twice
    with pytest.raises(ValueError, match="fractions must lie in"):
        train_fraction_zoo(splits, P, [1.5])


def test_a_smaller_training_set_gets_the_epochs_of_the_same_number_of_steps():
    assert [fraction_epochs(10, f) for f in (1.0, 0.5, 0.25, 0.1, 0.3)] == [10, 20, 40, 100, 34]
    with pytest.raises(ValueError, match=r"fraction must lie in \(0, 1\], but found 0"):
        fraction_epochs(10, 0.0)

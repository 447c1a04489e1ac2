"""Tests of the STFT spectrogram images and of the dataset splits (nsde.data)."""
import pytest
import torch

from nsde.data import (CLASS_NAMES, DataConfig, SignalDataset, STFTConfig, generate_dataset, load_splits,
                       min_image_size, row_of_frequency, spectrogram, stratified_split, stratified_subset, waveform)

FS = 200_000.0


def test_spectrogram_shape_range_and_line_position():
    x = torch.stack([waveform("sine", 25_000.0, 8192, FS), waveform("sine", 75_000.0, 8192, FS)])
    img = spectrogram(x, 32, STFTConfig(freq_scale="linear"))
    assert img.shape == (2, 1, 32, 32) and img.dtype == torch.float32
    assert img.min() >= 0 and img.max() <= 1
    assert torch.allclose(img.amax(dim=(1, 2, 3)), torch.ones(2))
    rows = img[:, 0].mean(-1).argmax(-1)  # row 0 = DC, row 31 = 100 kHz
    assert (rows - torch.tensor([8, 24])).abs().max() <= 1


@pytest.mark.parametrize("f0", [600.0, 3_000.0, 20_000.0, 80_000.0])
def test_log_axis_puts_a_line_at_its_row(f0):
    stft = STFTConfig(freq_scale="log")
    img = spectrogram(waveform("sine", f0, 8192, FS)[None], 64, stft)
    row = int(img[0, 0].mean(-1).argmax())
    assert abs(row + 0.5 - float(row_of_frequency(f0, 64, FS, stft))) <= 1.5
    # equal frequency ratios are equal row distances on the log axis
    r = row_of_frequency([1e3, 2e3, 4e3], 64, FS, stft)
    assert torch.isclose(r[1] - r[0], r[2] - r[1])


def test_bad_stft_config():
    with pytest.raises(ValueError, match="freq_scale"):
        STFTConfig(freq_scale="mel")
    with pytest.raises(ValueError, match="hop"):
        STFTConfig(hop=0)


def test_top_db_floor():
    x = waveform("sine", 10_000.0, 8192, FS)[None]
    img = spectrogram(x, 32, STFTConfig(top_db=40.0))
    # the floor is 40 dB below the peak: a pure tone gives a large zero-valued background
    assert (img == 0).float().mean() > 0.5


def test_image_size_too_small_names_the_values():
    need = min_image_size(STFTConfig(), FS, 50_000.0)
    assert need == 16
    with pytest.raises(ValueError, match=r"image_size=8 .*n_fft=1024.*need image_size >= 16"):
        DataConfig(image_size=8)
    with pytest.raises(ValueError, match="NaN"):
        spectrogram(torch.full((1, 8192), float("nan")), 32)


def test_stratified_split_is_exact_and_deterministic():
    y = torch.arange(16).repeat_interleave(625)
    tr, va, te = stratified_split(y, (0.7, 0.15, 0.15), seed=0)
    assert len(tr) + len(va) + len(te) == 10_000
    assert len(set(tr.tolist()) | set(va.tolist()) | set(te.tolist())) == 10_000
    for idx, n in ((tr, 438), (va, 94), (te, 93)):
        assert torch.bincount(y[idx], minlength=16).tolist() == [n] * 16
    tr2, _, _ = stratified_split(y, (0.7, 0.15, 0.15), seed=0)
    tr3, _, _ = stratified_split(y, (0.7, 0.15, 0.15), seed=1)
    assert torch.equal(tr, tr2) and not torch.equal(tr, tr3)


def test_load_splits_balance_determinism_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path))
    cfg = DataConfig(n_per_class=6, image_size=16)
    s = load_splits(cfg)
    assert s.class_names == list(CLASS_NAMES) and len(s.location_names) == 6
    for ds, n in ((s.train, 4), (s.val, 1), (s.test, 1)):
        assert isinstance(ds, torch.utils.data.Dataset)
        assert ds.x.dtype == torch.float32 and ds.x.shape[1:] == (1, 16, 16)
        assert ds.y.dtype == torch.int64 and torch.bincount(ds.y, minlength=16).tolist() == [n] * 16
        assert 0 <= ds.x.min() and ds.x.max() <= 1
        xi, yi = ds[0]
        assert xi.shape == (1, 16, 16) and yi.dtype == torch.int64
        assert set(ds.meta) >= {"location", "f0", "snr_db"} and len(ds.meta["location"]) == len(ds)
    files = sorted(p.name for p in tmp_path.rglob("*.pt"))
    assert files == ["manifest.pt", "test.pt", "train.pt", "val.pt"]
    again = load_splits(cfg)  # from the cache
    assert torch.equal(again.train.x, s.train.x) and torch.equal(again.test.meta["f0"], s.test.meta["f0"])
    fresh = generate_dataset(cfg, show_progress=False)  # recomputed, same seed: identical tensors
    assert torch.equal(fresh.x[s.train.meta["index"]], s.train.x)
    other = generate_dataset(DataConfig(n_per_class=6, image_size=16, seed=1), show_progress=False)
    assert not torch.equal(other.x, fresh.x)


def test_split_deals_groups_round_robin():
    y = torch.arange(16).repeat_interleave(120)
    loc = (torch.arange(120).repeat(16) + y) % 6
    parts = stratified_split(y, (0.7, 0.15, 0.15), seed=0, groups=loc)
    for idx, n in zip(parts, (84, 18, 18)):
        assert torch.bincount(y[idx], minlength=16).tolist() == [n] * 16
        for c in range(16):  # each class's locations within one sample of even
            counts = torch.bincount(loc[idx][y[idx] == c], minlength=6)
            assert counts.max() - counts.min() <= 1, (c, counts)


def test_locations_are_balanced_per_class():
    d = generate_dataset(DataConfig(n_per_class=12, image_size=16), show_progress=False)
    for c in range(16):
        assert torch.bincount(d.meta["location"][d.y == c], minlength=6).tolist() == [2] * 6


def test_signal_dataset_validates_shapes():
    with pytest.raises(ValueError, match="x must be float32"):
        SignalDataset(torch.zeros(2, 4, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="y must be int64"):
        SignalDataset(torch.zeros(2, 1, 4, 4), torch.zeros(3, dtype=torch.long))


def test_stratified_subset_keeps_each_class_share_and_is_seeded():
    y = torch.arange(4).repeat_interleave(torch.tensor([10, 6, 3, 1]))
    data = SignalDataset(torch.rand(len(y), 1, 4, 4), y, {"loc": torch.arange(len(y))})
    sub = stratified_subset(data, 0.5, seed=0)
    assert torch.bincount(sub.y, minlength=4).tolist() == [5, 3, 2, 1]  # round(1.5) = 2; never 0
    idx = sub.meta["loc"]
    assert torch.equal(idx, idx.sort().values) and torch.equal(sub.x, data.x[idx]) and torch.equal(sub.y, y[idx])
    assert torch.equal(stratified_subset(data, 0.5, seed=0).meta["loc"], idx)
    assert not torch.equal(stratified_subset(data, 0.5, seed=1).meta["loc"], idx)
    assert stratified_subset(data, 1.0) is data
    for bad in (0, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="fraction"):
            stratified_subset(data, bad)


def test_stratified_split_spreads_unequal_groups_over_the_splits():
    y = torch.zeros(100, dtype=torch.long)
    groups = torch.cat([torch.zeros(90, dtype=torch.long), torch.ones(10, dtype=torch.long)])
    tr, va, te = stratified_split(y, (0.7, 0.15, 0.15), seed=0, groups=groups)
    small = [int((groups[idx] == 1).sum()) for idx in (tr, va, te)]
    assert small[0] in (6, 7, 8) and small[1] >= 1 and small[2] >= 1  # the small group is in every split

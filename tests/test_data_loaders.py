"""Real-recording loaders (HDF5 folder, UCR/UEA .ts) and the data entry point of nsde.data."""
import h5py
import numpy as np
import pytest
import torch

from nsde.data import (RecordingConfig, STFTConfig, fit_length, load_dataset, load_hdf5_folder, load_ts, read_ts,
                       spectrogram, waveform)

FS = 200_000.0
CFG = RecordingConfig(image_size=16, stft=STFTConfig(n_fft=256, hop=32))
KINDS = ("sine", "square", "triangle")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def _signal(kind, i, n=2048):
    return waveform(kind, 2_000.0 * (1 + i), n, FS, phase=0.1 * i).numpy()


def _write_h5(folder, n_per_class=3, sensors=("s0", "s1"), rate=FS, n=2048, suffix=".h5", two_d=False):
    folder.mkdir()
    rows = ["file,label"]
    for c, kind in enumerate(KINDS):
        for i in range(n_per_class):
            name = f"rec_{kind}_{i}{suffix}"
            with h5py.File(folder / name, "w") as h5:
                if rate is not None:
                    h5.attrs["sample_rate"] = rate
                if two_d:  # one (samples x channels) dataset holding every sensor
                    h5.create_dataset("sensors", data=np.stack([_signal(kind, i, n) * (1 + s) for s in
                                                                range(len(sensors))], 1))
                else:
                    for s, sensor in enumerate(sensors):
                        h5.create_dataset(sensor, data=_signal(kind, i, n) * (1 + s))
            rows.append(f"{name},{kind}")
    csv = folder.parent / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    return folder, csv


def _write_ts(path, cases, labels=KINDS, bom=False, equal=True):
    lines = ["@problemName harmonic", "@timeStamps false", "@missing false", "@univariate false",
             f"@dimensions {len(cases[0][0])}", f"@equalLength {'true' if equal else 'false'}",
             f"@classLabel true {' '.join(labels)}", "@data"]
    for dims, label in cases:
        lines.append(":".join(",".join(f"{v:.6g}" for v in d) for d in dims) + f":{label}")
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ts_cases(n_per_class=3, n=1024, lengths=None):
    cases = []
    for k in KINDS:
        for i in range(n_per_class):
            m = lengths[i % len(lengths)] if lengths else n
            cases.append(([_signal(k, i, m), 0.5 * _signal(k, i, m)], k))
    return cases


def _records(s):
    return {name: set(ds.meta["record"].tolist()) for name, ds in s.items()}


def _assert_no_leak(s):
    r = _records(s)
    assert not (r["train"] & r["val"]) and not (r["train"] & r["test"]) and not (r["val"] & r["test"])
    s.check_disjoint()


def test_hdf5_round_trip_and_windows_of_a_recording_stay_together(tmp_path):
    folder, csv = _write_h5(tmp_path / "rec", n_per_class=4)
    s = load_hdf5_folder(folder, csv, CFG, window=512, sensors_as="images")
    assert s.class_names == sorted(KINDS) and s.location_names == ["s0", "s1"] and s.sample_rate == FS
    assert len(s.train) + len(s.val) + len(s.test) == 3 * 4 * 2 * 4  # classes x recordings x sensors x windows
    _assert_no_leak(s)
    table = s.table()
    assert table["recordings"].sum() == 12 and table["samples"].sum() == 96
    for ds in s:
        assert ds.x.shape[1:] == (1, 16, 16) and ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64
        assert 0 <= ds.x.min() and ds.x.max() <= 1
    i = 0  # the loaded images are the spectrograms of the written signals
    rec, loc = int(s.train.meta["record"][i]), int(s.train.meta["location"][i])
    files = sorted(p for p in folder.iterdir())
    with h5py.File(files[rec]) as h5:
        sig = torch.as_tensor(h5[["s0", "s1"][loc]][()], dtype=torch.float32).reshape(4, 512)
    expected = spectrogram(sig, 16, CFG.stft, FS)
    assert any(torch.allclose(s.train.x[i], e, atol=1e-6) for e in expected)
    again = load_hdf5_folder(folder, csv, CFG, window=512, sensors_as="images")  # cached
    assert torch.equal(again.train.x, s.train.x)
    channels = load_hdf5_folder(folder, csv, CFG, window=512)  # the default: the two sensors are one image's channels
    assert sum(len(ds) for ds in channels) == 3 * 4 * 4 and channels.in_chans == 2
    assert channels.train.meta["series"].shape == (len(channels.train), 2, 512)


def test_hdf5_rate_from_the_file_suffix_case_2d_datasets_and_bom(tmp_path):
    folder, csv = _write_h5(tmp_path / "rec", n_per_class=6, rate=50_000.0, suffix=".H5", two_d=True)
    csv.write_text("\ufeff" + csv.read_text())  # a byte-order mark, as spreadsheet exports write
    s = load_hdf5_folder(folder, csv, CFG)
    assert s.sample_rate == 50_000.0  # taken from the files
    assert s.location_names == ["sensors[0]", "sensors[1]"]  # the 2-D dataset's columns are sensors
    assert len(s.train) + len(s.val) + len(s.test) == 3 * 6 and s.in_chans == 2  # window=None: one per recording
    at_200k = load_hdf5_folder(*_write_h5(tmp_path / "fast", n_per_class=6), CFG)
    # the same STFT on another sampling rate shows other frequencies: the images differ
    assert not torch.allclose(s.train.x.mean(0), at_200k.train.x.mean(0), atol=1e-3)


def test_ts_unequal_lengths_pairs_and_bom(tmp_path):
    cases = _ts_cases(lengths=[800, 1024, 960])
    path = _write_ts(tmp_path / "H_TRAIN.ts", cases, bom=True, equal=False)
    series, labels, declared = read_ts(path)
    assert [c.shape for c in series[:3]] == [(2, 800), (2, 1024), (2, 960)] and declared == list(KINDS)
    assert np.allclose(series[1][0].numpy(), _signal("sine", 1, 1024), atol=1e-5)
    with pytest.raises(ValueError, match="unequal lengths .* length_policy='crop', 'pad' or 'resample'"):
        load_ts(path, sample_rate=FS, cfg=CFG)
    assert fit_length(series, "crop").shape[-1] == 800
    assert fit_length(series, "pad").shape[-1] == 1024
    assert fit_length(series, "resample", 512).shape[-1] == 512
    _write_ts(tmp_path / "H_TEST.ts", _ts_cases(n_per_class=2, lengths=[900]), equal=False)
    s = load_ts(path, sample_rate=FS, cfg=CFG, length_policy="pad")
    assert s.name == "H" and s.info["files"] == ["H_TRAIN.ts", "H_TEST.ts"]
    assert len(s.test) == 3 * 2 and s.in_chans == 2  # the TEST file's cases, kept as the test split, one image each
    assert len(s.train) + len(s.val) == 3 * 3
    _assert_no_leak(s)


def test_ts_windows_of_a_case_stay_in_one_split(tmp_path):
    path = _write_ts(tmp_path / "w.ts", _ts_cases(n_per_class=4, n=2048))
    s = load_ts(path, sample_rate=FS, cfg=CFG, window=512, sensors_as="images")
    assert len(s.train) + len(s.val) + len(s.test) == 3 * 4 * 2 * 4
    assert sum(len(r) for r in _records(s).values()) == 3 * 4  # one id per case: its windows and dimensions share it
    _assert_no_leak(s)
    # the sampling rate sets the STFT's frequency axis: the same samples at half the rate look different
    slow = load_ts(path, sample_rate=FS / 2, cfg=CFG, window=512, sensors_as="images")
    assert slow.sample_rate == FS / 2
    assert not torch.allclose(s.train.x.mean(0), slow.train.x.mean(0), atol=1e-3)


def test_ts_bad_inputs(tmp_path):
    good = _write_ts(tmp_path / "good.ts", _ts_cases())
    text = good.read_text()
    bad = tmp_path / "bad.ts"
    for broken, message in [(text.replace(text.splitlines()[-1], "1,2,x:sine"), "bad.ts: not a readable .ts file"),
                            (text.replace("@classLabel true sine square triangle\n", ""), "bad.ts: no '@classLabel"),
                            (text.replace(":triangle\n", ":sawtooth\n", 1), r"labels \['sawtooth'\]")]:
        bad.write_text(broken)
        with pytest.raises(ValueError, match=message):
            read_ts(bad)
    with pytest.raises(FileNotFoundError, match="missing.ts"):
        read_ts(tmp_path / "missing.ts")
    empty = _write_ts(tmp_path / "empty.ts", _ts_cases(), labels=KINDS + ("sawtooth",))
    with pytest.raises(ValueError, match="sawtooth"):
        load_ts(empty, sample_rate=FS, cfg=CFG)
    with pytest.raises(ValueError, match="sample_rate"):
        load_ts(good, sample_rate=-1, cfg=CFG)
    with pytest.raises(ValueError, match=r"good.ts: the STFT settings do not fit .* `dataset: stft: n_fft` is 4096, "
                                         r"longer than the recordings: write n_fft: 256"):
        load_ts(good, sample_rate=FS, cfg=RecordingConfig(image_size=16, stft=STFTConfig(n_fft=4096, hop=64)))
    with pytest.raises(ValueError, match="`dataset: stft: f_max_hz` is 120000 Hz, above the Nyquist frequency 100000 Hz: "
                                         "write f_max_hz: null"):
        load_ts(good, sample_rate=FS, cfg=RecordingConfig(16, STFTConfig(n_fft=256, hop=32, f_max_hz=120e3)))
    tiny = _write_ts(tmp_path / "tiny.ts", _ts_cases(n_per_class=2))  # 2 cases per class for 3 splits
    with pytest.raises(ValueError, match=r"data set 'tiny': class 'sine' has 2 recording\(s\): too few"):
        load_ts(tiny, sample_rate=FS, cfg=CFG, window=256)
    assert not list((tmp_path / "cache").rglob("*.pt"))  # nothing partial was cached


def test_hdf5_bad_inputs(tmp_path):
    folder, csv = _write_h5(tmp_path / "rec")
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"no label for recording rec_triangle_2.h5"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    csv.write_text("\n".join(lines + ["ghost.h5,sine"]) + "\n")
    with pytest.raises(FileNotFoundError, match="ghost.h5"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    csv.write_text("\n".join(lines) + "\n")
    with h5py.File(folder / "rec_sine_1.h5", "a") as h5:
        h5["s1"].attrs["sample_rate"] = 800_000.0
    with pytest.raises(ValueError, match=r"rec_sine_1.h5/s1: sample_rate 800000 Hz, but 200000 Hz was given"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    with h5py.File(folder / "rec_sine_1.h5", "a") as h5:
        del h5["s1"].attrs["sample_rate"]
    with h5py.File(folder / "rec_square_0.h5", "a") as h5:
        data = h5["s0"][()]
        data[17] = np.nan
        h5["s0"][...] = data
    with pytest.raises(ValueError, match=r"rec_square_0.h5/s0: NaN, missing or infinite sample at position 17"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    with h5py.File(folder / "rec_square_0.h5", "a") as h5:
        h5["s0"][17] = 0.0
    with pytest.raises(ValueError, match="empty class.*sawtooth"):
        load_hdf5_folder(folder, csv, CFG, window=1024, class_names=list(KINDS) + ["sawtooth"])
    with pytest.raises(FileNotFoundError, match="labels_missing.csv"):
        load_hdf5_folder(folder, tmp_path / "labels_missing.csv", CFG)
    with pytest.raises(ValueError, match="shorter than one window of 4096"):
        load_hdf5_folder(folder, csv, CFG, window=4096)
    norate, norate_csv = _write_h5(tmp_path / "norate", rate=None)
    with pytest.raises(ValueError, match="store no sample_rate attribute; pass sample_rate="):
        load_hdf5_folder(norate, norate_csv, CFG)
    assert not list((tmp_path / "cache").rglob("*.pt"))  # nothing partial was cached
    s = load_hdf5_folder(folder, csv, CFG, window=1024)  # repaired: loads
    assert len(s.train) > 0


def test_hdf5_labels_match_class_names_without_case_and_case_twins_are_refused(tmp_path):
    folder, csv = _write_h5(tmp_path / "rec")
    upper = [",".join([f, lab.upper()]) if i else f"{f},{lab}"
             for i, (f, lab) in enumerate(line.split(",") for line in csv.read_text().splitlines())]
    csv.write_text("\n".join(upper) + "\n")
    s = load_hdf5_folder(folder, csv, CFG, window=1024, class_names=list(KINDS))  # "SINE" is class "sine"
    assert s.class_names == list(KINDS)
    assert sorted(set(s.train.y.tolist()) | set(s.test.y.tolist())) == list(range(len(KINDS)))
    lines = csv.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + "," + lines[1].rsplit(",", 1)[1].lower()  # "sine" beside "SINE"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"labels \['SINE', 'sine'\] differ only in case.*give class_names"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    assert len(load_hdf5_folder(folder, csv, CFG, window=1024, class_names=list(KINDS)).class_names) == len(KINDS)


def test_load_dataset_names_every_source(tmp_path):
    plaid = load_dataset("plaid", image_size=32)
    assert plaid.name == "plaid" and plaid.num_classes == 11 and plaid.class_names[0] == "air conditioner"
    assert plaid.table()["recordings"].tolist() == [437, 100, 537]  # the official 537 test recordings kept
    assert plaid.sample_rate == 30_000.0
    harmonic = load_dataset("harmonic", image_size=32, n_per_class=6)
    assert harmonic.num_classes == 16 and harmonic.name == "harmonic"
    path = _write_ts(tmp_path / "mine.ts", _ts_cases(n_per_class=6))
    mine = load_dataset({"path": str(path), "sample_rate": FS, "stft": {"n_fft": 256, "hop": 32}}, image_size=16)
    assert mine.class_names == list(KINDS) and mine.name == "mine"
    with pytest.raises(ValueError, match="stores no sampling rate; add sample_rate"):
        load_dataset({"path": str(path)}, image_size=16)
    with pytest.raises(ValueError, match="neither a known data set"):
        load_dataset("plaidd")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['rate'\]"):
        load_dataset({"path": str(path), "rate": 1})
    with pytest.raises(ValueError, match=r"stft has unknown field\(s\) \['nfft'\]"):
        load_dataset({"path": str(path), "sample_rate": FS, "stft": {"nfft": 256}})


def test_a_damaged_dataset_cache_is_named_and_rebuilt(tmp_path):
    first = load_dataset("harmonic", image_size=32, n_per_class=6)
    damaged = next((tmp_path / "cache").rglob("train.pt"))
    damaged.write_bytes(damaged.read_bytes()[:200])
    with pytest.warns(UserWarning, match=rf"damaged dataset cache in {damaged.parent}"):
        again = load_dataset("harmonic", image_size=32, n_per_class=6)
    assert torch.equal(again.train.x, first.train.x)  # rebuilt, identical
    assert torch.equal(load_dataset("harmonic", image_size=32, n_per_class=6).test.x, first.test.x)

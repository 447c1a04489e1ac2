"""Tests of the real-recording loaders (HDF5 folder, UCR/UEA .ts) of nsde.data."""
import h5py
import numpy as np
import pytest
import torch

from nsde.data import DataConfig, load_hdf5_folder, load_ts, read_ts, waveform

FS = 200_000.0
CFG = DataConfig(n_per_class=3, image_size=16)
KINDS = ("sine", "square", "triangle")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def _signal(kind, i, n=2048):
    return waveform(kind, 2_000.0 * (1 + i), n, FS, phase=0.1 * i).numpy()


def _write_h5(folder, n_per_class=3, sensors=("s0", "s1"), rate=FS, n=2048):
    folder.mkdir()
    rows = ["file,label"]
    for c, kind in enumerate(KINDS):
        for i in range(n_per_class):
            name = f"rec_{kind}_{i}.h5"
            with h5py.File(folder / name, "w") as h5:
                h5.attrs["sample_rate"] = rate
                for s, sensor in enumerate(sensors):
                    h5.create_dataset(sensor, data=_signal(kind, i, n) * (1 + s))
            rows.append(f"{name},{kind}")
    csv = folder.parent / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    return folder, csv


def _write_ts(path, cases, labels=KINDS, extra_header=""):
    lines = ["@problemName harmonic", "@timeStamps false", "@univariate false", "@dimensions 2",
             "@equalLength true", f"@classLabel true {' '.join(labels)}", extra_header, "@data"]
    for dims, label in cases:
        lines.append(":".join(",".join(f"{v:.6g}" for v in d) for d in dims) + f":{label}")
    path.write_text("\n".join(l for l in lines if l) + "\n")
    return path


def _ts_cases(n_per_class=3, n=1024):
    return [([_signal(k, i, n), 0.5 * _signal(k, i, n)], k) for k in KINDS for i in range(n_per_class)]


def test_hdf5_round_trip(tmp_path):
    folder, csv = _write_h5(tmp_path / "rec")
    s = load_hdf5_folder(folder, csv, CFG, window=1024)
    assert s.class_names == sorted(KINDS) and s.location_names == ["s0", "s1"]
    n = len(s.train) + len(s.val) + len(s.test)
    assert n == 3 * 3 * 2 * 2  # classes x recordings x sensors x windows
    for ds in s:
        assert ds.x.shape[1:] == (1, 16, 16) and ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64
        assert 0 <= ds.x.min() and ds.x.max() <= 1
        assert set(ds.meta) >= {"location", "record"}
    # the loaded images are the spectrograms of the written signals
    from nsde.data import spectrogram
    i = 0
    rec, loc = int(s.train.meta["record"][i]), int(s.train.meta["location"][i])
    files = sorted(p for p in folder.iterdir())
    with h5py.File(files[rec]) as h5:
        sig = torch.as_tensor(h5[["s0", "s1"][loc]][()], dtype=torch.float32).reshape(2, 1024)
    expected = spectrogram(sig, 16)
    assert any(torch.allclose(s.train.x[i], e, atol=1e-6) for e in expected)
    again = load_hdf5_folder(folder, csv, CFG, window=1024)  # cached
    assert torch.equal(again.train.x, s.train.x)


def test_ts_round_trip_and_same_pipeline(tmp_path):
    path = _write_ts(tmp_path / "h.ts", _ts_cases())
    x, labels, declared = read_ts(path)
    assert x.shape == (9, 2, 1024) and labels[:3] == ["sine"] * 3 and declared == list(KINDS)
    assert np.allclose(x[0, 0].numpy(), _signal("sine", 0, 1024), atol=1e-5)
    s = load_ts(path, sampling_rate=FS, cfg=CFG)
    assert s.class_names == list(KINDS) and s.sample_rate == FS
    assert len(s.train) + len(s.val) + len(s.test) == 18
    assert torch.bincount(s.train.y).tolist() == [4, 4, 4]


def test_ts_bad_inputs(tmp_path):
    cases = _ts_cases()
    bad = tmp_path / "bad.ts"
    for text, message in [("@classLabel true a b\n@data\n1,2,x:a\n", r"bad.ts line 3.*non-numeric"),
                          ("@classLabel true a b\n1,2:a\n", r"bad.ts line 2.*header"),
                          ("@classLabel true a b\n@data\n1,2,?:a\n", r"bad.ts line 3.*NaN"),
                          ("@classLabel true a b\n@data\n1,2,3:c\n", r"label 'c'"),
                          ("@classLabel true a b\n@data\n1,2,3:a\n1,2:b\n", r"unequal length")]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_ts(bad)
    with pytest.raises(FileNotFoundError, match="missing.ts"):
        read_ts(tmp_path / "missing.ts")
    # an empty class: declared but without a case
    empty = _write_ts(tmp_path / "empty.ts", cases, labels=KINDS + ("sawtooth",))
    with pytest.raises(ValueError, match="sawtooth"):
        load_ts(empty, sampling_rate=FS, cfg=CFG)
    good = _write_ts(tmp_path / "good.ts", cases)
    with pytest.raises(ValueError, match="sampling_rate"):
        load_ts(good, sampling_rate=-1, cfg=CFG)
    with pytest.raises(ValueError, match="image_size=8"):
        load_ts(good, sampling_rate=FS, cfg=_small_image_cfg())
    assert not list((tmp_path / "cache").rglob("*.pt"))  # nothing partial was cached


def _small_image_cfg():
    cfg = DataConfig(n_per_class=3, image_size=16)
    object.__setattr__(cfg, "image_size", 8)  # bypass the constructor check to reach the loader's
    return cfg


def test_hdf5_bad_inputs(tmp_path):
    folder, csv = _write_h5(tmp_path / "rec")
    # label CSV missing a recording
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"no label for recording rec_triangle_2.h5"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    # CSV row naming a file that does not exist
    csv.write_text("\n".join(lines + ["ghost.h5,sine"]) + "\n")
    with pytest.raises(FileNotFoundError, match="ghost.h5"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    csv.write_text("\n".join(lines) + "\n")
    # unexpected sampling rate
    with h5py.File(folder / "rec_sine_1.h5", "a") as h5:
        h5["s1"].attrs["sample_rate"] = 800_000.0
    with pytest.raises(ValueError, match=r"rec_sine_1.h5/s1: sample_rate 800000 Hz, expected 200000 Hz"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    del_attr(folder / "rec_sine_1.h5", "s1")
    # NaN samples
    with h5py.File(folder / "rec_square_0.h5", "a") as h5:
        data = h5["s0"][()]
        data[17] = np.nan
        h5["s0"][...] = data
    with pytest.raises(ValueError, match=r"rec_square_0.h5/s0: NaN or infinite sample at position 17"):
        load_hdf5_folder(folder, csv, CFG, window=1024)
    with h5py.File(folder / "rec_square_0.h5", "a") as h5:
        h5["s0"][17] = 0.0
    # an empty class
    with pytest.raises(ValueError, match="empty class.*sawtooth"):
        load_hdf5_folder(folder, csv, CFG, window=1024, class_names=list(KINDS) + ["sawtooth"])
    with pytest.raises(FileNotFoundError, match="labels_missing.csv"):
        load_hdf5_folder(folder, tmp_path / "labels_missing.csv", CFG)
    assert not list((tmp_path / "cache").rglob("*.pt"))  # nothing partial was cached
    s = load_hdf5_folder(folder, csv, CFG, window=1024)  # repaired: loads
    assert len(s.train) > 0


def del_attr(path, dataset):
    with h5py.File(path, "a") as h5:
        del h5[dataset].attrs["sample_rate"]

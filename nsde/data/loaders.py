"""Loaders that bring real recordings into the harmonic-signals pipeline.

Both produce the same ``Splits`` as the simulator (arXiv 2409.01532 dataset shape): each
sample is one window of one sensor's recording, turned into a spectrogram image by
``nsde.data.spectrogram`` with the ``DataConfig``'s STFT and image size, then split 70/15/15
per class. Results are cached under a hash of the files' contents and the arguments, and
only after every file has been read and checked, so a bad input never leaves a partial
cache entry.

* ``load_hdf5_folder``: ORNL's layout, a folder of HDF5 files, one file per recording and
  one 1-D dataset per sensor inside it, optionally with a ``sample_rate`` attribute (on
  the file or the dataset), plus a CSV of labels with columns ``file,label``.
* ``load_ts``: UCR/UEA ``.ts`` time-series classification files (the sktime format), each
  dimension of a case being one sensor; ``.ts`` files do not store a sampling rate, so
  ``sampling_rate`` is an argument.
"""
from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import torch
from torch import Tensor

from ..cache import artifact_dir, cache_root, config_hash
from .dataset import DataConfig, SignalDataset, Splits, _load_saved, _save_splits, make_splits
from .spectrogram import check_image_size, spectrogram

__all__ = ["read_ts", "load_ts", "read_hdf5_folder", "load_hdf5_folder", "recordings_to_splits"]

LOADER_VERSION = 1


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _check_finite(x: Tensor, where: str) -> None:
    bad = ~torch.isfinite(x)
    if bad.any():
        first = int(torch.nonzero(bad.reshape(-1))[0])
        raise ValueError(f"{where}: NaN or infinite sample at position {first}")


def _windows(x: Tensor, window: int | None, where: str) -> Tensor:
    """Non-overlapping windows ``(n_windows, window)`` of a 1-D recording."""
    if window is None:
        return x[None]
    n = len(x) // window
    if n == 0:
        raise ValueError(f"{where}: {len(x)} samples, shorter than one window of {window}")
    return x[: n * window].reshape(n, window)


# --------------------------------------------------------------------------- UCR/UEA .ts
def read_ts(path: str | Path) -> tuple[Tensor, list[str], list[str]]:
    """Parse a UCR/UEA ``.ts`` file with equal-length series.

    Args:
        path: the ``.ts`` file.

    Returns:
        ``(x, labels, class_labels)``: float32 ``(cases, dimensions, length)``, one label
        string per case, and the ``@classLabel`` list of the header (in its order).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a malformed header or data line (naming the file and line), missing
            or non-finite values, unequal lengths or dimensions, an undeclared label.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no .ts file at {path}")
    header: dict[str, str] = {}
    class_labels: list[str] | None = None
    rows: list[list[list[float]]] = []
    labels: list[str] = []
    in_data = False
    with path.open() as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(f"{path.name} line {lineno}: expected a header line starting with '@' "
                                     f"before @data, got {line[:40]!r}")
                key, _, value = line[1:].partition(" ")
                key = key.lower()
                if key == "data":
                    in_data = True
                elif key == "classlabel":
                    parts = value.split()
                    if not parts or parts[0].lower() != "true" or len(parts) < 2:
                        raise ValueError(f"{path.name} line {lineno}: @classLabel must be 'true' followed by the labels")
                    class_labels = parts[1:]
                else:
                    header[key] = value.strip()
                continue
            fields = line.split(":")
            if class_labels is None:
                raise ValueError(f"{path.name}: no '@classLabel true ...' header; a classification file needs labels")
            if len(fields) < 2:
                raise ValueError(f"{path.name} line {lineno}: expected 'dim1:...:label', got {line[:40]!r}")
            dims, label = fields[:-1], fields[-1].strip()
            if label not in class_labels:
                raise ValueError(f"{path.name} line {lineno}: label {label!r} is not in @classLabel {class_labels}")
            case = []
            for d, text in enumerate(dims):
                try:
                    vals = [math.nan if v.strip() == "?" else float(v) for v in text.split(",")]
                except ValueError:
                    raise ValueError(f"{path.name} line {lineno}, dimension {d}: non-numeric value in {text[:40]!r}") from None
                if not all(math.isfinite(v) for v in vals):
                    raise ValueError(f"{path.name} line {lineno}, dimension {d}: NaN, missing ('?') or infinite value")
                case.append(vals)
            if rows and (len(case) != len(rows[0])):
                raise ValueError(f"{path.name} line {lineno}: {len(case)} dimensions, earlier cases have {len(rows[0])}")
            lengths = {len(c) for c in case} | ({len(rows[0][0])} if rows else set())
            if len(lengths) != 1:
                raise ValueError(f"{path.name} line {lineno}: series of unequal length {sorted(lengths)}; "
                                 f"only equal-length files are supported")
            rows.append(case)
            labels.append(label)
    if not in_data:
        raise ValueError(f"{path.name}: no @data line")
    if not rows:
        raise ValueError(f"{path.name}: no cases after @data")
    if "dimensions" in header and int(header["dimensions"]) != len(rows[0]):
        raise ValueError(f"{path.name}: @dimensions {header['dimensions']} but cases have {len(rows[0])} dimensions")
    if "serieslength" in header and int(header["serieslength"]) != len(rows[0][0]):
        raise ValueError(f"{path.name}: @seriesLength {header['serieslength']} but series have {len(rows[0][0])} samples")
    return torch.tensor(rows, dtype=torch.float32), labels, class_labels


def recordings_to_splits(signals: Tensor, labels: list[str], locations: Tensor, class_names: list[str],
                         location_names: list[str], sample_rate: float, cfg: DataConfig,
                         record: Tensor, info: dict) -> Splits:
    """Turn recorded windows into spectrogram ``Splits`` (the simulator's pipeline).

    Args:
        signals: float32 ``(N, L)`` windows.
        labels: N class-name strings.
        locations: int64 ``(N,)`` sensor index of each window.
        class_names: the classes, in label-index order.
        location_names: the sensors, in index order.
        sample_rate: samples per second.
        cfg: image size, STFT, split fractions and seed.
        record: int64 ``(N,)`` index of the recording (file or case) of each window.
        info: provenance stored with the splits.
    """
    check_image_size(cfg.image_size, cfg.stft, sample_rate, cfg.simulator.f_max, signals.shape[1])
    lookup = {c: i for i, c in enumerate(class_names)}
    y = torch.tensor([lookup[l] for l in labels], dtype=torch.long)
    x = torch.cat([spectrogram(signals[s:s + 256], cfg.image_size, cfg.stft) for s in range(0, len(signals), 256)])
    data = SignalDataset(x, y, {"location": locations.long(), "record": record.long(), "index": torch.arange(len(y))})
    return make_splits(data, class_names=class_names, location_names=location_names, sample_rate=sample_rate,
                       split=cfg.split, seed=cfg.seed, info=info)


def _cached_or(kind: str, key: dict, build) -> Splits:
    folder = cache_root() / kind / config_hash(key)
    hit = _load_saved(folder)
    if hit is not None:
        return hit
    splits = build()  # raises before anything is written
    _save_splits(splits, artifact_dir(kind, key))
    return splits


def load_ts(path: str | Path, sampling_rate: float, cfg: DataConfig = DataConfig(), *, window: int | None = None,
            class_names: list[str] | None = None) -> Splits:
    """Spectrogram ``Splits`` of a UCR/UEA ``.ts`` file.

    Every dimension of a case is one sensor; each (case, dimension) series gives one sample
    per window (``window=None``: the whole series is one window).

    Args:
        path: the ``.ts`` file.
        sampling_rate: samples per second of the series (``.ts`` files do not store it).
        cfg: image size, STFT, split and seed (its ``simulator`` fields other than ``f_max``
            are not used).
        window: samples per window, or ``None``.
        class_names: the classes in label-index order (default: the file's ``@classLabel``);
            a class with no case raises.

    Raises:
        ValueError / FileNotFoundError: see ``read_ts``; an empty class; a bad ``sampling_rate``.
    """
    path = Path(path)
    if not (isinstance(sampling_rate, (int, float)) and sampling_rate > 0):
        raise ValueError(f"sampling_rate must be a positive number, got {sampling_rate!r}")

    def build() -> Splits:
        x, labels, declared = read_ts(path)
        names = list(class_names or declared)
        unknown = sorted(set(labels) - set(names))
        if unknown:
            raise ValueError(f"{path.name}: labels {unknown} are not in class_names {names}")
        wins, labs, locs, recs = [], [], [], []
        for i in range(x.shape[0]):
            for d in range(x.shape[1]):
                w = _windows(x[i, d], window, f"{path.name} case {i} dimension {d}")
                wins.append(w)
                labs += [labels[i]] * len(w)
                locs.append(torch.full((len(w),), d))
                recs.append(torch.full((len(w),), i))
        sig = torch.cat(wins)
        loc_names = [f"dimension {d}" for d in range(x.shape[1])]
        return recordings_to_splits(sig, labs, torch.cat(locs), names, loc_names, float(sampling_rate), cfg,
                                    torch.cat(recs), {"source": "ts", "file": path.name})

    if not path.is_file():
        raise FileNotFoundError(f"no .ts file at {path}")
    key = {"loader": "ts", "version": LOADER_VERSION, "digest": _digest([path]), "sampling_rate": float(sampling_rate),
           "cfg": cfg, "window": window, "class_names": class_names}
    return _cached_or("recordings", key, build)


# --------------------------------------------------------------------------- HDF5 folder
def _read_labels_csv(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise FileNotFoundError(f"no label CSV at {path}")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path.name}: needs a header with columns 'file' and 'label', got {reader.fieldnames}")
        out: dict[str, str] = {}
        for lineno, row in enumerate(reader, 2):
            name, label = (row["file"] or "").strip(), (row["label"] or "").strip()
            if not name or not label:
                raise ValueError(f"{path.name} line {lineno}: empty 'file' or 'label'")
            if name in out:
                raise ValueError(f"{path.name} line {lineno}: recording {name!r} labelled twice")
            out[name] = label
    return out


def read_hdf5_folder(folder: str | Path, labels_csv: str | Path, sample_rate: float,
                     sensors: list[str] | None = None) -> tuple[list[str], dict[str, Tensor], list[str], list[str]]:
    """Read every recording of an HDF5 folder and check it.

    Args:
        folder: folder of ``*.h5`` / ``*.hdf5`` files, one per recording.
        labels_csv: CSV with columns ``file`` (file name) and ``label``.
        sample_rate: the expected samples per second; a file or dataset whose
            ``sample_rate`` attribute differs raises.
        sensors: dataset names to read (default: the sorted dataset names of the first file).

    Returns:
        ``(files, {file: float32 (sensors, samples)}, labels, sensors)``.

    Raises:
        FileNotFoundError: missing folder, CSV, or a CSV row whose file is absent.
        ValueError: a recording without a CSV row, a missing sensor, a sampling-rate
            mismatch, NaN/inf samples, unequal sensor lengths (naming file and dataset).
    """
    import h5py

    folder, labels_csv = Path(folder), Path(labels_csv)
    if not folder.is_dir():
        raise FileNotFoundError(f"no recordings folder at {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".h5", ".hdf5"))
    if not files:
        raise FileNotFoundError(f"no .h5/.hdf5 recordings in {folder}")
    labels = _read_labels_csv(labels_csv)
    names = {p.name for p in files}
    for p in files:
        if p.name not in labels:
            raise ValueError(f"{labels_csv.name}: no label for recording {p.name}")
    for name in labels:
        if name not in names:
            raise FileNotFoundError(f"{labels_csv.name} lists recording {name!r}, which is not in {folder.name}/")
    data: dict[str, Tensor] = {}
    for p in files:
        with h5py.File(p, "r") as h5:
            if sensors is None:
                sensors = sorted(k for k in h5.keys() if isinstance(h5[k], h5py.Dataset))
                if not sensors:
                    raise ValueError(f"{p.name}: no datasets (expected one per sensor)")
            rows = []
            for s in sensors:
                if s not in h5:
                    raise ValueError(f"{p.name}: missing sensor dataset {s!r} (has {sorted(h5.keys())})")
                ds = h5[s]
                rate = ds.attrs.get("sample_rate", h5.attrs.get("sample_rate"))
                if rate is not None and not math.isclose(float(rate), float(sample_rate), rel_tol=1e-9):
                    raise ValueError(f"{p.name}/{s}: sample_rate {float(rate):g} Hz, expected {float(sample_rate):g} Hz")
                arr = torch.as_tensor(ds[()], dtype=torch.float32).reshape(-1)
                _check_finite(arr, f"{p.name}/{s}")
                rows.append(arr)
            if len({len(r) for r in rows}) != 1:
                raise ValueError(f"{p.name}: sensors have unequal lengths {[len(r) for r in rows]}")
            data[p.name] = torch.stack(rows)
    return [p.name for p in files], data, [labels[p.name] for p in files], list(sensors or [])


def load_hdf5_folder(folder: str | Path, labels_csv: str | Path, cfg: DataConfig = DataConfig(), *,
                     sample_rate: float | None = None, window: int | None = None,
                     sensors: list[str] | None = None, class_names: list[str] | None = None) -> Splits:
    """Spectrogram ``Splits`` of a folder of HDF5 recordings (ORNL's layout).

    Each recording's sensor is cut into non-overlapping windows of ``window`` samples
    (default ``cfg.simulator.window``); each window is a sample at that sensor's location.

    Args:
        folder: folder of HDF5 files, one per recording, one dataset per sensor.
        labels_csv: CSV with columns ``file,label``.
        cfg: image size, STFT, split and seed.
        sample_rate: expected samples per second (default ``cfg.simulator.sample_rate``).
        window: samples per window.
        sensors: dataset names to read (default: all, sorted).
        class_names: classes in label-index order (default: sorted labels of the CSV);
            a class with no recording raises.

    Raises:
        see ``read_hdf5_folder``; ``ValueError`` for an empty class.
    """
    rate = float(sample_rate or cfg.simulator.sample_rate)
    window = window or cfg.simulator.window
    folder, labels_csv = Path(folder), Path(labels_csv)

    def build() -> Splits:
        files, data, labels, sens = read_hdf5_folder(folder, labels_csv, rate, sensors)
        names = list(class_names) if class_names else sorted(set(labels))
        unknown = sorted(set(labels) - set(names))
        if unknown:
            raise ValueError(f"{labels_csv.name}: labels {unknown} are not in class_names {names}")
        wins, labs, locs, recs = [], [], [], []
        for r, (f, lab) in enumerate(zip(files, labels)):
            for s in range(len(sens)):
                w = _windows(data[f][s], window, f"{f}/{sens[s]}")
                wins.append(w)
                labs += [lab] * len(w)
                locs.append(torch.full((len(w),), s))
                recs.append(torch.full((len(w),), r))
        return recordings_to_splits(torch.cat(wins), labs, torch.cat(locs), names, sens, rate, cfg,
                                    torch.cat(recs), {"source": "hdf5", "files": files})

    if not folder.is_dir():
        raise FileNotFoundError(f"no recordings folder at {folder}")
    if not labels_csv.is_file():
        raise FileNotFoundError(f"no label CSV at {labels_csv}")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".h5", ".hdf5"))
    key = {"loader": "hdf5", "version": LOADER_VERSION, "digest": _digest(files + [labels_csv]), "sample_rate": rate,
           "cfg": cfg, "window": window, "sensors": sensors, "class_names": class_names}
    return _cached_or("recordings", key, build)

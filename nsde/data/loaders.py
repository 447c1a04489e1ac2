"""Loaders that bring real recordings into the spectrogram pipeline of the book.

Both produce the same ``Splits`` as the simulator: each sample is one window of a
recording, turned into a spectrogram image by :func:`nsde.data.spectrogram` with the
:class:`RecordingConfig`'s STFT (whose band is in Hz, so the recordings' sampling rate sets
the frequency axis) and image size. The sensors (the dimensions of a ``.ts`` case, the
datasets of an HDF5 recording) are the **channels** of one image by default
(``sensors_as="channels"``: one sample per window, scored per case, as the UCR/UEA archive
scores its multivariate problems), or each its own single-channel image
(``sensors_as="images"``). STFT settings the configuration leaves open are fitted to the
recordings (:mod:`nsde.data.fit`), printed when the splits are built and recorded in
``Splits.info["stft"]``; given ones that do not fit stop the run, naming the file, the
profile key and a value that fits. The raw windows are kept beside the images
(``meta["series"]``, float32 ``(N, channels, samples)``) for classifiers of raw series.
Windows of one recording never fall in two splits (:func:`nsde.data.grouped_split`), and a
data set's own train/test split is kept (validation carved out of its training part).
Results are cached under a hash of the files' contents and the arguments, and only after
every file has been read and checked, so a bad input never leaves a partial cache entry.

* :func:`load_ts`: UCR/UEA ``.ts`` time-series classification files (read with sktime's
  maintained reader), a single file or a ``*_TRAIN.ts`` / ``*_TEST.ts`` pair; each
  dimension of a case is one sensor. Unequal lengths are handled by ``length_policy``;
  ``.ts`` files store no sampling rate, so it is an argument. sktime's reader lowercases
  the labels; they are matched to the ``@classLabel`` header without regard to case, and
  the header's spelling is kept as the class names.
* :func:`load_hdf5_folder`: ORNL's layout, a folder of HDF5 files (``.h5``/``.hdf5``, any
  case), one per recording, one dataset per sensor (a 2-D dataset holds several sensors,
  its longer axis being time), a ``sample_rate`` attribute on the file or dataset, and a
  CSV of labels with columns ``file,label`` (a UTF-8 byte-order mark is tolerated).

``window=None`` means the same in both: the whole recording is one sample.
"""
from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from nsde._infra.cache import artifact_dir, cache_root, config_hash
from nsde.data.fit import check_stft_fields, describe_stft, resolve_stft
from nsde.data.spectrogram import STFTConfig, spectrogram
from nsde.data.splits import SignalDataset, Splits, load_saved_splits, make_splits, save_splits

__all__ = ["RecordingConfig", "LENGTH_POLICIES", "SENSORS_AS", "read_ts", "load_ts", "read_hdf5_folder",
           "load_hdf5_folder", "fit_length", "match_labels", "recordings_to_splits"]

LOADER_VERSION = 5  # 4: sensors as channels, fitted STFT, raw series kept, labels matched without case; 5: HDF5 too
#: How series of unequal length are brought to one length (``load_ts``).
LENGTH_POLICIES = ("equal", "crop", "pad", "resample")
#: How the sensors of a recording enter the model: channels of one image, or one image each.
SENSORS_AS = ("channels", "images")
_H5_SUFFIXES = (".h5", ".hdf5")


@dataclass(frozen=True)
class RecordingConfig:
    """How recordings become spectrogram images and splits.

    Attributes:
        image_size: spectrogram side in pixels (>= 16).
        stft: the STFT and image parameters (band in Hz): a complete
            :class:`STFTConfig`, a mapping of the fields to set (the others are fitted to
            the recordings, :func:`nsde.data.fit.fit_stft`), or ``None`` (all fitted).
        split: train / validation / test fractions (validation and train only, in this
            proportion, when the data set has its own test split).
        seed: seed of the split.
    """

    image_size: int = 64
    stft: STFTConfig | dict | None = None
    split: tuple[float, float, float] = (0.70, 0.15, 0.15)
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 16:
            raise ValueError(f"RecordingConfig.image_size must be an int >= 16, but found {self.image_size!r}")
        if len(self.split) != 3 or min(self.split) <= 0 or not math.isclose(sum(self.split), 1.0):
            raise ValueError(f"RecordingConfig.split must be 3 positive fractions summing to 1, but found {self.split}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"RecordingConfig.seed must be an int >= 0, but found {self.seed!r}")
        object.__setattr__(self, "split", tuple(float(f) for f in self.split))
        if self.stft is not None and not isinstance(self.stft, STFTConfig):
            object.__setattr__(self, "stft", check_stft_fields(self.stft))


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
        raise ValueError(f"{where}: NaN, missing or infinite sample at position {first}")


def _windows(x: Tensor, window: int | None, where: str) -> Tensor:
    """Non-overlapping windows ``(n_windows, window)`` of a 1-D recording (``None``: whole)."""
    if window is None:
        return x[None]
    n = len(x) // window
    if n == 0:
        raise ValueError(f"{where}: {len(x)} samples, shorter than one window of {window}; lower `window`")
    return x[: n * window].reshape(n, window)


def _check_window(window) -> int | None:
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 8):
        raise ValueError(f"window must be None (whole recordings) or an int >= 8, but found {window!r}")
    return window


def _check_sensors_as(sensors_as) -> None:
    if sensors_as not in SENSORS_AS:
        raise ValueError(f"sensors_as must be one of {SENSORS_AS} (the sensors as channels of one image, or each "
                         f"its own image), but found {sensors_as!r}")


def _case_windows(case: Tensor, window: int | None, where: str) -> Tensor:
    """The windows of one recording's sensors ``(sensors, samples)``: ``(windows, sensors, window)``."""
    return torch.stack([_windows(case[d], window, f"{where} sensor {d}") for d in range(case.shape[0])], 1)


def _samples(per_case: list[Tensor], labels: list[str], sensors_as: str, is_test: list[bool] | None = None):
    """The samples of recordings cut into windows ``(windows, sensors, window)`` each:
    ``(signals, labels, locations or None, records, test mask or None)``; with
    ``"channels"`` one sample per window (its sensors the channels), with ``"images"`` one
    per window and sensor (``locations`` the sensor)."""
    wins, labs, locs, recs, test = [], [], [], [], []
    for r, w in enumerate(per_case):
        if sensors_as == "images":
            n_w, n_s = w.shape[:2]
            wins.append(w.transpose(0, 1).reshape(n_w * n_s, 1, -1))  # sensor-major, as the sensors are listed
            locs.append(torch.arange(n_s).repeat_interleave(n_w))
        else:
            wins.append(w)
        n = len(wins[-1])
        labs += [labels[r]] * n
        recs.append(torch.full((n,), r))
        if is_test is not None:
            test.append(torch.full((n,), is_test[r], dtype=torch.bool))
    return (torch.cat(wins), labs, torch.cat(locs) if locs else None, torch.cat(recs),
            torch.cat(test) if test else None)


# --------------------------------------------------------------------------- UCR/UEA .ts
def _class_labels(path: Path) -> list[str]:
    """The ``@classLabel`` list of a ``.ts`` header, in its order."""
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            line = line.strip().lstrip("\ufeff")
            if line.lower().startswith("@classlabel"):
                parts = line.split()[1:]
                if not parts or parts[0].lower() != "true" or len(parts) < 2:
                    raise ValueError(f"{path.name}: @classLabel must be 'true' followed by the labels, "
                                     f"but found {line[:60]!r}")
                return parts[1:]
            if line.lower().startswith("@data"):
                break
    raise ValueError(f"{path.name}: no '@classLabel true ...' header; a classification file needs labels")


def _fold_case(names) -> dict[str, list[str]]:
    """``{casefolded name: [names spelt that way]}``."""
    folded: dict[str, list[str]] = {}
    for n in names:
        folded.setdefault(n.casefold(), []).append(n)
    return folded


def _case_twins(folded: dict[str, list[str]]) -> list[str] | None:
    """The first group of names of :func:`_fold_case` that differ only in case, or None."""
    return next((v for v in folded.values() if len(v) > 1), None)


def match_labels(labels: list[str], names: list[str], where: str, what: str) -> list[str]:
    """Each label spelt as in ``names``, matched without regard to case (sktime's reader
    lowercases the labels of a ``.ts`` file; its ``@classLabel`` header keeps their case).

    Args:
        labels: the labels as read.
        names: the declared classes, in their own spelling.
        where: the file, for messages.
        what: what declares the classes (``"@classLabel"``, ``"class_names"``).

    Raises:
        ValueError: two declared classes differ only in case (they cannot be told apart
            once lowercased), or a label matches no declared class.
    """
    folded = _fold_case(names)
    clash = _case_twins(folded)
    if clash:
        raise ValueError(f"{where}: {what} declares {clash}, which differ only in case; sktime's reader "
                         "lowercases the labels, so these classes cannot be told apart: give them names that "
                         "differ in more than case")
    out, unknown = [], set()
    for lab in labels:
        match = folded.get(lab.casefold())
        if match is None:
            unknown.add(lab)
        else:
            out.append(match[0])
    if unknown:
        raise ValueError(f"{where}: labels {sorted(unknown)} are not in {what} {list(names)} (compared without "
                         f"regard to case); add them to {what} or correct the labels of those cases")
    return out


def read_ts(path: str | Path) -> tuple[list[Tensor], list[str], list[str]]:
    """Read a UCR/UEA ``.ts`` classification file (sktime's reader; lengths may differ).

    Args:
        path: the ``.ts`` file.

    Returns:
        ``(series, labels, class_labels)``: one float32 ``(dimensions, length_i)`` tensor
        per case, one label string per case (spelt as in the header), and the
        ``@classLabel`` list (in its order).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a malformed or binary file (naming it and sktime's reason), missing
            (``?``) or non-finite values, an empty series, unequal numbers of dimensions,
            an undeclared label.
    """
    from sktime.datasets import load_from_tsfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no .ts file at {path}")
    try:
        declared = _class_labels(path)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name}: not a .ts text file (byte {exc.start} is not UTF-8 text); a .ts file is "
                         "UTF-8 text with a '@classLabel true ...' header and an @data section") from None
    try:
        frame, y = load_from_tsfile(str(path), return_data_type="nested_univ", encoding="utf-8-sig")
    except Exception as exc:  # sktime raises its own parse exceptions, IOError, ValueError
        raise ValueError(f"{path.name}: not a readable .ts file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})") from None
    series = []
    for i in range(len(frame)):
        dims = [torch.tensor(frame.iloc[i, d].to_numpy(dtype="float64", copy=True), dtype=torch.float32)
                for d in range(frame.shape[1])]
        lengths = {len(d) for d in dims}
        if 0 in lengths:
            raise ValueError(f"{path.name} case {i}: an empty series (0 samples in dimension "
                             f"{[len(d) for d in dims].index(0)}); remove the case or fill in its samples")
        if len(lengths) != 1:
            raise ValueError(f"{path.name} case {i}: its dimensions have different lengths {sorted(lengths)}")
        case = torch.stack(dims)
        _check_finite(case, f"{path.name} case {i}")
        series.append(case)
    labels = match_labels([str(v) for v in y], declared, path.name, "@classLabel")
    if not series:
        raise ValueError(f"{path.name}: no cases after @data")
    return series, labels, declared


def fit_length(series: list[Tensor], policy: str = "equal", length: int | None = None) -> Tensor:
    """Bring series ``(dimensions, length_i)`` to one length: ``(cases, dimensions, length)``.

    Args:
        series: one float tensor per case.
        policy: ``"equal"`` (all lengths must already agree), ``"crop"`` (keep the first
            ``length`` samples; default the shortest length), ``"pad"`` (zero-pad at the end
            to ``length``, cropping longer series; default the longest length) or
            ``"resample"`` (linear interpolation to ``length``; default the median length;
            this stretches each series in time, so its frequencies move: use it only when
            the series cover the same duration at different rates).
        length: the target length (>= 8) or ``None`` for the policy's default.

    Raises:
        ValueError: unknown policy, unequal lengths under ``"equal"``, a bad ``length``.
    """
    if policy not in LENGTH_POLICIES:
        raise ValueError(f"length_policy must be one of {LENGTH_POLICIES}, but found {policy!r}")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 8):
        raise ValueError(f"length must be None or an int >= 8, but found {length!r}")
    lengths = sorted(s.shape[-1] for s in series)
    if policy == "equal":
        if lengths[0] != lengths[-1]:
            raise ValueError(f"the series have unequal lengths ({lengths[0]} to {lengths[-1]} samples); choose "
                             f"length_policy='crop', 'pad' or 'resample'")
        return torch.stack(series)
    if policy == "crop":
        n = length or lengths[0]
        short = [s.shape[-1] for s in series if s.shape[-1] < n]
        if short:
            raise ValueError(f"length_policy='crop' to {n} samples, but {len(short)} series are shorter "
                             f"(down to {min(short)}); lower `length` or use 'pad'")
        return torch.stack([s[:, :n] for s in series])
    if policy == "pad":
        n = length or lengths[-1]
        return torch.stack([F.pad(s[:, :n], (0, max(0, n - s.shape[-1]))) for s in series])
    n = length or lengths[len(lengths) // 2]
    return torch.stack([F.interpolate(s[None], size=n, mode="linear", align_corners=False)[0] for s in series])


def recordings_to_splits(signals: Tensor, labels: list[str], locations: Tensor | None, class_names: list[str],
                         location_names: list[str], sample_rate: float, cfg: RecordingConfig,
                         record: Tensor, info: dict, *, test_mask: Tensor | None = None,
                         name: str = "recordings", where: str | None = None) -> Splits:
    """Turn recorded windows into spectrogram ``Splits`` (the simulator's pipeline).

    Args:
        signals: float32 ``(N, C, L)`` windows whose ``C`` sensors become the channels of one
            image, or ``(N, L)`` (one channel).
        labels: N class-name strings.
        locations: int64 ``(N,)`` sensor index of each window when each sensor is its own
            image (``meta["location"]``), or ``None`` (the sensors are channels).
        class_names: the classes, in label-index order.
        location_names: the sensors, in index order.
        sample_rate: samples per second.
        cfg: image size, STFT (fields it leaves open are fitted, :func:`nsde.data.fit.resolve_stft`),
            split fractions and seed.
        record: int64 ``(N,)`` index of the recording (file or case) of each window.
        info: provenance stored with the splits; the STFT used (``"stft"``), the fields
            fitted (``"stft_fitted"``), the samples per window and the channels join it.
        test_mask: bool ``(N,)``, the data set's own test windows (kept as the test split).
        name: the data set's name.
        where: the file or folder named by messages (default ``name``).

    Raises:
        ValueError: fewer than 2 classes; STFT settings that do not fit (one message naming
            ``where``, the profile keys and values that fit); a split that cannot be made.
    """
    if len(class_names) < 2:
        raise ValueError(f"{name}: {len(class_names)} class {list(class_names)}, but a classifier needs at least 2 "
                         "classes")
    if signals.ndim == 2:
        signals = signals[:, None]
    n, c, length = signals.shape
    stft, fitted = resolve_stft(cfg.stft, length, sample_rate, cfg.image_size, where or name)
    if fitted:
        print(f"{name}: {describe_stft(stft, length, sample_rate, fitted)}")
    lookup = {cl: i for i, cl in enumerate(class_names)}
    y = torch.tensor([lookup[lab] for lab in labels], dtype=torch.long)
    flat = signals.reshape(n * c, length)
    x = torch.cat([spectrogram(flat[s:s + 256], cfg.image_size, stft, sample_rate)
                   for s in range(0, len(flat), 256)]).reshape(n, c, cfg.image_size, cfg.image_size)
    meta = {"record": record.long(), "index": torch.arange(n), "series": signals.float().contiguous()}
    if locations is not None:
        meta["location"] = locations.long()
    info = {**info, "stft": asdict(stft), "stft_fitted": list(fitted), "samples": int(length), "channels": int(c)}
    data = SignalDataset(x, y, meta)
    return make_splits(data, class_names=class_names, location_names=location_names, sample_rate=sample_rate,
                       split=cfg.split, seed=cfg.seed, info=info, test_mask=test_mask, name=name)


def _cached_or(kind: str, key: dict, build) -> Splits:
    folder = cache_root() / kind / config_hash(key)
    hit = load_saved_splits(folder)
    if hit is not None:
        return hit
    splits = build()  # raises before anything is written
    save_splits(splits, artifact_dir(kind, key))
    return splits


def _ts_pair(path: Path, test_path: str | Path | None) -> tuple[Path, Path | None]:
    if test_path is not None:
        return path, Path(test_path)
    stem = path.name
    for train_tag, test_tag in (("_TRAIN", "_TEST"), ("_train", "_test")):
        if train_tag + path.suffix in stem:
            twin = path.with_name(stem.replace(train_tag + path.suffix, test_tag + path.suffix))
            if twin.is_file():
                return path, twin
    return path, None


def load_ts(path: str | Path, sample_rate: float, cfg: RecordingConfig = RecordingConfig(), *,
            test_path: str | Path | None = None, window: int | None = None, length_policy: str = "equal",
            length: int | None = None, class_names: list[str] | None = None, name: str | None = None,
            sensors_as: str = "channels") -> Splits:
    """Spectrogram ``Splits`` of a UCR/UEA ``.ts`` file, or of a TRAIN/TEST pair.

    Every dimension of a case is one sensor: with ``sensors_as="channels"`` each window of a
    case gives one sample whose channels are its dimensions (scored per case); with
    ``"images"`` each (case, dimension) series gives one single-channel sample per window.
    A ``*_TRAIN.ts`` path whose ``*_TEST.ts`` twin exists (or ``test_path``) is read as a
    pair, and its test file becomes the test split.

    Args:
        path: the ``.ts`` file (or the TRAIN file of a pair).
        sample_rate: samples per second of the series (``.ts`` files do not store it); it
            sets the frequency axis of the spectrograms.
        cfg: image size, STFT, split and seed.
        test_path: the TEST file of a pair (default: the ``_TEST`` twin of ``path`` if any).
        window: samples per window, or ``None`` (each series is one sample).
        length_policy, length: how unequal lengths are handled (:func:`fit_length`).
        class_names: the classes in label-index order (default: the file's ``@classLabel``);
            labels are matched to them without regard to case.
        name: the data set's name (default: the file name without ``_TRAIN`` and suffix).
        sensors_as: ``"channels"`` or ``"images"`` (:data:`SENSORS_AS`).

    Raises:
        ValueError / FileNotFoundError: see :func:`read_ts`; an empty class; a bad
            ``sample_rate`` or ``sensors_as``; an STFT that does not fit (naming the file,
            the profile key and a value that fits).
    """
    path = Path(path)
    if not (isinstance(sample_rate, (int, float)) and not isinstance(sample_rate, bool)
            and math.isfinite(sample_rate) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive number of samples per second, but found {sample_rate!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no .ts file at {path}")
    window = _check_window(window)
    _check_sensors_as(sensors_as)
    train_path, test_file = _ts_pair(path, test_path)
    if test_file is not None and not test_file.is_file():
        raise FileNotFoundError(f"no .ts test file at {test_file}")
    files = [train_path] + ([test_file] if test_file is not None else [])
    label = name or train_path.stem.replace("_TRAIN", "").replace("_train", "")

    def build() -> Splits:
        series, labels, declared, is_test = [], [], None, []
        for f in files:
            s, lab, decl = read_ts(f)
            if declared is not None and decl != declared:
                raise ValueError(f"{f.name}: @classLabel {decl} differs from {files[0].name}'s {declared}")
            declared = decl
            series += s
            labels += lab
            is_test += [f is test_file] * len(s)
        dims = {s.shape[0] for s in series}
        if len(dims) != 1:
            raise ValueError(f"{files[0].name}: cases have different numbers of dimensions {sorted(dims)}")
        x = fit_length(series, length_policy, length)
        names = list(class_names or declared)
        if class_names:
            labels = match_labels(labels, names, files[0].name, "class_names")
        if len(names) < 2:
            where = "class_names" if class_names else "its @classLabel"
            raise ValueError(f"{files[0].name}: {where} lists {len(names)} class {names}, but a classifier needs at "
                             "least 2 classes")
        per_case = [_case_windows(x[i], window, f"{files[0].name} case {i}") for i in range(x.shape[0])]
        wins, labs, locs, recs, test = _samples(per_case, labels, sensors_as, is_test)
        info = {"source": "ts", "files": [f.name for f in files], "length_policy": length_policy,
                "length": int(x.shape[-1]), "sample_rate": float(sample_rate), "sensors_as": sensors_as,
                "cases": int(x.shape[0]), "dimensions": int(x.shape[1])}
        return recordings_to_splits(wins, labs, locs, names, [f"dimension {d}" for d in range(x.shape[1])],
                                    float(sample_rate), cfg, recs, info, test_mask=test if test_file else None,
                                    name=label, where=files[0].name)

    key = {"loader": "ts", "version": LOADER_VERSION, "digest": _digest(files), "sample_rate": float(sample_rate),
           "cfg": cfg, "window": window, "length_policy": length_policy, "length": length,
           "class_names": class_names, "name": label, "sensors_as": sensors_as}
    return _cached_or("recordings", key, build)


# --------------------------------------------------------------------------- HDF5 folder
def _read_labels_csv(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise FileNotFoundError(f"no label CSV at {path}")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        if not {"file", "label"} <= set(fields):
            raise ValueError(f"{path.name}: needs a header with columns 'file' and 'label', but found {fields}")
        reader.fieldnames = fields
        out: dict[str, str] = {}
        for lineno, row in enumerate(reader, 2):
            name, label = (row["file"] or "").strip(), (row["label"] or "").strip()
            if not name or not label:
                raise ValueError(f"{path.name} line {lineno}: empty 'file' or 'label'")
            if name in out:
                raise ValueError(f"{path.name} line {lineno}: recording {name!r} labelled twice")
            out[name] = label
    return out


def _h5_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _H5_SUFFIXES)


def _sensor_rows(name: str, data, where: str) -> list[tuple[str, Tensor]]:
    """A dataset as ``[(sensor name, 1-D samples)]``: 1-D is one sensor, 2-D several (the
    longer axis is time)."""
    arr = torch.as_tensor(data, dtype=torch.float32)
    if arr.ndim == 1:
        return [(name, arr)]
    if arr.ndim == 2:
        if arr.shape[0] < arr.shape[1]:
            arr = arr.T  # (channels, samples) -> (samples, channels)
        return [(f"{name}[{j}]", arr[:, j].contiguous()) for j in range(arr.shape[1])]
    raise ValueError(f"{where}: a sensor dataset must be 1-D (samples) or 2-D (samples x channels), "
                     f"but found shape {tuple(arr.shape)}")


def _open_h5(path: Path):
    """``h5py.File(path, "r")``, or a ``ValueError`` naming a file h5py cannot open."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        size = path.stat().st_size
        text = str(exc)
        reason = "it is empty (0 bytes)" if size == 0 else (text[text.find("(") + 1:text.rfind(")")]
                                                              if "(" in text else text)
        raise ValueError(f"{path.name}: not a readable HDF5 file: {reason}; was it truncated or is it still "
                         "being copied? Replace it or remove it and its row of the label CSV") from None


def _rate(stored, where: str) -> float:
    """A stored ``sample_rate`` attribute as a positive float (``ValueError`` naming it)."""
    value = stored.decode(errors="replace") if isinstance(stored, bytes) else stored
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"{where}: the sample_rate attribute {value!r} is not a positive number of samples per "
                         "second; store a number (e.g. 8000 for 8 kHz) or give sample_rate")
    return rate


def read_hdf5_folder(folder: str | Path, labels_csv: str | Path, sample_rate: float | None = None,
                     sensors: list[str] | None = None) -> tuple[list[str], dict[str, Tensor], list[str], list[str], float]:
    """Read every recording of an HDF5 folder and check it.

    Args:
        folder: folder of ``*.h5`` / ``*.hdf5`` files (any case), one per recording.
        labels_csv: CSV with columns ``file`` (file name) and ``label``.
        sample_rate: samples per second; ``None`` takes the ``sample_rate`` attribute the
            files store (which must then be present and agree); a stored rate that differs
            from a given one raises.
        sensors: dataset names to read (default: the sorted dataset names of the first file).

    Returns:
        ``(files, {file: float32 (sensors, samples)}, labels, sensor names, sample_rate)``.

    Raises:
        FileNotFoundError: missing folder, CSV, or a CSV row whose file is absent.
        ValueError: an unreadable (truncated, empty) file, a recording without a CSV row, a
            missing, empty or non-numeric sensor, a sampling-rate that is not a number,
            disagrees or is absent, NaN/inf samples, unequal sensor lengths (naming file and
            dataset).
    """
    import h5py

    folder, labels_csv = Path(folder), Path(labels_csv)
    if not folder.is_dir():
        raise FileNotFoundError(f"no recordings folder at {folder}")
    files = _h5_files(folder)
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
    rate = None if sample_rate is None else float(sample_rate)
    data: dict[str, Tensor] = {}
    sensor_names: list[str] | None = None
    for p in files:
        with _open_h5(p) as h5:
            if sensors is None:
                sensors = sorted(k for k in h5.keys() if isinstance(h5[k], h5py.Dataset))
                if not sensors:
                    raise ValueError(f"{p.name}: no datasets (expected one per sensor)")
            rows: list[tuple[str, Tensor]] = []
            for s in sensors:
                if s not in h5:
                    raise ValueError(f"{p.name}: missing sensor dataset {s!r} (has {sorted(h5.keys())})")
                ds = h5[s]
                if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "iuf":
                    what = f"{ds.dtype} values" + (" (text)" if ds.dtype.kind in "SUO" else "") \
                        if isinstance(ds, h5py.Dataset) else "a group"
                    raise ValueError(f"{p.name}/{s}: holds {what}, but a sensor dataset must hold numbers "
                                     "(one sample per entry); choose the sensors with `sensors`")
                stored = ds.attrs.get("sample_rate", h5.attrs.get("sample_rate"))
                if stored is not None:
                    stored = _rate(stored, f"{p.name}/{s}")
                    if rate is None:
                        rate = stored
                    elif not math.isclose(stored, rate, rel_tol=1e-9):
                        raise ValueError(f"{p.name}/{s}: sample_rate {stored:g} Hz, but {rate:g} Hz was given "
                                         "or stored by an earlier file")
                for sname, arr in _sensor_rows(s, ds[()], f"{p.name}/{s}"):
                    if arr.numel() == 0:
                        raise ValueError(f"{p.name}/{sname}: an empty recording (0 samples); remove the file and "
                                         f"its row of {labels_csv.name}")
                    _check_finite(arr, f"{p.name}/{sname}")
                    rows.append((sname, arr))
            if len({len(r) for _, r in rows}) != 1:
                raise ValueError(f"{p.name}: sensors have unequal lengths {[len(r) for _, r in rows]}")
            if sensor_names is None:
                sensor_names = [n for n, _ in rows]
            elif [n for n, _ in rows] != sensor_names:
                raise ValueError(f"{p.name}: sensors {[n for n, _ in rows]} differ from the first file's {sensor_names}")
            data[p.name] = torch.stack([r for _, r in rows])
    if rate is None:
        raise ValueError(f"the recordings in {folder} store no sample_rate attribute; pass sample_rate=...")
    return [p.name for p in files], data, [labels[p.name] for p in files], list(sensor_names or []), rate


def load_hdf5_folder(folder: str | Path, labels_csv: str | Path, cfg: RecordingConfig = RecordingConfig(), *,
                     sample_rate: float | None = None, window: int | None = None,
                     sensors: list[str] | None = None, class_names: list[str] | None = None,
                     name: str | None = None, sensors_as: str = "channels") -> Splits:
    """Spectrogram ``Splits`` of a folder of HDF5 recordings (ORNL's layout).

    Each recording is cut into non-overlapping windows of ``window`` samples (``None``: the
    whole recording is one sample); each window is one sample whose channels are the
    sensors (``sensors_as="channels"``), or one sample per sensor (``"images"``, the
    sensor's location in ``meta["location"]``); all windows of a recording fall in one split.

    Args:
        folder: folder of HDF5 files, one per recording, one dataset per sensor.
        labels_csv: CSV with columns ``file,label``.
        cfg: image size, STFT, split and seed.
        sample_rate: samples per second (default: the rate stored in the files).
        window: samples per window, or ``None``.
        sensors: dataset names to read (default: all, sorted).
        class_names: classes in label-index order (default: sorted labels of the CSV, which
            must not differ only in case); the CSV's labels are matched to it without regard
            to case; a class with no recording raises.
        name: the data set's name (default: the folder's name).
        sensors_as: ``"channels"`` or ``"images"`` (:data:`SENSORS_AS`).

    Raises:
        see :func:`read_hdf5_folder`; ``ValueError`` for an empty class, a bad ``sensors_as``
        or an STFT that does not fit (naming the folder, the profile key and a value that fits).
    """
    window = _check_window(window)
    _check_sensors_as(sensors_as)
    folder, labels_csv = Path(folder), Path(labels_csv)
    if not folder.is_dir():
        raise FileNotFoundError(f"no recordings folder at {folder}")
    if not labels_csv.is_file():
        raise FileNotFoundError(f"no label CSV at {labels_csv}")

    def build() -> Splits:
        files, data, labels, sens, rate = read_hdf5_folder(folder, labels_csv, sample_rate, sensors)
        if class_names:
            names = list(class_names)
            labels = match_labels(labels, names, labels_csv.name, "class_names")
        else:
            names = sorted(set(labels))
            clash = _case_twins(_fold_case(names))
            if clash:
                raise ValueError(f"{labels_csv.name}: labels {clash} differ only in case, so they would be "
                                 f"{len(clash)} classes; spell each class one way in the CSV, or give class_names "
                                 "(labels are then matched to it without regard to case)")
        if len(names) < 2:
            raise ValueError(f"{labels_csv.name}: its labels name {len(names)} class {names}, but a classifier needs "
                             "at least 2 classes")
        if window is None:
            lengths = {f: int(data[f].shape[-1]) for f in files}
            if len(set(lengths.values())) > 1:
                common = max(set(lengths.values()), key=list(lengths.values()).count)
                odd = next(f for f, n in lengths.items() if n != common)
                shortest = min(lengths.values())
                raise ValueError(f"{odd}: {lengths[odd]} samples, but most recordings have {common}; with window=None "
                                 "each recording is one sample, so all must have one length: set `window` (at most "
                                 f"the shortest recording, {shortest} samples) to cut them into windows")
        per_file = [_case_windows(data[f], window, f) for f in files]
        wins, labs, locs, recs, _ = _samples(per_file, labels, sensors_as)
        info = {"source": "hdf5", "files": files, "sample_rate": rate, "sensors_as": sensors_as,
                "length": int(max(data[f].shape[-1] for f in files)), "recordings": len(files)}
        return recordings_to_splits(wins, labs, locs, names, sens, rate, cfg, recs, info, name=name or folder.name,
                                    where=f"{folder.name}/")

    files = _h5_files(folder)
    key = {"loader": "hdf5", "version": LOADER_VERSION, "digest": _digest(files + [labels_csv]),
           "sample_rate": sample_rate, "cfg": cfg, "window": window, "sensors": sensors, "class_names": class_names,
           "name": name, "sensors_as": sensors_as}
    return _cached_or("recordings", key, build)

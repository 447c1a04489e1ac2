"""One entry point for the data of every chapter: :func:`load_dataset`.

A profile names its data set in one entry, ``dataset``, and every chapter gets its splits,
class names and class count from :func:`load_dataset`:

* ``"harmonic"``: the simulator of the paper's harmonic-signals experiment (16 classes,
  ``n_per_class`` spectrograms each, split 70/15/15);
* ``"plaid"``: PLAID (Plug-Load Appliance Identification Dataset, Gao et al. 2014): current
  waveforms of 11 appliance types sampled at 30 kHz, 1,074 recordings, as shipped by
  sktime (offline); its own train/test split is kept and validation is carved from its
  training part;
* a mapping for your own recordings, either a ``.ts`` file (or ``*_TRAIN.ts`` of a pair)::

      dataset: {path: data/MyProblem_TRAIN.ts, sample_rate: 30000, length_policy: pad}

  or a folder of HDF5 recordings with a label CSV::

      dataset: {path: data/recordings, labels: data/labels.csv, window: 8192}

  with optional keys ``sample_rate`` (HDF5: default the rate the files store),
  ``window``, ``length_policy``, ``length``, ``sensors``, ``sensors_as`` (``channels``, the
  default: the sensors of a recording are the channels of one image, scored per case;
  ``images``: one image per sensor) and ``stft`` (fields of :class:`nsde.data.STFTConfig`,
  e.g. ``{n_fft: 256, hop: 32, freq_scale: linear}``; every field it leaves out is fitted to
  the recordings' length and sampling rate, :mod:`nsde.data.fit`). Relative paths are
  resolved against the repository root. A bare string path works for HDF5 folders that
  store their rate next to a ``labels.csv``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from nsde.data.harmonic import DataConfig, load_splits
from nsde.data.fit import check_stft_fields
from nsde.data.loaders import LENGTH_POLICIES, SENSORS_AS, RecordingConfig, load_hdf5_folder, load_ts
from nsde.data.spectrogram import STFTConfig
from nsde.data.splits import Splits

__all__ = ["DATASETS", "PLAID_RATE", "PLAID_STFT", "PLAID_CLASSES", "load_dataset", "plaid_files",
           "check_dataset_spec"]

#: The named data sets.
DATASETS = ("harmonic", "plaid")
#: PLAID's sampling rate (samples per second), from its documentation.
PLAID_RATE = 30_000.0
#: PLAID's spectrograms: 4.3 ms Hann windows (234 Hz bins) every 0.27 ms, linear 0-15 kHz.
PLAID_STFT = STFTConfig(n_fft=128, hop=8, freq_scale="linear", top_db=80.0)
#: PLAID's series have 100 to 1,344 samples; all are zero-padded (or cropped) to this length.
PLAID_LENGTH = 1024
#: PLAID's appliance types, in the order of its labels 0-10 (from the file's header).
PLAID_CLASSES = ("air conditioner", "compact fluorescent lamp", "fan", "fridge", "hairdryer", "heater",
                 "incandescent light bulb", "laptop", "microwave", "vacuum", "washing machine")
_KEYS = {"path", "labels", "sample_rate", "window", "length_policy", "length", "sensors", "sensors_as", "stft", "name"}
_REPO = Path(__file__).resolve().parents[2]


def plaid_files() -> tuple[Path, Path]:
    """The PLAID ``TRAIN`` and ``TEST`` ``.ts`` files that sktime ships in its wheel."""
    from importlib.resources import files

    root = Path(str(files("sktime.datasets"))) / "data" / "PLAID"
    train, test = root / "PLAID_TRAIN.ts", root / "PLAID_TEST.ts"
    for f in (train, test):
        if not f.is_file():
            raise FileNotFoundError(f"PLAID file {f} is missing from the installed sktime; reinstall sktime")
    return train, test


def _resolve(path: Any, what: str) -> Path:
    if not isinstance(path, (str, Path)) or not str(path):
        raise ValueError(f"dataset: {what} must be a path, but found {path!r}")
    p = Path(path).expanduser()
    return p if p.is_absolute() else _REPO / p


def check_dataset_spec(dataset: Any) -> None:
    """Validate a profile's ``dataset`` entry without loading anything (names the problem)."""
    if isinstance(dataset, str):
        if dataset in DATASETS:
            return
        p = _resolve(dataset, "path")
        if not p.exists():
            raise ValueError(f"dataset: {dataset!r} is neither a known data set {DATASETS} nor an existing path "
                             f"(looked for {p})")
        if p.is_file():
            raise ValueError(f"dataset: {dataset!r} is a file; a .ts file stores no sampling rate, so write "
                             f"dataset: {{path: {dataset}, sample_rate: <samples per second>}}")
        if not (p / "labels.csv").is_file():
            raise ValueError(f"dataset: the HDF5 folder {dataset!r} has no labels.csv; write "
                             f"dataset: {{path: {dataset}, labels: <label CSV>}}")
        return
    if not isinstance(dataset, Mapping):
        raise ValueError(f"dataset must be a name {DATASETS}, a path or a mapping with 'path', but found {dataset!r}")
    if "sampling_rate" in dataset:
        raise ValueError("dataset: `sampling_rate` was renamed `sample_rate` in 0.2 (one name for the idea across "
                         "the package); write sample_rate: <samples per second>")
    unknown = sorted(set(dataset) - _KEYS)
    if unknown:
        raise ValueError(f"dataset: unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")
    if "path" not in dataset:
        raise ValueError("dataset: a mapping needs a 'path' (a .ts file or a folder of HDF5 recordings)")
    p = _resolve(dataset["path"], "path")
    if not p.exists():
        raise ValueError(f"dataset: path {dataset['path']!r} does not exist (looked for {p})")
    if p.is_file() and "sample_rate" not in dataset:
        raise ValueError(f"dataset: {dataset['path']!r} is a .ts file, which stores no sampling rate; add "
                         "sample_rate: <samples per second>")
    rate = dataset.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0):
        raise ValueError(f"dataset: sample_rate must be a positive number of samples per second, but found {rate!r}")
    only = {"labels", "sensors"} if p.is_file() else {"length_policy", "length"}
    wrong = sorted(only & set(dataset))
    if wrong:
        kind = "a .ts file" if p.is_file() else "an HDF5 folder"
        raise ValueError(f"dataset: {wrong} do not apply to {kind} ({dataset['path']!r})")
    if p.is_dir():
        labels = _resolve(dataset.get("labels", p / "labels.csv"), "labels")
        if not labels.is_file():
            raise ValueError(f"dataset: no label CSV at {labels}; add labels: <path of the CSV>")
    if "length_policy" in dataset and dataset["length_policy"] not in LENGTH_POLICIES:
        raise ValueError(f"dataset: length_policy must be one of {LENGTH_POLICIES}, but found "
                         f"{dataset['length_policy']!r}")
    if "sensors_as" in dataset and dataset["sensors_as"] not in SENSORS_AS:
        raise ValueError(f"dataset: sensors_as must be one of {SENSORS_AS} (the sensors of a recording as the "
                         f"channels of one image, or each its own image), but found {dataset['sensors_as']!r}")
    if "stft" in dataset:
        check_stft_fields(dataset["stft"])


def load_dataset(dataset: str | Mapping = "harmonic", *, image_size: int = 64, seed: int = 0,
                 n_per_class: int = 200) -> Splits:
    """The splits of the data set a profile names (see the module docstring).

    Args:
        dataset: ``"harmonic"``, ``"plaid"``, a path, or a mapping with ``path`` and options.
        image_size: spectrogram side in pixels.
        seed: seed of the simulation (harmonic) and of the split.
        n_per_class: samples per class of the simulator (ignored by recorded data).

    Returns:
        :class:`nsde.data.Splits` with ``class_names``, ``num_classes``, ``name``, the STFT
        used (``.stft``; ``info["stft_fitted"]`` names the settings fitted to the recordings)
        and a per-sample ``meta["record"]``; no recording has samples in two splits.

    Raises:
        ValueError / FileNotFoundError: an unknown name, a missing file, a bad option (named).
    """
    check_dataset_spec(dataset)
    if dataset == "harmonic":
        return load_splits(DataConfig(n_per_class=n_per_class, image_size=image_size, seed=seed))
    if dataset == "plaid":
        train, test = plaid_files()
        cfg = RecordingConfig(image_size=image_size, stft=PLAID_STFT, seed=seed)
        splits = load_ts(train, PLAID_RATE, cfg, test_path=test, length_policy="pad", length=PLAID_LENGTH,
                         name="plaid")
        splits.class_names = [PLAID_CLASSES[int(c)] for c in splits.class_names]
        return splits
    spec = {"path": dataset} if isinstance(dataset, str) else dict(dataset)
    p = _resolve(spec["path"], "path")
    cfg = RecordingConfig(image_size=image_size, stft=spec.get("stft"), seed=seed)
    sensors_as = spec.get("sensors_as", "channels")
    if p.is_file():
        return load_ts(p, float(spec["sample_rate"]), cfg, window=spec.get("window"),
                       length_policy=spec.get("length_policy", "equal"), length=spec.get("length"),
                       name=spec.get("name"), sensors_as=sensors_as)
    labels = _resolve(spec.get("labels", p / "labels.csv"), "labels")
    return load_hdf5_folder(p, labels, cfg, sample_rate=spec.get("sample_rate"), window=spec.get("window"),
                            sensors=spec.get("sensors"), name=spec.get("name"), sensors_as=sensors_as)

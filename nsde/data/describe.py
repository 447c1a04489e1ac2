"""What a page says about a data set of recordings: its source, rate, lengths and sensors
(:func:`summary`), its STFT settings and frequency axis (:func:`stft_table`) and its classes
per split (:func:`class_table`), all read from the :class:`nsde.data.Splits` the loaders
return (``info`` records the STFT used and which settings were fitted to the recordings).
"""
from __future__ import annotations

import pandas as pd
import torch

from nsde.data.splits import Splits

__all__ = ["summary", "stft_table", "class_table", "hz"]


def hz(f: float) -> str:
    """A frequency in Hz or kHz, three significant digits."""
    return f"{f / 1e3:.3g} kHz" if f >= 1e3 else f"{f:.3g} Hz"


def _duration(seconds: float) -> str:
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def _names(names: list[str], most: int = 12) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _samples(splits: Splits) -> int:
    """Samples per recording window: the loader's ``info["samples"]``, else the raw series' length."""
    if "samples" in splits.info:
        return int(splits.info["samples"])
    if "series" in splits.train.meta:
        return int(splits.train.meta["series"].shape[-1])
    raise ValueError(f"data set {splits.name!r} records neither info['samples'] nor raw series (meta['series']); "
                     "load it with nsde.data.load_dataset, which keeps both")


def summary(splits: Splits) -> str:
    """One Markdown paragraph on a data set of recordings: source files, classes (as the
    files spell them), recordings, samples and duration per image, rate, sensors and how
    they enter the model, the split.

    Raises:
        ValueError: simulated splits (the simulator has its own chapter text).
    """
    if splits.simulated:
        raise ValueError("summary describes recordings; the simulated data set is described by its chapter")
    info, rate = splits.info, splits.sample_rate
    n = _samples(splits)
    files = ", ".join(f"`{f}`" for f in info.get("files", [])[:4]) + (" ..." if len(info.get("files", [])) > 4 else "")
    recordings = sum(int(len(torch.unique(ds.meta["record"]))) for ds in splits)
    sensors = splits.location_names
    if info.get("sensors_as", "channels") == "channels":
        how = (f"its {len(sensors)} sensors ({_names(sensors)}) are the channels of one image, so every sample, "
               "and every score, is one whole recording window" if len(sensors) > 1 else "one sensor")
    else:
        how = (f"each of its {len(sensors)} sensors ({_names(sensors)}) is an image of its own (`sensors_as: images`), "
               "so samples and scores are per sensor")
    return (f"**{splits.name}** ({files}): {splits.num_classes} classes ({_names(splits.class_names)}), "
            f"{recordings} recordings, {sum(len(ds) for ds in splits)} samples of {n} samples each "
            f"({_duration(n / rate)} at {hz(rate)}); {how}. Split: {info.get('split', 'stratified by class')}.")


def stft_table(splits: Splits) -> pd.DataFrame:
    """The STFT and image settings of a data set, one row each, with where they come from
    (fitted to the recordings, or set by the profile's ``dataset: stft``)."""
    stft, rate = splits.stft, splits.sample_rate
    n = _samples(splits)
    size = splits.image_size
    fitted = set(splits.info.get("stft_fitted", []))
    lo, hi = stft.band(rate)
    n_freq, n_frames = stft.grid(n)
    per_row = (f"x{(hi / lo) ** (1 / size):.3f} per row" if stft.freq_scale == "log" else f"{hz(hi / size)} per row")
    rows = [("sample rate", hz(rate), "the data set"),
            ("samples per image", f"{n} ({_duration(n / rate)})", "the data set"),
            ("n_fft (Hann window)", f"{stft.n_fft} ({_duration(stft.n_fft / rate)})", "n_fft"),
            ("hop", f"{stft.hop} ({_duration(stft.hop / rate)})", "hop"),
            ("bin width", hz(rate / stft.n_fft), "n_fft"),
            ("STFT grid (bins x frames)", f"{n_freq} x {n_frames}", "n_fft"),
            ("frequency axis", f"{stft.freq_scale}, {hz(lo)} to {hz(hi)}", "freq_scale"),
            ("frequency per image row", per_row, "freq_scale"),
            ("image", f"{size} x {size}, {splits.in_chans} channel(s)", "the profile"),
            ("time per image column", _duration(n / rate / size), "the data set"),
            ("dynamic range", f"{stft.top_db:g} dB", "top_db")]
    source = [s if s in ("the data set", "the profile") else
              "fitted to the recordings" if s in fitted else "as set (dataset: stft, or the default)"
              for _, _, s in rows]
    return pd.DataFrame({"value": [v for _, v, _ in rows], "from": source}, index=[r for r, _, _ in rows])


def class_table(splits: Splits) -> pd.DataFrame:
    """Samples per class and split, classes spelt as the files spell them, with totals."""
    counts = pd.DataFrame({name: torch.bincount(ds.y, minlength=splits.num_classes).numpy()
                           for name, ds in splits.items()}, index=pd.Index(splits.class_names, name="class"))
    counts["total"] = counts.sum(axis=1)
    counts.loc["all classes"] = counts.sum(axis=0)
    return counts

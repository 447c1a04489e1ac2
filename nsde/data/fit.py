"""STFT settings fitted to the recordings, and one error when given settings do not fit.

A data set that does not set ``stft`` (or sets only some of its fields) gets the missing
fields from the recordings' length and sampling rate (:func:`fit_stft`):

* ``n_fft``: the power of two nearest a quarter of the recording (so that the spectrogram
  has several frames), at least 8, at most :data:`MAX_FITTED_N_FFT` (the simulator's
  1,024) and at most the recording;
* ``hop``: an eighth of ``n_fft`` (7/8 overlap), lowered until the recording gives at least
  ``image_size`` frames, so that each image column holds its own frame rather than an
  interpolation between few;
* ``freq_scale``: ``"log"`` only when the rate is at least :data:`LOG_MIN_RATE` and the
  window at least :data:`LOG_MIN_N_FFT` samples (129 bins or more: enough bins for
  log-spaced rows at the book's image sizes); ``"linear"`` for slow or short recordings,
  where a log axis would stretch a handful of low bins over most rows;
* ``f_min_hz`` (the bottom of a log axis): :data:`LOG_F_MIN_BINS` bins above DC, just outside
  the Hann window's main lobe around the DC energy.

Settings that a data set gives are kept and checked (:func:`resolve_stft`): a window longer
than the recordings, a hop longer than the window, a band above the Nyquist frequency or a
log axis whose bottom is not below its top stop the run with one message naming the file,
the profile key (``dataset: stft: <field>``) and a value that fits.
"""
from __future__ import annotations

import math
from dataclasses import asdict, fields, replace
from typing import Any, Mapping

from nsde.data.spectrogram import STFTConfig

__all__ = ["MAX_FITTED_N_FFT", "LOG_MIN_RATE", "LOG_MIN_N_FFT", "LOG_F_MIN_BINS", "FITTED_FIELDS", "fit_stft",
           "check_stft_fields", "resolve_stft", "describe_stft"]

#: Longest fitted FFT window, in samples (the simulator's).
MAX_FITTED_N_FFT = 1024
#: Slowest rate (samples per second) at which a log frequency axis is fitted.
LOG_MIN_RATE = 1000.0
#: Shortest window (samples) with which a log frequency axis is fitted (n_fft / 2 + 1 bins).
LOG_MIN_N_FFT = 256
#: Bins above DC where a fitted log axis starts.
LOG_F_MIN_BINS = 2
#: The fields :func:`fit_stft` fits (the others keep :class:`STFTConfig`'s defaults).
FITTED_FIELDS = ("n_fft", "hop", "freq_scale", "f_min_hz")
_KEY = "dataset: stft"


def _fit_n_fft(n_samples: int) -> int:
    n = 2 ** round(math.log2(max(n_samples, 1) / 4)) if n_samples >= 4 else 8
    n = min(max(n, 8), MAX_FITTED_N_FFT)
    while n > n_samples and n > 8:
        n //= 2
    return n


def _fit_hop(n_fft: int, n_samples: int, image_size: int) -> int:
    return max(1, min(n_fft // 8, n_samples // image_size))


def _fit_scale(n_fft: int, sample_rate: float) -> str:
    return "log" if sample_rate >= LOG_MIN_RATE and n_fft >= LOG_MIN_N_FFT else "linear"


def _fit_f_min(n_fft: int, sample_rate: float) -> float:
    return LOG_F_MIN_BINS * sample_rate / n_fft


def fit_stft(n_samples: int, sample_rate: float, image_size: int, given: Mapping[str, Any] | None = None
             ) -> tuple[STFTConfig, tuple[str, ...]]:
    """STFT settings for recordings of ``n_samples`` samples at ``sample_rate`` (module docstring).

    Args:
        n_samples: samples per recording (or window) turned into one image.
        sample_rate: samples per second.
        image_size: the image side in pixels (sets the fewest frames).
        given: fields the data set sets itself (kept as they are; the others are fitted
            around them, e.g. the hop to a given ``n_fft``).

    Returns:
        ``(config, fitted)``: the :class:`STFTConfig` and the names of the fields fitted
        (``f_min_hz`` only for a log axis: a linear one starts at 0 Hz).

    Raises:
        ValueError: recordings shorter than 8 samples (no window fits them), or given
            fields that :class:`STFTConfig` refuses together (naming the profile key).
    """
    if n_samples < 8:
        raise ValueError(f"recordings of {n_samples} samples are too short for a spectrogram (an STFT window needs at "
                         "least 8 samples); use longer recordings or a larger `window`")
    given = dict(given or {})
    values = dict(given)
    values.setdefault("n_fft", _fit_n_fft(n_samples))
    n_fft = values["n_fft"]
    values.setdefault("hop", _fit_hop(n_fft, n_samples, image_size))
    values.setdefault("freq_scale", _fit_scale(n_fft, sample_rate))
    values.setdefault("f_min_hz", _fit_f_min(n_fft, sample_rate))
    if "f_min_hz" not in given and values["freq_scale"] == "linear" and values.get("f_max_hz") is not None \
            and values["f_max_hz"] <= values["f_min_hz"]:
        values["f_min_hz"] = values["f_max_hz"] / 2  # unused on a linear axis (it starts at 0 Hz)
    fitted = tuple(f for f in FITTED_FIELDS if f not in given and (f != "f_min_hz" or values["freq_scale"] == "log"))
    try:
        return STFTConfig(**values), fitted
    except ValueError as exc:
        raise ValueError(f"{_KEY}: {_profile_words(str(exc))}") from None


def _profile_words(message: str) -> str:
    return message.replace("STFTConfig.", "").replace("STFTConfig", "the settings")


def check_stft_fields(spec: Any) -> dict:
    """The fields a data set's ``stft`` entry sets, each checked on its own (name, type,
    range) and with the others it is given with, before any recording is read.

    Returns:
        the fields as a ``dict``.

    Raises:
        ValueError: naming ``dataset: stft`` and the field.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"{_KEY} must be a mapping of STFT settings, e.g. {{n_fft: 256, hop: 32}}, but found {spec!r}")
    allowed = [f.name for f in fields(STFTConfig)]
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ValueError(f"{_KEY} has unknown field(s) {unknown}; the fields are {allowed}")
    loose = STFTConfig(n_fft=1 << 30, hop=1, f_min_hz=1e-12)  # admits any one valid value of each field
    for name, value in spec.items():
        try:
            replace(loose, **{name: value})
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{_KEY}: {_profile_words(str(exc))}") from None
    pair = {k: spec[k] for k in ("n_fft", "hop") if k in spec}
    if len(pair) == 2 and pair["hop"] > pair["n_fft"]:
        raise ValueError(f"{_KEY}: hop {pair['hop']} is longer than n_fft {pair['n_fft']} (frames would skip "
                         f"samples); write hop: {max(1, pair['n_fft'] // 8)} or less")
    if spec.get("f_max_hz") is not None and "f_min_hz" in spec and not spec["f_max_hz"] > spec["f_min_hz"]:
        raise ValueError(f"{_KEY}: f_max_hz {spec['f_max_hz']:g} must exceed f_min_hz {spec['f_min_hz']:g}")
    return dict(spec)


def resolve_stft(spec: STFTConfig | Mapping[str, Any] | None, n_samples: int, sample_rate: float, image_size: int,
                 where: str) -> tuple[STFTConfig, tuple[str, ...]]:
    """The STFT of a data set: ``spec``'s fields where it sets them, the rest fitted
    (:func:`fit_stft`), and every setting checked against the recordings.

    Args:
        spec: ``None`` (fit every field), a mapping of the fields the data set sets, or a
            complete :class:`STFTConfig` (used as it is).
        n_samples: samples per recording (or window) turned into one image.
        sample_rate: samples per second.
        image_size: the image side in pixels.
        where: the file (or folder) the recordings come from, for the message.

    Returns:
        ``(config, fitted field names)``.

    Raises:
        ValueError: one message naming ``where``, every setting that does not fit with its
            profile key ``dataset: stft: <field>`` and a value that fits.
    """
    given = asdict(spec) if isinstance(spec, STFTConfig) else dict(spec or {})
    nyq = sample_rate / 2
    problems: list[str] = []
    fit_n = _fit_n_fft(n_samples)
    n_fft = given.get("n_fft", fit_n)
    if n_fft > n_samples:
        problems.append(f"`{_KEY}: n_fft` is {n_fft}, longer than the recordings: write n_fft: {fit_n}")
        given["n_fft"] = n_fft = fit_n
    if "hop" in given and given["hop"] > n_fft:
        problems.append(f"`{_KEY}: hop` is {given['hop']}, longer than the window of {n_fft} samples: write hop: "
                        f"{_fit_hop(n_fft, n_samples, image_size)}")
        given.pop("hop")
    f_max = given.get("f_max_hz")
    if f_max is not None and f_max > nyq * (1 + 1e-9):
        problems.append(f"`{_KEY}: f_max_hz` is {f_max:g} Hz, above the Nyquist frequency {nyq:g} Hz: write "
                        "f_max_hz: null")
        given["f_max_hz"] = f_max = None
    scale = given.get("freq_scale", _fit_scale(n_fft, sample_rate))
    f_min = given.get("f_min_hz", _fit_f_min(n_fft, sample_rate))
    top = f_max or nyq
    if scale == "log" and f_min >= top:
        fix = _fit_f_min(n_fft, sample_rate)
        problems.append(f"`{_KEY}: f_min_hz` is {f_min:g} Hz, not below the top of the band, {top:g} Hz: write "
                        + (f"f_min_hz: {fix:.3g}" if fix < top else "freq_scale: linear"))
        given["freq_scale"] = "linear" if fix >= top else "log"
        given["f_min_hz"] = fix
    if problems:
        hint = "" if isinstance(spec, STFTConfig) else f" (or leave `{_KEY}` out to fit every setting to them)"
        raise ValueError(f"{where}: the STFT settings do not fit its recordings ({n_samples} samples at "
                         f"{sample_rate:g} Hz): {'; '.join(problems)}{hint}")
    if isinstance(spec, STFTConfig):
        return spec, ()
    try:
        return fit_stft(n_samples, sample_rate, image_size, given)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def describe_stft(stft: STFTConfig, n_samples: int, sample_rate: float, fitted: tuple[str, ...] = ()) -> str:
    """One line: window, hop, frequency axis and band, and which settings were fitted."""
    lo, hi = stft.band(sample_rate)
    n_freq, n_frames = stft.grid(n_samples)
    how = (f"fitted to {n_samples}-sample recordings at {sample_rate:g} Hz: {', '.join(fitted)}"
           if fitted else "as given")
    return (f"STFT n_fft {stft.n_fft} ({_seconds(stft.n_fft / sample_rate)}), hop {stft.hop}, "
            f"{stft.freq_scale} axis {_hz(lo)}-{_hz(hi)}, {n_freq} bins x {n_frames} frames ({how})")


def _seconds(t: float) -> str:
    return f"{t:.3g} s" if t >= 1 else f"{t * 1e3:.3g} ms"


def _hz(f: float) -> str:
    return f"{f / 1e3:.3g} kHz" if f >= 1e3 else f"{f:.3g} Hz"

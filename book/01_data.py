# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown] tags=["only-simulator"]
# # The harmonic-signals dataset
#
# The paper trains its classifiers on ORNL's *Harmonic Signals Dataset* {cite}`adams2023harmonic`.
# What the paper says about it (Sec. 4.1) fits in a few lines: sine, square, square with a
# 75/25 duty cycle and triangle waveforms were injected into the wiring of an ORNL building
# at 0.5-50 kHz and recorded by sensors at six locations "through building power"; 16
# classes were collected, "including muxed combinations of the pure waveforms"; a
# short-time Fourier transform (STFT) turned the recordings into 10,000 spectrograms, 625
# per class, split at random 70/15/15 (Sec. 4.2). The recordings are not public, and the paper gives
# neither the STFT parameters nor the image size.
#
# This chapter therefore builds the dataset from a **simulator** of that experiment
# (`nsde.data`), states every choice the paper leaves open, and checks the simulator
# against the physics it claims: harmonic content of each waveform, SNR at each sensor.
# Every chapter gets its data from one entry point, `nsde.data.load_dataset`, named by the
# profile's `dataset` setting: the simulator (`harmonic`), the real appliance recordings of
# PLAID (`plaid`, the subject of its own chapter), or your own `.ts` or HDF5 recordings (see
# "Run the book on your own recordings"). The last section of this chapter shows the data
# this copy of the book was built on.

# %% [markdown] tags=["only-recorded"]
# # The data of this build
#
# This build of the book runs on recordings, named by the profile's `dataset` setting: PLAID
# (`plaid`) or your own `.ts` or HDF5 files (see "Run the book on your own recordings"). Every
# chapter gets them from one entry point, `nsde.data.load_dataset`, which reads and checks every
# file, turns each recording (or window of one) into a spectrogram image and splits the
# images so that no recording is in two splits. This page shows what the later chapters are
# about to train and test on: the data set's own sampling rate and lengths, the STFT settings
# (fitted to the recordings where the profile sets none) and the frequency axis they give,
# the classes of every split, as the files spell them, and example spectrograms of every class.
# The paper's own data set and our simulator of it are described by this chapter in a build of
# the simulator's profiles (`make book PROFILE=default`).

# %% tags=["parameters"]
profile = "quick"

# %% tags=["hide-input"]
import math
import time

import matplotlib.pyplot as plt
from myst_nb import glue
import pandas as pd
import torch
from IPython.display import Markdown

from nsde.data import (CLASS_NAMES, LOCATION_NAMES, WAVEFORMS, DataConfig, class_members, describe,
                       harmonic_amplitudes, load_dataset, measure_snr, plot_class_waveforms, plot_examples, plot_gallery,
                       plot_sensors)
from nsde.report import provenance
from nsde.studies.setup import setup

S = setup(profile, zoo=False)
P = S.profile
cfg = DataConfig(n_per_class=P.n_per_class, image_size=P.image_size, seed=P.seed)
sim, stft = cfg.simulator, cfg.stft
P.describe(["dataset", "seed", "n_per_class", "image_size"])

# %% tags=["only-simulator"]
print(f"simulator at profile {profile}: {len(CLASS_NAMES)} classes x {P.n_per_class} = "
      f"{len(CLASS_NAMES) * P.n_per_class} samples, {P.image_size}x{P.image_size} images")  # NBVAL_CHECK_OUTPUT

# %% [markdown] tags=["only-simulator"]
# ## Sixteen classes: the subsets of four waveforms
#
# The paper's 16 classes are "including muxed combinations of the pure waveforms" (Sec. 4.1)
# but are not listed. Four waveforms have exactly 2^4 = 16 subsets, so we read the classes as the
# subsets, the empty one being **background**: a recording with nothing injected. It is not
# the only reading (the four pure waveforms and the 12 ordered pairs of two also make 16),
# but it needs no order within a class, and background is a natural class for a monitoring
# task (is anything injected?).
#
# "Muxed" suggests a multiplexer: we **time-division multiplex** the waveforms of a class.
# The recording window is cut into k equal slots (k = number of waveforms), each slot
# carries one waveform, the slots are visited in a random order and the slot grid is
# shifted by a random offset. Each waveform keeps its own free-running generator (its own
# fundamental and phase), as if a switch moved between k function generators. So a class
# is recognised by *which* harmonic patterns appear in the spectrogram, not by when.

# %% tags=["only-simulator"]
members = class_members(torch.arange(16))
classes = pd.DataFrame(members.int().numpy(), columns=list(WAVEFORMS))
classes.insert(0, "class", list(CLASS_NAMES))
classes["waveforms"] = members.sum(1).numpy()
print(classes.to_string())  # NBVAL_CHECK_OUTPUT

# %% [markdown] tags=["only-simulator"]
# ## The injected waveforms
#
# Each waveform has a fundamental drawn log-uniformly from 0.5-50 kHz (the paper's band),
# a uniform random phase and a log-uniform peak amplitude in [0.5, 2]. We simulate at
# **200 kHz**, not ORNL's 800 kHz: the band of interest (fundamentals up to 50 kHz and
# their first harmonics) lies below 100 kHz, and on a linear-frequency spectrogram image
# 800 kHz would spend three quarters of the rows on 100-400 kHz, where only the upper
# harmonics of the fastest fundamentals live. Real recordings at 800 kHz can be low-pass
# filtered and decimated by 4 before `load_hdf5_folder`.
#
# Each waveform is **band-limited**: it keeps exactly the harmonics of its Fourier series
# that lie below the Nyquist frequency (100 kHz), synthesised from precomputed wavetables,
# so a 40 kHz square wave has no aliased harmonics folding back into the band. The figure
# shows the first 5 ms of one sample of every class (the whole window is 41 ms).

# %% tags=["only-simulator"]
fig = plot_class_waveforms(sim, seed=P.seed, duration_ms=5)
glue("fig-waveforms", plt.gcf(), display=False)
plt.close("all")

# %% [markdown] tags=["only-simulator"]
# ```{glue:figure} fig-waveforms
# :name: "fig-waveforms"
# The first 5 ms of one simulated recording of every class at the injection point (band-limited wavetables; the whole window is 41 ms).
# ```

# %% [markdown] tags=["only-simulator"]
# The table measures the harmonic amplitudes of each simulated waveform (FFT of one
# window, relative to the fundamental) and compares them with the Fourier series: a
# square wave has only odd harmonics falling as 1/n, a triangle only odd harmonics
# falling as 1/n^2, the 75/25 square has every harmonic except multiples of 4, with
# amplitude |sin(3 pi n / 4)| / n relative to sin(3 pi / 4). These decays are what the
# classifier must see to tell the waveforms apart: at a noisy sensor the triangle's
# third harmonic (1/9, -19 dB) drowns first, so triangle and sine become confusable.

# %% tags=["only-simulator"]
harm = pd.DataFrame({kind: harmonic_amplitudes(kind, 9, config=sim).numpy() for kind in WAVEFORMS},
                    index=pd.Index(range(1, 10), name="harmonic n")).round(3)
harm["1/n"] = [round(1 / n, 3) for n in range(1, 10)]
harm["75/25 theory"] = [round(abs(math.sin(0.75 * math.pi * n)) / n / math.sin(0.75 * math.pi), 3) for n in range(1, 10)]
harm["1/n^2"] = [round(1 / n ** 2, 3) for n in range(1, 10)]
print(harm.to_string())  # NBVAL_CHECK_OUTPUT

# %% [markdown] tags=["only-simulator"]
# ## Six sensor locations
#
# Every location is a channel of its own (`SimulatorConfig` fields, one value per
# location): an **attenuation** (gain) and a **band-limiting transfer function** of the
# wiring path (a 2nd-order Butterworth low-pass, cut-off falling from 90 kHz at the
# injection panel to 20 kHz at the buried-line antenna, times a 1st-order high-pass for
# the sensor's coupling), then **location-specific interference**: coloured background
# noise with a 1/f^beta spectrum, 60 Hz mains with its odd harmonics up to the 25th,
# switching transients (damped 5-60 kHz oscillations) and impulses. The interference is
# scaled so that the received injected power over the interference power is the
# location's SNR, with a 2 dB per-recording jitter. The SNRs fall from +20 dB at the
# injection panel to -10 dB at the buried-line antenna, so some locations are hard.
# The paper does not describe its sensors beyond "six locations"; third-party code for the
# ORNL files names Rogowski coils and CTs on 480/240/120 V circuits and B-field antennas,
# which is where our location names come from.

# %% tags=["only-simulator"]
locs = pd.DataFrame({
    "location": list(LOCATION_NAMES),
    "gain": sim.gain,
    "low-pass (kHz)": [f / 1e3 for f in sim.lowpass_hz],
    "high-pass (Hz)": sim.highpass_hz,
    "noise beta": sim.noise_beta,
    "mix noise/mains/transients/impulses": ["/".join(f"{m:.2f}" for m in mix) for mix in sim.mix],
    "SNR set (dB)": sim.snr_db,
})
print(locs.to_string())  # NBVAL_CHECK_OUTPUT

# %% [markdown] tags=["only-simulator"]
# One injection of the class with all four waveforms, as recorded at the six sensors
# (each sensor's recording comes from the same source; the simulator produces all six
# channels). Top: the recorded signal; bottom: its spectrogram image, frequency upwards.
# Near the injection the four slots and their harmonic combs are clear; far from it,
# mains, transients (bright blobs) and impulses (vertical lines) take over and the
# low-pass removes the upper harmonics.

# %% tags=["only-simulator"]
fig = plot_sensors(15, sim, seed=P.seed, image_size=max(P.image_size, 64), stft=stft)
glue("fig-sensors", plt.gcf(), display=False)
plt.close("all")

# %% [markdown] tags=["only-simulator"]
# ```{glue:figure} fig-sensors
# :name: "fig-sensors"
# One recording of the class with all four waveforms as the six simulated sensors see
# it: the spectrogram at each location, from the injection panel (top left) to the
# buried-line antenna.
# ```

# %% [markdown] tags=["only-simulator"]
# **SNR per location, set and measured.** We simulate 64 recordings per location (every
# class but background) and measure each recording's SNR from the received signal and the
# interference the simulator returns. The measured mean should match the setting within
# the jitter's standard error (2 dB / sqrt(64) = 0.25 dB).

# %% tags=["only-simulator"]
snr = measure_snr(64, seed=P.seed, config=sim)
snr_table = pd.DataFrame({
    "location": list(LOCATION_NAMES),
    "SNR set (dB)": sim.snr_db,
    "measured mean (dB)": snr.mean(1).numpy().round(1),
    "measured std (dB)": snr.std(1).numpy().round(1),
})
print(snr_table.to_string())  # NBVAL_CHECK_OUTPUT

# %% [markdown] tags=["only-simulator"]
# ## From recordings to spectrogram images
#
# The paper gives no STFT parameters. Ours, and why:
#
# * **Window of 8,192 samples (41 ms)**: 20 periods of the slowest fundamental, and each
#   of up to four multiplexed slots still holds 5 of them.
# * **n_fft = 1024 with a Hann window**: 195 Hz bins, so the slowest fundamental (0.5 kHz)
#   lies 2.6 bins above DC, outside the Hann main lobe (+-2 bins) of the DC/mains energy;
#   5.1 ms frames hold 2.5 of its periods.
# * **hop = 128**: 65 frames per window, about one frame per image column at 64x64.
# * **Power pooled to the image grid, then dB**: time is resized with an antialiased
#   filter (`torch.nn.functional.interpolate`) to `image_size` columns; frequency is pooled
#   into `image_size` **log-spaced bands** from 250 Hz to 100 kHz (each row the mean power
#   of its band). Pooling power before the log keeps a narrow harmonic line visible;
#   averaging log-magnitudes would dilute it over the pooled bins.
# * **Why a log frequency axis.** The fundamentals are log-uniform over two decades. On a
#   linear 64-row axis (1.56 kHz per row) every fundamental below 3 kHz, four in ten,
#   squeezes its whole harmonic series into the bottom rows together with the mains, and
#   the waveforms can only be told apart by how far the smear reaches. On a log axis every
#   harmonic series has the same shape (lines at log 1, log 3, log 5, ... above the
#   fundamental) wherever the fundamental lies, a shift a convolutional network handles
#   naturally. The paper does not say which axis it used; `STFTConfig(freq_scale="linear")`
#   gives the linear one, and the comparison below shows both.
# * **80 dB floor, per-sample min-max to [0, 1]**, one channel: images are comparable in
#   contrast whatever the recording's level, as the paper's grayscale spectrograms.
#
# The image must show both the harmonic structure and the slots: an `image_size` below 16
# (4 rows per 50 kHz, 4 columns per slot) raises an error naming these values.

# %% tags=["only-simulator"]
n_freq, n_frames = stft.grid(sim.window)
(f_lo, f_hi), nyq = stft.band(sim.sample_rate), sim.sample_rate / 2
stft_table = pd.DataFrame({
    "value": [f"{sim.sample_rate / 1e3:g} kHz", f"{sim.window} samples ({sim.window / sim.sample_rate * 1e3:.1f} ms)",
              f"{stft.n_fft} (Hann)", f"{stft.hop}", f"{sim.sample_rate / stft.n_fft:.0f} Hz",
              f"{stft.n_fft / sim.sample_rate * 1e3:.2f} ms", f"{n_freq} x {n_frames}",
              f"{P.image_size} x {P.image_size}", f"{stft.freq_scale}, {f_lo / 1e3:g}-{f_hi / 1e3:g} kHz",
              f"{(f_hi / f_lo) ** (1 / P.image_size):.3f}",
              f"{sim.window / sim.sample_rate * 1e3 / P.image_size:.2f} ms", f"{stft.top_db:g} dB"],
}, index=["sample rate", "window", "n_fft", "hop", "bin width", "frame length", "STFT grid (bins x frames)",
          "image", "frequency axis", "frequency ratio per row", "ms per image column", "dynamic range"])
print(stft_table.to_string())  # NBVAL_CHECK_OUTPUT

# %% [markdown] tags=["only-simulator"]
# The same four recordings (injection panel, one per pure waveform) on both axes. On the
# linear axis the low fundamentals' harmonics merge at the bottom; on the log axis each
# waveform shows its own pattern of lines: one line (sine), odd harmonics falling as 1/n
# (square), all but every fourth (75/25 square), odd harmonics falling fast (triangle).

# %% tags=["only-simulator"]
from nsde.data import STFTConfig, frequency_axis, simulate, spectrogram

demo = simulate(torch.tensor([1, 2, 4, 8]), seed=P.seed, location=torch.zeros(4, dtype=torch.long), config=sim)
fig, axes = plt.subplots(2, 4, figsize=(10, 5))
for r, scale in enumerate(("linear", "log")):
    st = STFTConfig(freq_scale=scale)
    imgs = spectrogram(demo, 64, st, sim.sample_rate)
    for c, ax in enumerate(axes[r]):
        ax.imshow(imgs[c, 0], origin="lower", cmap="magma", aspect="auto")
        frequency_axis(ax, 64, sim.sample_rate, st)
        ax.set_title(f"{CLASS_NAMES[[1, 2, 4, 8][c]]}, {scale} axis", fontsize=8)
        ax.set_xlabel("time (image column)", fontsize=7)
    axes[r, 0].set_ylabel("frequency (kHz)", fontsize=7)
fig.suptitle("Linear versus log frequency axis, 64 x 64")
fig.tight_layout()
glue("fig-axes", plt.gcf(), display=False)
plt.close("all")

# %% [markdown] tags=["only-simulator"]
# ```{glue:figure} fig-axes
# :name: "fig-axes"
# One waveform of each kind on a linear and on a log frequency axis (64 x 64): the log
# axis gives the low fundamentals rows of their own.
# ```

# %% [markdown] tags=["only-simulator"]
# ## The simulated dataset and its splits
#
# `load_dataset("harmonic", ...)` simulates every sample, transforms it and caches the three
# splits under a hash of the configuration, so the training chapter loads the same tensors.
# Each sample is one recording window of one class **at one sensor location**: sample j of
# class c is recorded at location (j + c) mod 6, so every class is seen equally often at
# every location (to within one sample). The split is stratified per class, 70/15/15 (the
# paper's proportions; it names them training/testing/validation, we call the 15% used
# for model selection "val" and keep "test" untouched), and within a class the samples
# are dealt to the splits round-robin over the locations, so every split also sees every
# location about equally often (the per-location accuracies of later chapters rest on it).
#
# **No recording in two splits.** Real recordings are often cut into several windows; if
# windows of one recording landed in both the training and the test split, a model could be
# scored on what it has already seen. Every sample therefore carries the recording it was
# cut from (`meta["record"]`), the loaders split by recording (stratified by class), and
# `Splits.table()` refuses a split in which a recording appears twice. Each simulated sample
# is its own recording.

# %% tags=["only-simulator"]
t0 = time.perf_counter()
splits = load_dataset("harmonic", image_size=P.image_size, seed=P.seed, n_per_class=P.n_per_class)
elapsed = time.perf_counter() - t0
print(f"loaded in {elapsed:.1f} s (simulated on the first run, from the cache afterwards)")

# %% tags=["only-simulator"]
counts = pd.DataFrame({name: torch.bincount(ds.y, minlength=16).numpy() for name, ds in splits.items()},
                      index=pd.Index(splits.class_names, name="class"))
counts["total"] = counts.sum(axis=1)
counts.loc["all classes"] = counts.sum(axis=0)
print(counts.to_string())  # NBVAL_CHECK_OUTPUT

# %% tags=["only-simulator"]
for name, ds in splits.items():
    print(f"{name:5s}: x {tuple(ds.x.shape)} {ds.x.dtype} in [{float(ds.x.min()):.0f}, {float(ds.x.max()):.0f}], "
          f"y {tuple(ds.y.shape)} {ds.y.dtype}")  # NBVAL_CHECK_OUTPUT

# %% tags=["only-simulator"]
by_loc = pd.DataFrame({name: torch.bincount(ds.meta["location"], minlength=6).numpy() for name, ds in splits.items()},
                      index=pd.Index(splits.location_names, name="location"))
print(by_loc.to_string())  # NBVAL_CHECK_OUTPUT

# %% [markdown] tags=["only-simulator"]
# ## Spectrogram gallery
#
# Four training images of every class (columns), the sensor location in the corner. Sine
# gives one line per slot, square a comb of odd harmonics, the 75/25 square a denser comb
# (even harmonics too), the triangle a line with faint odd harmonics. Multiplexed classes
# show their waveforms one after the other in time. At the far locations mains (bottom
# rows), transients (blobs) and impulses (vertical lines) cover the weaker harmonics, and
# the wiring's low-pass removes the upper ones: that is where classes become confusable
# (a triangle whose harmonics are lost looks like a sine; a square like a 75/25 square
# when the harmonics that tell them apart are gone).

# %% tags=["only-simulator"]
fig = plot_gallery(splits.train, splits.class_names, per_class=4, sample_rate=splits.sample_rate, seed=P.seed,
                   stft=stft)
glue("fig-gallery", plt.gcf(), display=False)
plt.close("all")

# %% [markdown] tags=["only-simulator"]
# ```{glue:figure} fig-gallery
# :name: "fig-gallery"
# Four training spectrograms of every class of the simulated data set, at this profile's
# image size.
# ```

# %% [markdown] tags=["only-simulator"]
# The mean image of each class over the training split shows what separates classes on
# average: how far the energy spreads above the fundamentals (sine least, the squares
# most). Fundamentals vary from sample to sample, so individual lines average out.

# %% tags=["only-simulator"]
fig, axes = plt.subplots(2, 8, figsize=(14, 4))
for c, ax in enumerate(axes.flat):
    ax.imshow(splits.train.x[splits.train.y == c, 0].mean(0), origin="lower", cmap="magma", aspect="auto")
    frequency_axis(ax, P.image_size, sim.sample_rate, stft, labels=c % 8 == 0)
    ax.set_title(CLASS_NAMES[c].replace("+", "+\n"), fontsize=6)
    ax.tick_params(labelsize=5)
axes[1, 0].set_xlabel("time (image column)", fontsize=7)
axes[1, 0].set_ylabel("frequency (kHz)", fontsize=7)
fig.suptitle("Mean training spectrogram per class")
fig.tight_layout()
glue("fig-class-means", plt.gcf(), display=False)
plt.close("all")

# %% [markdown] tags=["only-simulator"]
# ```{glue:figure} fig-class-means
# :name: "fig-class-means"
# The mean training spectrogram of each class (all sensor locations pooled).
# ```

# %% [markdown]
# ## The data of this build
#
# The later chapters run on the data set the profile names (`dataset`). The table gives, per
# split, the recordings and the samples cut from them, and it is computed only after
# checking that no recording appears in two splits.

# %%
data = S.data
print(f"dataset {data.name!r}: {data.num_classes} classes, {data.info.get('split', 'stratified by class')}")
print(data.table().to_string())  # NBVAL_CHECK_OUTPUT

# %% tags=["only-recorded", "remove-input"]
Markdown(describe.summary(data))

# %% [markdown] tags=["only-recorded"]
# ### From recordings to spectrogram images
#
# Each sample's recording becomes one image per channel: a short-time Fourier transform
# (Hann window of `n_fft` samples every `hop` samples), its power pooled to `image_size`
# rows of frequency and `image_size` columns of time, in dB, floored `top_db` below its
# maximum and scaled to [0, 1], as the simulator's images. The band is in Hz, so the data
# set's sampling rate sets the frequency axis. Settings the profile does not give under
# `dataset: stft` are fitted to the recordings (`nsde.data.fit`): a window of about a quarter
# of the recording (a power of two, at most 1,024 samples), a hop of an eighth of it or less
# so that every image column has a frame of its own, a linear axis for slow or short
# recordings (a log axis needs a rate of at least 1 kHz and a window of at least 256 samples)
# and a log axis from two bins above DC otherwise. The table says where each setting comes from.

# %% tags=["only-recorded"]
print(describe.stft_table(data).to_string())  # NBVAL_CHECK_OUTPUT

# %% [markdown] tags=["only-recorded"]
# Samples per class and split, the classes spelt as the data set spells them:

# %% tags=["only-recorded"]
print(describe.class_table(data).to_string())  # NBVAL_CHECK_OUTPUT

# %% tags=["only-recorded"]
fig = plot_examples(data, per_class=4, seed=P.seed)
glue("fig-examples", fig, display=False)
plt.close("all")

# %% [markdown] tags=["only-recorded"]
# ```{glue:figure} fig-examples
# :name: "fig-examples"
# Example training spectrograms of every class of this build's data set, frequency upwards
# on the axis the STFT settings above give (one example per class with every sensor side by
# side when the sensors are the channels of one image).
# ```

# %% [markdown] tags=["only-simulator"]
# ## What follows the paper and what is ours
#
# | | paper (ORNL data) | this book |
# | --- | --- | --- |
# | waveforms | sine, square, square 75/25, triangle | same, band-limited Fourier series |
# | fundamentals | 0.5-50 kHz | log-uniform 0.5-50 kHz |
# | classes | 16, incl. muxed combinations | the 16 subsets, time-division multiplexed |
# | sensors | six locations in a building | six simulated channels, SNR +20 to -10 dB |
# | sampling | 800 kHz (third-party readers) | 200 kHz (band of interest below 100 kHz) |
# | spectrograms | STFT, parameters not given | n_fft 1024, hop 128, Hann, log-frequency bands, dB, [0, 1] |
# | size | 10,000 = 16 x 625 | `n_per_class` x 16 (default and paper profiles: 625) |
# | split | random 70/15/15 | stratified 70/15/15, seeded |
#
# The simulator is not the ORNL data: its difficulty is set by our SNRs and interference,
# chosen so that the task is learnable but not trivial. Whether results on it carry over to
# the ORNL recordings is not something this book can show; the training chapter shows
# instead where our baseline stands against the paper's (its clean accuracy and its
# accuracy under noise), and the PLAID chapter repeats the tests on real recordings.

# %% tags=["remove-input"]
Markdown(provenance.footer(S, "01_data"))

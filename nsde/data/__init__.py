"""Data of the book (NSDE paper, arXiv 2409.01532, Sec. 4.1): the harmonic-signals simulator,
STFT spectrograms (:mod:`.spectrogram`) and their settings fitted to recordings (:mod:`.fit`), samples and leak-free splits (:mod:`.splits`), the
simulated data set (:mod:`.harmonic`, :mod:`.simulator`), loaders for real recordings
(:mod:`.loaders`: ``.ts``, HDF5), and the one entry point every chapter uses,
:func:`load_dataset` (:mod:`.load`).

``from nsde.data import load_dataset``.
"""
from nsde.data.fit import describe_stft, fit_stft, resolve_stft
from nsde.data.harmonic import DataConfig, dataset_layout, generate_dataset, load_splits
from nsde.data.load import DATASETS, PLAID_RATE, check_dataset_spec, load_dataset, plaid_files
from nsde.data.loaders import (LENGTH_POLICIES, SENSORS_AS, RecordingConfig, fit_length, load_hdf5_folder, load_ts,
                               match_labels, read_hdf5_folder, read_ts, recordings_to_splits)
from nsde.data.plots import frequency_axis, plot_class_waveforms, plot_examples, plot_gallery, plot_sensors
from nsde.data.simulator import (CLASS_NAMES, LOCATION_NAMES, WAVEFORMS, SimulatorConfig, class_members,
                                 draw_source_params, fourier_coefficients, harmonic_amplitudes, measure_snr, propagate,
                                 simulate, synthesize, transfer_function, waveform)
from nsde.data.spectrogram import (STFTConfig, check_image_size, check_stft, min_image_size, power_spectrogram,
                                   row_of_frequency, spectrogram)
from nsde.data.splits import (SPLIT_NAMES, SignalDataset, Splits, grouped_split, make_splits, min_class_size,
                              split_counts, stratified_split, stratified_subset)

__all__ = [
    "load_dataset", "DATASETS", "PLAID_RATE", "check_dataset_spec", "plaid_files",
    "DataConfig", "SignalDataset", "Splits", "SPLIT_NAMES", "load_splits", "generate_dataset", "make_splits",
    "stratified_split", "stratified_subset", "grouped_split", "dataset_layout", "split_counts", "min_class_size",
    "SimulatorConfig", "WAVEFORMS", "CLASS_NAMES", "LOCATION_NAMES", "simulate", "synthesize", "propagate",
    "draw_source_params", "measure_snr", "harmonic_amplitudes", "class_members", "fourier_coefficients",
    "transfer_function", "waveform",
    "RecordingConfig", "LENGTH_POLICIES", "SENSORS_AS", "fit_length", "match_labels", "load_hdf5_folder", "load_ts",
    "read_hdf5_folder", "read_ts", "recordings_to_splits",
    "frequency_axis", "plot_class_waveforms", "plot_examples", "plot_gallery", "plot_sensors",
    "STFTConfig", "row_of_frequency", "spectrogram", "power_spectrogram", "min_image_size", "check_image_size",
    "check_stft", "fit_stft", "resolve_stft", "describe_stft",
]

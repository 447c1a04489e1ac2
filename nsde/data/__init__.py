"""Harmonic-signals data (NSDE paper, arXiv 2409.01532, Sec. 4.1): simulator, STFT
spectrograms, stratified splits and loaders for real recordings (HDF5, UCR/UEA ``.ts``).

``from nsde.data import DataConfig, load_splits``.
"""
from .dataset import (SPLIT_NAMES, DataConfig, SignalDataset, Splits, dataset_layout, generate_dataset,
                      load_splits, make_splits, stratified_split, stratified_subset)
from .simulator import (CLASS_NAMES, LOCATION_NAMES, WAVEFORMS, SimulatorConfig, class_members,
                        draw_source_params, fourier_coefficients, harmonic_amplitudes, measure_snr, propagate, simulate, synthesize,
                        transfer_function, waveform)
from .plots import frequency_axis, plot_class_waveforms, plot_gallery, plot_sensors
from .loaders import load_hdf5_folder, load_ts, read_hdf5_folder, read_ts, recordings_to_splits
from .spectrogram import STFTConfig, row_of_frequency, check_image_size, min_image_size, power_spectrogram, spectrogram

__all__ = [
    "DataConfig", "SignalDataset", "Splits", "SPLIT_NAMES", "load_splits", "generate_dataset", "make_splits",
    "stratified_split", "stratified_subset", "dataset_layout",
    "SimulatorConfig", "WAVEFORMS", "CLASS_NAMES", "LOCATION_NAMES", "simulate", "synthesize", "propagate",
    "draw_source_params", "measure_snr", "harmonic_amplitudes", "class_members", "fourier_coefficients", "transfer_function", "waveform",
    "load_hdf5_folder", "load_ts", "read_hdf5_folder", "read_ts", "recordings_to_splits",
    "frequency_axis", "plot_class_waveforms", "plot_gallery", "plot_sensors",
    "STFTConfig", "row_of_frequency", "spectrogram", "power_spectrogram", "min_image_size", "check_image_size",
]

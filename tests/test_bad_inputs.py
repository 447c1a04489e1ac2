"""Bad inputs of the reliability audit (issue 23): each gets one error that names the
problem (the file, the setting, the value, the fix) before work starts, and results that
were silently wrong are refused. One row per case; every test asserts what the message names."""
import os
import re
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import torch
import torch.nn as nn

from nsde import runbook
from nsde._infra import runtime
from nsde._infra.cache import CacheError
from nsde.core.models import build_model
from nsde.core.predict import predict
from nsde.core.training import ModelSpec, TrainConfig, train, train_or_load
from nsde.data import RecordingConfig, STFTConfig, load_dataset, load_hdf5_folder, load_ts
from nsde.measures import attacks, attribution, iaside, robustness
from nsde.studies.protocols import clean_correct_subset

CFG = RecordingConfig(image_size=16, stft=STFTConfig(n_fft=64, hop=8))
RATE = 8000.0


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def _x(n=8, c=1):
    return torch.rand(n, c, 32, 32, generator=torch.Generator().manual_seed(0))


def _plain(classes=10, device="cpu"):
    """A classifier not built by build_model: no num_classes, no in_chans."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(1024, classes, device=device))


def _meta(n=2):
    return torch.empty(n, 1, 32, 32, device="meta")


def _record(message):
    """With ``NSDE_BAD_INPUT_LOG=<file>``, append the case and the message it gave (for the
    list of messages in a closing note or a review); otherwise nothing."""
    log = os.environ.get("NSDE_BAD_INPUT_LOG")
    if log:
        case = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].rsplit(" ", 1)[0]
        with open(log, "a") as f:
            f.write(f"{case}\n    {message}\n")


def _raises(call, kind, *needles):
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    _record(message)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# ----------------------------------------------------------------- silently wrong, raw tracebacks: the API
API_CASES = {
    "noise_accuracy: labels outside a plain model's output width": (
        lambda: robustness.noise_accuracy(_plain(), _x(), torch.full((8,), 12), [0.1]),
        ValueError, ["y holds class 12", "[0, 10)"]),
    "snr_db: a perturbation of another shape": (
        lambda: robustness.snr_db(_x(), _x()[:2]),
        ValueError, ["perturbation must have the shape of signal (8, 1, 32, 32)", "found shape (2, 1, 32, 32)"]),
    "eps_per_pixel: an empty image shape": (
        lambda: attacks.eps_per_pixel(0.1, ()),
        ValueError, ["image_shape must be the image's sizes (C, H, W)", "found ()"]),
    "clean_correct_subset: a negative n": (
        lambda: clean_correct_subset({"a": np.array([1., 0., 1.])}, -1),
        ValueError, ["n must be an int >= 1, but found -1"]),
    "spectral_importance: one image pairs with itself": (
        lambda: iaside.spectral_importance(_plain(), _x()[:1], torch.zeros(1, dtype=torch.long), n_bands=3,
                                           show_progress=False),
        ValueError, ["replace='random'", "needs at least 2 images, but found 1", "replace='zero'"]),
    "train: 3-channel data for a 1-channel model": (
        lambda: train(build_model("resnet10t", "baseline", num_classes=10, image_size=32),
                      (_x(8, 3), torch.arange(8)), (_x(8, 3), torch.arange(8)), TrainConfig(epochs=1, batch_size=4)),
        ValueError, ["train_data: the model takes 1-channel images, but x has 3 channels"]),
    "predict: images on the meta device": (
        lambda: predict(_plain(), _meta()),
        ValueError, ["x is on the meta device, so it holds no values"]),
    "predict: a model on the meta device": (
        lambda: predict(_plain(device="meta"), _x()),
        ValueError, ["the model's 1.weight is on the meta device", "load its weights"]),
    "noise_accuracy: images on the meta device": (
        lambda: robustness.noise_accuracy(_plain(), _meta(8), torch.zeros(8, dtype=torch.long), [0.1]),
        ValueError, ["x is on the meta device"]),
    "noise_accuracy: a model on the meta device": (
        lambda: robustness.noise_accuracy(_plain(device="meta"), _x(), torch.zeros(8, dtype=torch.long), [0.1]),
        ValueError, ["the model's 1.weight is on the meta device"]),
    "attribute: images on the meta device": (
        lambda: attribution.attribute(_plain(), _meta(), 0),
        ValueError, ["x is on the meta device"]),
    "attribute: a model on the meta device": (
        lambda: attribution.attribute(_plain(device="meta"), _x(2), 0, method="saliency"),
        ValueError, ["the model's 1.weight is on the meta device"]),
    "noise_accuracy: a text seed": (
        lambda: robustness.noise_accuracy(_plain(), _x(), torch.zeros(8, dtype=torch.long), [0.1], seed="a"),
        ValueError, ["seed must be an int >= 0, but found 'a'"]),
    "attribute: a negative NoiseTunnel stdev": (
        lambda: attribution.attribute(_plain(), _x(1), 0, method="noisetunnel", nt_stdevs=-1, n_steps=2,
                                      nt_samples=2),
        ValueError, ["nt_stdevs must be a finite number >= 0, but found -1"]),
}


@pytest.mark.parametrize("case", list(API_CASES))
def test_bad_api_input_is_named(case):
    call, kind, needles = API_CASES[case]
    _raises(call, kind, *needles)


def test_the_checks_do_not_refuse_good_inputs():
    x, y = _x(), torch.arange(8)
    table = robustness.noise_accuracy(_plain(), x, y, [0.0, 0.1])  # labels within the 10 outputs
    assert table["n"].tolist() == [8, 8]
    assert robustness.snr_db(x, 0.1 * x) == pytest.approx(20.0)
    assert attacks.eps_per_pixel(1.0, (1, 2, 2)) == 0.5
    assert clean_correct_subset({"a": np.array([1., 0., 1.])}, 1).tolist() == [0]
    assert iaside.spectral_importance(_plain(), x[:2], y[:2], n_bands=3, show_progress=False).sid.shape == (3,)
    model = _plain().train()
    robustness.noise_accuracy(model, x, y, [0.1])
    assert model.training  # the output-width probe runs in eval() and restores the mode


# ----------------------------------------------------------------- recordings
def _signal(i, n=512):
    return np.sin(np.arange(n) * 0.05 * (1 + i % 3)).astype("float32")


def _ts(path, cases, labels=("a", "b")):
    lines = ["@problemName p", "@timeStamps false", "@missing false", "@univariate true", "@equalLength false",
             f"@classLabel true {' '.join(labels)}", "@data"]
    lines += [",".join(f"{v:.4g}" for v in s) + f":{lab}" for s, lab in cases]
    path.write_text("\n".join(lines) + "\n")
    return path


def _garbage(path):
    path.write_bytes(bytes(range(256)) * 20)
    return path


def _cases(n=12, classes="ab"):
    return [(_signal(i), classes[i % len(classes)]) for i in range(n)]


def _h5_folder(tmp_path, damage=None, n=6):
    folder = tmp_path / "rec"
    folder.mkdir()
    rows = ["file,label"]
    for i in range(n):
        with h5py.File(folder / f"r{i}.h5", "w") as h5:
            h5.attrs["sample_rate"] = RATE
            h5.create_dataset("s", data=_signal(i))
        rows.append(f"r{i}.h5,{'ab'[i % 2]}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    if damage is not None:
        damage(folder)
    return folder, folder / "labels.csv"


def _rewrite(folder, name, data, rate=RATE):
    with h5py.File(folder / name, "w") as h5:
        h5.attrs["sample_rate"] = rate
        h5.create_dataset("s", data=data)


def _truncate(folder):
    data = (folder / "r0.h5").read_bytes()
    (folder / "r0.h5").write_bytes(data[: len(data) // 2])


DATA_CASES = {
    ".ts: an empty series under length_policy='pad'": (
        lambda tmp: load_ts(_ts(tmp / "e.ts", [c if i != 3 else ([], "b") for i, c in enumerate(_cases())]),
                            RATE, CFG, length_policy="pad"),
        ["e.ts case 3: an empty series (0 samples"]),
    ".ts: @classLabel lists one class": (
        lambda tmp: load_ts(_ts(tmp / "one.ts", _cases(8, "a"), labels=("a",)), RATE, CFG),
        ["one.ts: its @classLabel lists 1 class ['a']", "at least 2 classes"]),
    ".ts: binary garbage": (
        lambda tmp: load_ts(_garbage(tmp / "g.ts"), RATE, CFG),
        ["g.ts: not a .ts text file (byte 128 is not UTF-8 text)"]),
    "HDF5: a truncated file": (
        lambda tmp: load_hdf5_folder(*_h5_folder(tmp, _truncate), CFG, window=64),
        ["r0.h5: not a readable HDF5 file: truncated file", "truncated"]),
    "HDF5: a 0-byte file": (
        lambda tmp: load_hdf5_folder(*_h5_folder(tmp, lambda f: (f / "r0.h5").write_bytes(b"")), CFG, window=64),
        ["r0.h5: not a readable HDF5 file: it is empty (0 bytes)"]),
    "HDF5: a 0-length recording": (
        lambda tmp: load_hdf5_folder(*_h5_folder(tmp, lambda f: _rewrite(f, "r1.h5", np.zeros(0, "float32"))), CFG,
                                     window=None),
        ["r1.h5/s: an empty recording (0 samples)", "labels.csv"]),
    "HDF5: window null and one recording shorter than the rest": (
        lambda tmp: load_hdf5_folder(*_h5_folder(tmp, lambda f: _rewrite(f, "r2.h5", _signal(2, 400))), CFG,
                                     window=None),
        ["r2.h5: 400 samples, but most recordings have 512", "with window=None", "set `window`"]),
    "HDF5: a text dataset": (
        lambda tmp: load_hdf5_folder(*_h5_folder(tmp, lambda f: _rewrite(f, "r3.h5", np.array([b"abc"] * 80))),
                                     CFG, window=64),
        ["r3.h5/s: holds |S3 values (text)", "must hold numbers"]),
    "HDF5: a sample_rate attribute of '8 kHz'": (
        lambda tmp: load_hdf5_folder(*_h5_folder(tmp, lambda f: _rewrite(f, "r0.h5", _signal(0), rate="8 kHz")),
                                     CFG, window=64),
        ["r0.h5/s: the sample_rate attribute '8 kHz' is not a positive number", "8000"]),
    "dataset: stft n_fft written as text": (
        lambda tmp: load_dataset({"path": str(_ts(tmp / "ok.ts", _cases())), "sample_rate": RATE,
                                  "stft": {"n_fft": "256"}}, image_size=16),
        ["dataset: stft: n_fft must be an int, but found '256' (str); write 256 without quotes"]),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_recording_is_named_and_nothing_is_cached(tmp_path, case):
    call, needles = DATA_CASES[case]
    _raises(lambda: call(tmp_path), ValueError, *needles)
    cache = tmp_path / "cache" / "recordings"
    assert not cache.exists() or not any(cache.rglob("*.pt"))  # nothing half-written


def test_a_simulated_class_too_small_to_split_is_refused_before_simulating():
    from nsde.data import DataConfig, min_class_size

    assert min_class_size((0.7, 0.15, 0.15)) == 6
    _raises(lambda: DataConfig(n_per_class=3), ValueError,
            "DataConfig.n_per_class must be an int >= 6", "got 3 (it gives 2/0/1 per class)")
    assert DataConfig(n_per_class=6).n_per_class == 6


# ----------------------------------------------------------------- profiles and environment, before any chapter
def _user_profile(tmp_path, monkeypatch, text):
    path = tmp_path / "mine.yaml"
    path.write_text("mine:\n  extends: quick\n" + "".join(f"  {line}\n" for line in text.splitlines()))
    monkeypatch.setenv("NSDE_PROFILES", str(path))
    return "mine"


PROFILE_CASES = {
    "n_per_class too small for the split": (
        "n_per_class: 3", ["mine.yaml: profile 'mine': n_per_class must be >= 6", "found 3 (it gives 2/0/1"]),
    "iaside_n_bands out of range": (
        "iaside_n_bands: 20", ["profile 'mine': iaside_n_bands must be at most 16", "found 20"]),
    "iaside_k above the test images": (
        "iaside_k: 100000", ["profile 'mine': iaside_k must be at most the 112 test images", "found 100000"]),
    "lr read as text by YAML": (
        "lr: 2e-3", ["profile 'mine': lr must be a number > 0, but found '2e-3'; "
                     "write 0.002 (YAML reads 2e-3 as text)"]),
    "a learning-rate list read as text by YAML": (
        "train_fractions: [2e-1, 0.5]", ["train_fractions must be a list of numbers > 0",
                                         "write [0.2, 0.5] (YAML reads 2e-1 as text)"]),
}


@pytest.mark.parametrize("case", list(PROFILE_CASES))
def test_bad_profile_setting_is_named_by_runbook_check(tmp_path, monkeypatch, capsys, case):
    text, needles = PROFILE_CASES[case]
    name = _user_profile(tmp_path, monkeypatch, text)
    assert runbook.main(["check", "--profile", name]) == 2
    err = capsys.readouterr().err.strip()
    _record(err)
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err


ENV_CASES = {
    "NSDE_THREADS=0": ({"NSDE_THREADS": "0"}, ["NSDE_THREADS must be a positive integer, got '0'"]),
    "NSDE_DEVICE=cuda without CUDA": ({"NSDE_DEVICE": "cuda"}, ["NSDE_DEVICE='cuda' asks for CUDA, but this "
                                                                "machine has no CUDA device"]),
    "NSDE_PRECISION=fp8": ({"NSDE_PRECISION": "fp8"}, ["NSDE_PRECISION must be one of ('auto', 'bf16', 'fp32'), "
                                                       "got 'fp8'"]),
}


@pytest.mark.parametrize("case", list(ENV_CASES))
def test_bad_environment_is_named_by_check_and_before_the_first_chapter(tmp_path, monkeypatch, capsys, case):
    env, needles = ENV_CASES[case]
    if "NSDE_DEVICE" in env and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert runbook.main(["check", "--profile", "quick"]) == 2
    err = capsys.readouterr().err.strip()
    _record(err)
    assert len(err.splitlines()) == 1 and all(n in err for n in needles), err
    import papermill

    ran = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: ran.append(a))
    with pytest.raises(runtime.SettingError) as info:
        runbook.execute_book("quick", tmp_path / "out", chapters=["01_data"])
    assert all(n in str(info.value) for n in needles) and not ran  # no chapter started


def test_omp_num_threads_is_named_as_having_no_effect(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("NSDE_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    try:
        with pytest.warns(UserWarning, match=r"OMP_NUM_THREADS=7 has no effect: nsde runs 2 CPU threads, set by "
                                             r"NSDE_THREADS"):
            assert runtime.configure()["threads"] == runtime.DEFAULT_THREADS
    finally:
        torch.set_num_threads(before)


# ----------------------------------------------------------------- thread count in the model key, full disk in training
def _tiny_splits():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(2).repeat_interleave(4)
    data = SimpleNamespace(x=torch.rand(8, 1, 32, 32, generator=g), y=y)
    return SimpleNamespace(train=data, val=data, class_names=["a", "b"])


def test_the_cpu_thread_count_is_part_of_the_trained_model_key(monkeypatch):
    import nsde.core.training as training

    def fake_train(model, *args, **kwargs):
        model.best_epoch = 1
        return [{"epoch": 1}]

    monkeypatch.setattr(training, "train", fake_train)
    before = torch.get_num_threads()
    keys = {}
    try:
        for n in (1, 2, 1):
            torch.set_num_threads(n)
            keys.setdefault(n, set()).add(train_or_load(ModelSpec(), TrainConfig(epochs=1, batch_size=4),
                                                        _tiny_splits(), device="cpu").key)
    finally:
        torch.set_num_threads(before)
    assert len(keys[1]) == 1 and keys[1] != keys[2]  # one key per thread count: 1-thread weights never load at 2


def test_a_disk_too_full_for_the_checkpoint_is_named_before_the_first_epoch(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    model = build_model("resnet10t", "baseline", num_classes=2, image_size=32)
    steps = []
    model.register_forward_pre_hook(lambda m, args: steps.append(1))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 196_608, 196_608))
    data = _tiny_splits().train
    message = _raises(lambda: train(model, data, data, TrainConfig(epochs=1, batch_size=4), ckpt_dir=tmp_path / "m",
                                    key="k", device="cpu"),
                      CacheError, "no space left on the device holding", "needed for the checkpoint of train",
                      "0.2 MB free")
    assert re.search(r"\d+\.\d MB needed", message)
    assert not steps and not (tmp_path / "m" / "checkpoint.pt").exists()  # no epoch ran, nothing written

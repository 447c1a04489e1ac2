"""A new user's recordings through the book with only `dataset` written (issue 22): a short,
slow two-class `.ts` pair with capitalised labels and a multivariate pair, through the
fitted STFT, the labels as the header spells them, `runbook check`, loading, a tiny
training and the first chapter; two-class and multi-channel models through every measure."""
import os
import shutil
import subprocess
import sys

import pytest
import torch

from _user_data import MULTI_DIMS, MULTI_LABELS, TWO_LABELS, multi_pair, two_class_pair
from nsde import runbook
from nsde.core.models import build_model
from nsde.core.predict import predict
from nsde.core.training import ModelSpec, TrainConfig, recalibrate_batchnorm, recalibrates, train_or_load
from nsde.data import check_dataset_spec, fit_stft, load_dataset


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def two(tmp_path):
    return two_class_pair(tmp_path / "two", n_test=40)


@pytest.fixture
def multi(tmp_path):
    return multi_pair(tmp_path / "multi", n_test=36)


@pytest.mark.parametrize("n, rate, size, want", [
    (150, 30.0, 64, dict(n_fft=32, hop=2, freq_scale="linear")),  # the 150 samples at 30 Hz
    (100, 10.0, 32, dict(n_fft=32, hop=3, freq_scale="linear")),  # the multivariate problem's 100 at 10 Hz
    (1024, 30_000.0, 32, dict(n_fft=256, hop=32, freq_scale="log", f_min_hz=234.375)),  # PLAID's length and rate
    (8192, 200_000.0, 64, dict(n_fft=1024, hop=128, freq_scale="log", f_min_hz=390.625)),  # the simulator's window
])
def test_fitted_stft_settings_of_four_recordings_have_the_known_values(n, rate, size, want):
    stft, fitted = fit_stft(n, rate, size)
    assert {k: getattr(stft, k) for k in want} == want
    assert fitted == tuple(k for k in ("n_fft", "hop", "freq_scale", "f_min_hz") if k in want)


def test_a_given_window_keeps_its_value_and_the_hop_is_fitted_to_it():
    stft, fitted = fit_stft(150, 30.0, 32, {"n_fft": 64})
    assert (stft.n_fft, stft.hop, fitted) == (64, 4, ("hop", "freq_scale"))  # 150 // 32 = 4 frames' hop


def test_a_short_slow_two_class_pair_loads_with_fitted_settings_and_the_headers_spelling(two, capsys):
    s = load_dataset({"path": str(two), "sample_rate": 30}, image_size=32)
    assert s.class_names == list(TWO_LABELS)  # sktime lowercases them; the @classLabel spelling is kept
    assert (s.stft.n_fft, s.stft.hop, s.stft.freq_scale) == (32, 4, "linear")
    assert s.info["stft_fitted"] == ["n_fft", "hop", "freq_scale"] and s.sample_rate == 30.0
    assert "Two: STFT n_fft 32 (1.07 s), hop 4, linear axis 0 Hz-15 Hz" in capsys.readouterr().out
    assert (len(s.train), len(s.val), len(s.test)) == (38, 10, 40)  # the TEST file is the test split
    assert s.train.meta["series"].shape == (len(s.train), 1, 150)


def test_settings_that_do_not_fit_give_one_error_naming_the_file_the_profile_key_and_a_fix(two):
    spec = {"path": str(two), "sample_rate": 30, "stft": {"n_fft": 1024, "freq_scale": "log", "f_min_hz": 250}}
    with pytest.raises(ValueError) as info:
        load_dataset(spec, image_size=32)
    message = str(info.value)
    assert message.startswith("Two_TRAIN.ts: the STFT settings do not fit its recordings (150 samples at 30 Hz): ")
    assert "`dataset: stft: n_fft` is 1024, longer than the recordings: write n_fft: 32" in message
    assert "`dataset: stft: f_min_hz` is 250 Hz, not below the top of the band, 15 Hz: write f_min_hz: 1.88" in message
    with pytest.raises(ValueError, match="`dataset: stft: hop` is 128, longer than the window of 32 samples: write hop: 4"):
        load_dataset({**spec, "stft": {"hop": 128}}, image_size=32)
    with pytest.raises(ValueError, match="dataset: stft: hop 128 is longer than n_fft 32"):
        check_dataset_spec({**spec, "stft": {"n_fft": 32, "hop": 128}})  # refused before any file is read


def test_labels_that_differ_from_the_header_only_in_case_are_matched_and_unknown_ones_named(tmp_path):
    from _user_data import two_class_cases, write_ts

    cases = [(rows, label.upper()) for rows, label in two_class_cases(12, 0)]
    path = write_ts(tmp_path / "upper.ts", cases, TWO_LABELS, 1)
    s = load_dataset({"path": str(path), "sample_rate": 30}, image_size=32)
    assert s.class_names == list(TWO_LABELS)
    odd = write_ts(tmp_path / "odd.ts", cases[:-1] + [(cases[-1][0], "Jogging")], TWO_LABELS, 1)
    with pytest.raises(ValueError, match=r"odd.ts: labels \['jogging'\] are not in @classLabel \['Walking', 'Running'\]"
                                         r" \(compared without regard to case\)"):
        load_dataset({"path": str(odd), "sample_rate": 30}, image_size=32)


def test_a_multivariate_pair_is_one_image_per_case_with_its_dimensions_as_channels(multi):
    s = load_dataset({"path": str(multi), "sample_rate": 10}, image_size=32)
    assert s.in_chans == MULTI_DIMS and s.class_names == list(MULTI_LABELS) and len(s.test) == 36
    assert "location" not in s.test.meta and s.info["sensors_as"] == "channels"
    per_sensor = load_dataset({"path": str(multi), "sample_rate": 10, "sensors_as": "images"}, image_size=32)
    assert per_sensor.in_chans == 1 and len(per_sensor.test) == 36 * MULTI_DIMS
    assert torch.bincount(per_sensor.test.meta["location"]).tolist() == [36] * MULTI_DIMS


def _profiles(tmp_path, monkeypatch, two, multi):
    text = (f"two:\n  dataset: {{path: {two}, sample_rate: 30}}\n"
            f"multi:\n  dataset: {{path: {multi}, sample_rate: 10}}\n"
            f"bad:\n  dataset: {{path: {two}, sample_rate: 30, stft: {{n_fft: 1024}}}}\n")
    (tmp_path / "profiles.yaml").write_text(text)
    monkeypatch.setenv("NSDE_PROFILES", str(tmp_path / "profiles.yaml"))


def test_runbook_check_loads_a_user_profiles_data_and_refuses_unfit_settings_before_any_chapter(
        tmp_path, monkeypatch, capsys, two, multi):
    _profiles(tmp_path, monkeypatch, two, multi)
    assert runbook.main(["check", "--profile", "two"]) == 0
    out = capsys.readouterr().out
    assert "data checked: profile 'two': Two, 2 classes, train/val/test 38/10/40 samples of 1 channel(s)" in out
    assert "STFT n_fft 32 (1.07 s), hop 2, linear axis" in out  # the profile inherits default's 64-pixel images
    assert runbook.main(["check", "--profile", "multi"]) == 0
    out = capsys.readouterr().out
    assert "data checked: profile 'multi': Multi, 3 classes" in out and "samples of 3 channel(s)" in out
    assert runbook.main(["check", "--profile", "bad"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: profile 'bad': dataset: Two_TRAIN.ts: the STFT settings do not fit its recordings")
    assert "`dataset: stft: n_fft` is 1024, longer than the recordings: write n_fft: 32" in err


def test_a_tiny_training_on_the_two_class_pair_learns_both_classes(two):
    s = load_dataset({"path": str(two), "sample_rate": 30}, image_size=32)
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.002, seed=0)
    t = train_or_load(ModelSpec("resnet10t", "baseline"), cfg, s, device="cpu")
    assert recalibrates(t.model, len(s.train), cfg)  # 3 epochs x 3 steps: BatchNorm statistics re-estimated
    pred = predict(t.model, s.test.x).argmax(1)
    assert set(pred.tolist()) == {0, 1}  # not collapsed onto one class
    assert float((pred == s.test.y).float().mean()) >= 0.75


def test_a_tiny_training_on_the_multivariate_pair_builds_a_model_of_its_channels(multi):
    s = load_dataset({"path": str(multi), "sample_rate": 10}, image_size=32)
    t = train_or_load(ModelSpec("resnet10t", "baseline"), TrainConfig(epochs=1, batch_size=16, seed=0), s, device="cpu")
    assert t.model.in_chans == MULTI_DIMS
    assert predict(t.model, s.test.x).shape == (36, len(MULTI_LABELS))  # one score per case


def test_batchnorm_recalibration_sets_the_statistics_of_the_training_images_and_only_short_runs_use_it():
    torch.manual_seed(0)
    model = build_model("resnet10t", "baseline", num_classes=2, image_size=32)
    x = torch.rand(20, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    bn, seen = model.net.bn1, []
    handle = bn.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    model.eval()
    recalibrate_batchnorm(model, x)
    handle.remove()
    inputs = torch.cat(seen)
    assert torch.allclose(bn.running_mean, inputs.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, inputs.var((0, 2, 3), unbiased=True), rtol=1e-4)
    assert not model.training  # its mode is restored
    assert recalibrates(model, 48, TrainConfig(epochs=8, batch_size=16))  # 24 steps
    assert not recalibrates(model, 437, TrainConfig(epochs=3, batch_size=16))  # PLAID at the quick profile: 84 steps
    convnext = build_model("convnext_atto", "baseline", num_classes=2, image_size=32)
    assert not recalibrates(convnext, 48, TrainConfig(epochs=8, batch_size=16))  # no BatchNorm


def test_two_class_models_of_two_channels_go_through_every_measure():
    from nsde.measures import abc, attacks, attribution, iaside
    from nsde.measures.evaluation import correctness
    from nsde.measures.robustness import noise_accuracy
    from nsde.report.verdicts import beats_chance
    from nsde.studies.attribution_noise import attribution_envelope

    torch.manual_seed(0)
    model = build_model("resnet10t", "nsde", noise_shape="white", sigma=0.1, num_classes=2, in_chans=2,
                        image_size=32).eval()
    x = torch.rand(4, 2, 32, 32, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 0, 1])
    assert correctness(model, x, y, noise="on", samples=2, draws=2).shape == (4,)
    assert len(noise_accuracy(model, x, y, [0.0, 0.1], noise="on", samples=2)) == 2
    r = attacks.run_attack(model, x, y, [0.1], attack="apgd-ce", n_iter=2, eot_iter=1, samples=2)
    assert r["adv"][0.1].shape == x.shape
    adv, log = attacks.autoattack_rand(model, x, y, 0.1, n_iter=2, eot_iter=1, samples=2, select_draws=1)
    assert adv.shape == x.shape and any("apgd-dlr left out" in m for m in log)
    assert attacks.square_attack(model, x, y, 0.1, n_queries=2, samples=2).shape == x.shape
    a = attribution.attribute(model, x, y, "ig", n_steps=2, noise="on", noise_seed=0)
    assert a.shape == x.shape and attribution_envelope(a).shape == (4, 1, 32, 32)
    out = abc.evaluate_abc(model, x, y, n_mutations=2, n_steps=2)
    assert out["abc"].shape == (4,) and out["probs"].shape == (4, 2)
    values = iaside.coalition_values(model, x, y, n_bands=2, show_progress=False)
    assert values.shape == (4,) and torch.isfinite(values).all()
    assert beats_chance(0.937, 2, 2) == ("beats chance (50%) by at least halfway to 100%, 75% (2x chance is out of "
                                         "reach with 2 classes): True")
    assert beats_chance(0.40, 16, 2) == "beats chance (6%) by at least 2x: True"  # unchanged where 2x is in reach


def test_the_first_chapter_of_a_users_book_shows_its_rate_settings_classes_and_spectrograms(tmp_path, two, multi):
    """`python -m nsde.runbook execute --profile two --chapters 01_data` in a small checkout."""
    import nbformat

    checkout = tmp_path / "checkout"
    shutil.copytree(runbook.REPO / "nsde", checkout / "nsde", ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "book").mkdir()
    (checkout / "book" / "index.md").write_text("# index\n")
    shutil.copy(runbook.REPO / "book" / "01_data.py", checkout / "book" / "01_data.py")
    (checkout / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n- file: book/01_data\n")
    (tmp_path / "profiles.yaml").write_text(f"two:\n  dataset: {{path: {two}, sample_rate: 30}}\n")
    env = {**os.environ, "PYTHONPATH": str(checkout), "NSDE_CACHE": str(tmp_path / "cache"), "TQDM_DISABLE": "1",
           "NSDE_PROFILES": str(tmp_path / "profiles.yaml")}
    env.pop("MPLBACKEND", None)  # the kernel's inline backend renders the glued figures to PNG
    run = subprocess.run([sys.executable, "-m", "nsde.runbook", "execute", "--profile", "two", "--chapters", "01_data"],
                         cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    nb = nbformat.read(checkout / "_build" / "executed" / "two" / "book" / "01_data.ipynb", as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/markdown", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "# The data of this build" in prose and "Sixteen classes" not in prose  # no simulator-only text
    assert "simulator at profile" not in text and "200 kHz" not in text
    for needle in ("sample rate", "30 Hz", "n_fft (Hann window)", "32 (1.07 s)", "linear, 0 Hz to 15 Hz",
                   "fitted to the recordings", "Walking", "Running", "**Two**"):
        assert needle in text, needle
    glued = [key for c in nb.cells if c.cell_type == "code" for o in c.outputs for key in o.get("data", {})
             if o.get("metadata", {}).get("scrapbook", {}).get("name") == "fig-examples"]
    assert any(key.endswith("image/png") for key in glued), glued  # the example spectrograms, glued for the page

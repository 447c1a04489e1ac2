"""Profiles: bad profile files, names and settings fail early with one clear message."""
import re

import pytest

from nsde.studies.profiles import Profile, ProfileError, get_profile, load_profiles


def _base(**over):
    """The quick profile's settings as YAML text, with overrides."""
    import yaml

    data = {k: v for k, v in load_profiles()["quick"].__dict__.items() if k != "name"}
    data.update(over)
    return yaml.safe_dump({"quick": data}, sort_keys=False, default_flow_style=None)


def write(tmp_path, text):
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    return path


def test_the_real_profiles_load_and_are_typed():
    loaded = load_profiles()
    assert {"quick", "default", "paper"} <= set(loaded)
    assert isinstance(loaded["default"], Profile) and loaded["default"].n_seeds >= 3
    assert loaded["default"].describe(["epochs"]).loc["epochs", "value"] == str(loaded["default"].epochs)


def test_unknown_profile_is_named(tmp_path):
    with pytest.raises(ProfileError, match=r"unknown profile 'fast'.*known profiles: quick"):
        get_profile("fast", write(tmp_path, _base()))


def test_malformed_yaml_names_the_line(tmp_path):
    with pytest.raises(ProfileError, match=r"malformed YAML at line \d+"):
        load_profiles(write(tmp_path, "quick:\n  a: 1\n  b: [1, 2\n"))


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    text = _base().replace("  epochs: 8\n", "  epochs: 8\n  epochs: 9\n", 1)
    with pytest.raises(ProfileError, match=r"duplicate key 'epochs' at line \d+ \(first at line \d+\)"):
        load_profiles(write(tmp_path, text))


def test_not_a_mapping(tmp_path):
    with pytest.raises(ProfileError, match="expected a mapping"):
        load_profiles(write(tmp_path, "- quick\n- default\n"))
    with pytest.raises(ProfileError, match="profile 'quick' must be a mapping"):
        load_profiles(write(tmp_path, "quick: 3\n"))


def test_missing_and_misspelt_settings_are_named(tmp_path):
    text = _base().replace("  epochs: 8\n", "  epoch: 8\n")
    with pytest.raises(ProfileError, match=r"sets 'epoch', which no chapter reads \(misspelt\?\)"):
        load_profiles(write(tmp_path, text))
    text = _base().replace("  epochs: 8\n", "")
    with pytest.raises(ProfileError, match=r"profile 'quick' has no value for 'epochs'"):
        load_profiles(write(tmp_path, text))


@pytest.mark.parametrize("key, value, needle", [
    ("attack_eps", "0.5", "attack_eps must be a non-empty list of numbers"),
    ("variant_shapes", "white", "variant_shapes must be a list of names"),
    ("variant_shapes", "[violet]", "variant_shapes must be a list of names from"),
    ("epochs", "0", "epochs must be an int >= 1"),
    ("epochs", "2.5", "epochs must be an int >= 1"),
    ("sigma", "-0.1", "sigma must be a number >= 0"),
    ("arch", "vgg16", "arch must be one of"),
    ("attack_eps", "[0.2, 0.1]", "attack_eps must be a strictly increasing list"),
    ("train_fractions", "[1.5]", "train_fractions must be a list of numbers > 0 and <= 1"),
    ("dataset", "nowhere/at/all", "neither a known data set"),
    ("noise_n_images", "0", "noise_n_images must be an int >= 1 or null"),
])
def test_values_are_typed_and_ranged_before_any_work(tmp_path, key, value, needle):
    text = re.sub(rf"(?m)^  {key}:.*$", f"  {key}: {value}", _base())
    with pytest.raises(ProfileError, match=re.escape(needle)):
        load_profiles(write(tmp_path, text))


def test_a_removed_setting_is_refused_with_what_took_its_place(tmp_path):
    text = _base().replace("  attack_eps: ", "  adaptive_eps: [0.05]\n  attack_eps: ")
    with pytest.raises(ProfileError, match="'adaptive_eps', removed in 0.2: adaptive_eps: the attack battery runs at "
                                           "every budget of attack_eps"):
        load_profiles(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="not found"):
        load_profiles(tmp_path / "nope.yaml")


def test_every_chapter_takes_only_the_profile():
    from nsde import runbook

    declared = runbook.check()
    chapters = [e for e in runbook.toc_entries() if runbook._source(e).suffix == ".py"]
    assert sorted(declared) == sorted(f"{e}.py" for e in chapters)  # every notebook chapter, no Markdown page
    assert all(set(p) == {"profile"} for p in declared.values())


def test_runner_rejects_unknown_profile_and_empty_chapter_list(capsys):
    from nsde import runbook

    assert runbook.main(["execute", "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err
    assert runbook.main(["execute", "--profile", "quick", "--chapters"]) == 2
    assert "--chapters needs at least one name" in capsys.readouterr().err


def test_runner_names_an_unusable_cache_folder(tmp_path, monkeypatch, capsys):
    from nsde import runbook

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NSDE_CACHE", str(blocker))
    assert runbook.main(["execute", "--profile", "quick", "--chapters", "01"]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and str(blocker) in err and len(err.strip().splitlines()) == 1


def test_an_old_setting_name_is_refused_with_its_new_name(tmp_path):
    text = _base().replace("  eot_iter: ", "  eot_iters: ")
    with pytest.raises(ProfileError, match=r"old setting name\(s\) 'eot_iters' \(now 'eot_iter'\)"):
        load_profiles(write(tmp_path, text))


def test_a_user_profile_takes_the_settings_it_does_not_set_from_default(tmp_path, monkeypatch):
    user = tmp_path / "mine.yaml"
    user.write_text("mine:\n  epochs: 2\nsmall:\n  extends: quick\n  n_seeds: 1\n")
    monkeypatch.setenv("NSDE_PROFILES", str(user))
    profiles = load_profiles()
    default, quick = profiles["default"], profiles["quick"]
    assert profiles["mine"].epochs == 2 and profiles["mine"].image_size == default.image_size
    assert profiles["small"].n_seeds == 1 and profiles["small"].image_size == quick.image_size
    assert get_profile("mine").name == "mine"


def test_a_user_profile_may_not_shadow_a_shipped_one_or_extend_an_unknown_one(tmp_path, monkeypatch):
    user = tmp_path / "mine.yaml"
    monkeypatch.setenv("NSDE_PROFILES", str(user))
    user.write_text("default:\n  epochs: 2\n")
    with pytest.raises(ProfileError, match="'default' is already defined by the package"):
        load_profiles()
    user.write_text("mine:\n  extends: fastest\n")
    with pytest.raises(ProfileError, match="extends 'fastest', which is not defined"):
        load_profiles()
    monkeypatch.setenv("NSDE_PROFILES", str(tmp_path / "missing.yaml"))
    with pytest.raises(ProfileError, match="no such profiles file"):
        load_profiles()


def test_the_shipped_profiles_are_package_data():
    from importlib import resources

    assert resources.files("nsde.studies").joinpath("profiles.yaml").is_file()

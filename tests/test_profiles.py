"""Profiles: bad profile files, names and parameters fail early with one clear message."""
import pytest

from nsde import profiles
from nsde.profiles import ProfileError, check_profiles, get_profile, load_profiles


def write(tmp_path, text):
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    return path


def test_the_real_profiles_load_and_agree():
    loaded = load_profiles()
    assert {"quick", "default", "paper"} <= set(loaded)


def test_unknown_profile_is_named(tmp_path):
    path = write(tmp_path, "quick:\n  a: 1\n")
    with pytest.raises(ProfileError, match=r"unknown profile 'fast'.*known profiles: quick"):
        get_profile("fast", path)


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "quick:\n  a: 1\n  b: [1, 2\n")
    with pytest.raises(ProfileError, match=r"malformed YAML at line \d+"):
        load_profiles(path)


def test_not_a_mapping(tmp_path):
    with pytest.raises(ProfileError, match="expected a mapping"):
        load_profiles(write(tmp_path, "- quick\n- default\n"))
    with pytest.raises(ProfileError, match="profile 'quick' must be a mapping"):
        load_profiles(write(tmp_path, "quick: 3\n"))


def test_profiles_must_set_the_same_parameters(tmp_path):
    path = write(tmp_path, "quick:\n  a: 1\n  b: 2\ndefault:\n  a: 1\n  c: 3\n")
    with pytest.raises(ProfileError, match=r"'default'.*missing b.*sets c"):
        load_profiles(path)


def test_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="not found"):
        load_profiles(tmp_path / "nope.yaml")


def test_missing_parameter_names_chapter_and_profile():
    with pytest.raises(ProfileError, match=r"profile 'quick' has no value for parameter 'epochs', which book/x.py declares"):
        check_profiles({"quick": {"seed": 0}}, {"book/x.py": {"seed": 0, "epochs": 1}})


def test_misspelt_parameter_is_reported():
    with pytest.raises(ProfileError, match=r"sets parameter 'epoch', which no chapter declares \(misspelt\?\)"):
        check_profiles({"quick": {"seed": 0, "epoch": 2}}, {"book/x.py": {"seed": 0}})


def test_profile_is_implicit():
    check_profiles({"quick": {"seed": 0}}, {"book/x.py": {"seed": 0, "profile": "quick"}})
    values = profiles.chapter_parameters({"seed": 0, "other": 1}, {"seed": 0, "profile": "quick"}, "default")
    assert values == {"seed": 0, "profile": "default"}


def test_every_profile_agrees_with_every_chapter():
    """The real chapters' parameters cells and book/profiles.yaml name the same parameters."""
    from nsde import runbook

    declared = runbook.check()
    assert len(declared) == len(runbook.toc_entries()) - 1  # every chapter but the index page
    for chapter, params in declared.items():
        assert "profile" in params, f"{chapter} does not declare `profile`"


def test_runner_rejects_unknown_profile_before_running(capsys):
    from nsde import runbook

    assert runbook.main(["execute", "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err

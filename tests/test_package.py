"""The package root refuses unknown names, and the paper's numbers are as the paper prints
them (the public names are checked in ``test_layers.py``)."""
import pytest

import nsde
from nsde.report import paper


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        nsde.nope


def test_paper_tables_are_consistent():
    # Tables 2 and 3 were measured on 32 images: every value is a multiple of 100/32.
    for key in ("ConvNeXt-Base", "Neural SDE"):
        for value in paper.TABLE2[key] + paper.TABLE3[key]:
            assert abs(value / (100 / 32) - round(value / (100 / 32))) < 0.01
    assert len(paper.TABLE2["intensity"]) == len(paper.TABLE2["ConvNeXt-Base"]) == 8


def test_the_wheel_ships_the_profiles_and_the_license(tmp_path):
    """A non-editable install finds its profiles: they are package data of the wheel."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"  # a copy: setuptools writes build/ beside the sources it builds
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(repo / name, src / name)
    shutil.copytree(repo / "nsde", src / "nsde", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("nsde-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "nsde/studies/profiles.yaml" in names
    assert any(n.endswith("licenses/LICENSE") or n.endswith("LICENSE") for n in names)

"""environment.yml and pyproject.toml declare the same environment."""
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _pyproject_deps():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def _conda_pip_deps():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return [d for d in pip if not d.startswith("-e")]


def _normalise(deps):
    return sorted(d.replace(" ", "").lower() for d in deps)


def test_environment_yml_matches_pyproject():
    assert _normalise(_conda_pip_deps()) == _normalise(_pyproject_deps())


def test_environment_yml_installs_the_package_and_python_version():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"

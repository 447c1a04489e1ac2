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


def test_every_third_party_import_of_nsde_is_declared():
    """Each module nsde imports from outside the standard library is a dependency in pyproject.toml."""
    import ast
    import re
    import sys

    deps = " ".join(_pyproject_deps()).lower().replace("_", "-")
    declared = {re.split(r"[<>=!~ \[]", d.lower())[0].replace("_", "-") for d in _pyproject_deps()}
    alias = {"yaml": "pyyaml", "sklearn": "scikit-learn", "PIL": "pillow", "pyautoattack": "pyautoattack"}
    found = {}
    for path in (REPO / "nsde").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "nsde":
                    continue
                found.setdefault(alias.get(top, top).lower().replace("_", "-"), path.name)
    missing = {pkg: where for pkg, where in found.items() if pkg not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {missing} (declared: {deps})"
    assert {"scipy", "sktime", "torch", "timm", "captum", "torchsde", "pyautoattack"} <= set(found)

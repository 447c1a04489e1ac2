"""The package's architecture, checked: every import points down the layers, and no
module imports itself back through others (no import circle), lazy imports included."""
import ast
import pathlib

import pytest

import nsde

PACKAGE = pathlib.Path(nsde.__file__).parent

#: The layers of ``nsde``, bottom (0) to top. A module may import from its own subpackage
#: and from subpackages of a lower rank; two subpackages of one rank are independent.
LAYERS = {"_infra": 0, "stats": 1, "data": 1, "core": 2, "measures": 3, "report": 4, "studies": 5, "runbook": 6}


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.with_suffix("").relative_to(PACKAGE.parent).parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _imports(name: str, path: pathlib.Path, known: set[str]) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``nsde`` module ``path`` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t.startswith("nsde"):
                found.append((node.lineno, t))
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "nsde"


def test_every_module_belongs_to_a_layer():
    strays = sorted(m for m in _modules() if m != "nsde" and _layer(m) not in LAYERS)
    assert not strays, f"modules outside the layers {list(LAYERS)}: {strays} (put them in a subpackage)"


def _violations(name: str, path: pathlib.Path, known: set[str]) -> list[str]:
    src, wrong = _layer(name), []
    for line, target in _imports(name, path, known):
        dst = _layer(target)
        if target == "nsde":
            wrong.append(f"{name}:{line} imports the package root `nsde` (import from its subpackages)")
        elif dst != src and not LAYERS[dst] < LAYERS[src]:
            wrong.append(f"{name}:{line} ({src}, layer {LAYERS[src]}) imports {target} ({dst}, layer {LAYERS[dst]})")
    return wrong


def test_every_import_points_down_the_layers():
    mods = _modules()
    wrong = [w for name, path in mods.items() if name != "nsde" for w in _violations(name, path, set(mods))]
    assert not wrong, "imports that do not point down the layers:\n" + "\n".join(wrong)


def test_an_import_up_the_layers_is_caught(tmp_path):
    mods = set(_modules())
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from nsde.studies.zoo import train_zoo\n    from nsde.core.noise import SHAPES\n")
    assert _violations("nsde.core.fake", fake, mods) == [
        "nsde.core.fake:2 (core, layer 2) imports nsde.studies.zoo (studies, layer 5)"]
    fake.write_text("from nsde.data import load_dataset\n")  # same rank, another subpackage
    assert len(_violations("nsde.stats.fake", fake, mods)) == 1


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    mods = _modules()
    edges = {m: {t for _, t in _imports(m, p, set(mods)) if t != m and not m.startswith(t + ".") and t != "nsde"}
             for m, p in mods.items()}
    assert not _circles(edges), f"import circles: {_circles(edges)}"


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", sorted(nsde.__all__))
def test_every_public_name_resolves_to_what_its_module_defines(name):
    value = getattr(nsde, name)
    if name in nsde._SUBPACKAGES:
        assert value.__name__ == f"nsde.{name}"
    else:
        module = nsde._EXPORTS[name]
        assert getattr(value, "__module__", module).startswith(module.rsplit(".", 1)[0])
        assert value is getattr(__import__(module, fromlist=[name]), name)

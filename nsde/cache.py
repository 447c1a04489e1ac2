"""Content-addressed artifact cache with atomic writes.

Every artifact of the book (datasets, checkpoints, result tables) lives under
``cache_root() / kind / <hash of its configuration>``, so a later chapter reuses what an
earlier one computed, and a changed configuration never loads a stale artifact.
Writes go to a temporary file in the same folder and are renamed into place, so an
interrupted run never leaves a half-written file behind for a later run to load.

The root is ``$NSDE_CACHE`` when set, else ``.cache/`` in the repository (git-ignored).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

__all__ = [
    "cache_root",
    "config_hash",
    "tensor_hash",
    "artifact_dir",
    "atomic_path",
    "save_json",
    "load_json",
    "save_torch",
    "load_torch",
    "cached",
]

_REPO = Path(__file__).resolve().parents[1]


def cache_root() -> Path:
    """The cache folder: ``$NSDE_CACHE``, else ``<repo>/.cache`` (else ``~/.cache/nsde``)."""
    env = os.environ.get("NSDE_CACHE")
    if env:
        root = Path(env).expanduser()
    elif (_REPO / "pyproject.toml").exists():
        root = _REPO / ".cache"
    else:  # installed as a regular package
        root = Path.home() / ".cache" / "nsde"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _canonical(obj: Any) -> Any:
    """Turn configs (dataclasses, dicts, tuples, paths, dtypes) into JSON-able values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__type__": type(obj).__name__, **{f.name: _canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float):
        return repr(obj)  # exact, and 1.0 != 1
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def config_hash(*configs: Any, length: int = 16) -> str:
    """A stable hex digest of one or more configuration objects.

    Dataclasses hash by type name and field values, so two configs of different types
    with equal fields still differ.
    """
    payload = json.dumps([_canonical(c) for c in configs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def tensor_hash(*tensors) -> str:
    """A 16-hex-digit digest of tensors' shapes, dtypes and values, to key results computed
    from them (e.g. the images a model was scored on)."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def artifact_dir(kind: str, *configs: Any) -> Path:
    """The folder ``cache_root()/kind/<hash>`` for an artifact of the given configuration.

    A ``config.json`` describing the configuration is written beside the artifact so a
    person can tell what a folder holds.
    """
    path = cache_root() / kind / config_hash(*configs)
    path.mkdir(parents=True, exist_ok=True)
    desc = path / "config.json"
    if not desc.exists():
        save_json([_canonical(c) for c in configs], desc)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    return Path(path)


def load_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def save_torch(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` ``obj`` atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_torch(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    return torch.load(path, map_location=map_location, weights_only=False)


def cached(kind: str, config: Any, compute: Callable[[], Any], *, name: str = "artifact.pt",
           refresh: bool = False) -> Any:
    """Return the cached artifact for ``config``, computing and saving it when absent.

    Args:
        kind: the artifact family, a folder name such as ``"dataset"`` or ``"robustness"``.
        config: anything ``config_hash`` accepts; it fully determines the artifact.
        compute: a function of no arguments that produces the artifact (a tensor,
            dict, list, ...), saved with ``torch.save``.
        name: file name inside the artifact folder.
        refresh: recompute even when a cached copy exists.
    """
    path = artifact_dir(kind, config) / name
    if path.exists() and not refresh:
        return load_torch(path)
    value = compute()
    save_torch(value, path)
    return value

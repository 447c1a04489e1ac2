"""Content-addressed artifact cache with atomic writes.

Every artifact of the book (datasets, checkpoints, result tables) lives under
``cache_root() / kind / <hash of its configuration>``, so a later chapter reuses what an
earlier one computed, and a changed configuration never loads a stale artifact.
Writes go to a temporary file in the same folder, are flushed to disk (``fsync``) and
renamed into place, so an interrupted run never leaves a half-written file behind for a
later run to load. A cache heals itself: a damaged entry (truncated, empty, unreadable) is
reported by name and recomputed by :func:`cached`, and temporary files orphaned by a
killed writer are removed when their folder is next used.

A read-only cache is read: only a write (a result not cached yet) fails, with a
:class:`CacheError` naming the file and the folder. A full disk is named the same way
("no space left on the device holding <cache folder>, N MB needed"), checked before
writing where the size is known (:func:`check_free_space`).

The root is ``$NSDE_CACHE`` when set, else ``.cache/`` in the repository (git-ignored).
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import inspect
import json
import os
import pickle
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

__all__ = [
    "CacheError",
    "DamagedCacheEntry",
    "cache_root",
    "config_hash",
    "tensor_hash",
    "artifact_dir",
    "atomic_path",
    "check_free_space",
    "tensor_bytes",
    "save_json",
    "load_json",
    "save_torch",
    "load_torch",
    "load_or_heal",
    "remove_orphans",
    "cached",
    "cached_call",
]

#: Arguments that change how a result is computed, never what: not part of a cache key.
NOT_IN_KEY = ("batch_size", "show_progress", "refresh", "key", "device")

_REPO = Path(__file__).resolve().parents[2]
#: Temporary files older than this (seconds) are orphans of an interrupted write.
ORPHAN_AGE_S = 600.0


class CacheError(OSError):
    """The cache folder cannot be used (it is a file, it is not writable where a write is
    needed, or its device is full). The message names it."""


class DamagedCacheEntry(OSError):
    """A cached file exists but cannot be read (truncated, empty, corrupt). Names the file."""


def _configured_root() -> tuple[Path, str]:
    """The cache folder and how to name it in messages, without touching the disk."""
    env = os.environ.get("NSDE_CACHE")
    if env:
        root = Path(env).expanduser()
    elif (_REPO / "pyproject.toml").exists():
        root = _REPO / ".cache"
    else:  # installed as a regular package
        root = Path.home() / ".cache" / "nsde"
    return root, (f"{root} (set by NSDE_CACHE)" if env else str(root))


def cache_root() -> Path:
    """The cache folder: ``$NSDE_CACHE``, else ``<repo>/.cache`` (else ``~/.cache/nsde``).

    A folder that is not writable is returned too: what it holds can be read, and a write
    into it raises :class:`CacheError` naming it.

    Raises:
        CacheError: the folder is a file, or does not exist and cannot be created.
    """
    root, where = _configured_root()
    if root.exists() and not root.is_dir():
        raise CacheError(f"the cache folder {where} is a file, not a folder; remove it or set NSDE_CACHE")
    if not root.is_dir():
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder {where}: {exc.strerror}") from None
    return root


def _holder(path: Path, is_folder: bool = False) -> str:
    """``"the cache folder <root>"`` when ``path`` lies in the cache, else ``"the folder <its
    folder>"``, for messages."""
    root, where = _configured_root()
    try:
        Path(path).resolve().relative_to(root.resolve())
        return f"the cache folder {where}"
    except (ValueError, OSError):
        return f"the folder {Path(path) if is_folder else Path(path).parent}"


def _mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes < 1e8 else f"{nbytes / 1e6:,.0f} MB"


def _free_bytes(folder: Path) -> int | None:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return int(shutil.disk_usage(folder).free)
    except OSError:
        return None


def _no_space(path: Path, need: int | None) -> CacheError:
    free = _free_bytes(Path(path).parent)
    need_text = f", {_mb(need)} needed" if need else ""
    free_text = f" ({_mb(free)} free)" if free is not None and (need is None or free < need) else ""
    return CacheError(f"no space left on the device holding {_holder(path)}{need_text}{free_text}, "
                      f"writing {path}; free some space or set NSDE_CACHE to a folder on a larger disk")


def _not_writable(path: Path, exc: OSError) -> CacheError:
    return CacheError(f"cannot write {path}: {_holder(path)} is not writable ({exc.strerror}); "
                      "what it holds can be read, but this result is not cached yet: fix its permissions or set "
                      "NSDE_CACHE to a writable folder")


def _is_torch_write_failure(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("inline_container" in text or "PytorchStreamWriter" in text
                                              or "file write failed" in text)


def _write_error(path: Path, exc: BaseException, need: int | None = None) -> CacheError | None:
    """The :class:`CacheError` that names a failed write, or ``None`` for other errors."""
    if isinstance(exc, CacheError):
        return None
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _no_space(path, need)
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return _not_writable(path, exc)
    if _is_torch_write_failure(exc):  # torch's zip writer reports a full disk as "unexpected pos ..."
        free = _free_bytes(Path(path).parent)
        if free is None or free < max(need or 0, 1 << 20):
            return _no_space(path, need)
        return CacheError(f"cannot write {path}: torch.save failed ({str(exc).splitlines()[0][:200]})")
    return None


def check_free_space(folder: str | os.PathLike, nbytes: int, what: str = "this file") -> None:
    """Raise :class:`CacheError` before any work when ``folder``'s device has less than
    ``nbytes`` free (naming the cache folder, the size needed and the size free)."""
    folder = Path(folder)
    free = _free_bytes(folder)
    if free is not None and free < nbytes:
        raise CacheError(f"no space left on the device holding {_holder(folder, is_folder=True)}, "
                         f"{_mb(nbytes)} needed for {what}, {_mb(free)} free; free some space or set NSDE_CACHE "
                         "to a folder on a larger disk")


def tensor_bytes(obj: Any, _depth: int = 0) -> int:
    """The bytes of the tensors and arrays in ``obj`` (nested dicts, lists, tuples): a lower
    bound on the size of its ``torch.save`` file."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if hasattr(obj, "nbytes") and hasattr(obj, "dtype"):  # a NumPy array
        return int(obj.nbytes)
    if _depth > 20:
        return 0
    if isinstance(obj, dict):
        return sum(tensor_bytes(v, _depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v, _depth + 1) for v in obj)
    return 0


def _canonical(obj: Any) -> Any:
    """Turn configs (dataclasses, dicts, tuples, paths, dtypes) into JSON-able values.

    NumPy scalars count as the Python numbers they hold (``np.float64(0.05)`` and ``0.05``
    give one key)."""
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0 and not hasattr(obj, "requires_grad"):
        obj = obj.item()  # a NumPy scalar
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
    if not path.is_dir():
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise (_write_error(path / "config.json", exc) or exc) from None
    remove_orphans(path)
    desc = path / "config.json"
    if not desc.exists():
        save_json([_canonical(c) for c in configs], desc)
    return path


def remove_orphans(folder: str | os.PathLike, max_age_s: float = ORPHAN_AGE_S) -> list[Path]:
    """Delete the temporary files of interrupted writes (``.<name>.*.tmp``) older than
    ``max_age_s`` seconds in ``folder``; return what was removed."""
    removed = []
    now = time.time()
    for tmp in Path(folder).glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > max_age_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # another process finished or removed it, or the folder is read-only
            pass
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike, need: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched. A full
    disk or a read-only folder raises :class:`CacheError` naming the file, the cache
    folder and (``need``, bytes, when known) the space needed.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise (_write_error(path, exc, need) or exc) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # the bytes reach the disk before the name does
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except (OSError, RuntimeError) as exc:
        named = _write_error(path, exc, need)
        if named is None:
            raise
        raise named from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not supported on this platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON, atomically; a file that already holds exactly this
    text is left as it is (so recording the same thing again needs no write access)."""
    path = Path(path)
    text = json.dumps(obj, indent=2, sort_keys=True, default=str)
    try:
        if path.is_file() and path.read_text() == text:
            return path
    except (OSError, UnicodeDecodeError):  # unreadable: write it afresh
        pass
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def load_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a damaged one raises :class:`DamagedCacheEntry` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DamagedCacheEntry(f"damaged JSON file {path}: {exc}") from None


def save_torch(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` ``obj`` atomically.

    Raises:
        CacheError: the device has less free space than the tensors of ``obj`` take (checked
            before writing), it filled up while writing, or the folder is not writable.
    """
    need = tensor_bytes(obj)
    if need:
        check_free_space(Path(path).parent, need, Path(path).name)
    with atomic_path(path, need=need or None) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_torch(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` a file written by :func:`save_torch`.

    Raises:
        FileNotFoundError: no such file.
        DamagedCacheEntry: the file is empty, truncated or not a torch file (naming it).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise DamagedCacheEntry(f"damaged cache file {path}: it is empty")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (EOFError, RuntimeError, OSError, ValueError, KeyError, IndexError, AttributeError,
            ImportError, TypeError, pickle.UnpicklingError) as exc:
        reason = str(exc).split(". ")[0]  # torch's zip errors run on for several sentences
        raise DamagedCacheEntry(f"damaged cache file {path}: {type(exc).__name__}: {reason}") from None


def load_or_heal(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """:func:`load_torch`, but a damaged file is reported (a warning naming it), deleted and
    ``None`` returned, so that the caller recomputes it. A missing file also gives ``None``."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return load_torch(path, map_location=map_location)
    except DamagedCacheEntry as exc:
        warnings.warn(f"{exc}; deleting it and computing it again", stacklevel=2)
        try:
            path.unlink(missing_ok=True)
        except OSError:  # a read-only cache: the recomputed result's write will name the folder
            pass
        return None


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
    if not refresh:
        hit = load_or_heal(path)
        if hit is not None:
            return hit
    value = compute()
    save_torch(value, path)
    return value


def _keyword_defaults(fn: Callable) -> tuple[dict, bool]:
    """``({name: default}, takes **kwargs)`` of ``fn``'s parameters that have defaults."""
    params = inspect.signature(fn).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return defaults, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _model_key(model: Any, fn: Callable) -> Any:
    if model is None or isinstance(model, str):
        return model
    if isinstance(model, (list, tuple)):
        return [_model_key(m, fn) for m in model]
    key = getattr(model, "key", None)
    if not isinstance(key, str):
        raise TypeError(f"{fn.__name__} caches its results under a trained model's key: pass a TrainedModel "
                        f"(nsde.core.training.train_or_load), not a {type(model).__name__}")
    return key


def cached_call(kind: str, fn: Callable, compute: Callable[[], Any], *, model: Any,
                tensors: Sequence[torch.Tensor] = (), arguments: Mapping[str, Any] | None = None,
                version: int = 1, passes_to: Sequence[Callable] = (), name: str = "artifact.pt",
                refresh: bool = False) -> Any:
    """The one cache wrapper of every cached measure: ``compute()`` once per call of ``fn``.

    The key is ``fn``'s name and ``version``, the key of the trained model(s) scored, the
    content of ``tensors`` (the images and labels), and the settings of the call: every
    keyword argument of ``fn`` with its default filled in from the signature (so a changed
    default never reloads a stale result), updated with ``arguments``. Functions whose
    ``**kwargs`` are passed on name the receivers in ``passes_to``: their defaults join the
    key too. Arguments of :data:`NOT_IN_KEY` (batch size, progress bars) are left out.

    Args:
        kind: the artifact family (a folder of the cache, e.g. ``"robustness"``).
        fn: the function whose result is cached.
        compute: a function of no arguments computing that result.
        model: the trained model(s) the result depends on (``TrainedModel``, or their
            ``.key``), or ``None`` for results of data alone.
        tensors: the tensors the result is computed from.
        arguments: the settings of this call (keyword arguments of ``fn``, and of
            ``passes_to``).
        version: bump when ``fn`` changes what it computes.
        passes_to: functions that receive ``fn``'s ``**kwargs``.
        name: file name of the artifact.
        refresh: recompute even when cached.

    Raises:
        TypeError: ``arguments`` names a parameter that neither ``fn`` nor ``passes_to`` takes;
            ``model`` is a plain module (it has no key).
    """
    settings, open_ended = _keyword_defaults(fn)
    for receiver in passes_to:
        more, _ = _keyword_defaults(receiver)
        settings = {**more, **settings}
    arguments = dict(arguments or {})
    if not open_ended or passes_to:
        known = set(settings) | set(inspect.signature(fn).parameters)
        for receiver in passes_to:
            known |= set(inspect.signature(receiver).parameters)
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise TypeError(f"{fn.__name__} got unexpected keyword argument(s) {unknown}")
    settings.update(arguments)
    settings = {k: v for k, v in settings.items() if k not in NOT_IN_KEY}
    config = {"fn": fn.__name__, "v": version, "model": _model_key(model, fn), "data": tensor_hash(*tensors) if tensors else None,
              **settings}
    return cached(kind, config, compute, name=name, refresh=refresh)

"""nsde._infra.cache: stable hashes, atomic writes, compute-once caching."""
import dataclasses
from pathlib import Path

import pytest
import torch

from nsde._infra import cache


@dataclasses.dataclass
class Cfg:
    a: int = 1
    b: float = 0.5


@dataclasses.dataclass
class Other:
    a: int = 1
    b: float = 0.5


def test_hash_is_stable_and_sensitive():
    assert cache.config_hash(Cfg()) == cache.config_hash(Cfg())
    assert cache.config_hash(Cfg()) != cache.config_hash(Cfg(b=0.25))
    assert cache.config_hash(Cfg()) != cache.config_hash(Other())  # type is part of the key
    assert cache.config_hash({"x": 1, "y": 2}) == cache.config_hash({"y": 2, "x": 1})
    assert cache.config_hash({"x": 1}) != cache.config_hash({"x": 1.0})


def test_cache_root_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "c"))
    assert cache.cache_root() == tmp_path / "c"
    d = cache.artifact_dir("kind", Cfg())
    assert d.parent == tmp_path / "c" / "kind"
    assert (d / "config.json").exists()


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.pt"
    with pytest.raises(RuntimeError):
        with cache.atomic_path(target) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.json"
    cache.save_json({"v": 1}, target)
    with pytest.raises(RuntimeError):
        with cache.atomic_path(target) as tmp:
            tmp.write_text("{broken")
            raise RuntimeError("interrupted")
    assert cache.load_json(target) == {"v": 1}


def test_cached_computes_once(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return torch.arange(3)

    first = cache.cached("t", Cfg(), compute)
    second = cache.cached("t", Cfg(), compute)
    assert torch.equal(first, second) and len(calls) == 1
    cache.cached("t", Cfg(a=2), compute)
    assert len(calls) == 2
    cache.cached("t", Cfg(), compute, refresh=True)
    assert len(calls) == 3


def test_tensor_hash_depends_on_values_shape_and_dtype():
    import torch

    from nsde._infra.cache import tensor_hash

    a = torch.arange(6.0)
    assert tensor_hash(a) == tensor_hash(a.clone()) and len(tensor_hash(a)) == 16
    assert tensor_hash(a) != tensor_hash(a + 1)
    assert tensor_hash(a) != tensor_hash(a.view(2, 3))
    assert tensor_hash(a) != tensor_hash(a.double())


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_damaged_entry_is_named_and_recomputed(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"w": torch.arange(1000.0)}

    first = cache.cached("things", {"k": 1}, compute, name="x.pt")
    path = cache.artifact_dir("things", {"k": 1}) / "x.pt"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "empty": b"", "garbage": b"not a torch file"}[damage])
    with pytest.raises(cache.DamagedCacheEntry, match=str(path)):
        cache.load_torch(path)
    with pytest.warns(UserWarning, match=rf"damaged cache file {path}.*computing it again"):
        again = cache.cached("things", {"k": 1}, compute, name="x.pt")
    assert len(calls) == 2 and torch.equal(again["w"], first["w"])
    assert torch.equal(cache.load_torch(path)["w"], first["w"])  # healed on disk


def test_orphaned_temp_files_are_removed(tmp_path, monkeypatch):
    import os
    import time

    monkeypatch.setenv("NSDE_CACHE", str(tmp_path))
    folder = cache.artifact_dir("things", {"k": 2})
    old, fresh = folder / ".x.pt.abc.tmp", folder / ".x.pt.def.tmp"
    old.write_bytes(b"half")
    fresh.write_bytes(b"in progress")
    t = time.time() - 2 * cache.ORPHAN_AGE_S
    os.utime(old, (t, t))
    cache.artifact_dir("things", {"k": 2})
    assert not old.exists() and fresh.exists()  # a writer may still own the recent one


def test_an_unusable_cache_root_is_one_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("NSDE_CACHE", str(blocker))
    with pytest.raises(cache.CacheError, match=rf"cache folder {blocker} .*is a file"):
        cache.cache_root()
    monkeypatch.setenv("NSDE_CACHE", str(blocker / "below"))
    with pytest.raises(cache.CacheError, match=rf"cannot create the cache folder {blocker / 'below'}"):
        cache.cache_root()


def _read_only(monkeypatch, root: Path) -> None:
    """Make every write under ``root`` fail as on a read-only file system (root ignores
    permission bits, so the test cannot use chmod)."""
    import errno
    import os
    import tempfile

    def refuse(path):
        if str(path).startswith(str(root)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))

    real_mkdir, real_mkstemp, real_unlink = os.mkdir, tempfile.mkstemp, os.unlink
    monkeypatch.setattr(os, "mkdir", lambda path, *a, **k: (refuse(path), real_mkdir(path, *a, **k))[1])
    monkeypatch.setattr(os, "unlink", lambda path, *a, **k: (refuse(path), real_unlink(path, *a, **k))[1])
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: (refuse(k.get("dir", "")), real_mkstemp(*a, **k))[1])


def test_a_populated_read_only_cache_is_read_and_only_a_write_fails(tmp_path, monkeypatch):
    root = tmp_path / "ro"
    monkeypatch.setenv("NSDE_CACHE", str(root))
    stored = cache.cached("things", {"k": 1}, lambda: torch.arange(3))
    old = cache.artifact_dir("things", {"k": 1}) / ".artifact.pt.abc.tmp"  # an orphan it cannot remove
    old.write_bytes(b"half")
    import os
    import time
    os.utime(old, (time.time() - 2 * cache.ORPHAN_AGE_S,) * 2)
    _read_only(monkeypatch, root)
    assert cache.cache_root() == root
    assert torch.equal(cache.cached("things", {"k": 1}, lambda: torch.arange(5)), stored)  # read, nothing written
    with pytest.raises(cache.CacheError) as info:  # a result not cached yet must be written: that fails, named
        cache.cached("things", {"k": 2}, lambda: torch.arange(5))
    message = str(info.value)
    assert f"the cache folder {root} (set by NSDE_CACHE) is not writable" in message
    assert "things" in message and "set NSDE_CACHE to a writable folder" in message
    with pytest.raises(cache.CacheError, match=r"cannot write .*artifact.pt: the cache folder .* is not writable"):
        cache.save_torch(torch.arange(2), cache.artifact_dir("things", {"k": 1}) / "artifact.pt")
    assert torch.equal(cache.load_torch(cache.artifact_dir("things", {"k": 1}) / "artifact.pt"), stored)
    finding = root / "findings" / "quick" / "x.json"
    monkeypatch.undo()
    monkeypatch.setenv("NSDE_CACHE", str(root))
    cache.save_json({"verdict": "yes"}, finding)
    _read_only(monkeypatch, root)
    assert cache.save_json({"verdict": "yes"}, finding) == finding  # the same record again needs no write
    with pytest.raises(cache.CacheError, match=r"cannot write .*x.json: the cache folder .* is not writable"):
        cache.save_json({"verdict": "no"}, finding)


@pytest.mark.parametrize("failure", ["ENOSPC", "inline_container"])
def test_a_full_disk_is_named_with_the_size_and_nothing_is_left_behind(tmp_path, monkeypatch, failure):
    import errno

    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "c"))
    folder = cache.artifact_dir("models", {"k": 1})
    target = folder / "checkpoint.pt"
    cache.save_torch({"w": torch.zeros(10)}, target)  # an earlier epoch's checkpoint

    def full(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"partial")
        if failure == "ENOSPC":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1365184 vs 1365080")

    monkeypatch.setattr(cache.torch, "save", full)
    monkeypatch.setattr(cache, "_free_bytes", lambda folder: 4096)  # what a full disk reports afterwards
    monkeypatch.setattr(cache, "check_free_space", lambda *a, **k: None)  # the disk filled up while writing
    with pytest.raises(cache.CacheError) as info:
        cache.save_torch({"w": torch.zeros(1_000_000)}, target)
    message = str(info.value)
    assert message.startswith(f"no space left on the device holding the cache folder {tmp_path / 'c'} (set by "
                              "NSDE_CACHE), 4.0 MB needed")
    assert str(target) in message and "set NSDE_CACHE to a folder on a larger disk" in message
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt", "config.json"]  # no temp file
    monkeypatch.undo()
    assert torch.equal(cache.load_torch(target)["w"], torch.zeros(10))  # the old checkpoint is intact


def test_a_disk_too_full_for_a_write_is_named_before_writing(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "c"))
    folder = cache.artifact_dir("models", {"k": 1})
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 196_608, 196_608))
    written = []
    monkeypatch.setattr(cache.torch, "save", lambda *a, **k: written.append(a))
    with pytest.raises(cache.CacheError, match=rf"no space left on the device holding the cache folder "
                       rf"{tmp_path / 'c'} \(set by NSDE_CACHE\), 4.0 MB needed for checkpoint.pt, 0.2 MB free"):
        cache.save_torch({"w": torch.zeros(1_000_000)}, folder / "checkpoint.pt")
    assert not written and sorted(p.name for p in folder.iterdir()) == ["config.json"]


def test_writes_are_flushed_to_disk(tmp_path, monkeypatch):
    import os

    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append(len(synced)), real_replace(a, b)))
    cache.save_torch({"a": 1}, tmp_path / "y.pt")
    assert replaced and replaced[0] >= 1  # the file's bytes are fsynced before the rename
    assert len(synced) > replaced[0]      # and its folder after it

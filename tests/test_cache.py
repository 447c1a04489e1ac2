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
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    monkeypatch.setenv("NSDE_CACHE", str(locked))
    try:
        if os_access_is_enforced(locked):
            with pytest.raises(cache.CacheError, match="not writable"):
                cache.cache_root()
    finally:
        locked.chmod(0o700)
    # root ignores permission bits; the check must still be made and named
    monkeypatch.setattr(cache.os, "access", lambda path, mode: Path(path) != locked)
    with pytest.raises(cache.CacheError, match=rf"cache folder {locked} \(set by NSDE_CACHE\) is not writable"):
        cache.cache_root()


def os_access_is_enforced(path) -> bool:
    """root ignores permission bits: the not-writable case can only be tested as a user."""
    import os

    return not os.access(path, os.W_OK)


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

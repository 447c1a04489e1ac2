"""nsde.cache: stable hashes, atomic writes, compute-once caching."""
import dataclasses

import pytest
import torch

from nsde import cache


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

    from nsde.cache import tensor_hash

    a = torch.arange(6.0)
    assert tensor_hash(a) == tensor_hash(a.clone()) and len(tensor_hash(a)) == 16
    assert tensor_hash(a) != tensor_hash(a + 1)
    assert tensor_hash(a) != tensor_hash(a.view(2, 3))
    assert tensor_hash(a) != tensor_hash(a.double())

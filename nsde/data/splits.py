"""Samples, splits and their cache: ``SignalDataset`` (images, labels, per-sample metadata),
``Splits`` (train / validation / test with class and sensor names), leak-free splitting
(stratified by class, grouped by recording) and the saved form of a set of splits.

No recording ever has samples in two splits (:meth:`Splits.check_disjoint`).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import Tensor
from torch.utils.data import Dataset

from nsde._infra.cache import DamagedCacheEntry, load_torch, save_torch
from nsde.data.spectrogram import STFTConfig

__all__ = ["SPLIT_NAMES", "SignalDataset", "Splits", "stratified_subset", "split_counts", "min_class_size",
           "stratified_split", "grouped_split", "make_splits", "save_splits", "load_saved_splits"]


SPLIT_NAMES = ("train", "val", "test")


class SignalDataset(Dataset):
    """One split: images ``x`` float32 ``(N, C, H, W)`` in [0, 1] (``C`` channels: 1, or the
    sensors of a recording), labels ``y`` int64 ``(N,)`` and per-sample metadata ``meta``
    (dict of tensors with first dimension ``N``).

    Indexing returns ``(x[i], y[i])``.
    """

    def __init__(self, x: Tensor, y: Tensor, meta: dict[str, Tensor] | None = None) -> None:
        if x.ndim != 4 or x.dtype != torch.float32:
            raise ValueError(f"x must be float32 (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
        if y.shape != (x.shape[0],) or y.dtype != torch.int64:
            raise ValueError(f"y must be int64 ({x.shape[0]},), got {y.dtype} {tuple(y.shape)}")
        self.x, self.y = x, y
        self.meta = dict(meta or {})
        for k, v in self.meta.items():
            if len(v) != len(y):
                raise ValueError(f"meta[{k!r}] has {len(v)} rows, expected {len(y)}")

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for i in range(len(self)):
            yield self[i]

    def subset(self, idx: Tensor) -> "SignalDataset":
        """The samples at ``idx`` (int64 indices or bool mask), metadata included."""
        return SignalDataset(self.x[idx], self.y[idx], {k: v[idx] for k, v in self.meta.items()})

    def state(self) -> dict:
        return {"x": self.x, "y": self.y, "meta": self.meta}

    def __repr__(self) -> str:
        return f"SignalDataset(n={len(self)}, x={tuple(self.x.shape)}, meta={sorted(self.meta)})"


def stratified_subset(data: SignalDataset, fraction: float, seed: int = 0) -> SignalDataset:
    """A random class-stratified subset: ``round(fraction * n_c)`` (at least 1) of the
    ``n_c`` samples of each class, in their original order.

    Args:
        data: the split to subsample.
        fraction: share kept, ``0 < fraction <= 1`` (1 returns ``data`` itself).
        seed: seed of the draw.

    Returns:
        A :class:`SignalDataset`, metadata included.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1:
        return data
    gen = torch.Generator().manual_seed(int(seed))
    keep = []
    for c in torch.unique(data.y).tolist():
        idx = torch.nonzero(data.y == c).flatten()
        k = max(1, int(round(fraction * len(idx))))
        keep.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
    return data.subset(torch.sort(torch.cat(keep)).values)


@dataclass
class Splits:
    """Train / validation / test splits and their descriptions.

    Attributes:
        train, val, test: the splits (:class:`SignalDataset`); ``meta["record"]`` (when
            present) is the recording each sample was cut from.
        class_names: the classes, in label order (``num_classes`` of them).
        location_names: the sensors: the channels of each image (recordings read with
            ``sensors_as="channels"``), or the values of ``meta["location"]``.
        sample_rate: samples per second of the recordings.
        info: provenance (``source``, files, split policy, the STFT used as ``stft`` and
            the settings fitted to the recordings as ``stft_fitted`` ...).
        name: a short name of the data set (``"harmonic"``, ``"plaid"``, a file name).
    """

    train: SignalDataset
    val: SignalDataset
    test: SignalDataset
    class_names: list[str]
    location_names: list[str]
    sample_rate: float
    info: dict = field(default_factory=dict)
    name: str = "data"

    def __iter__(self):
        return iter((self.train, self.val, self.test))

    def items(self):
        return zip(SPLIT_NAMES, (self.train, self.val, self.test))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> int:
        return int(self.train.x.shape[-1])

    @property
    def in_chans(self) -> int:
        """Channels of every image (the models' ``in_chans``)."""
        return int(self.train.x.shape[1])

    @property
    def stft(self) -> STFTConfig:
        """The STFT the images were made with (``info["stft"]``; the simulator's default when
        the info predates that record)."""
        return STFTConfig(**self.info["stft"]) if "stft" in self.info else STFTConfig()

    @property
    def simulated(self) -> bool:
        """Whether the data come from the simulator (not from recordings)."""
        return self.info.get("source") == "simulator"

    def check_disjoint(self) -> None:
        """Raise ``ValueError`` when a recording has samples in two splits (a leak)."""
        seen: dict[int, str] = {}
        for name, ds in self.items():
            rec = ds.meta.get("record")
            if rec is None:
                return
            for r in torch.unique(rec).tolist():
                if r in seen and seen[r] != name:
                    raise ValueError(f"recording {r} has samples in both the {seen[r]} and the {name} split")
                seen[r] = name

    def table(self):
        """Recordings, samples and classes per split (a ``pandas.DataFrame``), after checking
        that no recording appears in two splits."""
        import pandas as pd

        self.check_disjoint()
        rows = []
        for name, ds in self.items():
            rec = ds.meta.get("record")
            rows.append({"split": name, "recordings": int(len(torch.unique(rec))) if rec is not None else len(ds),
                         "samples": len(ds), "classes": int(len(torch.unique(ds.y)))})
        return pd.DataFrame(rows).set_index("split")


def _counts(n: int, fractions) -> tuple[int, int, int]:
    n_tr, n_va = int(round(fractions[0] * n)), int(round(fractions[1] * n))
    return n_tr, n_va, n - n_tr - n_va


def split_counts(n: int, fractions=(0.70, 0.15, 0.15)) -> tuple[int, int, int]:
    """``(train, val, test)`` samples that :func:`stratified_split` gives a class of ``n``."""
    return _counts(n, fractions)


def min_class_size(fractions=(0.70, 0.15, 0.15)) -> int:
    """The fewest samples of a class that give every split of ``fractions`` at least one."""
    n = 3
    while min(_counts(n, fractions)) < 1:
        n += 1
    return n


def stratified_split(y: Tensor, fractions: tuple[float, float, float], seed: int,
                     groups: Tensor | None = None, class_names: list[str] | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Per-class random split into train / val / test indices.

    Each class of ``n`` samples gives ``round(f_train n)`` train, ``round(f_val n)`` val and
    the rest test samples, so every split holds every class in the same proportion. With
    ``groups`` (e.g. the sensor location) a class's samples are dealt to the splits
    round-robin over the groups, so each split also holds each group of each class in
    proportion (to within one sample).

    Args:
        y: int64 ``(N,)`` labels.
        fractions: train / val / test fractions.
        seed: seed of the permutation.
        groups: optional int64 ``(N,)`` second variable to balance (e.g. location).
        class_names: names for error messages.

    Returns:
        three sorted int64 index tensors.

    Raises:
        ValueError: a class too small to give every split a sample (naming it).
    """
    if len(fractions) != 3 or min(fractions) <= 0 or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be 3 positive numbers summing to 1, but found {fractions}")
    g = torch.Generator().manual_seed(int(seed) + 7919)
    parts: list[list[Tensor]] = [[], [], []]
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).squeeze(1)
        n = len(idx)
        n_tr, n_va, n_te = _counts(n, fractions)
        if min(n_tr, n_va, n_te) < 1:
            name = repr(class_names[c]) if class_names and c < len(class_names) else str(c)
            raise ValueError(f"class {name} has {n} samples: too few for a {tuple(fractions)} split (need one per "
                             f"split, so at least {min_class_size(fractions)}); give it more samples or drop it")
        perm = idx[torch.randperm(n, generator=g)]
        if groups is not None:  # interleave the groups: each group's samples spread evenly over the order
            grp = groups[perm]
            rank = torch.zeros(n, dtype=torch.float64)
            u = torch.rand(n, generator=g, dtype=torch.float64)
            for v in torch.unique(grp).tolist():
                m = grp == v
                size = int(m.sum())
                rank[m] = (torch.arange(size, dtype=torch.float64) + u[m]) / size  # fractional rank in [0, 1)
            perm = perm[torch.sort(rank).indices]
        parts[0].append(perm[:n_tr])
        parts[1].append(perm[n_tr:n_tr + n_va])
        parts[2].append(perm[n_tr + n_va:])
    return tuple(torch.cat(p).sort().values for p in parts)  # type: ignore[return-value]


def grouped_split(y: Tensor, records: Tensor, fractions: tuple[float, ...], seed: int,
                  class_names: list[str] | None = None) -> tuple[Tensor, ...]:
    """Split by recording, stratified by class: every sample of a recording lands in one part.

    Per class, the recordings are shuffled (seeded) and dealt out one by one to the part
    whose share of that class's samples lags its target fraction most, after each part has
    received one recording. A recording must have a single label.

    Args:
        y: int64 ``(N,)`` labels.
        records: int64 ``(N,)`` recording of each sample.
        fractions: target fraction of the samples per part (2 or 3 positive numbers, sum 1).
        seed: seed of the shuffle.
        class_names: names for error messages.

    Returns:
        one sorted int64 index tensor per part.

    Raises:
        ValueError: a recording with two labels, or a class with fewer recordings than parts
            (naming the class and the fix).
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) not in (2, 3) or min(fractions) <= 0 or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must be 2 or 3 positive numbers summing to 1, but found {fractions}")
    if records.shape != y.shape:
        raise ValueError(f"records must have the shape of y {tuple(y.shape)}, but found {tuple(records.shape)}")
    mixed = [r for r in torch.unique(records).tolist() if len(torch.unique(y[records == r])) > 1]
    if mixed:
        raise ValueError(f"recording {mixed[0]} has samples of several classes; a recording needs one label")
    g = torch.Generator().manual_seed(int(seed) + 104729)
    parts: list[list[Tensor]] = [[] for _ in fractions]
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).squeeze(1)
        recs = torch.unique(records[idx])
        name = class_names[c] if class_names and c < len(class_names) else str(c)
        if len(recs) < len(fractions):
            raise ValueError(f"class {name!r} has {len(recs)} recording(s): too few to put each in one of the "
                             f"{len(fractions)} splits without leaking windows across them; add recordings of it "
                             "or drop the class")
        recs = recs[torch.randperm(len(recs), generator=g)]
        sizes = torch.stack([(records[idx] == r).sum() for r in recs]).double()
        target = torch.tensor(fractions, dtype=torch.float64) * sizes.sum()
        got = torch.zeros(len(fractions), dtype=torch.float64)
        for j, (r, size) in enumerate(zip(recs.tolist(), sizes)):
            k = j if j < len(fractions) else int(torch.argmax((target - got) / target))
            got[k] += size
            parts[k].append(idx[records[idx] == r])
    return tuple(torch.cat(p).sort().values if p else torch.zeros(0, dtype=torch.long) for p in parts)


def _named(name: str, fn, *args):
    """Call ``fn``; a ValueError it raises names the data set ``name`` first."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise ValueError(f"data set {name!r}: {exc}") from None


def make_splits(data: SignalDataset, *, class_names, location_names, sample_rate: float,
                split=(0.70, 0.15, 0.15), seed: int = 0, info: dict | None = None, test_mask: Tensor | None = None,
                name: str = "data") -> Splits:
    """Split a full dataset into stratified train / val / test ``Splits``.

    Samples cut from one recording (``data.meta["record"]`` with repeated values) always
    land in one split (:func:`grouped_split`); otherwise samples are split one by one,
    sensor locations dealt round-robin (:func:`stratified_split`). With ``test_mask`` (a
    data set's own split) the masked samples are the test split and validation is carved
    out of the rest in the proportion ``split[1] / (split[0] + split[1])``.

    Raises:
        ValueError: naming the class when a class is empty or too small to split, or a
            recording found in two splits.
    """
    counts = torch.bincount(data.y, minlength=len(class_names))
    if len(counts) > len(class_names):
        raise ValueError(f"labels reach {len(counts) - 1} but only {len(class_names)} class names were given")
    empty = [class_names[c] for c in range(len(class_names)) if counts[c] == 0]
    if empty:
        raise ValueError(f"empty class(es) {empty}: every class needs samples")
    info = dict(info or {})
    rec = data.meta.get("record")
    grouped = rec is not None and len(torch.unique(rec)) < len(rec)
    if test_mask is not None:
        test_mask = torch.as_tensor(test_mask, dtype=torch.bool)
        if test_mask.shape != data.y.shape:
            raise ValueError(f"test_mask must have one entry per sample ({len(data.y)}), but found shape "
                             f"{tuple(test_mask.shape)}")
        rest = torch.nonzero(~test_mask).squeeze(1)
        te = torch.nonzero(test_mask).squeeze(1)
        missing = [class_names[c] for c in range(len(class_names)) if not bool((data.y[te] == c).any())]
        if missing:
            raise ValueError(f"the data set's own test split has no sample of class(es) {missing}; every class "
                             "needs test samples")
        f_val = split[1] / (split[0] + split[1])
        records = rec[rest] if rec is not None else torch.arange(len(rest))
        tr, va = _named(name, grouped_split, data.y[rest], records, (1 - f_val, f_val), seed, list(class_names))
        tr, va = rest[tr], rest[va]
        info["split"] = "the data set's own test split; validation carved from its training split by recording"
    elif grouped:
        tr, va, te = _named(name, grouped_split, data.y, rec, split, seed, list(class_names))
        info["split"] = "by recording, stratified by class"
    else:
        loc = data.meta.get("location")
        tr, va, te = _named(name, stratified_split, data.y, split, seed, loc, list(class_names))
        info["split"] = "stratified by class" + ("" if loc is None else ", locations dealt round-robin")
    splits = Splits(data.subset(tr), data.subset(va), data.subset(te), list(class_names), list(location_names),
                    float(sample_rate), info, name)
    splits.check_disjoint()
    for split_name, ds in splits.items():
        absent = [class_names[c] for c in range(len(class_names)) if not bool((ds.y == c).any())]
        if absent:
            raise ValueError(f"the {split_name} split has no sample of class(es) {absent}; give them more "
                             "recordings or drop them")
    return splits


def save_splits(splits: Splits, folder) -> None:
    """Save each split to its own file, then a manifest last (a cache entry is complete
    only when its manifest exists)."""
    for name, ds in splits.items():
        save_torch(ds.state(), folder / f"{name}.pt")
    save_torch({"class_names": splits.class_names, "location_names": splits.location_names,
                "sample_rate": splits.sample_rate, "info": splits.info, "name": splits.name}, folder / "manifest.pt")


def load_saved_splits(folder) -> Splits | None:
    """The cached splits in ``folder``, or None when absent; a damaged entry is reported,
    removed (manifest first) and None returned, so the caller rebuilds it."""
    if not (folder / "manifest.pt").exists() or not all((folder / f"{n}.pt").exists() for n in SPLIT_NAMES):
        return None
    try:
        man = load_torch(folder / "manifest.pt")
        parts = [SignalDataset(**load_torch(folder / f"{n}.pt")) for n in SPLIT_NAMES]
    except (DamagedCacheEntry, TypeError, ValueError) as exc:
        warnings.warn(f"damaged dataset cache in {folder}: {exc}; building it again", stacklevel=2)
        for n in ("manifest", *SPLIT_NAMES):
            (folder / f"{n}.pt").unlink(missing_ok=True)
        return None
    return Splits(*parts, man["class_names"], man["location_names"], man["sample_rate"], man["info"],
                  man.get("name", "data"))

"""A reference classifier from the field, on the raw series: MiniRocket.

MiniRocket (Dempster, Schmidt and Webb, KDD 2021) is a standard, maintained time-series
classifier of the UCR/UEA archive: 10,000 random convolution kernels (dilated, with fixed
weights) turn each series into the proportions of positive values of their outputs, and a
ridge classifier with a cross-validated penalty is fitted on these features. It runs here
through sktime (``RocketClassifier(rocket_transform="minirocket")``, the multivariate
variant for series of several channels), on the **raw series** the loaders keep beside the
spectrograms (``meta["series"]``), fitted on the training split our networks are trained
on and scored on the same validation and test samples, so its accuracy sits beside Table 1
as the field's baseline for the data set. It is deterministic given its seed; its result is
cached under the content of the series and labels.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from nsde._infra.cache import cached_call
from nsde._infra.checks import positive_int
from nsde.stats.intervals import accuracy_interval

__all__ = ["REFERENCE", "minirocket", "reference_rows"]

#: The reference classifier's name on the pages.
REFERENCE = "MiniRocket (raw series)"
_VERSION = 1


def _series(splits, name: str) -> tuple[np.ndarray, np.ndarray]:
    ds = getattr(splits, name)
    if "series" not in ds.meta:
        raise ValueError(f"the {name} split of data set {getattr(splits, 'name', '?')!r} keeps no raw series "
                         "(meta['series']); the reference classifier needs recordings loaded by nsde.data.load_dataset "
                         "(the simulator keeps none)")
    return ds.meta["series"].double().numpy(), ds.y.numpy()


def minirocket(splits, *, seed: int = 0, num_kernels: int = 10_000) -> dict:
    """MiniRocket fitted on the training split's raw series, scored on validation and test (cached).

    Args:
        splits: recordings from :func:`nsde.data.load_dataset` (they keep ``meta["series"]``).
        seed: the kernels' random state.
        num_kernels: MiniRocket's kernels (10,000 in the paper and in sktime).

    Returns:
        ``{"val": bool (N_val,), "test": bool (N_test,)}`` per-sample correctness, and
        ``"fit_seconds"``, ``"channels"``, ``"length"``.

    Raises:
        ValueError: splits without raw series (the simulator's).
    """
    num_kernels = positive_int("num_kernels", num_kernels)
    (xtr, ytr), (xva, yva), (xte, yte) = (_series(splits, n) for n in ("train", "val", "test"))

    def compute() -> dict:
        from sktime.classification.kernel_based import RocketClassifier

        clf = RocketClassifier(num_kernels=num_kernels, rocket_transform="minirocket", random_state=seed, n_jobs=1)
        t0 = time.perf_counter()
        clf.fit(xtr, ytr)
        fit_s = time.perf_counter() - t0
        return {"val": clf.predict(xva) == yva, "test": clf.predict(xte) == yte, "fit_seconds": fit_s,
                "channels": int(xtr.shape[1]), "length": int(xtr.shape[2])}

    ds = (splits.train, splits.val, splits.test)
    tensors = [t for d in ds for t in (d.meta["series"], d.y)]
    return cached_call("reference", minirocket, compute, model=None, tensors=tensors,
                       arguments=dict(seed=seed, num_kernels=num_kernels), version=_VERSION, name="minirocket.pt")


def reference_rows(splits, *, seed: int = 0) -> pd.DataFrame:
    """The reference classifier as a row of Table 1 (:func:`nsde.measures.evaluation.accuracy_table`'s
    columns, percent; one fitted model, so no spread over seeds).

    Args:
        splits: recordings from :func:`nsde.data.load_dataset`.
        seed: MiniRocket's random state and the seed of the interval.
    """
    r = minirocket(splits, seed=seed)
    iv = accuracy_interval(np.asarray(r["test"], dtype=float), seed=seed)
    row = {"model": REFERENCE, "eval noise": "-", "seeds": 1, "validation": 100 * float(np.mean(r["val"])),
           "test": 100 * iv.estimate, "test 95% CI": f"[{100 * max(0.0, iv.low):.1f}, {100 * min(1.0, iv.high):.1f}]",
           "test sd over seeds": float("nan")}
    return pd.DataFrame([row]).round(1)

"""Where the paper's baseline stands: the search that sets what the paper leaves free.

The paper fixes the data size (10,000 spectrograms, 16 classes, 70/15/15) and the
architecture family, and leaves free the spectrogram's scaling, the image size, the length
of training and the learning rate. This module sets them by a search whose **only target
is the baseline**: its clean validation accuracy (Table 1) and its validation accuracy
under the paper's eight white-noise intensities (Table 2), against the paper's ConvNeXt-Base
column. The NSDE is never trained or consulted, and the test split plays no part.

The search (:data:`CENTRE`, :data:`DEPARTURES`) is one knob at a time from a centre point;
each setting trains the baseline (first training seed, the architecture's recipe of
:func:`nsde.studies.zoo.recipe`) and scores it (:func:`run_setting`). The rule that picks
the book's setting (:func:`choose`) is declared here: the smallest mean absolute distance
to the paper's baseline column, in points; settings within :data:`TIE_POINTS` of the best
count as tied; among them a ConvNeXt (the paper's family) is preferred, then the cheapest
(:func:`cost`: epochs x training images x pixels per image, a proxy that does not depend on
how busy the machine was).

``benchmarks/regime_search.py`` runs the search and records ``results/regime_search.csv``,
which the training chapter shows; the default profile holds the chosen values.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from nsde.core.training import ModelSpec, TrainConfig, train_or_load
from nsde.data import DataConfig, STFTConfig, load_splits
from nsde.measures.robustness import PAPER_INTENSITIES, noise_accuracy
from nsde.report import paper
from nsde.studies.zoo import recipe

__all__ = ["CENTRE", "DEPARTURES", "TIE_POINTS", "KNOBS", "settings", "run_setting", "distance_to_paper",
           "load_search", "cost", "choose", "profile_agrees", "search_table", "choice_sentence", "PLATEAU_POINTS",
           "PLATEAU_EPOCHS", "converged", "convergence_sentence"]

#: The centre of the search: the paper's data size, 64x64 spectrograms, 20 epochs.
CENTRE = dict(arch="resnet10t", n_per_class=625, image_size=64, top_db=80.0, epochs=20, lr=0.004, batch_size=32)
#: Departures from the centre: ``(knob, value)``, or ``{knob: value, ...}`` for a setting
#: that moves several knobs together (ConvNeXt-Atto at learning rates of its own).
DEPARTURES = [("image_size", 32), ("epochs", 10), ("top_db", 30.0), ("n_per_class", 160), ("lr", 0.002),
              ("epochs", 5), ("top_db", 40.0), ("epochs", 12), {"arch": "convnext_atto", "lr": 0.004},
              {"arch": "convnext_atto", "lr": 0.001}]
#: Distances (points) within which two settings count as tied; the cheaper one is kept.
TIE_POINTS = 1.0
#: The knobs the profile holds, and the profile settings they are.
KNOBS = {"arch": "arch", "n_per_class": "n_per_class", "image_size": "image_size", "epochs": "epochs", "lr": "lr",
         "batch_size": "batch_size"}


def settings() -> list[tuple[str, dict]]:
    """``[(name, settings)]``: the centre, then each departure."""
    def fmt(knob, value):
        return f"{knob}={value:g}" if isinstance(value, (int, float)) else f"{knob}={value}"

    rows = [("centre", dict(CENTRE))]
    for d in DEPARTURES:
        moves = dict(d) if isinstance(d, dict) else dict([d])
        rows.append((",".join(fmt(k, v) for k, v in moves.items()), {**CENTRE, **moves}))
    return rows


def distance_to_paper(clean: float, curve: Sequence[float]) -> float:
    """Mean absolute difference in points between ours (clean accuracy, then the accuracies
    at the paper's eight intensities, in percent) and the paper's ConvNeXt-Base column
    (validation accuracy of its Table 1, then its Table 2)."""
    theirs = [paper.TABLE1["ConvNeXt-Base"]["validation"], *paper.TABLE2["ConvNeXt-Base"]]
    ours = [clean, *curve]
    if len(ours) != len(theirs):
        raise ValueError(f"need the clean accuracy and {len(theirs) - 1} noisy ones, but found {len(ours)} values")
    return float(np.mean(np.abs(np.asarray(ours) - np.asarray(theirs))))


def run_setting(name: str, s: dict) -> dict:
    """Train the baseline of one setting and score it on the validation split."""
    t0 = time.perf_counter()
    data = load_splits(DataConfig(n_per_class=s["n_per_class"], image_size=s["image_size"], seed=0,
                                  stft=STFTConfig(top_db=s["top_db"])))
    t_data = time.perf_counter() - t0
    trained = train_or_load(ModelSpec(arch=s["arch"], kind="baseline", **recipe(s["arch"])),
                            TrainConfig(epochs=s["epochs"], batch_size=s["batch_size"], lr=s["lr"], seed=0), data)
    curve = noise_accuracy(trained, data.val.x, data.val.y, [0.0, *PAPER_INTENSITIES], seed=0)
    acc = dict(zip(curve["intensity"], 100 * curve["accuracy"]))
    noisy = [acc[i] for i in PAPER_INTENSITIES]
    return {"setting": name, **s, "train images": len(data.train), "val images": len(data.val),
            "best epoch": trained.best_epoch,
            "train acc (last epoch)": round(100 * trained.history[-1]["train_acc"], 1),
            **{f"val {i:g}": round(a, 1) for i, a in acc.items()},
            "distance to paper (points)": round(distance_to_paper(acc[0.0], noisy), 1),
            "train seconds": round(sum(h["seconds"] for h in trained.history)), "data seconds": round(t_data),
            "val curve": ";".join(f"{h['val_acc']:.4f}" for h in trained.history)}


def load_search(path: str | Path) -> pd.DataFrame:
    """The recorded search (``results/regime_search.csv``), one row per setting.

    Raises:
        FileNotFoundError: no such file (run ``python benchmarks/regime_search.py``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no regime search at {path}; run `python benchmarks/regime_search.py` to record it")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} holds no setting")
    df = pd.DataFrame(rows)
    for knob, value in CENTRE.items():  # a knob added to the search after a row was recorded: the centre's value
        if knob not in df.columns:
            df[knob] = value
    for col in df.columns:
        if col not in ("setting", "arch", "val curve"):
            df[col] = pd.to_numeric(df[col])
    return df.set_index("setting")


def cost(search: pd.DataFrame) -> pd.Series:
    """The training cost of each setting: epochs x training images x pixels per image."""
    return search["epochs"] * search["train images"] * search["image_size"] ** 2


def choose(search: pd.DataFrame) -> str:
    """The setting the declared rule keeps (module docstring): the nearest to the paper's
    baseline; among those within :data:`TIE_POINTS` of it, a ConvNeXt (the paper's family)
    when there is one, then the cheapest (:func:`cost`)."""
    d = search["distance to paper (points)"]
    tied = search[d <= d.min() + TIE_POINTS]
    paper_family = tied[tied["arch"].astype(str).str.startswith("convnext")]
    return str(cost(paper_family if len(paper_family) else tied).idxmin())


def profile_agrees(profile, search: pd.DataFrame, setting: str | None = None) -> dict[str, tuple]:
    """The knobs on which ``profile`` differs from the chosen (or given) setting:
    ``{profile setting: (profile value, search value)}``; empty when the profile holds the
    choice."""
    row = search.loc[setting or choose(search)]
    out = {}
    for knob, attr in KNOBS.items():
        want = row[knob]
        have = getattr(profile, attr)
        same = str(have) == str(want) if knob == "arch" else float(have) == float(want)
        if not same:
            out[attr] = (have, want)
    return out


def search_table(search: pd.DataFrame) -> pd.DataFrame:
    """The search as the chapter shows it: per setting, the knob it changes, the baseline's
    clean and noisy validation accuracy (%), its distance to the paper's column and its
    training time; the paper's ConvNeXt-Base column as the last row."""
    cols = ["val 0", *[f"val {i:g}" for i in PAPER_INTENSITIES]]
    out = search[cols + ["distance to paper (points)", "best epoch", "train acc (last epoch)", "train seconds"]].copy()
    out.columns = ["clean", *[f"{i:g}" for i in PAPER_INTENSITIES], "distance (points)", "best epoch",
                   "train acc", "train s"]
    theirs = [paper.TABLE1["ConvNeXt-Base"]["validation"], *paper.TABLE2["ConvNeXt-Base"]]
    out.loc["paper ConvNeXt-Base"] = theirs + [0.0, np.nan, np.nan, np.nan]
    out.index.name = "setting"
    return out


def choice_sentence(search: pd.DataFrame, profile) -> str:
    """What the rule chose, how close it comes to the paper's baseline, which declared
    settings are not recorded yet, and whether the profile holds it (Markdown)."""
    chosen = choose(search)
    row = search.loc[chosen]
    d = search["distance to paper (points)"]
    tied = [s for s in search.index if d[s] <= d.min() + TIE_POINTS and s != chosen]
    head = (f"The rule keeps **{chosen}**: its baseline stands {row['distance to paper (points)']:.1f} points from "
            f"the paper's ConvNeXt-Base column on average (clean {row['val 0']:.1f}% against the paper's "
            f"{paper.TABLE1['ConvNeXt-Base']['validation']:.1f}%)")
    head += (f", tied within {TIE_POINTS:g} point with {', '.join(tied)} and cheaper to train." if tied else ".")
    missing = [name for name, _ in settings() if name not in search.index]
    if missing:
        head += (f" Declared but not yet recorded: {', '.join(f'`{m}`' for m in missing)} (each with "
                 "`python benchmarks/regime_search.py --only <setting>`); the rule chose among the recorded ones.")
    differs = profile_agrees(profile, search, chosen)
    if not differs:
        tail = f"The profile `{profile.name}` trains every model of the book at this setting."
    else:
        tail = (f"The profile `{profile.name}` departs from it in "
                + ", ".join(f"`{k}` ({a} instead of {b})" for k, (a, b) in differs.items())
                + ", to fit its time budget: its numbers stand elsewhere than the paper's regime.")
    return f"{head} {tail}"


#: A model counts as converged when its validation accuracy rose by less than this over its
#: last :data:`PLATEAU_EPOCHS` epochs, or peaked before its last epoch.
PLATEAU_POINTS = 0.5
PLATEAU_EPOCHS = 3


def converged(history: Sequence[dict]) -> bool:
    """Whether one training run's validation accuracy had stopped improving (see
    :data:`PLATEAU_POINTS`)."""
    acc = [100 * h["val_acc"] for h in history]
    if not acc:
        return False
    best = int(np.argmax(acc))
    if best < len(acc) - 1:
        return True
    window = acc[-(PLATEAU_EPOCHS + 1):]
    return len(window) > PLATEAU_EPOCHS and window[-1] - window[0] < PLATEAU_POINTS


def convergence_sentence(zoo: dict) -> str:
    """How many of the zoo's models had stopped improving on validation by their last epoch."""
    runs = [(name, t) for name, ts in zoo.items() for t in ts]
    done = [converged(t.history) for _, t in runs]
    still = sorted({f"{name} seed {t.train_cfg.seed}" for (name, t), ok in zip(runs, done) if not ok})
    head = (f"{sum(done)} of {len(runs)} models had stopped improving on validation by their last epoch (peaked "
            f"earlier, or gained less than {PLATEAU_POINTS:g} points over the last {PLATEAU_EPOCHS})")
    return head + ("." if not still else f"; still rising: {', '.join(still)}.")

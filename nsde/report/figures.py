"""Every figure of the book: one function per plot, taking the tables and tensors that the
measures and studies return (``pandas.DataFrame`` with accuracy columns, attribution maps,
spectral importance), and returning the matplotlib figure or axes it drew on.

Figures of the data layer (waveforms, sensors, spectrogram galleries) live in
:mod:`nsde.data.plots`, beside the simulator they draw.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from nsde.core.noise import GRID_SHAPES
from nsde.measures.attribution import normalize_attributions
from nsde.measures.iaside import band_map

__all__ = ["plot_curves", "plot_noise_curves", "plot_attack_curves", "plot_history", "plot_confusion",
           "plot_noise_surfaces", "plot_attributions", "plot_stability", "plot_risk_coverage", "plot_bands",
           "plot_importance", "plot_band_power", "plot_srs_vs_accuracy", "plot_data_size", "plot_grid", "plot_regime",
           "plot_convergence"]


def plot_curves(tables: dict, xcol: str, ax, xlabel: str, title: str, logx: bool = False):
    """Accuracy against ``xcol`` with 95% bands, one curve per labelled table."""

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, df in tables.items():
        line, = ax.plot(df[xcol], 100 * df["accuracy"], marker="o", label=label)
        ax.fill_between(df[xcol], 100 * df["low"], 100 * df["high"], color=line.get_color(), alpha=0.2)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_noise_curves(tables: dict[str, pd.DataFrame], *, title: str = "Accuracy under random noise", ax=None):
    """Accuracy versus noise intensity with 95% bands, one curve per labelled table."""
    return plot_curves(tables, "intensity", ax, "noise intensity (std on [0, 1] images)", title)


def plot_attack_curves(tables: dict[str, pd.DataFrame], *, title: str = "Accuracy under APGD-CE (L2)", ax=None):
    """Robust accuracy versus L2 budget (log axis) with 95% bands, one curve per table."""
    return plot_curves(tables, "eps", ax, "L2 budget eps", title, logx=True)


def plot_history(runs: dict[str, list[list[dict]]], *, title: str = "Training curves"):
    """Loss and accuracy per epoch for several models (one line per seed).

    Args:
        runs: ``{label: [history, ...]}`` with histories from :func:`nsde.core.training.train`.
        title: figure title.

    Returns:
        The Matplotlib figure.
    """

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, (label, hists) in enumerate(runs.items()):
        for j, h in enumerate(hists):
            ep = [r["epoch"] for r in h]
            kw = dict(color=colors[c % len(colors)], alpha=1.0 if j == 0 else 0.5)
            axes[0].plot(ep, [r["train_loss"] for r in h], "-", label=f"{label} train" if j == 0 else None, **kw)
            axes[0].plot(ep, [r["val_loss"] for r in h], "--", label=f"{label} val" if j == 0 else None, **kw)
            axes[1].plot(ep, [100 * r["train_acc"] for r in h], "-", label=f"{label} train" if j == 0 else None, **kw)
            axes[1].plot(ep, [100 * r["val_acc"] for r in h], "--", label=f"{label} val" if j == 0 else None, **kw)
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(matrices: dict[str, np.ndarray], class_names: list[str], *, title: str = "Confusion matrices"):
    """Row-normalised confusion matrices side by side.

    Args:
        matrices: ``{label: counts (C, C)}`` from :func:`confusion_matrix`.
        class_names: the ``C`` class names.
        title: figure title.

    Returns:
        The Matplotlib figure.
    """

    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 5.0), squeeze=False)
    for ax, (label, m) in zip(axes[0], matrices.items()):
        m = np.asarray(m, dtype=float)
        rates = m / np.maximum(m.sum(1, keepdims=True), 1)
        im = ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
        ax.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=6)
        ax.set_yticks(range(len(class_names)), class_names, fontsize=6)
        ax.set(xlabel="predicted class", ylabel="true class", title=label)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="fraction of the true class")
    fig.suptitle(title)
    return fig


def plot_noise_surfaces(fields: Mapping[str, torch.Tensor], *, title: str | None = None,
                        zlabel: str = "noise", cmap: str = "viridis"):
    """Surface plots of 2-D noise fields, one panel per field (the paper's Fig. 1).

    Args:
        fields: ``{label: tensor (H, W)}``.
        title: figure title.
        zlabel: label of the vertical axis.
        cmap: Matplotlib colormap.

    Returns:
        The Matplotlib figure.
    """

    if not fields:
        raise ValueError("plot_noise_surfaces needs at least one field")
    n = len(fields)
    fig = plt.figure(figsize=(3.6 * n, 3.6))
    for i, (label, f) in enumerate(fields.items()):
        f = torch.as_tensor(f).detach().float().cpu()
        if f.dim() != 2:
            raise ValueError(f"field {label!r} must be 2-D (H, W), got shape {tuple(f.shape)}")
        h, w = f.shape
        yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        ax.plot_surface(xx, yy, f.numpy(), cmap=cmap, linewidth=0, antialiased=True)
        ax.set_title(label)
        ax.set_xlabel("width")
        ax.set_ylabel("height")
        ax.set_zlabel(zlabel)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_attributions(images: torch.Tensor, maps: Mapping[str, torch.Tensor], *,
                      row_labels: Sequence[str] | None = None, title: str | None = None,
                      quantile: float = 0.99):
    """Fig. 4: input spectrograms and their attribution maps on one shared colour scale.

    Every map is first L1-normalised (:func:`normalize_attributions`) so that methods and
    models of different logit scales are comparable; all panels then share one symmetric
    diverging scale ``[-v, v]`` with ``v`` the ``quantile`` of all absolute values. Images
    of several channels (sensors) show the mean of their channels, and their maps the sum.

    Args:
        images: ``(R, C, H, W)`` inputs (rows).
        maps: column title -> attributions ``(R, C, H, W)``.
        row_labels: one label per row (e.g. the class name).
        title: figure title.
        quantile: quantile of ``|normalised attribution|`` that saturates the colours.

    Returns:
        The Matplotlib figure.
    """

    norm = {k: normalize_attributions(v).sum(1).numpy() for k, v in maps.items()}
    vmax = float(np.quantile(np.abs(np.concatenate([m.ravel() for m in norm.values()])), quantile)) or 1.0
    r, c = len(images), 1 + len(norm)
    fig, axes = plt.subplots(r, c, figsize=(1.9 * c, 1.9 * r + 0.6), squeeze=False)
    im_attr = None
    for i in range(r):
        axes[i, 0].imshow(images[i].mean(0).numpy(), origin="lower", cmap="magma", aspect="auto")
        axes[i, 0].set_ylabel(row_labels[i] if row_labels else f"image {i}", fontsize=8)
        for j, (name, m) in enumerate(norm.items(), start=1):
            im_attr = axes[i, j].imshow(m[i], origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
        for ax in axes[i]:
            ax.set_xticks([]), ax.set_yticks([])
    for j, name in enumerate(["input"] + list(norm), start=0):
        axes[0, j].set_title(name, fontsize=8)
    fig.colorbar(im_attr, ax=axes, shrink=0.6, label="attribution / L1 norm of its map")
    fig.suptitle(title or "Attributions (shared colour scale)")
    return fig


def plot_stability(tables: Mapping[str, pd.DataFrame], *, title: str | None = None):
    """Distributions of the three stability measures, one histogram per model and measure."""

    cols = [("log_change", "log sum |a(x) - a(x+delta)|  (lower: more stable)"),
            ("topk", "top-k intersection  (higher: more stable)"),
            ("spearman", "Spearman rank correlation  (higher: more stable)")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for ax, (col, label) in zip(axes, cols):
        vals = [df[col].dropna().to_numpy() for df in tables.values()]
        allv = np.concatenate(vals) if vals else np.array([0.0])
        bins = np.linspace(allv.min(), allv.max() + 1e-9, 21)
        for name, v in zip(tables, vals):
            ax.hist(v, bins=bins, alpha=0.55, label=name)
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("count (image x perturbation)")
        ax.legend(fontsize=8)
    fig.suptitle(title or "Attribution stability under small input perturbations")
    fig.tight_layout()
    return fig


def plot_risk_coverage(curves: Mapping[str, pd.DataFrame], *, title: str | None = None, ax=None):
    """Risk-coverage curves (from :func:`risk_coverage`), one line per label."""

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, rc in curves.items():
        style = "--" if "ABC" in name.upper() else "-"  # ABC dashed, other signals solid
        ax.step(rc["coverage"], rc["risk"], where="post", label=name, linestyle=style)
    ax.set_xlabel("coverage (fraction of predictions kept)")
    ax.set_ylabel("risk (error rate among kept)")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_title(title or "Risk-coverage curves")
    ax.legend(fontsize=7)
    return ax


def plot_bands(size: int, n_bands: int = 8, ax=None):
    """Show the band map of a ``size x size`` centred spectrum (band 0 at the centre)."""

    ax = ax or plt.subplots(figsize=(4, 3.5))[1]
    im = ax.imshow(band_map(size, size, n_bands).numpy(), cmap="viridis")
    ax.figure.colorbar(im, ax=ax, label="band")
    ax.set_title(f"I-ASIDE bands of a {size}x{size} centred spectrum")
    ax.set_xlabel("horizontal frequency bin")
    ax.set_ylabel("vertical frequency bin")
    return ax


def _grouped_bars(ax, rows: Mapping[str, np.ndarray], errors: Mapping[str, np.ndarray] | None = None):
    names = list(rows)
    m = len(next(iter(rows.values())))
    width = 0.8 / max(len(names), 1)
    for j, name in enumerate(names):
        err = None if errors is None else errors.get(name)
        ax.bar(np.arange(m) + (j - (len(names) - 1) / 2) * width, rows[name], width, yerr=err,
               label=name, capsize=2)
    ax.set_xticks(np.arange(m))
    ax.set_xlabel("band (0 = lowest frequencies)")
    ax.legend(fontsize="small")


def plot_importance(sids: Mapping[str, np.ndarray | Sequence[np.ndarray]], ax=None, title: str | None = None):
    """Grouped bars of spectral importance distributions, one colour per model.

    Args:
        sids: ``{name: sid (M,)}`` or ``{name: [sid, ...]}`` (several seeds: the bar is the
            mean and the error bar the min-max range).
    """

    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    rows, errs = {}, {}
    for name, s in sids.items():
        a = np.atleast_2d(np.asarray(s, dtype=float))
        rows[name] = a.mean(0)
        errs[name] = np.vstack([rows[name] - a.min(0), a.max(0) - rows[name]]) if a.shape[0] > 1 else None
    _grouped_bars(ax, rows, errs)
    ax.set_ylabel("spectral importance (SID)")
    ax.set_title(title or "Spectral importance distribution per model (I-ASIDE)")
    return ax


def plot_band_power(powers: Mapping[str, np.ndarray], ax=None, title: str | None = None, log: bool = True):
    """Grouped bars of band power fractions (noise shapes, image sets)."""

    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    _grouped_bars(ax, {k: np.asarray(v, dtype=float) for k, v in powers.items()})
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("fraction of spectral power")
    ax.set_title(title or "Where the power lies, per band")
    return ax


def plot_srs_vs_accuracy(srs: Sequence[float], accuracy: Sequence[float], labels: Sequence[str],
                         ax=None, title: str | None = None, ylabel: str = "robust accuracy"):
    """Scatter of SRS against a robustness measure, one labelled point per model."""

    ax = ax or plt.subplots(figsize=(5, 4))[1]
    ax.scatter(srs, accuracy)
    for s, a, lab in zip(srs, accuracy, labels):
        ax.annotate(lab, (s, a), fontsize="small", xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("spectral robustness score (SRS)")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "SRS against measured robustness")
    return ax


def plot_data_size(table: pd.DataFrame, *, title: str = "Accuracy against training-set size"):
    """Accuracy (95% intervals) of baseline and NSDE against the number of training images,
    one panel per input-noise intensity, from :func:`data_size_table`.

    Returns:
        The Matplotlib figure.
    """

    levels = sorted(table["intensity"].unique())
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.6), squeeze=False, sharey=True)
    for ax, level in zip(axes[0], levels):
        t = table[table["intensity"] == level].sort_values("train images")
        for name, label, color in (("baseline", "baseline", "C0"), ("nsde", "NSDE (noise on)", "C3")):
            ax.plot(t["train images"], 100 * t[name], "o-", color=color, label=label)
            ax.fill_between(t["train images"], 100 * t[f"{name} low"], 100 * t[f"{name} high"],
                            color=color, alpha=0.2)
        ax.set_xscale("log")
        ax.set_xticks(t["train images"].tolist(), [str(n) for n in t["train images"]])
        ax.minorticks_off()
        ax.set_xlabel("training images")
        ax.set_title("clean test images" if level == 0 else f"white noise, std {level:g}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_grid(diffs: pd.DataFrame, measures: Sequence[str] | None = None, *, title: str | None = None,
              higher_is_better: Mapping[str, bool] | None = None):
    """One heat map per measure: rows noise shapes, columns sigmas, colour the difference
    from the baseline (in the measure's good direction, so blue is better); cells whose
    paired interval excludes zero are marked with a dot. Grid cells not run are grey.

    Args:
        diffs: :func:`nsde.studies.noise_shapes.grid_differences`.
        measures: the measures to draw (default: all, in order).
        title: the figure title.
        higher_is_better: per measure, whether a higher value is better (default: all).
    """
    higher_is_better = higher_is_better or {}

    measures = list(measures or dict.fromkeys(diffs["measure"]))
    shapes = list(dict.fromkeys(s for s in GRID_SHAPES if s in set(diffs["shape"])))
    sigmas = sorted(set(diffs["sigma"]))
    cols = 4
    rows = math.ceil(len(measures) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 0.45 * len(shapes) * rows + 1.2 * rows), squeeze=False)
    for ax, m in zip(axes.flat, measures):
        d = diffs[diffs["measure"] == m]
        sign = 1.0 if higher_is_better.get(m, True) else -1.0
        grid = np.full((len(shapes), len(sigmas)), np.nan)
        for r in d.itertuples():
            grid[shapes.index(r.shape), sigmas.index(r.sigma)] = sign * r.difference
        lim = np.nanmax(np.abs(grid)) or 1.0
        ax.set_facecolor("0.85")
        im = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
        for r in d.itertuples():
            if r.outcome in ("higher", "lower"):
                ax.plot(sigmas.index(r.sigma), shapes.index(r.shape), "k.", ms=5)
        ax.set_xticks(range(len(sigmas)), [f"{s:g}" for s in sigmas], fontsize=7)
        ax.set_yticks(range(len(shapes)), shapes, fontsize=7)
        ax.set_xlabel("sigma", fontsize=7)
        ax.set_title(m, fontsize=8)
        fig.colorbar(im, ax=ax, shrink=0.8).ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(measures):]:
        ax.axis("off")
    fig.suptitle(title or "Difference from the baseline (blue: better; dot: paired 95% interval excludes 0)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def plot_regime(table: pd.DataFrame, chosen: str, *, title: str | None = None, ax=None):
    """The baseline's validation accuracy against noise intensity for each setting of the
    regime search, the chosen one bold, the paper's ConvNeXt-Base column dashed.

    Args:
        table: :func:`nsde.studies.regime.search_table` (columns ``clean`` and the
            intensities; the paper's row last).
        chosen: the chosen setting's name.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    levels = [c for c in table.columns if c.replace(".", "", 1).isdigit()]
    x = [0.0, *[float(c) for c in levels]]
    for name, row in table.iterrows():
        y = [row["clean"], *[row[c] for c in levels]]
        if name == "paper ConvNeXt-Base":
            ax.plot(x, y, "k--", lw=1.5, marker="s", label="paper ConvNeXt-Base (32 images, inferred)")
        else:
            ax.plot(x, y, marker="o", lw=2.5 if name == chosen else 1, alpha=1 if name == chosen else 0.55,
                    label=f"{name} (chosen)" if name == chosen else name)
    ax.set_xlabel("white-noise std on [0, 1] spectrograms (0: clean)")
    ax.set_ylabel("baseline validation accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or "Regime search: the baseline against the paper's baseline")
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_convergence(conv: pd.DataFrame, *, marked: Mapping[str, float] | None = None, title: str | None = None):
    """Robust accuracy against an attack's iterations and its EOT draws (one panel each), 95%
    intervals, the profile's own setting marked (``marked``: ``{knob: value}``)."""
    knobs = list(dict.fromkeys(conv["knob"]))
    fig, axes = plt.subplots(1, len(knobs), figsize=(4.2 * len(knobs), 3.6), sharey=True, squeeze=False)
    for ax, knob in zip(axes[0], knobs):
        d = conv[conv["knob"] == knob]
        ax.errorbar(d["value"], 100 * d["accuracy"], yerr=[100 * (d["accuracy"] - d["low"]),
                                                           100 * (d["high"] - d["accuracy"])], marker="o", capsize=3)
        if marked and knob in marked:
            ax.axvline(marked[knob], color="grey", ls="--", lw=1, label="the profile's")
            ax.legend(fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(knob)
        ax.set_ylabel("robust accuracy (%)")
    fig.suptitle(title or "Convergence of the strongest attack")
    fig.tight_layout()
    return fig

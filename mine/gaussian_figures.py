"""Figures of the Gaussian loss-comparison chapter (the paper's Figures 1-3 and the MI
against rho sweep of the MINE paper's Figure 1). Each function returns a matplotlib figure;
diverged members are absent from the curves (NaN), never plotted."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from mine.bounds import LOSSES
from mine.data import CorrelatedGaussian
from mine.plots import TRUTH_STYLE, palette, seed_band


def _seed_matrix(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps (T,), values (S, T)) of one member group, one row per seed."""
    wide = frame.pivot(index="seed", columns="step", values=column)
    return wide.columns.to_numpy(), wide.to_numpy()


def samples_figure(dims, rho: float, n: int, seed: int):
    """Paper Fig. 1: samples of each Gaussian, the pair (X_1, Z_1) and a 3-D projection
    (X_1, X_2, Z_1). One row per dim."""
    fig = plt.figure(figsize=(8, 3.3 * len(dims)))
    for row, dim in enumerate(dims):
        x, z = CorrelatedGaussian(int(dim), float(rho)).sample(n, torch.Generator().manual_seed(seed))
        x, z = x.numpy(), z.numpy()
        ax = fig.add_subplot(len(dims), 2, 2 * row + 1)
        ax.scatter(x[:, 0], z[:, 0], s=3, alpha=0.4)
        ax.set(xlabel="$x_1$", ylabel="$z_1$", title=f"{dim}-D: pair $(x_1, z_1)$", aspect="equal")
        ax3 = fig.add_subplot(len(dims), 2, 2 * row + 2, projection="3d")
        ax3.scatter(x[:, 0], x[:, 1], z[:, 0], s=2, alpha=0.3, c=z[:, 0], cmap="viridis")
        ax3.set(xlabel="$x_1$", ylabel="$x_2$", zlabel="$z_1$", title=f"{dim}-D: projection $(x_1, x_2, z_1)$")
    fig.tight_layout()
    return fig


def original_loss_figure(frame: pd.DataFrame, loss: str = "dv"):
    """Paper Fig. 2: the estimate of one loss over training, per dim, median and 10-90%
    band over seeds, for its own reported value and the held-out DV; truth dashed."""
    dims = sorted(frame["dim"].unique())
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.2), squeeze=False)
    colors = palette(["own", "heldout"])
    for ax, dim in zip(axes[0], dims):
        sub = frame[(frame["dim"] == dim) & (frame["loss"] == loss)]
        for column, label in (("own", "reported by the loss"), ("heldout", "held-out DV")):
            steps, values = _seed_matrix(sub, column)
            seed_band(ax, steps, values, label=label, color=colors[column])
        ax.axhline(sub["truth"].iloc[0], **TRUTH_STYLE)
        ax.set(xlabel="training step", ylabel="MI estimate (nats)", title=f"{dim}-D Gaussian, {loss} loss")
    axes[0, 0].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def deviation_figure(frame: pd.DataFrame, losses=None, column: str = "own", ylim: float = 1.6):
    """Paper Fig. 3: deviation (estimate - truth) over training for every loss, one
    panel per loss with one median line and seed band per dim. Deviations beyond +-ylim
    are cut off at the axis (the panel title then gives the last median)."""
    losses = [name for name in LOSSES if name in set(frame["loss"])] if losses is None else losses
    dims = sorted(frame["dim"].unique())
    ncols = 5
    nrows = int(np.ceil(len(losses) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.9 * ncols, 2.5 * nrows), sharex=True, sharey=True, squeeze=False)
    colors = palette([f"{d}-D" for d in dims])
    for ax, loss in zip(axes.flat, losses):
        notes = []
        for dim in dims:
            sub = frame[(frame["dim"] == dim) & (frame["loss"] == loss)]
            steps, values = _seed_matrix(sub.assign(dev=sub[column] - sub["truth"]), "dev")
            seed_band(ax, steps, values, label=f"{dim}-D", color=colors[f"{dim}-D"])
            last = np.nanmedian(values[:, -1]) if np.isfinite(values[:, -1]).any() else np.nan
            if not abs(last) <= ylim:
                notes.append(f"{dim}-D ends at {last:+.3g}")
        ax.axhline(0.0, **{**TRUTH_STYLE, "label": None})
        ax.set_title(loss + ("\n" + ", ".join(notes) if notes else ""), fontsize="small")
        ax.set_ylim(-ylim, ylim)
    for ax in axes.flat[len(losses):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    for ax in axes[:, 0]:
        ax.set_ylabel("estimate - truth (nats)")
    axes.flat[0].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def sweep_figure(finals: pd.DataFrame, ksg_frame: pd.DataFrame, column: str = "own"):
    """MI against rho (the MINE paper's Fig. 1): each loss's estimate (median over seeds,
    bars: min to max), KSG and the truth."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    losses = [name for name in LOSSES if name in set(finals["loss"])]
    colors = palette(losses + ["ksg"])
    for loss in losses:
        g = finals[finals["loss"] == loss].groupby("rho")[column]
        med, low, high = g.median(), g.min(), g.max()
        ax.errorbar(med.index, med, yerr=[med - low, high - med], marker="o", ms=4, capsize=2, label=loss, color=colors[loss])
    ax.plot(ksg_frame["rho"], ksg_frame["ksg"], marker="s", ms=4, linestyle=":", label="KSG", color=colors["ksg"])
    rho = np.linspace(-0.99, 0.99, 199)
    dim = int(finals["dim"].iloc[0])
    ax.plot(rho, -0.5 * dim * np.log1p(-rho**2), **TRUTH_STYLE)
    ax.set(xlabel=r"correlation $\rho$", ylabel="MI (nats)", title=f"{dim}-D Gaussian: MI against $\\rho$")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig

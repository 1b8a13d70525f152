"""Figures of the GAN chapters: the real data (paper Figs. 4 and 6), generated samples per epoch
and beta (Figs. 5, 7 and 8), the MI estimate over epochs (Fig. 9) and the coverage metrics
over epochs with seed bands. A diverged member is named in the figure, never plotted."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from mine.gan import GANHistory
from mine.plots import palette, seed_band

LIMIT = 7.0  # axis half-width: both shapes reach 5 plus noise


def _square(ax, title=None):
    ax.set_xlim(-LIMIT, LIMIT)
    ax.set_ylim(-LIMIT, LIMIT)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)


def real_data(train, test, title: str):
    """Scatter of the training and test points, shape (n, 2) each."""
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.scatter(train[:, 0], train[:, 1], s=2, alpha=0.4, label=f"train ({len(train)})")
    ax.scatter(test[:, 0], test[:, 1], s=2, alpha=0.4, label=f"test ({len(test)})")
    _square(ax, title)
    ax.legend(loc="upper right", markerscale=4, fontsize="small")
    return fig


def sample_grid(history: GANHistory, seed: int, epochs, reference=None):
    """Rows: betas; columns: the given epochs; the first evaluation samples of member (beta, seed)
    (fixed noise and codes), over the real test points in grey."""
    betas, epochs = history.config.betas, list(epochs)
    fig, axes = plt.subplots(len(betas), len(epochs), figsize=(1.6 * len(epochs), 1.6 * len(betas)), squeeze=False)
    for row, beta in enumerate(betas):
        k = history.member(beta, seed)
        for col, epoch in enumerate(epochs):
            ax = axes[row, col]
            if reference is not None:
                ax.scatter(reference[:, 0], reference[:, 1], s=1, color="0.85", rasterized=True)
            points = history.samples[k, epoch - 1]
            if np.isfinite(points).all():
                ax.scatter(points[:, 0], points[:, 1], s=1.5, color="C0", rasterized=True)
            else:
                ax.text(0, 0, "diverged", ha="center", va="center")
            _square(ax, f"epoch {epoch}" if row == 0 else None)
            if col == 0:
                ax.set_ylabel(f"beta = {beta:g}")
    fig.tight_layout(pad=0.3)
    return fig


def _bands(ax, history: GANHistory, name: str, colors):
    for beta in history.config.betas:
        rows = [history.member(beta, s) for s in history.config.seeds]
        seed_band(ax, history.epochs, history.metrics[name][rows], label=f"{beta:g}", color=colors[beta])


def metric_curves(history: GANHistory, thresholds: dict[str, float]):
    """Quality, coverage, sliced Wasserstein and energy distance over epochs: median and 10-90%
    band over seeds per beta; dashed: the convergence thresholds and the real-vs-real floors."""
    colors = palette(history.config.betas)
    limits = {**thresholds, **{f"{k}": v for k, v in history.floor.items()}}
    titles = {"quality": "quality (within 3 sigma)", "coverage": "coverage (bins)",
              "swd": "sliced Wasserstein to test", "energy": "energy distance to test"}
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    for ax, (name, title) in zip(axes, titles.items()):
        _bands(ax, history, name, colors)
        ax.axhline(limits[name], color="black", linestyle="--", linewidth=1)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if name in history.floor:
            ax.set_yscale("log")
    axes[0].legend(title="beta", fontsize="small")
    fig.tight_layout()
    return fig


def mi_curves(history: GANHistory):
    """The MINE estimate of I(G([eps, c]); c) over epochs per beta: held-out DV value (left) and
    the training loss's own estimate averaged over the epoch (right); median and band over seeds."""
    colors = palette(history.config.betas)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, (name, title) in zip(axes, [("mi_heldout", "held-out DV estimate"), ("mi_train", "training estimate (MINE loss)")]):
        _bands(ax, history, name, colors)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("I(G([eps, c]); c) [nats]")
    axes[0].legend(title="beta", fontsize="small")
    fig.tight_layout()
    return fig

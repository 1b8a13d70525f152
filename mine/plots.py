"""One seaborn theme for every figure of the report, and small figure helpers."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")  # figures are saved or glued, never shown in a window

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

TRUTH_STYLE = dict(color="black", linestyle="--", linewidth=1.2, label="truth")


def set_theme() -> None:
    """The report's look: seaborn whitegrid, colour-blind palette, compact fonts."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "axes.titlesize": "medium"})


def palette(names) -> dict:
    """A stable colour per name (loss, beta, ...), in the order given."""
    names = list(names)
    return dict(zip(names, sns.color_palette("colorblind", len(names))))


def seed_band(ax, x, values, *, label=None, color=None, quantiles=(0.1, 0.9)):
    """Median line and a shaded quantile band over seeds.

    Args:
        x: shape (T,).
        values: shape (S, T), one row per seed; NaN entries (e.g. diverged steps) are ignored.
    """
    values = np.asarray(values, dtype=float)
    x = np.asarray(x)
    with warnings.catch_warnings():  # an all-NaN column (every seed diverged) stays NaN, unplotted
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(values, axis=0)
        low, high = np.nanquantile(values, quantiles, axis=0)
    (line,) = ax.plot(x, median, label=label, color=color)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
    return line

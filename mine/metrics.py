"""Quantitative mode-coverage metrics for the 2-D GAN experiments (paper Sections IV and V).

The paper judged "stable and complete mode coverage" by eye; these functions measure it.
A `shape` is one of `mine.data.SHAPES` (it knows the distance of a point to the noiseless
shape and a partition of the shape into bins). Samples are tensors of shape (n, 2).

- `quality`: fraction of samples within `tolerance` (3 noise sigma) of the true shape;
- `coverage`: fraction of bins that receive at least half of their real share of on-shape samples;
- `sliced_wasserstein` (as POT computes it, batched over members) and `energy_distance` between samples and the held-out test set;
- `distance_floor`: the 95th percentile of each distance between fresh real samples and the
  test set (a generator is "as close as real data" when at or below it);
- `epochs_to_converge`: the first epoch from which all criteria hold at every later epoch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import ot
import torch
from torch import Tensor


def quality(samples: Tensor, shape, tolerance: float = 0.3) -> Tensor:
    """Fraction of the samples (..., n, 2) within `tolerance` of the noiseless shape. Shape (...,)."""
    return (shape.distance(samples) <= tolerance).float().mean(-1)


def bin_shares(samples: Tensor, shape, tolerance: float | None = None) -> Tensor:
    """Share of the n samples (..., n, 2) that falls into each bin, shape (..., n_bins).

    With `tolerance`, only samples within it of the shape count (the shares then sum to the
    quality rather than to 1): a bin is covered by good samples, not by points far off the shape.
    """
    weight = torch.ones(samples.shape[:-1]) if tolerance is None else (shape.distance(samples) <= tolerance).float()
    counts = torch.zeros(*samples.shape[:-2], shape.n_bins).scatter_add_(-1, shape.bin_index(samples), weight)
    return counts / samples.shape[-2]


def coverage(samples: Tensor, reference: Tensor, shape, tolerance: float = 0.3, min_share: float = 0.5) -> Tensor:
    """Fraction of the shape's bins whose share of on-shape samples (..., n, 2) is at least
    `min_share` times the bin's share under the real `reference` data (m, 2). Shape (...,)."""
    real = bin_shares(reference, shape)
    return (bin_shares(samples, shape, tolerance) >= min_share * real).float().mean(-1)


def projections(n_projections: int = 50, dim: int = 2, seed: int = 0) -> Tensor:
    """Fixed random unit directions (dim, n_projections), drawn as POT draws them."""
    return torch.from_numpy(ot.sliced.get_random_projections(dim, n_projections, seed=seed)).float()


def _quantile_grid(n: int, m: int) -> tuple[Tensor, Tensor, Tensor]:
    """Pieces on which both empirical quantile functions (n and m equal-weight atoms) are
    constant: the union of the levels i/n and j/m; returns the atom index of each on either
    side and the length of each piece."""
    grid = lambda k: torch.arange(1, k + 1, dtype=torch.float64) / k
    levels = torch.unique(torch.cat([grid(n), grid(m)]))
    widths = torch.diff(levels, prepend=levels.new_zeros(1))
    index = lambda k: (torch.ceil(levels * k - 1e-9) - 1).long().clamp(0, k - 1)
    return index(n), index(m), widths.float()


def sliced_wasserstein(samples: Tensor, reference: Tensor, directions: Tensor | None = None) -> Tensor:
    """Sliced 2-Wasserstein distance between empirical distributions, batched over members.

    sqrt(mean over directions of W_2^2 of the projected samples), the quantity that POT's
    `ot.sliced_wasserstein_distance(x, y, projections=directions)` returns (the tests check
    against it); the 1-D W_2 is computed exactly from sorted projections.

    Args:
        samples: (..., n, d); reference: (m, d) or (..., m, d); CPU tensors.
        directions: (d, P); default `projections()` (50 directions, POT's default number).
    Returns:
        shape (...,).
    """
    directions = projections(dim=samples.shape[-1]) if directions is None else directions
    # (..., P, n) sorted projections; numpy's sort is several times faster than torch's on the CPU here
    project = lambda points: torch.from_numpy(np.sort((directions.T @ points.float().transpose(-1, -2)).numpy(), axis=-1))
    x, y = project(samples), project(reference)
    if x.shape[-1] == y.shape[-1]:  # equal sizes: the i-th smallest meets the i-th smallest
        squared = (x - y).square().mean(-1)
    else:
        ix, iy, widths = _quantile_grid(x.shape[-1], y.shape[-1])
        squared = ((x[..., ix] - y[..., iy]).square() * widths).sum(-1)
    return squared.mean(-1).sqrt()


def energy_distance(samples: Tensor, reference: Tensor) -> Tensor:
    """Energy distance sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|) between the empirical
    distributions (V-statistics, as `scipy.stats.energy_distance` in one dimension).

    Args:
        samples: (..., n, d), looped over leading dimensions to bound memory; reference: (m, d).
    Returns:
        shape (...,).
    """
    y = reference.float()
    within_reference = torch.cdist(y, y).mean()
    flat = samples.float().reshape(-1, *samples.shape[-2:])
    squared = torch.stack([2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - within_reference for x in flat])
    return squared.clamp(min=0.0).sqrt().reshape(samples.shape[:-2])


DISTANCES = {"swd": sliced_wasserstein, "energy": energy_distance}
"""The sample distances reported per epoch, by name: fn(samples (..., n, d), reference (m, d)) -> (...,)."""


def distance_floor(
    shape, reference: Tensor, n: int, *, resamples: int = 20, quantile: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Real-vs-real floor of each distance in `DISTANCES`: the `quantile` over `resamples` fresh
    real samples of size n (the generated sample size) drawn from `shape` against `reference`."""
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples!r}")
    generator = torch.Generator().manual_seed(seed)
    draws = torch.stack([shape.sample(n, generator) for _ in range(resamples)])
    return {name: float(torch.quantile(fn(draws, reference).double(), quantile)) for name, fn in DISTANCES.items()}


class Criteria(NamedTuple):
    """Convergence thresholds: quality >= min_quality, coverage >= min_coverage and every
    distance at or below its floor times `floor_factor`."""

    min_quality: float = 0.9
    min_coverage: float = 0.95
    floor_factor: float = 1.0


def converged(quality: np.ndarray, coverage: np.ndarray, swd: np.ndarray, swd_floor: float, criteria: Criteria) -> np.ndarray:
    """Element-wise: do all criteria hold? Arrays of any equal shape; NaN (diverged) is False."""
    with np.errstate(invalid="ignore"):
        return (
            (np.asarray(quality) >= criteria.min_quality)
            & (np.asarray(coverage) >= criteria.min_coverage)
            & (np.asarray(swd) <= swd_floor * criteria.floor_factor)
        )


def first_stable_epoch(ok: np.ndarray) -> np.ndarray:
    """For boolean rows ok (..., E) over epochs 1..E: the first epoch e such that ok holds at
    e and every later epoch; NaN where none ("never"). Returns float array of shape (...,)."""
    ok = np.asarray(ok, dtype=bool)
    holds_from = np.flip(np.logical_and.accumulate(np.flip(ok, -1), axis=-1), -1)  # ok at t.. E
    first = np.argmax(holds_from, axis=-1) + 1.0
    return np.where(holds_from.any(-1), first, np.nan)


def epochs_to_converge(quality, coverage, swd, swd_floor: float, criteria: Criteria = Criteria()) -> np.ndarray:
    """Epochs to converge per run, (..., E) arrays over epochs 1..E -> (...,); NaN = never."""
    return first_stable_epoch(converged(quality, coverage, swd, swd_floor, criteria))


def stabilization_epoch(values: np.ndarray, tolerance: float, tail: int = 5) -> np.ndarray:
    """First epoch from which a series (..., E) stays within `tolerance` of its final level
    (the mean of its last `tail` epochs) for good; NaN where the series has NaN."""
    values = np.asarray(values, dtype=float)
    final = values[..., -tail:].mean(-1, keepdims=True)
    result = first_stable_epoch(np.abs(values - final) <= tolerance)
    return np.where(np.isnan(values).any(-1), np.nan, result)

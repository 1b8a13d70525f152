"""MINE's theory checked numerically with the exact critic: no training, only sampling.

For `CorrelatedGaussian` the optimal critic T* = log p(x, z) / (p(x) p(z)) is known in
closed form (`CorrelatedGaussian.optimal_critic`), so the statistics of the estimators can be
separated from the optimisation of a network. With P the joint, Q = P_X (x) P_Z, I the MI:

    E_P[T*] = I,   Var_P[T*] = dim * rho^2,   E_Q[e^T*] = 1,
    Var_Q[e^T*] = chi^2(P || Q) = e^(2 I) - 1.

Hence NWJ(T* + 1) (the reproduced paper's eq. 3) on a minibatch of n has variance
(dim rho^2 + e^(2I) - 1) / n exactly, and the delta method gives DV(T*) (eq. 5) the same
leading variance and a Jensen bias of +(e^(2I) - 1) / (2 n): -log of an unbiased mean is
biased UP, so the minibatch DV value of a fixed critic over-estimates (`predicted_*` below).

Minibatches follow MINE's recipe: n joint pairs (x_i, z_i) and, as the sample of Q, the same
batch with z shifted by one, (x_i, z_(i+1)) (layout "pairs"); InfoNCE scores all n x n pairs,
t[..., i, j] = T*(x_i, z_j) (layout "matrix"). Scores are computed in float64 so that T* stays
exact when rho is near 1. Repeats are a leading dimension, processed in memory-bounded chunks;
all randomness comes from the `torch.Generator` argument.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.special import lambertw
from torch import Tensor

from .bounds import LOSSES, LossParams, dv_value, get_loss
from .data import CorrelatedGaussian

CHUNK_ELEMENTS = 2**22
"""Upper bound on the float64 elements of one chunk's score tensor (32 MiB)."""

SOFTPLUS_GAP = 1.0 + float(lambertw(math.exp(-1.0)).real)
"""The paper's softplus loss stays at least this far (1.2785 nats) below I for EVERY critic.

For u = E_Q[e^T] the DV bound gives E_P[T] <= I + log u, so the value E_P[T] - softplus(u)
is at most I - (softplus(u) - log u). That gap is smallest where sigmoid(u) = 1/u, i.e.
u = 1 + e^(-u) = 1 + W(1/e) (W: Lambert), and there it equals u itself; T = T* + log u attains it.
"""

TIGHT_SHIFT: dict[str, float] = {"nwj": 1.0, "softplus": math.log(SOFTPLUS_GAP)}
"""Constant added to T* where a loss is best at another critic: NWJ at T* + 1 (Nguyen et al.),
the paper's softplus at T* + log(1 + W(1/e)) (`SOFTPLUS_GAP`)."""


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_ints(name: str, values, low: int) -> None:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list of integers >= {low}, got {values!r}")
    for value in values:
        _check_int(f"every entry of {name}", value, low)


def _check_source(source) -> None:
    if not isinstance(source, CorrelatedGaussian):
        raise ValueError(f"source must be a mine.data.CorrelatedGaussian, got {type(source).__name__}")


def _chunks(repeats: int, elements_per_repeat: int) -> list[int]:
    """Split `repeats` into chunk sizes whose score tensors stay under CHUNK_ELEMENTS."""
    size = max(1, CHUNK_ELEMENTS // max(1, elements_per_repeat))
    return [min(size, repeats - start) for start in range(0, repeats, size)]


def draw(source: CorrelatedGaussian, repeats: int, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """`repeats` independent minibatches of n joint samples, float64. Shapes (repeats, n, dim)."""
    x, z = source.sample(repeats * n, generator, dtype=torch.float64)
    return x.view(repeats, n, source.dim), z.view(repeats, n, source.dim)


def pair_scores(source: CorrelatedGaussian, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
    """T* on the joint pairs (x_i, z_i) and on MINE's shuffled pairs (x_i, z_(i+1)).

    Args: x, z of shape (..., n, dim). Returns t_joint, t_marg of shape (..., n).
    """
    return source.optimal_critic(x, z), source.optimal_critic(x, z.roll(-1, dims=-2))


def matrix_scores(source: CorrelatedGaussian, x: Tensor, z: Tensor) -> Tensor:
    """T*(x_i, z_j) for every pair. Args: x, z of shape (..., n, dim). Returns (..., n, n)."""
    return source.optimal_critic(x.unsqueeze(-2), z.unsqueeze(-3))


def _matrix_layout(source: CorrelatedGaussian, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
    t = matrix_scores(source, x, z)
    return t.diagonal(dim1=-2, dim2=-1), t


LAYOUTS: dict[str, Callable[[CorrelatedGaussian, Tensor, Tensor], tuple[Tensor, Tensor]]] = {
    "pairs": pair_scores,
    "matrix": _matrix_layout,
}
"""(t_joint, t_marg) of a minibatch in each layout of `mine.bounds.LossSpec.layout`."""


def chi_square(source: CorrelatedGaussian) -> float:
    """chi^2(P || Q) = Var_Q[e^T*] = e^(2 I) - 1 (per component 1 / (1 - rho^2) - 1)."""
    return math.expm1(2.0 * source.true_mi())


def predicted_sd(source: CorrelatedGaussian, n) -> np.ndarray:
    """Standard deviation of NWJ(T* + 1) on a minibatch of n (exact), and to first order of DV(T*)."""
    return np.sqrt((source.dim * source.rho**2 + chi_square(source)) / np.asarray(n, dtype=float))


def predicted_dv_bias(source: CorrelatedGaussian, n) -> np.ndarray:
    """Second-order delta method: E[DV_n(T*)] - I = +(e^(2I) - 1) / (2 n) + O(n^-2) (Jensen:
    E[log mean e^T*] <= log E[e^T*] = 0). A large-n approximation: the heavy tail of e^T*
    under Q makes it inaccurate at small n."""
    return chi_square(source) / (2.0 * np.asarray(n, dtype=float))


def exact_estimates(
    source: CorrelatedGaussian, sample_sizes: Sequence[int], repeats: int, generator: torch.Generator
) -> dict[str, Tensor]:
    """DV(T*) and NWJ(T* + 1) on `repeats` independent minibatches of each size.

    Returns:
        {"dv": ..., "nwj": ...}, each of shape (repeats, len(sample_sizes)), float64.
    """
    _check_source(source)
    _check_ints("sample_sizes", sample_sizes, 3)
    _check_int("repeats", repeats, 2)
    nwj, shift = get_loss("nwj").fn, TIGHT_SHIFT["nwj"]
    columns = {"dv": [], "nwj": []}
    for n in sample_sizes:
        parts = {"dv": [], "nwj": []}
        for chunk in _chunks(repeats, n * source.dim):
            t_joint, t_marg = pair_scores(source, *draw(source, chunk, n, generator))
            parts["dv"].append(dv_value(t_joint, t_marg))
            parts["nwj"].append(nwj(t_joint + shift, t_marg + shift, {}, LossParams()).estimate)
        for key in columns:
            columns[key].append(torch.cat(parts[key]))
    return {key: torch.stack(value, dim=1) for key, value in columns.items()}


def estimates_over_mi(
    dim: int, mi_grid: Sequence[float], batch_size: int, repeats: int, generator: torch.Generator
) -> dict[str, Tensor]:
    """DV(T*), NWJ(T* + 1) and InfoNCE(T*) on minibatches of `batch_size`, for Gaussians of
    dimension `dim` whose true MI runs over `mi_grid` (nats).

    Returns:
        {"dv", "nwj", "infonce"}, each of shape (repeats, len(mi_grid)), float64.
    """
    _check_int("dim", dim, 1)
    _check_int("batch_size", batch_size, 3)
    _check_int("repeats", repeats, 2)
    if isinstance(mi_grid, (str, bytes)) or not isinstance(mi_grid, Sequence) or len(mi_grid) == 0:
        raise ValueError(f"mi_grid must be a non-empty list of positive numbers, got {mi_grid!r}")
    if not all(isinstance(mi, (int, float)) and 0 < mi < math.inf for mi in mi_grid):
        raise ValueError(f"every entry of mi_grid must be a finite number > 0 (nats), got {mi_grid!r}")
    infonce = get_loss("infonce").fn
    columns = {"dv": [], "nwj": [], "infonce": []}
    for mi in mi_grid:
        source = CorrelatedGaussian.from_mi(dim, float(mi))
        pairs = exact_estimates(source, [batch_size], repeats, generator)
        columns["dv"].append(pairs["dv"][:, 0])
        columns["nwj"].append(pairs["nwj"][:, 0])
        parts = []
        for chunk in _chunks(repeats, batch_size * batch_size * dim):
            t_joint, t_marg = _matrix_layout(source, *draw(source, chunk, batch_size, generator))
            parts.append(infonce(t_joint, t_marg, {}, LossParams()).estimate)
        columns["infonce"].append(torch.cat(parts))
    return {key: torch.stack(value, dim=1) for key, value in columns.items()}


def summarize(estimates: Tensor, truth, grid: Sequence, grid_name: str) -> pd.DataFrame:
    """Spread over repeats of estimates (repeats, G) against the truth (scalar or (G,)).

    Returns one row per grid point: mean, sd, standard error of the mean, median, 10% and
    90% quantiles, bias = mean - truth, and the number of non-finite repeats (left out).
    """
    values = estimates.detach().double().cpu().numpy()
    finite = np.isfinite(values)
    masked = np.where(finite, values, np.nan)
    count = finite.sum(0)
    mean = np.nanmean(masked, 0)
    sd = np.nanstd(masked, 0, ddof=1)
    low, median, high = np.nanquantile(masked, [0.1, 0.5, 0.9], axis=0)
    truth = np.broadcast_to(np.asarray(truth, dtype=float), mean.shape)
    return pd.DataFrame(
        {
            grid_name: list(grid),
            "truth": truth,
            "mean": mean,
            "sd": sd,
            "se": sd / np.sqrt(count),
            "median": median,
            "q10": low,
            "q90": high,
            "bias": mean - truth,
            "non_finite": len(values) - count,
        }
    )


def _stream(
    fn: Callable, batch: Callable[[], tuple[Tensor, Tensor]], final: tuple[Tensor, Tensor], steps: int, hp: LossParams
):
    """Evaluate a loss on `final`; a loss that carries state (MINE's moving average) first
    runs over `steps - 1` fresh minibatches so that its state has settled."""
    state = fn(*batch(), {}, hp).state
    if state:
        for _ in range(steps - 2):
            state = fn(*batch(), state, hp).state
    return fn(*final, state, hp)


def loss_table(
    source: CorrelatedGaussian,
    batch_size: int,
    repeats: int,
    generator: torch.Generator,
    hp: LossParams = LossParams(),
    stream_steps: int = 500,
) -> pd.DataFrame:
    """Every loss of `mine.bounds.LOSSES`, exactly as written, evaluated on the exact critic.

    Each repeat is one minibatch of `batch_size` joint samples shared by all losses: layout
    "pairs" sees (x_i, z_i) and (x_i, z_(i+1)), layout "matrix" all pairs. The critic is T*,
    or T* + TIGHT_SHIFT[name]. The noise-augmented loss draws its noise from `generator`.

    Returns one row per loss: role (`LossSpec.role`), critic, mean and sd over repeats of the value the
    loss reports, the truth, gap = mean - truth, and minus_dv = mean of (value - DV(T*)) on
    the same minibatch (e.g. log-sum-exp: max(t) - log m; softplus: log E - softplus(E)).
    (DV is unchanged by a constant shift of the critic, so minus_dv compares like with like.)
    """
    _check_source(source)
    _check_int("batch_size", batch_size, 3)
    _check_int("repeats", repeats, 2)
    _check_int("stream_steps", stream_steps, 2)
    if not isinstance(hp, LossParams):
        raise ValueError(f"hp must be a mine.bounds.LossParams, got {type(hp).__name__}")
    hp = dataclasses.replace(hp, generator=generator)
    values: dict[str, list[Tensor]] = {name: [] for name in LOSSES}
    minus_dv: dict[str, list[Tensor]] = {name: [] for name in LOSSES}
    for chunk in _chunks(repeats, batch_size * batch_size * source.dim):
        x, z = draw(source, chunk, batch_size, generator)
        dv_common = dv_value(*pair_scores(source, x, z))
        for name, spec in LOSSES.items():
            shift = TIGHT_SHIFT.get(name, 0.0)
            scores = LAYOUTS[spec.layout]

            def fresh(scores=scores, shift=shift, chunk=chunk):
                return tuple(t + shift for t in scores(source, *draw(source, chunk, batch_size, generator)))

            common = tuple(t + shift for t in scores(source, x, z))
            value = _stream(spec.fn, fresh, common, stream_steps, hp).estimate.detach()
            values[name].append(value)
            minus_dv[name].append(value - dv_common)
    truth = source.true_mi()
    rows = []
    for name, spec in LOSSES.items():
        value = torch.cat(values[name])
        shift = TIGHT_SHIFT.get(name, 0.0)
        rows.append(
            {
                "loss": name,
                "source": "paper" if spec.paper else "standard",
                "role": spec.role,
                "critic": f"T* + {shift:.3g}" if shift else "T*",
                "mean": value.mean().item(),
                "sd": value.std().item(),
                "truth": truth,
                "gap": value.mean().item() - truth,
                "minus_dv": torch.cat(minus_dv[name]).mean().item(),
            }
        )
    return pd.DataFrame(rows)

"""Classical mutual-information estimators and closed forms, the yardsticks beside MINE.

- `ksg`: Kraskov, Stoegbauer & Grassberger (2004), "Estimating mutual information",
  algorithm 1 (their eq. 8), with the max-norm and scipy's KD-tree:
      I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >,
  where eps_i is the max-norm distance from point i to its k-th neighbour in the joint
  space and n_x(i), n_y(i) count the other points strictly closer than eps_i in each
  marginal space.
- `gaussian_mi`: the closed form I = (log det S_x + log det S_y - log det S) / 2 of a
  jointly Gaussian (X, Y) with covariance S, and `gaussian_fit_mi`, that formula applied
  to the sample covariance (exact for Gaussians, a linear-dependence measure otherwise).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or Inf")
    return a


def _check_pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same number of samples, got {len(x)} and {len(y)}")
    return x, y


def ksg(x, y, k: int = 3) -> float:
    """KSG estimate (algorithm 1) of I(X; Y) in nats.

    Args:
        x: (n, dx) or (n,); y: (n, dy) or (n,), paired samples.
        k: neighbours (Kraskov et al. recommend 2-4; small k: less bias, more variance).
    """
    x, y = _check_pair(x, y)
    n = len(x)
    if not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ValueError(f"k must be an integer in [1, n - 1] = [1, {n - 1}], got {k!r}")
    joint = np.hstack([x, y])
    # k + 1 neighbours: the nearest is the point itself.
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf)[0][:, -1]
    radius = np.nextafter(eps, 0)  # strictly closer than eps
    n_x = cKDTree(x).query_ball_point(x, radius, p=np.inf, return_length=True) - 1
    n_y = cKDTree(y).query_ball_point(y, radius, p=np.inf, return_length=True) - 1
    return float(digamma(k) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1)))


def gaussian_mi(cov, dim_x: int) -> float:
    """Closed-form I(X; Y) of a Gaussian with joint covariance `cov` ((dx+dy, dx+dy)),
    X the first `dim_x` coordinates."""
    cov = np.asarray(cov, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or not 0 < dim_x < cov.shape[0]:
        raise ValueError(f"cov must be square with 0 < dim_x < its size, got {cov.shape} and dim_x={dim_x}")
    logdet = lambda s: np.linalg.slogdet(s)[1]  # noqa: E731
    return float(0.5 * (logdet(cov[:dim_x, :dim_x]) + logdet(cov[dim_x:, dim_x:]) - logdet(cov)))


def gaussian_fit_mi(x, y) -> float:
    """`gaussian_mi` of the sample covariance of (x, y): x (n, dx), y (n, dy)."""
    x, y = _check_pair(x, y)
    return gaussian_mi(np.cov(np.hstack([x, y]), rowvar=False), x.shape[1])

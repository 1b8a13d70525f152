"""KSG and the Gaussian closed forms against independent answers."""

import numpy as np
import pytest
import torch
from scipy.special import digamma

from mine.baselines import gaussian_fit_mi, gaussian_mi, ksg
from mine.data import CorrelatedGaussian


def _sample(dim, rho, n, seed=0):
    x, z = CorrelatedGaussian(dim, rho).sample(n, torch.Generator().manual_seed(seed))
    return x.numpy(), z.numpy()


def _ksg_brute_force(x, y, k):
    """Kraskov et al. algorithm 1 by explicit pairwise max-norm distances."""
    dx = np.abs(x[:, None, :] - x[None, :, :]).max(-1)
    dy = np.abs(y[:, None, :] - y[None, :, :]).max(-1)
    dz = np.maximum(dx, dy)
    np.fill_diagonal(dz, np.inf)
    eps = np.sort(dz, axis=1)[:, k - 1]
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(dy, np.inf)
    n_x = (dx < eps[:, None]).sum(1)
    n_y = (dy < eps[:, None]).sum(1)
    return digamma(k) + digamma(len(x)) - np.mean(digamma(n_x + 1) + digamma(n_y + 1))


@pytest.mark.parametrize("k", [1, 3])
def test_ksg_matches_brute_force(k):
    x, y = _sample(2, 0.6, 300)
    assert ksg(x, y, k=k) == pytest.approx(_ksg_brute_force(x, y, k), abs=1e-10)


@pytest.mark.parametrize("dim, rho, tol", [(1, 0.6, 0.04), (2, -0.8, 0.06), (1, 0.0, 0.03)])
def test_ksg_against_closed_form(dim, rho, tol):
    x, y = _sample(dim, rho, 4000)
    assert ksg(x, y) == pytest.approx(CorrelatedGaussian(dim, rho).true_mi(), abs=tol)


def test_gaussian_closed_form_matches_sampler():
    dim, rho = 3, 0.7
    cov = np.block([[np.eye(dim), rho * np.eye(dim)], [rho * np.eye(dim), np.eye(dim)]])
    assert gaussian_mi(cov, dim) == pytest.approx(CorrelatedGaussian(dim, rho).true_mi(), rel=1e-12)
    x, y = _sample(dim, rho, 20000)
    assert gaussian_fit_mi(x, y) == pytest.approx(CorrelatedGaussian(dim, rho).true_mi(), abs=0.03)


def test_bad_input_is_rejected():
    x, y = _sample(1, 0.5, 50)
    with pytest.raises(ValueError, match="same number"):
        ksg(x, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        ksg(np.where(np.arange(50)[:, None] == 3, np.nan, x), y)
    with pytest.raises(ValueError, match="k must"):
        ksg(x, y, k=0)

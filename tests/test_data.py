"""`CorrelatedGaussian` against independent truths: its covariance, the Gaussian entropy formula
and scipy's multivariate normal densities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from mine.data import CorrelatedGaussian


def joint_covariance(dim: int, rho: float) -> np.ndarray:
    """Covariance of (X, Z) in R^(2 dim): [[I, rho I], [rho I, I]]."""
    eye = np.eye(dim)
    return np.block([[eye, rho * eye], [rho * eye, eye]])


def test_sample_shapes_and_dtypes():
    source = CorrelatedGaussian(4, 0.3)
    x, z = source.sample(10, torch.Generator().manual_seed(0))
    assert x.shape == z.shape == (10, 4) and x.dtype == z.dtype == torch.float32
    x, z = source.sample(7, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert x.shape == (7, 4) and z.dtype == torch.float64


def test_sample_is_deterministic_given_a_generator():
    source = CorrelatedGaussian(2, 0.6)
    first = source.sample(50, torch.Generator().manual_seed(3))
    second = source.sample(50, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("rho", [-0.7, 0.0, 0.9])
def test_empirical_covariance_matches_the_model(rho):
    n, dim = 200_000, 3
    x, z = CorrelatedGaussian(dim, rho).sample(n, torch.Generator().manual_seed(1), dtype=torch.float64)
    empirical = np.cov(torch.cat([x, z], dim=1).numpy(), rowvar=False)
    # sd of a sample covariance entry is at most sqrt(2 / n) for unit variances
    np.testing.assert_allclose(empirical, joint_covariance(dim, rho), atol=5 * np.sqrt(2 / n))


@pytest.mark.parametrize("dim, rho", [(1, 0.5), (3, -0.8), (4, 0.95), (10, 0.2)])
def test_true_mi_equals_the_gaussian_entropy_formula(dim, rho):
    cov = joint_covariance(dim, rho)
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    expected = 0.5 * (logdet(cov[:dim, :dim]) + logdet(cov[dim:, dim:]) - logdet(cov))
    assert CorrelatedGaussian(dim, rho).true_mi() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("dim, rho", [(1, 0.5), (3, -0.8), (2, 0.99)])
def test_optimal_critic_is_the_log_density_ratio(dim, rho):
    source = CorrelatedGaussian(dim, rho)
    g = torch.Generator().manual_seed(2)
    x, z = source.sample(20, g, dtype=torch.float64)
    z = torch.cat([z[:10], z[10:].roll(1, 0)])  # joint pairs and product pairs alike
    joint = multivariate_normal(np.zeros(2 * dim), joint_covariance(dim, rho))
    marginal = multivariate_normal(np.zeros(dim), np.eye(dim))
    xn, zn = x.numpy(), z.numpy()
    expected = joint.logpdf(np.hstack([xn, zn])) - marginal.logpdf(xn) - marginal.logpdf(zn)
    np.testing.assert_allclose(source.optimal_critic(x, z).numpy(), expected, rtol=1e-9, atol=1e-9)


def test_optimal_critic_broadcasts_over_leading_dimensions():
    source = CorrelatedGaussian(3, 0.4)
    x, z = torch.randn(5, 1, 3), torch.randn(1, 6, 3)
    assert source.optimal_critic(x, z).shape == (5, 6)


@pytest.mark.parametrize("dim, mi", [(1, 0.1), (3, 1.5), (4, 10.0)])
def test_from_mi_round_trip(dim, mi):
    source = CorrelatedGaussian.from_mi(dim, mi)
    assert source.rho > 0 and source.true_mi() == pytest.approx(mi, rel=1e-10)


@pytest.mark.parametrize("dim, rho, match", [(0, 0.5, "dim"), (1.5, 0.5, "dim"), (2, 1.0, "rho"), (2, -1.0, "rho"), (2, 3.0, "rho")])
def test_bad_arguments_get_one_clear_error(dim, rho, match):
    with pytest.raises(ValueError, match=match):
        CorrelatedGaussian(dim, rho)

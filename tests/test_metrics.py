"""Mode-coverage metrics on known distributions, and the convergence logic on hand-made sequences."""

import math

import numpy as np
import ot
import pytest
import scipy.stats
import torch

from mine import metrics
from mine.data import SHAPES, Circle, Cross, train_test_split


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module", params=sorted(SHAPES))
def shape_and_test(request):
    shape = SHAPES[request.param]()
    return shape, shape.sample(2000, _gen(1))


def test_shapes_distance_is_exact_on_noiseless_points():
    assert torch.allclose(Circle(noise=1e-9).sample(100, _gen()).norm(dim=-1), torch.full((100,), 5.0), atol=1e-5)
    points = torch.tensor([[0.0, 3.0], [2.0, 0.1], [7.0, 0.0], [3.0, 4.0], [-6.0, 8.0]])
    assert torch.allclose(Cross().distance(points), torch.tensor([0.0, 0.1, 2.0, 3.0, math.hypot(6.0, 3.0)]))


def test_cross_bins_are_arms_times_segments():
    points = torch.tensor([[0.5, 0.0], [4.9, 0.1], [0.0, 2.5], [-1.5, 0.0], [0.0, -4.5]])
    assert Cross().bin_index(points).tolist() == [0, 4, 7, 11, 19]


def test_train_test_split_partitions_the_rows():
    data = torch.arange(100.0).view(50, 2)
    train, test = train_test_split(data, 0.2, _gen())
    assert (len(train), len(test)) == (40, 10)
    assert sorted(torch.cat([train, test])[:, 0].tolist()) == data[:, 0].tolist()
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(data, 1.0)


def test_real_against_real_is_good(shape_and_test):
    shape, test = shape_and_test
    real = shape.sample(2000, _gen(2))
    floor = metrics.distance_floor(shape, test, 2000, resamples=10, seed=3)
    assert metrics.quality(real, shape) > 0.99
    assert metrics.coverage(real, test, shape) == 1.0
    batch = torch.stack([real, real.flip(-1)])  # batched over members; the flip is another real sample
    assert metrics.quality(batch, shape).tolist() == [metrics.quality(real, shape).item()] * 2
    assert metrics.coverage(batch, test, shape).tolist() == [1.0, 1.0]
    assert metrics.sliced_wasserstein(real, test) <= floor["swd"]
    assert metrics.energy_distance(real, test) <= floor["energy"]


def test_half_circle_covers_half_the_bins():
    shape = Circle()
    test = shape.sample(2000, _gen(1))
    real = shape.sample(4000, _gen(2))
    half = real[real[:, 1] > 0][:2000]
    assert metrics.quality(half, shape) > 0.99
    assert metrics.coverage(half, test, shape) == pytest.approx(0.5, abs=1 / 36)
    floor = metrics.distance_floor(shape, test, 2000, resamples=10)
    assert metrics.sliced_wasserstein(half, test) > 3 * floor["swd"]


def test_blurred_circle_loses_quality():
    shape = Circle()
    sharp = shape.sample(2000, _gen(2))
    blurred = Circle(noise=1.0).sample(2000, _gen(2))
    assert metrics.quality(blurred, shape) < 0.3 < 0.99 < metrics.quality(sharp, shape)


def test_collapsed_cross_misses_arms():
    shape = Cross()
    test = shape.sample(2000, _gen(1))
    real = shape.sample(8000, _gen(2))
    one_arm = real[(real[:, 0] > 0.5) & (real[:, 1].abs() < 0.5)][:2000]
    assert metrics.coverage(one_arm, test, shape) == pytest.approx(5 / 20)


def test_energy_distance_matches_scipy_in_one_dimension():
    x, y = torch.randn(2, 300, 1, generator=_gen(4)), 0.5 + torch.randn(200, 1, generator=_gen(5))
    expected = [scipy.stats.energy_distance(xk[:, 0].numpy(), y[:, 0].numpy()) for xk in x]
    assert metrics.energy_distance(x, y).tolist() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("n, m", [(300, 300), (300, 200), (7, 3)])
def test_sliced_wasserstein_matches_pot(n, m):
    x, y = torch.randn(3, n, 2, generator=_gen(6)), 1.0 + 2.0 * torch.randn(m, 2, generator=_gen(7))
    directions = metrics.projections(50, seed=1)
    expected = [ot.sliced_wasserstein_distance(xk.double().numpy(), y.double().numpy(), projections=directions.double().numpy()) for xk in x]
    assert metrics.sliced_wasserstein(x, y, directions).tolist() == pytest.approx(expected, rel=1e-4)


def test_sliced_wasserstein_of_a_shift():
    # Shifting by d moves every projection by theta.d: SW_2^2 = E_theta[(theta.d)^2] = |d|^2 / 2 in 2-D.
    x = torch.randn(2000, 2, generator=_gen(6))
    shift = torch.tensor([3.0, -4.0])
    swd = metrics.sliced_wasserstein(x + shift, x, metrics.projections(4000))
    assert swd.item() == pytest.approx(5.0 / math.sqrt(2.0), rel=0.03)


@pytest.mark.parametrize(
    "ok, expected",
    [
        ([1, 1, 1, 1], 1),
        ([0, 1, 0, 1, 1], 4),
        ([1, 1, 1, 0], np.nan),
        ([0, 0, 0, 0], np.nan),
        ([0, 0, 0, 1], 4),
    ],
)
def test_first_stable_epoch(ok, expected):
    assert np.array_equal(metrics.first_stable_epoch(np.array(ok, bool)), expected, equal_nan=True)


def test_epochs_to_converge_needs_every_criterion_for_good():
    quality = np.array([[0.5, 0.95, 0.95, 0.95, 0.95], [0.95] * 5])
    coverage = np.array([[1.0, 0.9, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 0.5]])
    swd = np.array([[0.1, 0.1, 0.3, 0.1, np.nan], [0.1] * 5])
    result = metrics.epochs_to_converge(quality, coverage, swd, swd_floor=0.2)
    assert np.array_equal(result, [np.nan, np.nan], equal_nan=True)  # NaN = diverged; last epoch bad
    swd[0, -1] = 0.1
    coverage[1, -1] = 1.0
    assert metrics.epochs_to_converge(quality, coverage, swd, swd_floor=0.2).tolist() == [4.0, 1.0]


def test_stabilization_epoch():
    series = np.array([[0.0, 2.0, 1.0, 1.05, 0.98, 1.0, 1.0, 1.0, 1.0, 1.0], [0.0] * 9 + [np.nan]])
    result = metrics.stabilization_epoch(series, tolerance=0.1)
    assert result[0] == 3 and np.isnan(result[1])

"""Tensor shapes through the GAN chapters' code: samplers, metrics batched over members, and the
statistics network's two score layouts."""

import pytest
import torch

from mine import metrics
from mine.critics import EnsembleMLP
from mine.data import SHAPES
from mine.gan import CODES, LAYOUTS


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_sampler_and_truth_shapes(name):
    shape = SHAPES[name]()
    x = shape.sample(50, torch.Generator().manual_seed(0))
    assert x.shape == (50, 2) and x.dtype == torch.float32
    batch = torch.stack([x, x, x]).view(3, 50, 2)
    assert shape.distance(batch).shape == (3, 50)
    bins = shape.bin_index(batch)
    assert bins.shape == (3, 50) and bins.dtype == torch.int64
    assert 0 <= bins.min() and bins.max() < shape.n_bins


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_metrics_batch_over_members(name):
    shape = SHAPES[name]()
    reference = shape.sample(60, torch.Generator().manual_seed(1))
    samples = torch.randn(4, 2, 30, 2)
    assert metrics.quality(samples, shape).shape == (4, 2)
    assert metrics.bin_shares(samples, shape).shape == (4, 2, shape.n_bins)
    assert metrics.coverage(samples, reference, shape).shape == (4, 2)
    for fn in metrics.DISTANCES.values():
        assert fn(samples, reference).shape == (4, 2)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_score_layouts(layout):
    k, n, c = 3, 5, 4
    net = EnsembleMLP([0, 1, 2], 2 + c, (8,))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(k, n, 2)
    code = torch.stack([CODES["categorical"].sample(n, c, g) for _ in range(k)])
    t_joint, t_marg = LAYOUTS[layout](net, x, code, code.roll(1, dims=1))
    assert t_joint.shape == (k, n)
    assert t_marg.shape == ((k, n) if layout == "pairs" else (k, n, n))
    if layout == "matrix":  # the diagonal of all pairs is the joint
        assert torch.allclose(t_marg.diagonal(dim1=1, dim2=2), t_joint)
        assert torch.allclose(t_joint, net(torch.cat([x, code], -1)).squeeze(-1), atol=1e-6)

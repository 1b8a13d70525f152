"""The batched ensemble against ordinary per-member torch modules."""

import math

import pytest
import torch
from torch import nn

from mine.critics import EnsembleMLP, clip_member_grads_, member_grad_norms, resolve_device


def _member_as_sequential(model: EnsembleMLP, k: int) -> nn.Sequential:
    """Member k of the ensemble copied into a plain nn.Sequential MLP."""
    layers = []
    for i, layer in enumerate(model.layers):
        linear = nn.Linear(layer.weight.shape[1], layer.weight.shape[2])
        with torch.no_grad():
            linear.weight.copy_(layer.weight[k].T)
            linear.bias.copy_(layer.bias[k, 0])
        layers.append(linear)
        if i < len(model.layers) - 1:
            layers.append(nn.LeakyReLU(model.negative_slope))
    return nn.Sequential(*layers)


def test_members_equal_plain_mlps_and_do_not_depend_on_neighbours():
    model = EnsembleMLP([3, 7, 11], in_features=5, hidden=(16, 8))
    alone = EnsembleMLP([7], in_features=5, hidden=(16, 8))
    x = torch.randn(3, 10, 5, generator=torch.Generator().manual_seed(0))
    out = model(x)
    assert out.shape == (3, 10, 1)
    for k in range(3):
        torch.testing.assert_close(out[k], _member_as_sequential(model, k)(x[k]))
    torch.testing.assert_close(out[1], alone(x[1:2])[0])
    torch.testing.assert_close(model(x[1:], members=slice(1, 3)), out[1:])


def test_member_init_matches_torch_linear_bounds():
    model = EnsembleMLP(list(range(4)), in_features=6, hidden=(128,))
    w = model.layers[0].weight
    assert w.abs().max() <= 1 / math.sqrt(6)
    assert not torch.equal(w[0], w[1])


def test_grad_norms_and_clipping_equal_per_member_torch():
    model = EnsembleMLP([0, 1, 2], in_features=4, hidden=(8,))
    x = torch.randn(3, 6, 4, generator=torch.Generator().manual_seed(1))
    model(x).square().sum().backward()
    plain = [_member_as_sequential(model, k) for k in range(3)]
    for k, net in enumerate(plain):
        net(x[k]).square().sum().backward()
    params = list(model.parameters())
    expected = torch.stack([torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5) for net in plain])
    torch.testing.assert_close(member_grad_norms(params), expected)
    clip_member_grads_(params, torch.tensor([0.5, 0.5, math.inf]))
    torch.testing.assert_close(model.layers[0].weight.grad[0], plain[0][0].weight.grad.T)
    norms_after = member_grad_norms(params)
    assert norms_after[0] == pytest.approx(0.5, rel=1e-4)
    assert norms_after[2] == pytest.approx(expected[2].item(), rel=1e-6)


def test_clipping_zeroes_dead_and_non_finite_members():
    model = EnsembleMLP([0, 1, 2], in_features=2, hidden=(4,))
    model(torch.randn(3, 5, 2)).sum().backward()
    model.layers[0].weight.grad[1, 0, 0] = float("nan")
    alive = torch.tensor([True, True, False])
    clip_member_grads_(list(model.parameters()), torch.full((3,), math.inf), alive=alive)
    norms = member_grad_norms(list(model.parameters()))
    assert norms[0] > 0 and norms[1] == 0 and norms[2] == 0


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda"}

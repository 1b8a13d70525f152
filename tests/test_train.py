"""Batched ensemble training: a member in the ensemble equals the member alone, equals a
plain torch MLP trained with torch.optim.Adam; divergence is isolated; settings validated."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from mine.critics import EnsembleMLP
from mine.data import CorrelatedGaussian
from mine.train import SCHEDULES, Member, TrainConfig, derived_seed, torch_threads, train_ensemble

SMALL = dict(steps=12, batch_size=32, contrast_batch=8, hidden=(16, 16), eval_every=4, eval_size=64, decay="cosine", threads=1)


class Overflowing:
    """A source whose samples make any critic's scores overflow to Inf."""

    def sample(self, n, generator=None):
        x, z = CorrelatedGaussian(2, 0.5).sample(n, generator)
        return x * 1e36, z * 1e36


def _model_params(history, member_index):
    """Member's weights as one vector."""
    j = int(np.flatnonzero(history.order == member_index)[0])
    return torch.cat([p[j].detach().flatten() for p in history.model.parameters()])


def assert_same_weights(a, b, config, bulk_tol=1e-5):
    """Equal to float tolerance, allowing Adam's amplification of rounding noise.

    Adam divides by sqrt(v), so an element whose gradient is zero in exact arithmetic
    (e.g. the output bias under a DV-type loss, which is invariant to T + c) moves by up
    to lr per step on rounding noise alone. 99% of the elements must agree to `bulk_tol`,
    and none may differ by more than lr per step.
    """
    diff = (a - b).abs()
    assert torch.quantile(diff, 0.99) < bulk_tol
    assert diff.max() < config.steps * config.lr


def test_member_in_ensemble_equals_member_alone():
    gauss, other = CorrelatedGaussian(2, 0.7), CorrelatedGaussian(2, -0.3)
    members = [
        Member("infonce", 4, gauss),
        Member("dv", 1, gauss),
        Member("ema", 2, other),
        Member("clipped", 3, gauss),
        Member("smile", 5, other),
        Member("dv", 6, other),
    ]
    config = TrainConfig(**SMALL)
    together = train_ensemble(members, config)
    for i, member in enumerate(members):
        alone = train_ensemble([member], config)
        # EMA's first step has an exactly zero output-bias gradient (its moving average
        # starts at the batch mean), so the bias noise of `assert_same_weights` enters its
        # moving average and from there every weight: a looser bound for EMA alone.
        tol = 1e-3 if member.loss == "ema" else 1e-5
        np.testing.assert_allclose(together.own[i], alone.own[0], atol=tol)
        np.testing.assert_allclose(together.heldout[i], alone.heldout[0], rtol=1e-4, atol=1e-5)
        assert_same_weights(_model_params(together, i), _model_params(alone, 0), config, tol)


def test_single_member_equals_plain_torch_training():
    """Second implementation: nn.Sequential + torch.optim.Adam + LambdaLR on the same data."""
    source = CorrelatedGaussian(2, 0.6)
    config = TrainConfig(**{**SMALL, "steps": 20})
    history = train_ensemble([Member("dv", 9, source)], config)

    # A fresh ensemble of one member has the initial weights (seeded by the member's seed).
    init = EnsembleMLP([9], 4, config.hidden)
    layers = []
    for i, layer in enumerate(init.layers):
        linear = nn.Linear(layer.weight.shape[1], layer.weight.shape[2])
        with torch.no_grad():
            linear.weight.copy_(layer.weight[0].T)
            linear.bias.copy_(layer.bias[0, 0])
        layers += [linear] + ([nn.LeakyReLU(config.negative_slope)] if i < len(init.layers) - 1 else [])
    net = nn.Sequential(*layers)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: config.lr_at(s) / config.lr)
    gen = torch.Generator().manual_seed(derived_seed(9, 1))
    with torch_threads(1):
        for _ in range(config.steps):
            x, z = source.sample(config.batch_size, gen)
            perm = torch.randperm(config.batch_size, generator=gen)
            t_joint = net(torch.cat([x, z], 1)).squeeze(1)
            t_marg = net(torch.cat([x, z[perm]], 1)).squeeze(1)
            loss = -(t_joint.mean() - (torch.logsumexp(t_marg, 0) - math.log(len(t_marg))))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    plain = torch.cat([t.detach().flatten() for m in net if isinstance(m, nn.Linear) for t in (m.weight.T, m.bias)])
    assert_same_weights(_model_params(history, 0), plain, config)


def test_overflowing_member_is_marked_and_others_go_on():
    healthy = Member("dv", 1, CorrelatedGaussian(2, 0.5))
    members = [Member("dv", 0, Overflowing()), healthy, Member("ema", 2, Overflowing())]
    config = TrainConfig(**SMALL)
    history = train_ensemble(members, config)
    assert history.diverged.tolist() == [True, False, True]
    assert history.diverged_at[0] == 1
    assert np.isnan(history.own[0]).all() and np.isnan(history.heldout[0]).all()
    alone = train_ensemble([healthy], config)
    np.testing.assert_allclose(history.own[1], alone.own[0], rtol=1e-4, atol=1e-5)
    assert np.isfinite(history.heldout[1]).all()
    assert torch.isfinite(_model_params(history, 0)).all()  # frozen: no NaN reached its weights


def test_clipped_equals_dv_when_the_clip_never_binds():
    source = CorrelatedGaussian(2, 0.5)
    members = [Member("dv", 3, source), Member("clipped", 3, source)]
    loose = train_ensemble(members, TrainConfig(**SMALL, clip_norm=1e9))
    np.testing.assert_allclose(loose.own[0], loose.own[1], rtol=1e-6)
    tight = train_ensemble(members, TrainConfig(**SMALL, clip_norm=1e-3))
    assert not np.allclose(tight.heldout[0], tight.heldout[1])


def test_training_reaches_the_truth():
    source = CorrelatedGaussian(1, 0.8)
    config = TrainConfig(steps=300, batch_size=128, hidden=(32, 32), eval_every=100, eval_size=4096, eval_shuffles=4, threads=1)
    history = train_ensemble([Member("dv", 0, source), Member("nwj", 0, source), Member("smile", 0, source)], config)
    assert history.heldout[:, -1] == pytest.approx([source.true_mi()] * 3, abs=0.08)


def test_schedules_start_at_lr_and_end_at_lr_final():
    for name in SCHEDULES:
        config = TrainConfig(steps=10, decay=name, lr_final=0.1)
        assert config.lr_at(0) == pytest.approx(config.lr)
        assert config.lr_at(9) == pytest.approx(config.lr * (1.0 if name == "constant" else 0.1))


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(steps=0), "steps"), (dict(decay="linear"), "decay"), (dict(alpha=0.0), "alpha"), (dict(lr=-1.0), "lr")],
)
def test_bad_config_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_bad_members_are_rejected():
    with pytest.raises(ValueError, match="loss must be one of"):
        train_ensemble([Member("mine-f", 0, CorrelatedGaussian(2, 0.5))], TrainConfig(**SMALL))
    with pytest.raises(ValueError, match="share"):
        train_ensemble([Member("dv", 0, CorrelatedGaussian(2, 0.5)), Member("dv", 0, CorrelatedGaussian(3, 0.5))])

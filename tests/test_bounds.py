"""The losses of `mine.bounds` against independent truths: the closed-form MI of a correlated
Gaussian at its exact critic, algebraic identities, and hand-written second forms."""

from __future__ import annotations

import math

import pytest
import torch

from mine.bounds import LOSSES, LossParams, dv_value, get_loss, log_mean_exp
from mine.data import CorrelatedGaussian

SOURCE = CorrelatedGaussian(2, 0.5)
TRUTH = SOURCE.true_mi()
CHI2 = math.expm1(2.0 * TRUTH)  # Var_Q[e^T*] of the Gaussian
SD_ONE = math.sqrt(SOURCE.dim * SOURCE.rho**2 + CHI2)  # sd of DV/NWJ at T* on one pair

# Value at the exact critic (T* + 1 for NWJ) minus the truth, where a loss is not tight at T*:
# the paper's softplus replaces log(E_Q[e^T*]) = log 1 by softplus(1).
OFFSET = {"softplus": -math.log1p(math.e)}
SHIFT = {"nwj": 1.0}


def exact_batches(repeats: int, n: int, seed: int, layout: str):
    """t_joint (repeats, n) and t_marg in `layout` at T*, in float64."""
    g = torch.Generator().manual_seed(seed)
    x, z = SOURCE.sample(repeats * n, g, dtype=torch.float64)
    x, z = x.view(repeats, n, -1), z.view(repeats, n, -1)
    t_joint = SOURCE.optimal_critic(x, z)
    if layout == "matrix":
        return t_joint, SOURCE.optimal_critic(x.unsqueeze(-2), z.unsqueeze(-3))
    return t_joint, SOURCE.optimal_critic(x, z.roll(1, dims=-2))


@pytest.mark.parametrize("name", [n for n in LOSSES if n != "logsumexp"])
def test_every_loss_at_the_exact_critic_matches_the_closed_form(name):
    spec = LOSSES[name]
    repeats, n = (20, 256) if spec.layout == "matrix" else (40, 5000)
    t_joint, t_marg = exact_batches(repeats, n, seed=1, layout=spec.layout)
    shift = SHIFT.get(name, 0.0)
    hp = LossParams(generator=torch.Generator().manual_seed(2))
    out = spec.fn(t_joint + shift, t_marg + shift, {}, hp)
    assert out.loss.shape == out.estimate.shape == (repeats,)
    # CLT: 5 standard errors of the mean over repeats, plus the O(1/n) minibatch bias
    tolerance = 5 * SD_ONE / math.sqrt(repeats * n) + 2 * CHI2 / n
    assert out.estimate.mean().item() == pytest.approx(TRUTH + OFFSET.get(name, 0.0), abs=tolerance)


def test_logsumexp_equals_dv_plus_max_minus_log_m():
    t_joint, t_marg = torch.randn(5, 64, dtype=torch.float64), 3 * torch.randn(5, 64, dtype=torch.float64)
    out = get_loss("logsumexp").fn(t_joint, t_marg, {}, LossParams())
    expected = dv_value(t_joint, t_marg) + t_marg.max(-1).values - math.log(64)
    torch.testing.assert_close(out.estimate, expected)


def test_infonce_never_exceeds_log_batch():
    g = torch.Generator().manual_seed(0)
    for scale in (0.1, 1.0, 10.0, 100.0):
        t = scale * torch.randn(50, 16, 16, generator=g, dtype=torch.float64)
        t.diagonal(dim1=-2, dim2=-1).add_(scale)  # favour the joint pairs, as a good critic does
        value = get_loss("infonce").fn(t.diagonal(dim1=-2, dim2=-1), t, {}, LossParams()).estimate
        assert (value <= math.log(16) + 1e-12).all()


def test_dv_and_nwj_at_the_exact_critic_converge_at_the_clt_rate():
    mse = {}
    for n in (256, 16384):
        t_joint, t_marg = exact_batches(100, n, seed=3, layout="pairs")
        dv = dv_value(t_joint, t_marg)
        nwj = get_loss("nwj").fn(t_joint + 1, t_marg + 1, {}, LossParams()).estimate
        mse[n] = {"dv": (dv - TRUTH).square().mean().item(), "nwj": (nwj - TRUTH).square().mean().item()}
    for name in ("dv", "nwj"):
        assert mse[16384][name] < mse[256][name] / 16  # 64x more data: about 64x smaller
        assert mse[16384][name] == pytest.approx(SD_ONE**2 / 16384, rel=0.5)


def test_softplus_value_never_exceeds_dv():
    g = torch.Generator().manual_seed(0)
    for scale in (0.01, 1.0, 5.0, 30.0):
        t_joint, t_marg = (scale * torch.randn(20, 128, generator=g, dtype=torch.float64) for _ in range(2))
        softplus = get_loss("softplus").fn(t_joint, t_marg, {}, LossParams()).estimate
        assert (softplus < dv_value(t_joint, t_marg)).all()


def test_ema_is_pure_and_updates_its_state():
    t_joint, t_marg = torch.randn(3, 32), torch.randn(3, 32)
    state = {"log_ma": torch.zeros(3)}
    before = {k: v.clone() for k, v in state.items()}
    hp = LossParams(alpha=0.25)
    out = get_loss("ema").fn(t_joint, t_marg, state, hp)
    assert set(state) == {"log_ma"} and torch.equal(state["log_ma"], before["log_ma"])  # input untouched
    expected = torch.log(0.75 * 1.0 + 0.25 * t_marg.exp().mean(-1))  # eq. 7 with EMA_prev = e^0
    torch.testing.assert_close(out.state["log_ma"], expected)
    torch.testing.assert_close(out.estimate, t_joint.mean(-1) - expected)
    assert out.state is not state


def test_ema_without_state_and_with_alpha_one_reports_dv():
    t_joint, t_marg = torch.randn(4, 64, dtype=torch.float64), torch.randn(4, 64, dtype=torch.float64)
    fresh = get_loss("ema").fn(t_joint, t_marg, {}, LossParams())
    torch.testing.assert_close(fresh.estimate, dv_value(t_joint, t_marg))
    stale = {"log_ma": torch.full((4,), 7.0, dtype=torch.float64)}
    newest_only = get_loss("ema").fn(t_joint, t_marg, stale, LossParams(alpha=1.0))
    torch.testing.assert_close(newest_only.estimate, dv_value(t_joint, t_marg))


def test_ema_gradient_is_mines_bias_corrected_gradient():
    """MINE (Belghazi et al. 2018, eq. 12): grad = mean_P grad T - mean_Q(e^T grad T) / ma, with
    ma the updated moving average held constant. Critic T = features @ theta, so grad T = features."""
    g = torch.Generator().manual_seed(0)
    f_joint, f_marg = torch.randn(64, 5, generator=g, dtype=torch.float64), torch.randn(64, 5, generator=g, dtype=torch.float64)
    theta = torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)
    ma_prev, alpha = 1.7, 0.1
    out = get_loss("ema").fn(f_joint @ theta, f_marg @ theta, {"log_ma": torch.tensor(math.log(ma_prev), dtype=torch.float64)},
                             LossParams(alpha=alpha))
    (autograd,) = torch.autograd.grad(out.loss, theta)

    with torch.no_grad():
        e_marg = torch.exp(f_marg @ theta)
        ma = (1 - alpha) * ma_prev + alpha * e_marg.mean()
        by_hand = -(f_joint.mean(0) - (e_marg[:, None] * f_marg).mean(0) / ma)
    torch.testing.assert_close(autograd, by_hand)

    # the same through a second, plain-space surrogate differentiated by autograd
    surrogate = -((f_joint @ theta).mean() - torch.exp(f_marg @ theta).mean() / ma)
    (second,) = torch.autograd.grad(surrogate, theta)
    torch.testing.assert_close(autograd, second)


def test_noise_augmented_is_deterministic_with_a_generator_and_unbiased():
    t_joint, t_marg = exact_batches(400, 128, seed=4, layout="pairs")
    fn = get_loss("noise").fn
    sigma = 0.5
    first = fn(t_joint, t_marg, {}, LossParams(sigma=sigma, generator=torch.Generator().manual_seed(9))).estimate
    again = fn(t_joint, t_marg, {}, LossParams(sigma=sigma, generator=torch.Generator().manual_seed(9))).estimate
    assert torch.equal(first, again)
    noise = first - dv_value(t_joint, t_marg)  # the mean of n draws of N(0, sigma^2): sd sigma / sqrt(n)
    assert noise.mean().item() == pytest.approx(0.0, abs=5 * sigma / math.sqrt(128 * 400))
    assert noise.std().item() == pytest.approx(sigma / math.sqrt(128), rel=0.15)


def test_smile_with_a_huge_clip_reports_dv():
    t_joint, t_marg = 20 * torch.randn(6, 100, dtype=torch.float64), 20 * torch.randn(6, 100, dtype=torch.float64)
    out = get_loss("smile").fn(t_joint, t_marg, {}, LossParams(tau=1e9))
    torch.testing.assert_close(out.estimate, dv_value(t_joint, t_marg))


def test_log_mean_exp_is_stable():
    t = torch.tensor([1000.0, 1000.0])
    assert log_mean_exp(t).item() == pytest.approx(1000.0)


def test_get_loss_names_the_allowed_losses():
    with pytest.raises(ValueError, match=r"loss must be one of dv, ema, .*; got 'nope'"):
        get_loss("nope")
    assert get_loss("dv") is LOSSES["dv"]


@pytest.mark.parametrize("kwargs", [{"alpha": 0.0}, {"alpha": 1.5}, {"lam": -1.0}, {"sigma": -0.1}, {"tau": 0.0}])
def test_loss_params_are_validated(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        LossParams(**kwargs)

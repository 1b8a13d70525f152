"""Estimator losses as pure functions of critic scores, and the one registry `LOSSES`.

Every loss is a function ``fn(t_joint, t_marg, state, hp) -> LossOutput`` with no hidden
state: MINE's moving average goes in and comes out through `state`.

Shapes (leading dimensions ``...`` are ensemble members, or absent):
    t_joint: (..., n)      T(x_i, z_i) on samples of the joint P_XZ.
    t_marg:  layout "pairs":  (..., m)    T on samples of the product P_X (x) P_Z
                              (z shuffled within the batch);
             layout "matrix": (..., n, n) T(x_i, z_j) for every pair, diagonal = t_joint.
Returns ``LossOutput(loss, estimate, state)`` with loss and estimate of shape (...,):
`loss` is minimised by training, `estimate` is the value the loss reports as MI in nats.

The paper's seven losses (Section III.B of Li Ge, "Enhancing MINE") are written as the
paper writes them, even where that is not a valid bound on MI; `LossSpec.role`
and `LossSpec.note` say what each one actually estimates. The standard family (NWJ,
InfoNCE, SMILE) follows Poole et al. 2019 and Song & Ermon 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

State = dict[str, Tensor]


@dataclass(frozen=True)
class LossParams:
    """Hyperparameters of the loss variants (each loss reads only its own).

    alpha: EMA rate of eq. 7 (weight of the newest minibatch mean).
    lam: weight of the regularized loss's penalty lambda * ||e^t||^2 / m.
    sigma: standard deviation of the noise-augmented loss's N(0, sigma^2) term.
    tau: SMILE's clip of the marginal scores to [-tau, tau].
    generator: source of the noise-augmented loss's noise (None: torch's global one).
    """

    alpha: float = 0.01
    lam: float = 0.1
    sigma: float = 0.1
    tau: float = 5.0
    generator: torch.Generator | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in (0, 1], got {self.alpha!r}")
        for name, low in (("lam", 0.0), ("sigma", 0.0)):
            if not getattr(self, name) >= low:
                raise ValueError(f"{name} must be >= {low:g}, got {getattr(self, name)!r}")
        if not self.tau > 0.0:
            raise ValueError(f"tau must be > 0, got {self.tau!r}")


class LossOutput(NamedTuple):
    loss: Tensor
    estimate: Tensor
    state: State


def log_mean_exp(t: Tensor, dim: int = -1) -> Tensor:
    """log mean(e^t) along `dim`, computed without overflow."""
    return torch.logsumexp(t, dim) - math.log(t.shape[dim])


def dv_value(t_joint: Tensor, t_marg: Tensor) -> Tensor:
    """Donsker-Varadhan value E_P[T] - log E_Q[e^T] (paper eq. 2 and 5). Shape (...,)."""
    return t_joint.mean(-1) - log_mean_exp(t_marg)


def dv(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """Original MINE loss, paper eq. 6: L = -E_P[T] + log E_Q[e^T]."""
    value = dv_value(t_joint, t_marg)
    return LossOutput(-value, value, state)


def ema(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """Moving-average bias-corrected MINE (paper eq. 7-8 and its "EMA loss").

    EMA(e^T) <- (1 - alpha) EMA + alpha mean(e^T) (eq. 7), kept in log space in
    ``state["log_ma"]`` (shape (...,)). The loss is the paper's
    L = -(E_P[T] - E_Q[e^T] / EMA) with EMA held constant, whose gradient is MINE's
    corrected gradient grad E_P[T] - grad E_Q[e^T] / EMA. Reported: eq. 8's value
    E_P[T] - log EMA(e^T).
    """
    log_mean = log_mean_exp(t_marg)
    previous = state.get("log_ma")
    if previous is None:
        log_ma = log_mean.detach()
    else:
        keep = math.log1p(-hp.alpha) if hp.alpha < 1.0 else -math.inf  # alpha = 1: the newest batch only
        log_ma = torch.logaddexp(previous + keep, log_mean.detach() + math.log(hp.alpha))
    loss = -(t_joint.mean(-1) - torch.exp(log_mean - log_ma))
    return LossOutput(loss, t_joint.mean(-1) - log_ma, {**state, "log_ma": log_ma})


def softplus(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """The paper's softplus loss: L = -(E_P[T] - softplus(E_Q[e^T]))."""
    value = t_joint.mean(-1) - F.softplus(torch.exp(log_mean_exp(t_marg)))
    return LossOutput(-value, value, state)


def logsumexp(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """The paper's log-sum-exp loss: L = -(E_P[T] - log sum_i e^(t_i - max t)).

    As written it omits the max and the log m of the mean: its value equals
    DV + max(t) - log m, and the gradient flows through max(t) too.
    """
    shifted = t_marg - t_marg.max(-1, keepdim=True).values
    value = t_joint.mean(-1) - torch.log(torch.exp(shifted).sum(-1))
    return LossOutput(-value, value, state)


def regularized(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """The paper's regularized loss: L = -DV + lambda ||e^T||_2^2 (norm over the m marginal
    scores, divided by m so that lambda does not depend on the batch size). Reports DV."""
    value = dv_value(t_joint, t_marg)
    penalty = torch.exp(2.0 * t_marg).mean(-1)
    return LossOutput(-value + hp.lam * penalty, value, state)


def noise_augmented(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """The paper's noise-augmented loss: L = -(E_P[T + N(0, sigma^2)] - log E_Q[e^T])."""
    noise = torch.randn(t_joint.shape, generator=hp.generator, dtype=t_joint.dtype, device=t_joint.device)
    value = (t_joint + hp.sigma * noise).mean(-1) - log_mean_exp(t_marg)
    return LossOutput(-value, value, state)


def nwj(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """NWJ / MINE-f, paper eq. 3: E_P[T] - E_Q[e^(T - 1)], tight at T = T* + 1."""
    value = t_joint.mean(-1) - torch.exp(t_marg - 1.0).mean(-1)
    return LossOutput(-value, value, state)


def infonce(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """InfoNCE (van den Oord et al. 2018; Poole et al. 2019 eq. 12), layout "matrix":
    mean_i [T(x_i, z_i) - log (1/n) sum_j e^T(x_i, z_j)], never above log n."""
    value = (t_joint - log_mean_exp(t_marg)).mean(-1)
    return LossOutput(-value, value, state)


def smile(t_joint: Tensor, t_marg: Tensor, state: State, hp: LossParams) -> LossOutput:
    """SMILE (Song & Ermon 2020): reports E_P[T] - log E_Q[e^clip(T, -tau, tau)] and trains
    with the gradient of the Jensen-Shannon bound E_P[-sp(-T)] - E_Q[sp(T)]."""
    value = t_joint.mean(-1) - log_mean_exp(t_marg.clamp(-hp.tau, hp.tau))
    js = -F.softplus(-t_joint).mean(-1) - F.softplus(t_marg).mean(-1)
    return LossOutput(-(js + (value - js).detach()), value, state)


@dataclass(frozen=True)
class LossSpec:
    """A registry entry.

    fn: the pure loss function.
    layout: "pairs" (t_marg from shuffled pairs) or "matrix" (all n x n pairs).
    role: what the loss is, as written (one of `ROLES`): "valid bound" (its reported value is a
        lower bound on I(X; Z) for every critic), "gradient only" (it changes the training
        gradient while reporting a DV-type value) or "not a bound" (its reported value is not
        a lower bound).
    grad_clip: trained with per-critic gradient-norm clipping (the paper's clipped loss).
    paper: whether the loss is one of the paper's seven.
    formula: the loss as written, in LaTeX.
    note: what it actually estimates, in one sentence.
    """

    fn: Callable[[Tensor, Tensor, State, LossParams], LossOutput]
    layout: str
    role: str
    paper: bool
    formula: str
    note: str
    grad_clip: bool = False


ROLES = ("valid bound", "gradient only", "not a bound")

LOSSES: dict[str, LossSpec] = {
    "dv": LossSpec(
        dv, "pairs", "valid bound", True,
        r"-\mathbb{E}_P[T] + \log \mathbb{E}_Q[e^T]",
        "Donsker-Varadhan bound; its minibatch value is biased low (Jensen) and its gradient biased.",
    ),
    "ema": LossSpec(
        ema, "pairs", "gradient only", True,
        r"-\left(\mathbb{E}_P[T] - \mathbb{E}_Q[e^T] / \mathrm{EMA}(e^T)\right)",
        "Changes the gradient (MINE's bias correction); reports E_P[T] - log EMA(e^T), a smoothed DV value.",
    ),
    "softplus": LossSpec(
        softplus, "pairs", "valid bound", True,
        r"-\left(\mathbb{E}_P[T] - \mathrm{softplus}(\mathbb{E}_Q[e^T])\right)",
        "softplus(u) > log u, so a valid but loose bound: at least 1 + W(1/e) = 1.2785 nats below I for every critic.",
    ),
    "clipped": LossSpec(
        dv, "pairs", "gradient only", True,
        r"-\mathbb{E}_P[T] + \log \mathbb{E}_Q[e^T]\ \text{(gradient norm clipped)}",
        "The DV value; only the gradient step is changed by per-critic norm clipping.",
        grad_clip=True,
    ),
    "logsumexp": LossSpec(
        logsumexp, "pairs", "not a bound", True,
        r"-\left(\mathbb{E}_P[T] - \log \sum_i e^{t_i - \max t}\right)",
        "Omits max(t) and log m: equals DV + max(t) - log m, and its gradient pushes max(t) up.",
    ),
    "regularized": LossSpec(
        regularized, "pairs", "gradient only", True,
        r"-\left(\mathbb{E}_P[T] - \log \mathbb{E}_Q[e^T]\right) + \lambda \lVert e^T \rVert_2^2",
        "Reports DV; the penalty moves the optimum away from T*, so the trained bound is lower.",
    ),
    "noise": LossSpec(
        noise_augmented, "pairs", "not a bound", True,
        r"-\left(\mathbb{E}_P[T + \mathcal{N}(0, \sigma^2)] - \log \mathbb{E}_Q[e^T]\right)",
        "Zero-mean noise on the value only: the gradient is DV's, the report is DV plus noise of sd sigma/sqrt(n).",
    ),
    "nwj": LossSpec(
        nwj, "pairs", "valid bound", False,
        r"-\left(\mathbb{E}_P[T] - \mathbb{E}_Q[e^{T-1}]\right)",
        "NWJ / MINE-f: unbiased minibatch value, tight at T = T* + 1, variance grows like e^I.",
    ),
    "infonce": LossSpec(
        infonce, "matrix", "valid bound", False,
        r"-\frac{1}{n}\sum_i \left(T_{ii} - \log \frac{1}{n}\sum_j e^{T_{ij}}\right)",
        "InfoNCE: low variance but never above log n.",
    ),
    "smile": LossSpec(
        smile, "pairs", "not a bound", False,
        r"-\left(\mathbb{E}_P[T] - \log \mathbb{E}_Q[e^{\mathrm{clip}(T, -\tau, \tau)}]\right)",
        "SMILE: trains with the JS gradient, reports a clipped DV value (biased for small tau).",
    ),
}


def get_loss(name: str) -> LossSpec:
    """The registry entry `name`, or a one-line error listing the allowed names."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {name!r}") from None

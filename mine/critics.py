"""Statistics networks as batched ensembles.

Many small critics (or generators) that differ only in loss, seed, rho or beta train in
lock-step as ONE model: every weight has a leading member dimension K and each layer is a
single batched matrix multiply (`torch.baddbmm`). Adam is element-wise, so one optimizer
over the stacked parameters equals one optimizer per member.

The statistics network of the paper (Section III.A): an MLP with three hidden layers of
128 units and LeakyReLU on the concatenated pair (x, z), scalar output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


# Hidden-layer activations, f(x, negative_slope); only LeakyReLU reads the slope. "silu"
# (x * sigmoid(x), smooth) lets few units represent the smooth, e.g. quadratic, log density
# ratios a critic must learn (used by `mine.estimate_mi`).
ACTIVATIONS: dict[str, Callable[[Tensor, float], Tensor]] = {
    "leaky_relu": lambda x, slope: nn.functional.leaky_relu(x, slope),
    "silu": lambda x, slope: nn.functional.silu(x),
}


def _member_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


class EnsembleLinear(nn.Module):
    """K independent affine maps applied in one batched multiply.

    Member k is initialised exactly as `torch.nn.Linear` would be (uniform in
    +-1/sqrt(in_features)) from its own generator, so a member's start does not depend on
    which other members share the ensemble.

    Shapes: weight (K, in, out), bias (K, 1, out); input (K, n, in) -> output (K, n, out).
    """

    def __init__(self, in_features: int, out_features: int, generators: Sequence[torch.Generator]):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(
            torch.stack([torch.empty(in_features, out_features).uniform_(-bound, bound, generator=g) for g in generators])
        )
        self.bias = nn.Parameter(
            torch.stack([torch.empty(1, out_features).uniform_(-bound, bound, generator=g) for g in generators])
        )

    def forward(self, x: Tensor, members: slice = slice(None)) -> Tensor:
        """x: (K', n, in) for the K' members selected by the slice `members` (a view)."""
        return torch.baddbmm(self.bias[members], x, self.weight[members])


class EnsembleMLP(nn.Module):
    """K MLPs with LeakyReLU (or another `ACTIVATIONS`) hidden layers, evaluated together.

    Args:
        seeds: one initialisation seed per member; K = len(seeds).
        in_features: input width (dim_x + dim_z for a statistics network).
        hidden: widths of the hidden layers (paper: (128, 128, 128)).
        out_features: output width (1 for a critic).
        negative_slope: LeakyReLU slope.
        activation: key of `ACTIVATIONS` (paper: "leaky_relu").

    Shapes: input (K, n, in_features) -> output (K, n, out_features); with `members`, a
    slice of the ensemble, input (K', n, in_features) -> (K', n, out_features) for those
    K' members only (weights are sliced as views, gradients reach only them).
    """

    def __init__(
        self,
        seeds: Sequence[int],
        in_features: int,
        hidden: Sequence[int] = (128, 128, 128),
        out_features: int = 1,
        negative_slope: float = 0.01,
        activation: str = "leaky_relu",
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        generators = _member_generators(seeds)
        widths = [in_features, *hidden, out_features]
        self.layers = nn.ModuleList(EnsembleLinear(a, b, generators) for a, b in zip(widths[:-1], widths[1:]))
        self.negative_slope = negative_slope
        self.activation = activation
        self.members = len(seeds)

    def forward(self, x: Tensor, members: slice = slice(None)) -> Tensor:
        *hidden_layers, last = self.layers
        for layer in hidden_layers:
            x = ACTIVATIONS[self.activation](layer(x, members), self.negative_slope)
        return last(x, members)


def member_grad_norms(parameters: Sequence[nn.Parameter]) -> Tensor:
    """Per-member L2 norm of the gradient over all stacked parameters. Shape (K,)."""
    squares = [p.grad.flatten(1).square().sum(1) for p in parameters if p.grad is not None]
    return torch.stack(squares).sum(0).sqrt()


def clip_member_grads_(parameters: Sequence[nn.Parameter], max_norm: Tensor, alive: Tensor | None = None) -> Tensor:
    """Scale each member's gradient so its norm is at most max_norm[k] (inf: no clip).

    The batched equivalent of `torch.nn.utils.clip_grad_norm_` called once per member.

    Args:
        max_norm: shape (K,).
        alive: optional bool mask (K,); members not alive, or whose gradient norm is not
            finite, get an exactly zero gradient (NaN-safe, unlike multiplying by 0).
    Returns:
        the per-member norms before clipping, shape (K,).
    """
    norms = member_grad_norms(parameters)
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    drop = None if alive is None else ~(alive & torch.isfinite(norms))
    drop = drop if drop is not None and bool(drop.any()) else None
    for p in parameters:
        if p.grad is not None:
            shape = (-1, *([1] * (p.grad.dim() - 1)))
            p.grad.mul_(scale.view(shape))
            if drop is not None:
                p.grad.masked_fill_(drop.view(shape), 0.0)
    return norms


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA when available, else the CPU; anything else is passed to torch."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)

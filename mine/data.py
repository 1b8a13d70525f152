"""Samplers that know their ground truth.

`CorrelatedGaussian` is the data of the paper's Experiment 1 (Section III.A): X and Z in
R^dim with standard normal marginals and componentwise correlation rho, so that
I(X; Z) = -dim/2 * log(1 - rho^2) (the paper writes the one-component formula).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class CorrelatedGaussian:
    """X ~ N(0, I_dim), Z = rho * X + sqrt(1 - rho^2) * E with E ~ N(0, I_dim) independent.

    Each pair (X_k, Z_k) is bivariate normal with correlation rho; pairs are independent.
    """

    dim: int
    rho: float

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {self.dim!r}")
        if not -1.0 < self.rho < 1.0:
            raise ValueError(f"rho must lie strictly between -1 and 1, got {self.rho!r}")

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Draw n joint samples.

        Returns:
            x, z: each of shape (n, dim), float32.
        """
        x = torch.randn(n, self.dim, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        z = self.rho * x + math.sqrt(1.0 - self.rho**2) * noise
        return x, z

    def true_mi(self) -> float:
        """Closed-form I(X; Z) in nats."""
        return -0.5 * self.dim * math.log1p(-self.rho**2)

    def optimal_critic(self, x: Tensor, z: Tensor) -> Tensor:
        """The exact log density ratio T*(x, z) = log p(x, z) / (p(x) p(z)).

        T* attains the supremum of the Donsker-Varadhan representation (paper eq. 2):
        E_P[T*] - log E_Q[e^T*] = I(X; Z). Broadcasts over leading dimensions.

        Args:
            x, z: shape (..., dim).
        Returns:
            shape (...,).
        """
        r2 = self.rho**2
        quad = (r2 * x.square() - 2.0 * self.rho * x * z + r2 * z.square()) / (2.0 * (1.0 - r2))
        return (-0.5 * math.log1p(-r2) - quad).sum(-1)

    @classmethod
    def from_mi(cls, dim: int, mi: float) -> "CorrelatedGaussian":
        """The positively correlated Gaussian whose true MI is `mi` nats."""
        return cls(dim, math.sqrt(-math.expm1(-2.0 * mi / dim)))

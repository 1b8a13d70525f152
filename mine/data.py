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

    def sample(
        self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
    ) -> tuple[Tensor, Tensor]:
        """Draw n joint samples (float64 keeps T* exact when rho is near +-1).

        Returns:
            x, z: each of shape (n, dim), of `dtype`.
        """
        x = torch.randn(n, self.dim, generator=generator, dtype=dtype)
        noise = torch.randn(n, self.dim, generator=generator, dtype=dtype)
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


# Two-dimensional shapes of the GAN experiments (paper Sections IV and V). A shape samples
# noisy points and knows its truth: the distance of any point to the noiseless shape (used
# by the quality metric) and a partition of the shape into bins (used by the coverage metric).


@dataclass(frozen=True)
class Circle:
    """Points uniform on a circle of radius `radius` plus N(0, noise^2 I_2) (paper Section IV.A).

    Bins: `n_bins` equal angle sectors (default 36, i.e. 10 degrees each).
    """

    radius: float = 5.0
    noise: float = 0.1
    n_bins: int = 36

    def __post_init__(self) -> None:
        _check_shape_args(radius=self.radius, noise=self.noise, n_bins=self.n_bins)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw n points. Returns shape (n, 2), float32."""
        angle = 2.0 * math.pi * torch.rand(n, generator=generator)
        points = self.radius * torch.stack([angle.cos(), angle.sin()], dim=-1)
        return points + self.noise * torch.randn(n, 2, generator=generator)

    def distance(self, x: Tensor) -> Tensor:
        """Euclidean distance of each point to the circle, | ||x|| - r |. (..., 2) -> (...,)."""
        return (x.norm(dim=-1) - self.radius).abs()

    def bin_index(self, x: Tensor) -> Tensor:
        """Angle sector of each point, in 0 .. n_bins - 1. (..., 2) -> (...,) int64."""
        angle = torch.atan2(x[..., 1], x[..., 0]) % (2.0 * math.pi)
        return (angle / (2.0 * math.pi) * self.n_bins).long().clamp(max=self.n_bins - 1)


@dataclass(frozen=True)
class Cross:
    """A "+": two segments from -half_length to +half_length along each axis, points uniform by
    length, plus N(0, noise^2 I_2) (paper Section V.A; the paper gives no sizes).

    Bins: 4 arms (+x, +y, -x, -y) x `segments_per_arm` equal segments from the centre out.
    """

    half_length: float = 5.0
    noise: float = 0.1
    segments_per_arm: int = 5

    def __post_init__(self) -> None:
        _check_shape_args(half_length=self.half_length, noise=self.noise, segments_per_arm=self.segments_per_arm)

    @property
    def n_bins(self) -> int:
        return 4 * self.segments_per_arm

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw n points. Returns shape (n, 2), float32."""
        along = self.half_length * (2.0 * torch.rand(n, generator=generator) - 1.0)
        vertical = torch.rand(n, generator=generator) < 0.5  # the two segments have equal length
        points = torch.stack([torch.where(vertical, 0.0, along), torch.where(vertical, along, 0.0)], dim=-1)
        return points + self.noise * torch.randn(n, 2, generator=generator)

    def distance(self, x: Tensor) -> Tensor:
        """Euclidean distance of each point to the nearer segment. (..., 2) -> (...,)."""
        overshoot = (x.abs() - self.half_length).clamp(min=0.0)  # beyond a segment's end
        to_vertical = torch.hypot(x[..., 0], overshoot[..., 1])
        to_horizontal = torch.hypot(x[..., 1], overshoot[..., 0])
        return torch.minimum(to_vertical, to_horizontal)

    def bin_index(self, x: Tensor) -> Tensor:
        """Arm (by the larger coordinate) x segment (by the distance along it). (..., 2) -> (...,) int64.

        Arms are numbered +x, +y, -x, -y; bin = arm * segments_per_arm + segment.
        """
        horizontal = x[..., 0].abs() >= x[..., 1].abs()
        along = torch.where(horizontal, x[..., 0], x[..., 1])
        arm = torch.where(horizontal, 0, 1) + 2 * (along < 0).long()
        segment = (along.abs() / self.half_length * self.segments_per_arm).long().clamp(max=self.segments_per_arm - 1)
        return arm * self.segments_per_arm + segment


def _check_shape_args(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")


SHAPES = {"circle": Circle, "cross": Cross}
"""The GAN data sets by name; each class takes keyword arguments with sensible defaults."""


def train_test_split(data: Tensor, test_fraction: float, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Shuffle the rows of `data` (n, d) and split them into (train, test), the test set holding
    round(test_fraction * n) rows (paper: 80/20)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    order = torch.randperm(len(data), generator=generator)
    n_test = round(test_fraction * len(data))
    return data[order[n_test:]], data[order[:n_test]]

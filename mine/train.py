"""Training many MINE critics in lock-step as one batched ensemble (paper Section III.A).

Every member of an ensemble is one statistics network T_k (an `EnsembleMLP` slice) with
its own loss from `mine.bounds.LOSSES`, its own seed and its own data source. All members
step together: one forward pass of the ensemble per step, each loss applied to its own
members' slice of the scores, one backward pass, then a masked Adam step.

What a member sees depends on its own seed only, never on the other members:
its initial weights (seeded in `EnsembleMLP`), its minibatches and marginal shuffles (a
per-member generator), and its held-out sample. So a member trained inside an ensemble
follows the same trajectory as the member trained alone, up to float rounding
(tests/test_train.py). Members that share a seed share initial weights and data draws,
which makes comparisons across losses paired.

Layouts (`LossSpec.layout`):
    "pairs":  a step draws n joint pairs (x_i, z_i) and scores them and the n shuffled
              pairs (x_i, z_pi(i)); scores of shape (K, 2n).
    "matrix": (InfoNCE) needs T(x_i, z_j) for every pair, n^2 scores per member. Such
              members draw `contrast_batch` samples instead of `batch_size` and are scored
              in a second forward call over their own (contiguous) slice of the ensemble,
              so their quadratic cost is set by `contrast_batch` alone.

Divergence: a member whose loss, estimate or gradient norm is NaN or Inf is marked
diverged at that step; its gradient is zeroed and Adam no longer updates it, while the
other members go on. Its later records are NaN.

Records, every `eval_every` steps, per member: `own`, the value its loss reports on that
step's minibatch, and `heldout`, the Donsker-Varadhan value E_P[T] - log E_Q[e^T] (paper
eq. 5) of its critic on a fixed held-out sample, the common yardstick across losses.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from mine.bounds import LOSSES, LossParams, State, dv_value, get_loss
from mine.critics import ACTIVATIONS, EnsembleMLP, clip_member_grads_, member_grad_norms, resolve_device

# Learning-rate schedules: multiplier of the initial lr at training fraction f in [0, 1],
# ending at `final` (the ratio of the last lr to the first).
SCHEDULES: dict[str, Callable[[float, float], float]] = {
    "cosine": lambda f, final: final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * f)),
    "exponential": lambda f, final: final**f,
    "constant": lambda f, final: 1.0,
}


class Sampler(Protocol):
    """Anything that draws joint samples: `CorrelatedGaussian`, `ArraySampler`."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]: ...


@dataclass(frozen=True)
class Member:
    """One critic of an ensemble.

    loss: a key of `mine.bounds.LOSSES`.
    seed: seeds the initial weights, the minibatches and the held-out sample.
    source: draws the training pairs, `sample(n, generator) -> (x (n, dx), z (n, dz))`.
    heldout: a fixed held-out pair (x (m, dx), z (m, dz)); None draws `eval_size` pairs
        from `source` with a generator of its own.
    tags: free labels carried into the history (e.g. {"dim": 3, "rho": 0.8}).
    """

    loss: str
    seed: int
    source: Sampler
    heldout: tuple[Tensor, Tensor] | None = None
    tags: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every member of an ensemble.

    steps: Adam updates.
    batch_size: joint pairs per step for "pairs" losses (as many shuffled pairs again).
    contrast_batch: samples per step for "matrix" losses (contrast_batch^2 scores).
    lr: Adam's initial learning rate (paper: 1e-3).
    decay: key of `SCHEDULES`; lr_final: last lr / first lr.
    clip_norm: per-member gradient-norm bound for losses with `LossSpec.grad_clip`
        (the paper's clipped-gradient loss).
    clip_all: also clip every other member at `clip_norm`.
    eval_every: steps between records; eval_size: held-out pairs drawn when a member
        has none; eval_shuffles: shuffled copies of the held-out z for the marginal term.
    hidden, negative_slope, activation: the statistics network (paper: 3 x 128, LeakyReLU;
        activation is a key of `mine.critics.ACTIVATIONS`).
    alpha, lam, sigma, tau: the losses' hyperparameters (`LossParams`).
    noise_seed: seeds the noise-augmented loss's N(0, sigma^2) draws.
    device: "auto", "cpu", "cuda", ...; threads: torch CPU threads while training
        (None: leave torch's setting alone).
    """

    steps: int = 2000
    batch_size: int = 256
    contrast_batch: int = 64
    lr: float = 1e-3
    decay: str = "cosine"
    lr_final: float = 0.1
    clip_norm: float = 0.1
    clip_all: bool = False
    eval_every: int = 50
    eval_size: int = 1024
    eval_shuffles: int = 1
    hidden: tuple[int, ...] = (128, 128, 128)
    negative_slope: float = 0.01
    activation: str = "leaky_relu"
    alpha: float = 0.01
    lam: float = 0.1
    sigma: float = 0.1
    tau: float = 5.0
    noise_seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        positive_ints = ("steps", "batch_size", "contrast_batch", "eval_every", "eval_size", "eval_shuffles")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.batch_size < 2 or self.contrast_batch < 2:
            raise ValueError("batch_size and contrast_batch must be >= 2 (a shuffle needs two samples)")
        for name in ("lr", "clip_norm", "lam", "sigma", "tau"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must lie in (0, 1], got {self.alpha!r}")
        if not 0 < self.lr_final <= 1:
            raise ValueError(f"lr_final must lie in (0, 1], got {self.lr_final!r}")
        if self.decay not in SCHEDULES:
            raise ValueError(f"decay must be one of {', '.join(SCHEDULES)}, got {self.decay!r}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty list of widths >= 1, got {self.hidden!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads!r}")

    @property
    def loss_params(self) -> LossParams:
        return LossParams(alpha=self.alpha, lam=self.lam, sigma=self.sigma, tau=self.tau)

    def lr_at(self, step: int) -> float:
        """Learning rate of update `step` (0-based)."""
        return self.lr * SCHEDULES[self.decay](step / max(self.steps - 1, 1), self.lr_final)


@dataclass
class History:
    """What `train_ensemble` recorded, in the order of the members passed in.

    steps: (R,) number of updates done at each record.
    own: (K, R) value each member's loss reported on that step's minibatch.
    heldout: (K, R) DV value of each critic on its fixed held-out sample.
    diverged_at: (K,) step at which a member diverged, -1 if never.
    seconds: wall time of the training loop.
    model: the trained ensemble (members in internal order, see `order`).
    order: model member j is members[order[j]].
    """

    members: list[Member]
    steps: np.ndarray
    own: np.ndarray
    heldout: np.ndarray
    diverged_at: np.ndarray
    seconds: float
    model: EnsembleMLP
    order: np.ndarray

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_at >= 0


def derived_seed(seed: int, stream: int) -> int:
    """An independent seed for one of a member's random streams (1: data, 2: held-out)."""
    return int(np.random.SeedSequence([int(seed), stream]).generate_state(1)[0])


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` torch CPU threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class MaskedAdam:
    """Adam (Kingma & Ba 2015, as in `torch.optim.Adam` without weight decay) over stacked
    ensemble parameters of shape (K, ...), where only members with `active[k]` move.

    Adam is element-wise, so this equals one Adam per member; the mask freezes diverged
    members, which plain Adam would keep moving on its momentum.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, lr: float, active: Tensor) -> None:
        self.t += 1
        step_size = lr / (1.0 - self.beta1**self.t)
        bias2_sqrt = math.sqrt(1.0 - self.beta2**self.t)
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            g = p.grad
            m.lerp_(g, 1.0 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1.0 - self.beta2)
            denom = (v.sqrt() / bias2_sqrt).add_(self.eps)
            scale = (active.to(p.dtype) * -step_size).view(-1, *([1] * (p.dim() - 1)))
            p.addcdiv_(m * scale, denom)


@dataclass
class _Group:
    """Contiguous members of the ensemble sharing one loss.

    rows: the members' slice of the ensemble; local: their slice of their layout's scores.
    """

    name: str
    rows: slice
    local: slice
    state: State = field(default_factory=dict)


def _contiguous_groups(names: Sequence[str], n_pairs: int) -> list[_Group]:
    groups: list[_Group] = []
    for j, name in enumerate(names):
        if groups and groups[-1].name == name:
            groups[-1].rows = slice(groups[-1].rows.start, j + 1)
        else:
            groups.append(_Group(name, slice(j, j + 1), slice(0)))
    for group in groups:
        offset = 0 if group.rows.start < n_pairs else n_pairs
        group.local = slice(group.rows.start - offset, group.rows.stop - offset)
    return groups


def _pair_inputs(x: Tensor, z: Tensor, perm: Tensor) -> Tensor:
    """Joint then shuffled pairs: x (K, n, dx), z (K, n, dz), perm (K, n) -> (K, 2n, dx + dz)."""
    z_shuffled = torch.gather(z, 1, perm.unsqueeze(-1).expand_as(z))
    return torch.cat([torch.cat([x, z], -1), torch.cat([x, z_shuffled], -1)], 1)


def _matrix_inputs(x: Tensor, z: Tensor) -> Tensor:
    """All pairs: x (K, m, dx), z (K, m, dz) -> (K, m*m, dx + dz), row i*m + j = (x_i, z_j)."""
    k, m, dx = x.shape
    dz = z.shape[-1]
    grid = torch.cat([x.unsqueeze(2).expand(k, m, m, dx), z.unsqueeze(1).expand(k, m, m, dz)], -1)
    return grid.reshape(k, m * m, dx + dz)


class _Streams:
    """Per-member data: each member draws from its own generator, so its minibatches do not
    depend on which other members share the ensemble."""

    def __init__(self, members: Sequence[Member], device: torch.device):
        self.members = members
        self.device = device
        self.generators = [torch.Generator().manual_seed(derived_seed(m.seed, 1)) for m in members]

    def draw(self, n: int) -> tuple[Tensor, Tensor, Tensor]:
        xs, zs, perms = [], [], []
        for member, gen in zip(self.members, self.generators):
            x, z = member.source.sample(n, gen)
            xs.append(x)
            zs.append(z)
            perms.append(torch.randperm(n, generator=gen))
        to = lambda ts: torch.stack(ts).to(self.device, torch.float32)  # noqa: E731
        return to(xs), to(zs), torch.stack(perms).to(self.device)


def _heldout_inputs(members: Sequence[Member], config: TrainConfig, device: torch.device) -> tuple[Tensor, int]:
    """Fixed held-out pairs per member: (K, m + m * shuffles, in) joint first, and m."""
    xs, zs, perms = [], [], []
    for member in members:
        gen = torch.Generator().manual_seed(derived_seed(member.seed, 2))
        x, z = member.heldout if member.heldout is not None else member.source.sample(config.eval_size, gen)
        xs.append(torch.as_tensor(x, dtype=torch.float32))
        zs.append(torch.as_tensor(z, dtype=torch.float32))
        perms.append(torch.cat([torch.randperm(len(x), generator=gen) for _ in range(config.eval_shuffles)]))
    sizes = {len(x) for x in xs}
    if len(sizes) != 1:
        raise ValueError(f"held-out samples of one ensemble must have one size, got {sorted(sizes)}")
    m = sizes.pop()
    x, z, perm = torch.stack(xs), torch.stack(zs), torch.stack(perms)
    joint = torch.cat([x, z], -1)
    marg = torch.cat([x.repeat(1, config.eval_shuffles, 1), torch.gather(z, 1, perm.unsqueeze(-1).expand(-1, -1, z.shape[-1]))], -1)
    return torch.cat([joint, marg], 1).to(device), m


@torch.no_grad()
def heldout_dv(model: EnsembleMLP, inputs: Tensor, m: int, chunk: int = 16) -> Tensor:
    """DV value (paper eq. 5) of every member on its held-out inputs (K, m + M, in). Shape (K,)."""
    values = []
    for start in range(0, model.members, chunk):
        rows = slice(start, min(start + chunk, model.members))
        t = model(inputs[rows], members=rows).squeeze(-1)
        values.append(dv_value(t[:, :m], t[:, m:]))
    return torch.cat(values)


def _validate_members(members: Sequence[Member]) -> tuple[int, int]:
    if not members:
        raise ValueError("members must be a non-empty list")
    for member in members:
        get_loss(member.loss)
    probe = [m.source.sample(2, torch.Generator().manual_seed(0)) for m in members]
    widths = {(x.shape[-1], z.shape[-1]) for x, z in probe}
    if len(widths) != 1:
        raise ValueError(f"members of one ensemble must share (dim_x, dim_z), got {sorted(widths)}")
    return widths.pop()


def train_ensemble(members: Sequence[Member], config: TrainConfig = TrainConfig(), *, progress: bool = False) -> History:
    """Train every member's critic in lock-step and record its estimates.

    Members are reordered internally so that "pairs" losses come first and each loss's
    members are contiguous (every loss then works on a view, no gathers); the history is
    returned in the caller's order.

    Args:
        members: the critics to train; all must share (dim_x, dim_z).
        config: optimisation settings.
        progress: show a tqdm bar.
    Returns:
        History with arrays of shape (K, R), R = number of records.
    """
    dx, dz = _validate_members(members)
    layout_rank = {"pairs": 0, "matrix": 1}
    order = np.array(sorted(range(len(members)), key=lambda k: (layout_rank[LOSSES[members[k].loss].layout], members[k].loss)), dtype=int)
    ordered = [members[k] for k in order]
    specs = [LOSSES[m.loss] for m in ordered]
    n_pairs = sum(spec.layout == "pairs" for spec in specs)
    pair_rows, matrix_rows = slice(0, n_pairs), slice(n_pairs, len(ordered))
    groups = _contiguous_groups([m.loss for m in ordered], n_pairs)

    device = resolve_device(config.device)
    with torch_threads(config.threads):
        seeds = [m.seed for m in ordered]
        model = EnsembleMLP(seeds, dx + dz, tuple(config.hidden), 1, config.negative_slope, config.activation).to(device)
        params = list(model.parameters())
        optimizer = MaskedAdam(params)
        pair_streams = _Streams(ordered[pair_rows], device)
        matrix_streams = _Streams(ordered[matrix_rows], device)
        heldout_inputs, m_heldout = _heldout_inputs(ordered, config, device)
        hp = LossParams(config.alpha, config.lam, config.sigma, config.tau, torch.Generator(device).manual_seed(config.noise_seed))
        max_norm = torch.tensor(
            [config.clip_norm if (spec.grad_clip or config.clip_all) else math.inf for spec in specs], device=device
        )
        clipping = bool(torch.isfinite(max_norm).any())
        k_total = len(ordered)
        alive = torch.ones(k_total, dtype=torch.bool, device=device)
        diverged_at = np.full(k_total, -1)
        record_steps = [s for s in range(1, config.steps + 1) if s % config.eval_every == 0 or s == config.steps]
        own = np.full((k_total, len(record_steps)), np.nan)
        heldout = np.full((k_total, len(record_steps)), np.nan)
        estimates = torch.empty(k_total, device=device)

        steps = range(config.steps)
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc=f"{k_total} critics", leave=False)
        start = time.perf_counter()
        record = 0
        for step in steps:
            scores = {}
            if n_pairs:
                n = config.batch_size
                t = model(_pair_inputs(*pair_streams.draw(n)), members=pair_rows).squeeze(-1)
                scores["pairs"] = (t[:, :n], t[:, n:])
            if k_total > n_pairs:
                m = config.contrast_batch
                t = model(_matrix_inputs(*matrix_streams.draw(m)[:2]), members=matrix_rows).view(-1, m, m)
                scores["matrix"] = (torch.diagonal(t, dim1=1, dim2=2), t)
            losses = []
            for group in groups:
                spec = LOSSES[group.name]
                t_joint, t_marg = (s[group.local] for s in scores[spec.layout])
                out = spec.fn(t_joint, t_marg, group.state, hp)
                group.state = {key: value.detach() for key, value in out.state.items()}
                losses.append(out.loss)
                estimates[group.rows] = out.estimate.detach()
            loss = torch.cat(losses)
            finite = torch.isfinite(loss) & torch.isfinite(estimates)
            alive_before = alive.clone()
            alive &= finite
            model.zero_grad(set_to_none=False)
            torch.where(alive, loss, torch.zeros_like(loss)).sum().backward()
            if clipping:
                norms = clip_member_grads_(params, max_norm, alive=alive)
            else:  # no member clips: the norms only detect non-finite gradients
                norms = member_grad_norms(params)
                if not bool((alive & torch.isfinite(norms)).all()):
                    clip_member_grads_(params, max_norm, alive=alive)
            alive &= torch.isfinite(norms)
            optimizer.step(config.lr_at(step), alive)

            newly_dead = (alive_before & ~alive).cpu().numpy()
            diverged_at[newly_dead] = step + 1
            if step + 1 == record_steps[record]:
                alive_np = alive.cpu().numpy()
                own[:, record] = np.where(alive_np, estimates.cpu().numpy(), np.nan)
                values = heldout_dv(model, heldout_inputs, m_heldout).cpu().numpy()
                heldout[:, record] = np.where(alive_np & np.isfinite(values), values, np.nan)
                record += 1
        seconds = time.perf_counter() - start

    inverse = np.argsort(order)
    return History(
        members=list(members),
        steps=np.array(record_steps),
        own=own[inverse],
        heldout=heldout[inverse],
        diverged_at=diverged_at[inverse],
        seconds=seconds,
        model=model,
        order=order,
    )

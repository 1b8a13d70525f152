"""MI-regularized WGAN-GP on 2-D data, every (beta, seed) member trained in lock-step.

The paper's Sections IV-V: a generator G([eps, c]) of noise eps and a code c, a WGAN-GP
critic D (Gulrajani et al. 2017, gradient penalty weight 10) and a MINE statistics network
T(x, c) that estimates I(G([eps, c]); c). The paper's generator objective
    argmax_G E[D(G([eps, c]))] + beta I(G([eps, c]); c)
is minimised here as  L_G = -E[D(G([eps, c]))] + beta L_MINE,  where L_MINE is the MINE loss
of the library's registry (`mine.bounds.LOSSES`, default "ema") on (G([eps, c]), c) against
(G([eps, c]), c') with c' an independent draw of the code: minimising L_MINE ascends the MI
estimate with MINE's (bias-corrected, for "ema") gradient.

All members (betas x seeds) are one batched model: every network is a `EnsembleMLP` whose
weights have a leading member dimension K, and one Adam per network steps all members (Adam
is element-wise, so this equals one optimizer per member). Randomness never depends on the
ensemble's composition: each seed owns its own streams (initialisation, data order, noise,
codes, gradient-penalty mixing, evaluation noise), and members that share a seed share them
(common random numbers: betas are compared on identical data, noise and initialisation).

An epoch is floor(n_train / batch_size) generator (and MINE) steps, each after `critic_steps`
critic steps; the critic's batches walk through `critic_steps` fresh permutations of the
training set, so in one epoch the critic sees every training point `critic_steps` times and the
generator takes as many steps as there are batches in the training set. After each epoch, every member is evaluated on `eval_samples` generated points
against the held-out test set (`mine.metrics`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from mine import metrics
from mine.bounds import LossParams, dv_value, get_loss
from mine.critics import EnsembleMLP, clip_member_grads_, resolve_device
from mine.train import derived_seed, torch_threads


def _categorical(n: int, size: int, generator: torch.Generator) -> Tensor:
    return nn.functional.one_hot(torch.randint(size, (n,), generator=generator), size).float()


def _uniform(n: int, size: int, generator: torch.Generator) -> Tensor:
    return 2.0 * torch.rand(n, size, generator=generator) - 1.0


@dataclass(frozen=True)
class CodeKind:
    """How the code c is drawn: sample(n, size, generator) -> (n, size)."""

    sample: Callable[[int, int, torch.Generator], Tensor]
    description: str


CODES: dict[str, CodeKind] = {
    "categorical": CodeKind(_categorical, "one of `size` equally likely categories, one-hot; I(G; c) <= log size"),
    "uniform": CodeKind(_uniform, "`size` independent U(-1, 1) coordinates; I(G; c) is unbounded"),
}


@dataclass(frozen=True)
class GANConfig:
    """Settings of one chapter's ensemble; members are all (beta, seed) pairs, beta-major.

    Defaults follow the paper where it gives a value (Adam lr 1e-3 for all networks, cosine
    decay, batch 128, gradient penalty 10, betas {0, 0.001, 0.01, 0.1, 1}).
    """

    betas: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 20
    batch_size: int = 128
    critic_steps: int = 5
    lr: float = 1e-3
    adam_betas: tuple[float, float] = (0.5, 0.9)
    gp_weight: float = 10.0
    noise_dim: int = 2
    code_kind: str = "categorical"
    code_size: int = 8
    hidden: tuple[int, ...] = (128, 128)
    mine_loss: str = "ema"
    ema_alpha: float = 0.01
    mine_clip_norm: float = 1.0
    eval_samples: int = 2000
    snapshot_points: int = 500
    loss_params: LossParams = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not self.betas or not all(math.isfinite(b) and b >= 0 for b in self.betas):
            raise ValueError(f"betas must be a non-empty list of finite numbers >= 0, got {list(self.betas)}")
        if not self.seeds or not all(isinstance(s, int) and s >= 0 for s in self.seeds) or len(set(self.seeds)) < len(self.seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers >= 0, got {list(self.seeds)}")
        for name, low in [("epochs", 1), ("batch_size", 2), ("critic_steps", 1), ("noise_dim", 1), ("code_size", 1),
                          ("eval_samples", 2), ("snapshot_points", 0)]:
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("lr", "mine_clip_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not self.gp_weight >= 0:
            raise ValueError(f"gp_weight must be >= 0, got {self.gp_weight!r}")
        if not 0.0 < self.ema_alpha <= 1.0:
            raise ValueError(f"ema_alpha must lie in (0, 1], got {self.ema_alpha!r}")
        if not all(0.0 <= b < 1.0 for b in self.adam_betas) or len(self.adam_betas) != 2:
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas!r}")
        if not self.hidden or not all(isinstance(h, int) and h >= 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty list of integers >= 1, got {list(self.hidden)}")
        if self.code_kind not in CODES:
            raise ValueError(f"code_kind must be one of {', '.join(CODES)}; got {self.code_kind!r}")
        get_loss(self.mine_loss)
        object.__setattr__(self, "loss_params", LossParams(alpha=self.ema_alpha))

    @property
    def members(self) -> list[tuple[float, int]]:
        """(beta, seed) of each member, in ensemble order."""
        return list(itertools.product(self.betas, self.seeds))

    def settings(self) -> dict:
        """The config as plain JSON-able values."""
        return {k: v for k, v in asdict(self).items() if k != "loss_params"}


STREAMS = {"generator": 0, "critic": 1, "mine": 2, "train": 3, "eval": 4, "floor": 5}
"""The independent random streams each seed owns (and "floor", of seed 0, for the distance floors)."""


def derive_seed(seed: int, stream: str) -> int:
    """A seed for the named stream of one run, independent of every other."""
    return derived_seed(seed, STREAMS[stream])


@dataclass
class GANHistory:
    """Per-member, per-epoch results of `train_gan`.

    Attributes:
        config: the settings.
        betas, seeds: (K,) each member's beta and seed: the config's members in its order, or
            the sub-ensemble that was trained (see `merge`).
        metrics: name -> (K, E) array over epochs 1..E: quality, coverage, swd, energy (distances
            to the test set), mi_heldout (DV value of T on the held-out evaluation sample),
            mi_train (mean over the epoch of the MINE loss's own reported estimate). NaN from a
            member's divergence on.
        floor: real-vs-real floor of each distance (95th percentile over resamples).
        samples: (K, E, P, 2) the first P evaluation samples after each epoch (fixed eps and c).
        diverged_epoch: (K,) the epoch in which a member first produced NaN/Inf; NaN if never.
    """

    config: GANConfig
    betas: np.ndarray
    seeds: np.ndarray
    metrics: dict[str, np.ndarray]
    floor: dict[str, float]
    samples: np.ndarray
    diverged_epoch: np.ndarray

    @property
    def epochs(self) -> np.ndarray:
        return np.arange(1, self.config.epochs + 1)

    def frame(self) -> pd.DataFrame:
        """Long table: one row per member and epoch, columns beta, seed, epoch and each metric."""
        k, e = len(self.betas), self.config.epochs
        columns = {"beta": np.repeat(self.betas, e), "seed": np.repeat(self.seeds, e), "epoch": np.tile(self.epochs, k)}
        return pd.DataFrame({**columns, **{name: values.reshape(-1) for name, values in self.metrics.items()}})

    def member(self, beta: float, seed: int) -> int:
        """Index of the member (beta, seed)."""
        (index,) = np.flatnonzero((self.betas == float(beta)) & (self.seeds == seed))
        return int(index)

    @classmethod
    def merge(cls, parts: list[GANHistory]) -> GANHistory:
        """One history of every member of the parts' common config, in its member order, from
        histories of disjoint sub-ensembles (`train_gan(..., members=...)`) that cover it."""
        config = parts[0].config
        if any(p.config != config or p.floor != parts[0].floor for p in parts):
            raise ValueError("parts must share their config and floor")
        found = [(float(b), int(s)) for p in parts for b, s in zip(p.betas, p.seeds)]
        if sorted(found) != sorted(config.members):
            raise ValueError(f"parts must hold every member of the config once, got {found}")
        order = [found.index(m) for m in config.members]
        cat = lambda arrays: np.concatenate(arrays)[order]  # noqa: E731
        return cls(
            config,
            cat([p.betas for p in parts]),
            cat([p.seeds for p in parts]),
            {name: cat([p.metrics[name] for p in parts]) for name in parts[0].metrics},
            parts[0].floor,
            cat([p.samples for p in parts]),
            cat([p.diverged_epoch for p in parts]),
        )


def _pair_scores(net: EnsembleMLP, x: Tensor, code: Tensor, code_marg: Tensor) -> tuple[Tensor, Tensor]:
    """T on (x_i, c_i) and on (x_i, c'_i): (K, n, 2), (K, n, c) -> (K, n), (K, n)."""
    scores = net(torch.cat([torch.cat([x, code], -1), torch.cat([x, code_marg], -1)], 1)).squeeze(-1)
    return scores.chunk(2, dim=1)


def _matrix_scores(net: EnsembleMLP, x: Tensor, code: Tensor, code_marg: Tensor) -> tuple[Tensor, Tensor]:
    """T on every pair (x_i, c_j): (K, n, 2), (K, n, c) -> diagonal (K, n), matrix (K, n, n)."""
    k, n, _ = x.shape
    pairs = torch.cat([x[:, :, None].expand(k, n, n, x.shape[-1]), code[:, None].expand(k, n, n, code.shape[-1])], -1)
    matrix = net(pairs.reshape(k, n * n, -1)).reshape(k, n, n)
    return matrix.diagonal(dim1=1, dim2=2), matrix


LAYOUTS = {"pairs": _pair_scores, "matrix": _matrix_scores}
"""How the statistics network is evaluated for each loss layout of `mine.bounds`."""


class _Draws:
    """Per-seed random streams, expanded to the members that share each seed."""

    def __init__(self, seeds: list[int], member_seeds: list[int], stream: str):
        self.generators = [torch.Generator().manual_seed(derive_seed(s, stream)) for s in seeds]
        self.index = torch.tensor([seeds.index(s) for s in member_seeds])

    def __call__(self, draw: Callable[[torch.Generator], Tensor]) -> Tensor:
        """Call draw(generator) once per seed; returns the results stacked per member (K, ...)."""
        return torch.stack([draw(g) for g in self.generators])[self.index]


def train_gan(
    shape,
    train: Tensor,
    test: Tensor,
    config: GANConfig = GANConfig(),
    *,
    device: str | torch.device = "cpu",
    threads: int | None = 1,
    floor_resamples: int = 20,
    members: list[tuple[float, int]] | None = None,
    floor: dict[str, float] | None = None,
    progress: bool = False,
) -> GANHistory:
    """Train every (beta, seed) member of `config` as one batched MI-regularized WGAN-GP.

    Args:
        shape: the true shape (a `mine.data.SHAPES` entry), for the quality and coverage metrics.
        train: (n_train, 2) training points; test: (n_test, 2) held-out points.
        device: where the networks run ("auto": CUDA when available); metrics run on the CPU.
        threads: torch intra-op threads while training (1 is fastest for these small networks
            on 2 shared cores, see the benchmark); None leaves torch's setting.
        floor_resamples: resamples of the real-vs-real distance floor.
        members: train only these (beta, seed) members of `config`, in this order (None: all).
            A member's run does not depend on which others share its ensemble, so sub-ensembles
            trained apart and joined with `GANHistory.merge` equal the whole ensemble.
        floor: the floors from `real_floor` when already computed (None: computed here).
        progress: show a tqdm bar over epochs.
    """
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != 2 or test.shape[1] != 2:
        raise ValueError(f"train and test must have shape (n, 2), got {tuple(train.shape)} and {tuple(test.shape)}")
    if not (torch.isfinite(train).all() and torch.isfinite(test).all()):
        raise ValueError("train and test must not contain NaN or Inf")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    if len(train) < config.batch_size:
        raise ValueError(f"batch_size must be <= the number of training points ({len(train)}), got {config.batch_size}")
    members = config.members if members is None else [(float(b), int(s)) for b, s in members]
    if not members or len(set(members)) < len(members) or not set(members) <= set(config.members):
        raise ValueError(f"members must be distinct (beta, seed) pairs of the config, got {members}")
    with torch_threads(threads):
        trainer = _Trainer(shape, train, test, config, resolve_device(device), floor_resamples, members, floor)
        return trainer.run(progress)


def real_floor(shape, test: Tensor, config: GANConfig, resamples: int) -> dict[str, float]:
    """The real-vs-real floor of each distance (`mine.metrics.distance_floor`) for samples of
    `config.eval_samples` points against `test`, from the "floor" stream of seed 0."""
    return metrics.distance_floor(shape, test.float(), config.eval_samples, resamples=resamples, seed=derive_seed(0, "floor"))


class _Trainer:
    """One batched training run; `run` returns the history."""

    def __init__(self, shape, train: Tensor, test: Tensor, config: GANConfig, device: torch.device, floor_resamples: int,
                 members: list[tuple[float, int]] | None = None, floor: dict[str, float] | None = None):
        self.shape, self.config, self.device = shape, config, device
        self.train, self.test = train.float().to(device), test.float()
        self.members = config.members if members is None else members
        betas, member_seeds = zip(*self.members)
        seeds = sorted(set(member_seeds))
        self.beta = torch.tensor(betas, device=device)
        self.k = len(betas)
        init = lambda stream: [derive_seed(s, stream) for s in member_seeds]
        code, x = config.code_size, 2
        self.gen = EnsembleMLP(init("generator"), config.noise_dim + code, config.hidden, x).to(device)
        self.critic = EnsembleMLP(init("critic"), x, config.hidden, 1).to(device)
        self.stat = EnsembleMLP(init("mine"), x + code, config.hidden, 1).to(device)
        self.draws = _Draws(seeds, list(member_seeds), "train")
        self.batches = len(train) // config.batch_size
        total_gen = config.epochs * self.batches
        total_critic = total_gen * config.critic_steps
        self.optimizers, self.schedulers = [], []
        for net, steps in [(self.critic, total_critic), (self.gen, total_gen), (self.stat, total_gen)]:
            opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.adam_betas)
            self.optimizers.append(opt)
            self.schedulers.append(torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps))
        self.loss = get_loss(config.mine_loss)
        self.scores = LAYOUTS[self.loss.layout]
        self.clip = torch.full((self.k,), config.mine_clip_norm if self.loss.grad_clip else math.inf, device=device)
        self.state: dict[str, Tensor] = {}
        self.finite = torch.ones(self.k, dtype=torch.bool, device=device)
        evaluate = _Draws(seeds, list(member_seeds), "eval")
        n = config.eval_samples
        self.eval_noise = evaluate(lambda g: torch.randn(n, config.noise_dim, generator=g)).to(device)
        self.eval_code = evaluate(lambda g: self._code(n, g)).to(device)
        self.eval_code_marg = evaluate(lambda g: self._code(n, g)).to(device)
        self.directions = metrics.projections()
        self.floor = real_floor(shape, test, config, floor_resamples) if floor is None else floor

    def _code(self, n: int, generator: torch.Generator) -> Tensor:
        return CODES[self.config.code_kind].sample(n, self.config.code_size, generator)

    def _generate(self, noise: Tensor, code: Tensor) -> Tensor:
        return self.gen(torch.cat([noise, code], -1))

    def critic_step(self, order: Tensor, batch: int) -> None:
        """One WGAN-GP critic step on batch number `batch` of each member's permutation
        `order` (K, n_train)."""
        cfg, b = self.config, self.config.batch_size
        real = self.train[order[:, batch * b : (batch + 1) * b]]  # (K, B, 2)
        noise = self.draws(lambda g: torch.randn(b, cfg.noise_dim, generator=g)).to(self.device)
        code = self.draws(lambda g: self._code(b, g)).to(self.device)
        mix = self.draws(lambda g: torch.rand(b, 1, generator=g)).to(self.device)
        with torch.no_grad():
            fake = self._generate(noise, code)
        between = (mix * real + (1.0 - mix) * fake).requires_grad_(True)
        d_real, d_fake = self.critic(torch.cat([real, fake], 1)).squeeze(-1).split(b, dim=1)
        d_between = self.critic(between).squeeze(-1)  # apart, so the penalty's double backward sees B rows, not 3B
        # Members are independent, so the gradient of the sum is each member's own input gradient.
        (slope,) = torch.autograd.grad(d_between.sum(), between, create_graph=True)
        penalty = (slope.norm(dim=-1) - 1.0).square().mean(-1)
        loss = d_fake.mean(-1) - d_real.mean(-1) + cfg.gp_weight * penalty  # (K,)
        self._step(0, loss)
        self.finite &= torch.isfinite(loss)

    def generator_step(self) -> Tensor:
        """One generator step on L_G = -E[D(G)] + beta L_MINE and one MINE step on L_MINE,
        from the same generated batch. Returns the MINE loss's reported estimate (K,)."""
        cfg, b = self.config, self.config.batch_size
        noise = self.draws(lambda g: torch.randn(b, cfg.noise_dim, generator=g)).to(self.device)
        code = self.draws(lambda g: self._code(b, g)).to(self.device)
        code_marg = self.draws(lambda g: self._code(b, g)).to(self.device)
        fake = self._generate(noise, code)
        t_joint, t_marg = self.scores(self.stat, fake, code, code_marg)
        out = self.loss.fn(t_joint, t_marg, self.state, cfg.loss_params)
        gen_loss = -self.critic(fake).squeeze(-1).mean(-1) + self.beta * out.loss  # (K,)
        gen_params, stat_params = list(self.gen.parameters()), list(self.stat.parameters())
        gen_grads = torch.autograd.grad(gen_loss.sum(), gen_params, retain_graph=True)
        stat_grads = torch.autograd.grad(out.loss.sum(), stat_params)  # fake's dependence on G is irrelevant here
        for params, grads in [(gen_params, gen_grads), (stat_params, stat_grads)]:
            for p, g in zip(params, grads):
                p.grad = g
        clip_member_grads_(stat_params, self.clip)
        for i in (1, 2):
            self.optimizers[i].step()
            self.schedulers[i].step()
        self.state = {name: value.detach() for name, value in out.state.items()}
        self.finite &= torch.isfinite(gen_loss) & torch.isfinite(out.loss)
        return out.estimate.detach()

    def _step(self, i: int, loss: Tensor) -> None:
        self.optimizers[i].zero_grad(set_to_none=True)
        loss.sum().backward()
        self.optimizers[i].step()
        self.schedulers[i].step()

    @torch.no_grad()
    def evaluate(self) -> tuple[dict[str, Tensor], Tensor]:
        """Metrics (K,) each and the generated evaluation samples (K, n, 2) on the CPU."""
        samples = self._generate(self.eval_noise, self.eval_code)
        t_joint, t_marg = _pair_scores(self.stat, samples, self.eval_code, self.eval_code_marg)
        mi = dv_value(t_joint, t_marg).cpu()
        samples = samples.cpu()
        ok = torch.isfinite(samples).all(-1).all(-1)
        clean = torch.where(ok[:, None, None], samples, torch.zeros(()))  # metrics of a diverged member are discarded
        values = {
            "quality": metrics.quality(clean, self.shape),
            "coverage": metrics.coverage(clean, self.test, self.shape),
            **{name: fn(clean, self.test) for name, fn in metrics.DISTANCES.items()},
            "mi_heldout": mi,
        }
        self.finite &= ok.to(self.device) & torch.isfinite(mi).to(self.device)
        return values, samples

    def run(self, progress: bool) -> GANHistory:
        cfg, k, e = self.config, self.k, self.config.epochs
        names = ["quality", "coverage", *metrics.DISTANCES, "mi_heldout", "mi_train"]
        history = {name: np.full((k, e), np.nan) for name in names}
        snapshots = np.full((k, e, min(cfg.snapshot_points, cfg.eval_samples), 2), np.nan, dtype=np.float32)
        diverged = np.full(k, np.nan)
        epochs = range(e)
        if progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="epochs")
        for epoch in epochs:
            orders = [self.draws(lambda g: torch.randperm(len(self.train), generator=g)).to(self.device)
                      for _ in range(cfg.critic_steps)]
            estimates = []
            for batch in range(self.batches):
                for step in range(cfg.critic_steps):  # the batch-th batch of the step-th pass
                    self.critic_step(orders[step], batch)
                estimates.append(self.generator_step())
            values, samples = self.evaluate()
            values["mi_train"] = torch.stack(estimates).mean(0).cpu()
            finite = self.finite.cpu().numpy()
            diverged[np.isnan(diverged) & ~finite] = epoch + 1
            for name in names:
                history[name][finite, epoch] = values[name].double().numpy()[finite]
            snapshots[finite, epoch] = samples[finite, : snapshots.shape[2]].numpy()
        betas, seeds = zip(*self.members)
        return GANHistory(cfg, np.array(betas), np.array(seeds), history, self.floor, snapshots, diverged)

"""Benchmark: the batched MI-regularized WGAN-GP ensemble against one GAN at a time.

Both sides run the same generator iteration (`critic_steps` WGAN-GP critic steps, then one
generator step on -E[D(G)] + beta L_MINE and one MINE step) for the same K members at the
chapters' sizes: once as `mine.gan`'s lock-step ensemble, once as K plain `nn.Sequential`
GANs trained one after the other (the way public MINE/GAN code does it). It prints generator
iterations per second for both, their ratio, and each side's achieved GFLOP/s (the matrix-multiply
FLOPs of one iteration, counted analytically by `iteration_gflop`) as a fraction of a large fp32
matmul's peak measured in the same run. It is the "gans" case of `bench_ensemble.py`:

    python benchmarks/bench_ensemble.py --case gans --threads 1
"""

from __future__ import annotations

import time

import torch
from torch import nn

from mine.bounds import get_loss
from mine.data import Circle, train_test_split
from mine.gan import CODES, GANConfig, _Trainer
from mine.train import torch_threads


def _mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.01)]
    return nn.Sequential(*layers, nn.Linear(widths[-2], widths[-1]))


class PlainGAN:
    """One MI-regularized WGAN-GP with plain modules: the textbook loop `mine.gan` batches."""

    def __init__(self, config: GANConfig, beta: float, seed: int):
        torch.manual_seed(seed)
        c, h = config.code_size, list(config.hidden)
        self.config, self.beta = config, beta
        self.gen, self.critic, self.stat = _mlp([config.noise_dim + c, *h, 2]), _mlp([2, *h, 1]), _mlp([2 + c, *h, 1])
        self.opts = [torch.optim.Adam(n.parameters(), lr=config.lr, betas=config.adam_betas)
                     for n in (self.critic, self.gen, self.stat)]
        self.loss, self.state = get_loss(config.mine_loss), {}

    def _code(self, n):
        return CODES[self.config.code_kind].sample(n, self.config.code_size, None)

    def iteration(self, train: torch.Tensor) -> None:
        cfg, b = self.config, self.config.batch_size
        for _ in range(cfg.critic_steps):
            real = train[torch.randint(len(train), (b,))]
            with torch.no_grad():
                fake = self.gen(torch.cat([torch.randn(b, cfg.noise_dim), self._code(b)], -1))
            mix = torch.rand(b, 1)
            between = (mix * real + (1 - mix) * fake).requires_grad_(True)
            (slope,) = torch.autograd.grad(self.critic(between).sum(), between, create_graph=True)
            loss = (self.critic(fake).mean() - self.critic(real).mean()
                    + cfg.gp_weight * (slope.norm(dim=-1) - 1).square().mean())
            self.opts[0].zero_grad()
            loss.backward()
            self.opts[0].step()
        code, code_marg = self._code(b), self._code(b)
        fake = self.gen(torch.cat([torch.randn(b, cfg.noise_dim), code], -1))
        t_joint = self.stat(torch.cat([fake, code], -1)).squeeze(-1)
        t_marg = self.stat(torch.cat([fake, code_marg], -1)).squeeze(-1)
        out = self.loss.fn(t_joint, t_marg, self.state, cfg.loss_params)
        gen_loss = -self.critic(fake).mean() + self.beta * out.loss
        gen_params, stat_params = list(self.gen.parameters()), list(self.stat.parameters())
        for params, grads in [(gen_params, torch.autograd.grad(gen_loss, gen_params, retain_graph=True)),
                              (stat_params, torch.autograd.grad(out.loss, stat_params))]:
            for p, g in zip(params, grads):
                p.grad = g
        self.opts[1].step()
        self.opts[2].step()
        self.state = {k: v.detach() for k, v in out.state.items()}


def iteration_gflop(config: GANConfig, members: int) -> float:
    """Matrix-multiply GFLOP of one generator iteration of `members` GANs.

    A forward pass of an MLP on n rows costs F(n) = 2 n sum(in * out); a training pass (forward,
    input and weight gradients) 3 F. Critic step: a training pass on the 2B real and fake rows,
    about 6 F on the B gradient-penalty rows (forward, input gradient, and the backward of both),
    and F_G(B) to generate. Generator step: training passes of G on B rows and T on 2B rows, and
    2 F_D(B) through the critic (no critic weight gradients).
    """
    b, c, h = config.batch_size, config.code_size, list(config.hidden)
    cost = lambda widths, n: 2 * n * sum(x * y for x, y in zip(widths[:-1], widths[1:]))
    gen, critic, stat = [config.noise_dim + c, *h, 2], [2, *h, 1], [2 + c, *h, 1]
    critic_step = 3 * cost(critic, 2 * b) + 6 * cost(critic, b) + cost(gen, b)
    gen_step = 3 * cost(gen, b) + 3 * cost(stat, 2 * b) + 2 * cost(critic, b)
    return members * (config.critic_steps * critic_step + gen_step) / 1e9


def _timed(step, iterations: int) -> float:
    """Seconds per call of `step`, after one warm-up call."""
    step()
    started = time.perf_counter()
    for _ in range(iterations):
        step()
    return (time.perf_counter() - started) / iterations


def bench_gans(peak_gflops: float, members: int = 15, iterations: int = 10, threads: int = 1, **config) -> dict:
    """Generator iterations per second of the batched ensemble and of the one-at-a-time loop.

    Args:
        peak_gflops: the large-matmul peak measured in the same run (fraction-of-peak denominator).
        members: K GANs (the chapters train 5 betas x 3 seeds = 15).
        iterations: timed generator iterations per side.
        config: `GANConfig` overrides (defaults are the chapters' settings).
    """
    seeds = tuple(range(members))
    cfg = GANConfig(betas=(0.1,), seeds=seeds, **config)
    shape = Circle()
    train, test = train_test_split(shape.sample(10000, torch.Generator().manual_seed(0)), 0.2)
    with torch_threads(threads):
        trainer = _Trainer(shape, train, test, cfg, torch.device("cpu"), floor_resamples=1)
        order = trainer.draws(lambda g: torch.randperm(len(train), generator=g))

        def batched():
            for step in range(cfg.critic_steps):
                trainer.critic_step(order, step)
            trainer.generator_step()

        plain_gans = [PlainGAN(cfg, 0.1, s) for s in seeds]

        def plain():
            for one in plain_gans:
                one.iteration(train)

        batched_s = _timed(batched, iterations)
        plain_s = _timed(plain, max(1, iterations // 2))
    gflop = iteration_gflop(cfg, members)
    result = {
        "members": members, "threads": threads, "peak_gflops": peak_gflops,
        "batched_iterations_per_s": 1 / batched_s, "plain_iterations_per_s": 1 / plain_s,
        "speedup": plain_s / batched_s,
        "batched_gflops": gflop / batched_s, "plain_gflops": gflop / plain_s,
    }
    result["batched_peak_fraction"] = result["batched_gflops"] / peak_gflops
    result["plain_peak_fraction"] = result["plain_gflops"] / peak_gflops
    return result

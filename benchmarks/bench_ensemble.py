"""Benchmark: K MINE critics trained as one batched ensemble against one model at a time.

Case "critics": the same K = 32 statistics networks (the paper's 3 x 128 LeakyReLU MLP on
(x, z) of a 3-D Gaussian), the same DV loss, batch size and data, trained two ways in one run:
(a) `mine.train.train_ensemble`, all critics in lock-step as one batched model with
`--threads` torch threads, (a') the same split over `--threads` single-threaded processes
(how the Gaussian chapter uses two cores), and (b) K plain `nn.Sequential` MLPs with
`torch.optim.Adam`, each trained for its steps before the next starts (the way public MINE
code does it). It prints critic-steps per second for both,
their ratio, and each one's achieved GFLOP/s (matrix-multiply FLOPs counted analytically:
forward 2 * in * out per row and layer, backward twice that) as a fraction of a large fp32
matrix multiply timed in the same run with the same threads.

Other benchmark modules add cases to `CASES`: a case is `fn(peak_gflops, threads=..., **kw)
-> dict` of printed results.

    python benchmarks/bench_ensemble.py [--case critics|gans|all] [--threads 2] [--steps 40]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gans import bench_gans  # noqa: E402

from mine.data import CorrelatedGaussian  # noqa: E402
from mine.parallel import run_tasks, split  # noqa: E402
from mine.train import Member, TrainConfig, derived_seed, torch_threads, train_ensemble  # noqa: E402


def measure_peak(size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a large fp32 matrix multiply (best of `repeats`), with the current threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def critic_step_gflop(widths: list[int], rows: int) -> float:
    """Matrix-multiply GFLOP of one training step of one critic on `rows` inputs."""
    return 3 * 2 * rows * sum(a * b for a, b in zip(widths[:-1], widths[1:])) / 1e9


def _plain_critic(widths: list[int], seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.01)]
    return nn.Sequential(*layers, nn.Linear(widths[-2], widths[-1]))


def _train_plain(source: CorrelatedGaussian, widths: list[int], seed: int, steps: int, batch_size: int, lr: float) -> None:
    """One critic, the textbook loop: sample, shuffle, DV loss, Adam."""
    net = _plain_critic(widths, seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(derived_seed(seed, 1))
    for _ in range(steps):
        x, z = source.sample(batch_size, gen)
        z_marg = z[torch.randperm(batch_size, generator=gen)]
        t_joint = net(torch.cat([x, z], 1))
        t_marg = net(torch.cat([x, z_marg], 1))
        loss = -(t_joint.mean() - (torch.logsumexp(t_marg, 0) - math.log(batch_size)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def bench_critics(peak_gflops: float, members: int = 32, steps: int = 40, threads: int = 2, batch_size: int = 128, dim: int = 3) -> dict:
    """Critic-steps/s and GFLOP/s of the batched ensemble and of the one-at-a-time loop."""
    source = CorrelatedGaussian(dim, 0.8)
    hidden = (128, 128, 128)
    widths = [2 * dim, *hidden, 1]
    config = TrainConfig(steps=steps, batch_size=batch_size, eval_every=steps, eval_size=256, hidden=hidden, threads=threads)
    ensemble = [Member("dv", seed, source) for seed in range(members)]
    train_ensemble(ensemble, TrainConfig(steps=2, batch_size=batch_size, eval_every=2, eval_size=256, threads=threads))  # warm-up
    batched_seconds = train_ensemble(ensemble, config).seconds

    with torch_threads(threads):
        _train_plain(source, widths, 0, 2, batch_size, config.lr)  # warm-up
        started = time.perf_counter()
        for seed in range(members):
            _train_plain(source, widths, seed, steps, batch_size, config.lr)
        plain_seconds = time.perf_counter() - started

    # The chapter's way to use several cores: `threads` single-threaded processes, each
    # training its share of the ensemble (mine.gaussian.run_grids); time = the slowest loop.
    single = replace(config, threads=1)
    processes_seconds = max(run_tasks(_loop_seconds, [(share, single) for share in split(ensemble, threads)], threads))

    gflop = critic_step_gflop(widths, 2 * batch_size) * members * steps
    result = {"members": members, "steps": steps, "batch_size": batch_size, "threads": threads, "peak_gflops": peak_gflops}
    timed = (("batched", batched_seconds), (f"batched_{threads}proc", processes_seconds), ("plain", plain_seconds))
    for name, seconds in timed:
        result[f"{name}_critic_steps_per_s"] = members * steps / seconds
        result[f"{name}_gflops"] = gflop / seconds
        result[f"{name}_fraction_of_peak"] = gflop / seconds / peak_gflops
    result["speedup"] = plain_seconds / batched_seconds
    result[f"speedup_{threads}proc"] = plain_seconds / processes_seconds
    return result


def _loop_seconds(members, config) -> float:
    """Training seconds of one sub-ensemble, after a 2-step warm-up in the same process."""
    train_ensemble(members, replace(config, steps=2, eval_every=2))
    return train_ensemble(members, config).seconds


CASES = {"critics": bench_critics, "gans": bench_gans}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="critics")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for the peak and every case")
    parser.add_argument("--steps", type=int, default=None, help="override a case's steps (critics)")
    args = parser.parse_args()
    with torch_threads(args.threads):
        peak = measure_peak()
    print(f"peak fp32 matmul: {peak:.1f} GFLOP/s ({args.threads} threads)")
    for name in CASES if args.case == "all" else [args.case]:
        extra = {"steps": args.steps} if args.steps and name == "critics" else {}
        result = CASES[name](peak, threads=args.threads, **extra)
        print(f"[{name}]")
        for key, value in result.items():
            print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()

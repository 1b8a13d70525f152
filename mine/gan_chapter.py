"""What the circle and cross chapters share: data, the training runs, and their summary tables.

Both chapters call the same three functions with their own parameters: `make_data`,
`train_runs` (one batched ensemble per run length, e.g. the cross's 10- and 100-epoch runs,
split across processes)
and `summarize` (epochs-to-converge table beside the paper's numbers, claim verdicts, final
metrics per beta, divergence counts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from mine.data import SHAPES, train_test_split
from mine.gan import GANConfig, GANHistory, real_floor, train_gan
from mine.gan_claims import CLAIMS, Evidence, claims_table, convergence_table, criteria_for
from mine.metrics import Criteria
from mine.parallel import run_tasks, split
from mine.train import torch_threads

PAPER_EPOCHS = {
    "circle": {0.0: "8", 0.001: "2", 0.01: "2", 0.1: "2", 1.0: "2"},
    "cross": {0.0: "about 40", 0.001: "by 10", 0.01: "by 10", 0.1: "by 10", 1.0: "7"},
}
"""The paper's epochs to converge: Table I (circle) and Section V.B (cross)."""


def make_data(dataset: str, n_samples: int, test_fraction: float, noise: float, seed: int):
    """The shape `dataset` with the given noise, n_samples points split into (train, test).

    Returns (shape, train (n_train, 2), test (n_test, 2)).
    """
    if dataset not in SHAPES:
        raise ValueError(f"dataset must be one of {', '.join(SHAPES)}; got {dataset!r}")
    if not isinstance(n_samples, int) or n_samples < 4:
        raise ValueError(f"n_samples must be an integer >= 4, got {n_samples!r}")
    shape = SHAPES[dataset](noise=noise)
    generator = torch.Generator().manual_seed(seed)
    train, test = train_test_split(shape.sample(n_samples, generator), test_fraction, generator)
    return shape, train, test


@dataclass
class Runs:
    """The trained ensembles by run name (the number of epochs, as text), each run's training
    seconds (summed over the processes that trained its parts) and the wall seconds of all."""

    histories: dict[str, GANHistory]
    seconds: dict[str, float]
    wall: float

    @property
    def names(self) -> list[str]:
        """Run names, shortest first."""
        return sorted(self.histories, key=int)


def _train_part(shape, train, test, config: GANConfig, members, threads, floor) -> tuple[GANHistory, float]:
    """Train the sub-ensemble `members` of `config`; returns its history and seconds."""
    started = time.perf_counter()
    history = train_gan(shape, train, test, config, threads=threads, members=members, floor=floor)
    return history, time.perf_counter() - started


def train_runs(shape, train, test, run_epochs: list[int], *, threads: int | None = 1, workers: int = 1,
               floor_resamples: int = 20, **config) -> Runs:
    """One batched ensemble (all betas x seeds of `config`) per entry of `run_epochs`.

    Each run's members are split into `workers` sub-ensembles of consecutive members (15 into
    8 + 7), trained in `workers` processes of `threads` torch threads (`mine.parallel`), the
    longest first, and merged back in member order. A member's run does not depend on its
    ensemble, so the numbers equal one process's (bitwise here for parts of two or more members;
    a part of one member takes other matrix kernels, whose rounding the training amplifies to
    about 1e-4). The real-vs-real floors are computed once, here.
    """
    if not run_epochs or len(set(run_epochs)) < len(run_epochs):
        raise ValueError(f"epochs must be a non-empty list of distinct run lengths, got {list(run_epochs)}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    configs = {str(e): GANConfig(epochs=e, **config) for e in run_epochs}  # validates before any training
    started = time.perf_counter()
    with torch_threads(threads):  # as in a worker: the floor's reductions round by thread count
        floor = real_floor(shape, test, next(iter(configs.values())), floor_resamples)  # the same for every run
    tasks = [(name, members) for name, cfg in configs.items() for members in split(cfg.members, workers)]
    results = run_tasks(
        _train_part, [(shape, train, test, configs[name], members, threads, floor) for name, members in tasks], workers,
        cost=lambda task: task[3].epochs * len(task[4]),
    )
    wall = time.perf_counter() - started
    histories, seconds = {}, {}
    for name in configs:
        parts = [result for (task_name, _), result in zip(tasks, results) if task_name == name]
        histories[name] = GANHistory.merge([history for history, _ in parts])
        seconds[name] = sum(sec for _, sec in parts)
    return Runs(histories, seconds, wall)


def final_metrics(history: GANHistory) -> pd.DataFrame:
    """Per beta: median over seeds of every metric at the last epoch, and the diverged count."""
    rows = []
    for beta in history.config.betas:
        members = [history.member(beta, s) for s in history.config.seeds]
        row = {"epochs": history.config.epochs, "beta": beta}
        with np.errstate(all="ignore"):
            for name, values in history.metrics.items():
                last = values[members, -1]
                row[name] = float(np.median(last[np.isfinite(last)])) if np.isfinite(last).any() else np.nan
        row["diverged"] = int(np.isfinite(history.diverged_epoch[members]).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(dataset: str, runs: Runs, criteria: Criteria, claim_criterion: str) -> dict[str, pd.DataFrame]:
    """The chapter's tables: "convergence" (per run, criterion and beta, beside the paper),
    "claims" (verdicts, judged with the criterion `claim_criterion`) and "final" (last-epoch
    metrics and divergence counts per run and beta)."""
    names = runs.names
    convergence = pd.concat(
        [convergence_table(runs.histories[n], criteria, PAPER_EPOCHS[dataset]).assign(epochs=int(n)) for n in names],
        ignore_index=True,
    )
    evidence = Evidence.from_histories(runs.histories, criteria_for(claim_criterion, criteria))
    claims = claims_table(CLAIMS[dataset](names), evidence)
    final = pd.concat([final_metrics(runs.histories[n]) for n in names], ignore_index=True)
    return {"convergence": convergence[["epochs", *convergence.columns[:-1]]], "claims": claims, "final": final}

"""What the circle and cross chapters share: data, the training runs, and their summary tables.

Both chapters call the same three functions with their own parameters: `make_data`,
`train_runs` (one batched ensemble per run length, e.g. the cross's 10- and 100-epoch runs)
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
from mine.gan import GANConfig, GANHistory, train_gan
from mine.gan_claims import CLAIMS, Evidence, claims_table, convergence_table, criteria_for
from mine.metrics import Criteria

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
    """The trained ensembles by run name (the number of epochs, as text) and their wall times."""

    histories: dict[str, GANHistory]
    seconds: dict[str, float]

    @property
    def names(self) -> list[str]:
        """Run names, shortest first."""
        return sorted(self.histories, key=int)


def train_runs(shape, train, test, run_epochs: list[int], *, threads: int | None = 1,
               floor_resamples: int = 20, **config) -> Runs:
    """One batched ensemble (all betas x seeds of `config`) per entry of `run_epochs`."""
    if not run_epochs or len(set(run_epochs)) < len(run_epochs):
        raise ValueError(f"epochs must be a non-empty list of distinct run lengths, got {list(run_epochs)}")
    configs = {str(e): GANConfig(epochs=e, **config) for e in run_epochs}  # validates before any training
    histories, seconds = {}, {}
    for name, cfg in configs.items():
        started = time.perf_counter()
        histories[name] = train_gan(shape, train, test, cfg, threads=threads, floor_resamples=floor_resamples)
        seconds[name] = time.perf_counter() - started
    return Runs(histories, seconds)


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

"""The Gaussian loss comparison (the paper's Experiment 1, Section III): grid runs, the
RMSE summary, the claim verdicts and the chapter's figures.

The paper trains MINE on 3-D and 4-D correlated Gaussians (`CorrelatedGaussian(dim, rho)`)
with its seven losses and judges them by the deviation of the estimate from the truth.
Here every (dim, rho, loss, seed) is one member of a batched ensemble (one ensemble per
dim, since members of an ensemble share their input width), and each member is judged
twice: by the value its own loss reports, as in the paper, and by the held-out
Donsker-Varadhan value of its critic, a yardstick common to all losses.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from mine.baselines import ksg
from mine.bounds import LOSSES, get_loss
from mine.data import CorrelatedGaussian
from mine.parallel import run_tasks, split
from mine.train import History, Member, TrainConfig, train_ensemble

PAPER_LOSSES = [name for name, spec in LOSSES.items() if spec.paper]
METRICS = {"own": "value the loss reports", "heldout": "held-out DV of the critic"}


def require_paper_losses(losses: Sequence[str]) -> None:
    """The chapter's claims compare the paper's seven losses: fail before any training."""
    for loss in losses:
        get_loss(loss)
    missing = [name for name in PAPER_LOSSES if name not in losses]
    if missing:
        raise ValueError(f"losses must include the paper's seven ({', '.join(PAPER_LOSSES)}); missing {', '.join(missing)}")


def history_frame(history: History) -> pd.DataFrame:
    """Long table of a history: one row per (member, record), with the member's tags,
    loss, seed, the truth when its source knows it, and `diverged` (ever, bool)."""
    rows = []
    for k, member in enumerate(history.members):
        truth = member.source.true_mi() if hasattr(member.source, "true_mi") else np.nan
        rows.append(
            pd.DataFrame(
                {
                    **member.tags,
                    "loss": member.loss,
                    "seed": member.seed,
                    "truth": truth,
                    "step": history.steps,
                    "own": history.own[k],
                    "heldout": history.heldout[k],
                    "diverged": bool(history.diverged[k]),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@dataclass
class GridRun:
    """Every record of a grid run (`frame`) and the training seconds per dim."""

    frame: pd.DataFrame
    seconds: dict[int, float]


@dataclass(frozen=True)
class Grid:
    """One member per (dim, rho, loss, seed); one batched ensemble per dim."""

    dims: Sequence[int]
    rhos: Sequence[float]
    losses: Sequence[str]
    seeds: Sequence[int]

    def __post_init__(self) -> None:
        for loss in self.losses:
            get_loss(loss)
        for name in ("dims", "rhos", "losses", "seeds"):
            if not len(getattr(self, name)):
                raise ValueError(f"{name} must be a non-empty list")
        for dim, rho in itertools.product(self.dims, self.rhos):
            CorrelatedGaussian(int(dim), float(rho))  # validates dim and rho


def _train_part(grid: Grid, dim: int, rhos: Sequence[float], config: TrainConfig) -> tuple[pd.DataFrame, float]:
    """Train one ensemble: every (loss, seed, rho in `rhos`) of a grid at one dim.

    Members with the same seed share initial weights and data draws across losses and
    rhos, so the loss comparison is paired.
    """
    members = [
        Member(loss, int(seed), CorrelatedGaussian(int(dim), float(rho)), tags={"dim": int(dim), "rho": float(rho)})
        for loss, seed, rho in itertools.product(grid.losses, grid.seeds, rhos)
    ]
    history = train_ensemble(members, config)
    return history_frame(history), history.seconds


def run_grids(grids: dict[str, Grid], config: TrainConfig, workers: int = 1) -> tuple[dict[str, GridRun], float]:
    """Train every dim of every grid, in `workers` processes (each with `config.threads`
    torch threads), largest ensembles first.

    One ensemble per (grid, dim); a grid with at least `workers` rhos is split further
    into `workers` ensembles of consecutive rhos, so that the processes finish together.
    Several single-threaded processes keep both cores of a small machine busy without the
    thread synchronisation that slows a two-threaded process down whenever another
    program also wants a core. A member's result does not depend on its ensemble.

    Returns:
        the runs by grid name, and the wall seconds of the whole call.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    tasks = []
    for name, grid in grids.items():
        chunks = split([float(r) for r in grid.rhos], workers if len(grid.rhos) >= workers else 1)
        tasks += [(name, int(dim), chunk) for dim in grid.dims for chunk in chunks]
    started = time.perf_counter()
    results = run_tasks(
        _train_part, [(grids[name], dim, rhos, config) for name, dim, rhos in tasks], workers,
        cost=lambda task: len(task[0].losses) * len(task[0].seeds) * len(task[2]),
    )
    wall = time.perf_counter() - started
    runs = {}
    for name in grids:
        parts = [(dim, result) for (task_name, dim, _), result in zip(tasks, results) if task_name == name]
        frame = pd.concat([frame for _, (frame, _) in parts], ignore_index=True)
        frame = frame.sort_values(["dim", "rho"], kind="stable", ignore_index=True)
        seconds: dict[int, float] = {}
        for dim, (_, sec) in parts:
            seconds[dim] = seconds.get(dim, 0.0) + sec
        runs[name] = GridRun(frame, dict(sorted(seconds.items())))
    return runs, wall


def _window(frame: pd.DataFrame, last_fraction: float) -> pd.DataFrame:
    """Records in the last `last_fraction` of training."""
    return frame[frame["step"] > (1.0 - last_fraction) * frame["step"].max()]


def per_seed_errors(frame: pd.DataFrame, last_fraction: float = 0.5) -> pd.DataFrame:
    """Per (dim, loss, seed): RMSE, bias (mean deviation) and sd of each metric over the
    records of the last `last_fraction` of training; NaN for a diverged member."""
    window = _window(frame, last_fraction)
    out = []
    for keys, g in window.groupby(["dim", "rho", "loss", "seed"], sort=False):
        row = dict(zip(["dim", "rho", "loss", "seed"], keys), truth=float(g["truth"].iloc[0]), diverged=bool(g["diverged"].any()))
        for metric in METRICS:
            dev = (g[metric] - g["truth"]).to_numpy()
            ok = not row["diverged"] and np.isfinite(dev).all()
            row[f"{metric}_rmse"] = float(np.sqrt(np.mean(dev**2))) if ok else np.nan
            row[f"{metric}_bias"] = float(np.mean(dev)) if ok else np.nan
            row[f"{metric}_sd"] = float(np.std(g[metric].to_numpy())) if ok else np.nan
        out.append(row)
    return pd.DataFrame(out)


def summarize(frame: pd.DataFrame, last_fraction: float = 0.5) -> pd.DataFrame:
    """Per (dim, rho, loss): mean and sd over seeds of the per-seed RMSE, mean bias and
    sd of each metric, and the number of diverged seeds. Rows in registry order per dim."""
    errors = per_seed_errors(frame, last_fraction)
    stats = {}
    for metric in METRICS:
        for q in ("rmse", "bias", "sd"):
            stats[f"{metric}_{q}"] = (f"{metric}_{q}", "mean")
        stats[f"{metric}_rmse_spread"] = (f"{metric}_rmse", "std")
    table = errors.groupby(["dim", "rho", "loss"], sort=False).agg(
        truth=("truth", "first"), seeds=("seed", "count"), diverged=("diverged", "sum"), **stats
    )
    order = {name: i for i, name in enumerate(LOSSES)}
    table = table.reset_index()
    return table.sort_values(["dim", "rho", "loss"], key=lambda s: s.map(order) if s.name == "loss" else s).reset_index(drop=True)


@dataclass(frozen=True)
class ClaimThresholds:
    """The numbers that turn measurements into verdicts (stated in the chapter).

    close_ratio: "close to" means the larger of two RMSEs is at most close_ratio times
        the smaller.
    slight_bias: "slightly biased" means 2 standard errors < |bias| <= slight_bias nats.
    top: "deviates most" means among the `top` largest RMSE of the paper's seven losses.
    """

    close_ratio: float = 1.25
    slight_bias: float = 0.1
    top: int = 2


def _close(a: float, b: float, ratio: float) -> bool:
    """Both finite and the larger at most `ratio` times the smaller."""
    return bool(np.isfinite(a) and np.isfinite(b) and max(a, b) <= ratio * min(a, b))


def verdict(checks: Sequence[bool]) -> str:
    """All checks pass: reproduced; none: not reproduced; some: mixed."""
    if all(checks):
        return "reproduced"
    return "not reproduced" if not any(checks) else "mixed"


def _claim_checks(summary: pd.DataFrame, errors: pd.DataFrame, metric: str, th: ClaimThresholds) -> list[tuple[str, list[tuple[str, bool]]]]:
    """Per claim: the list of (what was measured, passed) checks, one or more per dim."""
    rmse = summary.pivot(index="loss", columns="dim", values=f"{metric}_rmse")
    bias = summary.pivot(index="loss", columns="dim", values=f"{metric}_bias")
    sd = summary.pivot(index="loss", columns="dim", values=f"{metric}_sd")
    div = summary.pivot(index="loss", columns="dim", values="diverged")
    paper = [name for name in PAPER_LOSSES if name in rmse.index]
    dims = list(rmse.columns)
    fmt = lambda v: f"{v:.3f}"  # noqa: E731

    def rank_from_top(loss, dim):
        ranked = rmse.loc[paper, dim].sort_values(ascending=False, na_position="first")
        return list(ranked.index).index(loss) + 1

    def bias_se(loss, dim):
        b = errors[(errors["loss"] == loss) & (errors["dim"] == dim)][f"{metric}_bias"].dropna()
        return float(b.std(ddof=1) / np.sqrt(len(b))) if len(b) > 1 else np.inf

    claims = []
    claims.append((
        "Log-sum-exp has the smallest deviation of the seven losses",
        [(f"{d}-D: log-sum-exp {fmt(rmse.loc['logsumexp', d])}, best {rmse.loc[paper, d].idxmin()} {fmt(rmse.loc[paper, d].min())}",
          bool(rmse.loc[paper, d].idxmin() == "logsumexp")) for d in dims],
    ))
    claims.append((
        "Regularized is close to log-sum-exp",
        [(f"{d}-D: regularized {fmt(rmse.loc['regularized', d])} vs log-sum-exp {fmt(rmse.loc['logsumexp', d])}",
          _close(rmse.loc["regularized", d], rmse.loc["logsumexp", d], th.close_ratio)) for d in dims],
    ))
    softplus = []
    for d in dims:
        stable = bool(div.loc["softplus", d] == 0 and sd.loc["softplus", d] <= sd.loc["dv", d])
        b = bias.loc["softplus", d]
        slight = bool(2 * bias_se("softplus", d) < abs(b) <= th.slight_bias)
        softplus += [(f"{d}-D: sd {fmt(sd.loc['softplus', d])} vs original {fmt(sd.loc['dv', d])}, {int(div.loc['softplus', d])} diverged", stable),
                     (f"{d}-D: bias {b:+.3f}", slight)]
    claims.append(("Softplus is stable but slightly biased", softplus))
    d = max(dims)
    claims.append((
        f"Clipped gradient and noise-augmented deviate most on {d}-D",
        [(f"{d}-D: {loss} RMSE {fmt(rmse.loc[loss, d])}, rank {rank_from_top(loss, d)} of {len(paper)} from the worst", rank_from_top(loss, d) <= th.top)
         for loss in ("clipped", "noise")],
    ))
    ema = []
    for d in dims:
        ema += [(f"{d}-D: EMA {fmt(rmse.loc['ema', d])} vs original {fmt(rmse.loc['dv', d])}", bool(rmse.loc["ema", d] < rmse.loc["dv", d])),
                (f"{d}-D: EMA sd {fmt(sd.loc['ema', d])} vs original {fmt(sd.loc['dv', d])}, {int(div.loc['ema', d])} diverged",
                 bool(div.loc["ema", d] == 0 and sd.loc["ema", d] <= sd.loc["dv", d]))]
    claims.append(("EMA is stable, with a smaller RMSE than the original loss", ema))
    return claims


def claims_table(frame: pd.DataFrame, thresholds: ClaimThresholds = ClaimThresholds(), last_fraction: float = 0.5) -> pd.DataFrame:
    """The paper's Section III.B claims with the measurements and a verdict, judged on the
    value each loss reports (as the paper did) and on the held-out DV yardstick."""
    if frame["rho"].nunique() != 1:
        raise ValueError("the claims compare losses at one rho; got several")
    require_paper_losses(list(frame["loss"].unique()))
    summary = summarize(frame, last_fraction)
    errors = per_seed_errors(frame, last_fraction)
    rows = {}
    for metric in METRICS:
        for claim, checks in _claim_checks(summary, errors, metric, thresholds):
            row = rows.setdefault(claim, {"claim": claim})
            row[f"measured ({metric})"] = "; ".join(f"{text} [{'yes' if ok else 'no'}]" for text, ok in checks)
            row[f"verdict ({metric})"] = verdict([ok for _, ok in checks])
    return pd.DataFrame(list(rows.values()))


def final_estimates(frame: pd.DataFrame, last_fraction: float = 0.1) -> pd.DataFrame:
    """Per (dim, rho, loss, seed): the mean over the last `last_fraction` of records of
    each metric (NaN when diverged)."""
    window = _window(frame, last_fraction)
    keys = ["dim", "rho", "loss", "seed"]
    out = window.groupby(keys, sort=False).agg(truth=("truth", "first"), diverged=("diverged", "any"), own=("own", "mean"), heldout=("heldout", "mean"))
    out.loc[out["diverged"], list(METRICS)] = np.nan
    return out.reset_index()


def seconds_per_loss(losses: Sequence[str], members: int, dim: int, rho: float, config: TrainConfig, steps: int = 50) -> dict[str, float]:
    """Wall seconds per 1000 steps of one critic, per loss: an ensemble of `members`
    critics of that loss alone trained for `steps` steps (after one warm-up step)."""
    seconds = {}
    source = CorrelatedGaussian(int(dim), float(rho))
    for loss in losses:
        ensemble = [Member(loss, k, source) for k in range(members)]
        train_ensemble(ensemble, replace(config, steps=1, eval_every=1))
        history = train_ensemble(ensemble, replace(config, steps=steps, eval_every=steps))
        seconds[loss] = 1000.0 * history.seconds / (steps * members)
    return seconds


def ksg_sweep(dim: int, rhos: Sequence[float], n: int, seed: int, k: int = 3) -> pd.DataFrame:
    """KSG on n samples of each `CorrelatedGaussian(dim, rho)`, with the truth."""
    rows = []
    for rho in rhos:
        source = CorrelatedGaussian(int(dim), float(rho))
        x, z = source.sample(n, torch.Generator().manual_seed(seed))
        rows.append({"rho": float(rho), "ksg": ksg(x.numpy(), z.numpy(), k=k), "truth": source.true_mi()})
    return pd.DataFrame(rows)


def rmse_display(rmse: pd.DataFrame, ms_per_step: dict[str, float] | None = None) -> pd.DataFrame:
    """The RMSE table formatted for the book: 'mean ± sd' strings, optional step time."""
    fmt = lambda m, s: "—" if not np.isfinite(m) else f"{m:.3f} ± {s:.3f}" if np.isfinite(s) else f"{m:.3f}"  # noqa: E731
    out = pd.DataFrame({
        "dim": rmse["dim"],
        "loss": rmse["loss"],
        "RMSE reported": [fmt(m, s) for m, s in zip(rmse["own_rmse"], rmse["own_rmse_spread"])],
        "bias reported": rmse["own_bias"].map(lambda v: f"{v:+.3f}" if np.isfinite(v) else "—"),
        "RMSE held-out": [fmt(m, s) for m, s in zip(rmse["heldout_rmse"], rmse["heldout_rmse_spread"])],
        "bias held-out": rmse["heldout_bias"].map(lambda v: f"{v:+.3f}" if np.isfinite(v) else "—"),
        "diverged": rmse["diverged"].astype(int),
    })
    if ms_per_step is not None:
        out["ms/step"] = rmse["loss"].map(lambda name: f"{ms_per_step[name]:.2f}")
    return out.style.hide(axis="index")


def claims_display(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims table for the book: claim, measured (reported values), both verdicts."""
    out = claims[["claim", "measured (own)", "verdict (own)", "verdict (heldout)"]].rename(
        columns={"measured (own)": "measured (reported values)", "verdict (own)": "verdict (reported)", "verdict (heldout)": "verdict (held-out DV)"}
    )
    return out.style.hide(axis="index").set_properties(**{"text-align": "left", "white-space": "normal"})


def sweep_table(finals: pd.DataFrame, ksg_frame: pd.DataFrame) -> pd.DataFrame:
    """Per rho: the truth, KSG and each loss's median reported value over seeds."""
    medians = finals.pivot_table(index="rho", columns="loss", values="own", aggfunc="median")
    return ksg_frame.set_index("rho")[["truth", "ksg"]].join(medians).reset_index()

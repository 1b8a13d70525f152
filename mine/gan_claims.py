"""Epochs-to-converge tables and the verdicts on the claims of the paper's Sections IV.B and V.B.

A claim is tested once per seed (members that share a seed share data, noise and
initialisation, so betas are compared pairwise within a seed). The verdict is computed from
those per-seed outcomes: "reproduced" when the claim holds for every seed, "not reproduced"
when it holds for none, "mixed" otherwise. "About N epochs" means within a factor `ABOUT` of N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from mine.gan import GANHistory
from mine.metrics import Criteria, epochs_to_converge, stabilization_epoch

ABOUT = 1.5
"""'About N epochs' holds for N / ABOUT <= epochs <= N * ABOUT."""

MI_TOLERANCE = 0.05
"""nats: the MI estimate has stabilized once it stays within this of its final level."""


def criteria_for(name: str, criteria: Criteria) -> Criteria:
    """The convergence criteria by name: "strict" (quality, coverage and the distance floor, the
    report's definition) or "coverage" (quality and coverage only, the paper's "stable and
    complete mode coverage")."""
    kinds = {"strict": criteria, "coverage": criteria._replace(floor_factor=np.inf)}
    if name not in kinds:
        raise ValueError(f"criterion must be one of {', '.join(kinds)}; got {name!r}")
    return kinds[name]


def convergence_epochs(history: GANHistory, criteria: Criteria) -> np.ndarray:
    """Epochs to converge per member (K,), NaN = never (or diverged)."""
    m = history.metrics
    return epochs_to_converge(m["quality"], m["coverage"], m["swd"], history.floor["swd"], criteria)


def by_beta(history: GANHistory, values: np.ndarray) -> dict[float, np.ndarray]:
    """Split a per-member array (K, ...) into beta -> (S, ...) rows ordered by seed."""
    return {b: values[[history.member(b, s) for s in history.config.seeds]] for b in history.config.betas}


def _fmt(epochs: float) -> str:
    return "never" if not np.isfinite(epochs) else f"{epochs:g}"


def convergence_table(history: GANHistory, criteria: Criteria, paper: dict[float, str]) -> pd.DataFrame:
    """Per beta: the paper's number, and for each criterion the median and range over seeds of the
    epochs to converge ("never" counts as later than every epoch) and how many seeds converged."""
    rows = []
    for name in ("coverage", "strict"):
        epochs = by_beta(history, convergence_epochs(history, criteria_for(name, criteria)))
        for beta, e in epochs.items():
            late = np.where(np.isnan(e), np.inf, e)
            rows.append({
                "criterion": name, "beta": beta, "paper": paper.get(beta, ""),
                "median": _fmt(np.median(late)), "min": _fmt(late.min()), "max": _fmt(late.max()),
                "converged": f"{int(np.isfinite(late).sum())}/{len(late)}",
            })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Evidence:
    """What the claims are judged on, per beta as (S,) or (S, E) arrays ordered by seed.

    runs: run name (e.g. "10", "100") -> {"epochs": beta -> (S,) epochs to converge (inf = never),
    "quality"/"mi_heldout": beta -> (S, E)}.
    """

    runs: dict[str, dict[str, dict[float, np.ndarray]]]

    @classmethod
    def from_histories(cls, histories: dict[str, GANHistory], criteria: Criteria) -> "Evidence":
        runs = {}
        for name, h in histories.items():
            epochs = convergence_epochs(h, criteria)
            runs[name] = {
                "epochs": by_beta(h, np.where(np.isnan(epochs), np.inf, epochs)),
                **{m: by_beta(h, h.metrics[m]) for m in ("quality", "mi_heldout")},
            }
        return cls(runs)


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: `holds(evidence)` gives one outcome per seed (1 holds, 0 fails,
    NaN cannot be judged, e.g. a run too short), `measured(evidence)` the numbers behind it."""

    section: str
    text: str
    holds: Callable[[Evidence], np.ndarray]
    measured: Callable[[Evidence], str]


def verdict(per_seed: np.ndarray) -> str:
    """From per-seed outcomes (1, 0 or NaN): reproduced, not reproduced, mixed or not tested."""
    per_seed = np.asarray(per_seed, dtype=float)
    known = per_seed[~np.isnan(per_seed)]
    if known.size == 0:
        return "not tested"
    return "reproduced" if known.all() else "not reproduced" if not known.any() else "mixed"


def claims_table(claims: list[Claim], evidence: Evidence) -> pd.DataFrame:
    """One row per claim: section, claim, measured numbers, seeds where it holds, verdict."""
    rows = []
    for claim in claims:
        try:
            holds = np.asarray(claim.holds(evidence), dtype=float)
        except KeyError:  # a beta or run the claim needs was not trained
            rows.append({"section": claim.section, "claim": claim.text, "measured": "", "holds": "", "verdict": "not tested"})
            continue
        rows.append({"section": claim.section, "claim": claim.text, "measured": claim.measured(evidence),
                     "holds": f"{int(np.nansum(holds))}/{int((~np.isnan(holds)).sum())} seeds", "verdict": verdict(holds)})
    return pd.DataFrame(rows)


# Helpers the claims are written with.

def about(epochs: np.ndarray, n: float) -> np.ndarray:
    return (epochs >= n / ABOUT) & (epochs <= n * ABOUT)


def _list(values: np.ndarray) -> str:
    """Epochs per seed, inf as "never"."""
    return ", ".join(_fmt(v) for v in np.asarray(values, dtype=float))


def _values(values: np.ndarray) -> str:
    """Measured values per seed, NaN as "n/a"."""
    return ", ".join("n/a" if np.isnan(v) else f"{v:.3g}" for v in np.asarray(values, dtype=float))


def _compare(smaller: np.ndarray, larger: np.ndarray) -> np.ndarray:
    """1 where smaller < larger, 0 where not, NaN where either is unknown."""
    return np.where(np.isnan(smaller) | np.isnan(larger), np.nan, smaller < larger)


def _epochs(run: str, beta: float) -> Callable[[Evidence], np.ndarray]:
    return lambda ev: ev.runs[run]["epochs"][beta]


def _said(run: str, betas) -> Callable[[Evidence], str]:
    return lambda ev: "; ".join(f"beta={b:g}: {_list(ev.runs[run]['epochs'][b])}" for b in betas) + " (epochs, per seed)"


def _late_quality(ev: Evidence, run: str, beta: float, start: int) -> np.ndarray:
    """Mean quality from epoch `start` on, per seed (NaN if the run is shorter or diverged)."""
    late = ev.runs[run]["quality"][beta][:, start - 1 :]
    return late.mean(axis=1) if late.shape[1] else np.full(len(late), np.nan)


def _mi_jitter(ev: Evidence, run: str, beta: float) -> np.ndarray:
    """Epoch-to-epoch spread of the MI estimate: std of its changes after epoch 1, per seed
    (NaN with fewer than 3 epochs or after a divergence)."""
    changes = np.diff(ev.runs[run]["mi_heldout"][beta][:, 1:], axis=1)
    return changes.std(axis=1) if changes.shape[1] else np.full(len(changes), np.nan)


def _mi_stable(ev: Evidence, run: str, beta: float) -> np.ndarray:
    e = stabilization_epoch(ev.runs[run]["mi_heldout"][beta], MI_TOLERANCE)
    return np.where(np.isnan(e), np.inf, e)


def _final_mi(ev: Evidence, run: str, beta: float) -> np.ndarray:
    return ev.runs[run]["mi_heldout"][beta][:, -5:].mean(1)


NONZERO = (0.001, 0.01, 0.1, 1.0)
MODERATE = (0.001, 0.01, 0.1)


def _all(ev: Evidence, run: str, betas, test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return np.all([test(ev.runs[run]["epochs"][b]) for b in betas], axis=0)


def circle_claims(runs: list[str]) -> list[Claim]:
    """The claims of Section IV.B (circle), judged on the longest of the runs (names shortest first)."""
    run = runs[-1]
    return [
        Claim("IV.B.1", "Without MI regularization (beta = 0) the generator covers the circle stably after about 8 epochs.",
              lambda ev: about(_epochs(run, 0.0)(ev), 8), _said(run, [0.0])),
        Claim("IV.B.1", "With any beta > 0, stable and complete coverage within the first 2 epochs.",
              lambda ev: _all(ev, run, NONZERO, lambda e: e <= 2), _said(run, NONZERO)),
        Claim("IV.B.2", "MI regularization accelerates convergence: every beta > 0 converges before beta = 0.",
              lambda ev: _all(ev, run, NONZERO, lambda e: e < _epochs(run, 0.0)(ev)), _said(run, (0.0, *NONZERO))),
        Claim("IV.B.2", "Convergence speeds up as beta grows from 0.001 to 0.1.",
              lambda ev: (_epochs(run, 0.1)(ev) <= _epochs(run, 0.01)(ev)) & (_epochs(run, 0.01)(ev) <= _epochs(run, 0.001)(ev))
              & (_epochs(run, 0.1)(ev) < _epochs(run, 0.001)(ev)), _said(run, MODERATE)),
        Claim("IV.B.2", "beta = 1 over-regularizes: samples stay noisier after epoch 6 than with beta = 0.1.",
              lambda ev: _compare(_late_quality(ev, run, 1.0, 6), _late_quality(ev, run, 0.1, 6)),
              lambda ev: f"mean quality from epoch 6: beta=1: {_values(_late_quality(ev, run, 1.0, 6))}; "
                         f"beta=0.1: {_values(_late_quality(ev, run, 0.1, 6))}"),
        Claim("IV.B.4", "The MI estimate oscillates for beta = 1 (more than for beta = 0.1).",
              lambda ev: _compare(_mi_jitter(ev, run, 0.1), _mi_jitter(ev, run, 1.0)),
              lambda ev: f"std of epoch-to-epoch MI change: beta=1: {_values(_mi_jitter(ev, run, 1.0))}; "
                         f"beta=0.1: {_values(_mi_jitter(ev, run, 0.1))} nats"),
    ]


def cross_claims(runs: list[str]) -> list[Claim]:
    """The claims of Section V.B (cross), on the shortest run (paper: 10 epochs) and the longest
    (paper: 100 epochs) of the runs (names shortest first)."""
    short, long = runs[0], runs[-1]
    return [
        Claim("V.B.1/3", "Without MI regularization the generator needs about 40 epochs to cover the cross (long run).",
              lambda ev: about(_epochs(long, 0.0)(ev), 40), _said(long, [0.0])),
        Claim("V.B.1/3", "Moderate beta (0.001, 0.01, 0.1) gives stable, accurate outputs by epoch 10 (short run).",
              lambda ev: _all(ev, short, MODERATE, lambda e: e <= 10), _said(short, MODERATE)),
        Claim("V.B.3", "beta = 1 is noisy until epoch 6 and covers the cross at about epoch 7 (short run).",
              lambda ev: about(_epochs(short, 1.0)(ev), 7), _said(short, [1.0])),
        Claim("V.B.2", "Without regularization the MI estimate stabilizes only after about epoch 40 (long run).",
              lambda ev: about(_mi_stable(ev, long, 0.0), 40),
              lambda ev: f"MI stable from epoch (beta=0): {_list(_mi_stable(ev, long, 0.0))}"),
        Claim("V.B.2", "With moderate beta the MI estimate stabilizes near zero as early as epoch 1 (long run).",
              lambda ev: np.all([(_mi_stable(ev, long, b) <= 2) & (np.abs(_final_mi(ev, long, b)) <= MI_TOLERANCE)
                                 for b in MODERATE], axis=0),
              lambda ev: "; ".join(f"beta={b:g}: stable from {_list(_mi_stable(ev, long, b))}, final "
                                   f"{_values(_final_mi(ev, long, b))} nats" for b in MODERATE)),
        Claim("V.B.2", "beta = 1 makes the MI estimate unstable (more than beta = 0.1, long run).",
              lambda ev: _compare(_mi_jitter(ev, long, 0.1), _mi_jitter(ev, long, 1.0)),
              lambda ev: f"std of epoch-to-epoch MI change: beta=1: {_values(_mi_jitter(ev, long, 1.0))}; "
                         f"beta=0.1: {_values(_mi_jitter(ev, long, 0.1))} nats"),
    ]


CLAIMS = {"circle": circle_claims, "cross": cross_claims}
"""Each chapter's claims by data set name: fn(run names, shortest first) -> claims."""

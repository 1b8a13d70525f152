"""The conclusions page: every chapter's key results, read from its results.json.

The chapters judge the paper's claims themselves (`mine.gaussian.claims_table`,
`mine.gan_claims.claims_table`); this module only gathers those verdicts and headline
numbers into one overview, so that the conclusions never restate a number by hand.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

CHAPTERS = {
    "theory": "Theory (Section II)",
    "gaussian_losses": "Gaussian losses (Section III)",
    "circle_gan": "Circle GAN (Section IV)",
    "cross_gan": "Cross GAN (Section V)",
}
"""Short name of each chapter the conclusions read, and how the overview names it."""

VERDICTS = ("reproduced", "mixed", "not reproduced")


def require_chapters(results: Mapping[str, dict]) -> None:
    """A one-line error naming the chapters whose results.json is missing."""
    missing = [name for name in CHAPTERS if name not in results]
    if missing:
        raise ValueError(
            f"results.json missing for chapter(s) {', '.join(missing)}: run `python -m mine book` (or `run <chapter>`) first"
        )


def claims_overview(results: Mapping[str, dict]) -> pd.DataFrame:
    """Every claim the chapters tested: chapter, claim, verdict (as the chapter judged it).

    The Gaussian chapter judges each claim twice, on the value each loss reports (what the
    paper plotted: the verdict used here) and on the held-out DV yardstick (its own column).
    """
    rows = [
        {"chapter": CHAPTERS["gaussian_losses"], "claim": c["claim"], "verdict": c["verdict (own)"],
         "verdict on the held-out DV": c["verdict (heldout)"]}
        for c in results["gaussian_losses"]["gauss_claims"]
    ]
    for short, prefix in [("circle_gan", "circle"), ("cross_gan", "cross")]:
        rows += [
            {"chapter": CHAPTERS[short], "claim": c["claim"], "verdict": c["verdict"], "verdict on the held-out DV": ""}
            for c in results[short][f"{prefix}_table_claims"]
        ]
    return pd.DataFrame(rows)


def verdict_counts(overview: pd.DataFrame) -> dict[str, int]:
    """How many claims got each verdict (every verdict named, zero included)."""
    counts = overview["verdict"].value_counts()
    return {v: int(counts.get(v, 0)) for v in VERDICTS}


def convergence_overview(results: Mapping[str, dict], criterion: str = "coverage") -> pd.DataFrame:
    """Epochs to converge per beta (median over seeds, and seeds converged) beside the paper's
    number, for the circle (20 epochs) and the cross's longest run."""
    columns = {}
    for short, prefix in [("circle_gan", "circle"), ("cross_gan", "cross")]:
        table = pd.DataFrame(results[short][f"{prefix}_table_convergence"])
        table = table[(table["criterion"] == criterion) & (table["epochs"] == table["epochs"].max())]
        name = f"{prefix} ({int(table['epochs'].iloc[0])} epochs)"
        columns[f"{name}: measured"] = table.set_index("beta")["median"]
        columns[f"{name}: seeds converged"] = table.set_index("beta")["converged"]
        columns[f"{name}: paper"] = table.set_index("beta")["paper"]
    return pd.DataFrame(columns).rename_axis("beta").reset_index()


def best_heldout_loss(results: Mapping[str, dict], dim: int) -> tuple[str, float]:
    """The loss with the smallest held-out DV RMSE at `dim`, and that RMSE."""
    rmse = pd.DataFrame(results["gaussian_losses"]["gauss_rmse"])
    row = rmse[rmse["dim"] == dim].sort_values("heldout_rmse").iloc[0]
    return str(row["loss"]), float(row["heldout_rmse"])


def rmse_of(results: Mapping[str, dict], loss: str, dim: int, metric: str = "own") -> float:
    """RMSE of `loss` at `dim` on the loss's own reported value ("own") or the held-out DV."""
    rmse = pd.DataFrame(results["gaussian_losses"]["gauss_rmse"])
    return float(rmse[(rmse["dim"] == dim) & (rmse["loss"] == loss)][f"{metric}_rmse"].iloc[0])

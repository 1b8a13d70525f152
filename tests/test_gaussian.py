"""The chapter's summaries and claim verdicts on synthetic records with known answers."""

import numpy as np
import pandas as pd
import pytest

from mine.gaussian import ClaimThresholds, Grid, claims_table, summarize, verdict

# Deviation of each loss's records from the truth: (mean offset, alternating jitter).
OFFSETS = {
    "dv": (0.0, 0.2), "ema": (0.0, 0.1), "softplus": (-0.05, 0.05), "clipped": (0.5, 0.2),
    "logsumexp": (0.01, 0.0), "regularized": (0.011, 0.0), "noise": (0.4, 0.2),
}


def _frame(offsets=OFFSETS, dims=(3, 4), seeds=(0, 1, 2)):
    rows = []
    for dim in dims:
        for loss, (offset, jitter) in offsets.items():
            for seed in seeds:
                for step in range(1, 11):
                    value = 1.0 + offset + jitter * (-1) ** step + 0.001 * seed
                    rows.append(dict(dim=dim, rho=0.5, loss=loss, seed=seed, truth=1.0, step=step,
                                     own=value, heldout=1.0 - abs(offset), diverged=False))
    return pd.DataFrame(rows)


def test_summary_rmse_and_bias():
    summary = summarize(_frame(), last_fraction=0.5)
    row = summary[(summary["dim"] == 3) & (summary["loss"] == "clipped")].iloc[0]
    # window: steps 6..10, where the jitter is +, -, +, -, +
    dev = np.array([[0.5 + 0.2 * (-1) ** step + 0.001 * seed for step in range(6, 11)] for seed in range(3)])
    assert row["own_bias"] == pytest.approx(dev.mean(), abs=1e-9)
    assert row["own_rmse"] == pytest.approx(np.sqrt((dev**2).mean(1)).mean(), abs=1e-9)
    assert row["seeds"] == 3 and row["diverged"] == 0


def test_claim_verdicts_follow_the_numbers():
    claims = claims_table(_frame(), ClaimThresholds(close_ratio=1.25, slight_bias=0.1, top=2)).set_index("claim")
    verdicts = claims["verdict (own)"]
    assert verdicts.iloc[0] == "reproduced"  # log-sum-exp smallest
    assert verdicts.iloc[1] == "reproduced"  # regularized within 1.25x
    assert verdicts.iloc[2] == "reproduced"  # softplus: steadier than dv, bias -0.05
    assert verdicts.iloc[3] == "reproduced"  # clipped and noise the two worst
    assert verdicts.iloc[4] == "reproduced"  # EMA: smaller jitter, so smaller RMSE and sd than dv
    diverged = _frame()
    diverged.loc[diverged["loss"] == "ema", "diverged"] = True
    assert claims_table(diverged).set_index("claim")["verdict (own)"].iloc[4] == "not reproduced"
    far = _frame({**OFFSETS, "logsumexp": (1000.0, 0.0)})  # "close" is symmetric: not close to a runaway
    assert claims_table(far).set_index("claim")["verdict (own)"].iloc[1] == "not reproduced"


def test_verdict_rule_and_validation():
    assert [verdict(c) for c in ([True, True], [False], [True, False])] == ["reproduced", "not reproduced", "mixed"]
    with pytest.raises(ValueError, match="paper's seven"):
        claims_table(_frame({"dv": (0, 0.1)}))
    with pytest.raises(ValueError, match="loss must be one of"):
        Grid([3], [0.5], ["nope"], [0])
    with pytest.raises(ValueError, match="rho"):
        Grid([3], [1.0], ["dv"], [0])


@pytest.mark.slow
def test_run_grids_gives_the_same_records_in_processes():
    """Split into ensembles per dim and rho chunk and trained in two processes, every member
    records what it records when everything trains in one process."""
    from mine.gaussian import run_grids
    from mine.train import TrainConfig

    config = TrainConfig(steps=20, batch_size=32, contrast_batch=8, hidden=(16,), eval_every=10, eval_size=64, threads=1)
    grids = {"a": Grid([2], [0.5], ["dv", "infonce"], [0, 1]), "b": Grid([2, 3], [-0.5, 0.0, 0.5], ["ema"], [0])}
    one, _ = run_grids(grids, config, workers=1)
    two, _ = run_grids(grids, config, workers=2)
    for name in grids:
        np.testing.assert_allclose(one[name].frame[["own", "heldout"]], two[name].frame[["own", "heldout"]], atol=1e-3)


@pytest.mark.parametrize(
    "overrides, name",
    [({"losses": ["dv", "nope"]}, "losses"), ({"rho": 1.0}, "rho"), ({"steps": 0}, "steps"),
     ({"seeds": [0, -1]}, "seeds"), ({"decay": "linear"}, "decay"), ({"batch_size": 2.5}, "batch_size")],
)
def test_chapter_parameters_are_validated_before_running(overrides, name):
    from mine.params import ParameterError
    from mine.run import effective_params, find_notebook

    nb = find_notebook("gaussian_losses")
    assert effective_params(nb, profile="ci")  # the ci profile itself is valid
    with pytest.raises(ParameterError, match=name):
        effective_params(nb, overrides=overrides)

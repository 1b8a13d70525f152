"""The conclusions page's aggregation, on hand-made chapter results with known answers."""

import pytest

from mine import conclusions


def _results():
    gan_claims = lambda verdicts: [{"claim": f"c{i}", "verdict": v} for i, v in enumerate(verdicts)]  # noqa: E731
    convergence = lambda epochs: [  # noqa: E731
        {"beta": b, "criterion": c, "epochs": e, "median": f"{e}-{b}", "converged": "3/3", "paper": "2"}
        for e in epochs for c in ("coverage", "strict") for b in (0.0, 1.0)
    ]
    return {
        "theory": {},
        "gaussian_losses": {
            "gauss_claims": [
                {"claim": "g0", "verdict (own)": "reproduced", "verdict (heldout)": "mixed"},
                {"claim": "g1", "verdict (own)": "not reproduced", "verdict (heldout)": "not reproduced"},
            ],
            "gauss_rmse": [
                {"dim": 3, "loss": "dv", "own_rmse": 0.3, "heldout_rmse": 0.05},
                {"dim": 3, "loss": "ema", "own_rmse": 0.2, "heldout_rmse": 0.04},
            ],
        },
        "circle_gan": {"circle_table_claims": gan_claims(["reproduced", "mixed"]), "circle_table_convergence": convergence([20])},
        "cross_gan": {"cross_table_claims": gan_claims(["not reproduced"]), "cross_table_convergence": convergence([10, 100])},
    }


def test_missing_chapter_is_named():
    results = _results()
    del results["cross_gan"]
    with pytest.raises(ValueError, match="cross_gan"):
        conclusions.require_chapters(results)


def test_claims_overview_counts_every_chapter_once():
    overview = conclusions.claims_overview(_results())
    assert len(overview) == 5
    assert conclusions.verdict_counts(overview) == {"reproduced": 2, "mixed": 1, "not reproduced": 2}
    assert overview.loc[overview["claim"] == "g0", "verdict on the held-out DV"].item() == "mixed"


def test_convergence_overview_takes_the_longest_run_and_the_criterion():
    table = conclusions.convergence_overview(_results(), "coverage")
    assert list(table["beta"]) == [0.0, 1.0]
    assert list(table["cross (100 epochs): measured"]) == ["100-0.0", "100-1.0"]
    assert list(table["circle (20 epochs): measured"]) == ["20-0.0", "20-1.0"]


def test_best_heldout_loss_and_rmse_lookup():
    results = _results()
    assert conclusions.best_heldout_loss(results, 3) == ("ema", 0.04)
    assert conclusions.rmse_of(results, "dv", 3) == 0.3
    assert conclusions.rmse_of(results, "dv", 3, "heldout") == 0.05

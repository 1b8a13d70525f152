"""`mine.theory`: shapes, determinism, validation, and its closed forms against numerical truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from mine import theory
from mine.bounds import LOSSES, LossParams
from mine.data import CorrelatedGaussian

SOURCE = CorrelatedGaussian(2, 0.6)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_exact_estimates_shapes_and_determinism():
    first = theory.exact_estimates(SOURCE, [8, 32, 100], 5, gen())
    again = theory.exact_estimates(SOURCE, [8, 32, 100], 5, gen())
    assert set(first) == {"dv", "nwj"}
    for key in first:
        assert first[key].shape == (5, 3) and first[key].dtype == torch.float64
        assert torch.equal(first[key], again[key])


def test_exact_estimates_work_in_small_chunks(monkeypatch):
    monkeypatch.setattr(theory, "CHUNK_ELEMENTS", 64)  # several chunks per sample size
    out = theory.exact_estimates(SOURCE, [16, 50], 7, gen())
    assert out["dv"].shape == (7, 2) and torch.isfinite(out["dv"]).all()


def test_estimates_over_mi_shapes_and_infonce_ceiling():
    out = theory.estimates_over_mi(3, [0.5, 4.0, 10.0], 16, 20, gen())
    assert set(out) == {"dv", "nwj", "infonce"}
    assert all(v.shape == (20, 3) for v in out.values())
    assert (out["infonce"] <= math.log(16) + 1e-12).all()
    assert out["infonce"][:, -1].mean() > math.log(16) - 0.1  # saturated at 10 nats


def test_loss_table_has_one_row_per_registered_loss():
    table = theory.loss_table(SOURCE, 32, 10, gen(), LossParams(), stream_steps=5)
    assert list(table["loss"]) == list(LOSSES)
    assert {"role", "critic", "mean", "sd", "truth", "gap", "minus_dv"} <= set(table.columns)
    by_loss = table.set_index("loss")
    assert by_loss.loc["dv", "minus_dv"] == 0.0 and by_loss.loc["clipped", "minus_dv"] == 0.0
    assert by_loss.loc["nwj", "critic"] == "T* + 1"
    again = theory.loss_table(SOURCE, 32, 10, gen(), LossParams(), stream_steps=5)
    assert table.equals(again)


def test_loss_table_shows_the_papers_formula_offsets():
    table = theory.loss_table(SOURCE, 256, 40, gen(1), LossParams(), stream_steps=3).set_index("loss")
    # at its best critic the paper's softplus sits SOFTPLUS_GAP below DV (softplus(u) for log u)
    assert table.loc["softplus", "minus_dv"] == pytest.approx(-theory.SOFTPLUS_GAP, abs=0.05)
    # log-sum-exp as written: DV + max(t) - log m, and max(t) is well below log m here
    assert table.loc["logsumexp", "minus_dv"] < -1.0


def test_softplus_gap_is_the_best_any_critic_can_do():
    """Over critics T* + c (the best shape for each u = E_Q[e^T] = e^c), the paper's softplus value
    is I + c - softplus(e^c); its maximum over c is I - SOFTPLUS_GAP, attained at c = log(gap)."""
    c = np.linspace(-5, 3, 400_001)
    values = c - np.logaddexp(0.0, np.exp(c))
    assert values.max() == pytest.approx(-theory.SOFTPLUS_GAP, abs=1e-9)
    assert c[values.argmax()] == pytest.approx(theory.TIGHT_SHIFT["softplus"], abs=1e-4)
    assert theory.SOFTPLUS_GAP == pytest.approx(1.0 + math.exp(-theory.SOFTPLUS_GAP), abs=1e-12)  # u = 1 + e^-u


def test_every_loss_has_a_known_role():
    from mine.bounds import ROLES

    assert {spec.role for spec in LOSSES.values()} == set(ROLES)


def test_chi_square_matches_numerical_integration():
    rho = 0.6
    grid = np.linspace(-10, 10, 801)
    x, z = np.meshgrid(grid, grid, indexing="ij")
    ratio_sq = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]]).pdf(np.dstack([x, z])) ** 2 / (
        stats.norm.pdf(x) * stats.norm.pdf(z)
    )
    integral = integrate.trapezoid(integrate.trapezoid(ratio_sq, grid, axis=1), grid)  # E_Q[(p/q)^2]
    assert theory.chi_square(CorrelatedGaussian(1, rho)) == pytest.approx(integral - 1.0, rel=1e-6)


def test_moments_of_the_exact_critic_match_the_closed_forms():
    x, z = theory.draw(SOURCE, 1, 400_000, gen(2))
    t_joint, t_marg = theory.pair_scores(SOURCE, x, z)
    n = t_joint.numel()
    var_p = SOURCE.dim * SOURCE.rho**2
    assert t_joint.mean().item() == pytest.approx(SOURCE.true_mi(), abs=5 * math.sqrt(var_p / n))
    assert t_joint.var().item() == pytest.approx(var_p, rel=0.02)
    assert t_marg.exp().mean().item() == pytest.approx(1.0, abs=5 * math.sqrt(theory.chi_square(SOURCE) / n))


def test_predicted_sd_and_bias_match_the_measurement():
    n, repeats = 32, 20_000
    out = theory.exact_estimates(SOURCE, [n], repeats, gen(3))
    assert out["nwj"].std().item() == pytest.approx(theory.predicted_sd(SOURCE, n), rel=0.1)
    bias = out["dv"].mean().item() - SOURCE.true_mi()
    standard_error = out["dv"].std().item() / math.sqrt(repeats)
    assert bias > 5 * standard_error  # Jensen: the minibatch DV value is biased up
    # second-order delta method, up to 4 standard errors and its O(n^-2) remainder
    predicted = float(theory.predicted_dv_bias(SOURCE, n))
    assert bias == pytest.approx(predicted, abs=4 * standard_error + 2 * predicted**2)


def test_summarize_reports_spread_and_bias():
    values = torch.tensor([[1.0, 10.0], [3.0, float("nan")], [2.0, 12.0]])
    frame = theory.summarize(values, [2.0, 10.0], [5, 6], "n")
    assert list(frame["n"]) == [5, 6]
    np.testing.assert_allclose(frame["mean"], [2.0, 11.0])
    np.testing.assert_allclose(frame["bias"], [0.0, 1.0])
    assert list(frame["non_finite"]) == [0, 1]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: theory.exact_estimates(SOURCE, [], 5, gen()), "sample_sizes"),
        (lambda: theory.exact_estimates(SOURCE, [2], 5, gen()), "sample_sizes"),
        (lambda: theory.exact_estimates(SOURCE, [8], 1, gen()), "repeats"),
        (lambda: theory.exact_estimates("gauss", [8], 5, gen()), "source"),
        (lambda: theory.estimates_over_mi(2, [0.0], 8, 5, gen()), "mi_grid"),
        (lambda: theory.estimates_over_mi(0, [1.0], 8, 5, gen()), "dim"),
        (lambda: theory.loss_table(SOURCE, 2, 5, gen()), "batch_size"),
        (lambda: theory.loss_table(SOURCE, 8, 5, gen(), stream_steps=1), "stream_steps"),
    ],
)
def test_bad_arguments_get_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()

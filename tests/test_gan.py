"""The batched MI-regularized WGAN-GP: a member trained in the ensemble equals the same run
alone, runs are deterministic, divergence stays in its member, and bad settings fail clearly."""

import math

import numpy as np
import pytest
import torch

from mine import gan
from mine.data import Circle, Cross, train_test_split
from mine.gan import CODES, GANConfig, train_gan

TINY = dict(epochs=2, batch_size=32, critic_steps=2, hidden=(16,), eval_samples=200, snapshot_points=20, code_size=3)


@pytest.fixture(scope="module")
def data():
    shape = Circle()
    g = torch.Generator().manual_seed(0)
    train, test = train_test_split(shape.sample(320, g), 0.2, g)
    return shape, train, test


def _run(data, **settings):
    shape, train, test = data
    return train_gan(shape, train, test, GANConfig(**{**TINY, **settings}), floor_resamples=3)


@pytest.fixture(scope="module")
def ensemble(data):
    return _run(data, betas=(0.0, 0.5), seeds=(0, 1))


def test_history_shapes(ensemble):
    k, e = 4, TINY["epochs"]
    assert ensemble.betas.tolist() == [0.0, 0.0, 0.5, 0.5] and ensemble.seeds.tolist() == [0, 1, 0, 1]
    assert all(values.shape == (k, e) for values in ensemble.metrics.values())
    assert ensemble.samples.shape == (k, e, TINY["snapshot_points"], 2)
    assert len(ensemble.frame()) == k * e
    assert np.isnan(ensemble.diverged_epoch).all()
    assert all(np.isfinite(values).all() for values in ensemble.metrics.values())


def test_member_in_ensemble_equals_the_run_alone(data, ensemble):
    alone = _run(data, betas=(0.5,), seeds=(1,))
    k = ensemble.member(0.5, 1)
    for name, values in alone.metrics.items():
        np.testing.assert_allclose(ensemble.metrics[name][k], values[0], rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(ensemble.samples[k], alone.samples[0], rtol=1e-4, atol=1e-5)


def test_same_seed_same_numbers(data, ensemble):
    again = _run(data, betas=(0.0, 0.5), seeds=(0, 1))
    for name, values in ensemble.metrics.items():
        np.testing.assert_array_equal(again.metrics[name], values, err_msg=name)


def test_beta_changes_the_generator_but_not_the_start(ensemble):
    same_seed = [ensemble.member(0.0, 0), ensemble.member(0.5, 0)]
    assert not np.allclose(*ensemble.samples[same_seed, -1])


def test_a_diverged_member_is_reported_and_isolated(data):
    shape, train, test = data
    config = GANConfig(**TINY, betas=(0.0, 0.5), seeds=(0,))
    trainer = gan._Trainer(shape, train, test, config, torch.device("cpu"), floor_resamples=3)
    with torch.no_grad():
        trainer.gen.layers[0].weight[0].fill_(math.inf)  # member (beta 0, seed 0) overflows
    history = trainer.run(progress=False)
    alone = _run(data, betas=(0.5,), seeds=(0,))
    assert history.diverged_epoch[0] == 1 and np.isnan(history.diverged_epoch[1])
    assert all(np.isnan(values[0]).all() for values in history.metrics.values())
    np.testing.assert_allclose(history.metrics["swd"][1], alone.metrics["swd"][0], rtol=1e-4, atol=1e-5)


def test_other_losses_and_codes_run(data):
    for settings in [dict(mine_loss="infonce"), dict(mine_loss="clipped", code_kind="uniform"), dict(mine_loss="nwj")]:
        history = _run(data, betas=(1.0,), seeds=(0,), epochs=1, **settings)
        assert np.isfinite(history.metrics["mi_heldout"]).all(), settings


def test_codes():
    g = torch.Generator().manual_seed(0)
    onehot = CODES["categorical"].sample(50, 4, g)
    assert onehot.shape == (50, 4) and (onehot.sum(1) == 1).all() and set(onehot.unique().tolist()) == {0.0, 1.0}
    uniform = CODES["uniform"].sample(1000, 2, g)
    assert uniform.min() >= -1 and uniform.max() <= 1 and abs(uniform.mean()) < 0.1


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(betas=(0.1, -0.5)), "betas"),
        (dict(epochs=0), "epochs"),
        (dict(code_kind="gaussian"), "code_kind must be one of categorical, uniform"),
        (dict(mine_loss="nope"), "loss must be one of"),
        (dict(seeds=(1, 1)), "seeds"),
        (dict(hidden=()), "hidden"),
    ],
)
def test_bad_settings_fail_clearly(settings, message):
    with pytest.raises(ValueError, match=message):
        GANConfig(**settings)


def test_bad_data_fails_clearly(data):
    shape, train, test = data
    with pytest.raises(ValueError, match="shape"):
        train_gan(shape, train[:, :1], test)
    with pytest.raises(ValueError, match="batch_size"):
        train_gan(shape, train[:10], test, GANConfig(**TINY))


def test_cross_runs(data):
    shape = Cross()
    g = torch.Generator().manual_seed(0)
    train, test = train_test_split(shape.sample(320, g), 0.2, g)
    history = train_gan(shape, train, test, GANConfig(**{**TINY, "epochs": 1}, betas=(0.1,), seeds=(3,)), floor_resamples=3)
    assert history.floor["swd"] > 0 and np.isfinite(history.metrics["coverage"]).all()


@pytest.mark.parametrize("short", ["circle_gan", "cross_gan"])
@pytest.mark.parametrize(
    "overrides, name",
    [({"betas": [0.1, -0.5]}, "betas"), ({"epochs": 0}, "epochs"), ({"code_kind": "gaussian"}, "code_kind"),
     ({"mine_loss": "nope"}, "mine_loss")],
)
def test_chapter_parameters_are_validated_before_running(short, overrides, name):
    from mine.params import ParameterError
    from mine.run import effective_params, find_notebook

    nb = find_notebook(short)
    assert effective_params(nb, profile="ci")  # the ci profile itself is valid
    if short == "cross_gan" and name == "epochs":
        overrides = {"epochs": [10, 0]}
    with pytest.raises(ParameterError, match=name):
        effective_params(nb, overrides=overrides)


def test_sub_ensembles_merge_into_the_whole(data, ensemble):
    """Disjoint sub-ensembles, trained apart and merged, give the whole ensemble's history."""
    shape, train, test = data
    config = ensemble.config
    parts = [train_gan(shape, train, test, config, members=members, floor=ensemble.floor)
             for members in ([(0.5, 1), (0.0, 0)], [(0.5, 0), (0.0, 1)])]
    merged = gan.GANHistory.merge(parts)
    assert merged.betas.tolist() == ensemble.betas.tolist() and merged.seeds.tolist() == ensemble.seeds.tolist()
    for name, values in ensemble.metrics.items():
        np.testing.assert_allclose(merged.metrics[name], values, rtol=1e-4, atol=1e-5, err_msg=name)
    with pytest.raises(ValueError, match="every member"):
        gan.GANHistory.merge(parts[:1])
    with pytest.raises(ValueError, match="members"):
        train_gan(shape, train, test, config, members=[(0.3, 0)])


@pytest.mark.slow  # two fresh interpreters import torch (and torch._dynamo, on Adam's first use): about 3 s each
def test_training_in_two_processes_equals_one(data, ensemble):
    """`train_runs` in two worker processes (the 4 members split 2 + 2) returns the history of
    the whole ensemble trained in this process (bitwise here; the tolerance allows for other
    CPUs' vector widths, far below what a misplaced member would change)."""
    from mine.gan_chapter import train_runs

    shape, train, test = data
    settings = {k: v for k, v in TINY.items() if k != "epochs"}
    runs = train_runs(shape, train, test, [TINY["epochs"]], workers=2, floor_resamples=3,
                      betas=ensemble.config.betas, seeds=ensemble.config.seeds, **settings)
    two = runs.histories[str(TINY["epochs"])]
    assert two.config == ensemble.config and two.floor == ensemble.floor and runs.wall > 0
    assert two.betas.tolist() == ensemble.betas.tolist() and two.seeds.tolist() == ensemble.seeds.tolist()
    for name, values in ensemble.metrics.items():
        np.testing.assert_allclose(two.metrics[name], values, rtol=1e-6, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(two.samples, ensemble.samples, rtol=1e-6, atol=1e-7)

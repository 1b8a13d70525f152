"""Parameter declarations, parsing and validation (mine.params): no kernel involved."""

import pytest

from mine.params import (NotebookError, ParameterError, declarations, load_profile, merge, params_hash, parse_param,
                         parse_value, read_params)
from conftest import TINY


@pytest.fixture(scope="module")
def tiny():
    return read_params(TINY)


def test_reads_every_declaration(tiny):
    assert list(tiny) == ["n", "scale", "mode", "values", "flag", "sleep_s", "seed"]
    n, values, mode = tiny["n"], tiny["values"], tiny["mode"]
    assert (n.type, n.default, n.low, n.high, n.help) == ("int", 3, 1, 10, "how many integers to add")
    assert (values.type, values.is_list, values.low, values.high) == ("int", True, 0, 5)
    assert mode.choices == ("sum", "max")
    assert tiny["scale"].high is None and tiny["flag"].type == "bool"


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("-2.5", -2.5), ("1e-3", 1e-3), ("2E5", 2e5), ("true", True), ("dv", "dv"),
    ("[0.2, 0.5]", [0.2, 0.5]), ("'3'", "3"), ("false", False), ("yes", "yes"), ("off", "off"),
])
def test_values_read_like_yaml(text, value):
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("name, value, message", [
    ("n", -3, "parameter 'n' must be an integer in [1, 10]; got -3"),
    ("n", 2.5, "parameter 'n' must be an integer in [1, 10]; got 2.5"),
    ("n", True, "parameter 'n' must be an integer in [1, 10]; got true"),
    ("scale", -0.1, "parameter 'scale' must be a number >= 0; got -0.1"),
    ("scale", "big", "parameter 'scale' must be a number >= 0; got 'big'"),
    ("mode", "avg", "parameter 'mode' must be one of sum, max; got 'avg'"),
    ("values", [1, 9], "parameter 'values' must be a list of integers in [0, 5]; got 9 in [1, 9]"),
    ("values", [1, 2.5], "parameter 'values' must be a list of integers in [0, 5]; got 2.5 in [1, 2.5]"),
    ("values", 3, "parameter 'values' must be a list of integers in [0, 5]; got 3"),
    ("flag", 1, "parameter 'flag' must be a boolean (true or false); got 1"),
    ("flag", "yes please", "parameter 'flag' must be a boolean (true or false); got 'yes please'"),
])
def test_bad_values_get_one_line(tiny, name, value, message):
    with pytest.raises(ParameterError) as err:
        tiny[name].validate(value)
    assert str(err.value) == message and "\n" not in message


def test_good_values_are_canonical(tiny):
    assert tiny["scale"].validate(2) == 2.0 and isinstance(tiny["scale"].validate(2), float)
    assert tiny["values"].validate([]) == []
    assert tiny["n"].validate(10) == 10 and tiny["n"].validate(1) == 1  # ranges are inclusive
    assert tiny["flag"].validate(True) is True


def test_merge_layers_in_order(tiny):
    values = merge(tiny, ("in profile 'ci'", {"n": 2, "scale": 1}), ("given with -p", {"n": 5}))
    assert values["n"] == 5 and values["scale"] == 1.0 and values["mode"] == "sum"
    with pytest.raises(ParameterError, match=r"unknown parameter 'steps' \(in profile 'ci'\); known: n, scale"):
        merge(tiny, ("in profile 'ci'", {"steps": 1}))
    with pytest.raises(ParameterError, match="parameter 'n' must be"):
        merge(tiny, ("in profile 'ci'", {"n": 0}))


def test_dotted_choices_resolve_to_registry_keys():
    from mine.bounds import LOSSES

    losses = parse_param("losses", '["dv", "nwj"]', "losses to train [choices: mine.bounds.LOSSES]")
    assert losses.choices == tuple(LOSSES) and losses.is_list and losses.choices_source == "mine.bounds.LOSSES"
    with pytest.raises(ParameterError, match="each element one of dv, ema"):
        losses.validate(["dv", "nope"])


@pytest.mark.parametrize("default, help_text, problem", [
    ("3", "x [range: 5..]", "breaks its own annotation"),
    ("'a'", "x [range: 0..1]", "range needs a numeric default"),
    ("3", "x [range: 1-5]", "LO..HI"),
    ("'a'", "x [choices: mine.nothing.HERE]", "does not resolve"),
    ("[1, 'a']", "x", "share one type"),
    ("{'a': 1}", "x", "flat list"),
    ("f(3)", "x", "not a literal"),
])
def test_bad_declarations_are_notebook_errors(default, help_text, problem):
    with pytest.raises(NotebookError, match=problem):
        parse_param("x", default, help_text)


def test_literal_choices_follow_the_type():
    p = parse_param("batch", "64", "batch size [choices: 32, 64, 128]")
    assert p.choices == (32, 64, 128) and p.validate(128) == 128
    with pytest.raises(ParameterError, match="one of 32, 64, 128; got 100"):
        p.validate(100)
    assert parse_param("lr", "0.001", "x [choices: 1e-3, 1]").choices == (1e-3, 1.0)


def test_declarations_allow_any_help_text():
    source = ("# budgets\nsteps = 10  # I = 1.5 nats; # too [range: 1..]\nrhos = [\n    0.2,\n    0.5,\n]  # per rho\n"
              "name = 'a # b'\n")
    assert declarations(source) == [("steps", "10", "I = 1.5 nats; # too [range: 1..]"),
                                    ("rhos", "[\n    0.2,\n    0.5,\n]", "per rho"), ("name", "'a # b'", "")]


@pytest.mark.parametrize("source", ["import math\nx = 1", "x, y = 1, 2", "x = 1\nx += 1", "x = (1"])
def test_parameters_cell_holds_only_assignments(source):
    with pytest.raises(NotebookError):
        declarations(source)


def test_profiles(tmp_path):
    (tmp_path / "ci.yaml").write_text("theory:\n  samples: 1e3\n")
    assert load_profile(tmp_path, "ci") == {"theory": {"samples": 1000.0}}
    with pytest.raises(ParameterError, match="unknown profile 'full'; available: ci"):
        load_profile(tmp_path, "full")
    (tmp_path / "bad.yaml").write_text("- 1\n")
    with pytest.raises(ParameterError, match="must map notebook short names"):
        load_profile(tmp_path, "bad")


def test_hash_depends_on_values_not_order():
    assert params_hash({"a": 1, "b": [1, 2]}) == params_hash({"b": [1, 2], "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})
    assert len(params_hash({})) == 8

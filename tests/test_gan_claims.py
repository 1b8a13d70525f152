"""Claim verdicts on hand-made evidence: the paper's own story is reproduced, its opposite is not."""

import numpy as np
import pytest

from mine.gan_claims import CLAIMS, Evidence, about, claims_table, verdict

BETAS = (0.0, 0.001, 0.01, 0.1, 1.0)
E = 20


def _run(epochs: dict, quality_one: float = 0.8, jitter_one: float = 0.3, seeds: int = 3):
    rng = np.random.default_rng(0)
    quality = {b: np.full((seeds, E), 0.95) for b in BETAS}
    quality[1.0] = np.full((seeds, E), quality_one)
    mi = {b: 1.0 + 0.01 * rng.standard_normal((seeds, E)) for b in BETAS}
    mi[1.0] = 1.0 + jitter_one * rng.standard_normal((seeds, E))
    return {"epochs": {b: np.array(v, float) for b, v in epochs.items()}, "quality": quality, "mi_heldout": mi}


def test_verdict():
    assert verdict([1, 1, 1]) == "reproduced"
    assert verdict([0, 0]) == "not reproduced"
    assert verdict([1, 0, np.nan]) == "mixed"
    assert verdict([np.nan, np.nan]) == "not tested"
    assert about(np.array([5.0, 6.0, 12.0, 13.0, np.inf]), 8).tolist() == [False, True, True, False, False]


def test_circle_story_as_the_paper_tells_it_is_reproduced():
    paper = {0.0: [8, 8, 9], 0.001: [2, 2, 2], 0.01: [2, 2, 2], 0.1: [1, 1, 1], 1.0: [2, 2, 2]}
    table = claims_table(CLAIMS["circle"](["20"]), Evidence({"20": _run(paper)}))
    assert table["verdict"].tolist() == ["reproduced"] * len(table)


def test_circle_story_reversed_is_not_reproduced():
    reversed_ = {0.0: [2, 2, 2], 0.001: [np.inf] * 3, 0.01: [15, 15, 15], 0.1: [19, 19, 19], 1.0: [3, 3, 3]}
    table = claims_table(CLAIMS["circle"](["20"]), Evidence({"20": _run(reversed_, quality_one=0.99, jitter_one=0.0)}))
    assert table["verdict"].tolist() == ["not reproduced"] * len(table)


def test_cross_claims_on_mixed_evidence():
    short = _run({0.0: [np.inf] * 3, 0.001: [3, 4, 5], 0.01: [3, 4, 5], 0.1: [2, 2, np.inf], 1.0: [7, 7, 2]})
    long = _run({0.0: [40, 45, 90], 0.001: [5] * 3, 0.01: [5] * 3, 0.1: [5] * 3, 1.0: [9] * 3})
    table = claims_table(CLAIMS["cross"](["10", "100"]), Evidence({"10": short, "100": long})).set_index("section")
    verdicts = table["verdict"].tolist()
    assert verdicts[:3] == ["mixed", "mixed", "mixed"]
    assert verdicts[-1] == "reproduced"  # beta = 1 has the larger MI jitter


def test_missing_beta_is_not_tested():
    run = _run({b: [2, 2, 2] for b in BETAS})
    del run["epochs"][0.01]
    table = claims_table(CLAIMS["circle"](["20"]), Evidence({"20": run}))
    assert "not tested" in table["verdict"].tolist()


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_every_claim_has_a_section_and_text(name):
    for claim in CLAIMS[name](["10", "100"]):
        assert claim.section and claim.text.endswith(".")

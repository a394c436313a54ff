"""The rubric table and the one function that turns a score into a letter."""
from decimal import Decimal

import pytest

from listings import grading


@pytest.mark.parametrize("score, letter", [
    (100, "A"), (85, "A"), (85.0, "A"), (84.99, "B"), (70, "B"), (69.99, "C"),
    (55, "C"), (54.99, "D"), (0, "D"),
])
def test_letter_boundaries(score, letter):
    assert grading.score_to_grade(score) == letter


@pytest.mark.parametrize("kind", ["patent", "trademark"])
def test_weights_sum_to_100(kind):
    dims = grading.dimensions_for(kind)
    assert sum(d.weight for d in dims) == 100
    for d in dims:
        inds = [i for i in grading.indicators_for(kind) if i.dimension == d.key]
        assert inds, d.key
        assert sum(i.weight for i in inds) == 100, d.key
    assert sum(grading.effective_weights(kind).values()) == Decimal(100)


@pytest.mark.parametrize("kind", ["patent", "trademark"])
def test_three_dimensions_and_unique_keys(kind):
    assert len(grading.dimensions_for(kind)) == 3
    keys = grading.indicator_keys(kind)
    assert len(keys) == len(set(keys))
    assert {i.dimension for i in grading.indicators_for(kind)} == {d.key for d in grading.dimensions_for(kind)}


def test_patent_rubric_follows_cnipa_dimensions():
    keys = set(grading.indicator_keys("patent"))
    assert {"stability", "remaining_term", "encumbrance", "family", "design_around"} <= keys
    assert {"advancement", "maturity", "breadth", "substitutability", "independence"} <= keys
    assert {"market_application", "market_size", "competition", "policy_fit"} <= keys
    assert [d.key for d in grading.dimensions_for("patent")] == ["legal", "technical", "economic"]


def test_trademark_rubric_has_its_own_indicators():
    keys = set(grading.indicator_keys("trademark"))
    assert {"registration_status", "remaining_term", "coverage", "distinctiveness", "use_evidence",
            "dispute_history"} <= keys


def test_compute_all_tens_and_zeros():
    for kind in ("patent", "trademark"):
        keys = grading.indicator_keys(kind)
        dims, total = grading.compute(kind, dict.fromkeys(keys, 10))
        assert total == 100 and set(dims.values()) == {100}
        dims, total = grading.compute(kind, dict.fromkeys(keys, 0))
        assert total == 0


def test_compute_weights_exactly():
    keys = grading.indicator_keys("patent")
    scores = dict.fromkeys(keys, 0)
    scores["stability"] = 10  # 25% of legal, legal is 40%: 10 points
    dims, total = grading.compute("patent", scores)
    assert dims == {"legal": 25.0, "technical": 0.0, "economic": 0.0}
    assert total == 10.0


def test_boundary_score_exactly_85_is_a():
    # all 8.5 gives exactly 85 with Decimal arithmetic (float sums could fall to 84.999…)
    scores = dict.fromkeys(grading.indicator_keys("patent"), 8.5)
    _dims, total = grading.compute("patent", scores)
    assert total == 85.0 and grading.score_to_grade(total) == "A"

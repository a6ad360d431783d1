"""Trials are drawn as a grid in order, or at random reproducibly from a seed."""

import pytest

from scheduler.errors import BadRequest
from scheduler.sweeps.search import grid_size, random_draws, trial_settings
from scheduler.sweeps.space import Choice, IntRange, Space, Uniform


def test_a_grid_is_the_product_with_the_first_setting_changing_slowest():
    space: Space = {"hidden_size": Choice((4, 16)), "layers": IntRange(1, 3)}

    assert grid_size(space) == 6
    assert trial_settings(space, "grid", 0, 0) == [
        {"hidden_size": 4, "layers": 1},
        {"hidden_size": 4, "layers": 2},
        {"hidden_size": 4, "layers": 3},
        {"hidden_size": 16, "layers": 1},
        {"hidden_size": 16, "layers": 2},
        {"hidden_size": 16, "layers": 3},
    ]
    assert trial_settings(space, "grid", 0, 4) == trial_settings(space, "grid", 0, 0)[:4]


def test_a_grid_refuses_a_continuous_range_naming_it():
    with pytest.raises(BadRequest) as caught:
        trial_settings({"learning_rate": Uniform(0.1, 0.2)}, "grid", 0, 0)

    assert caught.value.errors[0].field == "space.learning_rate"
    assert caught.value.errors[0].rule == "grid_needs_discrete"


def test_the_same_seed_draws_the_same_trials_and_another_seed_others():
    space: Space = {
        "learning_rate": Uniform(0.0005, 0.05, log=True),
        "dropout": Uniform(0.0, 0.5),
        "hidden_size": Choice((4, 16, 32)),
        "layers": IntRange(1, 4),
    }

    first = random_draws(space, 7, 20)

    assert first == random_draws(space, 7, 20)
    assert first != random_draws(space, 8, 20)
    assert random_draws(space, 7, 5) == first[:5]
    for trial in first:
        assert 0.0005 <= trial["learning_rate"] <= 0.05
        assert 0.0 <= trial["dropout"] <= 0.5
        assert trial["hidden_size"] in (4, 16, 32)
        assert trial["layers"] in (1, 2, 3, 4)
    assert len({trial["learning_rate"] for trial in first}) == 20


def test_log_uniform_draws_spread_over_the_decades():
    draws = random_draws({"lr": Uniform(1e-4, 1e-1, log=True)}, 0, 300)
    below = sum(1 for d in draws if d["lr"] < 1e-3)

    # a third of the draws in each decade, give or take; a plain uniform puts 1 % there
    assert 60 < below < 140


@pytest.mark.parametrize(
    ("search", "max_trials", "field", "rule"),
    [
        ("bayes", 4, "search", "enum"),
        ("random", 0, "max_trials", "missing"),
        ("random", 1001, "max_trials", "less_than_equal"),
    ],
)
def test_a_bad_search_or_budget_is_refused_naming_the_field(search, max_trials, field, rule):
    with pytest.raises(BadRequest) as caught:
        trial_settings({"layers": IntRange(1, 2)}, search, 0, max_trials)

    assert (caught.value.errors[0].field, caught.value.errors[0].rule) == (field, rule)

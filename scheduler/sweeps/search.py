"""Which settings each trial of a sweep gets: every point of a grid, or seeded random draws.

Both are pure functions of the space, the seed and the count, so a scheduler that restarts
mid-sweep draws the same trials again, and two sweeps with the same seed compare like for like.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from typing import Any

from scheduler.errors import BadRequest
from scheduler.sweeps.space import Choice, Dimension, IntRange, Space, Uniform

SEARCHES = ("random", "grid")
# How many trials a sweep may draw: more than a trainer pool runs in a day.
MAX_TRIALS = 1000
# Significant digits a drawn number keeps: trial tables stay readable, and nothing is lost
# that a learning rate or a dropout could tell apart.
DIGITS = 6


def grid_size(space: Space) -> int:
    """How many points the grid of `space` has (choices and ints only)."""
    return math.prod(len(_grid_values(name, dim)) for name, dim in space.items())


def grid(space: Space) -> Iterator[dict[str, Any]]:
    """Every point of the grid, the first setting (by name) changing slowest, each setting's
    values in their written order."""
    names = list(space)
    axes = [_grid_values(name, space[name]) for name in names]
    return (dict(zip(names, point, strict=True)) for point in itertools.product(*axes))


def _grid_values(name: str, dimension: Dimension) -> list[Any]:
    match dimension:
        case Choice(values):
            return list(values)
        case IntRange(low, high):
            return list(range(low, high + 1))
    raise BadRequest.field(
        f"space.{name}",
        "grid_needs_discrete",
        f"space.{name}: a grid takes only choice and int settings; use search random for a "
        "uniform or loguniform range, or list the values as a choice",
    )


def random_draws(space: Space, seed: int, count: int) -> list[dict[str, Any]]:
    """`count` trials drawn with `random.Random(seed)`: the same seed draws the same trials."""
    rng = random.Random(seed)
    return [{name: _draw(rng, dim) for name, dim in space.items()} for _ in range(count)]


def _draw(rng: random.Random, dimension: Dimension) -> Any:
    match dimension:
        case Choice(values):
            return rng.choice(values)
        case IntRange(low, high):
            return rng.randint(low, high)
        case Uniform(low, high, log):
            value = (
                math.exp(rng.uniform(math.log(low), math.log(high)))
                if log
                else rng.uniform(low, high)
            )
            return min(high, max(low, float(f"{value:.{DIGITS}g}")))
    raise TypeError(f"not a dimension: {dimension!r}")


def trial_settings(space: Space, search: str, seed: int, max_trials: int) -> list[dict[str, Any]]:
    """The settings of every trial the sweep will run, in order; `BadRequest` naming the field.

    A grid runs at most `max_trials` of its points (all of them when it is 0); a random search
    needs `max_trials`.
    """
    if search not in SEARCHES:
        raise BadRequest.field(
            "search", "enum", f"search: must be random or grid, got {search[:40]!r}"
        )
    if max_trials > MAX_TRIALS:
        raise BadRequest.field(
            "max_trials",
            "less_than_equal",
            f"max_trials: must be at most {MAX_TRIALS}, got {max_trials}",
        )
    if search == "grid":
        size = grid_size(space)
        if size > MAX_TRIALS and max_trials == 0:
            raise BadRequest.field(
                "space",
                "too_large",
                f"space: the grid has {size} points, more than {MAX_TRIALS}; set max_trials",
            )
        return list(itertools.islice(grid(space), max_trials or size))
    if max_trials == 0:
        raise BadRequest.field(
            "max_trials", "missing", "max_trials: a random search needs how many trials to draw"
        )
    return random_draws(space, seed, max_trials)

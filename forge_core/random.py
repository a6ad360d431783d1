"""The engine's random number generator: one seedable source for every random op and init."""

from typing import Any

import numpy as np

_generator = [np.random.default_rng(0)]


def manual_seed(seed: int) -> None:
    """Seed every random draw of the engine (init, dropout, shuffling that uses it)."""
    _generator[0] = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    return _generator[0]


def get_rng_state() -> dict[str, Any]:
    """The generator's state, to store in a checkpoint."""
    return dict(_generator[0].bit_generator.state)


def set_rng_state(state: dict[str, Any]) -> None:
    _generator[0].bit_generator.state = state

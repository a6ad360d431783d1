"""Inverted dropout: zero each element with probability ``p`` and scale the survivors by
``1 / (1 - p)``, so evaluation needs no rescaling. The mask comes from the engine's seeded
generator, so a seeded run drops the same units every time."""

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.random import generator


class Dropout(Function):
    def forward(self, x: Array, p: float) -> Array:
        draws = generator().random(x.shape, dtype=x.dtype)
        scale = xp.asarray(1 / (1 - p) if p < 1 else 0, dtype=x.dtype)
        mask = (draws >= p) * scale
        self.saved = (mask,)
        return x * mask

    def backward(self, g: Array) -> Array:
        return g * self.saved[0]

"""The free-function forms (``fc.sin(x)``, ``fc.topk(x, 2)``) compute what PyTorch's do."""

import numpy as np
import pytest
import torch

import forge_core as fc

UNARY = [
    "sin",
    "cos",
    "tan",
    "floor",
    "ceil",
    "trunc",
    "round",
    "sign",
    "exp",
    "exp2",
    "erf",
    "abs",
    "sigmoid",
    "tanh",
]
POSITIVE = ["log", "log2", "sqrt", "rsqrt"]


@pytest.mark.parametrize("name", UNARY + POSITIVE)
def test_unary_functions_match_torch(name: str) -> None:
    x = np.random.default_rng(0).uniform(0.1, 3.0, (3, 4))
    if name in UNARY:
        x = x * np.where(np.arange(12).reshape(3, 4) % 2, 1, -1)
    mine = getattr(fc, name)(fc.tensor(x))
    theirs = getattr(torch, name)(torch.tensor(x))
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)


def test_functions_with_arguments_match_torch() -> None:
    x = np.random.default_rng(1).standard_normal((3, 4))
    a, t = fc.tensor(x), torch.tensor(x)
    pairs = [
        (fc.clamp(a, -0.5, 0.5), torch.clamp(t, -0.5, 0.5)),
        (fc.clip(a, min=0.0), torch.clip(t, min=0.0)),
        (fc.sum(a, 1), torch.sum(t, 1)),
        (fc.mean(a, axis=0), torch.mean(t, axis=0)),
        (fc.cumsum(a, 1), torch.cumsum(t, 1)),
        (fc.cumprod(a, 0), torch.cumprod(t, 0)),
        (fc.einsum("ij->ji", a), torch.einsum("ij->ji", t)),
        (fc.tril(a), torch.tril(t)),
        (fc.triu(a, 1), torch.triu(t, 1)),
        (fc.flip(a, [0]), torch.flip(t, [0])),
        (fc.roll(a, 1, 1), torch.roll(t, 1, 1)),
        (fc.tile(a, (2,)), torch.tile(t, (2,))),
        (fc.movedim(a, 0, 1), torch.movedim(t, 0, 1)),
        (fc.moveaxis(a, 1, 0), torch.moveaxis(t, 1, 0)),
        (
            fc.gather(a, 1, fc.tensor([[0], [2], [1]])),
            torch.gather(t, 1, torch.tensor([[0], [2], [1]])),
        ),
        (
            fc.scatter(a, 0, fc.tensor([[1, 0]]), value=9.0),
            torch.scatter(t, 0, torch.tensor([[1, 0]]), value=9.0),
        ),
        (
            fc.scatter_add(a, 0, fc.tensor([[1, 1]]), fc.ones(1, 2, dtype=fc.float64)),
            torch.scatter_add(t, 0, torch.tensor([[1, 1]]), torch.ones(1, 2, dtype=torch.float64)),
        ),
        (fc.index_select(a, 1, fc.tensor([3, 0])), torch.index_select(t, 1, torch.tensor([3, 0]))),
        (fc.masked_fill(a, a > 0, 0.0), torch.masked_fill(t, t > 0, 0.0)),
        (fc.sort(a).values, torch.sort(t).values),
        (fc.argsort(a, 0), torch.argsort(t, 0)),
        (fc.topk(a, 2).indices, torch.topk(t, 2).indices),
    ]
    for mine, theirs in pairs:
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)
    for mine_parts, their_parts in [
        (fc.split(a, 3, 1), torch.split(t, 3, 1)),
        (fc.chunk(a, 2), torch.chunk(t, 2)),
        (fc.unbind(a, 1), torch.unbind(t, 1)),
    ]:
        assert len(mine_parts) == len(their_parts)
        for mine, theirs in zip(mine_parts, their_parts, strict=True):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())

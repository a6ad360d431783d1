"""``Embedding``: PyTorch's init, lookup and scatter-add gradient, and ``padding_idx``."""

from typing import Any

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import compare_layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("index_shape", [(5,), (3, 4), (2, 2, 3)])
def test_embedding_matches_torch(
    index_shape: tuple[int, ...], padding_idx: Any, dtype: Any
) -> None:
    torch.manual_seed(0)
    # few rows, many lookups: indices repeat, so the gradient must add up, and padding occurs
    indices = np.random.default_rng(0).integers(0, 6, index_shape)
    indices.reshape(-1)[0] = 2
    reference = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    compare_layer(nn.Embedding(6, 3, padding_idx=padding_idx), reference, indices, dtype)


def test_embedding_gradient_matches_finite_differences() -> None:
    weight = fc.tensor(np.random.default_rng(1).standard_normal((5, 3)), requires_grad=True)
    indices = fc.tensor([[0, 1, 1], [4, 0, 2]])
    assert_gradients_match(lambda w: F.embedding(indices, w), weight)


def test_embedding_init_is_standard_normal_with_a_zero_padding_row() -> None:
    fc.manual_seed(0)
    layer = nn.Embedding(1000, 64, padding_idx=3)
    weight = layer.weight.data
    assert weight.dtype == np.float32 and weight.shape == (1000, 64)
    assert not weight[3].any()
    assert abs(weight.mean()) < 0.01 and abs(weight.std() - 1) < 0.01


def test_padding_row_gets_no_gradient_and_stays_put() -> None:
    layer = nn.Embedding(4, 2, padding_idx=0)
    out = layer(fc.tensor([[0, 1], [0, 0]]))
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], [0.0, 0.0])
    out.sum().backward()
    assert layer.weight.grad is not None
    np.testing.assert_array_equal(layer.weight.grad.numpy()[0], [0.0, 0.0])
    np.testing.assert_array_equal(layer.weight.grad.numpy()[1], [1.0, 1.0])


def test_embedding_rejects_bad_indices() -> None:
    layer = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index 4 is out of range for an embedding of 4 rows"):
        layer(fc.tensor([1, 4]))
    with pytest.raises(IndexError, match="index -1"):
        layer(fc.tensor([-1]))
    with pytest.raises(TypeError, match=r"Embedding\(.*integers"):
        layer(fc.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx 4"):
        nn.Embedding(4, 2, padding_idx=4)


def test_from_pretrained_copies_and_freezes() -> None:
    table = fc.tensor(np.arange(6.0).reshape(3, 2))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(fc.tensor([2])).numpy(), [[4.0, 5.0]])
    table.data[...] = 0
    assert frozen.weight.data.any()
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_state_dict_and_repr_match_torch() -> None:
    layer, reference = nn.Embedding(5, 2, padding_idx=1), torch.nn.Embedding(5, 2, padding_idx=1)
    assert list(layer.state_dict()) == list(reference.state_dict())
    assert repr(layer) == repr(reference)

"""``nn.Linear`` and ``nn.Identity`` against PyTorch, finite differences and PyTorch's init."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core import nn
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import compare_layer

DTYPES = [np.float32, np.float64]


@settings(max_examples=8, deadline=None)
@given(
    lead=st.sampled_from([(), (1,), (4,), (2, 3)]),
    in_features=st.integers(1, 6),
    out_features=st.integers(1, 6),
    bias=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_linear_matches_torch(
    lead: tuple[int, ...], in_features: int, out_features: int, bias: bool, dtype: type
) -> None:
    torch.manual_seed(0)
    x = np.random.default_rng(1).standard_normal((*lead, in_features))
    compare_layer(
        nn.Linear(in_features, out_features, bias=bias),
        torch.nn.Linear(in_features, out_features, bias=bias),
        x,
        dtype,
    )


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_match_finite_differences(bias: bool) -> None:
    rng = np.random.default_rng(0)
    x = fc.tensor(rng.standard_normal((3, 4)), dtype=fc.float64, requires_grad=True)
    w = fc.tensor(rng.standard_normal((2, 4)), dtype=fc.float64, requires_grad=True)
    if bias:
        b = fc.tensor(rng.standard_normal(2), dtype=fc.float64, requires_grad=True)
        assert_gradients_match(F.linear, x, w, b)
    else:
        assert_gradients_match(F.linear, x, w)


def test_linear_has_pytorch_layout_and_default_init() -> None:
    fc.manual_seed(0)
    layer = nn.Linear(400, 30)
    assert layer.weight.shape == (30, 400) and layer.bias is not None
    assert layer.bias.shape == (30,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    # kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)), and so does the bias init
    bound = 1 / math.sqrt(400)
    for values in (layer.weight.data, layer.bias.data):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_linear_without_bias_has_no_bias_entry() -> None:
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None
    assert list(layer.state_dict()) == ["weight"]
    assert list(torch.nn.Linear(3, 2, bias=False).state_dict()) == ["weight"]


def test_linear_accepts_dtype_and_keeps_float32() -> None:
    assert nn.Linear(2, 3, dtype=fc.float64).weight.dtype == np.float64
    layer = nn.Linear(3, 2)
    x = fc.randn(4, 3, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.dtype == np.float32
    assert x.grad is not None and x.grad.dtype == np.float32
    assert layer.weight.grad is not None and layer.weight.grad.dtype == np.float32


def test_linear_rejects_a_wrong_input_width_naming_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"Linear\(\(4, 5\)"):
        nn.Linear(3, 2)(fc.randn(4, 5))


def test_linear_repr() -> None:
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


def test_identity_returns_its_input_and_ignores_arguments() -> None:
    x = fc.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x

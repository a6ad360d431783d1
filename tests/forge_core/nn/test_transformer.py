"""The Transformer encoder layer and stack against PyTorch's with copied weights: outputs and
every gradient, post- and pre-norm, activations, masks and layouts."""

from typing import Any

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import compare_layer

DTYPES = [np.float32, np.float64]
N, L, D, H = 2, 5, 8, 2

CAUSAL = np.triu(np.ones((L, L), dtype=bool), 1)
PADDING = np.zeros((N, L), dtype=bool)
PADDING[1, 3:] = True


class Masked(nn.Module):
    """An encoder called with masks, so that ``compare_layer`` can drive it with one input."""

    def __init__(self, encoder: nn.Module, **call: Any) -> None:
        super().__init__()
        self.encoder = encoder
        self.call = call

    def forward(self, x: fc.Tensor) -> fc.Tensor:
        result: fc.Tensor = self.encoder(x, **self.call)
        return result


class TorchMasked(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module, **call: Any) -> None:
        super().__init__()
        self.encoder = encoder
        self.call = {
            k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in call.items()
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.encoder(x, **self.call)
        return result


def _randomise(reference: torch.nn.Module) -> None:
    """Non-trivial norm weights and biases (their defaults are ones and zeros)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for param in reference.parameters():
            param.add_(torch.randn(param.shape) * 0.1)


LAYER_OPTIONS: list[dict[str, Any]] = [
    {},
    {"batch_first": True},
    {"norm_first": True},
    {"activation": "gelu", "layer_norm_eps": 1e-3},
    {"bias": False, "norm_first": True, "batch_first": True},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=str)
def test_encoder_layer_matches_torch(options: dict[str, Any], dtype: Any) -> None:
    args: dict[str, Any] = {
        "d_model": D,
        "nhead": H,
        "dim_feedforward": 16,
        "dropout": 0.0,
        **options,
    }
    reference = torch.nn.TransformerEncoderLayer(**args)
    _randomise(reference)
    shape = (N, L, D) if options.get("batch_first") else (L, N, D)
    x = np.random.default_rng(0).standard_normal(shape)
    compare_layer(nn.TransformerEncoderLayer(**args), reference, x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_encoder_layer_takes_a_callable_activation(dtype: Any) -> None:
    args: dict[str, Any] = {"d_model": D, "nhead": H, "dim_feedforward": 16, "dropout": 0.0}
    reference = torch.nn.TransformerEncoderLayer(**args, activation=torch.tanh)
    _randomise(reference)
    layer = nn.TransformerEncoderLayer(**args, activation=F.tanh)
    x = np.random.default_rng(1).standard_normal((L, N, D))
    compare_layer(layer, reference, x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_encoder_layer_in_evaluation_skips_dropout_like_torch(dtype: Any) -> None:
    args: dict[str, Any] = {"d_model": D, "nhead": H, "dim_feedforward": 16, "dropout": 0.3}
    reference = torch.nn.TransformerEncoderLayer(**args).eval()
    _randomise(reference)
    layer = nn.TransformerEncoderLayer(**args).eval()
    compare_layer(layer, reference, np.random.default_rng(2).standard_normal((L, N, D)), dtype)


CALLS: list[dict[str, Any]] = [
    {"mask": CAUSAL, "is_causal": True},
    {"src_key_padding_mask": PADDING},
    {"mask": CAUSAL, "src_key_padding_mask": PADDING},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", CALLS, ids=lambda c: "+".join(c))
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_matches_torch(call: dict[str, Any], norm_first: bool, dtype: Any) -> None:
    args: dict[str, Any] = {
        "d_model": D,
        "nhead": H,
        "dim_feedforward": 16,
        "dropout": 0.0,
        "batch_first": True,
        "norm_first": norm_first,
    }
    reference = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(**args),
        num_layers=2,
        norm=torch.nn.LayerNorm(D),
        enable_nested_tensor=False,
    )
    _randomise(reference)
    layer = nn.TransformerEncoder(nn.TransformerEncoderLayer(**args), 2, norm=nn.LayerNorm(D))
    x = np.random.default_rng(3).standard_normal((N, L, D))
    compare_layer(Masked(layer, **call), TorchMasked(reference, **call), x, dtype)


def test_encoder_stack_copies_the_layer_so_each_has_its_own_weights() -> None:
    template = nn.TransformerEncoderLayer(D, H, dim_feedforward=16)
    encoder = nn.TransformerEncoder(template, num_layers=3)
    first, second = encoder.layers[0], encoder.layers[1]
    assert isinstance(first, nn.TransformerEncoderLayer)
    assert isinstance(second, nn.TransformerEncoderLayer)
    assert first is not template and first is not second
    assert first.self_attn.in_proj_weight is not second.self_attn.in_proj_weight
    with fc.no_grad():
        first.linear1.weight.fill_(0.0)
    assert (second.linear1.weight.detach().numpy() != 0).any()
    assert (template.linear1.weight.detach().numpy() != 0).any()
    assert list(encoder.state_dict()) == list(
        torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(D, H, dim_feedforward=16),
            num_layers=3,
            enable_nested_tensor=False,
        ).state_dict()
    )


def test_encoder_layer_gradients_match_finite_differences() -> None:
    layer = nn.TransformerEncoderLayer(D, H, dim_feedforward=6, dropout=0.0, norm_first=True)
    layer.double()
    x = fc.tensor(np.random.default_rng(5).standard_normal((3, 2, D)), requires_grad=True)
    assert_gradients_match(lambda x: layer(x, src_mask=CAUSAL[:3, :3]), x)


def test_dropout_in_training_makes_the_output_random() -> None:
    layer = nn.TransformerEncoderLayer(D, H, dim_feedforward=16, dropout=0.5)
    x = fc.randn(L, N, D)
    first, second = layer(x).detach().numpy(), layer(x).detach().numpy()
    assert not np.allclose(first, second)
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


def test_rejects_bad_options_and_input() -> None:
    with pytest.raises(ValueError, match="activation must be"):
        nn.TransformerEncoderLayer(D, H, activation="swish")
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H), num_layers=0)
    layer = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H), num_layers=1)
    with pytest.raises(ValueError, match="query must be shaped"):
        layer(fc.randn(L, N, D + 1))
    with pytest.raises(ValueError, match="is_causal"):
        layer(fc.randn(L, N, D), is_causal=True)
    with pytest.raises(ValueError, match="key_padding_mask must"):
        layer(fc.randn(L, N, D), src_key_padding_mask=np.zeros((N, L + 1), bool))

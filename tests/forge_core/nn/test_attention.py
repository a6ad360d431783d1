"""``MultiheadAttention`` against PyTorch's with copied weights: outputs, attention weights and
every gradient, for self- and cross-attention, masks, layouts and widths."""

from typing import Any

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import TORCH_DTYPES, assert_close

DTYPES = [np.float32, np.float64]
N, L, S, E, H = 2, 3, 4, 8, 2

_rng = np.random.default_rng(11)
CAUSAL = np.triu(np.ones((L, L), dtype=bool), 1)
BOOL_MASK = _rng.random((L, S)) > 0.6
BOOL_MASK[:, 1] = False  # every query sees key 1
FLOAT_MASK = _rng.standard_normal((N * H, L, S))
PADDING = np.zeros((N, S), dtype=bool)
PADDING[1, 2:] = True
FLOAT_PADDING = np.where(PADDING, -np.inf, _rng.standard_normal((N, S)))


def _torch_mask(mask: Any, dtype: torch.dtype) -> torch.Tensor | None:
    if mask is None:
        return None
    tensor = torch.from_numpy(mask)
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def compare_attention(
    options: dict[str, Any],
    shapes: tuple[tuple[int, ...], ...],
    dtype: Any,
    self_attention: bool = False,
    **call: Any,
) -> None:
    """Run both layers with the same weights on the same inputs, backpropagate the same random
    gradient into the output and the weights, and compare everything."""
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(**options).to(TORCH_DTYPES[dtype])
    with torch.no_grad():
        for param in reference.parameters():  # non-zero biases, so that their gradients count
            param.add_(torch.randn(param.shape, dtype=param.dtype) * 0.1)
    layer = nn.MultiheadAttention(**options)
    layer.to(dtype)
    layer.load_state_dict(reference.state_dict())
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if self_attention:
        arrays = arrays[:1] * 3
    ours = [fc.tensor(a, requires_grad=True) for a in arrays[: 1 if self_attention else 3]]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays[: 1 if self_attention else 3]]
    masks = {k: call.pop(k) for k in ("attn_mask", "key_padding_mask") if k in call}
    out, weights = layer(*(ours * 3 if self_attention else ours), **masks, **call)
    torch_masks = {k: _torch_mask(v, TORCH_DTYPES[dtype]) for k, v in masks.items()}
    out_ref, weights_ref = reference(
        *(theirs * 3 if self_attention else theirs), **torch_masks, **call
    )
    assert out.dtype == dtype
    assert_close(out.detach().numpy(), out_ref.detach().numpy(), dtype, "output")
    loss_ref = (out_ref * torch.tensor(probe := rng.standard_normal(out.shape))).sum()
    loss = (out * fc.tensor(probe.astype(dtype))).sum()
    if weights_ref is None:
        assert weights is None
    else:
        assert weights is not None and weights.dtype == dtype
        assert_close(weights.detach().numpy(), weights_ref.detach().numpy(), dtype, "weights")
        probe = rng.standard_normal(weights.shape)
        loss_ref = loss_ref + (weights_ref * torch.tensor(probe)).sum()
        loss = loss + (weights * fc.tensor(probe.astype(dtype))).sum()
    loss_ref.backward()
    loss.backward()
    for i, (mine, reference_input) in enumerate(zip(ours, theirs, strict=True)):
        assert mine.grad is not None and mine.grad.dtype == dtype
        assert_close(mine.grad.numpy(), reference_input.grad.numpy(), dtype, f"input {i} grad")
    ref_params = dict(reference.named_parameters())
    assert [n for n, _ in layer.named_parameters()] == list(ref_params)
    for name, param in layer.named_parameters():
        assert param.grad is not None and param.grad.dtype == dtype, name
        assert_close(param.grad.numpy(), ref_params[name].grad.numpy(), dtype, f"{name} grad")


BATCH_FIRST = ((N, L, E), (N, S, E), (N, S, E))
SEQUENCE_FIRST = ((L, N, E), (S, N, E), (S, N, E))
CASES: list[tuple[str, dict[str, Any], tuple[tuple[int, ...], ...], dict[str, Any]]] = [
    ("batch_first", {"batch_first": True}, BATCH_FIRST, {}),
    ("sequence_first", {}, SEQUENCE_FIRST, {}),
    ("unbatched", {}, ((L, E), (S, E), (S, E)), {}),
    ("no_bias", {"bias": False, "batch_first": True}, BATCH_FIRST, {}),
    ("kdim_vdim", {"kdim": 5, "vdim": 3}, ((L, N, E), (S, N, 5), (S, N, 3)), {}),
    ("per_head_weights", {}, SEQUENCE_FIRST, {"average_attn_weights": False}),
    ("no_weights", {"batch_first": True}, BATCH_FIRST, {"need_weights": False}),
    ("bool_mask", {"batch_first": True}, BATCH_FIRST, {"attn_mask": BOOL_MASK}),
    ("float_mask", {"batch_first": True}, BATCH_FIRST, {"attn_mask": FLOAT_MASK}),
    ("padding", {"batch_first": True}, BATCH_FIRST, {"key_padding_mask": PADDING}),
    ("float_padding", {}, SEQUENCE_FIRST, {"key_padding_mask": FLOAT_PADDING}),
    (
        "mask_and_padding",
        {"batch_first": True},
        BATCH_FIRST,
        {"attn_mask": BOOL_MASK, "key_padding_mask": PADDING, "need_weights": False},
    ),
    (
        "float_mask_and_bool_padding",
        {},
        SEQUENCE_FIRST,
        {"attn_mask": FLOAT_MASK, "key_padding_mask": PADDING},
    ),
]


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "options", "shapes", "call"), CASES, ids=[c[0] for c in CASES])
def test_matches_torch(
    name: str,
    options: dict[str, Any],
    shapes: tuple[tuple[int, ...], ...],
    call: dict[str, Any],
    dtype: Any,
) -> None:
    compare_attention({"embed_dim": E, "num_heads": H, **options}, shapes, dtype, **call)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("need_weights", [True, False])
def test_causal_self_attention_matches_torch(dtype: Any, need_weights: bool) -> None:
    options: dict[str, Any] = {"embed_dim": E, "num_heads": H, "batch_first": True}
    compare_attention(
        options,
        ((N, L, E),),
        dtype,
        self_attention=True,
        attn_mask=CAUSAL,
        is_causal=True,
        need_weights=need_weights,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_is_off_in_evaluation(dtype: Any) -> None:
    options: dict[str, Any] = {"embed_dim": E, "num_heads": H, "dropout": 0.5}
    torch_layer = torch.nn.MultiheadAttention(**options).to(TORCH_DTYPES[dtype]).eval()
    layer = nn.MultiheadAttention(**options).to(dtype).eval()
    layer.load_state_dict(torch_layer.state_dict())
    x = np.random.default_rng(1).standard_normal(SEQUENCE_FIRST[0])
    out, _ = layer(*[fc.tensor(x.astype(dtype))] * 3)
    expected, _ = torch_layer(*[torch.tensor(x.astype(dtype))] * 3)
    assert_close(out.detach().numpy(), expected.detach().numpy(), dtype, "output")


def test_dropout_in_training_drops_attention_weights() -> None:
    layer = nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True)
    x = fc.randn(N, L, E)
    _, weights = layer(x, x, x, average_attn_weights=False)
    values = weights.detach().numpy()
    assert (values == 0).mean() > 0.2
    # the survivors are softmax weights scaled by 1 / (1 - p)
    assert values.max() > 1.0 or (values.sum(-1) != 1).any()


def test_gradients_match_finite_differences() -> None:
    layer = nn.MultiheadAttention(E, H, kdim=5, vdim=3).double()
    rng = np.random.default_rng(4)
    inputs = [
        fc.tensor(rng.standard_normal(s), requires_grad=True)
        for s in ((L, N, E), (S, N, 5), (S, N, 3))
    ]

    def attend(q: fc.Tensor, k: fc.Tensor, v: fc.Tensor) -> fc.Tensor:
        out, weights = layer(q, k, v, key_padding_mask=PADDING)
        return out.sum() + (weights * weights).sum()

    assert_gradients_match(attend, *inputs)


def test_parameters_initialise_like_torch() -> None:
    layer = nn.MultiheadAttention(E, H)
    assert layer.in_proj_bias is not None and layer.out_proj.bias is not None
    np.testing.assert_array_equal(layer.in_proj_bias.detach().numpy(), 0)
    np.testing.assert_array_equal(layer.out_proj.bias.detach().numpy(), 0)
    bound = np.sqrt(6 / (E + 3 * E))
    assert np.abs(layer.in_proj_weight.detach().numpy()).max() <= bound
    assert list(layer.state_dict()) == list(torch.nn.MultiheadAttention(E, H).state_dict())


@pytest.mark.parametrize(
    ("shapes", "call", "message"),
    [
        (((N, L, 6), (N, S, E), (N, S, E)), {}, "query must be shaped"),
        (((N, L, E), (N, S, E), (N, S + 1, E)), {}, "differ in batch or length"),
        (((N, L, E), (N + 1, S, E), (N + 1, S, E)), {}, "differ in batch size"),
        (((N, L, E), (S, E), (S, E)), {}, "key must be shaped"),
        (BATCH_FIRST, {"attn_mask": np.zeros((L, L), bool)}, "attn_mask must be shaped"),
        (BATCH_FIRST, {"key_padding_mask": np.zeros((N, L), bool)}, "key_padding_mask must"),
        (BATCH_FIRST, {"key_padding_mask": np.zeros((N, S), np.int64)}, "boolean or floating"),
        (BATCH_FIRST, {"is_causal": True}, "is_causal"),
    ],
)
def test_rejects_bad_input_naming_the_argument(
    shapes: tuple[tuple[int, ...], ...], call: dict[str, Any], message: str
) -> None:
    layer = nn.MultiheadAttention(E, H, batch_first=True)
    with pytest.raises(ValueError, match=message):
        layer(*(fc.randn(*s) for s in shapes), **call)


@pytest.mark.parametrize(
    ("args", "message"),
    [((8, 3), "multiple of num_heads"), ((8, 0), "multiple"), ((8, 2, 1.5), "dropout")],
)
def test_rejects_bad_options(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nn.MultiheadAttention(*args)


def test_sequence_first_layout_checks_the_batch_on_dim_one() -> None:
    layer = nn.MultiheadAttention(E, H)
    with pytest.raises(ValueError, match="differ in batch size"):
        layer(fc.randn(L, N, E), fc.randn(S, N + 1, E), fc.randn(S, N + 1, E))
    out, weights = layer(fc.randn(L, N, E), fc.randn(S, N, E), fc.randn(S, N, E))
    assert out.shape == (L, N, E) and weights is not None and weights.shape == (N, L, S)

"""The fused scaled dot-product attention op: gradients, PyTorch parity, masks, dropout."""

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import forge_core as fc
from forge_core.nn import functional as F
from forge_core.ops import registry as ops
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.torch_parity import OpCase, check_against_torch, check_gradients

_rng = np.random.default_rng(7)
# (L, S) = (3, 5): True where the query may attend; row 1 sees a single key
BOOL_MASK = _rng.random((3, 5)) > 0.4
BOOL_MASK[:, 0] = True
BOOL_MASK[1] = [False, False, True, False, False]
FLOAT_MASK = _rng.standard_normal((2, 1, 3, 5))
# per-batch key padding, broadcast over heads and queries
PADDING = np.ones((2, 1, 1, 5), dtype=bool)
PADDING[1, ..., 3:] = False


def _grad(t: fc.Tensor) -> np.ndarray:
    assert t.grad is not None
    return t.grad.numpy()


def _case(name: str, shapes: tuple[tuple[int, ...], ...], **options: Any) -> OpCase:
    mask = options.pop("attn_mask", None)

    def forge(q: fc.Tensor, k: fc.Tensor, v: fc.Tensor) -> fc.Tensor:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **options)

    def reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        torch_mask = None if mask is None else torch.from_numpy(mask)
        if torch_mask is not None and torch_mask.is_floating_point():
            torch_mask = torch_mask.to(q.dtype)
        return TF.scaled_dot_product_attention(q, k, v, attn_mask=torch_mask, **options)

    return OpCase(name, forge, reference, shapes)


HEADS = ((2, 3, 3, 4), (2, 3, 5, 4), (2, 3, 5, 6))
CASES = [
    _case("plain", HEADS),
    _case("scale", HEADS, scale=0.3),
    _case("causal_square", ((2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 3)), is_causal=True),
    _case("causal_wide", HEADS, is_causal=True),
    _case("bool_mask", HEADS, attn_mask=BOOL_MASK),
    _case("float_mask", HEADS, attn_mask=FLOAT_MASK),
    _case("key_padding", HEADS, attn_mask=PADDING),
    _case("no_heads", ((3, 4), (5, 4), (5, 2))),
    _case("broadcast_batch", ((2, 3, 4), (1, 5, 4), (2, 5, 6))),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


def test_matches_the_same_attention_built_from_primitive_ops() -> None:
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in HEADS]
    probe = rng.standard_normal((2, 3, 3, 6))

    def composed(q: fc.Tensor, k: fc.Tensor, v: fc.Tensor) -> fc.Tensor:
        scores = q @ k.transpose(-1, -2) * 0.5 + fc.tensor(FLOAT_MASK)
        return scores.softmax(-1) @ v

    def fused(q: fc.Tensor, k: fc.Tensor, v: fc.Tensor) -> fc.Tensor:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=FLOAT_MASK, scale=0.5)

    grads = []
    for fn in (composed, fused):
        inputs = [fc.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*inputs)
        out.backward(fc.tensor(probe))
        grads.append([out.detach().numpy(), *[_grad(t) for t in inputs]])
    for mine, theirs in zip(grads[1], grads[0], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def _packed(x: fc.Tensor) -> fc.Tensor:
    """(N, H, L, D) as (N, L, H·D), the layout the op reads with ``heads``."""
    n, h, length, d = x.shape
    return x.transpose(1, 2).reshape(n, length, h * d)


def _attend_packed(q: fc.Tensor, k: fc.Tensor, v: fc.Tensor) -> fc.Tensor:
    out, weights = ops.ScaledDotProductAttention.apply(
        _packed(q),
        _packed(k),
        _packed(v),
        mask=PADDING,
        dropout_p=0.0,
        scale=0.7,
        need_weights=True,
        heads=q.shape[1],
    )
    return out.sum(-1, keepdim=True) * out + weights.sum()


def test_packed_heads_match_the_four_dim_layout() -> None:
    rng = np.random.default_rng(6)
    inputs = [fc.tensor(rng.standard_normal(s), requires_grad=True) for s in HEADS]

    def four_dim(q: fc.Tensor, k: fc.Tensor, v: fc.Tensor) -> fc.Tensor:
        out, weights = ops.ScaledDotProductAttention.apply(
            q, k, v, mask=PADDING, dropout_p=0.0, scale=0.7, need_weights=True
        )
        packed = _packed(out)
        return packed.sum(-1, keepdim=True) * packed + weights.sum()

    results = []
    for fn in (_attend_packed, four_dim):
        out = fn(*inputs)
        out.backward(fc.tensor(np.ones(out.shape)))
        results.append([out.detach().numpy(), *[_grad(t).copy() for t in inputs]])
        for t in inputs:
            t.grad = None
    for mine, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def test_packed_heads_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(8)
    inputs = [fc.tensor(rng.standard_normal(s), requires_grad=True) for s in HEADS]
    assert_gradients_match(_attend_packed, *inputs)


def test_a_query_that_may_see_no_key_gets_zeros_and_no_gradient() -> None:
    mask = np.ones((3, 5), dtype=bool)
    mask[2] = False
    q, k, v = (fc.randn(*s, requires_grad=True) for s in ((3, 4), (5, 4), (5, 2)))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out.sum().backward()
    assert np.isfinite(out.detach().numpy()).all()
    np.testing.assert_array_equal(out.detach().numpy()[2], 0)
    np.testing.assert_array_equal(_grad(q)[2], 0)


def test_dropout_zeroes_weights_and_keeps_the_expected_output() -> None:
    rng = np.random.default_rng(0)
    q, k = fc.tensor(rng.standard_normal((1, 4, 4))), fc.tensor(rng.standard_normal((1, 6, 4)))
    v = fc.tensor(np.ones((1, 6, 1)))
    fc.manual_seed(0)
    outs = np.stack(
        [F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy() for _ in range(2000)]
    )
    # with v = 1 the output is the sum of the kept, rescaled weights: 1 on average, not always
    assert outs.std() > 0.1
    np.testing.assert_allclose(outs.mean(), 1.0, atol=0.03)


def test_dropout_gradients_match_finite_differences_with_a_fixed_mask() -> None:
    rng = np.random.default_rng(2)
    inputs = [fc.tensor(rng.standard_normal(s), requires_grad=True) for s in HEADS]

    def attend(q: fc.Tensor, k: fc.Tensor, v: fc.Tensor) -> fc.Tensor:
        fc.manual_seed(5)  # the same dropout mask on every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)

    assert_gradients_match(attend, *inputs)


def test_float32_stays_float32_with_a_float64_mask() -> None:
    q, k = fc.randn(2, 3, 4, requires_grad=True), fc.randn(2, 5, 4)
    out = F.scaled_dot_product_attention(q, k, k, attn_mask=FLOAT_MASK[0])
    out.sum().backward()
    assert out.dtype == np.float32 and q.grad is not None and q.grad.dtype == np.float32


@pytest.mark.parametrize(
    ("shapes", "options", "message"),
    [
        (((3, 4), (5, 3), (5, 2)), {}, "same E"),
        (((4,), (5, 4), (5, 2)), {}, "query and key"),
        (((3, 4), (5, 4), (4, 2)), {}, "value"),
        (((3, 4), (5, 4), (5, 2)), {"attn_mask": np.ones((3, 4), bool)}, "attn_mask of shape"),
        (((3, 4), (5, 4), (5, 2)), {"attn_mask": FLOAT_MASK}, "attn_mask of shape"),
        (((3, 4), (5, 4), (5, 2)), {"attn_mask": np.ones((3, 5), np.int64)}, "boolean or float"),
        (((3, 4), (5, 4), (5, 2)), {"attn_mask": BOOL_MASK, "is_causal": True}, "not both"),
        (((3, 4), (5, 4), (5, 2)), {"dropout_p": 1.5}, "dropout_p"),
    ],
)
def test_rejects_bad_input_naming_the_argument(
    shapes: tuple[tuple[int, ...], ...], options: dict[str, Any], message: str
) -> None:
    q, k, v = (fc.randn(*s) for s in shapes)
    with pytest.raises(ValueError, match=message):
        F.scaled_dot_product_attention(q, k, v, **options)

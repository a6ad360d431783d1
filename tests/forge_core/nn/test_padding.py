"""``F.pad`` in every mode: finite differences, PyTorch (forward and input gradient, float32
and float64), the pad-tuple order, and the errors PyTorch raises as clear messages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
import forge_core.nn.functional as F
from tests.forge_core.torch_parity import OpCase, check_against_torch, check_gradients


def case(name: str, shape: tuple[int, ...], pad: tuple[int, ...], mode: str, **kw: Any) -> OpCase:
    return OpCase(
        f"{mode}_{name}",
        lambda x: F.pad(x, pad, mode, **kw),
        lambda x: torch.nn.functional.pad(x, pad, mode, **kw),
        (shape,),
    )


CASES = [
    case("last_dim", (2, 3, 5), (1, 2), "constant"),
    case("two_dims_value", (2, 3, 4, 5), (2, 0, 1, 3), "constant", value=1.5),
    case("negative_crops", (2, 3, 4, 5), (-1, 2, 1, -2), "constant"),
    case("four_dims", (2, 3, 4, 5), (1, 1, 0, 2, 1, 0, 2, 1), "constant"),
    case("1d", (2, 3, 5), (2, 3), "reflect"),
    case("2d", (2, 3, 4, 5), (1, 2, 3, 1), "reflect"),
    case("unbatched_2d", (3, 4, 5), (4, 0, 0, 3), "reflect"),
    case("3d", (1, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2), "reflect"),
    case("1d", (2, 3, 5), (2, 3), "replicate"),
    case("2d_wider_than_input", (2, 3, 3, 4), (5, 1, 0, 4), "replicate"),
    case("3d", (1, 2, 3, 4, 5), (1, 2, 0, 1, 2, 0), "replicate"),
    case("1d", (2, 3, 5), (5, 2), "circular"),
    case("2d", (2, 3, 4, 5), (1, 2, 4, 3), "circular"),
    case("3d", (1, 2, 3, 4, 5), (2, 1, 1, 0, 3, 3), "circular"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case: OpCase, dtype: Any) -> None:
    check_against_torch(case, dtype)


@settings(max_examples=20, deadline=None)
@given(
    mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
    size=st.tuples(st.integers(2, 6), st.integers(2, 6)),
    data=st.data(),
)
def test_random_widths_match_torch(mode: str, size: tuple[int, int], data: Any) -> None:
    low = -1 if mode == "constant" else 0
    highs = [s - 1 if mode == "reflect" else s for s in (size[1], size[1], size[0], size[0])]
    pad = tuple(data.draw(st.integers(low, high)) for high in highs)
    x = np.random.default_rng(0).standard_normal((2, 3, *size))
    check_against_torch(
        OpCase(
            "random",
            lambda t: F.pad(t, pad, mode),
            lambda t: torch.nn.functional.pad(t, pad, mode),
            (x.shape,),
        ),
        np.float64,
    )


def test_the_first_pair_pads_the_last_dim() -> None:
    out = F.pad(fc.ones(1, 2, 3), (0, 2))
    assert out.shape == (1, 2, 5)
    np.testing.assert_array_equal(out.data[0, 0], [1, 1, 1, 0, 0])
    assert F.pad(fc.ones(1, 2, 3), (1, 1, 0, 4)).shape == (1, 6, 5)


def test_float32_stays_float32() -> None:
    x = fc.randn(2, 3, 4, requires_grad=True)
    for mode in ("constant", "reflect", "replicate", "circular"):
        out = F.pad(x, (1, 2), mode)
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad is not None and x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "shape, pad, mode, message",
    [
        ((2, 3, 4), (1,), "constant", "pairs of ints"),
        ((2, 3, 4), (1.5, 1), "constant", "pairs of ints"),
        ((3, 4), (1, 1, 1, 1, 1, 1), "constant", "pads 3 dims but the input has only 2"),
        ((2, 3, 4), (-3, -2), "constant", "below zero"),
        ((2, 3, 4), (1, 1), "mirror", "mode must be one of"),
        ((2, 3, 4), (4, 0), "reflect", "at most 3"),
        ((2, 3, 4), (5, 0), "circular", "at most 4"),
        ((2, 3, 4), (-1, 0), "replicate", "no negative widths"),
        ((4,), (1, 1), "reflect", "last 1 to 3 dims"),
        ((1, 1, 1, 2, 3, 4), (1, 1), "replicate", "last 1 to 3 dims"),
    ],
)
def test_bad_arguments_raise_clear_errors(
    shape: tuple[int, ...], pad: Any, mode: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        F.pad(fc.zeros(*shape), pad, mode)


def test_a_value_outside_constant_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="takes no value"):
        F.pad(fc.zeros(2, 3, 4), (1, 1), "reflect", value=2.0)


def test_a_transposed_input_pads_like_a_contiguous_one() -> None:
    """The padded array keeps the input's memory order (a convolution's output is a transposed
    view); the values and gradients must not depend on it."""
    x = np.random.default_rng(0).standard_normal((5, 4, 3)).transpose(2, 1, 0)
    check_against_torch(
        OpCase(
            "transposed",
            lambda t: F.pad(t.transpose(0, 2), (2, -1, 1, 0)).transpose(0, 2),
            lambda t: torch.nn.functional.pad(t.transpose(0, 2), (2, -1, 1, 0)).transpose(0, 2),
            (x.shape,),
        ),
        np.float64,
    )
    out = F.pad(fc.randn(5, 4, 3).permute(2, 1, 0), (1, 1))
    assert not out.data.flags.c_contiguous and out.data.strides[0] < out.data.strides[2]

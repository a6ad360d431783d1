"""Views, indexing and joining: gradients, PyTorch parity, dtypes, errors."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from tests.forge_core.torch_parity import (
    OpCase,
    check_against_torch,
    check_gradients,
    compare_with_torch,
)

MASK = np.array(
    [[True, False, True, True], [False, False, False, False], [True, True, False, True]]
)
ROWS = np.array([0, 2, 0, 0])

# (name, index as forge takes it, index as PyTorch takes it, input shape)
INDICES = [
    ("int", 1, 1, (3, 4)),
    ("negative_int", -1, -1, (3, 4)),
    ("int_int", (1, 2), (1, 2), (3, 4)),
    ("slice", (slice(None), slice(1, 3)), (slice(None), slice(1, 3)), (3, 4)),
    ("slice_step", (slice(None, None, 2),), (slice(None, None, 2),), (5, 2)),
    ("none", (None, 1), (None, 1), (3, 4)),
    ("ellipsis", (Ellipsis, 0), (Ellipsis, 0), (2, 3, 4)),
    ("ellipsis_none", (0, Ellipsis, None), (0, Ellipsis, None), (2, 3, 4)),
    ("int_array_repeats", ROWS, torch.from_numpy(ROWS), (3, 4)),
    ("list_repeats", [0, 2, 0, 0], [0, 2, 0, 0], (3, 4)),
    ("tensor_index", fc.tensor(ROWS), torch.from_numpy(ROWS), (3, 4)),
    ("pairs_repeat", ([0, 2, 0], [1, 1, 1]), ([0, 2, 0], [1, 1, 1]), (3, 4)),
    ("int_and_array", (1, [0, 0, 3]), (1, [0, 0, 3]), (3, 4)),
    ("slice_and_array", (slice(None), [3, 3, 0]), (slice(None), [3, 3, 0]), (3, 4)),
    ("bool_mask", MASK, torch.from_numpy(MASK), (3, 4)),
    ("bool_tensor_mask", fc.tensor(MASK), torch.from_numpy(MASK), (3, 4)),
    ("bool_rows", np.array([True, False, True]), torch.tensor([True, False, True]), (3, 4)),
]

VIEWS = [
    ("reshape", lambda a: a.reshape(2, 6), (3, 4)),
    ("reshape_tuple", lambda a: a.reshape((4, -1)), (3, 4)),
    ("reshape_flat", lambda a: a.reshape(-1), (3, 4)),
    ("view", lambda a: a.view(4, 3), (3, 4)),
    ("view_0d", lambda a: a.view(1, 1), ()),
    ("permute", lambda a: a.permute(2, 0, 1), (2, 3, 4)),
    ("permute_tuple", lambda a: a.permute((1, 2, 0)), (2, 3, 4)),
    ("permute_negative", lambda a: a.permute(-1, 0, 1), (2, 3, 4)),
    ("transpose", lambda a: a.transpose(0, 1), (3, 4)),
    ("transpose_negative", lambda a: a.transpose(0, -1), (2, 3, 4)),
    ("T", lambda a: a.T, (3, 4)),
    ("squeeze_all", lambda a: a.squeeze(), (1, 3, 1, 2)),
    ("squeeze_dim", lambda a: a.squeeze(0), (1, 3, 1, 2)),
    ("squeeze_negative", lambda a: a.squeeze(-2), (1, 3, 1, 2)),
    ("squeeze_noop", lambda a: a.squeeze(1), (1, 3, 1, 2)),
    ("unsqueeze", lambda a: a.unsqueeze(0), (3, 4)),
    ("unsqueeze_middle", lambda a: a.unsqueeze(1), (3, 4)),
    ("unsqueeze_negative", lambda a: a.unsqueeze(-1), (3, 4)),
    ("flatten", lambda a: a.flatten(), (2, 3, 4)),
    ("flatten_from", lambda a: a.flatten(1), (2, 3, 4)),
    ("flatten_range", lambda a: a.flatten(0, 1), (2, 3, 4)),
    ("flatten_negative", lambda a: a.flatten(-2, -1), (2, 3, 4)),
    ("expand", lambda a: a.expand(2, 3, 4), (3, 1)),
    ("expand_keep", lambda a: a.expand(-1, 4), (3, 1)),
    ("expand_tuple", lambda a: a.expand((2, 3, 4)), (4,)),
    ("split_int", lambda a: _rejoin(a.split(2, dim=1), 1), (3, 5)),
    ("split_sizes", lambda a: _rejoin(a.split([1, 3, 1], dim=1), 1), (3, 5)),
    ("split_first", lambda a: _rejoin(a.split(2), 0), (5, 2)),
    ("chunk", lambda a: _rejoin(a.chunk(3), 0), (7, 2)),
    ("chunk_dim", lambda a: _rejoin(a.chunk(2, dim=-1), 1), (2, 5)),
]


def _rejoin(pieces, dim):
    """Weight each piece differently and join them, so every piece's gradient is checked."""
    scaled = [piece * (i + 1) for i, piece in enumerate(pieces)]
    if isinstance(scaled[0], torch.Tensor):
        return torch.cat(scaled, dim=dim)
    return fc.cat(scaled, dim=dim)


CASES = [
    *(OpCase(name, fn, fn, (shape,)) for name, fn, shape in VIEWS),
    *(
        OpCase(f"index_{name}", lambda a, i=fi: a[i], lambda a, i=ti: a[i], (shape,))
        for name, fi, ti, shape in INDICES
    ),
    OpCase(
        "index_negative_step",
        lambda a: a[::-1, ::-2],
        lambda a: a.flip(0).flip(1)[:, ::2],
        ((3, 4),),
    ),
    OpCase(
        "cat",
        lambda a, b, c: fc.cat([a, b, c]),
        lambda a, b, c: torch.cat([a, b, c]),
        ((2, 3), (1, 3), (3, 3)),
    ),
    OpCase(
        "cat_dim1",
        lambda a, b: fc.cat([a, b], dim=1),
        lambda a, b: torch.cat([a, b], dim=1),
        ((2, 3), (2, 1)),
    ),
    OpCase(
        "cat_negative",
        lambda a, b: fc.cat([a, b], dim=-1),
        lambda a, b: torch.cat([a, b], dim=-1),
        ((2, 2, 3), (2, 2, 2)),
    ),
    OpCase("cat_one", lambda a: fc.cat([a]), lambda a: torch.cat([a]), ((2, 3),)),
    OpCase(
        "stack",
        lambda a, b, c: fc.stack([a, b, c]),
        lambda a, b, c: torch.stack([a, b, c]),
        ((2, 3),) * 3,
    ),
    OpCase(
        "stack_last",
        lambda a, b: fc.stack([a, b], dim=-1),
        lambda a, b: torch.stack([a, b], dim=-1),
        ((2, 3),) * 2,
    ),
    OpCase(
        "stack_middle",
        lambda a, b: fc.stack([a, b], dim=1),
        lambda a, b: torch.stack([a, b], dim=1),
        ((2, 3),) * 2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


def test_split_and_chunk_sizes_match_torch() -> None:
    x, t = fc.randn(7, 2), torch.randn(7, 2)
    sizes: list[int | list[int]] = [2, 3, 7, 10, [1, 6]]
    for size in sizes:
        assert [p.shape for p in x.split(size)] == [tuple(p.shape) for p in t.split(size)]
    for chunks in [1, 2, 3, 4, 7]:
        assert [p.shape for p in x.chunk(chunks)] == [tuple(p.shape) for p in t.chunk(chunks)]


def test_a_piece_of_a_split_left_unused_gets_zero_gradient() -> None:
    x = fc.randn(4, 2, requires_grad=True)
    first, _ = x.split(2)
    first.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1], [1, 1], [0, 0], [0, 0]])


@settings(max_examples=15, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_random_index_arrays_with_repeats_match_torch(shape, seed, dtype, data) -> None:
    """Integer arrays with repeats and negative entries scatter-add their gradients."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(-shape[0], shape[0], size=data.draw(st.integers(1, 6)))
    x = rng.standard_normal(shape)
    compare_with_torch(lambda a: a[picks], lambda a: a[torch.from_numpy(picks)], [x], dtype)


@settings(max_examples=15, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_random_slices_match_torch(shape, dtype, data) -> None:
    index = tuple(
        slice(
            data.draw(st.integers(-n, n)),
            data.draw(st.integers(-n, n)),
            data.draw(st.integers(1, 3)),
        )
        for n in shape
    )
    x = np.random.default_rng(0).standard_normal(shape)
    compare_with_torch(lambda a: a[index], lambda a: a[index], [x], dtype)


def test_negative_step_slices() -> None:
    x = fc.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = x[::-1, 3:0:-2]
    np.testing.assert_array_equal(y.detach().numpy(), np.arange(12.0).reshape(3, 4)[::-1, 3:0:-2])
    (y * fc.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 6, 0, 5], [0, 4, 0, 3], [0, 2, 0, 1]])


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda: fc.randn(2, 3).reshape(4), "Reshape((2, 3) float32): cannot reshape"),
        (lambda: fc.cat([fc.randn(2, 3), fc.randn(2, 4)]), "Cat((2, 3) float32, (2, 4) float32)"),
        (
            lambda: fc.stack([fc.randn(2, 3), fc.randn(3, 2)]),
            "Stack((2, 3) float32, (3, 2) float32)",
        ),
        (lambda: fc.randn(3, 1).expand(2, 4), "Expand((3, 1) float32)"),
        (lambda: fc.randn(3).expand(-1, 3), "cannot be a new leading dim"),
        (lambda: fc.randn(2, 3)[5], "GetItem((2, 3) float32)"),
        (lambda: fc.randn(2, 3).permute(0, 0), "permute dims (0, 0)"),
        (lambda: fc.randn(5).split([2, 2]), "do not add up to 5"),
    ],
)
def test_errors_name_the_op_and_shapes(fn, message: str) -> None:
    with pytest.raises((ValueError, IndexError), match=re.escape(message)):
        fn()


def test_cat_and_stack_of_nothing_raise() -> None:
    with pytest.raises(ValueError, match="at least one"):
        fc.cat([])
    with pytest.raises(ValueError, match="at least one"):
        fc.stack([])


def test_views_of_float32_keep_float32_through_a_chain() -> None:
    x = fc.randn(2, 3, 4, requires_grad=True)
    y = x.permute(2, 0, 1).reshape(4, 6)[1:, ::2].unsqueeze(0).expand(2, 3, 3).flatten()
    assert y.dtype == fc.float32
    y.sum().backward()
    assert x.grad is not None and x.grad.dtype == fc.float32

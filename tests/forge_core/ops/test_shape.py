"""Views, indexing and joining: gradients, PyTorch parity, dtypes, errors."""

import re
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.torch_parity import (
    OpCase,
    check_against_torch,
    check_gradients,
    compare_with_torch,
    spaced,
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


# ----- issue #14: the rest of PyTorch's tensor ops -----
GATHER_INDEX = np.array([[0, 2, 2], [1, 0, 0]])  # (2, 3) into a (3, 4) input, repeats included
SCATTER_INDEX = np.array([[2, 0, 1], [0, 1, 2]])  # no repeats along dim 0 within a column
SELECT = np.array([2, 0, 2, 1])
FILL_MASK = np.array([[True, False, False, True]])


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)


def _f(a: np.ndarray) -> fc.Tensor:
    return fc.tensor(a)


def _case(name: str, make: Any, shapes: tuple[tuple[int, ...], ...]) -> OpCase:
    """One expression, ``make(module, to_tensor)``, written once for forge and PyTorch."""
    return OpCase(name, make(fc, _f), make(torch, _t), shapes, (spaced,) * len(shapes))


TENSOR_OP_CASES: list[tuple[str, object, tuple[tuple[int, ...], ...]]] = [
    ("flip", lambda m, c: lambda a: a.flip(0, 2), ((2, 3, 4),)),
    ("flip_fn", lambda m, c: lambda a: m.flip(a, (-1,)), ((3, 4),)),
    ("roll", lambda m, c: lambda a: a.roll(1, 0), ((3, 4),)),
    ("roll_dims", lambda m, c: lambda a: a.roll((2, -1), (1, 0)), ((3, 4),)),
    ("roll_flat", lambda m, c: lambda a: m.roll(a, 5), ((3, 4),)),
    ("repeat", lambda m, c: lambda a: a.repeat(2, 1, 3), ((3, 4),)),
    ("repeat_same", lambda m, c: lambda a: a.repeat(2, 3), ((3, 4),)),
    ("tile", lambda m, c: lambda a: m.tile(a, (2,)), ((3, 4),)),
    ("tile_longer", lambda m, c: lambda a: a.tile((2, 1, 2)), ((3, 4),)),
    ("tril", lambda m, c: lambda a: a.tril(), ((4, 4),)),
    ("tril_offset", lambda m, c: lambda a: m.tril(a, -1), ((2, 3, 4),)),
    ("triu", lambda m, c: lambda a: a.triu(1), ((3, 5),)),
    ("triu_fn", lambda m, c: lambda a: m.triu(a, -2), ((5, 3),)),
    ("movedim", lambda m, c: lambda a: a.movedim(0, -1), ((2, 3, 4),)),
    ("movedim_many", lambda m, c: lambda a: m.movedim(a, (0, 1), (2, 0)), ((2, 3, 4),)),
    ("gather", lambda m, c: lambda a: a.gather(0, c(GATHER_INDEX)), ((3, 4),)),
    ("gather_dim1", lambda m, c: lambda a: m.gather(a, 1, c(GATHER_INDEX)), ((2, 4),)),
    ("gather_negative_dim", lambda m, c: lambda a: a.gather(-1, c(GATHER_INDEX)), ((3, 3),)),
    (
        "scatter_src",
        lambda m, c: lambda a, s: a.scatter(0, c(SCATTER_INDEX), s),
        ((3, 4), (2, 3)),
    ),
    ("scatter_value", lambda m, c: lambda a: a.scatter(1, c(SCATTER_INDEX), value=0.5), ((2, 4),)),
    (
        "scatter_add",
        lambda m, c: lambda a, s: a.scatter_add(0, c(GATHER_INDEX), s),
        ((3, 4), (2, 3)),
    ),
    ("index_select", lambda m, c: lambda a: a.index_select(0, c(SELECT)), ((3, 4),)),
    ("index_select_dim1", lambda m, c: lambda a: m.index_select(a, 1, c(SELECT)), ((2, 3),)),
    ("masked_fill", lambda m, c: lambda a: a.masked_fill(c(FILL_MASK), -1.5), ((3, 4),)),
    ("masked_fill_fn", lambda m, c: lambda a: m.masked_fill(a, c(FILL_MASK), 0.0), ((3, 4),)),
    ("unbind", lambda m, c: lambda a: _rejoin(list(a.unbind(1)), 0), ((3, 4),)),
    ("unbind_fn", lambda m, c: lambda a: _rejoin(list(m.unbind(a)), 0), ((3, 2),)),
    ("split_fn", lambda m, c: lambda a: _rejoin(list(m.split(a, 2, 1)), 1), ((2, 5),)),
    ("chunk_fn", lambda m, c: lambda a: _rejoin(list(m.chunk(a, 3)), 0), ((7, 2),)),
    ("sort", lambda m, c: lambda a: a.sort().values, ((3, 4),)),
    ("sort_descending", lambda m, c: lambda a: m.sort(a, 0, descending=True)[0], ((3, 4),)),
    ("topk", lambda m, c: lambda a: a.topk(2).values, ((3, 4),)),
    ("topk_smallest", lambda m, c: lambda a: m.topk(a, 2, dim=0, largest=False)[0], ((3, 4),)),
    ("einsum_matmul", lambda m, c: lambda a, b: m.einsum("ij,jk->ik", a, b), ((2, 3), (3, 4))),
    ("einsum_implicit", lambda m, c: lambda a, b: m.einsum("ij,jk", a, b), ((2, 3), (3, 4))),
    (
        "einsum_batch",
        lambda m, c: lambda a, b: m.einsum("bij,bjk->bik", a, b),
        ((2, 2, 3), (2, 3, 2)),
    ),
    ("einsum_outer", lambda m, c: lambda a, b: m.einsum("i,j->ij", a, b), ((3,), (4,))),
    ("einsum_trace", lambda m, c: lambda a: m.einsum("ii", a), ((3, 3),)),
    ("einsum_diagonal", lambda m, c: lambda a: m.einsum("ii->i", a), ((3, 3),)),
    ("einsum_sum_out", lambda m, c: lambda a, b: m.einsum("ij,j->", a, b), ((2, 3), (3,))),
    ("einsum_own_sum", lambda m, c: lambda a, b: m.einsum("ij,k->ik", a, b), ((2, 3), (4,))),
    ("einsum_transpose", lambda m, c: lambda a: m.einsum("ijk->kji", a), ((2, 3, 4),)),
    (
        "einsum_ellipsis",
        lambda m, c: lambda a, b: m.einsum("...ij,...jk->...ik", a, b),
        ((2, 2, 3), (2, 3, 2)),
    ),
    (
        "einsum_three",
        lambda m, c: lambda a, b, d: m.einsum("ij,jk,kl->il", [a, b, d]),
        ((2, 3), (3, 4), (4, 2)),
    ),
    (
        "einsum_attention",
        lambda m, c: lambda q, k: m.einsum("bhqd,bhkd->bhqk", q, k),
        ((2, 2, 3, 4), (2, 2, 5, 4)),
    ),
]

TENSOR_CASES = [_case(name, make, shapes) for name, make, shapes in TENSOR_OP_CASES]


@pytest.mark.parametrize("case", TENSOR_CASES, ids=str)
def test_tensor_op_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TENSOR_CASES, ids=str)
def test_tensor_ops_match_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


def test_scatter_from_a_src_larger_than_the_index_matches_finite_differences() -> None:
    """PyTorch computes this forward but its backward fails on the shape of src's gradient."""
    x = fc.tensor(spaced(np.random.default_rng(0), (3, 4)), dtype=fc.float64, requires_grad=True)
    src = fc.tensor(np.arange(12.0).reshape(3, 4), dtype=fc.float64, requires_grad=True)
    index = fc.tensor(SCATTER_INDEX)
    expected = torch.from_numpy(x.detach().numpy()).scatter(0, _t(SCATTER_INDEX), _t(src.data))
    np.testing.assert_array_equal(x.scatter(0, index, src).detach().numpy(), expected.numpy())
    assert_gradients_match(lambda a, s: a.scatter(0, index, s), x, src)


def test_sort_argsort_and_topk_indices_match_torch() -> None:
    x = np.random.default_rng(3).standard_normal((4, 6))
    a, t = fc.tensor(x), torch.tensor(x)
    for dim in (0, 1, -1):
        for descending in (False, True):
            mine, theirs = a.sort(dim, descending), t.sort(dim, descending)
            np.testing.assert_array_equal(mine.indices.numpy(), theirs.indices.numpy())
            np.testing.assert_array_equal(mine.values.numpy(), theirs.values.numpy())
            np.testing.assert_array_equal(
                fc.argsort(a, dim, descending).numpy(), torch.argsort(t, dim, descending).numpy()
            )
        for k in (0, 1, 3):
            for largest in (False, True):
                mine, theirs = a.topk(k, dim, largest), t.topk(k, dim, largest)
                np.testing.assert_array_equal(mine.indices.numpy(), theirs.indices.numpy())
                np.testing.assert_array_equal(mine.values.numpy(), theirs.values.numpy())


def test_stable_sort_keeps_the_order_of_ties_like_torch() -> None:
    x = np.array([3, 1, 2, 1, 3, 2, 1])
    for descending in (False, True):
        np.testing.assert_array_equal(
            fc.tensor(x).sort(descending=descending, stable=True).indices.numpy(),
            torch.tensor(x).sort(descending=descending, stable=True).indices.numpy(),
        )


def test_ties_in_a_sort_send_the_gradient_where_torch_does() -> None:
    x = np.array([[1.0, 0.5, 1.0, 0.5], [2.0, 2.0, 2.0, -1.0]])
    compare_with_torch(
        lambda a: a.sort(stable=True).values * fc.tensor(np.arange(4.0)),
        lambda a: a.sort(stable=True).values * torch.arange(4.0, dtype=a.dtype),
        [x],
        np.float64,
    )


def test_unused_pieces_of_unbind_get_zero_gradient() -> None:
    x = fc.randn(3, 2, requires_grad=True)
    _, middle, _ = x.unbind()
    middle.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [1, 1], [0, 0]])


@settings(max_examples=20, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_random_movedim_flip_and_roll_match_torch(shape, dtype, data) -> None:
    ndim = len(shape)
    dims = st.integers(-ndim, ndim - 1)
    source = data.draw(st.lists(dims, max_size=ndim, unique_by=lambda d: d % ndim))
    target = data.draw(
        st.lists(dims, min_size=len(source), max_size=len(source), unique_by=lambda d: d % ndim)
    )
    flips = tuple(data.draw(st.lists(dims, max_size=ndim, unique_by=lambda d: d % ndim)))
    shifts = tuple(data.draw(st.lists(st.integers(-5, 5), min_size=1, max_size=ndim)))
    rolled = tuple(data.draw(st.permutations(range(ndim)))[: len(shifts)])
    x = np.random.default_rng(0).standard_normal(shape)

    def expression(a):
        return a.movedim(source, target).flip(flips).roll(shifts, rolled)

    compare_with_torch(expression, expression, [x], dtype)


@pytest.mark.parametrize(
    ("fn", "error", "message"),
    [
        (lambda: fc.randn(3, 4).gather(0, fc.tensor([[0.5]])), TypeError, "integer"),
        (lambda: fc.randn(3, 4).gather(0, fc.tensor([0, 1])), ValueError, "has 1 dims"),
        (lambda: fc.randn(3, 4).gather(1, fc.tensor([[4]])), IndexError, "out of range"),
        (lambda: fc.randn(3, 4).gather(1, fc.zeros(4, 1, dtype=fc.int64)), ValueError, "larger"),
        (lambda: fc.randn(3, 4).gather(2, fc.tensor([[0]])), IndexError, "dimension 2"),
        (
            lambda: fc.randn(3, 4).scatter(0, fc.tensor([[0, 1]]), fc.randn(1, 1)),
            ValueError,
            "smaller than index",
        ),
        (lambda: fc.randn(3, 4).scatter(0, fc.tensor([[0]])), ValueError, "src or value"),
        (lambda: fc.randn(3, 4).index_select(0, fc.tensor([[0]])), ValueError, "1-D integer"),
        (lambda: fc.randn(3, 4).index_select(0, fc.tensor([3])), IndexError, "IndexSelect"),
        (lambda: fc.randn(3, 4).masked_fill(fc.ones(3, 4), 0.0), TypeError, "boolean"),
        (lambda: fc.randn(3, 4).masked_fill(fc.ones(2, 4, dtype=bool), 0.0), ValueError, "Where"),
        (lambda: fc.randn(3, 4).repeat(2), ValueError, "at least 2 sizes"),
        (lambda: fc.randn(3).tril(), ValueError, "at least 2 dims"),
        (lambda: fc.randn(3).triu(), ValueError, "at least 2 dims"),
        (lambda: fc.randn(2, 3).movedim((0, 0), (1, 0)), ValueError, "repeated dims"),
        (lambda: fc.randn(2, 3).movedim((0, 1), 1), ValueError, "2 source dims"),
        (lambda: fc.randn(2, 3).roll((1, 2), 0), ValueError, "2 shifts but 1 dims"),
        (lambda: fc.randn(2, 3).roll((1, 2)), ValueError, "one shift"),
        (lambda: fc.randn(2, 3).flip(2), IndexError, "dimension 2"),
        (lambda: fc.randn(2, 3).topk(4), ValueError, "k=4 is out of range"),
        (lambda: fc.randn(2, 3).unbind(2), IndexError, "dimension 2"),
        (lambda: fc.einsum("ij,jk->ik", fc.randn(2, 3)), ValueError, "2 operands, got 1"),
        (lambda: fc.einsum("ij->i", fc.randn(2, 3, 4)), ValueError, "'ij' do not match"),
        (
            lambda: fc.einsum("ij,jk->ik", fc.randn(2, 3), fc.randn(4, 2)),
            ValueError,
            "Einsum((2, 3) float32, (4, 2) float32)",
        ),
        (lambda: fc.einsum("ij", np.ones((2, 2))), TypeError, "operands must be tensors"),
    ],
)
def test_bad_arguments_to_tensor_ops_are_rejected_with_a_clear_error(fn, error, message) -> None:
    with pytest.raises(error, match=re.escape(message)):
        fn()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("equation", "shapes"),
    [
        ("bij,bjk->bik", ((4, 32, 40), (4, 40, 32))),
        ("ii->i", ((96, 96),)),
        ("bhqd,bhkd->bhqk", ((2, 4, 32, 16), (2, 4, 32, 16))),
    ],
)
def test_einsum_on_operands_large_enough_for_a_planned_contraction_matches_torch(
    equation: str, shapes, dtype: type
) -> None:
    """Past a size einsum hands its contractions to BLAS; the result and gradients stay put."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    compare_with_torch(
        lambda *a: fc.einsum(equation, *a),
        lambda *a: torch.einsum(equation, *a),
        arrays,
        dtype,
        atol=1e-5 if dtype == np.float32 else None,
    )

"""``Tensor`` itself: facts, leaving the graph, in-place changes, and dtypes through every op."""

import operator
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core.autograd import Function
from forge_core.backend import Array
from tests.forge_core.ops import (
    test_activations,
    test_elementwise,
    test_matmul,
    test_reductions,
    test_shape,
)
from tests.forge_core.torch_parity import OpCase, compare_with_torch

ALL_CASES: list[OpCase] = [
    *test_elementwise.CASES,
    *test_activations.CASES,
    *test_reductions.CASES,
    *test_shape.CASES,
    *test_matmul.CASES,
    *test_elementwise.MATH_CASES,
    *test_activations.MORE_CASES,
    *test_reductions.SCAN_CASES,
    *test_shape.TENSOR_CASES,
]


# ----- facts -----


def test_shape_size_and_friends() -> None:
    t = fc.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 == t.dim() and t.numel() == 24 and len(t) == 2
    assert t.device == "cpu"
    assert [row.shape for row in t] == [(3, 4), (3, 4)]


def test_numbers_out_of_tensors() -> None:
    t = fc.tensor([[1.5, 2.0]])
    assert t.tolist() == [[1.5, 2.0]]
    assert fc.tensor([2.5]).item() == 2.5 and isinstance(fc.tensor([2.5]).item(), float)
    assert float(fc.tensor(2.5)) == 2.5 and int(fc.tensor(3)) == 3 and bool(fc.tensor(True))
    with pytest.raises(ValueError, match="one element"):
        t.item()


def test_numpy_of_a_tensor_that_requires_grad_asks_for_detach() -> None:
    t = fc.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)"):
        t.numpy()
    assert isinstance(t.detach().numpy(), np.ndarray)


def test_data_is_always_an_array() -> None:
    """NumPy returns scalars for 0-d arithmetic and full integer indexing; tensors do not."""
    x = fc.randn(2, 3, requires_grad=True)
    a, b = fc.tensor(2.0), fc.tensor(3.0, requires_grad=True)
    for t in [x[1, 2], a * b, a + 1, (a * b).exp(), x.sum(), x[0] @ x[1], a > 1, x.max()]:
        assert isinstance(t.data, np.ndarray) and t.shape == ()
    assert isinstance(x[1, 2].detach().numpy(), np.ndarray)


def test_repr_reads_like_torch() -> None:
    assert repr(fc.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(fc.tensor([1.0], requires_grad=True))
    assert "grad_fn=<Mul>" in repr(fc.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=float64" in repr(fc.tensor([1.0], dtype=fc.float64))


def test_tensors_hash_by_identity() -> None:
    a, b = fc.tensor([1.0]), fc.tensor([1.0])
    assert len({a, b, a}) == 2


def test_comparisons_give_boolean_tensors_outside_the_graph() -> None:
    x = fc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for op in [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]:
        result = op(x, 2.0)
        assert result.dtype == fc.bool_ and not result.requires_grad
        np.testing.assert_array_equal(result.numpy(), op(np.array([1.0, 2.0, 3.0]), 2.0))


def test_clone_copies_and_stays_in_the_graph() -> None:
    x = fc.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(y.data, x.data)
    (y * 3).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    plain = fc.tensor([1.0])
    assert not np.shares_memory(plain.clone().data, plain.data)


# ----- in-place changes -----


def test_item_assignment_and_in_place_fills() -> None:
    t = fc.zeros(2, 3)
    t[0, 1] = 5.0
    t[1] = fc.tensor([1.0, 2.0, 3.0])
    t[fc.tensor([True, False])] = 7.0
    np.testing.assert_array_equal(t.numpy(), [[7, 7, 7], [1, 2, 3]])
    t.zero_()
    assert not t.numpy().any()
    t.fill_(2.0).copy_(fc.ones(2, 3))
    np.testing.assert_array_equal(t.numpy(), np.ones((2, 3)))


def test_item_assignment_in_the_graph_is_refused() -> None:
    x = fc.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="not differentiable"):
        (fc.zeros(3, requires_grad=True) * 2)[0] = 1.0
    with fc.no_grad():
        x[0] = 1.0
    assert x.detach().numpy()[0] == 1.0


# ----- dtypes -----


def test_python_floats_and_creation_functions_default_to_float32() -> None:
    assert fc.tensor(1.0).dtype == fc.float32
    assert (fc.tensor([1.0, 2.0]) * 2.5).dtype == fc.float32
    assert (fc.tensor([1, 2]) * 2.5).dtype == fc.float32
    assert (fc.tensor([1.0]) + 1).dtype == fc.float32


@pytest.mark.parametrize("case", ALL_CASES, ids=str)
def test_float32_in_float32_out_and_float32_gradients(case: OpCase) -> None:
    inputs = [fc.tensor(a, dtype=fc.float32, requires_grad=True) for a in case.arrays()]
    out = case.forge(*inputs)
    assert out.dtype == fc.float32
    out.backward(fc.ones_like(out))
    for i, t in enumerate(inputs):
        assert t.grad is not None and t.grad.dtype == fc.float32, f"gradient of input {i}"


DTYPES = [np.float32, np.float64, np.int64, np.int32, np.bool_]
BINARY: list[tuple[str, Callable[..., object]]] = [
    ("add", operator.add),
    ("sub", operator.sub),
    ("mul", operator.mul),
    ("truediv", operator.truediv),
]


@pytest.mark.parametrize(("name", "op"), BINARY)
@pytest.mark.parametrize("left", DTYPES)
@pytest.mark.parametrize("right", [*DTYPES, 2, 2.5, True])
def test_result_dtypes_follow_torch(name, op, left, right) -> None:
    if name == "sub" and (left is np.bool_ or right is np.bool_ or right is True):
        pytest.skip("PyTorch has no boolean subtraction")
    a = np.array([1, 2]).astype(left)
    b = np.array([1, 1]).astype(right) if isinstance(right, type) else right
    expected = op(torch.from_numpy(a), torch.from_numpy(b) if isinstance(b, np.ndarray) else b)
    mine = op(fc.tensor(a), fc.tensor(b) if isinstance(b, np.ndarray) else b)
    assert mine.dtype == expected.numpy().dtype
    np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-6)


MIXED: list[tuple[str, Callable[[fc.Tensor, fc.Tensor], fc.Tensor]]] = [
    ("add", lambda a, b: a + b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a.abs() ** b),
    ("matmul", lambda a, b: a.reshape(2, 1) @ b.reshape(1, 2)),
    ("maximum", fc.maximum),
    ("where", lambda a, b: fc.where(np.array([True, False]), a, b)),
    ("cat", lambda a, b: fc.cat([a, b])),
    ("stack", lambda a, b: fc.stack([a, b])),
]


@pytest.mark.parametrize(("name", "op"), MIXED, ids=[name for name, _ in MIXED])
@pytest.mark.parametrize("swap", [False, True])
def test_float32_with_float64_gives_float64_and_each_input_its_own_gradient_dtype(
    name, op, swap
) -> None:
    single = fc.tensor([0.5, 1.5], dtype=fc.float32, requires_grad=True)
    double = fc.tensor([1.25, -0.5], dtype=fc.float64, requires_grad=True)
    # the float32 operand passes through an op first, so its gradient crosses a non-leaf
    a, b = (double, single * 1) if swap else (single * 1, double)
    out = op(a, b)
    assert out.dtype == fc.float64
    out.sum().backward()
    assert single.grad is not None and single.grad.dtype == fc.float32
    assert double.grad is not None and double.grad.dtype == fc.float64


@pytest.mark.parametrize(("name", "op"), BINARY)
@pytest.mark.parametrize(
    ("left", "right"),
    [
        ((3,), ()),
        ((), (3,)),
        ((), ()),
    ],
)
@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float64, np.float32)])
def test_a_0d_float_tensor_gives_way_to_one_with_dims_like_torch(
    name, op, left, right, dtypes
) -> None:
    a = np.full(left, 1.5, dtype=dtypes[0])
    b = np.full(right, 2.5, dtype=dtypes[1])
    expected = op(torch.tensor(a, requires_grad=True), torch.tensor(b))
    mine = op(fc.tensor(a, requires_grad=True), fc.tensor(b))
    assert mine.dtype == expected.detach().numpy().dtype


class _RecordGradDtype(Function):
    seen: ClassVar[list[np.dtype]] = []

    def forward(self, a: Array) -> Array:
        return a * 1

    def backward(self, g: Array) -> Array:
        _RecordGradDtype.seen.append(g.dtype)
        return g


def test_a_function_receives_gradients_in_its_outputs_dtype() -> None:
    x = fc.tensor([1.0, 2.0], requires_grad=True)
    y = _RecordGradDtype.apply(x)
    (y + fc.tensor([1.0, 1.0], dtype=fc.float64)).sum().backward()
    assert _RecordGradDtype.seen == [np.dtype(np.float32)]


def test_conversions() -> None:
    x = fc.tensor([1.7, -2.2], requires_grad=True)
    assert x.double().dtype == fc.float64 and x.double().requires_grad
    assert x.float() is x
    assert x.long().dtype == fc.int64 and x.long().tolist() == [1, -2]
    assert x.int().dtype == fc.int32
    assert x.bool().dtype == fc.bool_
    assert x.to(fc.float64).dtype == fc.float64


# ----- indexing: PyTorch's order of dims where ints and index arrays mix -----
CONSUMING = ("int", "int_tensor", "slice", "array", "mask")


@st.composite
def index_expressions(draw: st.DrawFn) -> tuple[tuple[int, ...], list[tuple[str, object]]]:
    """A shape and an index into it, as ``(kind, value)`` entries: ints (plain or as 0-d
    tensors), slices with any step, None, an Ellipsis, integer index arrays (all of one
    length, so they broadcast) and a boolean mask, in any order."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=5)))
    kinds = draw(
        st.lists(
            st.sampled_from([*CONSUMING, "array", "none", "ellipsis"]), min_size=1, max_size=6
        ).filter(
            lambda ks: (
                ks.count("ellipsis") <= 1
                and ks.count("mask") <= 1
                and sum(k in CONSUMING for k in ks) <= len(shape)
            )
        )
    )
    # the dim each entry lands on: in order before an Ellipsis, counted from the end after it
    split = kinds.index("ellipsis") if "ellipsis" in kinds else len(kinds)
    after = sum(k in CONSUMING for k in kinds[split:])
    dims, dim = [], 0
    for i, kind in enumerate(kinds):
        if i == split:
            dim = len(shape) - after
        dims.append(dim)
        dim += kind in CONSUMING
    length = draw(st.integers(1, 3))
    entries: list[tuple[str, object]] = []
    for kind, d in zip(kinds, dims, strict=True):
        n = shape[d] if d < len(shape) else 1
        value: object = None
        if kind == "ellipsis":
            value = Ellipsis
        elif kind in ("int", "int_tensor"):
            value = draw(st.integers(-n, n - 1))
        elif kind == "slice":
            bound = st.none() | st.integers(-n - 1, n + 1)
            value = slice(draw(bound), draw(bound), draw(st.none() | st.integers(1, 3)))
        elif kind == "array":
            value = np.array(
                draw(st.lists(st.integers(-n, n - 1), min_size=length, max_size=length))
            )
        elif kind == "mask":
            value = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        entries.append((kind, value))
    return shape, entries


def _forge_index(entries: list[tuple[str, object]]) -> tuple[object, ...]:
    return tuple(fc.tensor(v) if k in ("int_tensor", "array") else v for k, v in entries)


def _torch_index(entries: list[tuple[str, object]]) -> tuple[object, ...]:
    return tuple(torch.tensor(v) if k in ("int_tensor", "array", "mask") else v for k, v in entries)


@settings(max_examples=150, deadline=None)
@given(case=index_expressions(), dtype=st.sampled_from([np.float32, np.float64]))
def test_mixed_indexing_matches_torch_forward_and_backward(case, dtype) -> None:
    """``x[1, :, 3:11:2, d, 0:2]`` and every other mix: ints go first, then index arrays."""
    shape, entries = case
    x = np.random.default_rng(0).standard_normal(shape)
    forge_index, torch_index = _forge_index(entries), _torch_index(entries)
    try:
        torch.tensor(x)[torch_index]
    except (IndexError, RuntimeError):  # masks and arrays that do not broadcast
        with pytest.raises(IndexError):
            fc.tensor(x)[forge_index]
        return
    compare_with_torch(lambda a: a[forge_index], lambda a: a[torch_index], [x], dtype)


@settings(max_examples=100, deadline=None)
@given(case=index_expressions())
def test_mixed_index_assignment_matches_torch(case) -> None:
    shape, entries = case
    forge_index, torch_index = _forge_index(entries), _torch_index(entries)
    theirs = torch.zeros(shape, dtype=torch.float64)
    try:
        theirs[torch_index] = 7.0
    except (IndexError, RuntimeError):
        return
    mine = fc.zeros(shape, dtype=fc.float64)
    mine[forge_index] = 7.0
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    # one value per picked element, where each element is picked once (with repeats, which
    # write lands last is not defined)
    positions = torch.arange(float(np.prod(shape)), dtype=torch.float64).reshape(shape)
    picked = positions[torch_index]
    if len(set(picked.reshape(-1).tolist())) != picked.numel():
        return
    values = np.arange(1.0, picked.numel() + 1).reshape(tuple(picked.shape))
    mine, theirs = fc.zeros(shape, dtype=fc.float64), torch.zeros(shape, dtype=torch.float64)
    mine[forge_index] = fc.tensor(values)
    theirs[torch_index] = torch.tensor(values)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_the_issue_example_puts_dims_in_torchs_order() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 12, 5, 4))
    d = np.array([0, 3, 1])
    y = fc.tensor(x)[1, :, 3:11:2, fc.tensor(d), 0:2]
    assert (
        y.shape == (3, 4, 3, 2) == tuple(torch.tensor(x)[1, :, 3:11:2, torch.tensor(d), 0:2].shape)
    )
    compare_with_torch(
        lambda a: a[1, :, 3:11:2, d, 0:2],
        lambda a: a[1, :, 3:11:2, torch.tensor(d), 0:2],
        [x],
        np.float64,
    )


def test_the_issue_example_assigns_in_torchs_order() -> None:
    d = np.array([0, 3, 1])
    values = np.arange(72.0).reshape(3, 4, 3, 2)
    mine, theirs = fc.zeros(2, 3, 12, 5, 4), torch.zeros(2, 3, 12, 5, 4)
    mine[1, :, 3:11:2, fc.tensor(d), 0:2] = fc.tensor(values)
    theirs[1, :, 3:11:2, torch.tensor(d), 0:2] = torch.tensor(values, dtype=torch.float32)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_squeeze_of_a_0d_tensor_accepts_dim_0_and_minus_1_like_torch() -> None:
    x = fc.tensor(2.0, requires_grad=True)
    for dim in (0, -1):
        assert x.squeeze(dim).shape == () == tuple(torch.tensor(2.0).squeeze(dim).shape)
    x.squeeze(0).backward()
    assert x.grad is not None and x.grad.item() == 1.0
    with pytest.raises(IndexError, match="out of range"):
        x.squeeze(1)


@pytest.mark.parametrize(
    "index",
    [
        (True, 1),
        (1, False),
        (True, 1, slice(None), np.array([0, 2])),
        (np.array([1, 0]), 1, True),
        (1, slice(None), True, np.array([[0], [1]])),
    ],
    ids=str,
)
def test_boolean_scalars_among_ints_and_arrays_index_like_torch(index) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    torch_index = tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in index)
    compare_with_torch(lambda a: a[index], lambda a: a[torch_index], [x], np.float64)
    mine, theirs = fc.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    mine[index] = 5.0
    theirs[torch_index] = 5.0
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_an_ellipsis_for_no_dims_does_not_separate_index_arrays_like_torch() -> None:
    """Hypothesis found this: NumPy counts the empty Ellipsis as a gap and moves the index
    arrays' dim to the front; PyTorch keeps it in place."""
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    a, b, c = np.array([0, 2, 2]), np.array([2, -2, -1]), np.array([-2, -1, 0])
    compare_with_torch(
        lambda t: t[None, None, a, b, ..., c],
        lambda t: t[None, None, torch.tensor(a), torch.tensor(b), ..., torch.tensor(c)],
        [x],
        np.float64,
    )
    compare_with_torch(
        lambda t: t[1, a, ..., 0, c[:1]],
        lambda t: t[1, torch.tensor(a), ..., 0, torch.tensor(c[:1])],
        [np.random.default_rng(1).standard_normal((2, 3, 2, 2))],
        np.float64,
    )

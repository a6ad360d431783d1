"""Functions that make tensors: shapes, dtypes (float32 by default), copies, randomness."""

from collections.abc import Iterator

import numpy as np
import pytest
import torch

import forge_core as fc


@pytest.fixture
def float64_default() -> Iterator[None]:
    fc.set_default_dtype(fc.float64)
    yield
    fc.set_default_dtype(fc.float32)


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([[1, 2], [3, 4]], np.int64),
        ([1, 2.5], np.float32),
        (True, np.bool_),
        ([True, False], np.bool_),
        (np.array([1.0], dtype=np.float64), np.float64),
        (np.array([1], dtype=np.int32), np.int32),
        (np.float64(2.0), np.float64),
        (np.float32(2.0), np.float32),
    ],
)
def test_tensor_dtype_follows_torch(data, dtype) -> None:
    assert fc.tensor(data).dtype == dtype
    assert fc.tensor(data).dtype == torch.tensor(data).numpy().dtype


def test_tensor_takes_a_dtype_and_copies() -> None:
    source = np.array([1.0, 2.0], dtype=np.float32)
    t = fc.tensor(source)
    source[0] = 100
    assert t.numpy()[0] == 1.0
    assert fc.tensor([1, 2], dtype=fc.float64).dtype == fc.float64
    original = fc.tensor([3.0])
    copy = fc.tensor(original)
    copy.data[0] = 4
    assert original.item() == 3.0


def test_from_numpy_shares_memory_and_keeps_the_dtype() -> None:
    source = np.zeros(3, dtype=np.float64)
    t = fc.from_numpy(source)
    source[1] = 5
    assert t.dtype == fc.float64 and t.numpy()[1] == 5


@pytest.mark.parametrize("make", [fc.zeros, fc.ones, fc.randn, fc.rand])
def test_sizes_as_arguments_or_a_tuple_and_the_default_dtype(make) -> None:
    assert make(2, 3).shape == (2, 3) == make((2, 3)).shape == make([2, 3]).shape
    assert make(2, 3).dtype == fc.float32
    assert make(4, dtype=fc.float64).dtype == fc.float64
    assert make(()).shape == ()
    t = make(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


@pytest.mark.usefixtures("float64_default")
def test_set_default_dtype_reaches_every_creation_function() -> None:
    assert fc.get_default_dtype() == fc.float64
    for t in [
        fc.tensor([1.0]),
        fc.zeros(2),
        fc.ones(2),
        fc.randn(2),
        fc.rand(2),
        fc.full((2,), 0.5),
    ]:
        assert t.dtype == fc.float64
    assert fc.arange(0.0, 1.0, 0.5).dtype == fc.float64
    assert (fc.tensor([1, 2]) * 0.5).dtype == fc.float64


def test_the_default_dtype_is_float32_or_float64_only() -> None:
    with pytest.raises(TypeError, match="float32 or float64"):
        fc.set_default_dtype(fc.int64)
    assert fc.get_default_dtype() == fc.float32


def test_zeros_ones_and_full_values() -> None:
    np.testing.assert_array_equal(fc.zeros(2, 2).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(fc.ones(3).numpy(), np.ones(3))
    np.testing.assert_array_equal(fc.full((2,), 0.25).numpy(), [0.25, 0.25])


@pytest.mark.parametrize("value", [0.5, 3, True])
def test_full_takes_its_dtype_from_the_value_like_torch(value) -> None:
    assert fc.full((2,), value).dtype == torch.full((2,), value).numpy().dtype
    assert fc.full((2,), value, dtype=fc.float64).dtype == fc.float64


def test_like_functions_follow_the_model_tensor() -> None:
    model = fc.randn(2, 3, dtype=fc.float64)
    assert fc.zeros_like(model).shape == (2, 3) and fc.zeros_like(model).dtype == fc.float64
    assert fc.ones_like(model, dtype=fc.float32).dtype == fc.float32
    np.testing.assert_array_equal(fc.ones_like(model).numpy(), np.ones((2, 3)))


@pytest.mark.parametrize(
    "args", [(5,), (1, 5), (0, 10, 3), (0.0, 1.0, 0.25), (0, 1, 0.25), (5, 0, -1), (2.5,)]
)
def test_arange_matches_torch(args) -> None:
    mine, theirs = fc.arange(*args), torch.arange(*args)
    assert mine.dtype == theirs.numpy().dtype
    np.testing.assert_allclose(mine.numpy(), theirs.numpy())


def test_rand_randint_and_randperm() -> None:
    fc.manual_seed(0)
    uniform = fc.rand(1000).numpy()
    assert uniform.min() >= 0 and uniform.max() < 1
    integers = fc.randint(3, 7, (1000,))
    assert integers.dtype == fc.int64 and integers.shape == (1000,)
    assert set(integers.numpy().tolist()) == {3, 4, 5, 6}
    perm = fc.randperm(10)
    assert perm.dtype == fc.int64
    assert sorted(perm.numpy().tolist()) == list(range(10))


def test_randn_is_standard_normal() -> None:
    fc.manual_seed(0)
    values = fc.randn(100_000).numpy()
    assert abs(values.mean()) < 0.02 and values.std() == pytest.approx(1.0, rel=0.02)


def test_join_and_select_functions_compute_what_numpy_does() -> None:
    a, b = fc.randn(2, 3), fc.randn(2, 3)
    np.testing.assert_array_equal(
        fc.cat([a, b], dim=1).numpy(), np.concatenate([a.numpy(), b.numpy()], 1)
    )
    np.testing.assert_array_equal(
        fc.stack([a, b], dim=-1).numpy(), np.stack([a.numpy(), b.numpy()], -1)
    )
    np.testing.assert_array_equal(fc.maximum(a, b).numpy(), np.maximum(a.numpy(), b.numpy()))
    np.testing.assert_array_equal(fc.minimum(a, b).numpy(), np.minimum(a.numpy(), b.numpy()))
    np.testing.assert_allclose(fc.matmul(a, b.T).numpy(), a.numpy() @ b.numpy().T, rtol=1e-6)
    condition = a > 0
    np.testing.assert_array_equal(
        fc.where(condition, a, b).numpy(), np.where(condition.numpy(), a.numpy(), b.numpy())
    )


def test_where_with_python_numbers_takes_the_tensors_dtype() -> None:
    x = fc.randn(3, dtype=fc.float64)
    assert fc.where(x > 0, x, 0.0).dtype == fc.float64
    assert fc.where(x > 0, 1.0, x).dtype == fc.float64
    assert fc.where(np.array([True, False]), 1.0, 0.0).dtype == fc.float32


# ----- issue #14: eye, linspace, full_like, empty, multinomial -----
@pytest.mark.parametrize(("n", "m"), [(3, None), (2, 4), (4, 2), (0, None)])
def test_eye_matches_torch(n: int, m: int | None) -> None:
    mine = fc.eye(n, m)
    theirs = torch.eye(n) if m is None else torch.eye(n, m)
    assert mine.dtype == fc.float32
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert fc.eye(2, dtype=fc.int64).dtype == fc.int64


@pytest.mark.parametrize(("start", "end", "steps"), [(0, 1, 5), (-2.5, 3, 7), (1, 1, 1), (0, 1, 0)])
def test_linspace_matches_torch(start: float, end: float, steps: int) -> None:
    mine = fc.linspace(start, end, steps)
    theirs = torch.linspace(start, end, steps)
    assert mine.dtype == fc.float32
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="non-negative"):
        fc.linspace(0, 1, -1)


def test_full_like_and_empty_follow_torch() -> None:
    base = fc.zeros(2, 3, dtype=fc.float64)
    filled = fc.full_like(base, 2.5)
    assert filled.dtype == fc.float64 and filled.shape == (2, 3)
    np.testing.assert_array_equal(filled.numpy(), np.full((2, 3), 2.5))
    assert fc.full_like(base, 7, dtype=fc.int64).dtype == fc.int64
    assert fc.full_like(base, 1.0, requires_grad=True).requires_grad
    blank = fc.empty(4, 2)
    assert blank.shape == (4, 2) and blank.dtype == fc.float32
    assert fc.empty((3,), dtype=fc.float64).dtype == fc.float64


def test_multinomial_with_replacement_draws_each_category_in_proportion() -> None:
    fc.manual_seed(0)
    weights = fc.tensor([[1.0, 0.0, 3.0], [0.0, 2.0, 2.0]])
    draws = fc.multinomial(weights, 20000, replacement=True)
    assert draws.shape == (2, 20000) and draws.dtype == fc.int64
    for row, expected in zip(draws.numpy(), [[0.25, 0.0, 0.75], [0.0, 0.5, 0.5]], strict=True):
        share = np.bincount(row, minlength=3) / row.size
        np.testing.assert_allclose(share, expected, atol=0.02)


def test_multinomial_without_replacement_never_repeats_and_follows_the_weights() -> None:
    """The first draw of each row lands on a category in proportion to its weight, as in
    sequential sampling; every row holds distinct categories with positive weight."""
    fc.manual_seed(1)
    weights = np.tile([1.0, 2.0, 0.0, 5.0], (4000, 1))
    draws = fc.multinomial(fc.tensor(weights), 3).numpy()
    assert draws.shape == (4000, 3)
    assert all(len(set(row)) == 3 and 2 not in row for row in draws)
    share = np.bincount(draws[:, 0], minlength=4) / len(draws)
    np.testing.assert_allclose(share, [1 / 8, 2 / 8, 0, 5 / 8], atol=0.03)
    single = fc.tensor([0.2, 0.8]).multinomial(2)
    assert single.shape == (2,) and sorted(single.tolist()) == [0, 1]


@pytest.mark.parametrize(
    ("weights", "samples", "kwargs", "message"),
    [
        ([1.0, 0.0], 2, {}, "fewer positive weights"),
        ([-1.0, 2.0], 1, {}, "non-negative"),
        ([0.0, 0.0], 1, {"replacement": True}, "positive weight in every row"),
        ([1.0, 2.0], 0, {}, "num_samples must be positive"),
        ([[[1.0]]], 1, {}, "1-D or 2-D"),
    ],
)
def test_multinomial_rejects_bad_input(weights, samples: int, kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fc.multinomial(fc.tensor(weights), samples, **kwargs)

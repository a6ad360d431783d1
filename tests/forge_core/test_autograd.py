"""Autograd semantics, as PyTorch defines them: accumulation, grad mode, graph lifetime, errors."""

import sys
import threading
from types import FrameType

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from forge_core.autograd import Function
from forge_core.backend import Array
from tests.forge_core.gradcheck import assert_gradients_match


def leaf(*values: float) -> fc.Tensor:
    return fc.tensor(list(values), dtype=fc.float64, requires_grad=True)


def grad_of(t: fc.Tensor) -> np.ndarray:
    assert t.grad is not None, "no gradient was accumulated"
    return t.grad.numpy()


# ----- accumulation and the shape of the graph -----


def test_gradients_accumulate_across_backward_calls() -> None:
    x = leaf(1.0, 2.0)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [3 + 2, 3 + 4])


def test_setting_grad_to_none_starts_afresh() -> None:
    x = leaf(1.0, 2.0)
    (x * 3).sum().backward()
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [5, 5])


def test_a_tensor_used_twice_gets_the_sum_of_its_gradients() -> None:
    x = leaf(1.0, -2.0)
    (x * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [2.0, -4.0])


def test_a_diamond_adds_both_paths() -> None:
    x = leaf(0.5, 1.5)
    y = x * 2
    z = y.exp() + y * y  # y feeds two nodes, which meet again in z
    z.sum().backward()
    y_values = 2 * np.array([0.5, 1.5])
    np.testing.assert_allclose(grad_of(x), 2 * (np.exp(y_values) + 2 * y_values), rtol=1e-12)


def test_a_deep_chain_of_shared_subexpressions() -> None:
    """Each step uses the previous result twice: 2**n paths, one visit per node."""
    x = leaf(1.0)
    y = x
    for _ in range(60):
        y = (y + y) * 0.5
    y.backward(fc.tensor([1.0], dtype=fc.float64))
    np.testing.assert_allclose(grad_of(x), [1.0])


def test_backward_on_a_leaf_accumulates_the_given_gradient() -> None:
    x = leaf(1.0, 2.0)
    x.backward(fc.tensor([3.0, 4.0], dtype=fc.float64))
    np.testing.assert_array_equal(grad_of(x), [3.0, 4.0])
    scalar = fc.tensor(2.0, requires_grad=True)
    scalar.backward()
    np.testing.assert_array_equal(grad_of(scalar), 1.0)


def test_the_accumulated_gradient_does_not_alias_the_given_one() -> None:
    x = leaf(1.0, 2.0)
    seed = np.array([1.0, 1.0])
    (x + 0).backward(seed)
    seed[:] = 100
    np.testing.assert_array_equal(grad_of(x), [1.0, 1.0])


def test_only_leaves_get_grad() -> None:
    x = leaf(1.0, 2.0)
    y = x * 2
    z = y.sum()
    z.backward()
    assert x.is_leaf and not y.is_leaf and not z.is_leaf
    assert y.grad is None and z.grad is None
    assert x.grad is not None
    assert y.grad_fn is not None and x.grad_fn is None


def test_leaves_that_do_not_require_grad_get_none() -> None:
    x = leaf(1.0, 2.0)
    c = fc.tensor([3.0, 4.0], dtype=fc.float64)
    (x * c).sum().backward()
    assert c.grad is None


def test_a_non_scalar_output_needs_a_gradient() -> None:
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match=r"scalar.*\(2,\)"):
        (x * 2).backward()
    (x * 2).backward(fc.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(grad_of(x), [2.0, 20.0])


def test_a_gradient_of_the_wrong_shape_is_refused() -> None:
    x = leaf(1.0, 2.0)
    with pytest.raises(ValueError, match=r"gradient shape \(3,\)"):
        (x * 2).backward(fc.tensor([1.0, 1.0, 1.0]))


# ----- graph lifetime -----


def test_a_second_backward_without_retain_graph_raises_clearly() -> None:
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_a_second_backward_through_a_freed_shared_part_raises() -> None:
    x = leaf(1.0, 2.0)
    shared = x * x
    (shared * 2).sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (shared * 3).sum().backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(grad_of(x), [4.0, 8.0])


def test_backward_frees_what_ops_saved() -> None:
    x = leaf(1.0, 2.0)
    y = x * x
    node = y.grad_fn
    assert node is not None and node.saved
    y.sum().backward()
    assert node.saved == ()


# ----- grad mode -----


def test_no_grad_records_nothing() -> None:
    x = leaf(1.0, 2.0)
    with fc.no_grad():
        assert not fc.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert fc.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_a_decorator() -> None:
    @fc.no_grad()
    def double(t: fc.Tensor) -> fc.Tensor:
        assert not fc.is_grad_enabled()
        return t * 2

    y = double(leaf(1.0))
    assert not y.requires_grad and y.grad_fn is None
    assert fc.is_grad_enabled()
    assert double.__name__ == "double"


def test_no_grad_and_enable_grad_as_bare_decorators() -> None:
    @fc.no_grad
    def double(t: fc.Tensor) -> fc.Tensor:
        return t * 2

    @fc.enable_grad
    def triple(t: fc.Tensor) -> fc.Tensor:
        return t * 3

    x = leaf(1.0)
    assert not double(x).requires_grad
    with fc.no_grad():
        assert triple(x).requires_grad
    assert fc.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception() -> None:
    with pytest.raises(KeyError), fc.no_grad():
        raise KeyError("boom")
    assert fc.is_grad_enabled()


def test_enable_grad_inside_no_grad_and_set_grad_enabled() -> None:
    x = leaf(1.0)
    with fc.no_grad():
        with fc.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    with fc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with fc.set_grad_enabled(True):
        assert (x * 2).requires_grad


def test_grad_mode_is_per_thread() -> None:
    seen: list[bool] = []
    with fc.no_grad():
        worker = threading.Thread(target=lambda: seen.append(fc.is_grad_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]


def test_a_constant_computed_under_no_grad_still_lets_gradients_through_the_rest() -> None:
    x = leaf(1.0, 2.0)
    with fc.no_grad():
        c = x * 3
    (x * c).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [3.0, 6.0])


def test_detach_shares_memory_and_cuts_the_graph() -> None:
    x = leaf(1.0, 2.0)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), x.data)
    (x.detach() * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [1.0, 2.0])


def test_in_place_changes_need_no_grad() -> None:
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match="no_grad"):
        x.zero_()
    with fc.no_grad():
        x.fill_(3.0)
    np.testing.assert_array_equal(x.detach().numpy(), [3.0, 3.0])


def test_requires_grad_only_for_floating_point() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        fc.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        fc.zeros(2, dtype=fc.int64, requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        fc.tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match="floating-point"):
        fc.tensor([True]).requires_grad_()
    fc.tensor([1, 2]).requires_grad_(False)  # asking for no gradient is always fine


def test_requires_grad_of_a_non_leaf_cannot_be_changed() -> None:
    y = leaf(1.0) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_casting_to_an_integer_type_leaves_the_graph() -> None:
    x = leaf(1.5, 2.5)
    assert not x.to(fc.int64).requires_grad
    assert not x.long().requires_grad


# ----- the trap the old engine fell into -----


def test_backward_of_a_tensor_that_does_not_require_grad_says_why() -> None:
    data = fc.tensor(np.ones((4, 3)))
    with pytest.raises(RuntimeError) as caught:
        (data * 2).sum().backward()
    message = str(caught.value)
    assert "requires_grad=True" in message and "no_grad" in message
    assert "nn.Parameter" in message  # what to do, not only what went wrong


class _Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(fc.randn(3, 2) * 0.5)
        self.bias = nn.Parameter(fc.zeros(2))

    def forward(self, x: fc.Tensor) -> fc.Tensor:
        return (x @ self.weight + self.bias).tanh()


def test_parameters_get_gradients_when_the_data_does_not_require_grad() -> None:
    """The old engine trained nothing: data without requires_grad cut the graph. Here the data
    is a plain tensor, yet every parameter gets PyTorch's gradient."""
    fc.manual_seed(0)
    model = _Regressor()
    rng = np.random.default_rng(0)
    x_np, y_np = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    x = (fc.from_numpy(x_np).float() - 0.5) / 2  # preprocessing outside any graph
    y = fc.tensor(y_np)
    assert not x.requires_grad and not y.requires_grad

    loss = ((model(x) - y) ** 2).mean()
    assert loss.requires_grad
    loss.backward()

    weight = torch.tensor(model.weight.detach().numpy(), requires_grad=True)
    bias = torch.tensor(model.bias.detach().numpy(), requires_grad=True)
    tx = (torch.from_numpy(x_np).float() - 0.5) / 2
    expected = ((torch.tanh(tx @ weight + bias) - torch.from_numpy(y_np).float()) ** 2).mean()
    expected.backward()
    assert weight.grad is not None and bias.grad is not None
    assert np.abs(grad_of(model.weight)).sum() > 0
    np.testing.assert_allclose(grad_of(model.weight), weight.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_of(model.bias), bias.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert x.grad is None and y.grad is None


@pytest.mark.parametrize(
    "combine",
    [
        lambda x, w: x * w,
        lambda x, w: w * x,
        lambda x, w: x @ w.reshape(3, 1),
        lambda x, w: fc.cat([x, w.reshape(1, 3)]),
        lambda x, w: fc.stack([x[0], w]),
        lambda x, w: fc.where(x > 0, w, x),
        lambda x, w: fc.maximum(x, w),
        lambda x, w: x[[0, 0]] - w,
        lambda x, w: x / w,
    ],
    ids=["mul", "rmul", "matmul", "cat", "stack", "where", "maximum", "index", "div"],
)
def test_every_op_passes_gradient_to_the_parameter_beside_plain_data(combine) -> None:
    x = fc.tensor(np.random.default_rng(0).standard_normal((2, 3)))
    w = nn.Parameter(fc.tensor([0.5, -1.5, 2.0]))
    combine(x, w).sum().backward()
    assert w.grad is not None and np.abs(w.grad.numpy()).sum() > 0


# ----- functions with several outputs -----


class SinCos(Function):
    def forward(self, a: Array) -> tuple[Array, Array]:
        self.save_for_backward(a)
        return np.sin(a), np.cos(a)

    def backward(self, g_sin: Array, g_cos: Array) -> Array:
        (a,) = self.saved
        return g_sin * np.cos(a) - g_cos * np.sin(a)


def test_a_node_with_two_outputs_gets_both_gradients() -> None:
    x = leaf(0.3, 1.1, -2.0)
    s, c = SinCos.apply(x)
    assert s.grad_fn is c.grad_fn
    (s * c).sum().backward()
    np.testing.assert_allclose(grad_of(x), np.cos(2 * x.detach().numpy()), rtol=1e-12)


def test_an_unused_output_contributes_zero() -> None:
    x = leaf(0.3, 1.1)
    s, _ = SinCos.apply(x)
    s.sum().backward()
    np.testing.assert_allclose(grad_of(x), np.cos(x.detach().numpy()), rtol=1e-12)


def test_several_outputs_used_several_times_match_finite_differences() -> None:
    def fn(t: fc.Tensor) -> fc.Tensor:
        s, c = SinCos.apply(t)
        return s * s + c * 3 + s * c

    assert_gradients_match(fn, leaf(0.3, 1.1, -2.0))


class ScaleFirst(Function):
    """Gradient only for the first input; records which inputs wanted one."""

    wanted: tuple[bool, ...] = ()

    def forward(self, a: Array, b: Array) -> Array:
        ScaleFirst.wanted = self.needs_input_grad
        return a * 2 + b

    def backward(self, g: Array) -> tuple[Array, None]:
        return g * 2, None


def test_needs_input_grad_tells_a_function_which_gradients_to_compute() -> None:
    x = leaf(1.0)
    ScaleFirst.apply(x, fc.tensor([1.0], dtype=fc.float64)).sum().backward()
    assert ScaleFirst.wanted == (True, False)
    np.testing.assert_array_equal(grad_of(x), [2.0])
    with fc.no_grad():
        ScaleFirst.apply(x, x)
    assert ScaleFirst.wanted == (False, False)


def test_a_backward_that_returns_the_wrong_shape_is_caught() -> None:
    class Broken(Function):
        def forward(self, a: Array) -> Array:
            return a * 1

        def backward(self, g: Array) -> Array:
            return g.sum()

    with pytest.raises(RuntimeError, match=r"Broken.backward returned a gradient of shape \(\)"):
        Broken.apply(leaf(1.0, 2.0)).sum().backward()


# ----- long sequences -----


def _recurrence(weight: fc.Tensor, h: fc.Tensor, inputs: fc.Tensor) -> fc.Tensor:
    for x_t in inputs:
        h = (h @ weight + x_t).tanh()
    return h


def _stack_depth() -> int:
    depth = 0
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def test_a_2000_step_recurrence_backpropagates_without_recursion() -> None:
    """8,000 nodes deep; backward runs with barely more recursion allowed than pytest needs."""
    rng = np.random.default_rng(0)
    w_np = rng.standard_normal((3, 3)) * 0.6
    x_np = rng.standard_normal((2000, 1, 3)) * 0.5
    weight = fc.tensor(w_np, requires_grad=True)
    h0 = fc.zeros(1, 3, dtype=fc.float64, requires_grad=True)
    out = _recurrence(weight, h0, fc.tensor(x_np)).sum()

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + 100)
    try:
        out.backward()
    finally:
        sys.setrecursionlimit(limit)

    tw = torch.tensor(w_np, requires_grad=True)
    th = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    h = th
    for x_t in torch.from_numpy(x_np):
        h = torch.tanh(h @ tw + x_t)
    h.sum().backward()
    assert tw.grad is not None and th.grad is not None
    np.testing.assert_allclose(grad_of(weight), tw.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad_of(h0), th.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_the_same_recurrence_matches_finite_differences_on_a_short_sequence() -> None:
    rng = np.random.default_rng(1)
    inputs = fc.tensor(rng.standard_normal((12, 1, 3)))
    weight = fc.tensor(rng.standard_normal((3, 3)) * 0.6, requires_grad=True)
    h0 = fc.tensor(rng.standard_normal((1, 3)), requires_grad=True)
    assert_gradients_match(lambda w, h: _recurrence(w, h, inputs), weight, h0)

"""Loss layers against PyTorch (values and gradients, every reduction and option), finite
differences, and their input checks."""

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import TORCH_DTYPES, assert_close

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]


def compare_loss(
    loss: Callable[[fc.Tensor, fc.Tensor], fc.Tensor],
    reference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    input: np.ndarray,
    target: np.ndarray,
    dtype: Any,
    target_grad: bool = False,
    tolerances: tuple[float, float] | None = None,
) -> None:
    """Loss value and the gradients of input (and target) equal PyTorch's, in ``dtype``;
    ``tolerances`` (rtol, atol) replaces the dtype's default."""
    floating_target = target.dtype.kind == "f"
    target = target.astype(dtype) if floating_target else target
    x_ref = torch.tensor(input.astype(dtype), requires_grad=True)
    t_ref = torch.tensor(target, requires_grad=target_grad)
    x = fc.tensor(input.astype(dtype), requires_grad=True)
    t = fc.tensor(target, requires_grad=target_grad)
    out_ref = reference(x_ref, t_ref)
    out = loss(x, t)
    assert out.dtype == dtype and out.shape == tuple(out_ref.shape)
    assert_close(out.detach().numpy(), out_ref.detach().numpy(), dtype, "loss", tolerances)
    probe = np.random.default_rng(7).standard_normal(out.shape).astype(dtype)
    (out_ref * torch.tensor(probe)).sum().backward()
    (out * fc.tensor(probe)).sum().backward()
    assert x.grad is not None and x.grad.dtype == dtype and x_ref.grad is not None
    assert_close(x.grad.numpy(), x_ref.grad.numpy(), dtype, "input gradient", tolerances)
    if target_grad:
        assert t.grad is not None and t.grad.dtype == dtype and t_ref.grad is not None
        assert_close(t.grad.numpy(), t_ref.grad.numpy(), dtype, "target gradient", tolerances)


def _class_targets(shape: tuple[int, ...], classes: int, ignore: bool, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, classes, shape).astype(np.int64)
    if ignore and target.size > 1:
        target.reshape(-1)[1] = -100
    return target


def _weight(classes: int, weighted: bool) -> np.ndarray | None:
    return np.linspace(0.5, 2.0, classes) if weighted else None


# ----- regression losses -----
REGRESSION = {
    "mse": (lambda r: nn.MSELoss(reduction=r), lambda r: torch.nn.MSELoss(reduction=r)),
    "l1": (lambda r: nn.L1Loss(reduction=r), lambda r: torch.nn.L1Loss(reduction=r)),
    "huber": (lambda r: nn.HuberLoss(reduction=r), lambda r: torch.nn.HuberLoss(reduction=r)),
    "huber_delta": (
        lambda r: nn.HuberLoss(reduction=r, delta=0.4),
        lambda r: torch.nn.HuberLoss(reduction=r, delta=0.4),
    ),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("name", list(REGRESSION))
def test_regression_loss_matches_torch(
    name: str, shape: tuple[int, ...], reduction: str, dtype: type
) -> None:
    rng = np.random.default_rng(0)
    make, make_ref = REGRESSION[name]
    compare_loss(
        make(reduction),
        make_ref(reduction),
        rng.standard_normal(shape),
        rng.standard_normal(shape),
        dtype,
        target_grad=True,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(REGRESSION))
def test_regression_loss_gradients_match_finite_differences(name: str, reduction: str) -> None:
    rng = np.random.default_rng(1)
    loss = REGRESSION[name][0](reduction)
    # differences kept away from the kinks at 0 and ±delta
    diff = rng.choice([-1, 1], (3, 4)) * rng.choice([0.2, 0.3, 0.6, 1.4], (3, 4))
    target = rng.standard_normal((3, 4))
    x = fc.tensor(target + diff, requires_grad=True)
    t = fc.tensor(target, requires_grad=True)
    assert_gradients_match(loss, x, t)


def test_regression_loss_refuses_to_broadcast_the_target() -> None:
    with pytest.raises(ValueError, match=r"MseLoss\(\(4, 1\) float32, \(4,\) float32\).*shape"):
        nn.MSELoss()(fc.randn(4, 1), fc.randn(4))


def test_float64_target_keeps_a_float32_loss_float32() -> None:
    x = fc.randn(4, requires_grad=True)
    for loss in (nn.MSELoss(), nn.L1Loss(), nn.HuberLoss(), nn.BCEWithLogitsLoss()):
        x.grad = None
        out = loss(x, fc.tensor(np.random.default_rng(0).random(4)))
        out.backward()
        assert out.dtype == np.float32 and x.grad is not None and x.grad.dtype == np.float32


# ----- cross-entropy and NLL -----
CLASS_SHAPES = [((6, 5), (6,)), ((3, 5, 4), (3, 4)), ((2, 5, 3, 2), (2, 3, 2)), ((5,), ())]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize(
    ("weighted", "ignore", "smoothing"),
    [(False, False, 0.0), (True, True, 0.0), (False, True, 0.15), (True, False, 0.3)],
)
def test_cross_entropy_matches_torch(
    shapes: tuple[tuple[int, ...], tuple[int, ...]],
    reduction: str,
    dtype: type,
    weighted: bool,
    ignore: bool,
    smoothing: float,
) -> None:
    input_shape, target_shape = shapes
    classes = input_shape[0] if len(input_shape) == 1 else input_shape[1]
    weight = _weight(classes, weighted)
    loss = nn.CrossEntropyLoss(
        weight=None if weight is None else fc.tensor(weight, dtype=dtype),
        reduction=reduction,
        label_smoothing=smoothing,
    )
    reference = torch.nn.CrossEntropyLoss(
        weight=None if weight is None else torch.tensor(weight, dtype=TORCH_DTYPES[dtype]),
        reduction=reduction,
        label_smoothing=smoothing,
    )
    logits = np.random.default_rng(3).standard_normal(input_shape) * 2
    compare_loss(loss, reference, logits, _class_targets(target_shape, classes, ignore), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 4), (5,)])
@pytest.mark.parametrize(("weighted", "smoothing"), [(False, 0.0), (True, 0.2)])
def test_cross_entropy_with_class_probabilities_matches_torch(
    shape: tuple[int, ...], reduction: str, dtype: type, weighted: bool, smoothing: float
) -> None:
    rng = np.random.default_rng(4)
    class_dim = 0 if len(shape) == 1 else 1
    probs = rng.random(shape)
    probs /= probs.sum(axis=class_dim, keepdims=True)
    weight = _weight(shape[class_dim], weighted)
    loss = nn.CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=smoothing)
    reference = torch.nn.CrossEntropyLoss(
        weight=None if weight is None else torch.tensor(weight, dtype=TORCH_DTYPES[dtype]),
        reduction=reduction,
        label_smoothing=smoothing,
    )
    compare_loss(loss, reference, rng.standard_normal(shape), probs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CLASS_SHAPES[:3], ids=str)
@pytest.mark.parametrize(("weighted", "ignore"), [(False, False), (True, True)])
def test_nll_loss_matches_torch(
    shapes: tuple[tuple[int, ...], tuple[int, ...]],
    reduction: str,
    dtype: type,
    weighted: bool,
    ignore: bool,
) -> None:
    input_shape, target_shape = shapes
    weight = _weight(input_shape[1], weighted)
    reference = torch.nn.NLLLoss(
        weight=None if weight is None else torch.tensor(weight, dtype=TORCH_DTYPES[dtype]),
        reduction=reduction,
    )
    compare_loss(
        nn.NLLLoss(weight=weight, reduction=reduction),
        reference,
        np.random.default_rng(5).standard_normal(input_shape),
        _class_targets(target_shape, input_shape[1], ignore),
        dtype,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"weight": np.array([0.5, 1.0, 2.0, 1.5]), "ignore_index": 2},
        {"label_smoothing": 0.2, "weight": np.array([0.5, 1.0, 2.0, 1.5])},
    ],
    ids=["plain", "weight_ignore", "smoothing"],
)
def test_cross_entropy_gradients_match_finite_differences(
    reduction: str, options: dict[str, Any]
) -> None:
    rng = np.random.default_rng(6)
    target = fc.tensor(rng.integers(0, 4, (3, 2)))
    loss = nn.CrossEntropyLoss(reduction=reduction, **options)
    x = fc.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)
    assert_gradients_match(lambda x: loss(x, target), x)
    probs = fc.tensor(rng.dirichlet(np.ones(4), 3))
    x2 = fc.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    soft = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1)
    assert_gradients_match(lambda x: soft(x, probs), x2)
    nll = nn.NLLLoss(reduction=reduction, weight=options.get("weight"))
    assert_gradients_match(lambda x: nll(x, target), x)


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = fc.tensor([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 3.0]], requires_grad=True)
    loss = nn.CrossEntropyLoss()(logits, fc.tensor([1, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and abs(loss.item() - 1000.0) < 1e-3
    assert logits.grad is not None and np.isfinite(logits.grad.numpy()).all()


def test_cross_entropy_with_every_target_ignored_is_nan_like_torch() -> None:
    target = np.full(3, -100)
    expected = torch.nn.functional.cross_entropy(torch.zeros(3, 4), torch.tensor(target))
    with np.errstate(invalid="ignore"):
        actual = F.cross_entropy(fc.zeros(3, 4), fc.tensor(target))
    assert np.isnan(expected.item()) and np.isnan(actual.item())


def test_cross_entropy_errors_name_the_op_and_shapes() -> None:
    loss = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\(\(4, 3\) float32, \(5,\) int64\)"):
        loss(fc.randn(4, 3), fc.tensor(np.zeros(5, dtype=np.int64)))
    with pytest.raises(IndexError, match="class index 3, out of range for 3 classes"):
        loss(fc.randn(2, 3), fc.tensor([0, 3]))
    with pytest.raises(IndexError, match="class index -1"):
        loss(fc.randn(2, 3), fc.tensor([0, -1]))
    with pytest.raises(ValueError, match=r"class weight has shape \(2,\)"):
        nn.CrossEntropyLoss(weight=np.ones(2))(fc.randn(2, 3), fc.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"class probabilities.*target\.long\(\)"):
        loss(fc.randn(2, 3), fc.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(fc.randn(2, 3), fc.tensor([0, 1]), label_smoothing=1.5)


# ----- binary cross-entropy on logits -----
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("weighted", "pos_weighted"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_bce_with_logits_matches_torch(
    reduction: str, dtype: type, weighted: bool, pos_weighted: bool
) -> None:
    rng = np.random.default_rng(8)
    shape = (4, 3)
    weight = rng.random((1, 3)) + 0.5 if weighted else None
    pos_weight = rng.random(3) * 3 if pos_weighted else None
    torch_dtype = TORCH_DTYPES[dtype]
    reference = torch.nn.BCEWithLogitsLoss(
        weight=None if weight is None else torch.tensor(weight, dtype=torch_dtype),
        pos_weight=None if pos_weight is None else torch.tensor(pos_weight, dtype=torch_dtype),
        reduction=reduction,
    )
    loss = nn.BCEWithLogitsLoss(weight=weight, pos_weight=pos_weight, reduction=reduction)
    loss.to(dtype)
    logits = rng.standard_normal(shape) * 4
    compare_loss(loss, reference, logits, rng.random(shape), dtype, target_grad=True)


def test_bce_with_logits_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(9)
    loss = nn.BCEWithLogitsLoss(weight=rng.random(3), pos_weight=rng.random(3) + 1)
    x = fc.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    t = fc.tensor(rng.random((2, 3)), requires_grad=True)
    assert_gradients_match(loss, x, t)


def test_bce_with_logits_is_stable_for_huge_logits() -> None:
    x = fc.tensor([1e4, -1e4, 80.0, -80.0], requires_grad=True)
    t = fc.tensor([0.0, 1.0, 1.0, 0.0])
    loss = nn.BCEWithLogitsLoss(reduction="none")(x, t)
    np.testing.assert_allclose(loss.detach().numpy(), [1e4, 1e4, 0.0, 0.0], atol=1e-6)
    loss.sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, 0.0, 0.0], atol=1e-6)


def test_loss_weights_are_buffers_like_torch() -> None:
    weight = np.ones(3)
    for layer, reference in [
        (nn.CrossEntropyLoss(weight=weight), torch.nn.CrossEntropyLoss(torch.ones(3))),
        (nn.NLLLoss(weight=weight), torch.nn.NLLLoss(torch.ones(3))),
        (
            nn.BCEWithLogitsLoss(pos_weight=weight),
            torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(3)),
        ),
        (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
    ]:
        assert list(layer.state_dict()) == list(reference.state_dict())
    loss = nn.CrossEntropyLoss(weight=weight)
    loss.to(fc.float32)
    assert loss.weight is not None and loss.weight.dtype == np.float32


# ----- issue #14: binary cross-entropy of probabilities, KL divergence -----
def _probabilities(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.05, 0.95, shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2)])
def test_bce_loss_matches_torch(
    shape: tuple[int, ...], weighted: bool, reduction: str, dtype: type
) -> None:
    weight = np.linspace(0.5, 2.0, shape[-1]) if weighted else None
    target = _probabilities(shape, seed=1)
    compare_loss(
        nn.BCELoss(weight=weight, reduction=reduction),
        torch.nn.BCELoss(
            weight=None if weight is None else torch.tensor(weight, dtype=TORCH_DTYPES[dtype]),
            reduction=reduction,
        ),
        _probabilities(shape),
        target,
        dtype,
        target_grad=True,
    )


def test_bce_loss_at_probabilities_of_0_and_1_stays_finite_like_torch() -> None:
    """The logs are clamped at -100, so a confident wrong prediction costs 100, not inf; the
    gradient there divides by 1e-12, which PyTorch holds as a float32 (4e-9 relative off)."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.3])
    compare_loss(
        lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
        lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction="none"),
        x,
        t,
        np.float64,
        tolerances=(1e-8, 1e-12),
    )


def test_bce_target_gradient_at_probabilities_of_0_and_1_is_that_of_the_clamped_loss() -> None:
    """PyTorch's target gradient there is ±inf, the derivative of the unclamped logs; forge
    differentiates the loss it computes, ``log(1 - x) - log(x)`` with both logs at least -100."""
    x = fc.tensor([0.0, 1.0, 0.5], dtype=fc.float64)
    t = fc.tensor([0.3, 0.6, 0.3], dtype=fc.float64, requires_grad=True)
    F.binary_cross_entropy(x, t, reduction="sum").backward()
    assert t.grad is not None
    np.testing.assert_allclose(t.grad.numpy(), [100.0, -100.0, 0.0], atol=1e-12)


def test_bce_loss_gradients_match_finite_differences() -> None:
    x = fc.tensor(_probabilities((3, 4)), dtype=fc.float64, requires_grad=True)
    t = fc.tensor(_probabilities((3, 4), seed=1), dtype=fc.float64, requires_grad=True)
    assert_gradients_match(lambda a, b: F.binary_cross_entropy(a, b), x, t)


# PyTorch warns that its 'mean' will one day mean 'batchmean'; forge follows today's 'mean'
KL_MEAN_WARNING = "ignore:reduction. 'mean' divides the total loss:UserWarning"


@pytest.mark.filterwarnings(KL_MEAN_WARNING)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2)])
def test_kl_div_matches_torch(
    shape: tuple[int, ...], log_target: bool, reduction: str, dtype: type
) -> None:
    rng = np.random.default_rng(0)
    log_probs = np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1]))
    target = rng.dirichlet(np.ones(shape[-1]), shape[:-1])
    compare_loss(
        nn.KLDivLoss(reduction=reduction, log_target=log_target),
        torch.nn.KLDivLoss(reduction=reduction, log_target=log_target),
        log_probs,
        np.log(target) if log_target else target,
        dtype,
        target_grad=True,
    )


@pytest.mark.filterwarnings(KL_MEAN_WARNING)
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_of_a_zero_target_is_zero_like_torch(reduction: str) -> None:
    """0 log 0 counts as 0. PyTorch's target gradient there is NaN, which would spread to
    every parameter behind the target; forge's is 0."""
    log_probs = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]))
    target = np.array([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0]])
    compare_loss(
        lambda a, b: F.kl_div(a, b, reduction=reduction),
        lambda a, b: torch.nn.functional.kl_div(a, b, reduction=reduction),
        log_probs,
        target,
        np.float64,
    )
    t = fc.tensor(target, requires_grad=True)
    F.kl_div(fc.tensor(log_probs), t, reduction="sum").backward()
    assert t.grad is not None
    assert np.isfinite(t.grad.numpy()).all() and t.grad.numpy()[0, 0] == 0.0


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradients_match_finite_differences(log_target: bool) -> None:
    rng = np.random.default_rng(0)
    x = fc.tensor(np.log(rng.dirichlet(np.ones(4), 3)), dtype=fc.float64, requires_grad=True)
    target = rng.dirichlet(np.ones(4), 3)
    t = fc.tensor(np.log(target) if log_target else target, requires_grad=True)
    assert_gradients_match(
        lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=log_target), x, t
    )


@pytest.mark.parametrize(
    ("fn", "error", "message"),
    [
        (lambda: F.binary_cross_entropy(fc.tensor([1.5]), fc.tensor([1.0])), ValueError, "[0, 1]"),
        (lambda: F.binary_cross_entropy(fc.rand(3), fc.rand(2)), ValueError, "target shape"),
        (lambda: nn.BCELoss(reduction="max"), ValueError, "reduction"),
        (lambda: F.kl_div(fc.rand(3), fc.rand(3), reduction="avg"), ValueError, "batchmean"),
        (lambda: nn.KLDivLoss(reduction="avg"), ValueError, "batchmean"),
        (lambda: F.kl_div(fc.rand(3), fc.rand(2, 3)), ValueError, "target shape"),
    ],
)
def test_bad_probability_loss_arguments_are_rejected(fn, error, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        fn()

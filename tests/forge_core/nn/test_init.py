"""``nn.init`` against PyTorch's formulas: gains, fans, and the statistics of large draws.

A draw of 2**17 values estimates a standard deviation to about 0.2%, so the 2% tolerance
below fails only when a formula is wrong.
"""

import math

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from forge_core.nn import init

LARGE = (256, 512)  # fan_in 512, fan_out 256
CONV = (64, 32, 3, 3)  # fan_in 288, fan_out 576


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [
        ("linear", None),
        ("conv1d", None),
        ("conv2d", None),
        ("conv3d", None),
        ("conv_transpose2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(nonlinearity, param) -> None:
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-12)


def test_an_unknown_nonlinearity_is_refused() -> None:
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(3, 5), LARGE, CONV, (4, 2, 7)])
def test_fans_match_torch(shape) -> None:
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fan_in_and_fan_out(fc.zeros(*shape)) == expected


def test_fans_need_two_dims() -> None:
    with pytest.raises(ValueError, match="at least 2 dims"):
        init.kaiming_uniform_(fc.zeros(5))


def test_an_unknown_fan_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal_(fc.zeros(3, 3), mode="fan_avg")  # type: ignore[arg-type]


def _check_uniform(values: np.ndarray, bound: float) -> None:
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound  # the whole range is used
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(values.mean()) < 0.02 * bound


def _check_normal(values: np.ndarray, std: float) -> None:
    assert values.std() == pytest.approx(std, rel=0.02)
    assert abs(values.mean()) < 0.02 * std
    # Gaussian, not uniform: about 4.6% of the mass lies beyond two standard deviations
    assert np.mean(np.abs(values) > 2 * std) == pytest.approx(0.0455, abs=0.005)


@pytest.mark.parametrize("shape", [LARGE, CONV])
@pytest.mark.parametrize(
    ("a", "mode", "nonlinearity"),
    [
        (0.0, "fan_in", "relu"),
        (0.0, "fan_out", "relu"),
        (math.sqrt(5), "fan_in", "leaky_relu"),
        (0.1, "fan_out", "leaky_relu"),
        (0.0, "fan_in", "tanh"),
    ],
)
def test_kaiming_follows_torchs_formulas(shape, a, mode, nonlinearity) -> None:
    fan_in, fan_out = init.fan_in_and_fan_out(fc.zeros(*shape))
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)
    uniform = init.kaiming_uniform_(fc.zeros(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    _check_uniform(uniform.numpy(), math.sqrt(3) * std)
    normal = init.kaiming_normal_(fc.zeros(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    _check_normal(normal.numpy(), std)


@pytest.mark.parametrize("shape", [LARGE, CONV])
@pytest.mark.parametrize("gain", [1.0, 5.0 / 3])
def test_xavier_follows_torchs_formulas(shape, gain) -> None:
    fan_in, fan_out = init.fan_in_and_fan_out(fc.zeros(*shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    _check_uniform(init.xavier_uniform_(fc.zeros(*shape), gain=gain).numpy(), math.sqrt(3) * std)
    _check_normal(init.xavier_normal_(fc.zeros(*shape), gain=gain).numpy(), std)


def test_uniform_normal_and_constants() -> None:
    _check_uniform(init.uniform_(fc.zeros(*LARGE), -0.3, 0.3).numpy(), 0.3)
    values = init.normal_(fc.zeros(*LARGE), mean=2.0, std=0.5).numpy()
    assert values.mean() == pytest.approx(2.0, abs=0.01)
    assert values.std() == pytest.approx(0.5, rel=0.02)
    np.testing.assert_array_equal(
        init.constant_(fc.zeros(2, 2), 0.25).numpy(), np.full((2, 2), 0.25)
    )
    np.testing.assert_array_equal(init.ones_(fc.zeros(3)).numpy(), np.ones(3))
    np.testing.assert_array_equal(init.zeros_(fc.ones(3)).numpy(), np.zeros(3))


def test_default_layer_init_is_torchs_linear_and_conv_default() -> None:
    """kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); so is the bias."""
    weight, bias = fc.zeros(*LARGE), fc.zeros(4096)
    init.default_layer_init_(weight, bias)
    bound = 1 / math.sqrt(LARGE[1])
    _check_uniform(weight.numpy(), bound)
    _check_uniform(bias.numpy(), bound)
    init.default_layer_init_(weight, None)


@pytest.mark.parametrize("dtype", [fc.float32, fc.float64])
def test_init_works_in_place_on_parameters_outside_the_graph(dtype) -> None:
    param = nn.Parameter(fc.zeros(8, 4, dtype=dtype))
    before = param.data
    result = init.kaiming_uniform_(param)
    assert result is param and param.data is before
    assert param.dtype == dtype and param.requires_grad and param.grad_fn is None
    assert np.abs(param.detach().numpy()).sum() > 0


def test_init_is_reproducible_under_manual_seed() -> None:
    fc.manual_seed(7)
    first = init.xavier_normal_(fc.zeros(4, 4)).numpy()
    fc.manual_seed(7)
    second = init.xavier_normal_(fc.zeros(4, 4)).numpy()
    np.testing.assert_array_equal(first, second)

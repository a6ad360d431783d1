"""SGD against PyTorch: plain, momentum, dampening, Nesterov, weight decay, maximize."""

import numpy as np
import pytest
import torch

from forge_core import Tensor, optim
from forge_core.nn import Parameter
from tests.forge_core.optim.reference import compare_with_torch, resume_matches_uninterrupted

OPTIONS = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.1},
    {"lr": 0.1, "maximize": True},
    {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01, "nesterov": True, "maximize": True},
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_sgd_matches_torch(options, dtype):
    compare_with_torch(optim.SGD, torch.optim.SGD, options, dtype)


def test_plain_step_is_lr_times_gradient():
    p = Parameter(np.array([1.0, 2.0]))
    p.grad = Tensor(np.array([0.5, -1.0]))
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, 2.1])


def test_momentum_buffer_starts_as_the_gradient():
    p = Parameter(np.zeros(2))
    p.grad = Tensor(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
    opt.step()
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"].data, [1.0, -2.0])
    opt.step()
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"].data, [1.4, -2.8])


def test_no_momentum_keeps_no_state():
    p = Parameter(np.zeros(2))
    p.grad = Tensor(np.ones(2))
    opt = optim.SGD([p], lr=0.1)
    opt.step()
    assert opt.state_dict()["state"] == {}


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    ],
    ids=["momentum", "nesterov"],
)
def test_resume_from_state_dict_is_exact(make):
    resume_matches_uninterrupted(make)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"lr": -0.1}, "lr"),
        ({"momentum": -0.5}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"nesterov": True}, "nesterov"),
        ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov"),
    ],
)
def test_bad_options_raise_naming_the_option(options, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        optim.SGD([Parameter(np.zeros(1))], **options)

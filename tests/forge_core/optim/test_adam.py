"""Adam and AdamW against PyTorch, option by option, in float64 and float32."""

import re

import numpy as np
import pytest
import torch

from forge_core import Tensor, optim
from forge_core.nn import Parameter
from tests.forge_core.optim.reference import compare_with_torch, resume_matches_uninterrupted

DTYPES = [np.float64, np.float32]

ADAM_OPTIONS = [
    {"lr": 0.01},
    {"lr": 0.01, "amsgrad": True},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
    {"lr": 0.01, "maximize": True, "amsgrad": True},
    # 1 - beta1 >= 0.5 takes lerp's other formula
    {"lr": 0.01, "betas": (0.3, 0.9)},
    {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3},
]

ADAMW_OPTIONS = [
    {"lr": 0.01},
    {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
    {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
    {"lr": 0.01, "weight_decay": 0.0},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=str)
def test_adam_matches_torch(options, dtype):
    compare_with_torch(optim.Adam, torch.optim.Adam, options, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", ADAMW_OPTIONS, ids=str)
def test_adamw_matches_torch(options, dtype):
    compare_with_torch(optim.AdamW, torch.optim.AdamW, options, dtype)


def test_adamw_decays_by_default_and_adam_does_not():
    assert optim.AdamW([Parameter(np.zeros(1))]).defaults["weight_decay"] == 1e-2
    assert optim.Adam([Parameter(np.zeros(1))]).defaults["weight_decay"] == 0


def test_first_step_moves_each_weight_by_lr():
    # With bias correction, step 1 is lr * g / (|g| + eps): a move of lr against the gradient's sign
    p = Parameter(np.array([1.0, -2.0, 3.0]))
    p.grad = Tensor(np.array([0.5, -4.0, 0.0]))
    optim.Adam([p], lr=0.1, eps=1e-12).step()
    np.testing.assert_allclose(p.data, [0.9, -1.9, 3.0])


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
        lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    ],
    ids=["adam-amsgrad", "adamw"],
)
def test_resume_from_state_dict_is_exact(make):
    resume_matches_uninterrupted(make)


def test_state_has_torchs_keys():
    p = Parameter(np.ones((2, 2), dtype=np.float32))
    p.grad = Tensor(np.ones((2, 2), dtype=np.float32))
    opt = optim.Adam([p], amsgrad=True)
    opt.step()
    opt.step()
    state = opt.state[p]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert state["step"] == 2
    assert state["exp_avg"].shape == (2, 2)


def test_step_leaves_gradients_alone():
    grad = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    p = Parameter(np.ones(3, dtype=np.float32))
    p.grad = Tensor(grad.copy())
    opt = optim.Adam([p], weight_decay=0.1, maximize=True)
    opt.step()
    opt.step()
    np.testing.assert_array_equal(p.grad.data, grad)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"lr": -1e-3}, "lr"),
        ({"eps": -1.0}, "eps"),
        ({"betas": (1.0, 0.999)}, "betas[0]"),
        ({"betas": (0.9, -0.1)}, "betas[1]"),
        ({"betas": (0.9,)}, "betas"),
        ({"weight_decay": -0.1}, "weight_decay"),
    ],
)
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_bad_options_raise_naming_the_option(cls, options, name):
    with pytest.raises(ValueError, match=f"^{re.escape(name)} "):
        cls([Parameter(np.zeros(1))], **options)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_float32_stays_float32_with_numpy_float64_options(cls):
    p = Parameter(np.ones(3, dtype=np.float32))
    p.grad = Tensor(np.full(3, 0.5, dtype=np.float32))
    opt = cls([p], lr=np.float64(0.1), betas=(np.float64(0.9), np.float64(0.99)))
    opt.step()
    assert p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, Tensor))

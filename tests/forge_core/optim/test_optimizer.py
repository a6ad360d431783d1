"""The behaviour every optimizer shares: groups, skipped parameters, zero_grad, checkpoints."""

from typing import Any

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import Tensor, optim
from forge_core.nn import Parameter
from tests.forge_core.optim.reference import (
    compare_with_torch,
    data,
    forge_loss,
    forge_step,
    initial_values,
    torch_step,
)


def _params(dtype=np.float32):
    return [Parameter(v) for v in initial_values(dtype)]


@pytest.mark.parametrize(
    ("forge_cls", "torch_cls", "options"),
    [
        (optim.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        (optim.Adam, torch.optim.Adam, {"lr": 0.01}),
        (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01}),
    ],
)
def test_param_groups_keep_their_own_options(forge_cls, torch_cls, options):
    groups: list[dict[str, Any]] = [
        {"params": [0, 1]},
        {"params": [2], "lr": 0.003, "weight_decay": 0.1},
    ]
    compare_with_torch(forge_cls, torch_cls, options, np.float64, groups=groups)


def test_groups_take_missing_options_from_the_defaults():
    w, b, v = _params()
    opt = optim.Adam([{"params": [w, b]}, {"params": v, "lr": 0.5}], lr=0.1, betas=(0.8, 0.9))
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["betas"] for g in opt.param_groups] == [(0.8, 0.9), (0.8, 0.9)]
    assert opt.param_groups[1]["params"] == [v]


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
        lambda ps: optim.Adam(ps, lr=0.1),
        lambda ps: optim.AdamW(ps, lr=0.1),
        lambda ps: optim.RMSprop(ps, lr=0.1, weight_decay=0.1),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop"],
)
def test_parameters_without_gradient_are_skipped(make):
    values = initial_values(np.float64)
    x, y = data(np.float64)
    used = [Parameter(v.copy()) for v in values]
    unused = Parameter(np.ones(3))
    opt = make([*used, unused])
    forge_step(opt, used, x, y)
    np.testing.assert_array_equal(unused.data, np.ones(3))
    assert unused not in opt.state
    assert all(p in opt.state for p in used)


def test_a_gradient_of_zeros_is_not_skipped():
    # PyTorch steps a zero gradient (decaying the moments) but skips a None one
    p = Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5)
    p.grad = Tensor(np.zeros(2))
    opt.step()
    np.testing.assert_allclose(p.data, [0.95, 0.95])


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    params = _params()
    x, y = data(np.float32)
    forge_loss(params, x, y).backward()
    opt = optim.SGD(params)
    opt.zero_grad(set_to_none=set_to_none)
    for p in params:
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is not None
            np.testing.assert_array_equal(p.grad.data, np.zeros_like(p.data))


def test_step_evaluates_the_closure_with_grad_enabled_and_returns_its_loss():
    params = _params()
    x, y = data(np.float32)
    opt = optim.SGD(params, lr=0.1)
    before = [p.data.copy() for p in params]

    def closure() -> Tensor:
        opt.zero_grad()
        loss = forge_loss(params, x, y)
        loss.backward()
        return loss

    with fc.no_grad():
        loss = opt.step(closure)
    assert isinstance(loss, Tensor)
    assert all(not np.array_equal(p.data, b) for p, b in zip(params, before, strict=True))


def test_add_param_group_steps_the_new_group_with_the_defaults():
    w, b, v = _params()
    opt = optim.SGD([w, b], lr=0.1)
    opt.add_param_group({"params": [v], "momentum": 0.9})
    assert opt.param_groups[1]["lr"] == 0.1
    v.grad = Tensor(np.ones_like(v.data))
    before = v.data.copy()
    opt.step()
    np.testing.assert_allclose(v.data, before - 0.1)
    assert "momentum_buffer" in opt.state[v]


def test_add_param_group_refuses_a_parameter_already_optimized():
    w, b, v = _params()
    opt = optim.SGD([w, b])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [b, v]})


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (lambda ps: ps[0], TypeError, "not a Tensor"),
        (lambda ps: [], ValueError, "empty parameter list"),
        (lambda ps: set(ps), TypeError, "not a set"),
        (lambda ps: [ps[0], np.zeros(2)], TypeError, "only optimize Tensors"),
        (lambda ps: [ps[0] * 2], ValueError, "non-leaf"),
        (lambda ps: [ps[0], ps[0]], ValueError, "same parameter twice"),
        (lambda ps: [{"params": [ps[0]]}, {"params": [ps[0]]}], ValueError, "more than one"),
        (lambda ps: [{"lr": 0.1}], ValueError, "'params'"),
        (lambda ps: [{"params": ps, "lr": -1.0}], ValueError, "^lr "),
    ],
    ids=["tensor", "empty", "set", "array", "non-leaf", "twice", "two-groups", "no-params", "lr"],
)
def test_bad_params_raise(params, error, match):
    with pytest.raises(error, match=match):
        optim.SGD(params(_params()))


@pytest.mark.parametrize(
    ("forge_opt", "torch_opt"),
    [
        (lambda ps: optim.SGD(ps, momentum=0.9), lambda ps: torch.optim.SGD(ps, momentum=0.9)),
        (lambda ps: optim.Adam(ps, amsgrad=True), lambda ps: torch.optim.Adam(ps, amsgrad=True)),
        (lambda ps: optim.AdamW(ps), lambda ps: torch.optim.AdamW(ps)),
        (
            lambda ps: optim.RMSprop(ps, centered=True, momentum=0.5),
            lambda ps: torch.optim.RMSprop(ps, centered=True, momentum=0.5),
        ),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop"],
)
def test_state_dict_has_torchs_structure(forge_opt, torch_opt):
    values = initial_values(np.float32)
    forge_params = [Parameter(v) for v in values]
    torch_params = [torch.tensor(v, requires_grad=True) for v in values]
    forge = forge_opt([{"params": forge_params[:2]}, {"params": forge_params[2:], "lr": 0.1}])
    torch_ = torch_opt([{"params": torch_params[:2]}, {"params": torch_params[2:], "lr": 0.1}])
    for p in forge_params[1:]:
        p.grad = Tensor(np.ones_like(p.data))
    for p in torch_params[1:]:
        p.grad = torch.ones_like(p)
    forge.step()
    torch_.step()
    ours, theirs = forge.state_dict(), torch_.state_dict()
    assert ours.keys() == theirs.keys()
    assert ours["state"].keys() == theirs["state"].keys() == {1, 2}
    for index, state in ours["state"].items():
        assert state.keys() == theirs["state"][index].keys()
    torch_only = {"foreach", "fused", "capturable", "differentiable", "decoupled_weight_decay"}
    for group, torch_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert group["params"] == torch_group["params"]
        assert set(group) - {"decoupled_weight_decay"} == set(torch_group) - torch_only
        assert all(group[k] == torch_group[k] for k in group if k in torch_group)


def test_state_dict_is_a_snapshot():
    params = _params()
    x, y = data(np.float32)
    opt = optim.Adam(params)
    forge_step(opt, params, x, y)
    saved = opt.state_dict()
    exp_avg = saved["state"][0]["exp_avg"].data.copy()
    forge_step(opt, params, x, y)
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"].data, exp_avg)
    assert saved["state"][0]["step"] == 1


def test_load_state_dict_restores_options_and_copies_buffers():
    params = _params()
    x, y = data(np.float32)
    opt = optim.Adam(params, lr=0.01)
    forge_step(opt, params, x, y)
    opt.param_groups[0]["lr"] = 0.002
    saved = opt.state_dict()
    fresh = optim.Adam(_params(), lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.002
    fresh_params = fresh.param_groups[0]["params"]
    fresh_state = fresh.state[fresh_params[0]]
    assert fresh_state["step"] == 1
    assert fresh_state["exp_avg"].data is not saved["state"][0]["exp_avg"].data
    np.testing.assert_array_equal(fresh_state["exp_avg"].data, saved["state"][0]["exp_avg"].data)


def test_load_state_dict_accepts_arrays_and_casts_them_to_the_parameter_dtype():
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = optim.SGD([p], momentum=0.9)
    opt.load_state_dict(
        {
            "state": {0: {"momentum_buffer": np.array([1.0, 2.0])}},
            "param_groups": [{**opt.state_dict()["param_groups"][0], "lr": 0.5}],
        }
    )
    assert opt.state[p]["momentum_buffer"].dtype == np.float32
    p.grad = Tensor(np.zeros(2, dtype=np.float32))
    opt.step()
    np.testing.assert_allclose(p.data, [-0.45, -0.9])


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        (lambda ps: [{"params": ps[:2]}, {"params": ps[2:]}], "parameter groups"),
        (lambda ps: ps[:2], "parameter group 0 has 2"),
    ],
    ids=["group-count", "group-size"],
)
def test_load_state_dict_refuses_another_layout(groups, match):
    opt = optim.SGD(_params(), momentum=0.9)
    saved = opt.state_dict()
    other = optim.SGD(groups(_params()), momentum=0.9)
    with pytest.raises(ValueError, match=match):
        other.load_state_dict(saved)


def test_load_state_dict_refuses_a_buffer_of_the_wrong_shape():
    p = Parameter(np.zeros(2))
    opt = optim.SGD([p], momentum=0.9)
    saved = opt.state_dict()
    saved["state"] = {0: {"momentum_buffer": np.zeros(3)}}
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(saved)


@pytest.mark.parametrize(
    ("forge_cls", "torch_cls", "options"),
    [
        (optim.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        (optim.Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True}),
        (optim.RMSprop, torch.optim.RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ],
)
def test_a_torch_checkpoint_resumes_in_forge(forge_cls, torch_cls, options):
    values = initial_values(np.float64)
    x, y = data(np.float64)
    torch_params = [torch.tensor(v, requires_grad=True) for v in values]
    torch_opt = torch_cls(torch_params, **options)
    for _ in range(5):
        torch_step(torch_opt, torch_params, x, y)
    forge_params = [Parameter(p.detach().numpy().copy()) for p in torch_params]
    forge_opt = forge_cls(forge_params, **options)
    forge_opt.load_state_dict(torch_opt.state_dict())
    for _ in range(5):
        torch_step(torch_opt, torch_params, x, y)
        forge_step(forge_opt, forge_params, x, y)
    for f, t in zip(forge_params, torch_params, strict=True):
        np.testing.assert_allclose(f.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_load_state_dict_fills_missing_options_and_checks_the_rest():
    opt = optim.Adam(_params(), lr=0.01, amsgrad=True)
    saved = opt.state_dict()
    del saved["param_groups"][0]["amsgrad"]
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["amsgrad"] is True
    saved["param_groups"][0]["betas"] = (0.9, 1.5)
    with pytest.raises(ValueError, match=r"^betas\[1\] "):
        opt.load_state_dict(saved)

"""Learning-rate schedules against PyTorch's: the same rates, to the last bit, epoch by epoch."""

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from forge_core import optim
from forge_core.nn import Parameter
from forge_core.optim import lr_scheduler

LRS = (0.1, 0.02)
NOT_AN_OPTIMIZER: Any = torch.optim.SGD([torch.zeros(1, requires_grad=True)])
EPOCHS = 120


def _forge_optimizer(lrs=LRS) -> optim.SGD:
    return optim.SGD(
        [{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0], momentum=0.9
    )


def _torch_optimizer(lrs=LRS) -> torch.optim.SGD:
    return torch.optim.SGD(
        [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs],
        lr=lrs[0],
        momentum=0.9,
    )


def _rates(opt: Any, schedulers: list[Any], epochs: int, metrics: list[float] | None = None):
    """The rates after creation and after each epoch's ``scheduler.step()``."""
    rates = [schedulers[-1].get_last_lr()]
    for epoch in range(epochs):
        opt.step()
        for scheduler in schedulers:
            if metrics is None:
                scheduler.step()
            else:
                scheduler.step(metrics[epoch])
        rates.append(scheduler.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == rates[-1]
    return rates


def _slow_decay(epoch: int) -> float:
    return 1.0 / (1 + 0.05 * epoch)


SCHEDULES: dict[str, Callable[[Any, Any], Any]] = {
    "step": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[3, 10, 10, 40], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.97),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=25),
    "cosine-eta-min": lambda m, o: m.CosineAnnealingLR(o, T_max=30, eta_min=1e-3),
    "lambda": lambda m, o: m.LambdaLR(o, lr_lambda=_slow_decay),
    "lambda-per-group": lambda m, o: m.LambdaLR(o, lr_lambda=[_slow_decay, lambda e: 0.9**e]),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_rates_match_torch(name):
    make = SCHEDULES[name]
    forge_opt, torch_opt = _forge_optimizer(), _torch_optimizer()
    ours = _rates(forge_opt, [make(lr_scheduler, forge_opt)], EPOCHS)
    theirs = _rates(torch_opt, [make(torch.optim.lr_scheduler, torch_opt)], EPOCHS)
    assert ours == theirs
    assert len({tuple(r) for r in ours}) > 1, "the schedule never changed the rate"


def test_chained_schedulers_match_torch():
    # Both step on the same groups: each derives its rate from the lr the other just set
    def make(module, opt):
        return [module.ExponentialLR(opt, gamma=0.98), module.CosineAnnealingLR(opt, T_max=20)]

    forge_opt, torch_opt = _forge_optimizer(), _torch_optimizer()
    ours = _rates(forge_opt, make(lr_scheduler, forge_opt), EPOCHS)
    assert ours == _rates(torch_opt, make(torch.optim.lr_scheduler, torch_opt), EPOCHS)


def test_cosine_resumed_with_last_epoch_matches_torch():
    def make(module, opt):
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
        return module.CosineAnnealingLR(opt, T_max=25, eta_min=1e-4, last_epoch=10)

    forge_opt, torch_opt = _forge_optimizer(), _torch_optimizer()
    ours = _rates(forge_opt, [make(lr_scheduler, forge_opt)], 40)
    assert ours == _rates(torch_opt, [make(torch.optim.lr_scheduler, torch_opt)], 40)


def _metrics() -> list[float]:
    rng = np.random.default_rng(0)
    # falls, plateaus with noise, falls a little, plateaus again
    curve = np.concatenate(
        [np.linspace(1.0, 0.5, 15), 0.5 + 0.01 * rng.standard_normal(30), np.linspace(0.5, 0.45, 5)]
    )
    return [float(v) for v in np.concatenate([curve, 0.45 + 0.02 * rng.random(30)])]


PLATEAU_OPTIONS = [
    {},
    {"patience": 3},
    {"patience": 2, "cooldown": 3, "factor": 0.5},
    {"patience": 0, "threshold": 0.01, "threshold_mode": "abs"},
    {"patience": 2, "min_lr": [0.05, 0.001]},
    {"patience": 1, "factor": 0.5, "min_lr": 0.01, "eps": 1e-3},
]


@pytest.mark.parametrize("options", PLATEAU_OPTIONS, ids=str)
@pytest.mark.parametrize("mode", ["min", "max"])
def test_reduce_on_plateau_matches_torch(options, mode):
    metrics = _metrics() if mode == "min" else [-m for m in _metrics()]
    forge_opt, torch_opt = _forge_optimizer(), _torch_optimizer()
    forge = lr_scheduler.ReduceLROnPlateau(forge_opt, mode=mode, **options)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, mode=mode, **options)
    ours = _rates(forge_opt, [forge], len(metrics), metrics)
    assert ours == _rates(torch_opt, [theirs], len(metrics), metrics)
    assert ours[-1] != ours[0], "the metrics never triggered a reduction"


def _resume(make: Callable[[Any], Any], metrics: list[float] | None, before: int, after: int):
    """Rates of an uninterrupted run, and of one rebuilt from state dicts after ``before``."""
    opt = _forge_optimizer()
    scheduler = make(opt)
    head = _rates(opt, [scheduler], before, metrics)
    saved_opt, saved_scheduler = opt.state_dict(), scheduler.state_dict()
    tail_metrics = None if metrics is None else metrics[before:]
    uninterrupted = _rates(opt, [scheduler], after, tail_metrics)

    resumed_opt = _forge_optimizer()
    resumed = make(resumed_opt)
    resumed_opt.load_state_dict(saved_opt)
    resumed.load_state_dict(saved_scheduler)
    assert resumed.get_last_lr() == head[-1]
    return uninterrupted, _rates(resumed_opt, [resumed], after, tail_metrics)


@pytest.mark.parametrize("name", ["step", "multistep", "cosine-eta-min", "lambda"])
def test_resume_from_state_dict_continues_the_schedule(name):
    uninterrupted, resumed = _resume(lambda o: SCHEDULES[name](lr_scheduler, o), None, 17, 60)
    assert resumed == uninterrupted


def test_reduce_on_plateau_resumes_from_state_dict():
    def make(opt):
        return lr_scheduler.ReduceLROnPlateau(opt, patience=2, cooldown=2, factor=0.5)

    uninterrupted, resumed = _resume(make, _metrics(), 20, 40)
    assert resumed == uninterrupted
    assert len({tuple(r) for r in uninterrupted}) > 1


def test_lambda_state_dict_saves_callable_objects_but_not_functions():
    class Warmup:
        def __init__(self) -> None:
            self.epochs = 5

        def __call__(self, epoch: int) -> float:
            return min(1.0, (epoch + 1) / self.epochs)

    opt = _forge_optimizer()
    scheduler = lr_scheduler.LambdaLR(opt, [Warmup(), _slow_decay])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [{"epochs": 5}, None]
    state["lr_lambdas"][0]["epochs"] = 2
    warmup = Warmup()
    fresh = lr_scheduler.LambdaLR(_forge_optimizer(), [warmup, _slow_decay])
    fresh.load_state_dict(state)
    assert warmup.epochs == 2


def test_get_last_lr_is_a_copy():
    scheduler = lr_scheduler.StepLR(_forge_optimizer(), step_size=2)
    scheduler.get_last_lr()[0] = 99.0
    assert scheduler.get_last_lr() == list(LRS)


def test_creating_a_scheduler_records_initial_lr():
    opt = _forge_optimizer()
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert scheduler.base_lrs == list(LRS)
    assert scheduler.last_epoch == 0


def test_resuming_without_initial_lr_says_what_to_do():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_forge_optimizer(), step_size=3, last_epoch=5)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
        (lambda o: lr_scheduler.LambdaLR(o, [_slow_decay]), ValueError, "lr_lambdas"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="low"), ValueError, "mode"),
        (
            lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"),
            ValueError,
            "threshold_mode",
        ),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, cooldown=-1), ValueError, "cooldown"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lrs"),
        (lambda o: lr_scheduler.StepLR(NOT_AN_OPTIMIZER, step_size=1), TypeError, "Optimizer"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(NOT_AN_OPTIMIZER), TypeError, "Optimizer"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_arguments_raise(make, error, match):
    with pytest.raises(error, match=match):
        make(_forge_optimizer())


def test_torch_schedules_emit_no_warning_in_these_tests():
    # The comparisons above call optimizer.step() before scheduler.step(), as PyTorch asks;
    # a warning here would mean PyTorch skipped the first rate and the comparison is skewed.
    torch_opt = _torch_optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _rates(torch_opt, [torch.optim.lr_scheduler.StepLR(torch_opt, step_size=2)], 5)
    assert math.isclose(torch_opt.param_groups[0]["lr"], 0.1 * 0.1**2)

"""The checkpoint file: exact round trips of every part, readable by NumPy, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import forge_core as fc
from forge_core import nn
from forge_core.optim import Adam, lr_scheduler
from forge_learner import Checkpoint, load_checkpoint, save_checkpoint


def trained_parts() -> tuple[nn.Module, Adam]:
    fc.manual_seed(0)
    model = nn.Linear(3, 2)
    optimizer = Adam(model.parameters(), lr=0.1, betas=(0.8, 0.9))
    model(fc.randn(4, 3)).sum().backward()
    optimizer.step()
    return model, optimizer


def example() -> Checkpoint:
    model, optimizer = trained_parts()
    return Checkpoint(
        epoch=4,
        model={k: v.numpy().copy() for k, v in model.state_dict().items()},
        optimizer=optimizer.state_dict(),
        rng=fc.get_rng_state(),
        loaders={"train": {"generator": dict(np.random.default_rng(1).bit_generator.state)}},
        callbacks={"History": {"epoch": [0, 1], "history": {"loss": [1.5, float("inf")]}}},
        logs={"loss": 0.25, "note": "text", "count": 3},
    )


def test_every_part_comes_back_exactly(tmp_path: Path) -> None:
    original = example()
    save_checkpoint(original, tmp_path / "c.npz")

    loaded = load_checkpoint(tmp_path / "c.npz")

    assert loaded.epoch == 4
    assert loaded.model.keys() == original.model.keys()
    for key, array in original.model.items():
        assert loaded.model[key].dtype == array.dtype
        np.testing.assert_array_equal(loaded.model[key], array)
    assert loaded.rng == original.rng
    assert loaded.loaders == original.loaders
    assert loaded.callbacks == original.callbacks
    assert loaded.logs == original.logs
    assert_same_tree(loaded.optimizer, original.optimizer)
    assert loaded.optimizer["param_groups"][0]["betas"] == (0.8, 0.9)
    assert sorted(loaded.optimizer["state"]) == [0, 1]


def assert_same_tree(actual: Any, expected: Any) -> None:
    assert type(actual) is type(expected)
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_same_tree(actual[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same_tree(a, e)
    elif isinstance(expected, fc.Tensor):
        np.testing.assert_array_equal(actual.numpy(), expected.numpy())
    else:
        assert actual == expected


def test_a_loaded_optimizer_state_restores_the_optimizer(tmp_path: Path) -> None:
    _, optimizer = trained_parts()
    save_checkpoint(Checkpoint(0, {}, optimizer.state_dict(), {}), tmp_path / "c.npz")
    fresh = Adam(nn.Linear(3, 2).parameters(), lr=0.5)

    fresh.load_state_dict(load_checkpoint(tmp_path / "c.npz").optimizer)

    assert_same_tree(fresh.state_dict(), optimizer.state_dict())


def test_a_scheduler_state_with_int_keys_comes_back(tmp_path: Path) -> None:
    _, optimizer = trained_parts()
    scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[1, 3, 3])
    state = {"LRScheduler": {"scheduler": scheduler.state_dict()}}
    save_checkpoint(Checkpoint(0, {}, {}, {}, callbacks=state), tmp_path / "c.npz")

    loaded = load_checkpoint(tmp_path / "c.npz").callbacks["LRScheduler"]["scheduler"]

    assert loaded["milestones"] == {1: 1, 3: 2}
    assert loaded == scheduler.state_dict()


def test_numpy_reads_the_arrays_by_path(tmp_path: Path) -> None:
    save_checkpoint(example(), tmp_path / "c.npz")

    with np.load(tmp_path / "c.npz") as archive:
        assert archive["model/weight"].shape == (2, 3)
        assert archive["optimizer/state/0/exp_avg"].shape == (2, 3)


def test_a_failed_write_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.npz"
    save_checkpoint(example(), path)
    before = path.read_bytes()

    def fail(handle: Any, *args: Any, **kwargs: Any) -> None:
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(example(), path)

    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_state_that_json_cannot_hold_is_refused_by_name(tmp_path: Path) -> None:
    checkpoint = Checkpoint(0, {}, {}, {}, callbacks={"Mine": {"fn": print}})

    with pytest.raises(TypeError, match=r"builtin_function_or_method \(at 'callbacks/Mine/fn'\)"):
        save_checkpoint(checkpoint, tmp_path / "c.npz")


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "weights.npz", weight=np.zeros(3))

    with pytest.raises(ValueError, match="not a forge checkpoint"):
        load_checkpoint(tmp_path / "weights.npz")

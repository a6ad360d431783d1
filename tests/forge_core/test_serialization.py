"""``save``/``load`` of state dicts as ``.npz``, and the engine's random state."""

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import forge_core as fc
from forge_core import nn


def _state() -> OrderedDict[str, Any]:
    return OrderedDict(
        [
            ("layer.weight", fc.randn(3, 2)),
            ("layer.bias", fc.randn(2, dtype=fc.float64)),
            ("bn.num_batches_tracked", fc.tensor(7)),
            ("mask", fc.tensor([True, False])),
            ("scalar", fc.tensor(2.5)),
            ("plain_array", np.arange(4, dtype=np.int32)),
            ("file", fc.zeros(1)),  # names np.savez(**kwargs) cannot take
            ("allow_pickle", fc.ones(1)),
        ]
    )


def test_round_trip_keeps_names_order_values_and_dtypes(tmp_path: Path) -> None:
    state = _state()
    fc.save(state, tmp_path / "model.npz")
    loaded = fc.load(tmp_path / "model.npz")
    assert list(loaded) == list(state)
    for name, original in state.items():
        expected = original.numpy() if isinstance(original, fc.Tensor) else original
        assert isinstance(loaded[name], fc.Tensor)
        assert loaded[name].dtype == np.asarray(expected).dtype, name
        np.testing.assert_array_equal(loaded[name].numpy(), expected)
        assert not loaded[name].requires_grad


def test_paths_may_be_strings_and_numpy_reads_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "weights.npz")
    fc.save({"w": fc.tensor([1.0, 2.0])}, path)
    with np.load(path) as archive:
        np.testing.assert_array_equal(archive["w"], [1.0, 2.0])
    np.savez(tmp_path / "from_numpy.npz", w=np.eye(2))
    np.testing.assert_array_equal(fc.load(tmp_path / "from_numpy.npz")["w"].numpy(), np.eye(2))


def test_tensors_that_require_grad_are_saved_by_value(tmp_path: Path) -> None:
    param = nn.Parameter(fc.randn(2, 2))
    fc.save({"p": param}, tmp_path / "p.npz")
    np.testing.assert_array_equal(fc.load(tmp_path / "p.npz")["p"].numpy(), param.detach().numpy())


def test_a_failed_save_leaves_the_old_file_whole_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoint.npz"
    fc.save({"w": fc.tensor([1.0])}, path)
    before = path.read_bytes()

    calls = []

    def write_then_fail(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        real_write_array(*args, **kwargs)

    real_write_array = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        fc.save({"a": fc.zeros(3), "b": fc.zeros(3)}, path)

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_save_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.npz"
    fc.save({"w": fc.tensor([1.0])}, path)
    fc.save({"v": fc.tensor([2.0])}, path)
    assert list(fc.load(path)) == ["v"]
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        fc.save({"w": np.array([{"a": 1}], dtype=object)}, tmp_path / "bad.npz")
    assert os.listdir(tmp_path) == []


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(fc.randn(3, 2))
        self.bias = nn.Parameter(fc.zeros(2))


def test_a_module_state_dict_survives_a_round_trip(tmp_path: Path) -> None:
    source, target = _Tiny(), _Tiny()
    fc.save(source.state_dict(), tmp_path / "tiny.npz")
    target.load_state_dict(fc.load(tmp_path / "tiny.npz"))
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name].numpy(), value.numpy())


# ----- random state -----


def test_manual_seed_makes_random_draws_reproducible() -> None:
    def draws() -> list[np.ndarray]:
        return [
            fc.randn(3, 4).numpy(),
            fc.rand(5).numpy(),
            fc.randint(0, 10, (6,)).numpy(),
            fc.randperm(8).numpy(),
        ]

    fc.manual_seed(123)
    first = draws()
    fc.manual_seed(123)
    second = draws()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    fc.manual_seed(124)
    assert not np.array_equal(fc.randn(3, 4).numpy(), first[0])


def test_rng_state_round_trip() -> None:
    fc.manual_seed(5)
    fc.randn(10)
    state = fc.get_rng_state()
    expected = fc.randn(4).numpy()
    fc.randn(100)  # move on
    fc.set_rng_state(state)
    np.testing.assert_array_equal(fc.randn(4).numpy(), expected)


def test_rng_state_is_a_snapshot_that_fits_in_a_json_checkpoint() -> None:
    state = fc.get_rng_state()
    first = fc.randn(3).numpy()
    assert fc.get_rng_state() != state  # the snapshot did not move with the generator
    fc.set_rng_state(json.loads(json.dumps(state)))
    np.testing.assert_array_equal(fc.randn(3).numpy(), first)

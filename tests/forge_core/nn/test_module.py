"""``Module`` behaviour on real layers: registration, PyTorch's parameter and state_dict order,
saving and loading (``.npz`` and PyTorch state dicts), strictness, modes, dtype and grads."""

from pathlib import Path

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn


class Net(nn.Module):
    """A model that mixes nesting, a bare parameter, buffers and an unused-in-order child."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.drop = nn.Dropout(0.5)
        self.embed = nn.Embedding(5, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: fc.Tensor, ids: fc.Tensor) -> fc.Tensor:
        hidden = self.drop(self.features(x) + self.embed(ids))
        out: fc.Tensor = self.head(hidden) * self.scale
        return out


class TorchNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU()
        )
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.drop = torch.nn.Dropout(0.5)
        self.embed = torch.nn.Embedding(5, 8)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.drop(self.features(x) + self.embed(ids))
        out: torch.Tensor = self.head(hidden) * self.scale
        return out


def _inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 5, 6)


def _run(model: Net, seed: int = 0) -> np.ndarray:
    x, ids = _inputs(seed)
    with fc.no_grad():
        return model(fc.tensor(x), fc.tensor(ids)).numpy()


def test_parameter_and_state_dict_order_match_torch() -> None:
    model, reference = Net(), TorchNet()
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in reference.named_parameters()]
    assert list(model.state_dict()) == list(reference.state_dict())
    assert [n for n, _ in model.named_buffers()] == [n for n, _ in reference.named_buffers()]
    assert [n for n, _ in model.named_modules()] == [n for n, _ in reference.named_modules()]
    for name, value in reference.state_dict().items():
        assert model.state_dict()[name].shape == tuple(value.shape), name


def test_a_torch_state_dict_loads_and_gives_torchs_outputs() -> None:
    torch.manual_seed(0)
    reference = TorchNet()
    x, ids = _inputs()
    reference.train()
    reference(torch.tensor(x), torch.tensor(ids))  # move the running statistics off their init
    reference.eval()
    model = Net()
    model.load_state_dict(reference.state_dict())
    model.eval()
    expected = reference(torch.tensor(x), torch.tensor(ids)).detach().numpy()
    np.testing.assert_allclose(_run(model), expected, rtol=1e-5, atol=1e-6)


def test_state_dict_round_trips_through_npz(tmp_path: Path) -> None:
    fc.manual_seed(0)
    model = Net()
    model(fc.tensor(_inputs()[0]), fc.tensor(_inputs()[1]))  # a training step moves BN stats
    model.eval()
    path = tmp_path / "model.npz"
    model.save(path)
    fc.manual_seed(1)
    restored = Net()
    restored.load(path)
    restored.eval()
    for (name, ours), (_, theirs) in zip(
        model.state_dict().items(), restored.state_dict().items(), strict=True
    ):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)
        assert ours.dtype == theirs.dtype, name
    np.testing.assert_array_equal(_run(restored), _run(model))
    with np.load(path) as archive:
        assert archive["features.1.num_batches_tracked"].dtype == np.int64


def test_state_dict_shares_memory_and_load_copies_in_place() -> None:
    model = Net()
    weight = model.head.weight
    model.load_state_dict({k: v.numpy() * 0 for k, v in model.state_dict().items()})
    assert model.head.weight is weight and not weight.data.any()
    model.state_dict()["head.bias"].data[...] = 7
    assert (model.head.bias is not None) and (model.head.bias.data == 7).all()


def test_strict_loading_names_missing_and_unexpected_keys() -> None:
    model = Net()
    state = {k: v.numpy() for k, v in Net().state_dict().items()}
    del state["head.bias"]
    state["head.extra"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"head\.bias.*head\.extra"):
        model.load_state_dict(state)
    before = model.head.weight.data.copy()
    model.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(model.head.weight.data, state["head.weight"])
    assert not np.array_equal(before, state["head.weight"])
    bad = {k: v.numpy() for k, v in model.state_dict().items()}
    bad["head.weight"] = np.zeros((2, 8))
    with pytest.raises(ValueError, match=r"head\.weight.*\(2, 8\).*\(3, 8\)"):
        model.load_state_dict(bad)


def test_train_and_eval_reach_every_submodule_and_change_behaviour() -> None:
    fc.manual_seed(0)
    model = Net()
    assert all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())
    np.testing.assert_array_equal(_run(model), _run(model))  # no dropout, fixed statistics
    model.train()
    assert all(m.training for m in model.modules())
    assert not np.array_equal(_run(model), _run(model))  # dropout draws new masks


def test_to_float64_converts_parameters_buffers_and_the_computation() -> None:
    model = Net().to(fc.float64)
    for name, value in model.state_dict().items():
        expected = np.int64 if name.endswith("num_batches_tracked") else np.float64
        assert value.dtype == expected, name
    x, ids = _inputs()
    out = model(fc.tensor(x.astype(np.float64)), fc.tensor(ids))
    out.sum().backward()
    assert out.dtype == np.float64
    assert all(p.grad is not None and p.grad.dtype == np.float64 for p in model.parameters())
    model.float()
    assert all(p.dtype == np.float32 and p.grad is not None for p in model.parameters())
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in model.parameters())


def test_float32_model_stays_float32_through_forward_and_backward() -> None:
    model = Net()
    x, ids = _inputs()
    out = model(fc.tensor(x), fc.tensor(ids))
    out.sum().backward()
    assert out.dtype == np.float32
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.dtype == np.float32, name


def test_zero_grad_and_requires_grad() -> None:
    model = Net()
    x, ids = _inputs()
    model(fc.tensor(x), fc.tensor(ids)).sum().backward()
    model.zero_grad(set_to_none=False)
    for param in model.parameters():
        assert param.grad is not None and not param.grad.data.any()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.requires_grad_(False)
    assert not model(fc.tensor(x), fc.tensor(ids)).requires_grad


def test_registration_rules() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.same = self.fc  # a shared layer is listed once
            self.plain = fc.zeros(2)  # a plain tensor is neither parameter nor buffer
            self.register_buffer("count", fc.zeros(1))

    block = Block()
    assert [n for n, _ in block.named_parameters()] == ["fc.weight", "fc.bias"]
    assert list(block.state_dict()) == ["count", "fc.weight", "fc.bias"]
    block.count = fc.ones(1)
    assert block.state_dict()["count"].item() == 1
    del block.fc
    assert [n for n, _ in block.named_parameters()] == ["same.weight", "same.bias"]

    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Forgetful()

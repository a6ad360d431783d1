"""``Sequential``, ``ModuleList`` and ``Flatten``: PyTorch's naming, indexing and shapes."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from tests.forge_core.nn.parity import compare_layer


def test_sequential_chains_layers_and_matches_torch() -> None:
    torch.manual_seed(0)
    reference = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3), torch.nn.Tanh()
    )
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.Tanh())
    x = np.random.default_rng(0).standard_normal((4, 6))
    for dtype in (np.float32, np.float64):
        compare_layer(model, reference, x, dtype)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_from_ordered_dict_uses_its_names() -> None:
    model = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert [name for name, _ in model.named_children()] == ["fc", "act"]
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(model[0], nn.Linear) and isinstance(model[-1], nn.ReLU)


def test_sequential_indexing_len_iteration_and_append() -> None:
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3
    assert list(model) == layers
    assert model[1] is layers[1] and model[-1] is layers[2]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    assert list(head.state_dict()) == ["0.weight", "0.bias"]
    model[1] = nn.Tanh()
    assert isinstance(model[1], nn.Tanh) and len(model) == 3
    model.append(nn.Sigmoid())
    assert len(model) == 4 and "3" in dict(model.named_children())
    with pytest.raises(IndexError, match="out of range"):
        model[4]


def test_empty_sequential_is_the_identity() -> None:
    x = fc.randn(2)
    assert nn.Sequential()(x) is x


def test_module_list_registers_its_modules() -> None:
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    blocks.append(nn.Linear(2, 1))
    blocks.extend([nn.ReLU()])
    blocks += [nn.Tanh()]
    assert len(blocks) == 5
    assert [name for name, _ in blocks.named_children()] == ["0", "1", "2", "3", "4"]
    assert len(list(blocks.parameters())) == 6
    first = blocks[0]
    blocks.insert(0, nn.Sigmoid())
    assert isinstance(blocks[0], nn.Sigmoid) and blocks[1] is first
    assert [name for name, _ in blocks.named_children()] == ["0", "1", "2", "3", "4", "5"]
    assert list(blocks.state_dict())[:2] == ["1.weight", "1.bias"]
    assert isinstance(blocks[1:3], nn.ModuleList) and len(blocks[1:3]) == 2
    blocks[0] = nn.Identity()
    assert isinstance(blocks[0], nn.Identity)
    with pytest.raises(IndexError):
        blocks[10]


def test_module_list_in_a_model_gives_pytorchs_names() -> None:
    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 2)])

    class TorchStack(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 3), torch.nn.Linear(3, 2)])

    assert list(Stack().state_dict()) == list(TorchStack().state_dict())


@pytest.mark.parametrize(
    ("shape", "start_dim", "end_dim"),
    [((2, 3, 4, 5), 1, -1), ((2, 3, 4, 5), 0, -1), ((2, 3, 4, 5), 1, 2), ((2, 3), 1, -1)],
)
def test_flatten_matches_torch(shape: tuple[int, ...], start_dim: int, end_dim: int) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    out = compare_layer(
        nn.Flatten(start_dim, end_dim), torch.nn.Flatten(start_dim, end_dim), x, np.float32
    )
    assert out.shape == torch.nn.Flatten(start_dim, end_dim)(torch.tensor(x)).shape


def test_reprs_match_pytorch() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.ReLU())
    reference = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2), torch.nn.ReLU())
    assert repr(model) == repr(reference)

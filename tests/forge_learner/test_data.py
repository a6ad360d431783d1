"""Datasets and the DataLoader: batches cover the data, shuffling is seeded and resumable."""

from __future__ import annotations

import numpy as np
import pytest

import forge_core as fc
from forge_learner import DataLoader, Dataset, TensorDataset


def rows(n: int) -> TensorDataset:
    return TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))


def labels_of(loader: DataLoader) -> list[list[int]]:
    return [batch[-1].numpy().tolist() for batch in loader]


def flat(batches: list[list[int]]) -> list[int]:
    return [label for batch in batches for label in batch]


@pytest.mark.parametrize(
    ("drop_last", "sizes"), [(False, [4, 4, 2]), (True, [4, 4])], ids=["keep", "drop"]
)
def test_batches_cover_the_data_in_order(drop_last: bool, sizes: list[int]) -> None:
    loader = DataLoader(rows(10), batch_size=4, drop_last=drop_last)

    batches = list(loader)

    assert len(loader) == len(sizes)
    assert [len(b[0]) for b in batches] == sizes
    assert all(isinstance(t, fc.Tensor) for b in batches for t in b)
    assert flat(labels_of(loader)) == list(range(sum(sizes)))


def test_shuffle_changes_order_each_epoch_and_repeats_with_the_seed() -> None:
    first, again = (
        DataLoader(rows(20), 5, shuffle=True, seed=3),
        DataLoader(rows(20), 5, True, seed=3),
    )

    epochs = [labels_of(first) for _ in range(2)]

    assert epochs[0] != epochs[1]
    assert sorted(flat(epochs[0])) == list(range(20))
    assert [labels_of(again) for _ in range(2)] == epochs


def test_without_a_seed_the_engine_seed_decides_and_only_shuffling_draws() -> None:
    fc.manual_seed(7)
    state = fc.get_rng_state()
    DataLoader(rows(20), 5)
    assert fc.get_rng_state() == state

    orders = []
    for _ in range(2):
        fc.manual_seed(7)
        orders.append(labels_of(DataLoader(rows(20), 5, shuffle=True)))
    assert orders[0] == orders[1]


def test_state_dict_resumes_the_shuffle_sequence() -> None:
    loader = DataLoader(rows(20), 5, shuffle=True, seed=1)
    labels_of(loader)
    state = loader.state_dict()
    expected = labels_of(loader)

    resumed = DataLoader(rows(20), 5, shuffle=True, seed=99)
    resumed.load_state_dict(state)

    assert labels_of(resumed) == expected
    assert DataLoader(rows(3), 2).state_dict() == {}


def test_state_dict_of_another_kind_of_loader_is_refused() -> None:
    with pytest.raises(ValueError, match="shuffle=True"):
        DataLoader(rows(4), 2).load_state_dict(DataLoader(rows(4), 2, shuffle=True).state_dict())
    with pytest.raises(ValueError, match="shuffle=False"):
        DataLoader(rows(4), 2, shuffle=True).load_state_dict({})


def test_tensor_dataset_takes_the_default_float_dtype_and_keeps_integers() -> None:
    data = TensorDataset(np.zeros((3, 2)), fc.tensor([1.0, 2.0, 3.0]), np.array([1, 2, 3]))

    assert [a.dtype for a in data.arrays] == [np.float32, np.float32, np.int64]
    assert len(data) == 3
    assert [a.tolist() for a in data[1]] == [[0.0, 0.0], 2.0, 2]


def test_tensor_dataset_refuses_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError, match=r"same number of samples .* \[3, 2\]"):
        TensorDataset(np.zeros(3), np.zeros(2))


def test_a_dataset_of_samples_is_batched_by_stacking() -> None:
    class Squares(Dataset):
        def __len__(self) -> int:
            return 5

        def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
            return np.full(2, float(index)), np.array(index * index)

    batches = list(DataLoader(Squares(), batch_size=3))

    assert batches[0][0].shape == (3, 2)
    assert batches[1][1].numpy().tolist() == [9, 16]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(rows(3), batch_size=0)

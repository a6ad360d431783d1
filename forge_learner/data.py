"""Datasets of arrays and the ``DataLoader`` that cuts them into (optionally shuffled) batches.

The names and arguments are PyTorch's (``Dataset``, ``TensorDataset``, ``DataLoader(dataset,
batch_size, shuffle, drop_last)``). Two things differ, both for speed and for exact resumes:

- A dataset hands out a whole batch at once (``Dataset.batch(indices)``): for arrays that is
  one fancy-indexing call instead of a Python loop over samples.
- The shuffling ``DataLoader`` owns its random generator, whose state ``state_dict()`` returns
  and a checkpoint stores, so a resumed run sees the same batches as one never interrupted.
  Without an explicit ``seed`` it seeds itself from the engine's generator, so
  ``forge_core.manual_seed`` alone makes a run repeatable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np

from forge_core import Tensor, get_default_dtype
from forge_core.random import generator as engine_generator

Array = np.ndarray


def as_array(value: Any) -> Array:
    """``value`` as an array; floating-point data takes the engine's default dtype.

    NumPy makes float64 by default and the engine float32: converting here spares every user
    the mixed-precision surprise. Integer data (class labels) keeps its dtype.
    """
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind == "f":
        array = array.astype(get_default_dtype(), copy=False)
    return array


class Dataset(ABC):
    """A sized collection of samples; a sample is a tuple of arrays, e.g. ``(features, label)``.

    Subclasses define ``__len__`` and ``__getitem__``; ``batch`` stacks samples one by one and
    is worth overriding when the data can be sliced in one go.
    """

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> tuple[Array, ...]: ...

    def batch(self, indices: Array) -> tuple[Array, ...]:
        """The samples at ``indices``, each field stacked along a new first axis."""
        samples = [self[int(i)] for i in indices]
        return tuple(np.stack(field) for field in zip(*samples, strict=True))


class TensorDataset(Dataset):
    """Samples are the rows of arrays (or tensors) that share their first dimension.

    ``TensorDataset(x, y)`` gives samples ``(x[i], y[i])``, so a learner sees batches
    ``(inputs, target)``; more arrays mean more model inputs, the target always last.
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array, e.g. TensorDataset(x, y)")
        self.arrays = tuple(as_array(a) for a in arrays)
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(
                "every array of a TensorDataset needs the same number of samples (first "
                f"dimension), got {[len(a) for a in self.arrays]}"
            )

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple[Array, ...]:
        return tuple(a[index] for a in self.arrays)

    def batch(self, indices: Array) -> tuple[Array, ...]:
        return tuple(a[indices] for a in self.arrays)


class DataLoader:
    """Iterates over a dataset in batches of tensors, reshuffling at every pass if asked.

    Each ``iter(loader)`` is one epoch. ``drop_last`` leaves out a last batch smaller than
    ``batch_size`` (useful when a layer needs full batches); otherwise it is kept.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator: np.random.Generator | None = None
        if shuffle:
            if seed is None:
                seed = int(engine_generator().integers(2**63))
            self.generator = np.random.default_rng(seed)

    def __len__(self) -> int:
        """The number of batches in one pass."""
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        count = len(self.dataset)
        order = np.arange(count) if self.generator is None else self.generator.permutation(count)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            fields = self.dataset.batch(order[start : start + self.batch_size])
            yield tuple(Tensor(field) for field in fields)

    def state_dict(self) -> dict[str, Any]:
        """The shuffling generator's state (plain ints and strings), empty without shuffling."""
        if self.generator is None:
            return {}
        return {"generator": dict(self.generator.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.generator is None:
            if state:
                raise ValueError(
                    "this state holds a shuffling generator, but the DataLoader does not "
                    "shuffle: build it with shuffle=True, as in the run that saved the state"
                )
            return
        if "generator" not in state:
            raise ValueError(
                "this state has no shuffling generator, but the DataLoader shuffles: build it "
                "with shuffle=False, as in the run that saved the state"
            )
        self.generator.bit_generator.state = state["generator"]

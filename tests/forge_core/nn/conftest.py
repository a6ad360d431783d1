"""Run PyTorch single-threaded in these tests: their tensors are tiny, and on a busy machine
PyTorch's thread pool turns a microsecond op into milliseconds of waiting."""

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_threaded_torch() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

"""bench/ops.py compares like with like: each row computes the same values in forge and PyTorch."""

import numpy as np
import pytest
import torch

import forge_core as fc
from bench.ops import measure, rows


@pytest.mark.parametrize(
    ("label", "forge_op", "torch_op"), rows(4), ids=[label for label, _, _ in rows(4)]
)
def test_each_row_computes_the_same_values_in_both(label, forge_op, torch_op) -> None:
    x = np.random.default_rng(1).uniform(0.5, 1.5, (4, 512)).astype(np.float32)
    mine = forge_op(fc.tensor(x)).numpy()
    theirs = torch_op(torch.tensor(x)).numpy()
    np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5, err_msg=label)


def test_measure_times_every_row() -> None:
    results = measure(size=4, repeats=1)
    assert [label for label, _, _ in results] == [label for label, _, _ in rows(4)]
    assert all(forge_ms > 0 and torch_ms > 0 for _, forge_ms, torch_ms in results)

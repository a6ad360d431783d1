"""The benchmark compares like with like: each workload takes the same training steps in forge
and in PyTorch (same weights, data and optimizer), so their losses agree step after step."""

import pytest

from bench.engine import WORKLOADS, measure


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_forge_and_torch_take_the_same_training_steps(name):
    forge_step, torch_step = WORKLOADS[name].build()
    for step in range(3):
        forge_loss, torch_loss = forge_step(), torch_step()
        assert forge_loss == pytest.approx(torch_loss, rel=2e-4, abs=1e-5), f"step {step}"


def test_measure_reports_a_ratio_of_the_two_medians():
    result = measure(WORKLOADS["mlp"], rounds=3, steps=2, warmup=1)
    assert result.forge_ms > 0 and result.torch_ms > 0
    assert result.ratio == pytest.approx(result.forge_ms / result.torch_ms)
    assert result.forge_loss == pytest.approx(result.torch_loss, rel=1e-3)

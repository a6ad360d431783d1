"""The benchmark compares like with like: each workload takes the same training steps in forge
and in PyTorch (same weights, data and optimizer), so their losses agree step after step; and
each framework runs in a process of its own."""

import pytest

from bench.engine import Worker, build_pair, measure
from bench.workloads import WORKLOADS


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_forge_and_torch_take_the_same_training_steps(name):
    forge_step, torch_step = build_pair(name)
    for step in range(3):
        forge_loss, torch_loss = forge_step(), torch_step()
        assert forge_loss == pytest.approx(torch_loss, rel=2e-4, abs=1e-5), f"step {step}"


def test_measure_times_both_in_their_own_processes_on_the_same_steps():
    result = measure("mlp", rounds=3, steps=2, warmup=1, settle_s=0)
    assert result.forge_ms > 0 and result.torch_ms > 0
    assert result.ratio == pytest.approx(result.forge_ms / result.torch_ms)
    assert 0 < result.ratio_q1 <= result.ratio_q3
    # 1 warm-up and 3 rounds of 2 steps on each side: the same seven steps
    assert result.forge_loss == pytest.approx(result.torch_loss, rel=1e-3)


def test_the_forge_worker_never_loads_torch():
    # forge's process has only forge's libraries, so none of PyTorch's threads share its cores
    with (
        Worker("torch", "mlp") as torch_worker,
        Worker("forge", "mlp", torch_worker.built) as forge,
    ):
        forge.run(1)
        with open(f"/proc/{forge.pid}/maps") as maps:
            forge_libraries = maps.read()
        with open(f"/proc/{torch_worker.pid}/maps") as maps:
            torch_libraries = maps.read()
    assert "libtorch_cpu" in torch_libraries
    assert "libtorch" not in forge_libraries


def test_a_worker_that_fails_to_build_says_which_and_how():
    # forge cannot load an empty state dict into the MLP
    with pytest.raises(RuntimeError, match="the forge worker for mlp ended with exit code 1"):
        Worker("forge", "mlp", {})

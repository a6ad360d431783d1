"""The channel threads: results do not depend on the split, and a forked child still works."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

import forge_core as fc
from forge_core.nn.conv import Conv2d
from forge_core.nn.pooling import avg_pool2d, max_pool2d
from forge_core.ops.threads import channel_threads


@pytest.fixture
def split_everything() -> Iterator[None]:
    """Split every loop over three threads (an uneven split of most channel counts)."""
    threads, min_work = channel_threads.threads, channel_threads.min_work
    channel_threads.threads, channel_threads.min_work = 3, 0
    yield
    channel_threads.threads, channel_threads.min_work = threads, min_work


def run_layers(x: np.ndarray) -> list[np.ndarray]:
    """Outputs and input gradients of conv, max-pool and avg-pool (overlapping windows)."""
    fc.manual_seed(0)
    layer = Conv2d(x.shape[1], 7, 3, padding=1, dtype=fc.float64)
    results = []
    for op in (layer, lambda t: max_pool2d(t, 3, 2, 1), lambda t: avg_pool2d(t, 3, 2, 1)):
        inputs = fc.tensor(x, requires_grad=True)
        out = op(inputs)
        out.backward(np.random.default_rng(1).standard_normal(out.shape))
        assert inputs.grad is not None
        results += [out.data.copy(), inputs.grad.data.copy()]
    return results


def test_results_do_not_depend_on_how_channels_are_split(split_everything: None) -> None:
    x = np.random.default_rng(0).standard_normal((4, 5, 9, 9))
    split = run_layers(x)
    channel_threads.threads = 1
    for a, b in zip(split, run_layers(x), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_forked_child_can_still_convolve(split_everything: None) -> None:
    x = fc.randn(2, 3, 8, 8)
    layer = Conv2d(3, 4, 3)
    expected = layer(x).detach().numpy().copy()
    # Make every worker thread exist (three parts must meet at once), as after a long run.
    everyone = threading.Barrier(3)

    def meet(_: slice) -> None:
        everyone.wait(timeout=10)

    channel_threads.run(meet, channels=3, work=1)
    pid = os.fork()
    if pid == 0:  # the child: its copy of the executor has no threads behind it
        ok = np.allclose(layer(x).detach().numpy(), expected)
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    while (status := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung waiting for worker threads it does not have")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status[1]) == 0

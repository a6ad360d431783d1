"""The buffer cache: it hands out only arrays nobody holds, so results survive reuse."""

from __future__ import annotations

import numpy as np

import forge_core as fc
from forge_core.nn.conv import Conv2d
from forge_core.nn.pooling import max_pool2d
from forge_core.ops.buffers import BufferCache


def test_buffer_cache_reuses_only_arrays_nobody_holds() -> None:
    cache = BufferCache()
    first = cache.empty((256, 256), np.float32)
    view = first.T
    assert cache.empty((256, 256), np.float32) is not first  # ``first`` is held
    del first
    assert cache.empty((256, 256), np.float32) is not view.base  # a view holds its base too
    base = view.base
    assert base is not None
    address = base.ctypes.data
    del view, base
    assert cache.empty((256, 256), np.float32).ctypes.data == address
    assert cache.empty((4,), np.float32) is not cache.empty((4,), np.float32)  # small: no cache
    cache.clear()


def test_outputs_a_caller_holds_survive_later_calls() -> None:
    """Conv and pooling outputs come from the cache; holding one must keep it intact."""
    layer = Conv2d(2, 8, 3, padding=1)
    x = fc.randn(16, 2, 16, 16)
    with fc.no_grad():
        first = layer(x)
        pooled = max_pool2d(first, 2)
        kept, kept_pooled = first.data.copy(), pooled.data.copy()
        for _ in range(3):
            max_pool2d(layer(fc.randn(16, 2, 16, 16)), 2)
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_array_equal(pooled.data, kept_pooled)


def test_repeated_training_steps_give_the_same_gradients() -> None:
    """A step's buffers are reused by the next step; its results must not change."""
    layer = Conv2d(3, 8, 3, padding=1)
    x = fc.randn(16, 3, 16, 16, requires_grad=True)
    grads: list[tuple[np.ndarray, np.ndarray]] = []
    for _ in range(3):
        layer.zero_grad()
        x.grad = None
        max_pool2d(layer(x).relu(), 2).sum().backward()
        assert x.grad is not None and layer.weight.grad is not None
        grads.append((x.grad.data.copy(), layer.weight.grad.data.copy()))
    for later in grads[1:]:
        for a, b in zip(grads[0], later, strict=True):
            np.testing.assert_array_equal(a, b)

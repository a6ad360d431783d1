"""Large arrays for the convolution and pooling ops, kept from one training step to the next.

Split out of ``forge_core.ops.conv`` because every op that works in CHWN order (convolutions,
transposed convolutions, pooling) takes its arrays from the one cache here.
"""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict
from typing import Any

from forge_core.backend import Array, xp


class BufferCache:
    """Arrays for the convolution and pooling ops, reused from one training step to the next.

    Why: a training step of a CNN allocates tens of megabytes and frees them at its end; glibc
    then hands the top of the heap back to the OS, and the next step page-faults every page in
    again. Measured on the engine benchmark's CNN, that was a third of the conv layers' time.

    An array is handed out again only when nothing but the cache refers to it any more (its
    reference count says so; a view counts as a reference to its base), so an output a caller
    holds or a value saved for backward is never overwritten. Arrays smaller than ``min_bytes``
    come from ``malloc`` as usual. The cache keeps at most ``per_shape`` arrays of each shape
    and dtype, for the ``max_shapes`` most recently used ones; ``clear()`` lets them all go.
    CPython only (it reads reference counts); a CuPy backend would use CuPy's memory pool.
    """

    # References to a cached array while ``empty`` looks at it: the shape's list, the loop
    # variable and ``sys.getrefcount``'s argument. Any more means someone else holds it.
    _UNUSED = 3

    def __init__(self, max_shapes: int = 64, per_shape: int = 8, min_bytes: int = 1 << 16):
        self.max_shapes = max_shapes
        self.per_shape = per_shape
        self.min_bytes = min_bytes
        self._arrays: OrderedDict[tuple[Any, ...], list[Array]] = OrderedDict()
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Array:
        """An uninitialised C-contiguous array, like ``xp.empty``."""
        dtype = xp.dtype(dtype)
        if dtype.itemsize * math.prod(shape) < self.min_bytes:
            return xp.empty(shape, dtype=dtype)
        key = (tuple(shape), dtype)
        with self._lock:
            arrays = self._arrays.get(key)
            if arrays is None:
                arrays = self._arrays[key] = []
                if len(self._arrays) > self.max_shapes:
                    self._arrays.popitem(last=False)
            else:
                self._arrays.move_to_end(key)
            for array in arrays:
                if sys.getrefcount(array) <= self._UNUSED:
                    return array
            array = xp.empty(shape, dtype=dtype)
            if len(arrays) < self.per_shape:
                arrays.append(array)
            return array

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Array:
        array = self.empty(shape, dtype)
        array[...] = 0
        return array

    def clear(self) -> None:
        with self._lock:
            self._arrays.clear()


buffers = BufferCache()

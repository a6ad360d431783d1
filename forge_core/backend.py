"""The one place where forge chooses its array module.

Every op computes on ``xp`` arrays. Today that is NumPy; a CuPy backend would be added here
(choose the module, and make ``asnumpy`` copy device arrays back to the host) without touching
the ops, because they only use the NumPy API that CuPy mirrors.
"""

from typing import Any

import numpy as np

xp = np
Array = np.ndarray[Any, Any]


def asnumpy(array: Array) -> Array:
    """Return ``array`` as a host NumPy array (a no-op on the NumPy backend)."""
    return array

"""Data types and the default floating-point type (float32 unless set otherwise)."""

from typing import Any

from forge_core.backend import xp

float32 = xp.dtype("float32")
float64 = xp.dtype("float64")
int64 = xp.dtype("int64")
int32 = xp.dtype("int32")
bool_ = xp.dtype("bool")

_default = [float32]


def get_default_dtype() -> Any:
    return _default[0]


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype that Python floats and new parameters get (float32 or float64)."""
    dtype = xp.dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError(f"default dtype must be float32 or float64, not {dtype}")
    _default[0] = dtype

"""forge_core: AzuraForge's deep-learning engine, written from scratch on NumPy.

It follows PyTorch's public API (``Tensor``, ``nn``, ``optim``) so that a PyTorch user needs no
new habits, and a PyTorch ``state_dict`` loads into the same forge model.
"""

from forge_core.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from forge_core.creation import (
    arange,
    cat,
    from_numpy,
    full,
    matmul,
    maximum,
    minimum,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from forge_core.dtypes import (
    bool_,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    set_default_dtype,
)
from forge_core.random import get_rng_state, manual_seed, set_rng_state
from forge_core.serialization import load, save
from forge_core.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "arange",
    "bool_",
    "cat",
    "enable_grad",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "get_default_dtype",
    "get_rng_state",
    "int32",
    "int64",
    "is_grad_enabled",
    "load",
    "manual_seed",
    "matmul",
    "maximum",
    "minimum",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "randperm",
    "save",
    "set_default_dtype",
    "set_grad_enabled",
    "set_rng_state",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]

# ----- convolutions (issue #14), under PyTorch's top-level names -----
from forge_core.nn.conv import conv1d, conv2d
from forge_core.nn.conv_transpose import conv_transpose1d, conv_transpose2d

__all__ += ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]

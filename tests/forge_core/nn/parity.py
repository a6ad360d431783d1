"""Run a forge layer and the PyTorch layer it copies on the same input and compare everything.

The forge layer takes the PyTorch layer's ``state_dict`` (as PyTorch tensors, which also checks
that names and shapes match), both run forward on the same input, both run backward with the
same random output gradient, and then the outputs, the input gradient and each parameter's
gradient (matched by name) must agree, with the forge side keeping the requested dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import forge_core as fc
from forge_core import nn

# float32 allows for a different summation order; float64 catches a formula right to a few digits.
TOLERANCES: dict[Any, tuple[float, float]] = {
    np.float32: (2e-5, 2e-5),
    np.float64: (1e-10, 1e-12),
}
TORCH_DTYPES: dict[Any, torch.dtype] = {np.float32: torch.float32, np.float64: torch.float64}


def assert_close(
    actual: np.ndarray,
    expected: np.ndarray,
    dtype: Any,
    what: str,
    tolerances: tuple[float, float] | None = None,
) -> None:
    rtol, atol = tolerances or TOLERANCES[dtype]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def compare_layer(
    layer: nn.Module,
    reference: torch.nn.Module,
    x: np.ndarray,
    dtype: Any,
    input_grad: bool = True,
    seed: int = 0,
    tolerances: tuple[float, float] | None = None,
) -> fc.Tensor:
    """Check ``layer`` against ``reference`` on input ``x``; return the forge output.

    ``tolerances`` (rtol, atol) replaces the dtype's default, for layers that are knowingly
    less exact than PyTorch's."""
    reference = reference.to(TORCH_DTYPES[dtype])
    reference.zero_grad()
    layer.to(dtype)
    layer.zero_grad()
    layer.load_state_dict(reference.state_dict())
    floating = x.dtype.kind == "f"
    x_ref = torch.tensor(x.astype(dtype) if floating else x, requires_grad=floating and input_grad)
    x_forge = fc.tensor(x.astype(dtype) if floating else x, requires_grad=floating and input_grad)
    out_ref = reference(x_ref)
    out = layer(x_forge)
    assert out.dtype == dtype, f"forward gave {out.dtype} for {dtype} input"
    assert_close(out.detach().numpy(), out_ref.detach().numpy(), dtype, "forward", tolerances)
    probe = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    (out_ref * torch.tensor(probe)).sum().backward()
    (out * fc.tensor(probe)).sum().backward()
    if x_forge.requires_grad:
        assert x_forge.grad is not None and x_ref.grad is not None
        assert x_forge.grad.dtype == dtype
        assert_close(x_forge.grad.numpy(), x_ref.grad.numpy(), dtype, "input gradient", tolerances)
    ref_params = dict(reference.named_parameters())
    names = [name for name, _ in layer.named_parameters()]
    assert names == list(ref_params), "parameter names or order differ from PyTorch's"
    for name, param in layer.named_parameters():
        expected = ref_params[name].grad
        if expected is None:
            assert param.grad is None, f"{name} got a gradient PyTorch does not give"
            continue
        assert param.grad is not None, f"{name} got no gradient"
        assert param.grad.dtype == dtype
        assert_close(param.grad.numpy(), expected.numpy(), dtype, f"gradient of {name}", tolerances)
    return out

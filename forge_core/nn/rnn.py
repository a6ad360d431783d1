"""Recurrent layers with PyTorch's API: ``LSTM`` and ``GRU`` over sequences, and their cells.

``LSTM`` and ``GRU`` run each layer and direction as one fused op
(``forge_core.ops.recurrent``), so a long sequence costs one graph node per layer rather than a
dozen per time step. Parameter names, shapes, gate order and default initialisation are
PyTorch's, so a PyTorch ``state_dict`` loads unchanged and gives the same outputs.

``LSTMCell`` and ``GRUCell`` are built from primitive tensor ops: they serve step-by-step use
(decoders, custom loops), where the caller drives the time loop anyway.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

from forge_core.backend import xp
from forge_core.creation import cat, stack
from forge_core.dtypes import get_default_dtype
from forge_core.nn import functional, init
from forge_core.nn.module import Module
from forge_core.nn.parameter import Parameter
from forge_core.ops.registry import GRUSequence, Linear, LSTMSequence
from forge_core.tensor import Tensor


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


class _RecurrentLayers(Module):
    """Shared machinery of ``LSTM`` and ``GRU``: parameters, input layout, stacking, dropout."""

    gate_count: ClassVar[int]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"dropout={dropout} has no effect with num_layers=1: it applies between layers",
                stacklevel=2,
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        rows = self.gate_count * hidden_size
        dtype = get_default_dtype()
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                names = self._names(layer, suffix)
                self.register_parameter(names[0], Parameter(xp.empty((rows, layer_input), dtype)))
                self.register_parameter(names[1], Parameter(xp.empty((rows, hidden_size), dtype)))
                if bias:
                    self.register_parameter(names[2], Parameter(xp.empty(rows, dtype)))
                    self.register_parameter(names[3], Parameter(xp.empty(rows, dtype)))
        self.reset_parameters()

    @staticmethod
    def _names(layer: int, suffix: str) -> tuple[str, str, str, str]:
        return (
            f"weight_ih_l{layer}{suffix}",
            f"weight_hh_l{layer}{suffix}",
            f"bias_ih_l{layer}{suffix}",
            f"bias_hh_l{layer}{suffix}",
        )

    def reset_parameters(self) -> None:
        """PyTorch's default: every weight and bias uniform in ``±1/sqrt(hidden_size)``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def _layer_weights(self, layer: int, reverse: bool) -> list[Tensor]:
        names = self._names(layer, "_reverse" if reverse else "")
        return [getattr(self, name) for name in names[: 4 if self.bias else 2]]

    @property
    def _dtype(self) -> Any:
        return self._layer_weights(0, reverse=False)[0].dtype

    def _time_major(self, input: Tensor) -> tuple[Tensor, bool]:
        """``input`` as ``(T, B, I)``, and whether it came with a batch dimension."""
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{name} expects a 3-D input (batched) or a 2-D one (unbatched), "
                f"got shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name} was built for input_size={self.input_size}, but the input's last "
                f"dimension is {input.shape[-1]} (shape {tuple(input.shape)})"
            )
        if input.dtype != self._dtype:
            raise TypeError(
                f"{name} has {self._dtype} parameters but got a {input.dtype} input; convert "
                "one of them (model.to(...) or input.to(...))"
            )
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[0] == 0:
            raise ValueError(f"{name} needs a sequence of at least one step")
        return input, batched

    def _initial_state(self, state: Tensor | None, batch: int, batched: bool) -> list[Tensor]:
        """One ``(B, H)`` tensor per layer and direction, zeros when ``state`` is None."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        expected = (count, batch, self.hidden_size) if batched else (count, self.hidden_size)
        if state is None:
            zeros = xp.zeros((batch, self.hidden_size), self._dtype)
            return [Tensor(zeros) for _ in range(count)]
        if tuple(state.shape) != expected:
            raise ValueError(
                f"{type(self).__name__} expects initial states of shape {expected}, "
                f"got {tuple(state.shape)}"
            )
        if not batched:
            state = state.unsqueeze(1)
        return [state[k] for k in range(count)]

    def _run(self, input: Tensor, states: list[list[Tensor]]) -> tuple[Tensor, list[list[Tensor]]]:
        """Every layer over the time-major ``input``; ``states`` has one list per state kind
        (h, or h and c), each with one entry per layer and direction."""
        op: Any = LSTMSequence if self.gate_count == 4 else GRUSequence
        directions = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                initial = [kind[k] for kind in states]
                weights = self._layer_weights(layer, reverse=direction == 1)
                output, *last = op.apply(layer_input, *initial, *weights, reverse=direction == 1)
                outputs.append(output)
                for kind, value in zip(finals, last, strict=True):
                    kind.append(value)
            layer_input = outputs[0] if directions == 1 else cat(outputs, dim=2)
            if layer < self.num_layers - 1:
                layer_input = functional.dropout(layer_input, self.dropout, self.training)
        return layer_input, finals

    def _finish(self, output: Tensor, batched: bool) -> Tensor:
        if not batched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    @staticmethod
    def _stack(finals: list[Tensor], batched: bool) -> Tensor:
        """Final states of every layer and direction as ``(layers * directions, [B,] H)``."""
        stacked = stack(finals)
        return stacked if batched else stacked.squeeze(1)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class LSTM(_RecurrentLayers):
    """Multi-layer LSTM, as ``torch.nn.LSTM`` (without ``proj_size``).

    ``forward(input, (h_0, c_0))`` returns ``output, (h_n, c_n)``; ``input`` is ``(T, B, I)``,
    ``(B, T, I)`` with ``batch_first=True``, or ``(T, I)`` unbatched; the states are
    ``(num_layers * directions, B, H)`` and default to zeros.
    """

    gate_count = 4

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x, batched = self._time_major(input)
        batch = x.shape[1]
        h0, c0 = (None, None) if hx is None else hx
        states = [
            self._initial_state(h0, batch, batched),
            self._initial_state(c0, batch, batched),
        ]
        output, (h_n, c_n) = self._run(x, states)
        return self._finish(output, batched), (
            self._stack(h_n, batched),
            self._stack(c_n, batched),
        )


class GRU(_RecurrentLayers):
    """Multi-layer GRU, as ``torch.nn.GRU``.

    ``forward(input, h_0)`` returns ``output, h_n`` with the shapes of ``LSTM``.
    """

    gate_count = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, batched = self._time_major(input)
        states = [self._initial_state(hx, x.shape[1], batched)]
        output, (h_n,) = self._run(x, states)
        return self._finish(output, batched), self._stack(h_n, batched)


class _Cell(Module):
    """Shared parameters and input checks of ``LSTMCell`` and ``GRUCell``."""

    gate_count: ClassVar[int]
    bias_ih: Parameter | None
    bias_hh: Parameter | None

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = self.gate_count * hidden_size
        dtype = get_default_dtype()
        self.weight_ih = Parameter(xp.empty((rows, input_size), dtype))
        self.weight_hh = Parameter(xp.empty((rows, hidden_size), dtype))
        self.register_parameter("bias_ih", Parameter(xp.empty(rows, dtype)) if bias else None)
        self.register_parameter("bias_hh", Parameter(xp.empty(rows, dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def _batched(self, input: Tensor) -> tuple[Tensor, bool]:
        name = type(self).__name__
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name} expects input of shape (batch, {self.input_size}) or "
                f"({self.input_size},), got {tuple(input.shape)}"
            )
        return (input, True) if input.ndim == 2 else (input.unsqueeze(0), False)

    def _state(self, state: Tensor | None, like: Tensor, batched: bool) -> Tensor:
        shape = (like.shape[0], self.hidden_size)
        if state is None:
            return Tensor(xp.zeros(shape, like.dtype))
        if tuple(state.shape) != (shape if batched else shape[1:]):
            raise ValueError(
                f"{type(self).__name__} expects a state of shape "
                f"{shape if batched else shape[1:]}, got {tuple(state.shape)}"
            )
        return state if batched else state.unsqueeze(0)

    def _projections(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """``x @ W_ih.T + b_ih`` and ``h @ W_hh.T + b_hh``."""
        if self.bias_ih is None or self.bias_hh is None:
            return Linear.apply(x, self.weight_ih), Linear.apply(h, self.weight_hh)
        return (
            Linear.apply(x, self.weight_ih, self.bias_ih),
            Linear.apply(h, self.weight_hh, self.bias_hh),
        )

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        return text if self.bias else text + ", bias=False"


class LSTMCell(_Cell):
    """One LSTM step, as ``torch.nn.LSTMCell``: ``forward(input, (h, c))`` returns ``(h', c')``."""

    gate_count = 4

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        x, batched = self._batched(input)
        h, c = (None, None) if hx is None else hx
        h, c = self._state(h, x, batched), self._state(c, x, batched)
        from_x, from_h = self._projections(x, h)
        i, f, g, o = (from_x + from_h).chunk(4, dim=1)
        c_next = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h_next = o.sigmoid() * c_next.tanh()
        if not batched:
            return h_next.squeeze(0), c_next.squeeze(0)
        return h_next, c_next


class GRUCell(_Cell):
    """One GRU step, as ``torch.nn.GRUCell``: ``forward(input, h)`` returns ``h'``."""

    gate_count = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._batched(input)
        h = self._state(hx, x, batched)
        from_x, from_h = self._projections(x, h)
        x_r, x_z, x_n = from_x.chunk(3, dim=1)
        h_r, h_z, h_n = from_h.chunk(3, dim=1)
        r = (x_r + h_r).sigmoid()
        z = (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        h_next = n + z * (h - n)
        return h_next if batched else h_next.squeeze(0)

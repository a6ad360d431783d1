"""LSTM and GRU, checked three ways as the fused layers of the engine must be.

The fused sequence ops are checked against finite differences (float64), against the same
recurrence built from primitive tensor ops (an unrolled graph), and step by step against the
cells; the modules are checked against ``torch.nn.LSTM``/``GRU`` with copied weights, over
several shapes, layer counts, layouts and dtypes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core import Tensor, nn
from forge_core.ops import recurrent
from forge_core.ops.recurrent import GRUSequence, LSTMSequence
from tests.forge_core.gradcheck import assert_gradients_match

TOLERANCES = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-12)}
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}
GATES = {"LSTM": 4, "GRU": 3}


def _tensors(
    kind: str, steps: int, batch: int, features: int, hidden: int, bias: bool, seed: int = 0
) -> list[Tensor]:
    """Float64 inputs of a fused op: x, h0[, c0], w_ih, w_hh[, b_ih, b_hh], all needing grad."""
    rng = np.random.default_rng(seed)
    rows = GATES[kind] * hidden
    shapes = [(steps, batch, features), (batch, hidden)]
    shapes += [(batch, hidden)] if kind == "LSTM" else []
    shapes += [(rows, features), (rows, hidden)]
    shapes += [(rows,), (rows,)] if bias else []
    return [fc.tensor(rng.uniform(-1, 1, shape), requires_grad=True) for shape in shapes]


def _fused(kind: str, reverse: bool) -> Callable[..., tuple[Tensor, ...]]:
    op = LSTMSequence if kind == "LSTM" else GRUSequence

    def run(*inputs: Tensor) -> tuple[Tensor, ...]:
        result: tuple[Tensor, ...] = op.apply(*inputs, reverse=reverse)
        return result

    return run


def _lstm_unrolled(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """The LSTM recurrence written out with primitive tensor ops, one gate at a time."""
    size = w_hh.shape[1]
    outputs: dict[int, Tensor] = {}
    for t in reversed(range(x.shape[0])) if reverse else range(x.shape[0]):
        pre = x[t] @ w_ih.T + h @ w_hh.T
        if b_ih is not None and b_hh is not None:
            pre = pre + b_ih + b_hh
        i = pre[:, :size].sigmoid()
        f = pre[:, size : 2 * size].sigmoid()
        g = pre[:, 2 * size : 3 * size].tanh()
        o = pre[:, 3 * size :].sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        outputs[t] = h
    return fc.stack([outputs[t] for t in range(x.shape[0])]), h, c


def _gru_unrolled(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """The GRU recurrence written out with primitive tensor ops, as PyTorch documents it."""
    size = w_hh.shape[1]
    outputs: dict[int, Tensor] = {}
    for t in reversed(range(x.shape[0])) if reverse else range(x.shape[0]):
        from_x = x[t] @ w_ih.T
        from_h = h @ w_hh.T
        if b_ih is not None and b_hh is not None:
            from_x = from_x + b_ih
            from_h = from_h + b_hh
        r = (from_x[:, :size] + from_h[:, :size]).sigmoid()
        z = (from_x[:, size : 2 * size] + from_h[:, size : 2 * size]).sigmoid()
        n = (from_x[:, 2 * size :] + r * from_h[:, 2 * size :]).tanh()
        h = (1 - z) * n + z * h
        outputs[t] = h
    return fc.stack([outputs[t] for t in range(x.shape[0])]), h


def _flat(outputs: tuple[Tensor, ...] | list[Tensor]) -> Tensor:
    return fc.cat([o.reshape(-1) for o in outputs])


def _weighted_sum(outputs: tuple[Tensor, ...] | list[Tensor], seed: int) -> Tensor:
    """A scalar that depends on every output element, through fixed random weights."""
    flat = _flat(outputs)
    weights = np.random.default_rng(seed).standard_normal(flat.shape).astype(flat.dtype)
    return (flat * fc.tensor(weights)).sum()


def _torch_weighted_sum(outputs: list[torch.Tensor], seed: int) -> torch.Tensor:
    flat = torch.cat([o.reshape(-1) for o in outputs])
    weights = np.random.default_rng(seed).standard_normal(tuple(flat.shape))
    return (flat * torch.tensor(weights, dtype=flat.dtype)).sum()


@pytest.fixture(params=[None, 1, 3], ids=["one-chunk", "chunk-1", "chunk-3"])
def chunk_steps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Backward precomputes per chunk of steps: check one chunk, single steps and a ragged split."""
    if request.param is not None:
        monkeypatch.setattr(recurrent, "_chunk_steps", lambda *_: request.param)


# ----- the fused ops -----


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.usefixtures("chunk_steps", "gemm_backend")
def test_fused_op_gradients_match_finite_differences(kind: str, bias: bool, reverse: bool):
    inputs = _tensors(kind, steps=4, batch=2, features=3, hidden=2, bias=bias)
    run = _fused(kind, reverse)
    assert_gradients_match(lambda *a: _flat(run(*a)), *inputs)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("features", [1, 4])
@pytest.mark.usefixtures("chunk_steps", "gemm_backend")
def test_fused_op_matches_unrolled_graph(kind: str, bias: bool, reverse: bool, features: int):
    unrolled: Any = _lstm_unrolled if kind == "LSTM" else _gru_unrolled
    fused_inputs = _tensors(kind, steps=7, batch=3, features=features, hidden=5, bias=bias, seed=1)
    graph_inputs = [fc.tensor(t.data.copy(), requires_grad=True) for t in fused_inputs]
    fused = _fused(kind, reverse)(*fused_inputs)
    graph = unrolled(*graph_inputs, reverse=reverse)
    for name, a, b in zip(("output", "h_n", "c_n"), fused, graph, strict=False):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-13, err_msg=name)
    _weighted_sum(fused, seed=2).backward()
    _weighted_sum(graph, seed=2).backward()
    for i, (a, b) in enumerate(zip(fused_inputs, graph_inputs, strict=True)):
        assert a.grad is not None and b.grad is not None
        np.testing.assert_allclose(
            a.grad.data, b.grad.data, rtol=1e-10, atol=1e-12, err_msg=f"input {i}"
        )


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_op_keeps_float32(kind: str):
    inputs = [
        fc.tensor(t.data.astype(np.float32), requires_grad=True)
        for t in _tensors(kind, steps=3, batch=2, features=3, hidden=4, bias=True)
    ]
    outputs = _fused(kind, reverse=False)(*inputs)
    assert all(o.dtype == np.float32 for o in outputs)
    _flat(outputs).sum().backward()
    assert all(t.grad is not None and t.grad.dtype == np.float32 for t in inputs)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_fused_op_refuses_mixed_dtypes(kind: str):
    inputs = _tensors(kind, steps=2, batch=1, features=2, hidden=2, bias=False)
    inputs[-1] = inputs[-1].float()
    with pytest.raises(TypeError, match="share one dtype"):
        _fused(kind, reverse=False)(*inputs)


def test_fused_op_records_nothing_without_grad():
    inputs = _tensors("LSTM", steps=2, batch=1, features=2, hidden=2, bias=True)
    with fc.no_grad():
        outputs = _fused("LSTM", reverse=False)(*inputs)
    assert all(o.grad_fn is None and not o.requires_grad for o in outputs)


# ----- whole sequence against the cells, step by step -----


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_sequence_matches_cell_loop(kind: str):
    fc.manual_seed(3)
    layer = getattr(nn, kind)(3, 4).double()
    cell = getattr(nn, kind + "Cell")(3, 4).double()
    cell.load_state_dict({name[: -len("_l0")]: p for name, p in layer.state_dict().items()})
    rng = np.random.default_rng(4)
    data = rng.standard_normal((6, 2, 3))
    x_seq = fc.tensor(data, requires_grad=True)
    x_steps = fc.tensor(data, requires_grad=True)
    probe = fc.tensor(rng.standard_normal((6, 2, 4)))

    output, _ = layer(x_seq)
    state: Any = None
    steps = []
    for t in range(6):
        state = cell(x_steps[t], state)
        steps.append(state[0] if kind == "LSTM" else state)
    stepped = fc.stack(steps)
    np.testing.assert_allclose(output.data, stepped.data, rtol=1e-12, atol=1e-13)

    (output * probe).sum().backward()
    (stepped * probe).sum().backward()
    assert x_seq.grad is not None and x_steps.grad is not None
    np.testing.assert_allclose(x_seq.grad.data, x_steps.grad.data, rtol=1e-10, atol=1e-12)
    cell_params = dict(cell.named_parameters())
    for name, param in layer.named_parameters():
        expected = cell_params[name[: -len("_l0")]].grad
        assert param.grad is not None and expected is not None
        np.testing.assert_allclose(param.grad.data, expected.data, rtol=1e-10, atol=1e-12)


# ----- parity with PyTorch -----


def _forge_twin(reference: torch.nn.Module, dtype: Any, **kwargs: Any) -> nn.Module:
    kind = type(reference).__name__
    model = getattr(nn, kind)(**kwargs).to(dtype)
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    return model


def _check_against_torch(
    kind: str,
    steps: int,
    batch: int | None,
    features: int,
    hidden: int,
    num_layers: int = 1,
    batch_first: bool = False,
    bidirectional: bool = False,
    with_state: bool = False,
    bias: bool = True,
    dtype: Any = np.float64,
    seed: int = 0,
) -> None:
    """Run forge and PyTorch on the same weights and data; compare outputs and every gradient."""
    rtol, atol = TOLERANCES[dtype]
    torch.manual_seed(seed)
    options = dict(
        input_size=features,
        hidden_size=hidden,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
    )
    reference = getattr(torch.nn, kind)(**options).to(TORCH_DTYPES[dtype])
    model = _forge_twin(reference, dtype, **options)

    rng = np.random.default_rng(seed)
    directions = 2 if bidirectional else 1
    if batch is None:
        x_shape: tuple[int, ...] = (steps, features)
        state_shape: tuple[int, ...] = (num_layers * directions, hidden)
    else:
        x_shape = (batch, steps, features) if batch_first else (steps, batch, features)
        state_shape = (num_layers * directions, batch, hidden)
    arrays = [rng.standard_normal(x_shape).astype(dtype)]
    if with_state:
        arrays += [rng.standard_normal(state_shape).astype(dtype) for _ in range(GATES[kind] - 2)]
    ours = [fc.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]

    def run(module: Any, inputs: list[Any]) -> list[Any]:
        state = None
        if with_state:
            state = tuple(inputs[1:]) if kind == "LSTM" else inputs[1]
        output, final = module(inputs[0], state)
        return [output, *(final if kind == "LSTM" else (final,))]

    got, expected = run(model, ours), run(reference, theirs)
    for name, a, b in zip(("output", "h_n", "c_n"), got, expected, strict=False):
        assert a.dtype == dtype, f"{name} is {a.dtype}"
        assert tuple(a.shape) == tuple(b.shape), name
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=rtol, atol=atol, err_msg=name)

    _weighted_sum(got, seed).backward()
    _torch_weighted_sum(expected, seed).backward()
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.grad is not None and a.grad.dtype == dtype
        np.testing.assert_allclose(
            a.grad.data, b.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )
    reference_params = dict(reference.named_parameters())
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.dtype == dtype, name
        np.testing.assert_allclose(
            param.grad.data,
            reference_params[name].grad.numpy(),
            rtol=rtol,
            atol=atol,
            err_msg=f"gradient of {name}",
        )


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    ("num_layers", "batch_first", "with_state", "bidirectional"),
    [
        (1, False, False, False),
        (1, True, True, False),
        (2, True, False, False),
        (2, False, True, False),
        (2, True, True, True),
    ],
)
@pytest.mark.usefixtures("gemm_backend")
def test_matches_torch(
    kind: str, dtype: Any, num_layers: int, batch_first: bool, with_state: bool, bidirectional: bool
):
    _check_against_torch(
        kind,
        steps=9,
        batch=4,
        features=3,
        hidden=6,
        num_layers=num_layers,
        batch_first=batch_first,
        with_state=with_state,
        bidirectional=bidirectional,
        dtype=dtype,
    )


@settings(max_examples=12, deadline=None)
@given(
    kind=st.sampled_from(["LSTM", "GRU"]),
    steps=st.integers(1, 6),
    batch=st.one_of(st.none(), st.integers(1, 4)),
    features=st.integers(1, 4),
    hidden=st.integers(1, 5),
    num_layers=st.integers(1, 2),
    batch_first=st.booleans(),
    bidirectional=st.booleans(),
    with_state=st.booleans(),
    bias=st.booleans(),
)
def test_matches_torch_over_shapes(**case: Any):
    _check_against_torch(**case)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cells_match_torch(kind: str, batched: bool, with_state: bool):
    torch.manual_seed(5)
    reference = getattr(torch.nn, kind)(3, 4).double()
    cell = _forge_twin(reference, np.float64, input_size=3, hidden_size=4)
    rng = np.random.default_rng(5)
    lead = (2,) if batched else ()
    arrays = [rng.standard_normal((*lead, 3))]
    if with_state:
        arrays += [rng.standard_normal((*lead, 4)) for _ in range(2 if kind == "LSTMCell" else 1)]
    ours = [fc.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]

    def run(module: Any, inputs: list[Any]) -> list[Any]:
        state = (tuple(inputs[1:]) if kind == "LSTMCell" else inputs[1]) if with_state else None
        result = module(inputs[0], state)
        return list(result) if kind == "LSTMCell" else [result]

    got, expected = run(cell, ours), run(reference, theirs)
    for a, b in zip(got, expected, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-13)
    _weighted_sum(got, seed=5).backward()
    _torch_weighted_sum(expected, seed=5).backward()
    for a, b in zip(ours, theirs, strict=True):
        assert a.grad is not None
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-12)
    reference_params = dict(reference.named_parameters())
    for name, param in cell.named_parameters():
        assert param.grad is not None
        np.testing.assert_allclose(
            param.grad.data, reference_params[name].grad.numpy(), rtol=1e-10, atol=1e-12
        )


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("LSTM", {}),
        ("GRU", {}),
        ("LSTM", {"num_layers": 3, "bidirectional": True}),
        ("GRU", {"num_layers": 2, "bias": False}),
        ("LSTM", {"num_layers": 2, "bias": False, "bidirectional": True}),
        ("LSTMCell", {}),
        ("GRUCell", {"bias": False}),
    ],
)
def test_parameter_names_and_shapes_match_torch(kind: str, options: dict[str, Any]):
    ours = getattr(nn, kind)(5, 7, **options)
    theirs = getattr(torch.nn, kind)(5, 7, **options)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()
    ]
    assert all(p.dtype == np.float32 for p in ours.parameters())


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "LSTMCell", "GRUCell"])
def test_default_init_is_uniform_within_one_over_sqrt_hidden(kind: str):
    fc.manual_seed(0)
    params = [p.data for p in getattr(nn, kind)(3, 16).parameters()]
    values = np.concatenate([p.ravel() for p in params])
    assert np.abs(values).max() <= 0.25
    assert np.abs(values).max() > 0.24, "should fill the whole ±1/sqrt(hidden) range"
    assert len({p.tobytes() for p in params}) == len(params), "each tensor drawn separately"


# ----- dropout, modes and errors -----


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_dropout_applies_between_layers_in_training_only(kind: str):
    fc.manual_seed(6)
    model = getattr(nn, kind)(3, 4, num_layers=2, dropout=1.0)
    top = getattr(nn, kind)(4, 4)
    top.load_state_dict(
        {name.replace("_l1", "_l0"): p for name, p in model.state_dict().items() if "_l1" in name}
    )
    x = fc.randn(5, 2, 3)
    output, _ = model(x)
    # Every unit dropped: the second layer sees zeros.
    expected, _ = top(fc.zeros(5, 2, 4))
    np.testing.assert_allclose(output.data, expected.data, rtol=1e-6)
    model.eval()
    reference = getattr(torch.nn, kind)(3, 4, num_layers=2, dropout=1.0).eval()
    reference.load_state_dict(
        {k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()}
    )
    with torch.no_grad():
        expected_eval, _ = reference(torch.from_numpy(x.numpy()))
    np.testing.assert_allclose(model(x)[0].data, expected_eval.numpy(), rtol=1e-4, atol=1e-6)


def test_dropout_keeps_a_share_of_units_and_is_seeded():
    model = nn.LSTM(2, 3, num_layers=2, dropout=0.5)
    x = fc.randn(4, 3, 2)
    fc.manual_seed(7)
    first, _ = model(x)
    fc.manual_seed(7)
    again, _ = model(x)
    np.testing.assert_array_equal(first.data, again.data)
    model.eval()
    assert not np.allclose(model(x)[0].data, first.data)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="no effect"):
        nn.GRU(2, 3, dropout=0.2)


@pytest.mark.parametrize(
    ("make", "call", "error", "message"),
    [
        (lambda: nn.LSTM(3, 4), lambda m: m(fc.randn(5, 2, 2)), ValueError, "input_size=3"),
        (lambda: nn.GRU(3, 4), lambda m: m(fc.randn(2, 5, 2, 3)), ValueError, "3-D input"),
        (
            lambda: nn.GRU(3, 4, num_layers=2),
            lambda m: m(fc.randn(5, 2, 3), fc.zeros(1, 2, 4)),
            ValueError,
            r"\(2, 2, 4\)",
        ),
        (
            lambda: nn.LSTM(3, 4),
            lambda m: m(fc.randn(5, 2, 3, dtype=fc.float64)),
            TypeError,
            "float64 input",
        ),
        (lambda: nn.LSTM(3, 4), lambda m: m(fc.randn(0, 2, 3)), ValueError, "at least one step"),
        (lambda: nn.LSTMCell(3, 4), lambda m: m(fc.randn(2, 4)), ValueError, r"\(batch, 3\)"),
        (lambda: nn.LSTM(0, 4), None, ValueError, "input_size must be a positive integer"),
        (lambda: nn.GRU(3, 4, dropout=1.5), None, ValueError, "dropout"),
    ],
)
def test_errors_say_what_is_wrong(
    make: Callable[[], nn.Module],
    call: Callable[[nn.Module], Any] | None,
    error: type[Exception],
    message: str,
):
    with pytest.raises(error, match=message):
        module = make()
        if call is not None:
            call(module)


def test_repr_names_the_options():
    assert repr(nn.LSTM(3, 4, num_layers=2, batch_first=True)) == (
        "LSTM(3, 4, num_layers=2, batch_first=True)"
    )
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


# ----- long sequences -----


def test_long_sequence_trains_without_recursion_error():
    """2,000 steps: one fused node per layer, and an unrolled cell graph of ~30,000 nodes."""
    fc.manual_seed(8)
    x = fc.randn(2000, 1, 2)
    lstm = nn.LSTM(2, 3)
    output, (_, c_n) = lstm(x)
    (output.sum() + c_n.sum()).backward()
    assert all(p.grad is not None and np.isfinite(p.grad.data).all() for p in lstm.parameters())

    cell = nn.LSTMCell(2, 3)
    state = None
    total = fc.zeros(())
    for t in range(2000):
        state = cell(x[t], state)
        total = total + state[0].sum()
    total.backward()
    assert all(p.grad is not None and np.isfinite(p.grad.data).all() for p in cell.parameters())

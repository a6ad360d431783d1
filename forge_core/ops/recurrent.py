"""Fused recurrent layers: one op runs a whole single-layer LSTM or GRU over a sequence.

In float32 the time loops below run compiled, where the install built forge_core's kernels
(``forge_core/native.py``, ``forge_core/_native/``): the same buffers and arithmetic, one pass
over the gates per step, the batch split between threads. What follows describes the buffers
both share and the NumPy loops, which run for float64 and where the kernels are not built.

An unrolled LSTM costs a dozen graph nodes per time step; the Python overhead of building and
walking them dwarfs the arithmetic at the sizes people train on a CPU. These ops keep the time
loop inside one ``Function`` instead, and shape the work for NumPy (each choice measured with
``bench/recurrent.py``):

* Buffers are gate-major, ``(gates, T, B, H)``: at each step every gate is one contiguous
  ``(B, H)`` block, so elementwise ops run over long contiguous runs, and each gate's values
  over all steps are one contiguous ``(T * B, H)`` matrix, so the weight gradients need no
  transposing copies.
* One stacked matmul per step, of per-gate ``(H, H)``-sized blocks, which OpenBLAS runs faster
  than the single ``(H, gates * H)`` product at these sizes. The LSTM folds the input
  projection and the bias into it (see ``LSTMSequence``); the GRU, whose n gate keeps the
  input and hidden parts apart, projects the inputs of all steps before the loop in one matmul
  (a broadcast multiply for a single input feature).
* The per-step and weight-gradient products go through ``forge_core.gemm``: Intel MKL when the
  ``mkl`` extra is installed, 35-40 % faster than OpenBLAS at ``lstm_large``'s shapes; one MKL
  call per step forward (the gate stack, batched), and in backward MKL adds the gates' products
  into one ``(B, H)`` gradient as it computes them, where NumPy sums a stack afterwards.
* The loop writes into preallocated buffers with ``out=`` and allocates nothing per step.
* The sigmoid gates go through ``tanh``: their weight rows are scaled by 1/2 on the way in, so
  one ``tanh`` call covers all gates, and ``sigmoid(x) = tanh(x/2)/2 + 1/2`` is two cheap
  in-place ops.
* Backward through time first computes, a cache-sized chunk of steps at a time, every factor of
  the gate gradients that does not depend on the incoming gradient, which leaves a few
  multiplies and one matmul per step. The gate gradients of all steps land in one array, so the
  weight and bias gradients are single large matmuls after the loop.

Shapes and gate order follow PyTorch: ``x`` is time-major ``(T, B, I)``; an LSTM's ``w_ih`` is
``(4H, I)`` with gates i, f, g, o and a GRU's is ``(3H, I)`` with gates r, z, n. ``reverse=True``
runs the recurrence from the last step to the first (the backward direction of a bidirectional
layer) and still returns the outputs in input order.
"""

from __future__ import annotations

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.gemm import matmul, matmul_steps, matmul_sum, matmul_sum_steps
from forge_core.native import native_gru, native_lstm

# The LSTM's buffers hold the gates as g, i, f, o: the three sigmoid gates are then one block
# (one fix-up after the shared tanh) and so are the three gates whose gradients scale with the
# cell gradient (one broadcast multiply per step in backward).
_LSTM_ORDER = [2, 0, 1, 3]
_LSTM_RESTORE = [1, 2, 0, 3]
_LSTM_SCALE = (1.0, 0.5, 0.5, 0.5)
_GRU_SCALE = (0.5, 0.5, 1.0)
# Backward precomputes its gate factors for about this many buffer elements at a time, so that
# they are still in cache when the time loop uses them.
_CHUNK_ELEMENTS = 1 << 17


def _check_dtypes(*arrays: Array | None) -> None:
    """Refuse mixed precision: NumPy would silently promote every buffer to float64."""
    dtypes = {a.dtype for a in arrays if a is not None}
    if len(dtypes) > 1:
        names = ", ".join(sorted(str(d) for d in dtypes))
        raise TypeError(f"inputs, states and weights must share one dtype, got {names}")


def _sequence_shape(x: Array) -> tuple[int, int, int]:
    steps, batch, features = x.shape
    if steps == 0:
        raise ValueError("a recurrent layer needs a sequence of at least one step")
    return steps, batch, features


def _project(x2: Array, w_in: Array, bias: Array | None, out: Array) -> None:
    """The input projection of every step and gate: ``out[k] = x2 @ w_in[k] + bias[k]``.

    A single input feature makes it an outer product, which a broadcast multiply computes
    several times faster than a matmul with an inner dimension of 1.
    """
    if x2.shape[1] == 1:
        xp.multiply(x2, w_in, out=out)
    else:
        matmul(x2, w_in, out=out)
    if bias is not None:
        out += bias[:, None, :]


def _chunk_steps(gates: int, batch: int, hidden: int) -> int:
    return max(1, _CHUNK_ELEMENTS // (gates * batch * hidden))


class LSTMSequence(Function):
    """A single-layer unidirectional LSTM over a whole sequence.

    Inputs ``(x, h0, c0, w_ih, w_hh[, b_ih, b_hh])``; outputs ``(output, h_n, c_n)`` with
    ``output`` of shape ``(T, B, H)``.

    Each step multiplies one row block ``[h_{t-1} | x_t | 1]`` of a state buffer by the stacked
    ``[W_hh; W_ih; b]`` of every gate, so the input projection and the bias ride along in the
    recurrent matmul. Measured against a separate projection of all steps (one matmul, then an
    add per step), this is faster for every input size up to 4H: it saves a pass over the whole
    gate buffer and an add per step, and in backward one stacked matmul of the gate gradients
    with the state buffer gives the gradients of W_hh, W_ih and the bias together.
    """

    def forward(
        self,
        x: Array,
        h0: Array,
        c0: Array,
        w_ih: Array,
        w_hh: Array,
        b_ih: Array | None = None,
        b_hh: Array | None = None,
        reverse: bool = False,
    ) -> tuple[Array, Array, Array]:
        _check_dtypes(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        steps, batch, features = _sequence_shape(x)
        h = w_hh.shape[1]
        dtype = x.dtype
        scale = xp.asarray(_LSTM_SCALE, dtype=dtype).reshape(4, 1, 1)
        bias = b_ih + b_hh if b_ih is not None and b_hh is not None else None
        width = h + features + (bias is not None)

        weights = xp.empty((4, width, h), dtype=dtype)
        weights[:, :h] = (w_hh.reshape(4, h, h)[_LSTM_ORDER] * scale).transpose(0, 2, 1)
        weights[:, h : h + features] = (
            w_ih.reshape(4, h, features)[_LSTM_ORDER] * scale
        ).transpose(0, 2, 1)
        # state[t] is [h_{t-1} | x_t | 1] in the order the recurrence visits the steps.
        state = xp.empty((steps + 1, batch, width), dtype=dtype)
        state[0, :, :h] = h0
        state[:steps, :, h : h + features] = x[::-1] if reverse else x
        if bias is not None:
            weights[:, -1] = bias.reshape(4, h)[_LSTM_ORDER] * scale[:, 0]
            state[:, :, -1] = 1
        hs = state[:, :, :h]

        # acts holds the pre-activations, then (in place) the activations g, i, f, o.
        acts = xp.empty((4, steps, batch, h), dtype=dtype)
        cs = xp.empty((steps + 1, batch, h), dtype=dtype)
        tanh_cs = xp.empty((steps, batch, h), dtype=dtype)
        cs[0] = c0
        native = native_lstm(dtype)
        if native is not None:
            native.forward(state, weights, acts, cs, tanh_cs)
        else:
            _lstm_forward_steps(state, weights, acts, cs, tanh_cs)

        if any(self.needs_input_grad):
            self.saved = (w_ih, w_hh, acts, state, cs, tanh_cs, reverse)
        output = hs[1:]
        return (output[::-1] if reverse else output), hs[steps], cs[steps]

    def backward(self, d_out: Array, d_hn: Array, d_cn: Array) -> tuple[Array | None, ...]:
        w_ih, w_hh, acts, state, cs, tanh_cs, reverse = self.saved
        need_x, need_h0, need_c0, need_w_ih, need_w_hh, *need_bias = self.needs_input_grad
        _, steps, batch, h = acts.shape
        features = w_ih.shape[1]
        dtype = acts.dtype
        if reverse:
            d_out = d_out[::-1]
        w_rec = xp.ascontiguousarray(w_hh.reshape(4, h, h)[_LSTM_ORDER])
        w_in = xp.ascontiguousarray(w_ih.reshape(4, h, features)[_LSTM_ORDER]) if need_x else None
        need_weights = need_w_ih or need_w_hh or any(need_bias)
        # dc: the gradient reaching the cell state, from the last step's back to c0's
        dc = xp.array(d_cn, dtype=dtype, order="C")
        native = native_lstm(dtype)
        if native is not None:
            d_out = xp.ascontiguousarray(d_out, dtype=dtype)
            d_hn = xp.ascontiguousarray(d_hn, dtype=dtype)
            saved = (acts, cs, tanh_cs, state)
            needs = (need_x, need_h0, need_weights)
            d_x, d_h0, d_weights = native.backward(saved, w_rec, w_in, d_out, d_hn, dc, needs)
        else:
            # d: the gradients of the gate pre-activations of every step
            d = xp.empty_like(acts)
            _lstm_backward_steps(acts, cs, tanh_cs, w_rec, d_out, d_hn, dc, d)
            flat = d.reshape(4, steps * batch, h)
            d_h0 = matmul_sum(d[:, 0], w_rec) if need_h0 else None
            d_x = None if w_in is None else matmul_sum(flat, w_in).reshape(steps, batch, features)
            d_weights = None
            if need_weights:
                stacked = state[:-1].reshape(steps * batch, state.shape[2])
                d_weights = matmul(flat.transpose(0, 2, 1), stacked)

        if d_x is not None and reverse:
            d_x = d_x[::-1]
        d_w_ih = d_w_hh = d_b = None
        if d_weights is not None:
            d_weights = d_weights[_LSTM_RESTORE]
            d_w_hh = d_weights[:, :, :h].reshape(4 * h, h)
            d_w_ih = d_weights[:, :, h : h + features].reshape(4 * h, features)
            if need_bias:
                d_b = d_weights[:, :, -1].reshape(4 * h)
        grads = (d_x, d_h0, dc if need_c0 else None, d_w_ih, d_w_hh)
        return (*grads, d_b, d_b) if need_bias else grads


def _lstm_forward_steps(
    state: Array, weights: Array, acts: Array, cs: Array, tanh_cs: Array
) -> None:
    """``LSTMSequence``'s time loop on NumPy: fills ``acts`` (pre-activations, then the
    activations g, i, f, o), the cell states ``cs[1:]``, their tanh and the hidden states in
    ``state[1:, :, :H]``."""
    _, steps, batch, h = acts.shape
    hs = state[:, :, :h]
    ig = xp.empty((batch, h), dtype=acts.dtype)
    g_all, i_all, f_all, o_all = acts
    sigmoid_all = acts[1:]
    # acts[:, t] = state[t] @ weights
    recurrent_product = matmul_steps(state[:steps], weights, acts.transpose(1, 0, 2, 3))
    for t in range(steps):
        a = recurrent_product(t)
        xp.tanh(a, out=a)
        sig = sigmoid_all[:, t]
        sig *= 0.5
        sig += 0.5
        c = cs[t + 1]
        xp.multiply(f_all[t], cs[t], out=c)
        xp.multiply(i_all[t], g_all[t], out=ig)
        c += ig
        xp.tanh(c, out=tanh_cs[t])
        xp.multiply(o_all[t], tanh_cs[t], out=hs[t + 1])


def _lstm_backward_steps(
    acts: Array,
    cs: Array,
    tanh_cs: Array,
    w_rec: Array,
    d_out: Array,
    d_hn: Array,
    dc: Array,
    d: Array,
) -> None:
    """``LSTMSequence``'s backward time loop on NumPy: fills ``d`` with the gate gradients of
    every step and leaves in ``dc`` (given the last cell state's gradient) that of ``c0``."""
    _, steps, batch, h = acts.shape
    dtype = acts.dtype
    g_all, i_all, f_all, o_all = acts
    # d first holds factors that the loop multiplies by the cell gradient (g, i, f) or the
    # hidden gradient (o); dc_factor turns the hidden gradient into its share of the cell
    # gradient.
    dg_all, di_all, df_all, do_all = d
    chunk = _chunk_steps(4, batch, h)
    dc_factor = xp.empty((min(chunk, steps), batch, h), dtype=dtype)
    rec = xp.empty((4, batch, h), dtype=dtype)
    dh = xp.empty((batch, h), dtype=dtype)
    tmp = xp.empty((batch, h), dtype=dtype)
    # dh = sum over the gates of d[:, t] @ w_rec
    hidden_product = matmul_sum_steps(d.transpose(1, 0, 2, 3), w_rec, out=dh, scratch=rec)
    for end in range(steps, 0, -chunk):
        start = max(0, end - chunk)
        span = slice(start, end)
        g, i, f, o, tc = g_all[span], i_all[span], f_all[span], o_all[span], tanh_cs[span]
        dg, di, df, do = dg_all[span], di_all[span], df_all[span], do_all[span]
        q = dc_factor[: end - start]
        xp.multiply(g, g, out=dg)
        xp.subtract(1.0, dg, out=dg)
        dg *= i
        xp.subtract(1.0, i, out=di)
        di *= i
        di *= g
        xp.subtract(1.0, f, out=df)
        df *= f
        df *= cs[span]
        xp.subtract(1.0, o, out=do)
        do *= o
        do *= tc
        xp.multiply(tc, tc, out=q)
        xp.subtract(1.0, q, out=q)
        q *= o
        for t in range(end - 1, start - 1, -1):
            if t == steps - 1:
                xp.add(d_hn, d_out[t], out=dh)
            else:
                hidden_product(t + 1)
                dh += d_out[t]
            xp.multiply(dh, q[t - start], out=tmp)
            dc += tmp
            driven_by_c = d[:3, t]
            xp.multiply(driven_by_c, dc, out=driven_by_c)
            xp.multiply(do_all[t], dh, out=do_all[t])
            dc *= f_all[t]


class GRUSequence(Function):
    """A single-layer unidirectional GRU over a whole sequence.

    Inputs ``(x, h0, w_ih, w_hh[, b_ih, b_hh])``; outputs ``(output, h_n)`` with ``output`` of
    shape ``(T, B, H)``. As in PyTorch, ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` and
    ``h' = (1 - z) * n + z * h``.
    """

    def forward(
        self,
        x: Array,
        h0: Array,
        w_ih: Array,
        w_hh: Array,
        b_ih: Array | None = None,
        b_hh: Array | None = None,
        reverse: bool = False,
    ) -> tuple[Array, Array]:
        _check_dtypes(x, h0, w_ih, w_hh, b_ih, b_hh)
        steps, batch, features = _sequence_shape(x)
        # x flattened to (T * B, I) in the order the recurrence visits the steps
        x2 = (x[::-1] if reverse else x).reshape(steps * batch, features)
        h = w_hh.shape[1]
        dtype = x.dtype
        scale = xp.asarray(_GRU_SCALE, dtype=dtype).reshape(3, 1, 1)

        # acts holds the input projections, then (in place) the activations r, z, n. The r and
        # z parts of b_hh join the input projection; b_hn must stay inside r * (W_hn h + b_hn).
        acts = xp.empty((3, steps, batch, h), dtype=dtype)
        w_in = (w_ih.reshape(3, h, features) * scale).transpose(0, 2, 1)
        bias = None
        b_hn = xp.zeros(h, dtype=dtype)
        if b_ih is not None and b_hh is not None:
            bias = b_ih.reshape(3, h) * scale[:, 0]
            bias[:2] += b_hh.reshape(3, h)[:2] * 0.5
            b_hn = b_hh[2 * h :]
        _project(x2, w_in, bias, acts.reshape(3, steps * batch, h))
        w_rec = xp.ascontiguousarray((w_hh.reshape(3, h, h) * scale).transpose(0, 2, 1))

        # hg_n keeps W_hn h + b_hn of every step, which backward needs for r's gradient.
        hg_n = xp.empty((steps, batch, h), dtype=dtype)
        hs = xp.empty((steps + 1, batch, h), dtype=dtype)
        hs[0] = h0
        native = native_gru(dtype)
        if native is not None:
            rec = xp.empty((3, batch, h), dtype=dtype)
            native.forward(acts, hs, hg_n, rec, w_rec, xp.ascontiguousarray(b_hn, dtype=dtype))
        else:
            _gru_forward_steps(acts, hs, hg_n, w_rec, b_hn)

        if any(self.needs_input_grad):
            self.saved = (x2, w_ih, w_hh, acts, hg_n, hs, reverse)
        output = hs[1:]
        return (output[::-1] if reverse else output), hs[steps]

    def backward(self, d_out: Array, d_hn: Array) -> tuple[Array | None, ...]:
        x2, w_ih, w_hh, acts, hg_n, hs, reverse = self.saved
        need_x, need_h0, need_w_ih, need_w_hh, *need_bias = self.needs_input_grad
        _, steps, batch, h = acts.shape
        dtype = acts.dtype
        if reverse:
            d_out = d_out[::-1]
        w_rec = w_hh.reshape(3, h, h)
        r_all, z_all, n_all = acts
        native = native_gru(dtype)
        if native is not None:
            grads = native.backward(
                (acts, hs, hg_n, x2), w_hh, w_ih, d_out, d_hn, tuple(self.needs_input_grad)
            )
            d_x = grads[0]
            if d_x is not None:
                d_x = d_x.reshape(steps, batch, -1)
                grads = (d_x[::-1] if reverse else d_x, *grads[1:])
            return grads if need_bias else grads[:4]

        # With dh the gradient reaching h_t, the gradients of the pre-activations of r and z and
        # of W_hn h + b_hn are dh times factors that d holds first; da_n holds the factor
        # (1 - z) * (1 - n^2) of the gradient of n's pre-activation, then that gradient.
        d = xp.empty_like(acts)
        dr_all, dz_all, dhn_all = d
        da_n = xp.empty((steps, batch, h), dtype=dtype)
        chunk = _chunk_steps(3, batch, h)
        rec = xp.empty((3, batch, h), dtype=dtype)
        dh = xp.empty((batch, h), dtype=dtype)
        carry = xp.array(d_hn, dtype=dtype, order="C")
        hidden_product = matmul_sum_steps(d.transpose(1, 0, 2, 3), w_rec, out=dh, scratch=rec)
        for end in range(steps, 0, -chunk):
            start = max(0, end - chunk)
            span = slice(start, end)
            r, z, n, k = r_all[span], z_all[span], n_all[span], da_n[span]
            dr, dz, dhn = dr_all[span], dz_all[span], dhn_all[span]
            xp.multiply(n, n, out=k)
            xp.subtract(1.0, k, out=k)
            xp.subtract(1.0, z, out=dz)
            k *= dz
            xp.subtract(1.0, r, out=dr)
            dr *= r
            dr *= hg_n[span]
            dr *= k
            dz *= z
            xp.subtract(hs[span], n, out=dhn)
            dz *= dhn
            xp.multiply(k, r, out=dhn)
            for t in range(end - 1, start - 1, -1):
                if t == steps - 1:
                    xp.add(carry, d_out[t], out=dh)
                else:
                    hidden_product(t + 1)
                    dh += carry
                    dh += d_out[t]
                step = d[:, t]
                xp.multiply(step, dh, out=step)
                da_n[t] *= dh
                xp.multiply(dh, z_all[t], out=carry)

        flat = d.reshape(3, steps * batch, h)
        d_x = d_h0 = d_w_ih = d_w_hh = d_b_ih = d_b_hh = None
        if need_h0:
            d_h0 = matmul_sum(d[:, 0], w_rec, scratch=rec)
            d_h0 += carry
        if need_w_hh:
            h_prev = hs[:-1].reshape(steps * batch, h)
            d_w_hh = matmul(flat.transpose(0, 2, 1), h_prev).reshape(3 * h, h)
        if need_bias:
            d_b_hh = flat.sum(axis=1).reshape(3 * h)
        # The input projection's gradient differs from W_hh h's only in the n block.
        flat[2] = da_n.reshape(steps * batch, h)
        if need_x:
            d_x = matmul_sum(flat, w_ih.reshape(3, h, -1)).reshape(steps, batch, -1)
            if reverse:
                d_x = d_x[::-1]
        if need_w_ih:
            d_w_ih = matmul(flat.transpose(0, 2, 1), x2).reshape(3 * h, -1)
        if need_bias:
            d_b_ih = flat.sum(axis=1).reshape(3 * h)
            return d_x, d_h0, d_w_ih, d_w_hh, d_b_ih, d_b_hh
        return d_x, d_h0, d_w_ih, d_w_hh


def _gru_forward_steps(acts: Array, hs: Array, hg_n: Array, w_rec: Array, b_hn: Array) -> None:
    """``GRUSequence``'s time loop on NumPy: turns ``acts`` (the input projections) into the
    activations r, z, n, and fills ``hs[1:]`` and ``hg_n``."""
    _, steps, batch, h = acts.shape
    rec = xp.empty((3, batch, h), dtype=acts.dtype)
    tmp = xp.empty((batch, h), dtype=acts.dtype)
    r_all, z_all, n_all = acts
    rz_all = acts[:2]
    recurrent_product = matmul_steps(hs[:steps], w_rec, out=rec)
    for t in range(steps):
        recurrent_product(t)
        rz = rz_all[:, t]
        rz += rec[:2]
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        p_n = hg_n[t]
        xp.add(rec[2], b_hn, out=p_n)
        xp.multiply(r_all[t], p_n, out=tmp)
        n = n_all[t]
        n += tmp
        xp.tanh(n, out=n)
        h_new = hs[t + 1]
        xp.subtract(hs[t], n, out=h_new)
        h_new *= z_all[t]
        h_new += n

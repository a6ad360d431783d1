"""Fused recurrent layers: one op runs a whole single-layer LSTM or GRU over a sequence.

An unrolled LSTM costs a dozen graph nodes per time step; the Python overhead of building and
walking them dwarfs the arithmetic at the sizes people train on a CPU. These ops keep the time
loop inside one ``Function`` instead, and shape the work for NumPy:

* the input projection of every step is one matmul before the loop, so only ``h @ W_hh.T``
  stays in it;
* the loop writes into preallocated buffers with ``out=`` and allocates nothing per step;
* the sigmoid gates go through ``tanh``: their weight rows are scaled by 1/2 on the way in, so a
  single ``tanh`` call covers all four (three) gates and ``sigmoid(x) = tanh(x/2)/2 + 1/2``
  costs two cheap in-place ops;
* the backward pass precomputes, for all steps at once, every factor of the gate gradients that
  does not depend on the incoming gradient, leaving a few multiplies and one matmul per step; it
  writes the gate gradients of all steps into one array, so the weight and bias gradients are
  single large matmuls after the loop.

Shapes and gate order follow PyTorch: ``x`` is time-major ``(T, B, I)``; an LSTM's ``w_ih`` is
``(4H, I)`` with gates i, f, g, o and a GRU's is ``(3H, I)`` with gates r, z, n. ``reverse=True``
runs the recurrence from the last step to the first (the backward direction of a bidirectional
layer) and still returns the outputs in input order.
"""

from __future__ import annotations

from functools import lru_cache

from forge_core.autograd import Function
from forge_core.backend import Array, xp


def _check_dtypes(*arrays: Array | None) -> None:
    """Refuse mixed precision: NumPy would silently promote every buffer to float64."""
    dtypes = {a.dtype for a in arrays if a is not None}
    if len(dtypes) > 1:
        names = ", ".join(sorted(str(d) for d in dtypes))
        raise TypeError(f"inputs, states and weights must share one dtype, got {names}")


@lru_cache(maxsize=64)
def _lstm_layout(hidden: int, dtype: str) -> tuple[Array, Array, Array]:
    """Row order ``[g, i, f, o]`` for the weights, its inverse, and the per-row input scale.

    With g first, the three sigmoid gates are one contiguous block (one in-place fix-up after
    the shared ``tanh``), and in backward the three gates driven by the cell gradient are one
    block (one broadcast multiply).
    """
    h = hidden
    order = xp.concatenate(
        [xp.arange(2 * h, 3 * h), xp.arange(0, h), xp.arange(h, 2 * h), xp.arange(3 * h, 4 * h)]
    )
    scale = xp.full(4 * h, 0.5, dtype=dtype)
    scale[:h] = 1.0
    for array in (order, scale):
        array.flags.writeable = False
    inverse = xp.argsort(order)
    inverse.flags.writeable = False
    return order, inverse, scale


@lru_cache(maxsize=64)
def _gru_scale(hidden: int, dtype: str) -> Array:
    """Per-row input scale for a GRU: 1/2 for the sigmoid gates r and z, 1 for n."""
    scale = xp.full(3 * hidden, 0.5, dtype=dtype)
    scale[2 * hidden :] = 1.0
    scale.flags.writeable = False
    return scale


class LSTMSequence(Function):
    """A single-layer unidirectional LSTM over a whole sequence.

    Inputs ``(x, h0, c0, w_ih, w_hh[, b_ih, b_hh])``; outputs ``(output, h_n, c_n)`` with
    ``output`` of shape ``(T, B, H)``.
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
        steps, batch, features = x.shape
        h = w_hh.shape[1]
        dtype = x.dtype
        order, _, scale = _lstm_layout(h, dtype.str)
        if reverse:
            x = x[::-1]
        x2 = x.reshape(steps * batch, features)

        # acts holds the pre-activations, then (in place) the activations [g, i, f, o].
        acts = xp.empty((steps, batch, 4 * h), dtype=dtype)
        xp.matmul(x2, (w_ih[order] * scale[:, None]).T, out=acts.reshape(steps * batch, 4 * h))
        if b_ih is not None and b_hh is not None:
            acts += (b_ih + b_hh)[order] * scale
        w_rec = (w_hh[order] * scale[:, None]).T

        hs = xp.empty((steps + 1, batch, h), dtype=dtype)
        cs = xp.empty((steps + 1, batch, h), dtype=dtype)
        tanh_cs = xp.empty((steps, batch, h), dtype=dtype)
        hs[0] = h0
        cs[0] = c0
        rec = xp.empty((batch, 4 * h), dtype=dtype)
        ig = xp.empty((batch, h), dtype=dtype)
        for t in range(steps):
            a = acts[t]
            xp.matmul(hs[t], w_rec, out=rec)
            a += rec
            xp.tanh(a, out=a)
            sig = a[:, h:]
            sig *= 0.5
            sig += 0.5
            c = cs[t + 1]
            xp.multiply(a[:, 2 * h : 3 * h], cs[t], out=c)
            xp.multiply(a[:, h : 2 * h], a[:, :h], out=ig)
            c += ig
            xp.tanh(c, out=tanh_cs[t])
            xp.multiply(a[:, 3 * h :], tanh_cs[t], out=hs[t + 1])

        if any(self.needs_input_grad):
            self.saved = (x2, w_ih, w_hh, acts, hs, cs, tanh_cs, reverse)
        output = hs[1:]
        return (output[::-1] if reverse else output), hs[steps], cs[steps]

    def backward(self, d_out: Array, d_hn: Array, d_cn: Array) -> tuple[Array | None, ...]:
        x2, w_ih, w_hh, acts, hs, cs, tanh_cs, reverse = self.saved
        need_x, need_h0, need_c0, need_w_ih, need_w_hh, *need_bias = self.needs_input_grad
        steps, batch, h4 = acts.shape
        h = h4 // 4
        order, inverse, _ = _lstm_layout(h, acts.dtype.str)
        if reverse:
            d_out = d_out[::-1]
        w_rec = w_hh[order]

        # The gate gradients are these factors times the cell gradient (g, i, f) or the hidden
        # gradient (o); only that last product depends on the recurrence.
        gates = acts.reshape(steps, batch, 4, h)
        g, i, f, o = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2], gates[:, :, 3]
        d_gates = xp.empty_like(gates)
        xp.multiply(g, g, out=d_gates[:, :, 0])
        xp.subtract(1.0, d_gates[:, :, 0], out=d_gates[:, :, 0])
        d_gates[:, :, 0] *= i
        xp.subtract(1.0, i, out=d_gates[:, :, 1])
        d_gates[:, :, 1] *= i
        d_gates[:, :, 1] *= g
        xp.subtract(1.0, f, out=d_gates[:, :, 2])
        d_gates[:, :, 2] *= f
        d_gates[:, :, 2] *= cs[:-1]
        xp.subtract(1.0, o, out=d_gates[:, :, 3])
        d_gates[:, :, 3] *= o
        d_gates[:, :, 3] *= tanh_cs
        # dc_t gains dh_t * o_t * (1 - tanh(c_t)^2).
        dc_from_h = xp.multiply(tanh_cs, tanh_cs)
        xp.subtract(1.0, dc_from_h, out=dc_from_h)
        dc_from_h *= o

        dh = xp.add(d_hn, d_out[steps - 1])
        dc = d_cn.copy()
        tmp = xp.empty_like(dc)
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                xp.matmul(d_gates[t + 1].reshape(batch, h4), w_rec, out=dh)
                dh += d_out[t]
            xp.multiply(dh, dc_from_h[t], out=tmp)
            dc += tmp
            d = d_gates[t]
            xp.multiply(d[:, :3], dc[:, None, :], out=d[:, :3])
            xp.multiply(d[:, 3], dh, out=d[:, 3])
            dc *= f[t]

        d_flat = d_gates.reshape(steps * batch, h4)
        d_x = d_h0 = d_w_ih = d_w_hh = d_b = None
        if need_h0:
            d_h0 = d_gates[0].reshape(batch, h4) @ w_rec
        if need_x:
            d_x = (d_flat @ w_ih[order]).reshape(steps, batch, -1)
            if reverse:
                d_x = d_x[::-1]
        if need_w_ih:
            d_w_ih = (d_flat.T @ x2)[inverse]
        if need_w_hh:
            d_w_hh = (d_flat.T @ hs[:-1].reshape(steps * batch, h))[inverse]
        if need_bias and any(need_bias):
            d_b = d_flat.sum(axis=0)[inverse]
        grads = (d_x, d_h0, dc if need_c0 else None, d_w_ih, d_w_hh)
        return (*grads, d_b, d_b) if need_bias else grads


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
        steps, batch, features = x.shape
        h = w_hh.shape[1]
        dtype = x.dtype
        scale = _gru_scale(h, dtype.str)
        if reverse:
            x = x[::-1]
        x2 = x.reshape(steps * batch, features)

        # acts holds the input projections, then (in place) the activations [r, z, n]; the r and
        # z parts of b_hh join the input projection, b_hn must stay inside r * (...).
        acts = xp.empty((steps, batch, 3 * h), dtype=dtype)
        xp.matmul(x2, (w_ih * scale[:, None]).T, out=acts.reshape(steps * batch, 3 * h))
        b_hn = None
        if b_ih is not None and b_hh is not None:
            bias = b_ih * scale
            bias[: 2 * h] += b_hh[: 2 * h] * 0.5
            acts += bias
            b_hn = b_hh[2 * h :]
        w_rec = (w_hh * scale[:, None]).T

        # hg keeps W_hh h (+ b_hn for the n part) of every step: backward needs W_hn h + b_hn.
        hg = xp.empty((steps, batch, 3 * h), dtype=dtype)
        hs = xp.empty((steps + 1, batch, h), dtype=dtype)
        hs[0] = h0
        tmp = xp.empty((batch, h), dtype=dtype)
        for t in range(steps):
            a = acts[t]
            p = hg[t]
            xp.matmul(hs[t], w_rec, out=p)
            rz = a[:, : 2 * h]
            n = a[:, 2 * h :]
            p_n = p[:, 2 * h :]
            if b_hn is not None:
                p_n += b_hn
            rz += p[:, : 2 * h]
            xp.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            xp.multiply(a[:, :h], p_n, out=tmp)
            n += tmp
            xp.tanh(n, out=n)
            h_new = hs[t + 1]
            xp.subtract(hs[t], n, out=h_new)
            h_new *= a[:, h : 2 * h]
            h_new += n

        if any(self.needs_input_grad):
            self.saved = (x2, w_ih, w_hh, acts, hg, hs, reverse)
        output = hs[1:]
        return (output[::-1] if reverse else output), hs[steps]

    def backward(self, d_out: Array, d_hn: Array) -> tuple[Array | None, ...]:
        x2, w_ih, w_hh, acts, hg, hs, reverse = self.saved
        need_x, need_h0, need_w_ih, need_w_hh, *need_bias = self.needs_input_grad
        steps, batch, h3 = acts.shape
        h = h3 // 3
        if reverse:
            d_out = d_out[::-1]

        # With dh the gradient reaching h_t, the gradients of the pre-activations of r, z and of
        # W_hn h + b_hn are dh times these factors; da_n = dh * (1 - z) * (1 - n^2).
        gates = acts.reshape(steps, batch, 3, h)
        r, z, n = gates[:, :, 0], gates[:, :, 1], gates[:, :, 2]
        da_n = xp.multiply(n, n)
        xp.subtract(1.0, da_n, out=da_n)
        one_minus_z = xp.subtract(1.0, z)
        da_n *= one_minus_z
        d_gates = xp.empty_like(gates)
        xp.subtract(1.0, r, out=d_gates[:, :, 0])
        d_gates[:, :, 0] *= r
        d_gates[:, :, 0] *= hg.reshape(steps, batch, 3, h)[:, :, 2]
        d_gates[:, :, 0] *= da_n
        xp.subtract(hs[:-1], n, out=d_gates[:, :, 1])
        d_gates[:, :, 1] *= z
        d_gates[:, :, 1] *= one_minus_z
        xp.multiply(da_n, r, out=d_gates[:, :, 2])

        # dh_all[t] is the full gradient reaching h_t, kept to form da_n after the loop.
        dh_all = xp.empty((steps, batch, h), dtype=acts.dtype)
        carry = d_hn.copy()
        for t in range(steps - 1, -1, -1):
            dh = dh_all[t]
            if t < steps - 1:
                xp.matmul(d_gates[t + 1].reshape(batch, h3), w_hh, out=dh)
                dh += carry
            else:
                dh[...] = carry
            dh += d_out[t]
            d = d_gates[t]
            xp.multiply(d, dh[:, None, :], out=d)
            xp.multiply(dh, z[t], out=carry)
        da_n *= dh_all

        d_hg = d_gates.reshape(steps * batch, h3)
        d_rz = d_hg[:, : 2 * h]
        d_n = da_n.reshape(steps * batch, h)
        d_x = d_h0 = d_w_ih = d_w_hh = d_b_ih = d_b_hh = None
        if need_h0:
            d_h0 = d_gates[0].reshape(batch, h3) @ w_hh
            d_h0 += carry
        if need_x:
            d_x = d_rz @ w_ih[: 2 * h]
            d_x += d_n @ w_ih[2 * h :]
            d_x = d_x.reshape(steps, batch, -1)
            if reverse:
                d_x = d_x[::-1]
        if need_w_ih:
            d_w_ih = xp.concatenate([d_rz.T @ x2, d_n.T @ x2])
        if need_w_hh:
            d_w_hh = d_hg.T @ hs[:-1].reshape(steps * batch, h)
        if need_bias:
            d_b_hh = d_hg.sum(axis=0)
            d_b_ih = xp.concatenate([d_b_hh[: 2 * h], d_n.sum(axis=0)])
            return d_x, d_h0, d_w_ih, d_w_hh, d_b_ih, d_b_hh
        return d_x, d_h0, d_w_ih, d_w_hh

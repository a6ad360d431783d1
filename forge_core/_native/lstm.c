/* The time loops of the fused float32 LSTM, and the products of its backward pass.
 *
 * forge_core/native.py loads this library with ctypes and calls it with NumPy arrays' data
 * pointers; ctypes lets go of the GIL for the call. forge_core/ops/recurrent.py builds every
 * buffer and does everything outside the time loops; the loops here replace its NumPy loops
 * step for step, with the same buffers and the same arithmetic, so that each step costs its
 * matrix products and a single pass over its gates instead of a dozen NumPy calls.
 *
 * The matrix products go to the BLAS that NumPy or forge_core.gemm already runs on (blas.h).
 *
 * Buffer shapes, all C-contiguous float32 (T steps, B batch rows, H hidden units, W the width
 * of a state row [h | x | 1]):
 *   state   (T + 1, B, W)  forward fills the h part of rows 1..T
 *   weights (4, W, H)      gates in the order g, i, f, o; the sigmoid gates' rows pre-halved
 *   acts    (4, T, B, H)   pre-activations, then (in place) the activations
 *   cs      (T + 1, B, H)  cell states, cs[0] given
 *   tanh_cs (T, B, H)
 */
#include <stdint.h>
#include <string.h>

#include "blas.h"
#include "tanh.h"
#include "parts.h"

/* out[j] = tanh(x[j]) for n values: for tests of tanh_f32 against a reference. */
VECTOR_CLONES void forge_tanh_f32(int64_t n, const float *x, float *out)
{
    for (int64_t j = 0; j < n; j++)
        out[j] = tanh_f32(x[j]);
}

/* One forward step's gates, cell and hidden state for one batch row of H values. */
VECTOR_CLONES static void lstm_forward_gates(int64_t hidden, float *restrict g, float *restrict i,
                                             float *restrict f, float *restrict o,
                                             const float *restrict c_prev, float *restrict c,
                                             float *restrict tanh_c, float *restrict h)
{
    for (int64_t j = 0; j < hidden; j++) {
        float gj = tanh_f32(g[j]);
        float ij = 0.5f * tanh_f32(i[j]) + 0.5f;
        float fj = 0.5f * tanh_f32(f[j]) + 0.5f;
        float oj = 0.5f * tanh_f32(o[j]) + 0.5f;
        float cj = fj * c_prev[j] + ij * gj;
        float tj = tanh_f32(cj);
        g[j] = gj;
        i[j] = ij;
        f[j] = fj;
        o[j] = oj;
        c[j] = cj;
        tanh_c[j] = tj;
        h[j] = oj * tj;
    }
}

/* Everything the loops need. The time loops split the batch rows between the threads: the
 * rows of an LSTM never meet, a row's gates, states and gradients depend on that row alone,
 * so the threads run the whole sequence without waiting for each other. */
typedef struct {
    Gemm gemm;
    int64_t steps, batch, hidden, width, features;
    float *state, *acts, *cs, *tanh_cs;          /* forward fills these */
    const float *weights;                         /* forward reads */
    const float *w_rec, *w_in, *d_out, *d_hn;     /* backward reads */
    float *dc, *d, *dh, *d_x, *d_h0, *d_weights; /* backward fills */
} Loop;

static void *lstm_forward_rows(void *argument)
{
    const Part *part = argument;
    const Loop *L = part->job;
    int64_t B = L->batch, H = L->hidden, W = L->width, n = B * H, gate = L->steps * n;
    int64_t row0, row1;
    forge_share(part, B, &row0, &row1);
    for (int64_t t = 0; t < L->steps && row1 > row0; t++) {
        float *a = L->acts + t * n;
        for (int k = 0; k < 4; k++)
            gemm(&L->gemm, 0, row1 - row0, H, W, L->state + (t * B + row0) * W, W,
                 L->weights + k * W * H, H, 0.0f, a + k * gate + row0 * H, H);
        /* h_t goes into the first H columns of each row of state[t + 1] */
        for (int64_t b = row0; b < row1; b++) {
            int64_t at = b * H;
            lstm_forward_gates(H, a + at, a + gate + at, a + 2 * gate + at, a + 3 * gate + at,
                               L->cs + t * n + at, L->cs + (t + 1) * n + at,
                               L->tanh_cs + t * n + at, L->state + ((t + 1) * B + b) * W);
        }
    }
    return NULL;
}

/* The forward time loop over `threads` threads (at most one per batch row): fills acts (the
 * activations g, i, f, o), cs[1:], tanh_cs and the h part of state[1:]. Returns 0 or an
 * error number. */
int forge_lstm_forward_f32(void *sgemm, int ilp64, int64_t threads, int64_t steps, int64_t batch,
                           int64_t hidden, int64_t width, float *state, const float *weights,
                           float *acts, float *cs, float *tanh_cs)
{
    Loop loop = {.gemm = {sgemm, ilp64}, .steps = steps, .batch = batch, .hidden = hidden,
                 .width = width, .state = state, .weights = weights, .acts = acts, .cs = cs,
                 .tanh_cs = tanh_cs};
    return forge_run_parts(&loop, threads < batch ? threads : batch, lstm_forward_rows);
}

/* One backward step over n values: dh is the gradient reaching h_t, dc the one reaching c_t
 * from later steps, which leaves as the gradient reaching c_{t-1}. Writes the gradients of
 * the gate pre-activations (the true ones, not the halved ones the forward ran through tanh). */
VECTOR_CLONES static void lstm_backward_gates(int64_t n, const float *restrict g,
                                              const float *restrict i, const float *restrict f,
                                              const float *restrict o,
                                              const float *restrict c_prev,
                                              const float *restrict tanh_c,
                                              const float *restrict dh, float *restrict dc,
                                              float *restrict dg, float *restrict di,
                                              float *restrict df, float *restrict d_o)
{
    for (int64_t j = 0; j < n; j++) {
        float gj = g[j], ij = i[j], fj = f[j], oj = o[j], tj = tanh_c[j], dhj = dh[j];
        float dcj = dc[j] + dhj * oj * (1.0f - tj * tj);
        dg[j] = dcj * ij * (1.0f - gj * gj);
        di[j] = dcj * gj * ij * (1.0f - ij);
        df[j] = dcj * c_prev[j] * fj * (1.0f - fj);
        d_o[j] = dhj * tj * oj * (1.0f - oj);
        dc[j] = dcj * fj;
    }
}

static void *lstm_backward_rows(void *argument)
{
    const Part *part = argument;
    const Loop *L = part->job;
    int64_t B = L->batch, H = L->hidden, n = B * H, gate = L->steps * n;
    int64_t row0, row1;
    forge_share(part, B, &row0, &row1);
    int64_t at = row0 * H, count = (row1 - row0) * H;
    float *dh = L->dh + at, *dc = L->dc + at;
    for (int64_t t = L->steps - 1; t >= 0 && count > 0; t--) {
        memcpy(dh, L->d_out + t * n + at, (size_t)count * sizeof *dh);
        if (t == L->steps - 1) {
            for (int64_t j = 0; j < count; j++)
                dh[j] += L->d_hn[at + j];
        } else {
            /* dh += sum over the gates of d[k, t + 1] @ w_rec[k] */
            for (int k = 0; k < 4; k++)
                gemm(&L->gemm, 0, row1 - row0, H, H, L->d + k * gate + (t + 1) * n + at, H,
                     L->w_rec + k * H * H, H, 1.0f, dh, H);
        }
        const float *a = L->acts + t * n + at;
        float *dt = L->d + t * n + at;
        lstm_backward_gates(count, a, a + gate, a + 2 * gate, a + 3 * gate, L->cs + t * n + at,
                            L->tanh_cs + t * n + at, dh, dc, dt, dt + gate, dt + 2 * gate,
                            dt + 3 * gate);
    }
    return NULL;
}

/* The products of the gate gradients d (4, T * B, H) of all steps, each part its own rows of
 * each result: d_weights[k] = d[k].T @ state[:-1] (the gradients of W_hh, W_ih and the bias
 * at once), d_x = sum_k d[k] @ w_in[k], d_h0 = sum_k d[k, step 0] @ w_rec[k]. A NULL result
 * is not needed. */
static void *lstm_gradient_products(void *argument)
{
    const Part *part = argument;
    const Loop *L = part->job;
    int64_t B = L->batch, H = L->hidden, W = L->width, I = L->features;
    int64_t N = L->steps * B, gate = N * H, lo, hi;
    if (L->d_weights) {
        forge_share(part, 4 * H, &lo, &hi);
        for (int64_t k = 0; k < 4; k++) {
            int64_t j0 = lo > k * H ? lo - k * H : 0, j1 = hi < (k + 1) * H ? hi - k * H : H;
            if (j1 > j0)
                gemm(&L->gemm, 1, j1 - j0, W, N, L->d + k * gate + j0, H, L->state, W, 0.0f,
                     L->d_weights + (k * H + j0) * W, W);
        }
    }
    if (L->d_x) {
        forge_share(part, N, &lo, &hi);
        for (int64_t k = 0; k < 4 && hi > lo; k++)
            gemm(&L->gemm, 0, hi - lo, I, H, L->d + k * gate + lo * H, H, L->w_in + k * H * I, I,
                 k ? 1.0f : 0.0f, L->d_x + lo * I, I);
    }
    if (L->d_h0) {
        forge_share(part, B, &lo, &hi);
        for (int64_t k = 0; k < 4 && hi > lo; k++)
            gemm(&L->gemm, 0, hi - lo, H, H, L->d + k * gate + lo * H, H, L->w_rec + k * H * H,
                 H, k ? 1.0f : 0.0f, L->d_h0 + lo * H, H);
    }
    return NULL;
}

/* The backward pass over `threads` threads. d_out (T, B, H) and d_hn (B, H) are the gradients
 * reaching the outputs and the last hidden state; dc (B, H) enters holding the gradient of the
 * last cell state and leaves holding that of c0. w_rec (4, H, H) and w_in (4, H, I) are
 * W_hh's and W_ih's gate blocks, unscaled, in the order g, i, f, o. d (4, T, B, H) receives
 * the gate gradients of every step; dh (B, H) is scratch; d_x (T, B, I), d_h0 (B, H) and
 * d_weights (4, H, W) receive what their names say, each unless NULL. Returns 0 or an error
 * number. */
int forge_lstm_backward_f32(void *sgemm, int ilp64, int64_t threads, int64_t steps,
                            int64_t batch, int64_t hidden, int64_t width, int64_t features,
                            const float *acts,
                            const float *cs, const float *tanh_cs, const float *state,
                            const float *w_rec, const float *w_in, const float *d_out,
                            const float *d_hn, float *dc, float *d, float *dh, float *d_x,
                            float *d_h0, float *d_weights)
{
    /* the loops only read acts, cs, tanh_cs and state, which the forward pass filled */
    Loop loop = {.gemm = {sgemm, ilp64}, .steps = steps, .batch = batch, .hidden = hidden,
                 .width = width, .features = features, .acts = (float *)acts,
                 .cs = (float *)cs, .tanh_cs = (float *)tanh_cs, .state = (float *)state,
                 .w_rec = w_rec, .w_in = w_in, .d_out = d_out, .d_hn = d_hn, .dc = dc, .d = d,
                 .dh = dh, .d_x = d_x, .d_h0 = d_h0, .d_weights = d_weights};
    int error = forge_run_parts(&loop, threads < batch ? threads : batch, lstm_backward_rows);
    return error ? error : forge_run_parts(&loop, threads, lstm_gradient_products);
}


/* The time loops of the fused float32 GRU, and the products of its backward pass; the GRU's
 * counterpart of lstm.c, with the same design (see there), replacing the NumPy loops of
 * forge_core/ops/recurrent.py step for step.
 *
 * As in PyTorch, r and z are sigmoids, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and
 * h' = (1 - z) * n + z * h. Buffer shapes, all C-contiguous float32 (T steps, B batch rows,
 * H hidden units, I input features):
 *   acts    (3, T, B, H)  the input projections of r, z, n (those of r and z halved, and with
 *                         their recurrent biases), then (in place) the activations r, z, n
 *   hs      (T + 1, B, H) hidden states, hs[0] given
 *   hg_n    (T, B, H)     W_hn h + b_hn of every step
 *   w_rec   (3, H, H)     W_hh's gate blocks transposed, r's and z's halved: rec = h @ w_rec
 *   rec     (3, B, H)     scratch */
#include <stdint.h>
#include <string.h>

#include "blas.h"
#include "parts.h"
#include "tanh.h"

typedef struct {
    Gemm gemm;
    int64_t steps, batch, hidden, features;
    float *acts, *hs, *hg_n, *rec;            /* forward fills these */
    const float *w_rec, *b_hn;                /* forward reads */
    const float *w_hh, *w_ih, *x, *d_out;     /* backward reads; w_hh, w_ih as PyTorch stores */
    float *carry, *dh, *d, *da_n;             /* backward's loop fills these */
    float *d_x, *d_h0, *d_w_ih, *d_w_hh, *d_b; /* and its products, each unless NULL */
} Gru;

/* One forward step's gates and hidden state for one batch row of H values. */
VECTOR_CLONES static void gru_forward_gates(int64_t hidden, float *restrict r, float *restrict z,
                                            float *restrict n, const float *restrict rec_r,
                                            const float *restrict rec_z,
                                            const float *restrict rec_n,
                                            const float *restrict b_hn, float *restrict hg_n,
                                            const float *restrict h_prev, float *restrict h)
{
    for (int64_t j = 0; j < hidden; j++) {
        float rj = 0.5f * tanh_f32(r[j] + rec_r[j]) + 0.5f;
        float zj = 0.5f * tanh_f32(z[j] + rec_z[j]) + 0.5f;
        float pj = rec_n[j] + b_hn[j];
        float nj = tanh_f32(n[j] + rj * pj);
        r[j] = rj;
        z[j] = zj;
        n[j] = nj;
        hg_n[j] = pj;
        h[j] = (h_prev[j] - nj) * zj + nj;
    }
}

static void *gru_forward_rows(void *argument)
{
    const Part *part = argument;
    const Gru *G = part->job;
    int64_t B = G->batch, H = G->hidden, n = B * H, gate = G->steps * n, row0, row1;
    forge_share(part, B, &row0, &row1);
    for (int64_t t = 0; t < G->steps && row1 > row0; t++) {
        for (int k = 0; k < 3; k++)
            gemm(&G->gemm, 0, row1 - row0, H, H, G->hs + t * n + row0 * H, H,
                 G->w_rec + k * H * H, H, 0.0f, G->rec + k * n + row0 * H, H);
        for (int64_t b = row0; b < row1; b++) {
            int64_t at = b * H;
            float *a = G->acts + t * n + at;
            gru_forward_gates(H, a, a + gate, a + 2 * gate, G->rec + at, G->rec + n + at,
                              G->rec + 2 * n + at, G->b_hn, G->hg_n + t * n + at,
                              G->hs + t * n + at, G->hs + (t + 1) * n + at);
        }
    }
    return NULL;
}

/* The forward time loop over `threads` threads: fills acts' activations, hs[1:] and hg_n.
 * b_hn (H) is the recurrent bias of n, zeros without biases. Returns 0 or an error number. */
int forge_gru_forward_f32(void *sgemm, int ilp64, int64_t threads, int64_t steps, int64_t batch,
                          int64_t hidden, float *acts, float *hs, float *hg_n, float *rec,
                          const float *w_rec, const float *b_hn)
{
    Gru g = {.gemm = {sgemm, ilp64}, .steps = steps, .batch = batch, .hidden = hidden,
             .acts = acts, .hs = hs, .hg_n = hg_n, .rec = rec, .w_rec = w_rec, .b_hn = b_hn};
    return forge_run_parts(&g, threads < batch ? threads : batch, gru_forward_rows);
}

/* One backward step over `count` values: dh is the gradient reaching h_t; writes the
 * gradients of r's and z's pre-activations, of W_hn h + b_hn and of n's pre-activation, and
 * the part of dh that reaches h_{t-1} through z * h. */
VECTOR_CLONES static void gru_backward_gates(int64_t count, const float *restrict r,
                                             const float *restrict z, const float *restrict n,
                                             const float *restrict hg_n,
                                             const float *restrict h_prev,
                                             const float *restrict dh, float *restrict dr,
                                             float *restrict dz, float *restrict dhn,
                                             float *restrict da_n, float *restrict carry)
{
    for (int64_t j = 0; j < count; j++) {
        float rj = r[j], zj = z[j], nj = n[j], dhj = dh[j];
        float k = (1.0f - nj * nj) * (1.0f - zj) * dhj; /* n's pre-activation */
        dr[j] = (1.0f - rj) * rj * hg_n[j] * k;
        dz[j] = (1.0f - zj) * zj * (h_prev[j] - nj) * dhj;
        dhn[j] = k * rj;
        da_n[j] = k;
        carry[j] = dhj * zj;
    }
}

static void *gru_backward_rows(void *argument)
{
    const Part *part = argument;
    const Gru *G = part->job;
    int64_t B = G->batch, H = G->hidden, n = B * H, gate = G->steps * n, row0, row1;
    forge_share(part, B, &row0, &row1);
    int64_t at = row0 * H, count = (row1 - row0) * H;
    float *dh = G->dh + at, *carry = G->carry + at;
    for (int64_t t = G->steps - 1; t >= 0 && count > 0; t--) {
        const float *d_out = G->d_out + t * n + at;
        for (int64_t j = 0; j < count; j++)
            dh[j] = d_out[j] + carry[j];
        if (t < G->steps - 1)
            /* dh += sum over the gates of d[k, t + 1] @ w_hh[k] */
            for (int k = 0; k < 3; k++)
                gemm(&G->gemm, 0, row1 - row0, H, H, G->d + k * gate + (t + 1) * n + at, H,
                     G->w_hh + k * H * H, H, 1.0f, dh, H);
        const float *a = G->acts + t * n + at;
        float *dt = G->d + t * n + at;
        gru_backward_gates(count, a, a + gate, a + 2 * gate, G->hg_n + t * n + at,
                           G->hs + t * n + at, dh, dt, dt + gate, dt + 2 * gate,
                           G->da_n + t * n + at, carry);
    }
    return NULL;
}

/* Column sums of a (rows, cols) matrix for the columns [lo, hi). */
static void column_sums(const float *m, int64_t rows, int64_t cols, int64_t lo, int64_t hi,
                        float *out)
{
    for (int64_t j = lo; j < hi; j++)
        out[j] = 0.0f;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = lo; j < hi; j++)
            out[j] += m[i * cols + j];
}

/* The products of the gate gradients of all steps, each part its own rows of each result.
 * The recurrent weights see d (r, z and W_hn h + b_hn); the input weights see r, z and n's
 * pre-activation (da_n). d_b holds b_ih's gradient (3H) then b_hh's (3H). */
static void *gru_gradient_products(void *argument)
{
    const Part *part = argument;
    const Gru *G = part->job;
    int64_t B = G->batch, H = G->hidden, I = G->features, N = G->steps * B, gate = N * H;
    const float *input_side[3] = {G->d, G->d + gate, G->da_n};
    int64_t lo, hi;
    if (G->d_h0) {
        forge_share(part, B, &lo, &hi);
        for (int64_t i = lo * H; i < hi * H; i++)
            G->d_h0[i] = G->carry[i];
        for (int k = 0; k < 3 && hi > lo; k++)
            gemm(&G->gemm, 0, hi - lo, H, H, G->d + k * gate + lo * H, H, G->w_hh + k * H * H,
                 H, 1.0f, G->d_h0 + lo * H, H);
    }
    if (G->d_x) {
        forge_share(part, N, &lo, &hi);
        for (int k = 0; k < 3 && hi > lo; k++)
            gemm(&G->gemm, 0, hi - lo, I, H, input_side[k] + lo * H, H, G->w_ih + k * H * I,
                 I, k ? 1.0f : 0.0f, G->d_x + lo * I, I);
    }
    forge_share(part, 3 * H, &lo, &hi);
    for (int64_t k = 0; k < 3; k++) {
        int64_t j0 = lo > k * H ? lo - k * H : 0, j1 = hi < (k + 1) * H ? hi - k * H : H;
        if (j1 <= j0)
            continue;
        if (G->d_w_hh)
            gemm(&G->gemm, 1, j1 - j0, H, N, G->d + k * gate + j0, H, G->hs, H, 0.0f,
                 G->d_w_hh + (k * H + j0) * H, H);
        if (G->d_w_ih)
            gemm(&G->gemm, 1, j1 - j0, I, N, input_side[k] + j0, H, G->x, I, 0.0f,
                 G->d_w_ih + (k * H + j0) * I, I);
        if (G->d_b) {
            column_sums(input_side[k], N, H, j0, j1, G->d_b + k * H);
            column_sums(G->d + k * gate, N, H, j0, j1, G->d_b + 3 * H + k * H);
        }
    }
    return NULL;
}

/* The backward pass over `threads` threads. d_out (T, B, H) is the gradient reaching the
 * outputs; carry (B, H) enters holding the gradient of the last hidden state. w_hh (3, H, H)
 * and w_ih (3, H, I) are the weights as PyTorch stores them, unscaled; x (T * B, I) the inputs
 * in the order the recurrence visited them. d (3, T, B, H) and da_n (T, B, H) receive the
 * gate gradients of every step, dh (B, H) is scratch; d_x (T * B, I), d_h0 (B, H), d_w_ih
 * (3H, I), d_w_hh (3H, H) and d_b (2, 3H) receive what their names say, each unless NULL.
 * Returns 0 or an error number. */
int forge_gru_backward_f32(void *sgemm, int ilp64, int64_t threads, int64_t steps, int64_t batch,
                           int64_t hidden, int64_t features, const float *acts, const float *hs,
                           const float *hg_n, const float *w_hh, const float *w_ih,
                           const float *x, const float *d_out, float *carry, float *dh, float *d,
                           float *da_n, float *d_x, float *d_h0, float *d_w_ih, float *d_w_hh,
                           float *d_b)
{
    /* the loops only read acts, hs and hg_n, which the forward pass filled */
    Gru g = {.gemm = {sgemm, ilp64}, .steps = steps, .batch = batch, .hidden = hidden,
             .features = features, .acts = (float *)acts, .hs = (float *)hs,
             .hg_n = (float *)hg_n, .w_hh = w_hh, .w_ih = w_ih, .x = x, .d_out = d_out,
             .carry = carry, .dh = dh, .d = d, .da_n = da_n, .d_x = d_x, .d_h0 = d_h0,
             .d_w_ih = d_w_ih, .d_w_hh = d_w_hh, .d_b = d_b};
    int error = forge_run_parts(&g, threads < batch ? threads : batch, gru_backward_rows);
    return error ? error : forge_run_parts(&g, threads, gru_gradient_products);
}

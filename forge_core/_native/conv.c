/* Stride-1 float32 convolutions on CHWN arrays (forge_core/ops/conv.py), computed straight from
 * the input: no column matrix and no BLAS.
 *
 * The NumPy path gathers a (K, OH*OW*N) column matrix, K = C*kh*kw (megabytes that leave the
 * caches), and multiplies it on OpenBLAS, whose threads then spin on the cores the next NumPy
 * call needs. Here, in CHWN order, the numbers one kernel offset reads for one output row's
 * OW*N positions are consecutive in the padded input: K pointers into the input stand for the
 * whole column block, and the tiles (conv_tiles.h) read their vectors straight from it. Each
 * thread takes its own share of the output positions; the threads share only what they read.
 *
 * Two kernels, both on an input padded beforehand (forge_core/ops/conv.py does it; a TCN's
 * causal padding is often already there):
 * - forge_conv_forward_f32: out (O, OH, OW, N) = weight (O, K) @ columns + bias. The input's
 *   gradient is this same pass over the padded output gradient, with the kernel flipped and
 *   transposed.
 * - forge_conv_weight_grad_f32: d_weight (O, K) = grad (O, OH*OW*N) @ columns^T, each thread
 *   summing its share into a partial product of its own, added up after the threads join. */
#include "parts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef void (*ForwardTile)(int64_t count, const float *const *rows, int64_t m,
                            const float *weight, const float *bias, float *out, int64_t stride,
                            int64_t valid);
typedef void (*GradTile)(int64_t vectors, const float *const *grad, const float *const *x,
                         float *out);

typedef struct {
    ForwardTile forward, forward_1;
    GradTile grad;
    int64_t out_rows, lanes, vectors, grad_rows, grad_columns;
} Tiles;

#if defined(__x86_64__) && defined(__GNUC__)
#define TILES conv_tiles_avx512
#define TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define VECTOR 64
#define OUT_ROWS 8
#define VECTORS 3
#define GRAD_ROWS 4
#define GRAD_COLUMNS 6
#include "conv_tiles.h"

#define TILES conv_tiles_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define VECTOR 32
#define OUT_ROWS 4
#define VECTORS 3
#define GRAD_ROWS 3
#define GRAD_COLUMNS 4
#include "conv_tiles.h"
#endif

#define TILES conv_tiles_plain
#define TARGET
#define VECTOR 16
#define OUT_ROWS 4
#define VECTORS 2
#define GRAD_ROWS 2
#define GRAD_COLUMNS 4
#include "conv_tiles.h"

static int supports(int level)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (level == 2)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    if (level == 1)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return level == 0;
}

static const Tiles *tiles_of(int level)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (level == 2)
        return &conv_tiles_avx512;
    if (level == 1)
        return &conv_tiles_avx2;
#endif
    return &conv_tiles_plain;
}

static int chosen_level = -1; /* the best the processor runs, unless forge_conv_tiles chose */

static const Tiles *best_tiles(void)
{
    if (chosen_level >= 0)
        return tiles_of(chosen_level);
    for (int level = 2; level > 0; level--)
        if (supports(level))
            return tiles_of(level);
    return tiles_of(0);
}

/* Run on the tiles of `level` (0 plain C, 1 AVX2, 2 AVX-512), or the best ones for -1; the
 * tests run each set the processor has. Returns 0, or -1 if the processor lacks that set. */
int forge_conv_tiles(int level)
{
    if (level >= 0 && !supports(level))
        return -1;
    chosen_level = level;
    return 0;
}

/* The geometry, as the caller passes it: an array of int64 in this order. The input is the
 * padded one: the output has HEIGHT - (KERNEL_H - 1) * DILATION_H rows, and so on. */
enum {
    CHANNELS, HEIGHT, WIDTH, BATCH, KERNEL_H, KERNEL_W, DILATION_H, DILATION_W, OUT_CHANNELS
};

/* Output positions per work item: the forward pass's items are short, for an even split
 * between threads; the weight gradient's longer, so that each tile's sums go a long way. */
enum { FORWARD_BLOCK = 192, GRAD_BLOCK = 1024 };

typedef struct {
    const Tiles *t;
    const float *x;
    int64_t channels, height, width, batch, kh, kw, dh, dw;
    int64_t out_channels, count; /* count: K, the columns of the flat weight */
    int64_t out_h, span;         /* output rows, and positions per output row (OW * N) */
    int64_t block, blocks;       /* positions per item, items per output row */
    const float *weight, *packed, *bias; /* forward */
    const float *grad;                   /* weight gradient: (O, OH * span) */
    float *out; /* forward: (O, OH * span); weight gradient: (parts, O, K) partial sums */
    int failed; /* set by a thread that could not allocate its row pointers */
} Conv;

static Conv describe(const int64_t *s, const float *x, int64_t block)
{
    Conv c = {
        .t = best_tiles(),
        .x = x,
        .channels = s[CHANNELS],
        .height = s[HEIGHT],
        .width = s[WIDTH],
        .batch = s[BATCH],
        .kh = s[KERNEL_H],
        .kw = s[KERNEL_W],
        .dh = s[DILATION_H],
        .dw = s[DILATION_W],
        .out_channels = s[OUT_CHANNELS],
        .block = block,
    };
    c.count = c.channels * c.kh * c.kw;
    c.out_h = c.height - (c.kh - 1) * c.dh;
    c.span = (c.width - (c.kw - 1) * c.dw) * c.batch;
    c.blocks = (c.span + block - 1) / block;
    return c;
}

/* Where column k of output row oh's column block starts: kernel offset (i, j) of channel ch,
 * k = (ch * kh + i) * kw + j, as the weight's flat columns are ordered. */
static void row_pointers(const Conv *c, int64_t oh, const float **rows)
{
    int64_t k = 0;
    for (int64_t ch = 0; ch < c->channels; ch++)
        for (int64_t i = 0; i < c->kh; i++)
            for (int64_t j = 0; j < c->kw; j++, k++)
                rows[k] = c->x + ((ch * c->height + oh + i * c->dh) * c->width + j * c->dw) *
                                     c->batch;
}

static void forward_item(const Conv *c, const float *const *rows, int64_t oh, int64_t m0,
                         int64_t m1)
{
    const Tiles *t = c->t;
    int64_t stride = c->out_h * c->span, tile = t->vectors * t->lanes, m = m0;
    float *out = c->out + oh * c->span;
    int64_t tiles = (c->out_channels + t->out_rows - 1) / t->out_rows;
    for (; m + tile <= m1; m += tile)
        for (int64_t b = 0; b < tiles; b++) {
            int64_t first = b * t->out_rows, valid = c->out_channels - first;
            t->forward(c->count, rows, m, c->packed + first * c->count, c->bias + first,
                       out + first * stride + m, stride, valid < t->out_rows ? valid : t->out_rows);
        }
    for (; m + t->lanes <= m1; m += t->lanes)
        for (int64_t b = 0; b < tiles; b++) {
            int64_t first = b * t->out_rows, valid = c->out_channels - first;
            t->forward_1(c->count, rows, m, c->packed + first * c->count, c->bias + first,
                         out + first * stride + m, stride,
                         valid < t->out_rows ? valid : t->out_rows);
        }
    for (; m < m1; m++)
        for (int64_t o = 0; o < c->out_channels; o++) {
            float sum = c->bias[o];
            for (int64_t k = 0; k < c->count; k++)
                sum += c->weight[o * c->count + k] * rows[k][m];
            out[o * stride + m] = sum;
        }
}

static void grad_item(const Conv *c, const float *const *rows, int64_t oh, int64_t m0,
                      int64_t m1, float *partial)
{
    const Tiles *t = c->t;
    enum { MOST = 16 }; /* at least any Tiles' grad_rows and grad_columns */
    const float *grad[MOST], *x[MOST];
    float sums[MOST * MOST];
    int64_t stride = c->out_h * c->span, vectors = (m1 - m0) / t->lanes;
    const float *g = c->grad + oh * c->span;
    for (int64_t o0 = 0; o0 < c->out_channels; o0 += t->grad_rows) {
        for (int64_t r = 0; r < t->grad_rows; r++) /* rows past the end: any row, unused */
            grad[r] = g + (o0 + r < c->out_channels ? o0 + r : o0) * stride + m0;
        for (int64_t k0 = 0; k0 < c->count; k0 += t->grad_columns) {
            for (int64_t q = 0; q < t->grad_columns; q++)
                x[q] = rows[k0 + q < c->count ? k0 + q : k0] + m0;
            memset(sums, 0, (size_t)(t->grad_rows * t->grad_columns) * sizeof(float));
            if (vectors)
                t->grad(vectors, grad, x, sums);
            for (int64_t r = 0; r < t->grad_rows && o0 + r < c->out_channels; r++)
                for (int64_t q = 0; q < t->grad_columns && k0 + q < c->count; q++) {
                    float sum = sums[r * t->grad_columns + q];
                    for (int64_t m = vectors * t->lanes; m < m1 - m0; m++)
                        sum += grad[r][m] * x[q][m];
                    partial[(o0 + r) * c->count + k0 + q] += sum;
                }
        }
    }
}

/* One thread's share of the items: output row oh's positions [m0, m1) each. */
static void *run_part(void *argument, int gradient)
{
    const Part *part = argument;
    Conv *c = (Conv *)part->job;
    const float **rows = malloc((size_t)c->count * sizeof *rows);
    if (rows == NULL) {
        c->failed = 1;
        return NULL;
    }
    int64_t lo, hi, row = -1;
    forge_share(part, c->out_h * c->blocks, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        int64_t oh = item / c->blocks, m0 = item % c->blocks * c->block;
        int64_t m1 = m0 + c->block < c->span ? m0 + c->block : c->span;
        if (oh != row)
            row_pointers(c, row = oh, rows);
        if (gradient)
            grad_item(c, rows, oh, m0, m1, c->out + part->part * c->out_channels * c->count);
        else
            forward_item(c, rows, oh, m0, m1);
    }
    free(rows);
    return NULL;
}

static void *forward_part(void *argument) { return run_part(argument, 0); }

static void *grad_part(void *argument) { return run_part(argument, 1); }

/* out = weight (O, K) @ columns + bias (O, or NULL for none). */
int forge_conv_forward_f32(int64_t threads, const int64_t *geometry, const float *x,
                           const float *weight, const float *bias, float *out)
{
    Conv c = describe(geometry, x, FORWARD_BLOCK);
    int64_t rows = c.t->out_rows, tiles = (c.out_channels + rows - 1) / rows;
    /* The weight as tiles of `rows` output channels, each (K, rows), channel within tile
     * fastest; the last tile and the bias padded with zeros. */
    float *packed = calloc((size_t)(tiles * rows * (c.count + 1)), sizeof(float));
    if (packed == NULL)
        return ENOMEM;
    float *padded_bias = packed + tiles * rows * c.count;
    for (int64_t o = 0; o < c.out_channels; o++) {
        float *tile = packed + o / rows * rows * c.count + o % rows;
        for (int64_t k = 0; k < c.count; k++)
            tile[k * rows] = weight[o * c.count + k];
        padded_bias[o] = bias ? bias[o] : 0.0f;
    }
    c.weight = weight;
    c.packed = packed;
    c.bias = padded_bias;
    c.out = out;
    int error = forge_run_parts(&c, forge_threads_for(threads, c.out_h * c.blocks), forward_part);
    free(packed);
    return error ? error : c.failed ? ENOMEM : 0;
}

/* d_weight (O, K) = grad (O, OH * OW * N) @ columns^T. */
int forge_conv_weight_grad_f32(int64_t threads, const int64_t *geometry, const float *x,
                               const float *grad, float *d_weight)
{
    Conv c = describe(geometry, x, GRAD_BLOCK);
    threads = forge_threads_for(threads, c.out_h * c.blocks);
    int64_t size = c.out_channels * c.count;
    float *partials = calloc((size_t)(threads * size), sizeof(float));
    if (partials == NULL)
        return ENOMEM;
    c.grad = grad;
    c.out = partials;
    int error = forge_run_parts(&c, threads, grad_part);
    if (!error && !c.failed)
        for (int64_t k = 0; k < size; k++) {
            float sum = 0.0f;
            for (int64_t p = 0; p < threads; p++)
                sum += partials[p * size + k];
            d_weight[k] = sum;
        }
    free(partials);
    return error ? error : c.failed ? ENOMEM : 0;
}

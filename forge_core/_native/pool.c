/* Max pooling over float32 CHWN arrays (forge_core/ops/pooling.py), forward and backward, as
 * PyTorch computes it: the window's first maximum in row-major order wins, a NaN wins over
 * any number (the last NaN, as in PyTorch), and padding never wins.
 *
 * NumPy's path runs one np.maximum per kernel offset, and on the benchmark machine (an AMD EPYC,
 * Zen 5) np.maximum took five times a multiplication's time; its backward pass then compares
 * each offset with the maxima again. Here one pass per offset keeps the running maximum and
 * which offset holds it (a byte per output number), and the backward pass routes each
 * gradient to that offset. In CHWN order each (channel, row, column) holds N consecutive
 * numbers, one per example, so every inner loop runs over N and vectorises. The threads split
 * the channels. */
#include <stdint.h>
#include <string.h>

#include "clones.h"
#include "parts.h"

/* The geometry, as the caller passes it: an array of int64 in this order. */
enum {
    CHANNELS, HEIGHT, WIDTH, BATCH, KERNEL_H, KERNEL_W, STRIDE_H, STRIDE_W, DILATION_H,
    DILATION_W, PAD_TOP, PAD_LEFT, OUT_H, OUT_W
};

typedef struct {
    const int64_t *s;
    const float *x; /* forward: the input (C, H, W, N) */
    float *out;     /* forward: the maxima (C, OH, OW, N) */
    uint8_t *won;   /* the offset i * kw + j that holds each maximum (C, OH, OW, N) */
    const float *g; /* backward: the output gradient (C, OH, OW, N) */
    float *grad;    /* backward: the input gradient (C, H, W, N) */
    int assign;     /* backward: the windows tile the input, each position in exactly one */
} Pool;

static inline void keep_max(int64_t n, const float *restrict v, uint8_t offset,
                            float *restrict best, uint8_t *restrict won)
{
    for (int64_t i = 0; i < n; i++) {
        int take = v[i] > best[i] || v[i] != v[i];
        best[i] = take ? v[i] : best[i];
        won[i] = take ? offset : won[i];
    }
}

/* Runs VISIT(at, position, offset, first) for each kernel offset of each window of channels
 * [lo, hi) that falls inside the input, in row-major order: `at` is the window's output
 * position, `position` the input's, `first` marks each window's first such offset. */
#define EACH_OFFSET(s, lo, hi, VISIT)                                                          \
    for (int64_t c = lo; c < hi; c++)                                                          \
        for (int64_t oh = 0; oh < s[OUT_H]; oh++)                                              \
            for (int64_t ow = 0; ow < s[OUT_W]; ow++) {                                        \
                int64_t at = (c * s[OUT_H] + oh) * s[OUT_W] + ow;                              \
                int first = 1;                                                                 \
                for (int64_t i = 0; i < s[KERNEL_H]; i++) {                                    \
                    int64_t y = oh * s[STRIDE_H] - s[PAD_TOP] + i * s[DILATION_H];             \
                    if (y < 0 || y >= s[HEIGHT])                                               \
                        continue;                                                              \
                    for (int64_t j = 0; j < s[KERNEL_W]; j++) {                                \
                        int64_t x = ow * s[STRIDE_W] - s[PAD_LEFT] + j * s[DILATION_W];        \
                        if (x < 0 || x >= s[WIDTH])                                            \
                            continue;                                                          \
                        VISIT(at, (c * s[HEIGHT] + y) * s[WIDTH] + x,                          \
                              (uint8_t)(i * s[KERNEL_W] + j), first);                          \
                        first = 0;                                                             \
                    }                                                                          \
                }                                                                              \
            }

/* A window's first position inside the input starts its maximum, whatever its value (PyTorch
 * starts from -inf and that position's index). Every window holds one: the caller checks. */
VECTOR_CLONES static void forward_channels(const Pool *p, int64_t lo, int64_t hi)
{
    const int64_t *s = p->s;
    int64_t n = s[BATCH];
#define FORWARD(at, from, offset, first)                                                       \
    if (first) {                                                                               \
        memcpy(p->out + (at) * n, p->x + (from) * n, (size_t)n * sizeof(float));              \
        memset(p->won + (at) * n, offset, (size_t)n);                                          \
    } else {                                                                                   \
        keep_max(n, p->x + (from) * n, offset, p->out + (at) * n, p->won + (at) * n);          \
    }
    EACH_OFFSET(s, lo, hi, FORWARD)
#undef FORWARD
}

/* Each output gradient goes to the position that won; `assign` writes it there (and zero to
 * the rest of the window), else it is added to the zeroed gradient. */
VECTOR_CLONES static void backward_channels(const Pool *p, int64_t lo, int64_t hi)
{
    const int64_t *s = p->s;
    int64_t n = s[BATCH], per_channel = s[HEIGHT] * s[WIDTH] * n;
    if (!p->assign)
        memset(p->grad + lo * per_channel, 0, (size_t)((hi - lo) * per_channel) * sizeof(float));
#define BACKWARD(at, to, offset, first)                                                        \
    {                                                                                          \
        const float *g = p->g + (at) * n;                                                      \
        const uint8_t *won = p->won + (at) * n;                                                \
        float *target = p->grad + (to) * n;                                                    \
        (void)(first);                                                                         \
        if (p->assign)                                                                         \
            for (int64_t k = 0; k < n; k++)                                                    \
                target[k] = won[k] == (offset) ? g[k] : 0.0f;                                  \
        else                                                                                   \
            for (int64_t k = 0; k < n; k++)                                                    \
                target[k] += won[k] == (offset) ? g[k] : 0.0f;                                 \
    }
    EACH_OFFSET(s, lo, hi, BACKWARD)
#undef BACKWARD
}

/* Runs `channels` on the part's share of the channels. */
static void *run_part(const Part *part, void (*channels)(const Pool *, int64_t, int64_t))
{
    int64_t lo, hi;
    forge_share(part, ((const Pool *)part->job)->s[CHANNELS], &lo, &hi);
    channels(part->job, lo, hi);
    return NULL;
}

static void *forward_part(void *argument) { return run_part(argument, forward_channels); }

static void *backward_part(void *argument) { return run_part(argument, backward_channels); }

int forge_max_pool_f32(int64_t threads, const int64_t *geometry, const float *x, float *out,
                       uint8_t *won)
{
    Pool p = {.s = geometry, .x = x, .out = out, .won = won};
    return forge_run_parts(&p, forge_threads_for(threads, geometry[CHANNELS]), forward_part);
}

int forge_max_pool_backward_f32(int64_t threads, const int64_t *geometry, const float *g,
                                const uint8_t *won, int assign, float *grad)
{
    Pool p = {.s = geometry, .g = g, .won = (uint8_t *)won, .grad = grad, .assign = assign};
    return forge_run_parts(&p, forge_threads_for(threads, geometry[CHANNELS]), backward_part);
}

/* The convolution's innermost loops (conv.c), for one instruction set.
 *
 * conv.c includes this file once per instruction set, after defining:
 *   TILES       the name of the Tiles table to define (conv_tiles_avx512, ...)
 *   TARGET      the function attribute that compiles for that instruction set, or nothing
 *   VECTOR      the bytes in one vector register (64 for AVX-512, 32 for AVX2)
 *   OUT_ROWS, VECTORS   the forward tile: output channels x vectors of positions
 *   GRAD_ROWS, GRAD_COLUMNS   the weight gradient's tile: output channels x weight columns
 * Each tile keeps its sums in registers: OUT_ROWS * VECTORS and GRAD_ROWS * GRAD_COLUMNS
 * vectors, which with the vectors loaded beside them fill the register file and no more. */

#define LANES (VECTOR / 4)
#define JOIN_(a, b) a##_##b
#define JOIN(a, b) JOIN_(a, b)
#define VEC JOIN(TILES, vec)
#define FORWARD_TILE JOIN(TILES, forward)
#define FORWARD_TILE_1 JOIN(TILES, forward_1)
#define GRAD_TILE JOIN(TILES, grad)

typedef float VEC __attribute__((vector_size(VECTOR), aligned(4)));

/* out[r][m + p] = bias[r] + sum_k weight[k][r] * rows[k][m + p] for r < OUT_ROWS and
 * p < WIDE * LANES, stored for the first `valid` rows (out's rows are `stride` apart); weight is
 * the tile's (count, OUT_ROWS) block of the packed weight. */
#define FORWARD_BODY(WIDE)                                                                     \
    VEC sums[OUT_ROWS][WIDE];                                                                  \
    _Pragma("GCC unroll 16") for (int r = 0; r < OUT_ROWS; r++)                                \
        _Pragma("GCC unroll 4") for (int v = 0; v < WIDE; v++) sums[r][v] = (VEC){0} + bias[r]; \
    for (int64_t k = 0; k < count; k++) {                                                      \
        const float *x = rows[k] + m;                                                          \
        VEC in[WIDE];                                                                          \
        _Pragma("GCC unroll 4") for (int v = 0; v < WIDE; v++)                                 \
            __builtin_memcpy(&in[v], x + v * LANES, sizeof(VEC));                              \
        _Pragma("GCC unroll 16") for (int r = 0; r < OUT_ROWS; r++)                            \
        {                                                                                      \
            VEC w = (VEC){0} + weight[k * OUT_ROWS + r];                                       \
            _Pragma("GCC unroll 4") for (int v = 0; v < WIDE; v++) sums[r][v] += w * in[v];    \
        }                                                                                      \
    }                                                                                          \
    for (int r = 0; r < valid; r++)                                                            \
        for (int v = 0; v < WIDE; v++)                                                         \
            __builtin_memcpy(out + r * stride + v * LANES, &sums[r][v], sizeof(VEC));

TARGET static void FORWARD_TILE(int64_t count, const float *const *rows, int64_t m,
                                const float *weight, const float *bias, float *out,
                                int64_t stride, int64_t valid)
{
    FORWARD_BODY(VECTORS)
}

TARGET static void FORWARD_TILE_1(int64_t count, const float *const *rows, int64_t m,
                                  const float *weight, const float *bias, float *out,
                                  int64_t stride, int64_t valid)
{
    FORWARD_BODY(1)
}

/* sums[r * GRAD_COLUMNS + c] += dot(grad[r][0 : vectors * LANES], x[c][0 : vectors * LANES]). */
TARGET static void GRAD_TILE(int64_t vectors, const float *const *grad, const float *const *x,
                             float *out)
{
    VEC sums[GRAD_ROWS][GRAD_COLUMNS];
    _Pragma("GCC unroll 16") for (int r = 0; r < GRAD_ROWS; r++)
        _Pragma("GCC unroll 16") for (int c = 0; c < GRAD_COLUMNS; c++) sums[r][c] = (VEC){0};
    for (int64_t q = 0; q < vectors * LANES; q += LANES) {
        VEC g[GRAD_ROWS];
        _Pragma("GCC unroll 16") for (int r = 0; r < GRAD_ROWS; r++)
            __builtin_memcpy(&g[r], grad[r] + q, sizeof(VEC));
        _Pragma("GCC unroll 16") for (int c = 0; c < GRAD_COLUMNS; c++)
        {
            VEC in;
            __builtin_memcpy(&in, x[c] + q, sizeof(VEC));
            _Pragma("GCC unroll 16") for (int r = 0; r < GRAD_ROWS; r++) sums[r][c] += g[r] * in;
        }
    }
    for (int r = 0; r < GRAD_ROWS; r++)
        for (int c = 0; c < GRAD_COLUMNS; c++) {
            float total = 0.0f;
            for (int lane = 0; lane < LANES; lane++)
                total += sums[r][c][lane];
            out[r * GRAD_COLUMNS + c] += total;
        }
}

static const Tiles TILES = {
    .forward = FORWARD_TILE,
    .forward_1 = FORWARD_TILE_1,
    .grad = GRAD_TILE,
    .out_rows = OUT_ROWS,
    .lanes = LANES,
    .vectors = VECTORS,
    .grad_rows = GRAD_ROWS,
    .grad_columns = GRAD_COLUMNS,
};

#undef FORWARD_BODY
#undef LANES
#undef VEC
#undef FORWARD_TILE
#undef FORWARD_TILE_1
#undef GRAD_TILE
#undef TILES
#undef TARGET
#undef VECTOR
#undef OUT_ROWS
#undef VECTORS
#undef GRAD_ROWS
#undef GRAD_COLUMNS

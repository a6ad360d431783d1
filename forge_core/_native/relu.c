/* ReLU and its gradient over float32 arrays, as PyTorch computes them: max(x, 0) with NaN
 * kept, and the gradient passed where the output is above 0 (torch's threshold_backward).
 *
 * NumPy's np.maximum, which forge_core's ReLU ran on, took 45 us for 131,072 numbers on the
 * benchmark machine (an AMD EPYC, Zen 5), five times a multiplication's time there; this loop
 * takes a few. The caller passes arrays laid out alike in memory (forge_core/native.py), so
 * that the same offset is the same element in each. */
#include <stdint.h>

#include "clones.h"

VECTOR_CLONES void forge_relu_f32(int64_t n, const float *restrict x, float *restrict out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] <= 0.0f ? 0.0f : x[i];
}

VECTOR_CLONES void forge_relu_backward_f32(int64_t n, const float *restrict out,
                                           const float *restrict g, float *restrict grad)
{
    for (int64_t i = 0; i < n; i++)
        grad[i] = out[i] <= 0.0f ? 0.0f : g[i];
}

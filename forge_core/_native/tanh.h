/* The float32 tanh of the recurrent kernels (lstm.c, gru.c), and how their loops are compiled. */
#ifndef FORGE_TANH_H
#define FORGE_TANH_H

#include <stdint.h>
#include <string.h>

#include "clones.h"

/* tanh of a float to within an ulp of float32, with no branch and no library call, so that
 * the compiler vectorises the loops that call it. Both of two forms are computed, and |x|
 * picks one:
 *   |x| < 0.625: a + a^3 Q(a^2), Q a polynomial fitted to (tanh(a) - a) / a^3 on [0, 0.625]
 *                (relative error within 0.77 ulp, checked by tests/forge_core/test_native.py);
 *   otherwise:   (1 - e) / (1 + e) with e = exp(-2a) <= 0.29, so that 1 - e loses nothing;
 *                exp is 2^n times a degree-7 Taylor polynomial on |r| <= ln(2)/2.
 * From |x| = 10 on, tanh rounds to 1 in float32. The selects vectorise as blends when the
 * library is compiled with -fno-trapping-math (setup.py). */
static inline float tanh_f32(float x)
{
    float a = x < 0 ? -x : x;
    a = a > 10.0f ? 10.0f : a; /* a NaN stays a NaN */
    float s = a * a;
    float q = -0.005705742631107569f;
    q = q * s + 0.020639752969145775f;
    q = q * s - 0.053739916533231735f;
    q = q * s + 0.13331444561481476f;
    q = q * s - 0.3333328068256378f;
    float small = a + a * s * q;

    float y = -2.0f * a; /* in [-20, 0] */
    /* n = y / ln 2 rounded to an integer: adding 1.5 * 2^23 leaves no bits for a fraction */
    float n = (y * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = (y - n * 0.693359375f) + n * 2.12194440e-4f; /* ln 2 in two parts */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^n for integer n in [-29, 0], from its exponent bits */
    int32_t scale_bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    float e = p * scale;
    float large = (1.0f - e) / (1.0f + e);

    float t = a < 0.625f ? small : large;
    return __builtin_copysignf(t, x);
}


#endif

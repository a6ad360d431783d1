/* VECTOR_CLONES: a loop so marked is compiled for AVX-512, AVX2 and plain x86-64, and the loader
 * picks the one the processor runs. */
#ifndef FORGE_CLONES_H
#define FORGE_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

#endif

/* Splitting a kernel's work between threads, for forge_core's compiled kernels.
 *
 * A kernel fills one job description and calls run_parts; each thread's work function gets a
 * Part that says which share of the work is its own. The threads are started for the call
 * and joined before it returns: a kernel runs for milliseconds, starting a thread costs tens
 * of microseconds, and nothing is left running between calls. */
#ifndef FORGE_PARTS_H
#define FORGE_PARTS_H

#include <stdint.h>

typedef struct {
    const void *job; /* the kernel's own description of the work */
    int64_t part;    /* 0, 1, ... parts - 1; part 0 runs on the calling thread */
    int64_t parts;
} Part;

/* Runs work(&part) for each of `threads` parts (at least 1, at most 64). Returns 0, or the
 * error number of a thread that could not start (no part ran then). */
int forge_run_parts(const void *job, int64_t threads, void *(*work)(void *));

/* The threads worth starting for `items` items of work when `threads` may run: at least 1,
 * at most `items` and at most 64 (forge_run_parts's limit). */
static inline int64_t forge_threads_for(int64_t threads, int64_t items)
{
    threads = threads < items ? threads : items;
    return threads < 1 ? 1 : threads > 64 ? 64 : threads;
}

/* The share [*lo, *hi) of `total` items that `part` takes. */
static inline void forge_share(const Part *part, int64_t total, int64_t *lo, int64_t *hi)
{
    *lo = total * part->part / part->parts;
    *hi = total * (part->part + 1) / part->parts;
}

#endif

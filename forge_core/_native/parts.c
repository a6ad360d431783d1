#include "parts.h"

#include <pthread.h>

int forge_run_parts(const void *job, int64_t threads, void *(*work)(void *))
{
    enum { MAX_THREADS = 64 };
    pthread_t workers[MAX_THREADS];
    Part parts[MAX_THREADS];
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    for (int64_t p = 0; p < threads; p++)
        parts[p] = (Part){.job = job, .part = p, .parts = threads};
    int64_t started = 1;
    int error = 0;
    for (; started < threads; started++) {
        error = pthread_create(&workers[started], NULL, work, &parts[started]);
        if (error)
            break;
    }
    if (!error)
        work(&parts[0]);
    for (int64_t p = 1; p < started; p++)
        pthread_join(workers[p], NULL);
    return error;
}

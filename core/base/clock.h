/* clock: wall and monotonic milliseconds; timed waits immune to changes of
 * the wall clock. */
#ifndef HOOKD_CLOCK_H
#define HOOKD_CLOCK_H

#include <pthread.h>
#include <stdint.h>

int64_t hookd_now_ms(void);        /* Unix time, ms */
int64_t hookd_monotonic_ms(void);  /* CLOCK_MONOTONIC, ms */

/* A condition variable whose timed waits use CLOCK_MONOTONIC, so a change of
 * the wall clock neither stretches nor cuts them. */
void hookd_cond_init_monotonic(pthread_cond_t *cond);
/* Waits on such a cond for at most ms; lock is held. */
void hookd_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ms);

/* "2026-11-26T12:00:00.123Z" (UTC) */
void hookd_format_iso8601_ms(int64_t unix_ms, char out[32]);

#endif

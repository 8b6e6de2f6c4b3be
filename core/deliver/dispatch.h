/* dispatch: the worker pool that calls plugins' deliver(), with each
 * instance's concurrency, timeout and retry policy. The loop thread only
 * enqueues; plugin code never runs on it. What each attempt did is handed to
 * a sink (the spool), which makes it durable. */
#ifndef HOOKD_DISPATCH_H
#define HOOKD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "runtime.h"

typedef struct hookd_dispatch hookd_dispatch;

typedef struct hookd_attempt {
    int64_t delivery;       /* the spool's row id */
    int n;                  /* this attempt's number, over every round */
    int64_t started_at;     /* Unix ms */
    int64_t duration_ms;
    int result;             /* HOOKD_OK, HOOKD_RETRY or HOOKD_FAIL */
    const char *reason;     /* "" when the plugin gave none */
    const char *state;      /* afterwards: "delivered", "pending" or "dead" */
    int64_t next_at;        /* Unix ms of the next attempt when pending */
    int released;           /* pending, and not kept in memory: the spool gives it back
                             * when it is due (its instance holds enough retries) */
} hookd_attempt;

/* Retries of one plugin instance held in memory at once; past it they wait
 * in the spool alone, so a dead downstream costs bounded memory. */
#define HOOKD_RETRIES_IN_MEMORY 64

/* Called on a worker thread after every attempt. */
typedef void (*hookd_attempt_fn)(void *ud, const hookd_attempt *a);

/* Fetches an event's enrichment on a worker thread, before its first
 * delivery (only for events marked HOOKD_ENRICH_NEEDED). Returns HOOKD_OK
 * once settled (hookd_ev_set_enrichment called, with the plan or with the
 * failure noted), or HOOKD_RETRY with a reason: the delivery is then retried
 * with its back-off (retry_after_ms >= 0: the delay asked for). */
typedef int (*hookd_enrich_fn)(void *ud, hookd_ev *ev, int64_t deadline_ms,
                               int64_t *retry_after_ms, char *reason, size_t reasonlen);

hookd_dispatch *hookd_dispatch_new(int workers);

/* Set before the first submit, like the sink. */
void hookd_dispatch_set_enricher(hookd_dispatch *d, hookd_enrich_fn fn, void *ud);

/* Where attempts are reported; set before the first submit. */
void hookd_dispatch_set_sink(hookd_dispatch *d, hookd_attempt_fn fn, void *ud);

/* Queues one delivery of ev to `in`, due at Unix ms `due_at`. `attempts` is
 * how many were made before, `round_start` the count at the last replay (the
 * retry budget counts from it). Takes its own reference to ev. Thread-safe.
 * Returns 0 or -ENOMEM. */
int hookd_dispatch_submit(hookd_dispatch *d, hookd_ev *ev, hookd_instance *in,
                          int64_t delivery, int attempts, int round_start, int64_t due_at);

/* Jobs staged by one thread and handed over together: one lock and one
 * wake-up for a whole group (the loop stages every delivery of a commit). */
typedef struct hookd_job hookd_job;
typedef struct hookd_job_list {
    hookd_job *head, *tail;
} hookd_job_list;

/* As hookd_dispatch_submit, into l (no lock taken). */
int hookd_dispatch_stage(hookd_job_list *l, hookd_ev *ev, hookd_instance *in,
                         int64_t delivery, int attempts, int round_start, int64_t due_at);
/* Queues every staged job and empties l. Thread-safe. */
void hookd_dispatch_submit_list(hookd_dispatch *d, hookd_job_list *l);

/* Deliveries queued, waiting for a retry, or running. Lock-free. */
size_t hookd_dispatch_pending(hookd_dispatch *d);
/* The same without those waiting for a retry's back-off: what intake must
 * wait for (a retry waiting is durable in the spool). Lock-free. */
size_t hookd_dispatch_ready(hookd_dispatch *d);

/* paused 1: workers start nothing new (running deliveries end; queued ones
 * and retries wait), e.g. while the spool cannot write their results;
 * 0: they go on. Thread-safe. */
void hookd_dispatch_pause(hookd_dispatch *d, int paused);

/* Stops taking jobs, lets running deliveries end and waits up to wait_ms for
 * them. Queued jobs are dropped: they stay pending in the spool. Returns 0,
 * or -ETIMEDOUT when a plugin is still running (then the pool must not be
 * freed, nor the plugins destroyed). */
int hookd_dispatch_stop(hookd_dispatch *d, int64_t wait_ms);
void hookd_dispatch_free(hookd_dispatch *d);

/* The delay before retry number `round` (1 = the first retry): full jitter,
 * uniform in [0, min(max, base * 2^(round-1))]. `rnd` is 64 random bits. */
int64_t hookd_backoff_ms(int64_t base, int64_t max, int round, uint64_t rnd);

#endif

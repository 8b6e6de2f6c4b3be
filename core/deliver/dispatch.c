/* dispatch: a fixed pool of threads taking deliveries from a ready queue and
 * a time-ordered retry list, honouring each instance's concurrency. A job
 * carries the spool row it belongs to, so every outcome can be recorded. */
#include "dispatch.h"

#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"

/* A plugin may ask for any delay; a day is the most we keep in memory. */
#define MAX_REQUESTED_DELAY_MS (24LL * 3600 * 1000)

/* One per instance name, kept until the pool is freed (names are few): a
 * reload's old and new copies of an instance run side by side for a while,
 * and together they keep to its concurrency and its retries in memory. */
typedef struct slot {
    struct slot *next;
    int running;            /* under the pool's lock */
    atomic_int retrying;    /* jobs in `later`; read without the lock */
    const char *name;       /* in the same allocation */
} slot;

typedef struct hookd_job job;
struct hookd_job {
    job *next;
    hookd_ev *ev;
    hookd_instance *in;
    slot *slot;             /* in's name's; set when the job enters the pool */
    int64_t delivery;
    int attempts, round_start;
    int64_t due;            /* monotonic ms */
};

struct hookd_dispatch {
    pthread_mutex_t lock;
    pthread_cond_t cond;    /* work may be ready */
    pthread_cond_t gone;    /* a worker ended */
    job *head, *tail;       /* ready, FIFO */
    job *later;             /* waiting for a retry, by due time */
    slot *slots;
    slot spare;             /* for every name whose slot could not be allocated: stricter */
    size_t queued, running;
    atomic_size_t jobs;     /* submitted and not yet freed: read without the lock */
    atomic_size_t waiting;  /* of those, in `later` (a retry's back-off): durable in the spool */
    int stopping;
    int paused;             /* hookd_dispatch_pause */
    int nthreads, alive;
    pthread_t *threads;
    hookd_attempt_fn sink;
    void *sink_ud;
    hookd_enrich_fn enrich;
    void *enrich_ud;
    pthread_mutex_t enrich_lock;  /* ev->enrich moves NEEDED -> FETCHING under it */
    pthread_cond_t enrich_done;
};

static const char *result_name(int r)
{
    return r == HOOKD_OK ? "ok" : r == HOOKD_RETRY ? "retry" : "fail";
}

int64_t hookd_backoff_ms(int64_t base, int64_t max, int round, uint64_t rnd)
{
    int64_t cap = base > 0 ? base : 1;
    for (int i = 1; i < round && cap < max; i++)
        cap = cap > INT64_MAX / 2 ? max : cap * 2;
    if (cap > max)
        cap = max;
    return (int64_t)(rnd % ((uint64_t)cap + 1));
}

static uint64_t random64(void)
{
    uint64_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint64_t)hookd_monotonic_ms() * 6364136223846793005ULL;
    return r;
}

/* Settles the event's enrichment before a delivery reads it: one worker
 * fetches, the event's other deliveries wait for it (until their deadline).
 * HOOKD_OK, or HOOKD_RETRY with st filled. */
static int enrich(hookd_dispatch *d, hookd_ev *ev, int64_t deadline, hookd_status *st)
{
    int now = atomic_load(&ev->enrich);
    /* OFF never becomes NEEDED once queued: the lock is only for those that want it. */
    if (now == HOOKD_ENRICH_DONE || now == HOOKD_ENRICH_OFF || !d->enrich)
        return HOOKD_OK;
    pthread_mutex_lock(&d->enrich_lock);
    while (atomic_load(&ev->enrich) == HOOKD_ENRICH_FETCHING) {
        int64_t left = deadline - hookd_monotonic_ms();
        if (left <= 0) {
            pthread_mutex_unlock(&d->enrich_lock);
            snprintf(st->reason, sizeof st->reason, "enrichment: still being fetched");
            return HOOKD_RETRY;
        }
        hookd_cond_wait_ms(&d->enrich_done, &d->enrich_lock, left);
    }
    if (atomic_load(&ev->enrich) != HOOKD_ENRICH_NEEDED) {
        pthread_mutex_unlock(&d->enrich_lock);
        return HOOKD_OK;
    }
    atomic_store(&ev->enrich, HOOKD_ENRICH_FETCHING);
    pthread_mutex_unlock(&d->enrich_lock);

    char why[HOOKD_REASON_MAX - 16] = "";
    int64_t after = -1;
    int r = d->enrich(d->enrich_ud, ev, deadline, &after, why, sizeof why);

    pthread_mutex_lock(&d->enrich_lock);
    if (r != HOOKD_OK) {
        atomic_store(&ev->enrich, HOOKD_ENRICH_NEEDED);
        snprintf(st->reason, sizeof st->reason, "enrichment: %s", why);
        st->retry_after_ms = after;
        r = HOOKD_RETRY;
    } else if (atomic_load(&ev->enrich) != HOOKD_ENRICH_DONE) {
        atomic_store(&ev->enrich, HOOKD_ENRICH_DONE); /* the enricher set nothing */
    }
    pthread_cond_broadcast(&d->enrich_done);
    pthread_mutex_unlock(&d->enrich_lock);
    return r;
}

/* Runs one attempt, then decides what becomes of the delivery. Returns 1 when
 * the job must come back later (j->due is set), 0 when it is finished. */
static int run_job(hookd_dispatch *d, job *j)
{
    hookd_instance *in = j->in;
    const hookd_plugin_cfg *pc = in->cfg;
    int64_t start = hookd_monotonic_ms(), started_at = hookd_now_ms();
    int64_t start_us = hookd_metrics_now_us();
    hookd_status st = {.retry_after_ms = -1};
    int r = enrich(d, j->ev, start + pc->timeout_ms, &st);
    /* Copied after the enrichment settled, so the plugin sees it. */
    hookd_event e = j->ev->pub;
    e.attempt = j->attempts - j->round_start + 1;
    e.deadline_ms = start + pc->timeout_ms;
    if (r == HOOKD_OK)
        r = in->plugin->deliver(in->inst, &e, &st);
    if (r != HOOKD_OK && r != HOOKD_RETRY && r != HOOKD_FAIL) {
        snprintf(st.reason, sizeof st.reason, "plugin returned unknown result %d", r);
        r = HOOKD_FAIL;
    }
    st.reason[sizeof st.reason - 1] = '\0';
    int64_t took = hookd_monotonic_ms() - start;
    hookd_metrics_delivery(pc, pc->name, r, hookd_metrics_now_us() - start_us);
    j->attempts++;

    hookd_attempt a = {.delivery = j->delivery, .n = j->attempts, .started_at = started_at,
                       .duration_ms = took, .result = r, .reason = st.reason};
    int64_t delay = -1;
    if (r == HOOKD_OK) {
        a.state = "delivered";
    } else if (r == HOOKD_RETRY && j->attempts - j->round_start < pc->retry_attempts) {
        delay = st.retry_after_ms >= 0
                    ? (st.retry_after_ms < MAX_REQUESTED_DELAY_MS ? st.retry_after_ms
                                                                  : MAX_REQUESTED_DELAY_MS)
                    : hookd_backoff_ms(pc->retry_backoff_ms, pc->retry_max_backoff_ms,
                                       j->attempts - j->round_start, random64());
        a.state = "pending";
        a.next_at = started_at + took + delay;
        a.released = atomic_load(&j->slot->retrying) >= HOOKD_RETRIES_IN_MEMORY;
    } else {
        a.state = "dead";
        hookd_metrics_dead_letter();
    }
    hookd_logctx ctx = {.event = e.id, .source = e.source, .plugin = pc->name};
    hookd_logx(r == HOOKD_OK ? HOOKD_LOG_INFO : HOOKD_LOG_WARN, &ctx,
               "delivery %s (attempt %d) in %lld ms%s%s%s", result_name(r), j->attempts,
               (long long)took, st.reason[0] ? ": " : "", st.reason,
               strcmp(a.state, "dead") == 0 ? "; dead-lettered"
               : a.released                       ? "; will retry from the spool"
               : delay >= 0                       ? "; will retry"
                                                  : "");
    if (d->sink)
        d->sink(d->sink_ud, &a);
    if (delay < 0 || a.released)
        return 0;
    j->due = hookd_monotonic_ms() + delay;
    return 1;
}

static void push_ready(hookd_dispatch *d, job *j)
{
    j->next = NULL;
    if (d->tail)
        d->tail->next = j;
    else
        d->head = j;
    d->tail = j;
}

static void push_later(hookd_dispatch *d, job *j)
{
    atomic_fetch_add(&d->waiting, 1);
    atomic_fetch_add(&j->slot->retrying, 1);
    job **pp = &d->later;
    while (*pp && (*pp)->due <= j->due)
        pp = &(*pp)->next;
    j->next = *pp;
    *pp = j;
}

/* First ready job whose instance has a free slot; the caller holds the lock. */
static job *take(hookd_dispatch *d)
{
    if (d->paused)
        return NULL;
    int64_t now = hookd_monotonic_ms();
    while (d->later && d->later->due <= now) {
        job *j = d->later;
        d->later = j->next;
        atomic_fetch_sub(&d->waiting, 1);
        atomic_fetch_sub(&j->slot->retrying, 1);
        push_ready(d, j);
    }
    job *prev = NULL;
    for (job *j = d->head; j; prev = j, j = j->next) {
        if (j->slot->running >= j->in->cfg->concurrency)
            continue;
        if (prev)
            prev->next = j->next;
        else
            d->head = j->next;
        if (d->tail == j)
            d->tail = prev;
        d->queued--;
        d->running++;
        j->slot->running++;
        return j;
    }
    return NULL;
}

static void wait_work(hookd_dispatch *d)
{
    if (!d->later || d->paused) { /* paused: a due retry must not spin the worker */
        pthread_cond_wait(&d->cond, &d->lock);
        return;
    }
    int64_t ms = d->later->due - hookd_monotonic_ms();
    if (ms <= 0)
        return;
    hookd_cond_wait_ms(&d->cond, &d->lock, ms);
}

static void free_job(hookd_dispatch *d, job *j)
{
    atomic_fetch_sub(&d->jobs, 1);
    hookd_ev_unref(j->ev);
    /* The last job of a retired runtime lets it be destroyed (on the loop). */
    hookd_runtime_unref(j->in->rt);
    free(j);
}

static void *worker(void *arg)
{
    hookd_dispatch *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        job *j = take(d);
        if (!j) {
            wait_work(d);
            continue;
        }
        pthread_mutex_unlock(&d->lock);
        int again = run_job(d, j);
        pthread_mutex_lock(&d->lock);
        j->slot->running--;
        d->running--;
        if (again) {
            push_later(d, j);
            d->queued++;
        } else {
            free_job(d, j);
        }
        /* A slot freed or a retry was filed: others may have work now. */
        pthread_cond_broadcast(&d->cond);
    }
    d->alive--;
    pthread_cond_broadcast(&d->gone);
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

void hookd_dispatch_pause(hookd_dispatch *d, int paused)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->paused = paused;
    if (!paused)
        pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

hookd_dispatch *hookd_dispatch_new(int workers)
{
    hookd_dispatch *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    atomic_init(&d->jobs, 0);
    atomic_init(&d->waiting, 0);
    atomic_init(&d->spare.retrying, 0);
    d->spare.name = "";
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->enrich_lock, NULL);
    hookd_cond_init_monotonic(&d->enrich_done);
    hookd_cond_init_monotonic(&d->cond);
    pthread_cond_init(&d->gone, NULL);
    d->threads = calloc((size_t)workers, sizeof *d->threads);
    if (!d->threads) {
        free(d);
        return NULL;
    }
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&d->threads[i], NULL, worker, d) != 0)
            break;
        pthread_setname_np(d->threads[i], "hookd-worker"); /* for top -H, perf */
        d->nthreads++;
        d->alive++;
    }
    pthread_mutex_unlock(&d->lock);
    if (d->nthreads == 0) {
        free(d->threads);
        free(d);
        return NULL;
    }
    return d;
}

void hookd_dispatch_set_enricher(hookd_dispatch *d, hookd_enrich_fn fn, void *ud)
{
    pthread_mutex_lock(&d->lock);
    d->enrich = fn;
    d->enrich_ud = ud;
    pthread_mutex_unlock(&d->lock);
}

void hookd_dispatch_set_sink(hookd_dispatch *d, hookd_attempt_fn fn, void *ud)
{
    pthread_mutex_lock(&d->lock);
    d->sink = fn;
    d->sink_ud = ud;
    pthread_mutex_unlock(&d->lock);
}

int hookd_dispatch_stage(hookd_job_list *l, hookd_ev *ev, hookd_instance *in,
                         int64_t delivery, int attempts, int round_start, int64_t due_at)
{
    job *j = malloc(sizeof *j);
    if (!j)
        return -ENOMEM;
    j->next = NULL;
    j->ev = hookd_ev_ref(ev);
    j->in = in;
    hookd_runtime_ref(in->rt);
    j->delivery = delivery;
    j->attempts = attempts;
    j->round_start = round_start;
    int64_t wait = due_at - hookd_now_ms();
    j->due = hookd_monotonic_ms() + (wait > 0 ? wait : 0);
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    return 0;
}

/* The caller holds the lock. */
static slot *slot_of(hookd_dispatch *d, const char *name)
{
    for (slot *s = d->slots; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    size_t len = strlen(name) + 1;
    slot *s = calloc(1, sizeof *s + len);
    if (!s)
        return &d->spare;
    s->name = memcpy(s + 1, name, len);
    atomic_init(&s->retrying, 0);
    s->next = d->slots;
    d->slots = s;
    return s;
}

void hookd_dispatch_submit_list(hookd_dispatch *d, hookd_job_list *l)
{
    if (!l->head)
        return;
    int64_t now = hookd_monotonic_ms();
    int ready = 0, later = 0;
    pthread_mutex_lock(&d->lock);
    for (job *j = l->head, *nx; j; j = nx) {
        nx = j->next;
        j->slot = slot_of(d, j->in->cfg->name);
        if (j->due > now) {
            push_later(d, j);
            later = 1;
        } else {
            push_ready(d, j);
            ready++;
        }
        d->queued++;
        atomic_fetch_add(&d->jobs, 1);
    }
    if (later || ready > 1)
        pthread_cond_broadcast(&d->cond); /* a sleeper may need an earlier wake-up */
    else
        pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    l->head = l->tail = NULL;
}

int hookd_dispatch_submit(hookd_dispatch *d, hookd_ev *ev, hookd_instance *in,
                          int64_t delivery, int attempts, int round_start, int64_t due_at)
{
    hookd_job_list l = {0};
    int rc = hookd_dispatch_stage(&l, ev, in, delivery, attempts, round_start, due_at);
    if (rc == 0)
        hookd_dispatch_submit_list(d, &l);
    return rc;
}

size_t hookd_dispatch_pending(hookd_dispatch *d)
{
    return atomic_load(&d->jobs);
}

size_t hookd_dispatch_ready(hookd_dispatch *d)
{
    size_t all = atomic_load(&d->jobs), waiting = atomic_load(&d->waiting);
    return all > waiting ? all - waiting : 0;
}

static void free_list(hookd_dispatch *d, job *j)
{
    while (j) {
        job *nx = j->next;
        free_job(d, j);
        j = nx;
    }
}

int hookd_dispatch_stop(hookd_dispatch *d, int64_t wait_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000 + 1;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_broadcast(&d->cond);
    int rc = 0;
    while (d->alive > 0 && rc == 0)
        rc = pthread_cond_timedwait(&d->gone, &d->lock, &ts);
    int left = d->alive;
    pthread_mutex_unlock(&d->lock);
    if (left > 0)
        return -ETIMEDOUT;
    for (int i = 0; i < d->nthreads; i++)
        pthread_join(d->threads[i], NULL);
    d->nthreads = 0;
    return 0;
}

void hookd_dispatch_free(hookd_dispatch *d)
{
    if (!d)
        return;
    if (d->nthreads > 0 && hookd_dispatch_stop(d, INT32_MAX) != 0)
        return;
    free_list(d, d->head);
    free_list(d, d->later);
    for (slot *s = d->slots, *nx; s; s = nx) {
        nx = s->next;
        free(s);
    }
    free(d->threads);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->enrich_lock);
    pthread_cond_destroy(&d->enrich_done);
    pthread_cond_destroy(&d->cond);
    pthread_cond_destroy(&d->gone);
    free(d);
}

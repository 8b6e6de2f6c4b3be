/* dispatch: a fixed pool of threads taking deliveries from one bounded queue,
 * honouring each instance's concurrency. */
#include "dispatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct job {
    struct job *next;
    hookd_ev *ev;
    hookd_instance *in;
} job;

struct hookd_dispatch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job *head, *tail;
    size_t queued, max;
    int stopping;
    int nthreads;
    pthread_t *threads;
};

static const char *result_name(int r)
{
    return r == HOOKD_OK ? "ok" : r == HOOKD_RETRY ? "retry" : "fail";
}

static void run_job(job *j)
{
    hookd_instance *in = j->in;
    hookd_event e = j->ev->pub;
    e.attempt = 1;
    int64_t start = hookd_monotonic_ms();
    e.deadline_ms = start + in->cfg->timeout_ms;
    hookd_status st = {.retry_after_ms = -1};
    int r = in->plugin->deliver(in->inst, &e, &st);
    if (r != HOOKD_OK && r != HOOKD_RETRY && r != HOOKD_FAIL) {
        snprintf(st.reason, sizeof st.reason, "plugin returned unknown result %d", r);
        r = HOOKD_FAIL;
    }
    st.reason[sizeof st.reason - 1] = '\0';
    hookd_logctx ctx = {.event = e.id, .source = e.source, .plugin = in->cfg->name};
    hookd_logx(r == HOOKD_OK ? HOOKD_LOG_INFO : HOOKD_LOG_WARN, &ctx,
               "delivery %s in %lld ms%s%s", result_name(r),
               (long long)(hookd_monotonic_ms() - start), st.reason[0] ? ": " : "",
               st.reason);
}

/* First job whose instance has a free slot; the caller holds the lock. */
static job *take(hookd_dispatch *d)
{
    job *prev = NULL;
    for (job *j = d->head; j; prev = j, j = j->next) {
        if (atomic_load(&j->in->inflight) >= j->in->cfg->concurrency)
            continue;
        if (prev)
            prev->next = j->next;
        else
            d->head = j->next;
        if (d->tail == j)
            d->tail = prev;
        d->queued--;
        atomic_fetch_add(&j->in->inflight, 1);
        return j;
    }
    return NULL;
}

static void *worker(void *arg)
{
    hookd_dispatch *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        job *j = take(d);
        if (!j) {
            if (d->stopping && !d->head)
                break;
            pthread_cond_wait(&d->cond, &d->lock);
            continue;
        }
        pthread_mutex_unlock(&d->lock);
        run_job(j);
        pthread_mutex_lock(&d->lock);
        atomic_fetch_sub(&j->in->inflight, 1);
        /* A slot freed: a job skipped for its instance may now run. */
        pthread_cond_broadcast(&d->cond);
        hookd_ev_unref(j->ev);
        free(j);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

hookd_dispatch *hookd_dispatch_new(int workers, size_t queue_max)
{
    hookd_dispatch *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    d->max = queue_max;
    d->threads = calloc((size_t)workers, sizeof *d->threads);
    if (!d->threads) {
        free(d);
        return NULL;
    }
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&d->threads[i], NULL, worker, d) != 0)
            break;
        d->nthreads++;
    }
    if (d->nthreads == 0) {
        free(d->threads);
        free(d);
        return NULL;
    }
    return d;
}

static void free_jobs(job *j)
{
    while (j) {
        job *nx = j->next;
        hookd_ev_unref(j->ev);
        free(j);
        j = nx;
    }
}

int hookd_dispatch_submit(hookd_dispatch *d, hookd_ev *ev, hookd_instance *const *insts,
                          size_t n)
{
    if (n == 0)
        return 0;
    job *first = NULL, *last = NULL;
    for (size_t i = 0; i < n; i++) {
        job *j = malloc(sizeof *j);
        if (!j) {
            free_jobs(first);
            return -ENOMEM;
        }
        j->next = NULL;
        j->ev = hookd_ev_ref(ev);
        j->in = insts[i];
        if (last)
            last->next = j;
        else
            first = j;
        last = j;
    }
    pthread_mutex_lock(&d->lock);
    if (d->queued + n > d->max) {
        pthread_mutex_unlock(&d->lock);
        free_jobs(first);
        return -EAGAIN;
    }
    if (d->tail)
        d->tail->next = first;
    else
        d->head = first;
    d->tail = last;
    d->queued += n;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

size_t hookd_dispatch_pending(hookd_dispatch *d)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->queued;
    pthread_mutex_unlock(&d->lock);
    return n;
}

void hookd_dispatch_free(hookd_dispatch *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    for (int i = 0; i < d->nthreads; i++)
        pthread_join(d->threads[i], NULL);
    free(d->threads);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}

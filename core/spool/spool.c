/* spool: the generic part of the spool, whatever store its driver writes
 * to (spool_driver.h; SQLite in spool_sqlite.c). One writer thread owns the
 * driver's handle. The loop thread queues appends and gets them back
 * through a uv_async once their transaction committed; workers queue
 * attempt records. Both kinds ride in the same group commit. Between
 * commits the writer lets the driver hand pending deliveries nobody holds
 * to the dispatcher and purge old events. */
#include "spool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "spool_driver.h"

#define RETRY_FAILED_MS 200   /* after a failed commit, before records retry */
#define RECORD_DELAY_MS 20    /* the longest a record waits for company */
#define SETTLE_IDLE_MS 5      /* records in flight: read back by then when idle */
#define SPLIT_MIN 32          /* records apart (send_records) from this many on: fewer
                               * cost less than a second transaction (docs/benchmark.md) */

typedef hookd_spool_rec rec;

struct hookd_spool {
    const hookd_spool_driver *drv;
    void *db;                 /* the driver's handle: writer thread only, after open */
    hookd_runtime *rt;        /* under lock (a reload swaps it); holds a reference */
    hookd_dispatch *dispatch;

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    hookd_append *in_head, *in_tail;  /* appends to commit */
    rec *recs, *recs_tail;            /* attempts to record, in order */
    hookd_append *done_head, *done_tail; /* committed or failed, for the loop */
    int stopping, detached;
    int64_t recs_since;               /* monotonic ms of the oldest record waiting */
    atomic_size_t waiting;
    atomic_int failing_pub;           /* `failing`, for other threads */

    uv_async_t async;
    uv_check_t check;         /* hands staged appends to the writer */
    uv_prepare_t prepare;     /* the same, for appends made outside I/O callbacks */
    hookd_append *st_head, *st_tail;  /* loop only: appended this iteration */
    /* writer only */
    int failing;              /* one of the three below: logged once */
    int commit_failed;        /* the last commit failed */
    int unreachable;          /* the store does not answer (until a commit or housekeep works) */
    int lost;                 /* the driver lost its store: failing until a restart */
    int64_t retry_recs_at;    /* monotonic ms; records wait after a failure */
    uint64_t commits, appended;   /* for the log line at close */
};

/* The drivers built in, by the name spool.driver gives. */
static const hookd_spool_driver *const drivers[] = {&hookd_spool_sqlite, &hookd_spool_postgres};

/* ---------- the failing state ---------- */

/* The spool fails (ingest answers 503, /readyz 503, the dispatcher starts
 * nothing: a result it could not write would only repeat the delivery)
 * while the last commit failed, while the store is unreachable, or for
 * good once it is lost. An unreachable store comes back on its own: the
 * driver's housekeep says so, so a node that a load balancer took out of
 * rotation (no traffic, no commit) becomes ready again. */
static void publish(hookd_spool *sp)
{
    int failing = sp->lost || sp->commit_failed || sp->unreachable;
    if (failing == sp->failing)
        return;
    sp->failing = failing;
    atomic_store_explicit(&sp->failing_pub, failing, memory_order_relaxed);
    hookd_dispatch_pause(sp->dispatch, failing);
    if (!failing)
        hookd_log(HOOKD_LOG_INFO, "spool %s: writing again; deliveries resume",
                  sp->drv->describe(sp->db));
}

static void note_failure(hookd_spool *sp, const char *why, int status)
{
    if (status == HOOKD_SPOOL_LOST) {
        sp->lost = 1; /* the driver said why */
    } else if (status == HOOKD_SPOOL_UNREACHABLE) {
        if (!sp->unreachable && !sp->failing)
            hookd_log(HOOKD_LOG_ERROR, "spool %s: unreachable: %s (%s); answering 503 and "
                      "pausing deliveries until it answers", sp->drv->describe(sp->db),
                      why ? why : "no answer", sp->drv->detail(sp->db));
        sp->unreachable = 1;
    } else {
        if (!sp->failing)
            hookd_log(HOOKD_LOG_ERROR, "spool %s: commit failed: %s (%s); answering 503 until "
                      "it recovers", sp->drv->describe(sp->db), why, sp->drv->detail(sp->db));
        sp->commit_failed = 1;
    }
    publish(sp);
}

static void note_success(hookd_spool *sp)
{
    sp->commit_failed = sp->unreachable = 0;
    publish(sp);
}

/* ---------- the group commit ---------- */

/* Commits appends and records in one transaction. Returns 0, or -1 when
 * nothing of the batch is stored (each append then answers why). */
static int commit(hookd_spool *sp, hookd_append *apps, rec *recs)
{
    const char *why = NULL;
    int status = sp->drv->commit(sp->db, apps, recs, hookd_now_ms(), &why);
    if (status == HOOKD_SPOOL_OK) {
        note_success(sp);
        sp->commits++;
        for (hookd_append *a = apps; a; a = a->next)
            sp->appended++;
        return 0;
    }
    note_failure(sp, why, status);
    for (hookd_append *a = apps; a; a = a->next) {
        a->result = -EIO;
        a->why = why;
    }
    return -1;
}

/* ---------- the writer thread ---------- */

/* Hands committed (or failed) appends back to the loop; under sp->lock. */
static void give_back(hookd_spool *sp, hookd_append *apps)
{
    hookd_append *last = apps;
    while (last->next)
        last = last->next;
    if (sp->done_tail)
        sp->done_tail->next = apps;
    else
        sp->done_head = apps;
    sp->done_tail = last;
    if (!sp->detached)
        uv_async_send(&sp->async);
}

/* Whether the list holds at least n records. */
static int many(const rec *r, int n)
{
    for (; r && n > 0; r = r->next)
        n--;
    return n == 0;
}

static void free_recs(rec *r)
{
    while (r) {
        rec *nx = r->next;
        free(r->json);
        free(r);
        r = nx;
    }
}

/* Puts records back at the head of the queue for a later commit (losing
 * one would only repeat a delivery); under sp->lock. */
static void keep_recs(hookd_spool *sp, rec *recs)
{
    rec *last = recs;
    while (last->next)
        last = last->next;
    last->next = sp->recs;
    if (!sp->recs)
        sp->recs_tail = last;
    sp->recs = recs;
    sp->retry_recs_at = hookd_monotonic_ms() + RETRY_FAILED_MS;
    if (!sp->recs_since)
        sp->recs_since = hookd_monotonic_ms();
}

/* Reads the answer to the records that send_records left in flight:
 * frees them once stored, queues them again if not. */
static void settle(hookd_spool *sp, rec **fly)
{
    if (!*fly)
        return;
    rec *r = *fly;
    *fly = NULL;
    const char *why = NULL;
    int status = sp->drv->settle(sp->db, r, &why);
    if (status == HOOKD_SPOOL_OK) {
        note_success(sp);
        sp->commits++;
        free_recs(r);
        return;
    }
    note_failure(sp, why, status);
    pthread_mutex_lock(&sp->lock);
    keep_recs(sp, r);
    pthread_mutex_unlock(&sp->lock);
}

static void *writer(void *arg)
{
    hookd_spool *sp = arg;
    int64_t next_housekeep = 0;
    rec *fly = NULL;            /* records sent, their answer not yet read */
    int64_t fly_due = 0;        /* monotonic ms: read it back by then if idle */
    int yielded = 0;
    pthread_mutex_lock(&sp->lock);
    for (;;) {
        int64_t now = hookd_monotonic_ms();
        int64_t recs_due = sp->recs ? sp->recs_since + RECORD_DELAY_MS : INT64_MAX;
        if (recs_due < sp->retry_recs_at)
            recs_due = sp->retry_recs_at;
        int recs_ready = sp->recs && now >= sp->retry_recs_at;
        if (!sp->in_head && now < recs_due && now < next_housekeep && (!fly || now < fly_due) &&
            !sp->stopping) {
            int64_t until = next_housekeep < recs_due ? next_housekeep : recs_due;
            if (fly && fly_due < until)
                until = fly_due;
            hookd_cond_wait_ms(&sp->cond, &sp->lock, until - now);
            continue;
        }
        if (fly && !sp->in_head && now >= fly_due) {
            /* Idle: read the records' answer now rather than at the next commit. */
            pthread_mutex_unlock(&sp->lock);
            settle(sp, &fly);
            pthread_mutex_lock(&sp->lock);
            continue;
        }
        if (sp->in_head && !sp->stopping && !yielded) {
            /* Let the loop thread add what it has already read to this
             * commit: on a busy core that doubles the events per commit. */
            yielded = 1;
            pthread_mutex_unlock(&sp->lock);
            sched_yield();
            pthread_mutex_lock(&sp->lock);
            continue;
        }
        yielded = 0;
        hookd_append *apps = sp->in_head;
        rec *recs = recs_ready || sp->stopping ? sp->recs : NULL;
        sp->in_head = sp->in_tail = NULL;
        if (recs) {
            sp->recs = sp->recs_tail = NULL;
            sp->recs_since = 0;
        }
        int stopping = sp->stopping;
        pthread_mutex_unlock(&sp->lock);

        int failed = 0;
        settle(sp, &fly);
        if (apps && recs && sp->drv->send_records && many(recs, SPLIT_MIN)) {
            /* The answers wait for the appends' commit only; the records'
             * transaction goes next and is read back later, while the loop
             * reads the next requests. */
            failed = commit(sp, apps, NULL) != 0;
            pthread_mutex_lock(&sp->lock);
            give_back(sp, apps);
            pthread_mutex_unlock(&sp->lock);
            apps = NULL;
            if (!failed) {
                const char *why = NULL;
                int status = sp->drv->send_records(sp->db, recs, hookd_now_ms(), &why);
                if (status == HOOKD_SPOOL_OK) {
                    fly = recs;
                    recs = NULL;
                    fly_due = hookd_monotonic_ms() + SETTLE_IDLE_MS;
                } else {
                    note_failure(sp, why, status);
                    failed = 1;
                }
            }
        } else if (apps || recs) {
            failed = commit(sp, apps, recs) != 0;
        }
        if (!failed) {
            free_recs(recs);
            recs = NULL;
        }
        if (!stopping && hookd_monotonic_ms() >= next_housekeep) {
            /* The configuration of this moment: a reload may swap it. */
            pthread_mutex_lock(&sp->lock);
            hookd_runtime *rt = hookd_runtime_ref(sp->rt);
            pthread_mutex_unlock(&sp->lock);
            settle(sp, &fly);
            int hk = sp->lost ? HOOKD_SPOOL_OK : sp->drv->housekeep(sp->db, rt, sp->dispatch);
            if (hk == HOOKD_SPOOL_LOST || hk == HOOKD_SPOOL_UNREACHABLE) {
                note_failure(sp, "no answer to the housekeeping pass", hk);
            } else if (sp->unreachable) {
                sp->unreachable = 0; /* it answers again: a commit will tell the rest */
                publish(sp);
            }
            hookd_runtime_unref(rt);
            next_housekeep = hookd_monotonic_ms() + HOOKD_SPOOL_HOUSEKEEP_MS;
        }

        pthread_mutex_lock(&sp->lock);
        if (apps)
            give_back(sp, apps);
        if (failed && recs)
            keep_recs(sp, recs);
        if (stopping && !sp->in_head && (!sp->recs || failed) && !fly)
            break;
    }
    pthread_mutex_unlock(&sp->lock);
    /* On this thread, like every call to the driver but open. */
    sp->drv->close(sp->db);
    sp->db = NULL;
    return NULL;
}

/* ---------- the loop side ---------- */

hookd_append *hookd_append_new(hookd_ev *ev, hookd_instance *const *to, size_t nto)
{
    hookd_append *a =
        calloc(1, sizeof *a + nto * (sizeof *a->delivery + sizeof *a->to));
    if (!a)
        return NULL;
    /* int64_t first: the block after the struct is aligned for it. */
    a->delivery = (int64_t *)(a + 1);
    a->to = (hookd_instance **)(a->delivery + nto);
    memcpy(a->to, to, nto * sizeof *to);
    a->nto = nto;
    a->ev = ev;
    return a;
}

void hookd_append_free(hookd_append *a)
{
    if (!a)
        return;
    hookd_ev_unref(a->ev);
    hookd_runtime_unref(a->rt);
    free(a);
}

static void on_async(uv_async_t *h)
{
    hookd_spool *sp = h->data;
    pthread_mutex_lock(&sp->lock);
    hookd_append *a = sp->done_head;
    sp->done_head = sp->done_tail = NULL;
    pthread_mutex_unlock(&sp->lock);
    /* The whole commit's deliveries reach the workers at once. */
    hookd_job_list jobs = {0};
    while (a) {
        hookd_append *nx = a->next;
        a->next = NULL;
        atomic_fetch_sub(&sp->waiting, 1);
        a->jobs = &jobs;
        a->done(a);
        hookd_append_free(a);
        a = nx;
    }
    hookd_dispatch_submit_list(sp->dispatch, &jobs);
}

/* One lock and one wake-up per loop iteration rather than per request. */
static void hand_over(hookd_spool *sp)
{
    if (!sp->st_head)
        return;
    pthread_mutex_lock(&sp->lock);
    if (sp->in_tail)
        sp->in_tail->next = sp->st_head;
    else
        sp->in_head = sp->st_head;
    sp->in_tail = sp->st_tail;
    pthread_cond_signal(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
    sp->st_head = sp->st_tail = NULL;
}

static void on_check(uv_check_t *h) { hand_over(h->data); }
static void on_prepare(uv_prepare_t *h) { hand_over(h->data); }

void hookd_spool_append(hookd_spool *sp, hookd_append *a)
{
    a->next = NULL;
    atomic_fetch_add(&sp->waiting, 1);
    if (sp->st_tail)
        sp->st_tail->next = a;
    else
        sp->st_head = a;
    sp->st_tail = a;
}

size_t hookd_spool_waiting(hookd_spool *sp) { return atomic_load(&sp->waiting); }

int hookd_spool_failing(hookd_spool *sp)
{
    return atomic_load_explicit(&sp->failing_pub, memory_order_relaxed);
}

static void queue_rec(hookd_spool *sp, rec *r)
{
    pthread_mutex_lock(&sp->lock);
    r->next = NULL;
    if (sp->recs_tail)
        sp->recs_tail->next = r;
    else
        sp->recs = r;
    sp->recs_tail = r;
    /* One wake-up per group: the first record sets the writer's deadline
     * (RECORD_DELAY_MS); the others ride along, or with the next appends. */
    if (!sp->recs_since) {
        sp->recs_since = hookd_monotonic_ms();
        pthread_cond_signal(&sp->cond);
    }
    pthread_mutex_unlock(&sp->lock);
}

void hookd_spool_record(void *ud, const hookd_attempt *a)
{
    hookd_spool *sp = ud;
    rec *r = malloc(sizeof *r);
    if (!r)
        return; /* the delivery stays pending: it runs again after a restart */
    r->a = *a;
    snprintf(r->reason, sizeof r->reason, "%s", a->reason ? a->reason : "");
    r->a.reason = NULL;
    r->json = NULL;
    queue_rec(sp, r);
}

void hookd_spool_enriched(hookd_spool *sp, const hookd_ev *ev)
{
    rec *r = calloc(1, sizeof *r);
    if (!r || !ev->enrichment ||
        !(r->json = json_dumps(ev->enrichment, JSON_COMPACT | JSON_ENSURE_ASCII))) {
        free(r); /* not kept: fetched again after a restart */
        return;
    }
    snprintf(r->id, sizeof r->id, "%s", ev->id);
    queue_rec(sp, r);
}

/* ---------- open and close ---------- */

/* The driver spool.driver names (NULL: the default, sqlite). */
static const hookd_spool_driver *pick(const char *name, char *err, size_t errlen)
{
    if (!name)
        name = "sqlite";
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    snprintf(err, errlen, "spool.driver: %s is not built into this hookd", name);
    return NULL;
}

hookd_spool *hookd_spool_open(uv_loop_t *loop, hookd_runtime *rt, hookd_dispatch *d,
                              char *err, size_t errlen)
{
    const hookd_spool_driver *drv = pick(rt->cfg->spool_driver, err, errlen);
    if (!drv)
        return NULL;
    hookd_spool *sp = calloc(1, sizeof *sp);
    if (!sp) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    hookd_spool_open_args args = {.cfg = rt->cfg};
    sp->drv = drv;
    if (!(sp->db = drv->open(&args, err, errlen))) {
        free(sp);
        return NULL;
    }
    sp->rt = hookd_runtime_ref(rt);
    sp->dispatch = d;
    atomic_init(&sp->waiting, 0);
    atomic_init(&sp->failing_pub, 0);
    pthread_mutex_init(&sp->lock, NULL);
    hookd_cond_init_monotonic(&sp->cond);
    uv_async_init(loop, &sp->async, on_async);
    sp->async.data = sp;
    uv_check_init(loop, &sp->check);
    uv_prepare_init(loop, &sp->prepare);
    sp->check.data = sp->prepare.data = sp;
    uv_check_start(&sp->check, on_check);
    uv_prepare_start(&sp->prepare, on_prepare);
    uv_unref((uv_handle_t *)&sp->check);
    uv_unref((uv_handle_t *)&sp->prepare);
    hookd_dispatch_set_sink(d, hookd_spool_record, sp);
    if (pthread_create(&sp->thread, NULL, writer, sp) == 0) {
        pthread_setname_np(sp->thread, "hookd-spool");
    } else {
        snprintf(err, errlen, "cannot start the spool writer thread");
        uv_close((uv_handle_t *)&sp->async, NULL);
        uv_close((uv_handle_t *)&sp->check, NULL);
        uv_close((uv_handle_t *)&sp->prepare, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        drv->close(sp->db); /* no writer: this thread is the only one */
        pthread_mutex_destroy(&sp->lock);
        pthread_cond_destroy(&sp->cond);
        hookd_runtime_unref(rt);
        free(sp);
        return NULL;
    }
    return sp;
}

void hookd_spool_set_runtime(hookd_spool *sp, hookd_runtime *rt)
{
    hookd_runtime_ref(rt);
    pthread_mutex_lock(&sp->lock);
    hookd_runtime *old = sp->rt;
    sp->rt = rt;
    pthread_mutex_unlock(&sp->lock);
    hookd_runtime_unref(old);
}

void hookd_spool_detach(hookd_spool *sp)
{
    hand_over(sp);
    uv_close((uv_handle_t *)&sp->check, NULL);
    uv_close((uv_handle_t *)&sp->prepare, NULL);
    pthread_mutex_lock(&sp->lock);
    sp->detached = 1;
    pthread_mutex_unlock(&sp->lock);
    uv_close((uv_handle_t *)&sp->async, NULL);
}

void hookd_spool_close(hookd_spool *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&sp->lock);
    sp->stopping = 1;
    pthread_cond_signal(&sp->cond);
    pthread_mutex_unlock(&sp->lock);
    pthread_join(sp->thread, NULL);
    /* Appends that never reached the loop (none after a clean stop). */
    for (hookd_append *a = sp->done_head, *nx; a; a = nx) {
        nx = a->next;
        hookd_append_free(a);
    }
    for (rec *r = sp->recs, *nx; r; r = nx) {
        nx = r->next;
        free(r->json);
        free(r);
    }
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->cond);
    uint64_t appended = sp->appended, commits = sp->commits;
    hookd_runtime_unref(sp->rt);
    free(sp);
    hookd_log(HOOKD_LOG_INFO, "spool closed: %llu events in %llu commits",
              (unsigned long long)appended, (unsigned long long)commits);
}

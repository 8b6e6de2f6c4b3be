/* metrics: fixed arrays of relaxed atomics, and their exposition. */
#include "metrics.h"

#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hookd/plugin.h>

#include "common/buf.h"


#define RLX memory_order_relaxed

/* Upper bounds of the histogram buckets, in microseconds; +Inf follows. */
static const int64_t bucket_us[] = {500,    1000,   2500,    5000,    10000,   25000,   50000,
                                    100000, 250000, 500000,  1000000, 2500000, 5000000, 10000000};
#define NBUCKETS (sizeof bucket_us / sizeof bucket_us[0])

static const int statuses[] = {200, 400, 401, 404, 405, 408, 413, 431, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0]) /* then "other" */

static const char *const reasons[HOOKD_MR_COUNT] = {
    "basic_auth", "missing", "malformed", "mismatch", "expired", "no_key_set", "other"};

/* The Constant Contact types; anything else counts as "other". */
static const char *const types[] = {"tier.increase", "tier.decrease", "account.cancel",
                                    "account.disable"};
#define NTYPES (sizeof types / sizeof types[0]) /* then "other" */

static const char *const results[] = {"ok", "retry", "fail"};

typedef struct histo {
    atomic_uint_fast64_t b[NBUCKETS + 1]; /* not cumulative; [NBUCKETS] is +Inf */
    atomic_uint_fast64_t sum_us;
} histo;

/* Per source; index nsources is "no source". */
typedef struct src_m {
    atomic_uint_fast64_t requests[NSTATUS + 1];
    atomic_uint_fast64_t verify[HOOKD_MR_COUNT];
    atomic_uint_fast64_t accepted[NTYPES + 1];
    atomic_uint_fast64_t jwks_reads[2]; /* ok, error (ctct-jws sources) */
    atomic_uint_fast64_t jwks_keys;     /* keys in the current set */
    int has_jwks;                       /* a ctct-jws source: show its series */
    histo duration;
} src_m;

typedef struct plug_m {
    atomic_uint_fast64_t deliveries[3];
    histo duration;
} plug_m;

/* The per-source and per-instance arrays of one configuration. Names are
 * copies: a reloaded configuration is freed while these live on. */
typedef struct metrics {
    struct metrics *retired;  /* the next older retired set (loop thread) */
    unsigned seen;            /* retired: bit i = readers[i] read 0 since */
    size_t nsrc, nplug;
    char **src_name;          /* nsrc */
    char **plug_name;         /* nplug */
    uintptr_t plug_base;      /* hookd_metrics_names.instance_base, as an integer */
    size_t plug_stride;
    src_m *src;   /* nsrc + 1 */
    plug_m *plug; /* nplug */
} metrics;

/* A reload retires a set while other threads may still count into it; the
 * hot path takes no lock, so it is freed once nothing can refer to it:
 *
 * Every use of a set is a section: enter() adds 1 to readers[epoch & 1]
 * before it loads M, leave() takes it away after the last access (seq_cst,
 * the decrement release). In the single total order of seq_cst operations,
 * a section that loaded a set retired by the exchange X added its 1 before
 * X (its load came before X, else it would have read X's value or later).
 * collect() runs after X on the loop thread and reads each counter; a 0
 * there means every 1 added before it was taken away again, and the release
 * decrement makes that section's accesses happen before the read. So once
 * both counters have been read 0 since X, no section holds the set: it is
 * freed. The epoch only keeps that reachable under load: collect() flips
 * it, new sections then add to the other counter, and the one read at the
 * next collect() drains (a section takes nanoseconds; one preempted inside
 * holds its counter until it runs again). collect() runs at each reload and
 * each scrape, so a retired set is freed by the next one. Counts that land in
 * a retired set after its counts moved to the new one move when it is
 * freed, so a reload loses none. */
static _Atomic(metrics *) M;
/* Apart: every section writes readers[], and reads epoch (rarely written). */
static _Alignas(64) atomic_uint readers[2];
static _Alignas(64) atomic_uint epoch;
static metrics *retired;        /* loop thread: newest first */
static atomic_size_t live_sets; /* allocated sets: current and retired (tests) */
/* Not per configuration: they survive reloads. */
static atomic_uint_fast64_t events_accepted; /* all sources, since start (the console) */
static atomic_uint_fast64_t dead_letters, lease_lost, leases_expired, tls_failures, reloads_ok,
    reloads_failed;
#define NO_EXPIRY INT_FAST64_MIN
static atomic_int_fast64_t tls_expiry = NO_EXPIRY; /* no TLS (yet) */

static metrics *enter(unsigned *slot)
{
    *slot = atomic_load_explicit(&epoch, RLX) & 1u;
    atomic_fetch_add_explicit(&readers[*slot], 1, memory_order_seq_cst);
    return atomic_load_explicit(&M, memory_order_seq_cst);
}

static void leave(unsigned slot)
{
    atomic_fetch_sub_explicit(&readers[slot], 1, memory_order_release);
}

/* Whether metrics are on, for counters outside the sets: no set is read. */
static int on(void) { return atomic_load_explicit(&M, memory_order_relaxed) != NULL; }

static void free_one(metrics *m)
{
    for (size_t i = 0; m->src_name && i < m->nsrc; i++)
        free(m->src_name[i]);
    for (size_t i = 0; m->plug_name && i < m->nplug; i++)
        free(m->plug_name[i]);
    free(m->src_name);
    free(m->plug_name);
    free(m->src);
    free(m->plug);
    free(m);
    atomic_fetch_sub_explicit(&live_sets, 1, RLX);
}

static metrics *make(const hookd_metrics_names *n)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    atomic_fetch_add_explicit(&live_sets, 1, RLX);
    m->nsrc = n->nsources;
    m->nplug = n->ninstances;
    m->plug_base = (uintptr_t)n->instance_base;
    m->plug_stride = n->instance_stride;
    /* calloc'd zero bytes are valid initial values of lock-free atomics. */
    m->src = calloc(m->nsrc + 1, sizeof *m->src);
    m->plug = calloc(m->nplug ? m->nplug : 1, sizeof *m->plug);
    m->src_name = calloc(m->nsrc ? m->nsrc : 1, sizeof *m->src_name);
    m->plug_name = calloc(m->nplug ? m->nplug : 1, sizeof *m->plug_name);
    int bad = !m->src || !m->plug || !m->src_name || !m->plug_name;
    for (size_t i = 0; !bad && i < m->nsrc; i++) {
        bad = !(m->src_name[i] = strdup(n->sources[i]));
        m->src[i].has_jwks = n->jwks && n->jwks[i];
    }
    for (size_t i = 0; !bad && i < m->nplug; i++)
        bad = !(m->plug_name[i] = strdup(n->instances[i]));
    if (bad) {
        free_one(m);
        return NULL;
    }
    return m;
}

int hookd_metrics_init(const hookd_metrics_names *n)
{
    hookd_metrics_free();
    metrics *m = make(n);
    if (!m)
        return -1;
    atomic_store_explicit(&dead_letters, 0, RLX);
    atomic_store_explicit(&lease_lost, 0, RLX);
    atomic_store_explicit(&leases_expired, 0, RLX);
    atomic_store_explicit(&tls_failures, 0, RLX);
    atomic_store_explicit(&reloads_ok, 0, RLX);
    atomic_store_explicit(&reloads_failed, 0, RLX);
    atomic_store_explicit(&tls_expiry, NO_EXPIRY, RLX);
    atomic_store_explicit(&M, m, memory_order_seq_cst);
    return 0;
}

/* jwks_keys of a set whose gauge moved: a later store replaces it. */
#define KEYS_MOVED UINT_FAST64_MAX

static void move_one(atomic_uint_fast64_t *to, atomic_uint_fast64_t *from)
{
    uint_fast64_t v = atomic_exchange_explicit(from, 0, RLX);
    if (v)
        atomic_fetch_add_explicit(to, v, RLX);
}

static void move_histo(histo *to, histo *from)
{
    for (size_t k = 0; k <= NBUCKETS; k++)
        move_one(&to->b[k], &from->b[k]);
    move_one(&to->sum_us, &from->sum_us);
}

#define MOVE_ARR(to, from)                                                                   \
    for (size_t k_ = 0; k_ < sizeof(to) / sizeof((to)[0]); k_++)                            \
    move_one(&(to)[k_], &(from)[k_])

/* Moves the counts of `from` into `to` by name ("no source" to "no source";
 * a name `to` lacks is dropped): at a reload while others still count into
 * `from` (an exchange takes each count whole), and again when `from` is
 * freed, for what came in since. */
static void move_counts(metrics *to, metrics *from)
{
    for (size_t i = 0; i <= to->nsrc; i++) {
        size_t o = from->nsrc;
        if (i < to->nsrc)
            for (o = 0; o < from->nsrc && strcmp(from->src_name[o], to->src_name[i]) != 0; o++)
                ;
        if (i < to->nsrc && o == from->nsrc)
            continue; /* a new source */
        src_m *a = &to->src[i], *b = &from->src[o];
        MOVE_ARR(a->requests, b->requests);
        MOVE_ARR(a->verify, b->verify);
        MOVE_ARR(a->accepted, b->accepted);
        MOVE_ARR(a->jwks_reads, b->jwks_reads);
        uint_fast64_t keys = atomic_exchange_explicit(&b->jwks_keys, KEYS_MOVED, RLX);
        if (keys != KEYS_MOVED)
            atomic_store_explicit(&a->jwks_keys, keys, RLX);
        move_histo(&a->duration, &b->duration);
    }
    for (size_t i = 0; i < to->nplug; i++)
        for (size_t o = 0; o < from->nplug; o++)
            if (strcmp(from->plug_name[o], to->plug_name[i]) == 0) {
                MOVE_ARR(to->plug[i].deliveries, from->plug[o].deliveries);
                move_histo(&to->plug[i].duration, &from->plug[o].duration);
                break;
            }
}

/* Loop thread: frees the retired sets no section can hold any more (see
 * the comment at M). */
static void collect(void)
{
    unsigned e = atomic_load_explicit(&epoch, RLX);
    for (unsigned i = 0; i < 2; i++)
        if (atomic_load_explicit(&readers[i], memory_order_seq_cst) == 0)
            for (metrics *r = retired; r; r = r->retired)
                r->seen |= 1u << i;
    atomic_store_explicit(&epoch, e + 1, RLX); /* only this thread writes it */
    metrics *now = atomic_load_explicit(&M, RLX), **pp = &retired;
    while (*pp) {
        metrics *r = *pp;
        if (r->seen != 3) {
            pp = &r->retired;
            continue;
        }
        *pp = r->retired;
        if (now)
            move_counts(now, r);
        free_one(r);
    }
}

int hookd_metrics_reload(const hookd_metrics_names *n)
{
    metrics *old = atomic_load_explicit(&M, RLX); /* only this thread stores M */
    if (!old)
        return 0;
    metrics *m = make(n);
    if (!m)
        return -1;
    /* Counts carry over by name, so a reload does not reset them. */
    move_counts(m, old);
    atomic_exchange_explicit(&M, m, memory_order_seq_cst);
    old->retired = retired;
    retired = old;
    collect();
    return 0;
}

void hookd_metrics_reloaded(int ok)
{
    atomic_fetch_add_explicit(ok ? &reloads_ok : &reloads_failed, 1, RLX);
}

void hookd_metrics_free(void)
{
    metrics *m = atomic_exchange_explicit(&M, NULL, memory_order_seq_cst);
    /* Threads still counting (a key set thread) are in their section for
     * nanoseconds: wait until each counter has been read 0 once. */
    for (unsigned i = 0; i < 2; i++) {
        atomic_fetch_add_explicit(&epoch, 1, RLX);
        while (atomic_load_explicit(&readers[i], memory_order_seq_cst) != 0)
            sched_yield();
    }
    if (m) {
        m->retired = retired;
        retired = m;
    }
    while (retired) {
        metrics *r = retired->retired;
        free_one(retired);
        retired = r;
    }
}

size_t hookd_metrics_live_sets(void) { return atomic_load_explicit(&live_sets, RLX); }

int64_t hookd_metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void observe(histo *h, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t i = 0;
    while (i < NBUCKETS && us > bucket_us[i])
        i++;
    atomic_fetch_add_explicit(&h->b[i], 1, RLX);
    atomic_fetch_add_explicit(&h->sum_us, (uint_fast64_t)us, RLX);
}

/* Within a section. */
static src_m *source(metrics *m, int src)
{
    if (!m)
        return NULL;
    return &m->src[src >= 0 && (size_t)src < m->nsrc ? (size_t)src : m->nsrc];
}

void hookd_metrics_request(int src, int status, int64_t duration_us)
{
    unsigned e;
    src_m *s = source(enter(&e), src);
    if (s) {
        size_t i = 0;
        while (i < NSTATUS && statuses[i] != status)
            i++;
        atomic_fetch_add_explicit(&s->requests[i], 1, RLX);
        if (duration_us >= 0)
            observe(&s->duration, duration_us);
    }
    leave(e);
}

void hookd_metrics_verify_failure(int src, int reason)
{
    unsigned e;
    src_m *s = source(enter(&e), src);
    if (reason < 0 || reason >= HOOKD_MR_COUNT)
        reason = HOOKD_MR_OTHER;
    if (s)
        atomic_fetch_add_explicit(&s->verify[reason], 1, RLX);
    leave(e);
}

void hookd_metrics_event_accepted(int src, const char *type)
{
    unsigned e;
    src_m *s = source(enter(&e), src);
    if (s) {
        size_t i = 0;
        while (i < NTYPES && (!type || strcmp(types[i], type) != 0))
            i++;
        atomic_fetch_add_explicit(&s->accepted[i], 1, RLX);
    }
    leave(e);
    atomic_fetch_add_explicit(&events_accepted, 1, RLX);
}

uint64_t hookd_metrics_events_accepted(void)
{
    return atomic_load_explicit(&events_accepted, RLX);
}

static void delivery(metrics *m, const void *instance, const char *name, int result,
                     int64_t duration_us)
{
    if (!m || !instance || m->nplug == 0)
        return;
    /* Compared as integers: the pointer may belong to another configuration
     * (a delivery of an instance a reload replaced): then by name. */
    uintptr_t base = m->plug_base, p = (uintptr_t)instance, st = m->plug_stride;
    size_t i = m->nplug;
    if (st && p >= base && (p - base) % st == 0 && (p - base) / st < m->nplug)
        i = (p - base) / st;
    else
        for (i = 0; name && i < m->nplug && strcmp(m->plug_name[i], name) != 0; i++)
            ;
    if (i >= m->nplug)
        return;
    plug_m *pm = &m->plug[i];
    int r = result == HOOKD_OK ? 0 : result == HOOKD_RETRY ? 1 : 2;
    atomic_fetch_add_explicit(&pm->deliveries[r], 1, RLX);
    observe(&pm->duration, duration_us);
}

void hookd_metrics_delivery(const void *instance, const char *name, int result,
                            int64_t duration_us)
{
    unsigned e;
    delivery(enter(&e), instance, name, result, duration_us);
    leave(e);
}

/* By name: the key set of a runtime a reload replaced may still read.
 * Within a section. */
static src_m *source_named(metrics *m, const char *name)
{
    for (size_t i = 0; m && name && i < m->nsrc; i++)
        if (strcmp(m->src_name[i], name) == 0)
            return &m->src[i];
    return NULL;
}

void hookd_metrics_jwks_read(const char *source, int ok, size_t nkeys)
{
    unsigned e;
    src_m *s = source_named(enter(&e), source);
    if (s) {
        atomic_fetch_add_explicit(&s->jwks_reads[ok ? 0 : 1], 1, RLX);
        if (ok)
            atomic_store_explicit(&s->jwks_keys, nkeys, RLX);
    }
    leave(e);
}

void hookd_metrics_jwks_keys(const char *source, size_t nkeys)
{
    unsigned e;
    src_m *s = source_named(enter(&e), source);
    if (s)
        atomic_store_explicit(&s->jwks_keys, nkeys, RLX);
    leave(e);
}

void hookd_metrics_dead_letter(void)
{
    if (on())
        atomic_fetch_add_explicit(&dead_letters, 1, RLX);
}

void hookd_metrics_lease_lost(void)
{
    if (on())
        atomic_fetch_add_explicit(&lease_lost, 1, RLX);
}

void hookd_metrics_leases_expired(uint64_t n)
{
    if (on())
        atomic_fetch_add_explicit(&leases_expired, n, RLX);
}

void hookd_metrics_tls_handshake_failure(void)
{
    if (on())
        atomic_fetch_add_explicit(&tls_failures, 1, RLX);
}

void hookd_metrics_tls_cert_expiry(int64_t not_after)
{
    if (on())
        atomic_store_explicit(&tls_expiry, not_after, RLX);
}

/* ---------- exposition ---------- */

size_t hookd_metrics_escape(char *out, size_t cap, const char *v)
{
    size_t n = 0;
    for (; v && *v; v++) {
        char e[2] = {*v, 0};
        size_t k = 1;
        if (*v == '\\' || *v == '"')
            e[0] = '\\', e[1] = *v, k = 2;
        else if (*v == '\n')
            e[0] = '\\', e[1] = 'n', k = 2;
        for (size_t i = 0; i < k; i++, n++)
            if (n + 1 < cap)
                out[n] = e[i];
    }
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}

/* The exposition is built with printf into one growing buffer. */
#define put hookd_buf_printf
typedef hookd_buf buf;

/* A label value, escaped, into a buffer of the caller's. */
static const char *esc(char *out, size_t cap, const char *v)
{
    hookd_metrics_escape(out, cap, v);
    return out;
}

static void head(buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t ld(atomic_uint_fast64_t *a) { return (uint64_t)atomic_load_explicit(a, RLX); }

/* Buckets are read once; the count is their total, so +Inf == count even
 * while other threads keep counting. */
static void histogram(buf *b, const char *name, const char *label, const char *value, histo *h)
{
    char lv[512];
    esc(lv, sizeof lv, value);
    uint64_t cum = 0;
    for (size_t i = 0; i <= NBUCKETS; i++) {
        cum += ld(&h->b[i]);
        if (i < NBUCKETS) {
            int64_t us = bucket_us[i];
            put(b, "%s_bucket{%s=\"%s\",le=\"%lld.%06lld\"} %llu\n", name, label, lv,
                (long long)(us / 1000000), (long long)(us % 1000000), (unsigned long long)cum);
        } else {
            put(b, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, lv,
                (unsigned long long)cum);
        }
    }
    uint64_t sum = ld(&h->sum_us);
    put(b, "%s_sum{%s=\"%s\"} %llu.%06llu\n", name, label, lv,
        (unsigned long long)(sum / 1000000), (unsigned long long)(sum % 1000000));
    put(b, "%s_count{%s=\"%s\"} %llu\n", name, label, lv, (unsigned long long)cum);
}

static char *render(metrics *m, const hookd_metrics_gauges *g, size_t *len)
{
    buf b = {0};
    if (!hookd_buf_room(&b, 16384))
        return NULL;
    char name[512];
    /* Source names; the last is "no source" (a request no path matched, or
     * one refused before its path was known). */
#define SRC_NAME(i) esc(name, sizeof name, (i) < m->nsrc ? m->src_name[i] : "")

    head(&b, "hookd_requests_total", "counter",
         "Webhook requests answered, by source (empty: none matched) and HTTP status.");
    for (size_t i = 0; i <= m->nsrc; i++)
        for (size_t k = 0; k <= NSTATUS; k++) {
            uint64_t v = ld(&m->src[i].requests[k]);
            if (k < NSTATUS)
                put(&b, "hookd_requests_total{source=\"%s\",status=\"%d\"} %llu\n", SRC_NAME(i),
                    statuses[k], (unsigned long long)v);
            else
                put(&b, "hookd_requests_total{source=\"%s\",status=\"other\"} %llu\n",
                    SRC_NAME(i), (unsigned long long)v);
        }

    head(&b, "hookd_verify_failures_total", "counter",
         "Requests refused by the Basic credentials check or the signature check, by reason.");
    for (size_t i = 0; i < m->nsrc; i++)
        for (size_t k = 0; k < HOOKD_MR_COUNT; k++)
            put(&b, "hookd_verify_failures_total{source=\"%s\",reason=\"%s\"} %llu\n",
                SRC_NAME(i), reasons[k], (unsigned long long)ld(&m->src[i].verify[k]));

    head(&b, "hookd_jwks_reads_total", "counter",
         "Reads of a ctct-jws source's key set, by result (ok, error: the set kept).");
    for (size_t i = 0; i < m->nsrc; i++)
        if (m->src[i].has_jwks)
            put(&b,
                "hookd_jwks_reads_total{source=\"%s\",result=\"ok\"} %llu\n"
                "hookd_jwks_reads_total{source=\"%s\",result=\"error\"} %llu\n",
                SRC_NAME(i), (unsigned long long)ld(&m->src[i].jwks_reads[0]), name,
                (unsigned long long)ld(&m->src[i].jwks_reads[1]));
    head(&b, "hookd_jwks_keys", "gauge", "Keys in a ctct-jws source's current key set.");
    for (size_t i = 0; i < m->nsrc; i++)
        if (m->src[i].has_jwks)
            put(&b, "hookd_jwks_keys{source=\"%s\"} %llu\n", SRC_NAME(i),
                (unsigned long long)ld(&m->src[i].jwks_keys));

    head(&b, "hookd_request_duration_seconds", "histogram",
         "Time from the first byte of a request to its answer, by source.");
    for (size_t i = 0; i <= m->nsrc; i++) {
        const char *sn = i < m->nsrc ? m->src_name[i] : "";
        histogram(&b, "hookd_request_duration_seconds", "source", sn, &m->src[i].duration);
    }

    head(&b, "hookd_events_accepted_total", "counter",
         "Events stored (duplicates excluded), by source and type (the Constant Contact "
         "types, else other).");
    for (size_t i = 0; i < m->nsrc; i++)
        for (size_t k = 0; k <= NTYPES; k++)
            put(&b, "hookd_events_accepted_total{source=\"%s\",type=\"%s\"} %llu\n",
                SRC_NAME(i), k < NTYPES ? types[k] : "other",
                (unsigned long long)ld(&m->src[i].accepted[k]));

    head(&b, "hookd_deliveries_total", "counter",
         "Delivery attempts, by plugin instance and result (ok, retry, fail).");
    for (size_t i = 0; i < m->nplug; i++)
        for (size_t k = 0; k < 3; k++)
            put(&b, "hookd_deliveries_total{plugin=\"%s\",result=\"%s\"} %llu\n",
                esc(name, sizeof name, m->plug_name[i]), results[k],
                (unsigned long long)ld(&m->plug[i].deliveries[k]));

    head(&b, "hookd_delivery_duration_seconds", "histogram",
         "Duration of delivery attempts, by plugin instance.");
    for (size_t i = 0; i < m->nplug; i++)
        histogram(&b, "hookd_delivery_duration_seconds", "plugin", m->plug_name[i],
                  &m->plug[i].duration);

    head(&b, "hookd_deliveries_pending", "gauge",
         "Deliveries queued, waiting for a retry, or running.");
    put(&b, "hookd_deliveries_pending %llu\n", (unsigned long long)g->deliveries_pending);

    head(&b, "hookd_dead_letters", "gauge",
         "Deliveries dead-lettered by this process since it started (only grows; "
         "0 at each start; hookd dead lists them all).");
    put(&b, "hookd_dead_letters %llu\n", (unsigned long long)ld(&dead_letters));

    head(&b, "hookd_lease_lost_total", "counter",
         "Delivery results not written because this node's lease on the delivery had "
         "passed (spool.driver: postgres; another node may run it again).");
    put(&b, "hookd_lease_lost_total %llu\n", (unsigned long long)ld(&lease_lost));

    head(&b, "hookd_leases_expired_total", "counter",
         "Claims on deliveries whose lease passed (a node stopped or died) that this node "
         "released back to the pool (spool.driver: postgres).");
    put(&b, "hookd_leases_expired_total %llu\n", (unsigned long long)ld(&leases_expired));

    head(&b, "hookd_spool_bytes", "gauge", "Size of the spool file and its -wal, in bytes.");
    put(&b, "hookd_spool_bytes %llu\n", (unsigned long long)g->spool_bytes);

    head(&b, "hookd_connections_open", "gauge", "Open connections to the webhook listeners.");
    put(&b, "hookd_connections_open %llu\n", (unsigned long long)g->connections_open);

    head(&b, "hookd_tls_handshake_failures_total", "counter",
         "TLS connections closed before their handshake completed.");
    put(&b, "hookd_tls_handshake_failures_total %llu\n",
        (unsigned long long)ld(&tls_failures));
    int64_t expiry = atomic_load_explicit(&tls_expiry, RLX);
    if (expiry != NO_EXPIRY) {
        head(&b, "hookd_tls_cert_expiry_seconds", "gauge",
             "When the webhook listener's TLS certificate expires (its notAfter), in Unix "
             "seconds.");
        put(&b, "hookd_tls_cert_expiry_seconds %lld\n", (long long)expiry);
    }

    head(&b, "hookd_reloads_total", "counter",
         "Configuration reloads (SIGHUP), by result: ok, or failed (the running "
         "configuration kept).");
    put(&b, "hookd_reloads_total{result=\"ok\"} %llu\nhookd_reloads_total{result=\"failed\"} %llu\n",
        (unsigned long long)ld(&reloads_ok), (unsigned long long)ld(&reloads_failed));
#undef SRC_NAME

    return hookd_buf_take(&b, len);
}

char *hookd_metrics_render(const hookd_metrics_gauges *g, size_t *len)
{
    collect(); /* a scrape frees what the last reload could not yet */
    unsigned e;
    metrics *m = enter(&e);
    char *text = m ? render(m, g, len) : NULL;
    leave(e);
    return text;
}

/* metrics: fixed arrays of relaxed atomics, and their exposition. */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hookd/plugin.h>

#include "verify.h"

#define RLX memory_order_relaxed

/* Upper bounds of the histogram buckets, in microseconds; +Inf follows. */
static const int64_t bucket_us[] = {500,    1000,   2500,    5000,    10000,   25000,   50000,
                                    100000, 250000, 500000,  1000000, 2500000, 5000000, 10000000};
#define NBUCKETS (sizeof bucket_us / sizeof bucket_us[0])

static const int statuses[] = {200, 400, 401, 404, 405, 408, 413, 431, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0]) /* then "other" */

static const char *const reasons[HOOKD_MR_COUNT] = {"basic_auth", "missing",  "malformed",
                                                     "mismatch",   "expired", "other"};

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
    histo duration;
} src_m;

typedef struct plug_m {
    atomic_uint_fast64_t deliveries[3];
    histo duration;
} plug_m;

typedef struct metrics {
    size_t nsrc, nplug;
    const hookd_source_cfg *src_cfg;
    const hookd_plugin_cfg *plug_cfg;
    src_m *src;   /* nsrc + 1 */
    plug_m *plug; /* nplug */
    atomic_uint_fast64_t dead_letters;
    atomic_uint_fast64_t tls_failures;
} metrics;

static metrics *M;

int hookd_metrics_init(const hookd_config *cfg)
{
    hookd_metrics_free();
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->nsrc = cfg->nsources;
    m->nplug = cfg->nplugins;
    m->src_cfg = cfg->sources;
    m->plug_cfg = cfg->plugins;
    /* calloc'd zero bytes are valid initial values of lock-free atomics. */
    m->src = calloc(m->nsrc + 1, sizeof *m->src);
    m->plug = calloc(m->nplug ? m->nplug : 1, sizeof *m->plug);
    if (!m->src || !m->plug) {
        free(m->src);
        free(m->plug);
        free(m);
        return -1;
    }
    M = m;
    return 0;
}

void hookd_metrics_free(void)
{
    if (!M)
        return;
    free(M->src);
    free(M->plug);
    free(M);
    M = NULL;
}

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

static src_m *source(int src)
{
    metrics *m = M;
    if (!m)
        return NULL;
    return &m->src[src >= 0 && (size_t)src < m->nsrc ? (size_t)src : m->nsrc];
}

void hookd_metrics_request(int src, int status, int64_t duration_us)
{
    src_m *s = source(src);
    if (!s)
        return;
    size_t i = 0;
    while (i < NSTATUS && statuses[i] != status)
        i++;
    atomic_fetch_add_explicit(&s->requests[i], 1, RLX);
    if (duration_us >= 0)
        observe(&s->duration, duration_us);
}

void hookd_metrics_verify_failure(int src, int reason)
{
    src_m *s = source(src);
    if (!s)
        return;
    if (reason < 0 || reason >= HOOKD_MR_COUNT)
        reason = HOOKD_MR_OTHER;
    atomic_fetch_add_explicit(&s->verify[reason], 1, RLX);
}

int hookd_metrics_verify_reason(int rc)
{
    switch (rc) {
    case HOOKD_VERIFY_MISSING: return HOOKD_MR_MISSING;
    case HOOKD_VERIFY_MALFORMED: return HOOKD_MR_MALFORMED;
    case HOOKD_VERIFY_MISMATCH: return HOOKD_MR_MISMATCH;
    case HOOKD_VERIFY_EXPIRED: return HOOKD_MR_EXPIRED;
    default: return HOOKD_MR_OTHER;
    }
}

void hookd_metrics_event_accepted(int src, const char *type)
{
    src_m *s = source(src);
    if (!s)
        return;
    size_t i = 0;
    while (i < NTYPES && (!type || strcmp(types[i], type) != 0))
        i++;
    atomic_fetch_add_explicit(&s->accepted[i], 1, RLX);
}

void hookd_metrics_delivery(const hookd_plugin_cfg *plugin, int result, int64_t duration_us)
{
    metrics *m = M;
    if (!m || !plugin || m->nplug == 0)
        return;
    /* Compared as integers: the pointer may belong to another configuration. */
    uintptr_t base = (uintptr_t)m->plug_cfg, p = (uintptr_t)plugin;
    if (p < base || (p - base) % sizeof *plugin != 0 || (p - base) / sizeof *plugin >= m->nplug)
        return;
    plug_m *pm = &m->plug[(p - base) / sizeof *plugin];
    int r = result == HOOKD_OK ? 0 : result == HOOKD_RETRY ? 1 : 2;
    atomic_fetch_add_explicit(&pm->deliveries[r], 1, RLX);
    observe(&pm->duration, duration_us);
}

void hookd_metrics_dead_letter(void)
{
    if (M)
        atomic_fetch_add_explicit(&M->dead_letters, 1, RLX);
}

void hookd_metrics_tls_handshake_failure(void)
{
    if (M)
        atomic_fetch_add_explicit(&M->tls_failures, 1, RLX);
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

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

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

char *hookd_metrics_render(const hookd_metrics_gauges *g, size_t *len)
{
    metrics *m = M;
    if (!m)
        return NULL;
    buf b = {.cap = 16384};
    b.p = malloc(b.cap);
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    char name[512];
    /* Source names; the last is "no source" (a request no path matched, or
     * one refused before its path was known). */
#define SRC_NAME(i) esc(name, sizeof name, (i) < m->nsrc ? m->src_cfg[i].name : "")

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

    head(&b, "hookd_request_duration_seconds", "histogram",
         "Time from the first byte of a request to its answer, by source.");
    for (size_t i = 0; i <= m->nsrc; i++) {
        const char *sn = i < m->nsrc ? m->src_cfg[i].name : "";
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
                esc(name, sizeof name, m->plug_cfg[i].name), results[k],
                (unsigned long long)ld(&m->plug[i].deliveries[k]));

    head(&b, "hookd_delivery_duration_seconds", "histogram",
         "Duration of delivery attempts, by plugin instance.");
    for (size_t i = 0; i < m->nplug; i++)
        histogram(&b, "hookd_delivery_duration_seconds", "plugin", m->plug_cfg[i].name,
                  &m->plug[i].duration);

    head(&b, "hookd_deliveries_pending", "gauge",
         "Deliveries queued, waiting for a retry, or running.");
    put(&b, "hookd_deliveries_pending %llu\n", (unsigned long long)g->deliveries_pending);

    head(&b, "hookd_dead_letters", "gauge",
         "Deliveries dead-lettered by this process since it started (only grows; "
         "0 at each start; hookd dead lists them all).");
    put(&b, "hookd_dead_letters %llu\n", (unsigned long long)ld(&m->dead_letters));

    head(&b, "hookd_spool_bytes", "gauge", "Size of the spool file and its -wal, in bytes.");
    put(&b, "hookd_spool_bytes %llu\n", (unsigned long long)g->spool_bytes);

    head(&b, "hookd_connections_open", "gauge", "Open connections to the webhook listeners.");
    put(&b, "hookd_connections_open %llu\n", (unsigned long long)g->connections_open);

    head(&b, "hookd_tls_handshake_failures_total", "counter",
         "TLS connections closed before their handshake completed.");
    put(&b, "hookd_tls_handshake_failures_total %llu\n",
        (unsigned long long)ld(&m->tls_failures));

    head(&b, "hookd_reloads_total", "counter",
         "Configuration reloads, by result (reload does not exist yet: always 0).");
    put(&b, "hookd_reloads_total{result=\"ok\"} 0\nhookd_reloads_total{result=\"failed\"} 0\n");
#undef SRC_NAME

    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* console_view: see console_view.h. */
#include "console_view.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define IDLE_MAX 4 /* libuv's thread pool runs four handlers at once */

struct hookd_console_view {
    atomic_int refs;
    hookd_config spool;      /* only the spool_* fields: what hookd_spool_q_open reads */
    char *node;
    char **names, **uses;    /* the plugin instances */
    size_t ninstances;
    char **masked;           /* configured header names to mask (hmac sources) */
    size_t nmasked;
    pthread_mutex_t lock;
    hookd_spool_q *idle[IDLE_MAX];
    size_t nidle;
};

static char *dup_or_null(const char *s, int *bad)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *bad = 1;
    return d;
}

hookd_console_view *hookd_console_view_new(const hookd_config *cfg)
{
    hookd_console_view *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    atomic_init(&v->refs, 1);
    pthread_mutex_init(&v->lock, NULL);
    int bad = 0;
    v->spool.spool_driver = cfg->spool_driver; /* a literal */
    v->spool.spool_path = dup_or_null(cfg->spool_path, &bad);
    v->spool.spool_conninfo = dup_or_null(cfg->spool_conninfo, &bad);
    v->spool.spool_node = dup_or_null(cfg->spool_node, &bad);
    /* The node as the stats name it: spool.node on PostgreSQL, else the host. */
    char host[256] = "";
    const char *node = cfg->spool_node;
    if (!node || !cfg->spool_driver || strcmp(cfg->spool_driver, "postgres") != 0) {
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            strcpy(host, "hookd");
        node = host;
    }
    v->node = dup_or_null(node, &bad);
    v->names = calloc(cfg->nplugins + 1, sizeof *v->names);
    v->uses = calloc(cfg->nplugins + 1, sizeof *v->uses);
    v->masked = calloc(cfg->nsources * HOOKD_MAX_VERIFY + 1, sizeof *v->masked);
    if (!v->names || !v->uses || !v->masked)
        bad = 1;
    for (size_t i = 0; !bad && i < cfg->nplugins; i++) {
        v->names[i] = dup_or_null(cfg->plugins[i].name, &bad);
        v->uses[i] = dup_or_null(cfg->plugins[i].use, &bad);
        v->ninstances = i + 1;
    }
    for (size_t i = 0; !bad && i < cfg->nsources; i++)
        for (size_t k = 0; k < cfg->sources[i].nverify; k++)
            if (cfg->sources[i].verify[k].header)
                v->masked[v->nmasked++] = dup_or_null(cfg->sources[i].verify[k].header, &bad);
    if (bad) {
        hookd_console_view_unref(v);
        return NULL;
    }
    return v;
}

hookd_console_view *hookd_console_view_ref(hookd_console_view *v)
{
    if (v)
        atomic_fetch_add(&v->refs, 1);
    return v;
}

void hookd_console_view_unref(hookd_console_view *v)
{
    if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
        return;
    for (size_t i = 0; i < v->nidle; i++)
        hookd_spool_q_close(v->idle[i]);
    if (v->spool.spool_conninfo) /* it holds a password */
        memset(v->spool.spool_conninfo, 0, strlen(v->spool.spool_conninfo));
    free(v->spool.spool_conninfo);
    free(v->spool.spool_path);
    free(v->spool.spool_node);
    free(v->node);
    for (size_t i = 0; i < v->ninstances; i++) {
        free(v->names[i]);
        free(v->uses[i]);
    }
    for (size_t i = 0; i < v->nmasked; i++)
        free(v->masked[i]);
    free(v->names);
    free(v->uses);
    free(v->masked);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

const char *hookd_console_view_node(const hookd_console_view *v) { return v->node; }

const char *hookd_console_view_driver(const hookd_console_view *v)
{
    return v->spool.spool_driver ? v->spool.spool_driver : "sqlite";
}

size_t hookd_console_view_ninstances(const hookd_console_view *v) { return v->ninstances; }

const char *hookd_console_view_instance(const hookd_console_view *v, size_t i,
                                        const char **use)
{
    *use = v->uses[i];
    return v->names[i];
}

int hookd_console_view_spool(hookd_console_view *v, int writable, hookd_spool_q **q, char *err,
                             size_t errlen)
{
    *q = NULL;
    if (!writable) {
        pthread_mutex_lock(&v->lock);
        if (v->nidle)
            *q = v->idle[--v->nidle];
        pthread_mutex_unlock(&v->lock);
        if (*q)
            return 0;
    }
    return hookd_spool_q_open(&v->spool, writable, q, err, errlen);
}

void hookd_console_view_release(hookd_console_view *v, hookd_spool_q *q, int writable,
                                int broken)
{
    if (!q)
        return;
    if (!writable && !broken) {
        pthread_mutex_lock(&v->lock);
        int kept = v->nidle < IDLE_MAX;
        if (kept)
            v->idle[v->nidle++] = q;
        pthread_mutex_unlock(&v->lock);
        if (kept)
            return;
    }
    hookd_spool_q_close(q);
}

int hookd_console_view_masked(const hookd_console_view *v, const char *name)
{
    static const char *const exact[] = {
        "authorization", "proxy-authorization", "cookie", "set-cookie",
        "x-ctct-hmac-sha256", "x-ctct-webhook-sig", "x-hub-signature", "x-hub-signature-256",
        "stripe-signature", "webhook-signature", "x-hookd-signature", NULL};
    static const char *const parts[] = {"auth", "key", "token", "secret", "password", "passwd",
                                        "signature", "sig", "hmac", NULL};
    for (size_t i = 0; exact[i]; i++)
        if (strcasecmp(name, exact[i]) == 0)
            return 1;
    for (size_t i = 0; i < v->nmasked; i++)
        if (strcasecmp(name, v->masked[i]) == 0)
            return 1;
    char low[128];
    size_t n = strlen(name);
    if (n >= sizeof low)
        return 1; /* a name this long is not shown either way */
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    for (size_t i = 0; parts[i]; i++)
        if (strstr(low, parts[i]))
            return 1;
    return 0;
}

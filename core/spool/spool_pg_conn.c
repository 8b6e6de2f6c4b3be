/* spool_pg_conn: the PostgreSQL driver's connections (reconnecting with
 * back-off) and its set of held deliveries (see spool_pg.h). */
#include "spool_pg.h"

#include <stdint.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "common/text.h"
#include "spool_pg_claim.h"
#include "spool_pg_schema.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000

/* ---------- the connections ---------- */

void hookd_pg_note(hookd_pg *pg, const char *what, const PGresult *r)
{
    hookd_pg_why(pg->detail, sizeof pg->detail, what, pg->w.c, r);
}

void hookd_pg_link_drop(hookd_pg_link *l)
{
    PQfinish(l->c);
    l->c = NULL;
    l->prepared = 0;
}

int hookd_pg_link_ready(hookd_pg *pg, hookd_pg_link *l)
{
    if (l->c && PQstatus(l->c) == CONNECTION_OK)
        return 0;
    int64_t now = hookd_monotonic_ms();
    if (now < l->retry_at)
        return -1;
    /* A new connection rather than PQreset: nothing of a broken pipeline
     * is left over. */
    PQfinish(l->c);
    l->prepared = 0; /* prepared statements are the session's */
    l->c = hookd_pg_connect(pg->conninfo);
    if (PQstatus(l->c) == CONNECTION_OK) {
        hookd_log(HOOKD_LOG_INFO, "spool %s: %s connection: connected again", pg->where,
                  l->role);
        l->backoff = 0;
        return 0;
    }
    if (!l->backoff) { /* once per outage */
        char why[256];
        hookd_pg_why(why, sizeof why, "connecting", l->c, NULL);
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s connection: %s", pg->where, l->role, why);
    }
    if (l == &pg->w)
        hookd_pg_why(pg->detail, sizeof pg->detail, "reconnecting", l->c, NULL);
    /* Full jitter: nodes that lost one server do not all come back at once. */
    l->backoff = l->backoff ? l->backoff * 2 : BACKOFF_MIN_MS;
    if (l->backoff > BACKOFF_MAX_MS)
        l->backoff = BACKOFF_MAX_MS;
    l->retry_at = now + (int64_t)((uint64_t)hookd_pg_token() % (uint64_t)(l->backoff + 1));
    return -1;
}

/* ---------- the held set ---------- */

static size_t slot(size_t cap, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 20) & (cap - 1);
}

static int put(hookd_pg *pg, int64_t id, int64_t token)
{
    if ((pg->nheld + 1) * 2 > pg->cap) {
        size_t cap = pg->cap ? pg->cap * 2 : 256;
        hookd_pg_held *v = calloc(cap, sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < pg->cap; i++)
            if (pg->held[i].id) {
                size_t k = slot(cap, pg->held[i].id);
                while (v[k].id)
                    k = (k + 1) & (cap - 1);
                v[k] = pg->held[i];
            }
        free(pg->held);
        pg->held = v;
        pg->cap = cap;
    }
    size_t k = slot(pg->cap, id);
    while (pg->held[k].id && pg->held[k].id != id)
        k = (k + 1) & (pg->cap - 1);
    if (!pg->held[k].id)
        pg->nheld++;
    pg->held[k].id = id;
    pg->held[k].token = token;
    return 0;
}

static size_t find(const hookd_pg *pg, int64_t id)
{
    if (!pg->cap)
        return SIZE_MAX;
    for (size_t k = slot(pg->cap, id); pg->held[k].id; k = (k + 1) & (pg->cap - 1))
        if (pg->held[k].id == id)
            return k;
    return SIZE_MAX;
}

static void drop(hookd_pg *pg, int64_t id, int64_t token)
{
    size_t k = find(pg, id);
    if (k == SIZE_MAX || pg->held[k].token != token)
        return;
    /* Backward-shift deletion: the probe chains stay unbroken. */
    size_t mask = pg->cap - 1, j = k;
    pg->held[k].id = 0;
    pg->nheld--;
    for (;;) {
        j = (j + 1) & mask;
        if (!pg->held[j].id)
            return;
        size_t home = slot(pg->cap, pg->held[j].id);
        if (((j - home) & mask) >= ((j - k) & mask)) {
            pg->held[k] = pg->held[j];
            pg->held[j].id = 0;
            k = j;
        }
    }
}

int hookd_pg_held_put(hookd_pg *pg, int64_t id, int64_t token)
{
    pthread_mutex_lock(&pg->lock);
    int rc = put(pg, id, token);
    pthread_mutex_unlock(&pg->lock);
    return rc;
}

int64_t hookd_pg_held_get(hookd_pg *pg, int64_t id)
{
    pthread_mutex_lock(&pg->lock);
    size_t k = find(pg, id);
    int64_t token = k == SIZE_MAX ? 0 : pg->held[k].token;
    pthread_mutex_unlock(&pg->lock);
    return token;
}

void hookd_pg_held_drop(hookd_pg *pg, int64_t id, int64_t token)
{
    pthread_mutex_lock(&pg->lock);
    drop(pg, id, token);
    pthread_mutex_unlock(&pg->lock);
}

size_t hookd_pg_held_copy(hookd_pg *pg, int64_t **ids, int64_t **tokens)
{
    *ids = *tokens = NULL;
    pthread_mutex_lock(&pg->lock);
    size_t n = 0;
    if (pg->nheld && (*ids = malloc(pg->nheld * sizeof **ids)) &&
        (*tokens = malloc(pg->nheld * sizeof **tokens)))
        for (size_t i = 0; i < pg->cap; i++)
            if (pg->held[i].id) {
                (*ids)[n] = pg->held[i].id;
                (*tokens)[n++] = pg->held[i].token;
            }
    pthread_mutex_unlock(&pg->lock);
    if (!n) {
        free(*ids);
        *ids = NULL;
        free(*tokens);
        *tokens = NULL;
    }
    return n;
}

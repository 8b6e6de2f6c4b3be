/* spool_pg_conn: the PostgreSQL driver's connection (reconnecting with
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

/* ---------- the connection ---------- */

void hookd_pg_note(hookd_pg *pg, const char *what, const PGresult *r)
{
    hookd_pg_why(pg->detail, sizeof pg->detail, what, pg->c, r);
}

int hookd_pg_ready(hookd_pg *pg)
{
    if (PQstatus(pg->c) == CONNECTION_OK)
        return 0;
    int64_t now = hookd_monotonic_ms();
    if (now < pg->retry_at)
        return -1;
    PQreset(pg->c);
    if (PQstatus(pg->c) == CONNECTION_OK) {
        hookd_log(HOOKD_LOG_INFO, "spool %s: connected again", pg->where);
        pg->backoff = 0;
        return 0;
    }
    hookd_pg_note(pg, "reconnecting", NULL);
    /* Full jitter: nodes that lost one server do not all come back at once. */
    pg->backoff = pg->backoff ? pg->backoff * 2 : BACKOFF_MIN_MS;
    if (pg->backoff > BACKOFF_MAX_MS)
        pg->backoff = BACKOFF_MAX_MS;
    pg->retry_at = now + (int64_t)((uint64_t)hookd_pg_token() % (uint64_t)(pg->backoff + 1));
    return -1;
}

/* ---------- the held set ---------- */

static size_t slot(size_t cap, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 20) & (cap - 1);
}

int hookd_pg_held_put(hookd_pg *pg, int64_t id, int64_t token)
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

int64_t hookd_pg_held_get(const hookd_pg *pg, int64_t id)
{
    size_t k = find(pg, id);
    return k == SIZE_MAX ? 0 : pg->held[k].token;
}

void hookd_pg_held_drop(hookd_pg *pg, int64_t id)
{
    size_t k = find(pg, id);
    if (k == SIZE_MAX)
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

/* spool_pg_batch: see spool_pg_batch.h. */
#include "spool_pg_batch.h"

#include <stdlib.h>
#include <string.h>

/* The events in array order (ORDER BY o: their seqs ascend as in the
 * batch), then each delivery joined to its event's new seq by the event's
 * id (unique), inserted in $7's order so that the bigserial ids ascend in
 * it. Data-modifying CTEs run to completion whether read or not: events
 * without deliveries are inserted too. */
const char hookd_pg_appends_sql[] =
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[],"
    " $5::bytea[], $6::bytea[]) WITH ORDINALITY AS u(id, source, type, received_at, body,"
    " headers, o)),"
    " e AS (INSERT INTO hookd_events(id, source, type, received_at, body, headers)"
    " SELECT id, source, type, received_at, body, headers FROM u ORDER BY o RETURNING seq, id),"
    " d AS (INSERT INTO hookd_deliveries(event, plugin, state, next_at, updated_at, claim,"
    " lease_until, node) SELECT e.seq, p.plugin, 'pending', u.received_at, $9::int8,"
    " $10::int8, $11::int8, $12::text"
    " FROM unnest($7::int4[], $8::text[]) WITH ORDINALITY AS p(ev, plugin, o)"
    " JOIN u ON u.o = p.ev JOIN e ON e.id = u.id ORDER BY p.o RETURNING id)"
    " SELECT id FROM d ORDER BY id";

const char hookd_pg_finishes_sql[] =
    "WITH r AS (SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::int4[],"
    " $5::int8[], $6::text[], $7::int8[], $8::int8[], $9::text[], $10::int8[])"
    " AS r(id, tok, state, n, next_at, reason, started, dur, result, keep)),"
    " u AS (UPDATE hookd_deliveries d SET state = r.state, attempts = r.n,"
    " next_at = r.next_at, updated_at = $11::int8, reason = r.reason,"
    " claim = CASE WHEN r.keep > 0 THEN d.claim END,"
    " lease_until = CASE WHEN r.keep > 0 THEN r.keep END"
    " FROM r WHERE d.id = r.id AND d.claim = r.tok RETURNING d.id)"
    " INSERT INTO hookd_attempts(delivery, n, started_at, duration_ms, result, reason,"
    " retry_at, node) SELECT r.id, r.n, r.started, r.dur, r.result, r.reason,"
    " CASE WHEN r.state = 'pending' THEN r.next_at END, $12::text FROM r JOIN u ON u.id = r.id"
    " ON CONFLICT (delivery, n) DO NOTHING RETURNING delivery";

#define HEAD 20 /* ndim, flags, oid, then one dimension: length, lower bound */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static unsigned char *room(hookd_pg_arr *a, size_t n)
{
    if (a->oom)
        return NULL;
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        while (cap < a->len + n)
            cap *= 2;
        unsigned char *b = realloc(a->b, cap);
        if (!b) {
            a->oom = 1;
            return NULL;
        }
        a->b = b;
        a->cap = cap;
    }
    unsigned char *p = a->b + a->len;
    a->len += n;
    return p;
}

void hookd_pg_arr_init(hookd_pg_arr *a, uint32_t oid)
{
    *a = (hookd_pg_arr){.oid = oid};
    room(a, HEAD);
}

void hookd_pg_arr_add(hookd_pg_arr *a, const void *p, size_t len)
{
    unsigned char *w = room(a, 4 + (p ? len : 0));
    if (!w)
        return;
    a->count++;
    if (!p) {
        a->nulls = 1;
        put32(w, 0xffffffffu); /* -1: NULL */
        return;
    }
    put32(w, (uint32_t)len);
    if (len)
        memcpy(w + 4, p, len);
}

void hookd_pg_arr_text(hookd_pg_arr *a, const char *s)
{
    hookd_pg_arr_add(a, s, s ? strlen(s) : 0);
}

void hookd_pg_arr_i64(hookd_pg_arr *a, int64_t v)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)v;
    put32(b, (uint32_t)(u >> 32));
    put32(b + 4, (uint32_t)u);
    hookd_pg_arr_add(a, b, 8);
}

void hookd_pg_arr_i32(hookd_pg_arr *a, int32_t v)
{
    unsigned char b[4];
    put32(b, (uint32_t)v);
    hookd_pg_arr_add(a, b, 4);
}

int hookd_pg_arr_done(hookd_pg_arr *a)
{
    if (a->oom || !a->b)
        return -1;
    if (!a->count) { /* an empty array has no dimension */
        put32(a->b, 0);
        put32(a->b + 4, 0);
        put32(a->b + 8, a->oid);
        a->len = 12;
        return 0;
    }
    put32(a->b, 1);
    put32(a->b + 4, (uint32_t)a->nulls);
    put32(a->b + 8, a->oid);
    put32(a->b + 12, (uint32_t)a->count);
    put32(a->b + 16, 1);
    return 0;
}

void hookd_pg_arr_free(hookd_pg_arr *a)
{
    free(a->b);
    *a = (hookd_pg_arr){0};
}

/* spool_pg: the PostgreSQL driver of the spool (spool_driver.h), the
 * cluster mode of docs/DESIGN.md §11. Several nodes share one database: the
 * schema is spool_pg_schema.c's, claims and results under a token
 * spool_pg_claim.c's; spool_pg_housekeep.c's thread renews leases, claims
 * due deliveries (woken by NOTIFY hookd_due) and applies retention on a
 * connection of its own. Here: open, close and the group commit, which
 * sends a whole batch in libpq's pipeline mode (BEGIN, one statement for
 * the appends without a dedup key, one per append with a key, one for the
 * results (spool_pg_batch.c), COMMIT, then the answers): one round trip
 * and one WAL flush per batch, whatever its size. */
#include "spool_pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "common/text.h"
#include "spool_pg_batch.h"
#include "spool_pg_claim.h"
#include "spool_pg_schema.h"

/* ---------- the group commit ---------- */

#define I64(buf, v) (snprintf(buf, sizeof buf, "%" PRId64, (int64_t)(v)), buf)

/* One event and its deliveries in one statement, so that the batch's
 * statements need none of each other's results and go to the server
 * together. The deliveries are inserted already claimed by this node
 * (it delivers them from memory); ids come back in the order of $11. */
#define DELIVERIES                                                                           \
    " d AS (INSERT INTO hookd_deliveries(event, plugin, state, next_at, updated_at, claim,"  \
    " lease_until, node) SELECT e.seq, u.p, 'pending', $4::bigint, $7::bigint, $8::bigint,"  \
    " $9::bigint, $10::text FROM e, unnest($11::text[]) WITH ORDINALITY AS u(p, o)"          \
    " ORDER BY u.o RETURNING id)"

/* With a dedup key: the key's row decides in the same statement. A new key
 * is inserted; a key seen inside the window ($13 ms before this event) is
 * a duplicate, answered with the event the row names; an older one is
 * replaced. ON CONFLICT locks the row and sees its latest version, so two
 * nodes given one key at once serialise on it (the second waits for the
 * first's commit) and "replaced only if still the row read" holds without
 * a second look. The event and its deliveries are inserted only when the
 * row now names this event. */
static const char append_key_sql[] =
    "WITH k AS (INSERT INTO hookd_dedup(source, key, event, at)"
    " VALUES($2::text, $12::text, $1::text, $4::bigint) ON CONFLICT (source, key) DO UPDATE SET"
    " event = CASE WHEN hookd_dedup.at < EXCLUDED.at - $13::bigint THEN EXCLUDED.event"
    " ELSE hookd_dedup.event END,"
    " at = CASE WHEN hookd_dedup.at < EXCLUDED.at - $13::bigint THEN EXCLUDED.at"
    " ELSE hookd_dedup.at END RETURNING event),"
    " e AS (INSERT INTO hookd_events(id, source, type, received_at, body, headers)"
    " SELECT $1::text, $2::text, $3::text, $4::bigint, $5::bytea, $6::bytea"
    " WHERE (SELECT event FROM k) = $1::text RETURNING seq),"
    DELIVERIES
    " SELECT (SELECT event FROM k), d.id FROM (SELECT 1) x LEFT JOIN d ON true ORDER BY d.id";

/* '{"a","b"}': a text[] parameter. NULL on no memory. */
static char *text_array(hookd_instance *const *to, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 3 + 2 * strlen(to[i]->cfg->name);
    char *s = malloc(cap), *w = s;
    if (!s)
        return NULL;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        *w++ = '"';
        for (const char *c = to[i]->cfg->name; *c; c++) {
            if (*c == '"' || *c == '\\')
                *w++ = '\\';
            *w++ = *c;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return s;
}

/* An append with a dedup key: a statement of its own. */
static int send_append(hookd_pg *pg, hookd_append *a, int64_t now)
{
    hookd_ev *ev = a->ev;
    char rcv[24], nw[24], tok[24], until[24], win[24];
    char *plugins = text_array(a->to, a->nto);
    if (!plugins)
        return -1;
    const char *p[13] = {ev->id, ev->source, ev->type, I64(rcv, ev->pub.received_at_ms),
                         ev->body ? (const char *)ev->body : "",
                         ev->hstore ? (const char *)ev->hstore : "", I64(nw, now),
                         I64(tok, pg->token), I64(until, now + pg->lease_ms), pg->node,
                         plugins, a->key, I64(win, a->window_ms)};
    int lens[13] = {0, 0, 0, 0, (int)ev->pub.body_len, (int)ev->hsize};
    int fmts[13] = {0, 0, 0, 0, 1, 1};
    int ok = PQsendQueryPrepared(pg->w.c, "hookd_append_key", 13, p, lens, fmts, 0);
    free(plugins);
    return ok ? 0 : -1;
}

static int send_enrichment(hookd_pg *pg, const hookd_spool_rec *rc)
{
    const char *p[2] = {rc->id, rc->json};
    int lens[2] = {0, (int)strlen(rc->json)}, fmts[2] = {0, 1};
    return PQsendQueryPrepared(pg->w.c, "hookd_enrich", 2, p, lens, fmts, 0) ? 0 : -1;
}

/* The writer's statements, prepared once per connection: parsing and
 * planning them for every event was most of the server's time. */
static const struct {
    const char *name, *sql;
} writer_stmts[] = {
    {HOOKD_PG_APPENDS_STMT, hookd_pg_appends_sql},
    {"hookd_append_key", append_key_sql},
    {"hookd_enrich", "UPDATE hookd_events SET enrichment = $2::bytea WHERE id = $1::text"},
    {HOOKD_PG_FINISH_STMT, hookd_pg_finish_sql},
    {HOOKD_PG_FINISHES_STMT, hookd_pg_finishes_sql},
};
#define NSTMTS (sizeof writer_stmts / sizeof writer_stmts[0])

static const char *result_text(int r)
{
    return r == HOOKD_OK ? "ok" : r == HOOKD_RETRY ? "retry" : "fail";
}

/* What one statement of the pipeline was, to read its result. */
typedef struct sent {
    enum { S_PLAIN, S_PREPARE, S_APPEND, S_APPENDS, S_FINISH, S_FINISHES } kind;
    const char *what;      /* for the failure's detail */
    hookd_append *a;       /* S_APPEND; S_APPENDS: the batch's list (those without a key) */
    int64_t id, token;     /* S_FINISH: the delivery, the token it is held under */
    int release;           /* S_FINISH: no longer held once written */
    int written;           /* S_FINISH: the claim still matched */
    const hookd_spool_rec *rec; /* S_FINISH in fin: the result */
    int64_t keep_until;    /* S_FINISH in fin: > 0 the retry stays claimed */
} sent;

typedef struct hookd_pg_sent_batch {
    sent *v;
    size_t n, cap;
    int lost;              /* results for deliveries not held here: not sent */
    int notify;            /* a retry released to the pool is due already */
    int setup;             /* it carries the session's setting and statements */
    sent *fin;             /* the results in the one S_FINISHES statement */
    size_t nfin, capfin;
} batch;

static sent *add(batch *b, int kind, const char *what)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        sent *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return NULL;
        b->v = v;
        b->cap = cap;
    }
    sent *s = &b->v[b->n++];
    *s = (sent){.kind = kind, .what = what};
    return s;
}

static sent *add_fin(batch *b)
{
    if (b->nfin == b->capfin) {
        size_t cap = b->capfin ? b->capfin * 2 : 64;
        sent *v = realloc(b->fin, cap * sizeof *v);
        if (!v)
            return NULL;
        b->fin = v;
        b->capfin = cap;
    }
    sent *s = &b->fin[b->nfin++];
    *s = (sent){.kind = S_FINISH, .what = "writing a delivery's result"};
    return s;
}

static int send_plain(hookd_pg *pg, batch *b, const char *sql)
{
    return add(b, S_PLAIN, sql) &&
                   PQsendQueryParams(pg->w.c, sql, 0, NULL, NULL, NULL, NULL, 0)
               ? 0
               : -1;
}

/* Queues one record. A result for a delivery this node does not hold (its
 * lease passed and it was dropped) sends nothing: it is counted lost. */
static int send_record(hookd_pg *pg, batch *b, const hookd_spool_rec *rc, int64_t now,
                       int one_each)
{
    if (rc->json)
        return add(b, S_PLAIN, "storing an enrichment") && send_enrichment(pg, rc) == 0 ? 0
                                                                                         : -1;
    const hookd_attempt *a = &rc->a;
    int64_t token = hookd_pg_held_get(pg, a->delivery);
    if (!token) {
        b->lost++;
        return 0;
    }
    sent *s = one_each ? add(b, S_FINISH, "writing a delivery's result") : add_fin(b);
    if (!s)
        return -1;
    s->id = a->delivery;
    s->token = token;
    /* A retry the dispatcher keeps in memory stays this node's, under a
     * new lease; any other result lets the row go. A released retry due
     * already wakes the other nodes (one due later is found by their
     * once-a-second pass once due: a wake-up now would find nothing). */
    int pending = strcmp(a->state, "pending") == 0, keep = pending && !a->released;
    s->release = !keep;
    if (pending && a->released && a->next_at <= now)
        b->notify = 1;
    if (!one_each) { /* its parameters go into send_finishes' arrays */
        s->rec = rc;
        s->keep_until = keep ? now + pg->lease_ms : 0;
        return 0;
    }
    return hookd_pg_finish_send(pg->w.c, a->delivery, token, a->state, a->n, a->next_at, now,
                                rc->reason, pg->node, a->started_at, a->duration_ms,
                                result_text(a->result), keep ? now + pg->lease_ms : 0);
}

/* The parameters of a statement over arrays: arrays binary, scalars text. */
typedef struct params {
    hookd_pg_arr arr[10];
    int narr;
    const char *v[12];
    int len[12], fmt[12];
} params;

static void params_free(params *q)
{
    for (int i = 0; i < q->narr; i++)
        hookd_pg_arr_free(&q->arr[i]);
}

/* Completes the arrays as parameters $1..$narr; 0 or -1 (no memory). */
static int params_arrays(params *q)
{
    for (int i = 0; i < q->narr; i++) {
        if (hookd_pg_arr_done(&q->arr[i]) < 0)
            return -1;
        q->v[i] = (const char *)q->arr[i].b;
        q->len[i] = (int)q->arr[i].len;
        q->fmt[i] = 1;
    }
    return 0;
}

static int cmp64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* The batch's appends without a dedup key, in one statement. */
static int send_appends(hookd_pg *pg, batch *b, hookd_append *apps, int64_t now)
{
    static const uint32_t oids[8] = {HOOKD_PG_OID_TEXT, HOOKD_PG_OID_TEXT, HOOKD_PG_OID_TEXT,
                                     HOOKD_PG_OID_INT8, HOOKD_PG_OID_BYTEA, HOOKD_PG_OID_BYTEA,
                                     HOOKD_PG_OID_INT4, HOOKD_PG_OID_TEXT};
    params q = {.narr = 8};
    for (int i = 0; i < q.narr; i++)
        hookd_pg_arr_init(&q.arr[i], oids[i]);
    int32_t n = 0;
    for (hookd_append *a = apps; a; a = a->next) {
        if (a->has_key)
            continue;
        hookd_ev *ev = a->ev;
        n++;
        hookd_pg_arr_text(&q.arr[0], ev->id);
        hookd_pg_arr_text(&q.arr[1], ev->source);
        hookd_pg_arr_text(&q.arr[2], ev->type);
        hookd_pg_arr_i64(&q.arr[3], ev->pub.received_at_ms);
        hookd_pg_arr_add(&q.arr[4], ev->body ? (const void *)ev->body : "", ev->pub.body_len);
        hookd_pg_arr_add(&q.arr[5], ev->hstore ? (const void *)ev->hstore : "", ev->hsize);
        for (size_t i = 0; i < a->nto; i++) {
            hookd_pg_arr_i32(&q.arr[6], n);
            hookd_pg_arr_text(&q.arr[7], a->to[i]->cfg->name);
        }
    }
    int rc = 0;
    if (n) {
        char nw[24], tok[24], until[24];
        q.v[8] = I64(nw, now);
        q.v[9] = I64(tok, pg->token);
        q.v[10] = I64(until, now + pg->lease_ms);
        q.v[11] = pg->node;
        sent *s = add(b, S_APPENDS, "storing events");
        rc = s && params_arrays(&q) == 0 &&
                     PQsendQueryPrepared(pg->w.c, HOOKD_PG_APPENDS_STMT, 12, q.v, q.len, q.fmt,
                                         0)
                 ? 0
                 : -1;
        if (s)
            s->a = apps;
    }
    params_free(&q);
    return rc;
}

/* The results collected in b->fin, in one statement. */
static int send_finishes(hookd_pg *pg, batch *b, int64_t now)
{
    static const uint32_t oids[10] = {HOOKD_PG_OID_INT8, HOOKD_PG_OID_INT8, HOOKD_PG_OID_TEXT,
                                      HOOKD_PG_OID_INT4, HOOKD_PG_OID_INT8, HOOKD_PG_OID_TEXT,
                                      HOOKD_PG_OID_INT8, HOOKD_PG_OID_INT8, HOOKD_PG_OID_TEXT,
                                      HOOKD_PG_OID_INT8};
    if (!b->nfin)
        return 0;
    params q = {.narr = 10};
    for (int i = 0; i < q.narr; i++)
        hookd_pg_arr_init(&q.arr[i], oids[i]);
    for (size_t i = 0; i < b->nfin; i++) {
        const hookd_spool_rec *rc = b->fin[i].rec;
        const hookd_attempt *a = &rc->a;
        int pending = strcmp(a->state, "pending") == 0;
        hookd_pg_arr_i64(&q.arr[0], b->fin[i].id);
        hookd_pg_arr_i64(&q.arr[1], b->fin[i].token);
        hookd_pg_arr_text(&q.arr[2], a->state);
        hookd_pg_arr_i32(&q.arr[3], a->n);
        hookd_pg_arr_i64(&q.arr[4], pending ? a->next_at : now);
        hookd_pg_arr_text(&q.arr[5], rc->reason[0] ? rc->reason : NULL);
        hookd_pg_arr_i64(&q.arr[6], a->started_at);
        hookd_pg_arr_i64(&q.arr[7], a->duration_ms);
        hookd_pg_arr_text(&q.arr[8], result_text(a->result));
        hookd_pg_arr_i64(&q.arr[9], b->fin[i].keep_until);
    }
    char nw[24];
    q.v[10] = I64(nw, now);
    q.v[11] = pg->node;
    int rc = add(b, S_FINISHES, "writing deliveries' results") && params_arrays(&q) == 0 &&
                     PQsendQueryPrepared(pg->w.c, HOOKD_PG_FINISHES_STMT, 12, q.v, q.len,
                                         q.fmt, 0)
                 ? 0
                 : -1;
    params_free(&q);
    return rc;
}

/* Whether two results of the batch are about one delivery (then each goes
 * in a statement of its own, in order: one UPDATE ... FROM would apply
 * only one of them). */
static int results_collide(const hookd_spool_rec *recs)
{
    size_t n = 0;
    for (const hookd_spool_rec *r = recs; r; r = r->next)
        n += !r->json;
    if (n < 2)
        return 0;
    int64_t *ids = malloc(n * sizeof *ids);
    if (!ids)
        return 1; /* the slower way needs no memory */
    n = 0;
    for (const hookd_spool_rec *r = recs; r; r = r->next)
        if (!r->json)
            ids[n++] = r->a.delivery;
    qsort(ids, n, sizeof *ids, cmp64);
    int dup = 0;
    for (size_t i = 1; i < n && !dup; i++)
        dup = ids[i] == ids[i - 1];
    free(ids);
    return dup;
}

/* S_APPENDS: the deliveries' ids, in the order send_appends listed them. */
static int read_appends(hookd_pg *pg, sent *s, PGresult *r)
{
    int rows = PQntuples(r), k = 0;
    for (hookd_append *a = s->a; a; a = a->next) {
        if (a->has_key)
            continue;
        for (size_t i = 0; i < a->nto; i++, k++)
            if (k < rows)
                a->delivery[i] = strtoll(PQgetvalue(r, k, 0), NULL, 10);
        a->result = HOOKD_SPOOL_STORED;
    }
    if (k != rows) {
        hookd_say(pg->detail, sizeof pg->detail, "storing events: %d of %d deliveries", rows,
                  k);
        return -1;
    }
    return 0;
}

/* S_FINISHES: the rows are the deliveries written. */
static int read_finishes(hookd_pg *pg, batch *b, PGresult *r)
{
    int rows = PQntuples(r);
    int64_t *ids = rows ? malloc((size_t)rows * sizeof *ids) : NULL;
    if (rows && !ids) {
        hookd_say(pg->detail, sizeof pg->detail, "writing deliveries' results: out of memory");
        return -1;
    }
    for (int i = 0; i < rows; i++)
        ids[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    if (rows) /* qsort's pointer may not be NULL, even for none */
        qsort(ids, (size_t)rows, sizeof *ids, cmp64);
    for (size_t i = 0; i < b->nfin; i++)
        b->fin[i].written = rows && bsearch(&b->fin[i].id, ids, (size_t)rows, sizeof *ids,
                                            cmp64) != NULL;
    free(ids);
    return 0;
}

/* One statement's result: 0, or -1 with pg->detail set. */
static int read_one(hookd_pg *pg, batch *b, sent *s, PGresult *r)
{
    ExecStatusType want = s->kind == S_APPEND || s->kind == S_APPENDS || s->kind == S_FINISHES
                              ? PGRES_TUPLES_OK
                              : PGRES_COMMAND_OK;
    if (PQresultStatus(r) != want) {
        hookd_pg_note(pg, s->what, r);
        return -1;
    }
    if (s->kind == S_APPENDS)
        return read_appends(pg, s, r);
    if (s->kind == S_FINISHES)
        return read_finishes(pg, b, r);
    if (s->kind == S_FINISH) {
        s->written = strtol(PQcmdTuples(r), NULL, 10) > 0;
        return 0;
    }
    if (s->kind != S_APPEND)
        return 0;
    hookd_append *a = s->a;
    int rows = PQntuples(r);
    if (rows < 1 || PQgetisnull(r, 0, 0)) {
        hookd_say(pg->detail, sizeof pg->detail, "storing an event: no answer");
        return -1;
    }
    const char *first = PQgetvalue(r, 0, 0);
    if (a->has_key && strcmp(first, a->ev->id) != 0) {
        snprintf(a->first_id, sizeof a->first_id, "%s", first);
        a->result = HOOKD_SPOOL_DUPLICATE;
        return 0;
    }
    size_t k = 0;
    for (int i = 0; i < rows; i++)
        if (!PQgetisnull(r, i, 1) && k < a->nto)
            a->delivery[k++] = strtoll(PQgetvalue(r, i, 1), NULL, 10);
    if (k != a->nto) {
        hookd_say(pg->detail, sizeof pg->detail, "storing an event: %zu of %zu deliveries",
                  k, a->nto);
        return -1;
    }
    a->result = HOOKD_SPOOL_STORED;
    return 0;
}

/* Sends the whole batch (BEGIN, a statement per append and per record,
 * COMMIT) and a sync: one round trip. 0, or -1 when libpq could not queue
 * it (the connection is then dropped). */
static int send_batch(hookd_pg *pg, batch *b, hookd_append *apps, hookd_spool_rec *recs,
                      int64_t now)
{
    PGconn *c = pg->w.c;
    if (!PQenterPipelineMode(c))
        return -1;
    /* A new connection: the session's setting and the writer's statements
     * go first, in the same round trip. Every statement of the writer
     * reaches rows by key; without the setting, a generic plan made while
     * hookd_deliveries was small kept a sequential scan as it grew. */
    b->setup = !pg->w.prepared;
    if (b->setup && send_plain(pg, b, "SET enable_seqscan = off") < 0)
        return -1;
    for (size_t i = 0; b->setup && i < NSTMTS; i++)
        if (!add(b, S_PREPARE, "preparing statements") ||
            !PQsendPrepare(c, writer_stmts[i].name, writer_stmts[i].sql, 0, NULL))
            return -1;
    if (send_plain(pg, b, "BEGIN") < 0)
        return -1;
    if (send_appends(pg, b, apps, now) < 0)
        return -1;
    for (hookd_append *a = apps; a; a = a->next) {
        if (!a->has_key)
            continue;
        sent *s = add(b, S_APPEND, "storing an event");
        if (!s)
            return -1;
        s->a = a;
        if (send_append(pg, a, now) < 0)
            return -1;
    }
    int one_each = results_collide(recs);
    for (hookd_spool_rec *r = recs; r; r = r->next)
        if (send_record(pg, b, r, now, one_each) < 0)
            return -1;
    if (send_finishes(pg, b, now) < 0)
        return -1;
    /* Delivered with the COMMIT, never before: listeners see the rows. */
    if (b->notify && send_plain(pg, b, "NOTIFY " HOOKD_PG_CHANNEL) < 0)
        return -1;
    if (send_plain(pg, b, "COMMIT") < 0 || !PQpipelineSync(c))
        return -1;
    return 0;
}

/* Reads the batch's results up to the sync. 0 all went well, 1 a statement
 * failed (the transaction is aborted: ROLLBACK it), -1 the connection
 * broke or answered out of turn. */
static int read_batch(hookd_pg *pg, batch *b)
{
    PGconn *c = pg->w.c;
    int failed = 0;
    size_t i = 0; /* the statement whose results come: each ends with a NULL */
    for (;;) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (PQstatus(c) != CONNECTION_OK || ++i > b->n) {
                hookd_pg_note(pg, "committing", NULL);
                return -1;
            }
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (i >= b->n) {
            hookd_pg_note(pg, "committing: an answer out of turn", r);
            PQclear(r);
            return -1;
        }
        /* After a failure the rest come back PGRES_PIPELINE_ABORTED. */
        if (!failed && read_one(pg, b, &b->v[i], r) < 0)
            failed = 1;
        PQclear(r);
    }
    if (!PQexitPipelineMode(c)) {
        hookd_pg_note(pg, "leaving pipeline mode", NULL);
        return -1;
    }
    return failed;
}

/* The committed batch's changes to the held set and the lost results. */
static void apply(hookd_pg *pg, batch *b, hookd_append *apps)
{
    int lost = b->lost;
    for (hookd_append *a = apps; a; a = a->next)
        for (size_t i = 0; a->result == HOOKD_SPOOL_STORED && i < a->nto; i++)
            if (hookd_pg_held_put(pg, a->delivery[i], pg->token) < 0)
                /* Not renewed: its lease ends and another node delivers it too. */
                hookd_log(HOOKD_LOG_WARN, "spool %s: out of memory: delivery %" PRId64
                          " will not be renewed", pg->where, a->delivery[i]);
    for (size_t i = 0; i < b->n + b->nfin; i++) {
        sent *s = i < b->n ? &b->v[i] : &b->fin[i - b->n];
        if (s->kind != S_FINISH)
            continue;
        if (!s->written) /* the lease passed: another node may hold the delivery */
            lost++;
        if (!s->written || s->release)
            hookd_pg_held_drop(pg, s->id, s->token);
    }
    for (int i = 0; i < lost; i++)
        hookd_metrics_lease_lost();
}

/* After a batch was read (rc from read_batch) or could not be sent (-1):
 * applies a committed batch, rolls back a failed one, drops a broken
 * connection; frees b's arrays. Returns commit's status. */
static int conclude(hookd_pg *pg, batch *b, hookd_append *apps, int rc, const char **why)
{
    if (rc == 1 && b->setup)
        rc = -1; /* its SET rolled back, some statements exist: start clean */
    if (rc == 0) {
        pg->w.prepared = 1; /* a setup batch went through whole (a drop below resets it) */
        apply(pg, b, apps);
    }
    free(b->v);
    free(b->fin);
    if (rc == 1) {
        /* A statement failed: the server holds an aborted transaction. */
        PQclear(PQexec(pg->w.c, "ROLLBACK"));
        pg->round_trips++;
    }
    if (rc < 0 || PQstatus(pg->w.c) != CONNECTION_OK) {
        int up = PQstatus(pg->w.c) == CONNECTION_OK;
        *why = up ? "commit failed" : "PostgreSQL unreachable";
        /* Whatever was half sent goes with it; the server rolls back. */
        hookd_pg_link_drop(&pg->w);
        atomic_store(&pg->writer_ok, 0);
        return up ? HOOKD_SPOOL_FAILED : HOOKD_SPOOL_UNREACHABLE;
    }
    atomic_store(&pg->writer_ok, 1);
    if (rc == 0)
        return HOOKD_SPOOL_OK;
    *why = "commit failed";
    return HOOKD_SPOOL_FAILED;
}

/* Sends a batch: 0, *b in flight; else concluded, and commit's status
 * (never HOOKD_SPOOL_OK, which is 0). */
static int send_or_conclude(hookd_pg *pg, batch *b, hookd_append *apps, hookd_spool_rec *recs,
                            int64_t now, const char **why)
{
    if (hookd_pg_link_ready(pg, &pg->w) < 0) {
        atomic_store(&pg->writer_ok, 0);
        *why = "PostgreSQL unreachable";
        return HOOKD_SPOOL_UNREACHABLE;
    }
    if (send_batch(pg, b, apps, recs, now) == 0)
        return 0;
    hookd_pg_note(pg, "sending a batch", NULL);
    pg->round_trips++;
    return conclude(pg, b, apps, -1, why);
}

static int commit_once(hookd_pg *pg, hookd_append *apps, hookd_spool_rec *recs, int64_t now,
                       const char **why)
{
    batch b = {0};
    int st = send_or_conclude(pg, &b, apps, recs, now, why);
    if (st != 0)
        return st;
    int rc = read_batch(pg, &b);
    pg->round_trips++;
    return conclude(pg, &b, apps, rc, why);
}

static int pg_commit(void *db, hookd_append *apps, hookd_spool_rec *recs, int64_t now,
                     const char **why)
{
    hookd_pg *pg = db;
    int was_up = pg->w.c && PQstatus(pg->w.c) == CONNECTION_OK;
    int status = commit_once(pg, apps, recs, now, why);
    if (status == HOOKD_SPOOL_UNREACHABLE && was_up) {
        /* A connection that was cut while idle (pg_terminate_backend, a
         * server restarted, a proxy's timeout): one new connection and the
         * batch once more, rather than 503 for a server that is up. Had the
         * lost COMMIT in fact landed, the event ids collide and the batch
         * fails: a 503 the sender retries, as without this. */
        status = commit_once(pg, apps, recs, now, why);
    }
    return status;
}

/* The records' transaction, sent without waiting for its answer: pg_settle
 * reads it before anything else uses the connection (spool_driver.h). Not
 * sent (a connection cut while idle, no server, no memory): the waiting
 * way instead, pg_commit with its retry, so nothing is left in flight. */
static int pg_send_records(void *db, hookd_spool_rec *recs, int64_t now, const char **why)
{
    hookd_pg *pg = db;
    batch *b = calloc(1, sizeof *b);
    if (b && send_or_conclude(pg, b, NULL, recs, now, why) == 0) {
        pg->fly = b;
        return HOOKD_SPOOL_OK;
    }
    free(b);
    return pg_commit(db, NULL, recs, now, why);
}

static int pg_settle(void *db, hookd_spool_rec *recs, const char **why)
{
    hookd_pg *pg = db;
    batch *b = pg->fly;
    if (!b)
        return HOOKD_SPOOL_OK;
    pg->fly = NULL;
    int rc = read_batch(pg, b);
    pg->round_trips++;
    int st = conclude(pg, b, NULL, rc, why);
    free(b);
    if (st == HOOKD_SPOOL_UNREACHABLE)
        /* Cut while in flight (as pg_commit's retry): once more on a new
         * connection, which spool.c would otherwise do after a 503 window. */
        st = commit_once(pg, NULL, recs, hookd_now_ms(), why);
    return st;
}

/* ---------- open and close ---------- */

static void pg_free(hookd_pg *pg)
{
    PQfinish(pg->w.c);
    PQfinish(pg->k.c);
    if (pg->conninfo) /* it holds a password */
        memset(pg->conninfo, 0, strlen(pg->conninfo));
    free(pg->conninfo);
    free(pg->node);
    free(pg->held);
    if (pg->rt)
        hookd_runtime_unref(pg->rt);
    pthread_mutex_destroy(&pg->lock);
    free(pg);
}

static void *pg_open(const hookd_spool_open_args *args, char *err, size_t errlen)
{
    const hookd_config *cfg = args->cfg;
    if (!cfg->spool_conninfo) {
        snprintf(err, errlen, "spool: spool.conninfo is not set");
        return NULL;
    }
    hookd_pg *pg = calloc(1, sizeof *pg);
    if (!pg) {
        snprintf(err, errlen, "spool: out of memory");
        return NULL;
    }
    pthread_mutex_init(&pg->lock, NULL);
    pg->w.role = "writer";
    pg->k.role = "housekeeping";
    pg->wake[0] = pg->wake[1] = -1;
    if (!(pg->conninfo = strdup(cfg->spool_conninfo)) ||
        !(pg->node = strdup(cfg->spool_node ? cfg->spool_node : "hookd"))) {
        snprintf(err, errlen, "spool: out of memory");
        pg_free(pg);
        return NULL;
    }
    pg->lease_ms = cfg->spool_lease_ms > 0 ? cfg->spool_lease_ms : 30000;
    pg->token = hookd_pg_token();
    pg->w.c = hookd_pg_connect(pg->conninfo);
    if (PQstatus(pg->w.c) != CONNECTION_OK) {
        /* libpq's words name the host and port, never the password. */
        hookd_say(err, errlen, "spool: cannot connect to PostgreSQL: %s",
                  PQerrorMessage(pg->w.c));
        hookd_one_line(err);
        pg_free(pg);
        return NULL;
    }
    atomic_init(&pg->writer_ok, 1);
    const char *host = PQhost(pg->w.c), *dbname = PQdb(pg->w.c);
    snprintf(pg->where, sizeof pg->where, "PostgreSQL %s on %s", dbname ? dbname : "?",
             host && *host ? host : "localhost");
    char why[256];
    if (hookd_pg_schema_ensure(pg->w.c, why, sizeof why) < 0) {
        snprintf(err, errlen, "spool %s: %s", pg->where, why);
        pg_free(pg);
        return NULL;
    }
    if (hookd_pg_keeper_start(pg) < 0) {
        snprintf(err, errlen, "spool %s: cannot start the housekeeping thread", pg->where);
        pg_free(pg);
        return NULL;
    }
    hookd_log(HOOKD_LOG_INFO, "spool %s: schema %d, node %s, lease %" PRId64 " ms", pg->where,
              HOOKD_PG_SCHEMA, pg->node, pg->lease_ms);
    return pg;
}

static void pg_close(void *db)
{
    hookd_pg *pg = db;
    hookd_pg_keeper_stop(pg); /* nothing claims or renews from here on */
    hookd_pg_give_back(pg);
    pg_free(pg);
}

static const char *pg_describe(void *db) { return ((hookd_pg *)db)->where; }
static const char *pg_detail(void *db) { return ((hookd_pg *)db)->detail; }

const hookd_spool_driver hookd_spool_postgres = {
    .name = "postgres",
    .open = pg_open,
    .commit = pg_commit,
    .send_records = pg_send_records,
    .settle = pg_settle,
    .housekeep = hookd_pg_housekeep,
    .close = pg_close,
    .describe = pg_describe,
    .detail = pg_detail,
};

/* spool_query_pg: spool_query.h on the shared PostgreSQL spool (tables
 * hookd_*, spool_pg_schema.c), so that the commands and the console see
 * every node's events from any node. Its own connection (hookd_pg_connect:
 * bounded connect, the conninfo never in a message), read-only unless
 * opened writable, and put back once when the server dropped it. A replay
 * also clears the lease and sends NOTIFY hookd_due in its transaction, so
 * idle nodes claim the rows at once. Every value is a bound parameter. */
#include "spool_query_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "spool_pg_schema.h"

/* ---------- SQL ---------- */

/* $1 source, $2 type (a LIKE pattern), $3 since: NULL for any. */
#define EVENT_FILTERS                                                                 \
    " ($1::text IS NULL OR e.source = $1) AND ($2::text IS NULL OR e.type LIKE $2)"   \
    " AND ($3::bigint IS NULL OR e.received_at >= $3)"
#define COUNT_STATE(s) "count(d.id) FILTER (WHERE d.state = '" s "')"

/* $4 cursor (seq; an index range), $5 plugin, $6 status, $7 limit. */
static const char SQL_EVENTS[] =
    "SELECT e.seq, e.id, e.source, e.type, e.received_at, " COUNT_STATE("pending") ", "
    COUNT_STATE("delivered") ", " COUNT_STATE("dead")
    " FROM hookd_events e LEFT JOIN hookd_deliveries d ON d.event = e.seq"
    " WHERE" EVENT_FILTERS " AND e.seq < $4::bigint" /* INT64_MAX: the first page */
    " AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM hookd_deliveries p"
    " WHERE p.event = e.seq AND p.plugin = $5))"
    " GROUP BY e.seq"
    " HAVING $6::text IS NULL OR ($6 = 'pending' AND " COUNT_STATE("pending") " > 0)"
    " OR ($6 = 'dead' AND " COUNT_STATE("dead") " > 0)"
    " OR ($6 = 'delivered' AND count(d.id) > 0 AND " COUNT_STATE("delivered") " = count(d.id))"
    " ORDER BY e.seq DESC LIMIT $7";

/* $4 cursor's updated_at, $5 plugin, $6 cursor's id, $7 limit. */
static const char SQL_DEAD[] =
    "SELECT d.id, e.id, e.source, e.type, d.plugin, d.attempts, d.reason, d.updated_at"
    " FROM hookd_deliveries d JOIN hookd_events e ON e.seq = d.event"
    " WHERE d.state = 'dead' AND ($5::text IS NULL OR d.plugin = $5) AND" EVENT_FILTERS
    " AND ($4::bigint IS NULL OR (d.updated_at, d.id) > ($4, $6::bigint))"
    " ORDER BY d.updated_at, d.id LIMIT $7";

static const char SQL_EVENT[] =
    "SELECT seq, id, source, type, received_at, body, headers, enrichment FROM hookd_events"
    " WHERE id = $1";
static const char SQL_DELIVERIES[] =
    "SELECT d.id, d.plugin, d.state, d.attempts, d.next_at, d.updated_at, d.reason,"
    " a.n, a.started_at, a.duration_ms, a.result, a.reason, a.retry_at"
    " FROM hookd_deliveries d LEFT JOIN hookd_attempts a ON a.delivery = d.id"
    " WHERE d.event = $1 ORDER BY d.id, a.n";

/* A replayed delivery starts a new round (the retry budget counts from its
 * attempts now), held by nobody, due now. $1 now. */
#define REPLAY_SET                                                                      \
    "UPDATE hookd_deliveries d SET state = 'pending', claim = NULL, lease_until = NULL," \
    " node = NULL, round_start = attempts, next_at = $1, updated_at = $1"
/* A pending delivery may be held by a node already: left alone. */
static const char SQL_FIND[] = "SELECT seq FROM hookd_events WHERE id = $1";
static const char SQL_REPLAY_EVENT[] =
    REPLAY_SET " WHERE d.event = $2 AND d.state <> 'pending' AND ($3::text IS NULL OR"
    " d.plugin = $3)";
static const char SQL_REPLAY_IDS[] =
    REPLAY_SET " WHERE d.id = ANY($2::bigint[]) AND d.state = 'dead'";
/* $2..$4 as EVENT_FILTERS' $1..$3 (renumbered), $5 plugin. */
static const char SQL_REPLAY_DEAD[] =
    REPLAY_SET " WHERE d.state = 'dead' AND ($5::text IS NULL OR d.plugin = $5)"
    " AND (($2::text IS NULL AND $3::text IS NULL AND $4::bigint IS NULL) OR EXISTS"
    " (SELECT 1 FROM hookd_events e WHERE e.seq = d.event"
    " AND ($2::text IS NULL OR e.source = $2) AND ($3::text IS NULL OR e.type LIKE $3)"
    " AND ($4::bigint IS NULL OR e.received_at >= $4)))";

/* The counts scan the deliveries table (one row per plugin and state). */
static const char SQL_STATS_STATES[] =
    "SELECT plugin, state, count(*), count(*) FILTER (WHERE attempts > 0)"
    " FROM hookd_deliveries GROUP BY plugin, state";
static const char SQL_STATS_OLDEST[] =
    "SELECT min(e.received_at) FROM hookd_deliveries d JOIN hookd_events e ON e.seq = d.event"
    " WHERE d.state = 'pending'";
/* An attempt of the last hour left its delivery's updated_at in it too. */
static const char SQL_STATS_HOUR[] =
    "SELECT d.plugin, count(*) FILTER (WHERE a.result = 'ok'),"
    " count(*) FILTER (WHERE a.result <> 'ok')"
    " FROM hookd_deliveries d JOIN hookd_attempts a ON a.delivery = d.id"
    " WHERE d.updated_at >= $1 AND a.started_at >= $1 GROUP BY d.plugin";
/* On the received_at index, the last hour only. */
static const char SQL_STATS_MINUTES[] =
    "SELECT (received_at - $1) / 60000, count(*) FROM hookd_events"
    " WHERE received_at >= $1 AND received_at < $1::bigint + 3600000 GROUP BY 1";

/* ---------- the connection ---------- */

typedef struct sq_pg {
    hookd_spool_q q;
    PGconn *c;
    int writable;
} sq_pg;

static sq_pg *P(hookd_spool_q *q)
{
    return (sq_pg *)q;
}

static int pg_fail(sq_pg *p, const char *what, const PGresult *r)
{
    hookd_pg_why(p->q.err, sizeof p->q.err, what, p->c, r);
    return -EIO;
}

/* A session the server ended (restart, idle cut) is opened again once. */
static int ready(sq_pg *p)
{
    if (PQstatus(p->c) == CONNECTION_OK)
        return 0;
    PQreset(p->c);
    if (PQstatus(p->c) != CONNECTION_OK)
        return sq_fail(&p->q, -EIO, "PostgreSQL not reachable: %s", PQerrorMessage(p->c));
    if (!p->writable) {
        PGresult *r = PQexec(p->c, "SET default_transaction_read_only = on");
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            return pg_fail(p, "opening the spool", NULL);
    }
    return 0;
}

/* Runs sql with n text parameters (NULL: SQL NULL); NULL with q's error
 * set when it did not give `want`. */
static PGresult *run(sq_pg *p, const char *sql, int n, const char *const *v,
                     ExecStatusType want, const char *what)
{
    PGresult *r = PQexecParams(p->c, sql, n, NULL, v, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != want) {
        pg_fail(p, what, r);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int exec0(sq_pg *p, const char *sql, const char *what)
{
    PGresult *r = run(p, sql, 0, NULL, PGRES_COMMAND_OK, what);
    PQclear(r);
    return r ? 0 : -EIO;
}

static int64_t col_i(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static const char *col_s(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* type as a LIKE pattern: * and ? the wildcards, every other character
 * itself (\, % and _ escaped with \, LIKE's default escape). */
static char *like_of(const char *type)
{
    char *l = malloc(strlen(type) * 2 + 1), *w = l;
    for (const char *s = type; l && *s; s++) {
        if (*s == '*') {
            *w++ = '%';
        } else if (*s == '?') {
            *w++ = '_';
        } else {
            if (*s == '\\' || *s == '%' || *s == '_')
                *w++ = '\\';
            *w++ = *s;
        }
    }
    if (l)
        *w = '\0';
    return l;
}

/* ---------- listings ---------- */

/* The seven parameters of SQL_EVENTS / SQL_DEAD in v (buffers in b). */
typedef struct params {
    char since[24], c1[24], c2[24], limit[24];
    char *like;
    const char *v[7];
} params;

static int bind_list(sq_pg *p, const sq_filter *f, int dead, params *b)
{
    memset(b, 0, sizeof *b);
    if (f->type && !(b->like = like_of(f->type)))
        return sq_no_memory(&p->q);
    snprintf(b->since, sizeof b->since, "%" PRId64, f->since);
    snprintf(b->c1, sizeof b->c1, "%" PRId64, f->c1);
    snprintf(b->c2, sizeof b->c2, "%" PRId64, f->c2);
    snprintf(b->limit, sizeof b->limit, "%" PRId64, f->limit + 1); /* one more: a next page? */
    b->v[0] = f->source;
    b->v[1] = b->like;
    b->v[2] = f->since == INT64_MIN ? NULL : b->since;
    b->v[3] = f->has_cursor ? b->c1 : dead ? NULL : "9223372036854775807";
    b->v[4] = f->plugin;
    b->v[5] = dead ? (f->has_cursor ? b->c2 : NULL) : f->status;
    b->v[6] = b->limit;
    return 0;
}

static int list(sq_pg *p, const sq_filter *f, int dead, json_t *rows, char **next)
{
    params b;
    int rc = ready(p);
    if (rc || (rc = bind_list(p, f, dead, &b)))
        return rc;
    PGresult *r = run(p, dead ? SQL_DEAD : SQL_EVENTS, 7, b.v, PGRES_TUPLES_OK,
                      dead ? "reading the dead letters" : "reading the events");
    free(b.like);
    if (!r)
        return -EIO;
    int n = PQntuples(r), page = n > f->limit ? (int)f->limit : n;
    for (int i = 0; i < page && !rc; i++) {
        json_t *row =
            dead ? sq_dead_row(col_i(r, i, 0), col_s(r, i, 1), col_s(r, i, 2), col_s(r, i, 3),
                               col_s(r, i, 4), col_i(r, i, 5), col_s(r, i, 6), col_i(r, i, 7))
                 : sq_event_row(col_s(r, i, 1), col_s(r, i, 2), col_s(r, i, 3),
                                col_i(r, i, 4), col_i(r, i, 5), col_i(r, i, 6),
                                col_i(r, i, 7));
        if (json_array_append_new(rows, row) != 0)
            rc = sq_no_memory(&p->q);
    }
    if (!rc && n > page) {
        int last = page - 1;
        *next = dead ? sq_cursor2(col_i(r, last, 7), col_i(r, last, 0))
                     : sq_cursor1(col_i(r, last, 0));
        if (!*next)
            rc = sq_no_memory(&p->q);
    }
    PQclear(r);
    return rc;
}

static int q_events(hookd_spool_q *q, const sq_filter *f, json_t *rows, char **next)
{
    return list(P(q), f, 0, rows, next);
}

static int q_dead(hookd_spool_q *q, const sq_filter *f, json_t *rows, char **next)
{
    return list(P(q), f, 1, rows, next);
}

/* ---------- one event ---------- */

/* A bytea column (text format) unescaped: *out for PQfreemem, NULL for a
 * NULL column. -1 on no memory. */
static int col_bytes(const PGresult *r, int row, int col, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (PQgetisnull(r, row, col))
        return 0;
    *out = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), len);
    return *out ? 0 : -1;
}

static int load_event(sq_pg *p, const char *id, json_t **doc)
{
    PGresult *e = run(p, SQL_EVENT, 1, &id, PGRES_TUPLES_OK, "reading the event"), *d = NULL;
    if (!e)
        return -EIO;
    if (PQntuples(e) == 0) {
        PQclear(e);
        return sq_fail(&p->q, -ENOENT, "no event %s in the spool", id);
    }
    unsigned char *body = NULL, *headers = NULL, *enr = NULL;
    size_t body_len, headers_len, enr_len;
    int rc = 0;
    if (col_bytes(e, 0, 5, &body, &body_len) || col_bytes(e, 0, 6, &headers, &headers_len) ||
        col_bytes(e, 0, 7, &enr, &enr_len) ||
        !(*doc = sq_event_doc(col_s(e, 0, 1), col_s(e, 0, 2), col_s(e, 0, 3), col_i(e, 0, 4),
                              headers, headers_len, body, body_len, enr, enr_len)))
        rc = sq_no_memory(&p->q);
    const char *seq = PQgetvalue(e, 0, 0);
    if (!rc && !(d = run(p, SQL_DELIVERIES, 1, &seq, PGRES_TUPLES_OK, "reading the deliveries")))
        rc = -EIO;
    json_t *dels = json_object_get(*doc, "deliveries"), *hist = NULL;
    int64_t last = 0;
    for (int i = 0; !rc && i < PQntuples(d); i++) {
        int64_t did = col_i(d, i, 0);
        if (!hist || did != last) { /* rows come by delivery, then attempt */
            json_t *del = sq_delivery(did, col_s(d, i, 1), col_s(d, i, 2), col_i(d, i, 3),
                                      col_i(d, i, 4), col_i(d, i, 5), col_s(d, i, 6));
            hist = json_object_get(del, "history");
            last = did;
            if (!hist || json_array_append_new(dels, del) != 0) {
                rc = sq_no_memory(&p->q);
                break;
            }
        }
        if (PQgetisnull(d, i, 7))
            continue; /* no attempt yet */
        int64_t retry = col_i(d, i, 12);
        json_t *a = sq_attempt(col_i(d, i, 7), col_i(d, i, 8), col_i(d, i, 9), col_s(d, i, 10),
                               col_s(d, i, 11), PQgetisnull(d, i, 12) ? NULL : &retry);
        if (json_array_append_new(hist, a) != 0)
            rc = sq_no_memory(&p->q);
    }
    PQfreemem(body);
    PQfreemem(headers);
    PQfreemem(enr);
    PQclear(e);
    PQclear(d);
    return rc;
}

/* One snapshot for the reads that follow (ended by COMMIT). */
static int begin_read(sq_pg *p)
{
    int rc = ready(p);
    return rc ? rc
              : exec0(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                      "reading the spool");
}

static int q_event(hookd_spool_q *q, const char *id, json_t **doc)
{
    sq_pg *p = P(q);
    int rc = begin_read(p);
    if (rc)
        return rc;
    rc = load_event(p, id, doc);
    PQclear(PQexec(p->c, "COMMIT"));
    return rc;
}

/* ---------- replay ---------- */

/* After the updates: NOTIFY (when rows became due) and COMMIT, or ROLLBACK. */
static int end_write(sq_pg *p, int rc, int64_t count)
{
    if (!rc && count > 0)
        rc = exec0(p, "NOTIFY hookd_due", "replaying");
    if (!rc)
        rc = exec0(p, "COMMIT", "replaying");
    if (rc)
        PQclear(PQexec(p->c, "ROLLBACK"));
    return rc;
}

/* Runs an UPDATE; *count += the rows it changed. */
static int update(sq_pg *p, const char *sql, int n, const char *const *v, int64_t *count)
{
    PGresult *r = run(p, sql, n, v, PGRES_COMMAND_OK, "replaying");
    if (!r)
        return -EIO;
    *count += strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

static int q_replay_events(hookd_spool_q *q, const char *const *ids, size_t nids,
                           const char *const *plugins, size_t nplugins, int64_t now,
                           int64_t *count)
{
    sq_pg *p = P(q);
    char nw[24];
    snprintf(nw, sizeof nw, "%" PRId64, now);
    int rc = ready(p);
    if (rc || (rc = exec0(p, "BEGIN", "replaying")))
        return rc;
    for (size_t i = 0; !rc && i < nids; i++) {
        PGresult *f = run(p, SQL_FIND, 1, &ids[i], PGRES_TUPLES_OK, "replaying");
        if (!f) {
            rc = -EIO;
            break;
        }
        if (PQntuples(f) == 0)
            rc = sq_fail(&p->q, -ENOENT, "no event %s in the spool", ids[i]);
        size_t np = nplugins ? nplugins : 1;
        for (size_t k = 0; !rc && k < np; k++) {
            const char *v[3] = {nw, PQgetvalue(f, 0, 0), nplugins ? plugins[k] : NULL};
            rc = update(p, SQL_REPLAY_EVENT, 3, v, count);
        }
        PQclear(f);
    }
    return end_write(p, rc, *count);
}

static int q_replay_dead(hookd_spool_q *q, const sq_filter *f, const int64_t *ids, size_t n,
                         int64_t now, int64_t *count)
{
    sq_pg *p = P(q);
    char nw[24];
    params b;
    snprintf(nw, sizeof nw, "%" PRId64, now);
    int rc = ready(p);
    if (rc || (rc = f ? bind_list(p, f, 1, &b) : 0))
        return rc;
    char *arr = f ? NULL : hookd_pg_int_array(ids, n);
    if (!f && !arr)
        return sq_no_memory(&p->q);
    if (!(rc = exec0(p, "BEGIN", "replaying"))) {
        if (f) {
            const char *v[5] = {nw, b.v[0], b.v[1], b.v[2], b.v[4]};
            rc = update(p, SQL_REPLAY_DEAD, 5, v, count);
        } else {
            const char *v[2] = {nw, arr};
            rc = update(p, SQL_REPLAY_IDS, 2, v, count);
        }
        rc = end_write(p, rc, *count);
    }
    if (f)
        free(b.like);
    free(arr);
    return rc;
}

/* ---------- stats ---------- */

static int stats_read(sq_pg *p, int64_t now, json_t **doc)
{
    char hour[24], start_s[24];
    int64_t start = sq_minutes_start(now), counts[60] = {0}, oldest = 0;
    int64_t pending = 0, retrying = 0, dead = 0;
    snprintf(hour, sizeof hour, "%" PRId64, now - SQ_HOUR_MS);
    snprintf(start_s, sizeof start_s, "%" PRId64, start);
    const char *hv = hour, *sv = start_s;
    PGresult *st = run(p, SQL_STATS_STATES, 0, NULL, PGRES_TUPLES_OK, "counting deliveries");
    PGresult *ol = st ? run(p, SQL_STATS_OLDEST, 0, NULL, PGRES_TUPLES_OK, "counting") : NULL;
    PGresult *hr = ol ? run(p, SQL_STATS_HOUR, 1, &hv, PGRES_TUPLES_OK, "counting") : NULL;
    PGresult *mn = hr ? run(p, SQL_STATS_MINUTES, 1, &sv, PGRES_TUPLES_OK, "counting") : NULL;
    int rc = mn ? 0 : -EIO;
    for (int i = 0; !rc && i < PQntuples(mn); i++) {
        int64_t m = col_i(mn, i, 0);
        if (m >= 0 && m < 60)
            counts[m] = col_i(mn, i, 1);
    }
    int has_oldest = !rc && PQntuples(ol) == 1 && !PQgetisnull(ol, 0, 0);
    if (has_oldest)
        oldest = col_i(ol, 0, 0);
    if (!rc && !(*doc = sq_stats_doc(0, 0, 0, has_oldest ? &oldest : NULL, start, counts)))
        rc = sq_no_memory(&p->q);
    for (int i = 0; !rc && i < PQntuples(st); i++) {
        const char *plugin = col_s(st, i, 0), *state = col_s(st, i, 1);
        int64_t n = col_i(st, i, 2);
        if (strcmp(state, "pending") == 0) {
            pending += n;
            retrying += col_i(st, i, 3);
        } else if (strcmp(state, "dead") == 0) {
            dead += n;
        }
        if (sq_stats_plugin(*doc, plugin, state, n) != 0)
            rc = sq_no_memory(&p->q);
    }
    for (int i = 0; !rc && i < PQntuples(hr); i++)
        if (sq_stats_plugin(*doc, col_s(hr, i, 0), "ok_1h", col_i(hr, i, 1)) ||
            sq_stats_plugin(*doc, col_s(hr, i, 0), "failed_1h", col_i(hr, i, 2)))
            rc = sq_no_memory(&p->q);
    if (!rc && (json_object_set_new(*doc, "pending", json_integer(pending)) ||
                json_object_set_new(*doc, "retrying", json_integer(retrying)) ||
                json_object_set_new(*doc, "dead", json_integer(dead))))
        rc = sq_no_memory(&p->q);
    PQclear(st);
    PQclear(ol);
    PQclear(hr);
    PQclear(mn);
    return rc;
}

static int q_stats(hookd_spool_q *q, int64_t now, json_t **doc)
{
    sq_pg *p = P(q);
    int rc = begin_read(p);
    if (rc)
        return rc;
    rc = stats_read(p, now, doc);
    PQclear(PQexec(p->c, "COMMIT"));
    return rc;
}

/* ---------- open, close ---------- */

static void q_close(hookd_spool_q *q)
{
    sq_pg *p = P(q);
    PQfinish(p->c);
    free(p);
}

static const sq_ops pg_ops = {
    .name = "postgres",
    .events = q_events,
    .event = q_event,
    .dead = q_dead,
    .replay_events = q_replay_events,
    .replay_dead = q_replay_dead,
    .stats = q_stats,
    .close = q_close,
};

int hookd_spool_q_open_pg(const char *conninfo, int writable, hookd_spool_q **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    if (!conninfo || !*conninfo) {
        hookd_say(err, errlen, "spool.conninfo is not set");
        return -EINVAL;
    }
    sq_pg *p = calloc(1, sizeof *p);
    if (!p) {
        hookd_say(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->q.ops = &pg_ops;
    p->writable = writable;
    p->c = hookd_pg_connect(conninfo);
    int rc = 0;
    if (PQstatus(p->c) != CONNECTION_OK) {
        hookd_say(err, errlen, "PostgreSQL not reachable: %s", PQerrorMessage(p->c));
        rc = -EIO;
    } else {
        int v = hookd_pg_schema_version(p->c, err, errlen);
        if (v < 0) {
            rc = -EIO;
        } else if (v == 0) {
            hookd_say(err, errlen, "no hookd spool in this PostgreSQL database yet (the first"
                      " node to start creates it)");
            rc = -ENOENT;
        } else if (v > HOOKD_PG_SCHEMA) {
            hookd_say(err, errlen, "the PostgreSQL spool has schema %d; this hookd reads"
                      " schema %d", v, HOOKD_PG_SCHEMA);
            rc = -EIO;
        } else if (!writable) {
            /* The reading commands cannot change a row, whatever they run. */
            PGresult *r = PQexec(p->c, "SET default_transaction_read_only = on");
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                hookd_pg_why(err, errlen, "opening the spool", p->c, r);
                rc = -EIO;
            }
            PQclear(r);
        }
    }
    if (rc) {
        q_close(&p->q);
        return rc;
    }
    *out = &p->q;
    return 0;
}

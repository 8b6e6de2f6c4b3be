/* spool_copy: see spool_copy.h. The SQLite spool is read as `hookd events`
 * reads it, a second connection opened read-only: WAL readers never block
 * the daemon. Each batch is read in one SQLite read transaction (a
 * consistent picture of those events) and written in one PostgreSQL
 * transaction, so a failure loses only the batch it happened in and a run
 * again goes on where the last one stopped. Rows get new ids in PostgreSQL
 * (bigserial): a delivery's attempts follow the id its insert returned. */
#include "spool_copy.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/text.h"
#include "spool_pg_schema.h"
#include "spool_schema.h"

#define BUSY_TIMEOUT_MS 5000
#define MAX_BATCH 100000

/* ---------- SQL ---------- */

static const char SQL_EVENTS[] =
    "SELECT seq, id, source, type, received_at, body, headers, enrichment FROM events"
    " WHERE seq > ?1 ORDER BY seq LIMIT ?2";
/* Schema 1 had no enrichment column: read as it is, never upgraded here. */
static const char SQL_EVENTS_1[] =
    "SELECT seq, id, source, type, received_at, body, headers, NULL FROM events"
    " WHERE seq > ?1 ORDER BY seq LIMIT ?2";
static const char SQL_DELIVERIES[] =
    "SELECT id, plugin, state, attempts, round_start, next_at, updated_at, reason"
    " FROM deliveries WHERE event = ?1 ORDER BY id";
static const char SQL_ATTEMPTS[] =
    "SELECT n, started_at, duration_ms, result, reason, retry_at FROM attempts"
    " WHERE delivery = ?1 ORDER BY n";
/* Source names are never empty, so ('', '') is below every key. */
static const char SQL_DEDUP[] =
    "SELECT source, key, event, at FROM dedup WHERE (source, key) > (?1, ?2)"
    " ORDER BY source, key LIMIT ?3";

/* PostgreSQL's side, prepared once per connection. A pending delivery
 * arrives with no claim, lease or node: any node of the cluster takes it
 * when it is due. */
static const struct {
    const char *name, *sql;
} PG_SQL[] = {
    {"hookd_copy_event",
     "INSERT INTO hookd_events(id, source, type, received_at, body, headers, enrichment)"
     " VALUES($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING seq"},
    {"hookd_copy_delivery",
     "INSERT INTO hookd_deliveries(event, plugin, state, attempts, round_start, next_at,"
     " updated_at, reason) VALUES($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"},
    {"hookd_copy_attempt",
     "INSERT INTO hookd_attempts(delivery, n, started_at, duration_ms, result, reason,"
     " retry_at) VALUES($1, $2, $3, $4, $5, $6, $7)"},
    {"hookd_copy_dedup",
     "INSERT INTO hookd_dedup(source, key, event, at) VALUES($1, $2, $3, $4)"
     " ON CONFLICT (source, key) DO NOTHING RETURNING 1"},
};

typedef struct copier {
    const char *path;
    sqlite3 *db;
    int schema;
    sqlite3_stmt *ev, *dl, *at, *dd;
    PGconn *c;
    int batch;
    char *err;
    size_t errlen;
} copier;

/* ---------- the two ends ---------- */

static int sqlite_fail(copier *k, const char *what)
{
    hookd_say(k->err, k->errlen, "spool %s: %s: %s", k->path, what, sqlite3_errmsg(k->db));
    return -1;
}

static int open_sqlite(copier *k)
{
    struct stat st;
    if (stat(k->path, &st) != 0) {
        if (errno == ENOENT)
            hookd_say(k->err, k->errlen, "no spool at %s", k->path);
        else
            hookd_say(k->err, k->errlen, "spool %s: %s", k->path, strerror(errno));
        return -1;
    }
    int rc = sqlite3_open_v2(k->path, &k->db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        hookd_say(k->err, k->errlen, "spool %s: %s", k->path,
                  k->db ? sqlite3_errmsg(k->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_busy_timeout(k->db, BUSY_TIMEOUT_MS);
    sqlite3_stmt *q = NULL;
    int schema = -1;
    if (sqlite3_prepare_v2(k->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &q,
                           NULL) != SQLITE_OK) {
        sqlite3_finalize(q);
        return sqlite_fail(k, "not a hookd spool");
    }
    if (sqlite3_step(q) == SQLITE_ROW)
        schema = atoi((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    k->schema = schema > 0 ? schema : HOOKD_SPOOL_SCHEMA;
    if (k->schema > HOOKD_SPOOL_SCHEMA) {
        hookd_say(k->err, k->errlen, "spool %s has schema %d; this hookd reads schema %d",
                  k->path, k->schema, HOOKD_SPOOL_SCHEMA);
        return -1;
    }
    if (sqlite3_prepare_v2(k->db, k->schema == 1 ? SQL_EVENTS_1 : SQL_EVENTS, -1, &k->ev,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(k->db, SQL_DELIVERIES, -1, &k->dl, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(k->db, SQL_ATTEMPTS, -1, &k->at, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(k->db, SQL_DEDUP, -1, &k->dd, NULL) != SQLITE_OK)
        return sqlite_fail(k, "reading");
    return 0;
}

static int open_pg(copier *k, const char *conninfo, hookd_copy_stats *st)
{
    k->c = hookd_pg_connect(conninfo);
    if (PQstatus(k->c) != CONNECTION_OK) {
        /* libpq's words name the host and port, never the password. */
        hookd_say(k->err, k->errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(k->c));
        hookd_one_line(k->err);
        return -1;
    }
    const char *host = PQhost(k->c), *db = PQdb(k->c);
    snprintf(st->where, sizeof st->where, "PostgreSQL %s on %s", db ? db : "?",
             host && *host ? host : "localhost");
    char why[256];
    if (hookd_pg_schema_ensure(k->c, why, sizeof why) < 0) {
        hookd_say(k->err, k->errlen, "%s: %s", st->where, why);
        return -1;
    }
    for (size_t i = 0; i < sizeof PG_SQL / sizeof PG_SQL[0]; i++) {
        PGresult *r = PQprepare(k->c, PG_SQL[i].name, PG_SQL[i].sql, 0, NULL);
        int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            hookd_pg_why(k->err, k->errlen, "preparing the copy", k->c, r);
        PQclear(r);
        if (!ok)
            return -1;
    }
    return 0;
}

int hookd_copy_conninfo_ok(const char *conninfo)
{
    char *msg = NULL;
    PQconninfoOption *o = PQconninfoParse(conninfo, &msg);
    PQfreemem(msg);
    PQconninfoFree(o);
    return o != NULL;
}

/* ---------- one statement ---------- */

/* A column as a parameter: NULL for SQL NULL; blobs keep their length. */
typedef struct param {
    const char *v[8];
    int len[8], fmt[8];
    char num[8][24];
} param;

static void p_text(param *p, int i, sqlite3_stmt *s, int col)
{
    p->v[i] = (const char *)sqlite3_column_text(s, col); /* NULL for NULL */
    p->len[i] = p->fmt[i] = 0;
}

static void p_int(param *p, int i, sqlite3_stmt *s, int col)
{
    p->len[i] = p->fmt[i] = 0;
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        p->v[i] = NULL;
        return;
    }
    snprintf(p->num[i], sizeof p->num[i], "%" PRId64, (int64_t)sqlite3_column_int64(s, col));
    p->v[i] = p->num[i];
}

static void p_str(param *p, int i, const char *v)
{
    p->v[i] = v;
    p->len[i] = p->fmt[i] = 0;
}

/* Bytes, sent as binary bytea; 0, or -1 when over what one parameter holds. */
static int p_blob(param *p, int i, sqlite3_stmt *s, int col)
{
    int null = sqlite3_column_type(s, col) == SQLITE_NULL;
    const void *b = sqlite3_column_blob(s, col);
    int n = sqlite3_column_bytes(s, col);
    /* A zero-length blob reads as a NULL pointer: libpq would send SQL NULL. */
    p->v[i] = null ? NULL : b ? b : "";
    p->len[i] = n;
    p->fmt[i] = 1;
    return n >= 0 && n < INT_MAX ? 0 : -1;
}

/* The prepared statement `name` with p; the result when it gave `want`, else
 * NULL with err naming `what`. */
static PGresult *pg_run(copier *k, const char *name, int n, const param *p, const char *what)
{
    PGresult *r = PQexecPrepared(k->c, name, n, p->v, p->len, p->fmt, 0);
    if (r && (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK))
        return r;
    hookd_pg_why(k->err, k->errlen, what, k->c, r);
    PQclear(r);
    return NULL;
}

static int pg_exec(copier *k, const char *sql)
{
    PGresult *r = PQexec(k->c, sql);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        hookd_pg_why(k->err, k->errlen, sql, k->c, r);
    PQclear(r);
    return ok ? 0 : -1;
}

/* ---------- events, deliveries, attempts ---------- */

static int copy_attempts(copier *k, int64_t from, const char *to, hookd_copy_stats *b)
{
    sqlite3_reset(k->at);
    sqlite3_bind_int64(k->at, 1, from);
    int rc;
    while ((rc = sqlite3_step(k->at)) == SQLITE_ROW) {
        param p;
        p_str(&p, 0, to);
        p_int(&p, 1, k->at, 0);
        p_int(&p, 2, k->at, 1);
        p_int(&p, 3, k->at, 2);
        p_text(&p, 4, k->at, 3);
        p_text(&p, 5, k->at, 4);
        p_int(&p, 6, k->at, 5);
        PGresult *r = pg_run(k, "hookd_copy_attempt", 7, &p, "storing an attempt");
        if (!r)
            return -1;
        PQclear(r);
        b->attempts++;
    }
    return rc == SQLITE_DONE ? 0 : sqlite_fail(k, "reading attempts");
}

static int copy_deliveries(copier *k, int64_t from, const char *to, hookd_copy_stats *b)
{
    sqlite3_reset(k->dl);
    sqlite3_bind_int64(k->dl, 1, from);
    int rc;
    while ((rc = sqlite3_step(k->dl)) == SQLITE_ROW) {
        param p;
        p_str(&p, 0, to);
        for (int i = 1; i < 8; i++)
            if (i == 1 || i == 2 || i == 7)
                p_text(&p, i, k->dl, i);
            else
                p_int(&p, i, k->dl, i);
        const char *state = p.v[2] ? p.v[2] : "";
        PGresult *r = pg_run(k, "hookd_copy_delivery", 8, &p, "storing a delivery");
        if (!r)
            return -1;
        char id[24];
        snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        b->deliveries++;
        b->pending += strcmp(state, "pending") == 0;
        b->delivered += strcmp(state, "delivered") == 0;
        b->dead += strcmp(state, "dead") == 0;
        /* The attempts statement is a third cursor, nested in this one. */
        if (copy_attempts(k, sqlite3_column_int64(k->dl, 0), id, b) < 0)
            return -1;
    }
    return rc == SQLITE_DONE ? 0 : sqlite_fail(k, "reading deliveries");
}

/* One event: 1 copied, 0 already there, -1 failed. */
static int copy_event(copier *k, hookd_copy_stats *b)
{
    param p;
    for (int i = 0; i < 3; i++)
        p_text(&p, i, k->ev, i + 1);
    p_int(&p, 3, k->ev, 4);
    if (p_blob(&p, 4, k->ev, 5) < 0 || p_blob(&p, 5, k->ev, 6) < 0 ||
        p_blob(&p, 6, k->ev, 7) < 0) {
        hookd_say(k->err, k->errlen, "spool %s: event %s is too big", k->path,
                  p.v[0] ? p.v[0] : "?");
        return -1;
    }
    char what[64];
    hookd_say(what, sizeof what, "storing event %s", p.v[0] ? p.v[0] : "?");
    PGresult *r = pg_run(k, "hookd_copy_event", 7, &p, what);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) { /* ON CONFLICT: a run before copied it */
        PQclear(r);
        b->skipped++;
        return 0;
    }
    char seq[24];
    snprintf(seq, sizeof seq, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    b->events++;
    return copy_deliveries(k, sqlite3_column_int64(k->ev, 0), seq, b) < 0 ? -1 : 1;
}

static void add(hookd_copy_stats *st, const hookd_copy_stats *b)
{
    st->events += b->events;
    st->skipped += b->skipped;
    st->deliveries += b->deliveries;
    st->pending += b->pending;
    st->delivered += b->delivered;
    st->dead += b->dead;
    st->attempts += b->attempts;
    st->dedup += b->dedup;
}

/* Ends a batch: PostgreSQL's COMMIT first (what counts), then the SQLite
 * read transaction; on failure both are rolled back. */
static int finish(copier *k, int ok)
{
    if (ok && pg_exec(k, "COMMIT") < 0)
        ok = 0;
    if (!ok && PQtransactionStatus(k->c) != PQTRANS_IDLE)
        PQclear(PQexec(k->c, "ROLLBACK"));
    sqlite3_exec(k->db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return ok ? 0 : -1;
}

/* The next batch of events after seq *last: the number read, or -1. */
static int event_batch(copier *k, int64_t *last, hookd_copy_stats *st)
{
    hookd_copy_stats b = {0};
    int n = 0, rc;
    if (sqlite3_exec(k->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sqlite_fail(k, "reading");
    if (pg_exec(k, "BEGIN") < 0) {
        sqlite3_exec(k->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    sqlite3_reset(k->ev);
    sqlite3_bind_int64(k->ev, 1, *last);
    sqlite3_bind_int(k->ev, 2, k->batch);
    while ((rc = sqlite3_step(k->ev)) == SQLITE_ROW) {
        if (copy_event(k, &b) < 0)
            return finish(k, 0);
        *last = sqlite3_column_int64(k->ev, 0);
        n++;
    }
    if (rc != SQLITE_DONE) {
        sqlite_fail(k, "reading events");
        return finish(k, 0);
    }
    sqlite3_reset(k->ev);
    /* Pending rows are new work for the cluster: wake its idle nodes. */
    if (b.pending && pg_exec(k, "NOTIFY hookd_due") < 0)
        return finish(k, 0);
    if (finish(k, 1) < 0)
        return -1;
    add(st, &b);
    return n;
}

/* The next batch of dedup keys after (*src, *key): the number read, or -1. */
static int dedup_batch(copier *k, char **src, char **key, hookd_copy_stats *st)
{
    hookd_copy_stats b = {0};
    int n = 0, rc;
    if (sqlite3_exec(k->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sqlite_fail(k, "reading");
    if (pg_exec(k, "BEGIN") < 0) {
        sqlite3_exec(k->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    sqlite3_reset(k->dd);
    sqlite3_bind_text(k->dd, 1, *src, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(k->dd, 2, *key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(k->dd, 3, k->batch);
    while ((rc = sqlite3_step(k->dd)) == SQLITE_ROW) {
        param p;
        p_text(&p, 0, k->dd, 0);
        p_text(&p, 1, k->dd, 1);
        p_text(&p, 2, k->dd, 2);
        p_int(&p, 3, k->dd, 3);
        PGresult *r = pg_run(k, "hookd_copy_dedup", 4, &p, "storing a dedup key");
        if (!r)
            return finish(k, 0);
        b.dedup += PQntuples(r);
        PQclear(r);
        char *s = strdup(p.v[0] ? p.v[0] : ""), *kk = strdup(p.v[1] ? p.v[1] : "");
        free(*src);
        free(*key);
        *src = s;
        *key = kk;
        if (!s || !kk) {
            hookd_say(k->err, k->errlen, "out of memory");
            return finish(k, 0);
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        sqlite_fail(k, "reading dedup keys");
        return finish(k, 0);
    }
    sqlite3_reset(k->dd);
    if (finish(k, 1) < 0)
        return -1;
    add(st, &b);
    return n;
}

int hookd_spool_copy(const char *path, const char *conninfo, int batch, hookd_copy_stats *st,
                     char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    copier k = {.path = path ? path : "(none)", .err = err, .errlen = errlen,
                .batch = batch <= 0 ? HOOKD_COPY_BATCH : batch > MAX_BATCH ? MAX_BATCH : batch};
    int rc = open_sqlite(&k);
    if (rc == 0)
        rc = open_pg(&k, conninfo ? conninfo : "", st);
    int64_t last = 0;
    int n = k.batch;
    while (rc == 0 && n == k.batch)
        rc = (n = event_batch(&k, &last, st)) < 0 ? -1 : 0;
    char *src = strdup(""), *key = strdup("");
    if (rc == 0 && (!src || !key)) {
        hookd_say(err, errlen, "out of memory");
        rc = -1;
    }
    n = k.batch;
    while (rc == 0 && n == k.batch)
        rc = (n = dedup_batch(&k, &src, &key, st)) < 0 ? -1 : 0;
    free(src);
    free(key);
    sqlite3_finalize(k.ev);
    sqlite3_finalize(k.dl);
    sqlite3_finalize(k.at);
    sqlite3_finalize(k.dd);
    sqlite3_close(k.db);
    PQfinish(k.c);
    return rc;
}

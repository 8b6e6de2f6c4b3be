/* spool_query_sqlite: spool_query.h on the daemon's SQLite file, as a
 * second connection (WAL: readers never block the daemon, the one writer
 * waits for its turn). Only replay writes, in one BEGIN IMMEDIATE
 * transaction; a running daemon notices the commit (PRAGMA data_version) on
 * its next housekeeping pass and takes the rows whose claim is not its own.
 * Every value is a bound parameter. */
#include "spool_query_impl.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/text.h"
#include "spool_schema.h"

#define BUSY_TIMEOUT_MS 5000

/* ---------- SQL ---------- */

/* The filters every listing shares. :since is NULL for "any"; under a
 * since the first seq received then bounds the scan (the index on
 * received_at finds it), and the outer received_at test is kept off that
 * index (+) so that the rows still come in seq order and LIMIT stops the
 * scan early. */
#define EVENT_FILTERS                                                                      \
    " (:source IS NULL OR e.source = :source) AND (:type IS NULL OR e.type GLOB :type)"    \
    " AND (:since IS NULL OR +e.received_at >= :since) AND e.seq >= CASE WHEN :since IS"   \
    " NULL THEN 0 ELSE ifnull((SELECT min(seq) FROM events WHERE received_at >= :since),"  \
    " 9223372036854775807) END"
/* The same for the dead letters, which come from their partial index. */
#define DEAD_FILTERS                                                                       \
    " (:source IS NULL OR e.source = :source) AND (:type IS NULL OR e.type GLOB :type)"    \
    " AND (:since IS NULL OR e.received_at >= :since)"

static const char SQL_EVENTS[] =
    "SELECT e.seq, e.id, e.source, e.type, e.received_at,"
    " ifnull(sum(d.state = 'pending'), 0), ifnull(sum(d.state = 'delivered'), 0),"
    " ifnull(sum(d.state = 'dead'), 0)"
    " FROM events e LEFT JOIN deliveries d ON d.event = e.seq"
    " WHERE" EVENT_FILTERS " AND e.seq < :cursor" /* INT64_MAX: the first page */
    " AND (:plugin IS NULL OR EXISTS (SELECT 1 FROM deliveries p"
    " WHERE p.event = e.seq AND p.plugin = :plugin))"
    " GROUP BY e.seq"
    " HAVING :status IS NULL OR (:status = 'pending' AND sum(d.state = 'pending') > 0)"
    " OR (:status = 'dead' AND sum(d.state = 'dead') > 0)"
    " OR (:status = 'delivered' AND count(d.id) > 0 AND sum(d.state = 'delivered') = count(d.id))"
    " ORDER BY e.seq DESC LIMIT :limit";

static const char SQL_DEAD[] =
    "SELECT d.id, e.id, e.source, e.type, d.plugin, d.attempts, d.reason, d.updated_at"
    " FROM deliveries d JOIN events e ON e.seq = d.event"
    " WHERE d.state = 'dead' AND (:plugin IS NULL OR d.plugin = :plugin) AND" DEAD_FILTERS
    " AND (:cat IS NULL OR d.updated_at > :cat OR (d.updated_at = :cat AND d.id > :cid))"
    " ORDER BY d.updated_at, d.id LIMIT :limit";

static const char SQL_EVENT[] =
    "SELECT seq, id, source, type, received_at, body, headers, enrichment FROM events"
    " WHERE id = :id";
/* Schema 1 had no enrichment column: the daemon adds it, this only reads. */
static const char SQL_EVENT_1[] =
    "SELECT seq, id, source, type, received_at, body, headers, NULL FROM events"
    " WHERE id = :id";
static const char SQL_DELIVERIES[] =
    "SELECT id, plugin, state, attempts, next_at, updated_at, reason"
    " FROM deliveries WHERE event = :seq ORDER BY id";
static const char SQL_ATTEMPTS[] =
    "SELECT n, started_at, duration_ms, result, reason, retry_at"
    " FROM attempts WHERE delivery = :delivery ORDER BY n";

/* A replayed delivery starts a new round: the retry budget counts from here. */
#define REPLAY_SET                                                                   \
    "UPDATE deliveries SET state = 'pending', claim = NULL, round_start = attempts," \
    " next_at = :now, updated_at = :now"
/* A pending delivery is already going to run (a daemon may hold it in
 * memory): releasing its claim would deliver it twice. */
static const char SQL_REPLAY_EVENT[] =
    REPLAY_SET " WHERE event = :seq AND state <> 'pending'"
    " AND (:plugin IS NULL OR plugin = :plugin)";
static const char SQL_REPLAY_ID[] = REPLAY_SET " WHERE id = :id AND state = 'dead'";
static const char SQL_REPLAY_DEAD[] =
    REPLAY_SET " WHERE state = 'dead' AND (:plugin IS NULL OR plugin = :plugin)"
    " AND ((:source IS NULL AND :type IS NULL AND :since IS NULL) OR EXISTS (SELECT 1"
    " FROM events e WHERE e.seq = deliveries.event AND" DEAD_FILTERS "))";

/* The counts scan the deliveries table (one row per plugin and state). */
static const char SQL_STATS_STATES[] =
    "SELECT plugin, state, count(*), sum(attempts > 0) FROM deliveries GROUP BY plugin, state";
static const char SQL_STATS_OLDEST[] =
    "SELECT min(e.received_at) FROM deliveries d JOIN events e ON e.seq = d.event"
    " WHERE d.state = 'pending'";
/* An attempt of the last hour left its delivery's updated_at in it too:
 * the deliveries are scanned, the attempts only looked up by their key
 * (CROSS JOIN keeps SQLite to that order). */
static const char SQL_STATS_HOUR[] =
    "SELECT d.plugin, sum(a.result = 'ok'), sum(a.result <> 'ok')"
    " FROM deliveries d CROSS JOIN attempts a ON a.delivery = d.id"
    " WHERE d.updated_at >= :hour AND a.started_at >= :hour GROUP BY d.plugin";
/* On the received_at index, the last hour only. */
static const char SQL_STATS_MINUTES[] =
    "SELECT (received_at - :start) / 60000, count(*) FROM events"
    " WHERE received_at >= :start AND received_at < :end GROUP BY 1";

/* ---------- the connection ---------- */

typedef struct sq_sqlite {
    hookd_spool_q q;
    sqlite3 *db;
    char *path;
    int schema; /* 1 or HOOKD_SPOOL_SCHEMA (no row: taken as ours) */
} sq_sqlite;

static sq_sqlite *S(hookd_spool_q *q)
{
    return (sq_sqlite *)q;
}

static int sql_fail(sq_sqlite *s)
{
    return sq_fail(&s->q, -EIO, "spool %s: %s", s->path, sqlite3_errmsg(s->db));
}

/* NULL on failure, with the reason left in sqlite3_errmsg(). */
static sqlite3_stmt *prepare(sq_sqlite *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(s->db, sql, -1, &st, NULL); /* st stays NULL on failure */
    return st;
}

/* Named parameters a statement does not have are skipped, so one set of
 * filters binds every query. */
static int bind_text(sqlite3_stmt *st, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    return !i ? SQLITE_OK
              : v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static int bind_int(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    return i ? sqlite3_bind_int64(st, i, v) : SQLITE_OK;
}

static int bind_opt(sqlite3_stmt *st, const char *name, int has, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    return !i ? SQLITE_OK : has ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

/* type as a GLOB where only * and ? are wildcards: '[' is made literal. */
static char *glob_of(const char *type)
{
    char *g = malloc(strlen(type) * 3 + 1), *w = g;
    for (const char *p = type; g && *p; p++) {
        if (*p == '[') {
            memcpy(w, "[[]", 3);
            w += 3;
        } else {
            *w++ = *p;
        }
    }
    if (g)
        *w = '\0';
    return g;
}

/* Binds f (and :limit = f->limit + 1: one more tells whether a page follows). */
static int bind_filter(sq_sqlite *s, sqlite3_stmt *st, const sq_filter *f)
{
    char *glob = f->type ? glob_of(f->type) : NULL;
    if (f->type && !glob)
        return sq_no_memory(&s->q);
    int bad = bind_text(st, ":source", f->source) || bind_text(st, ":type", glob) ||
              bind_text(st, ":plugin", f->plugin) || bind_text(st, ":status", f->status) ||
              bind_opt(st, ":since", f->since != INT64_MIN, f->since) ||
              bind_int(st, ":cursor", f->has_cursor ? f->c1 : INT64_MAX) ||
              bind_opt(st, ":cat", f->has_cursor, f->c1) ||
              bind_opt(st, ":cid", f->has_cursor, f->c2) ||
              bind_int(st, ":limit", f->limit + 1);
    free(glob);
    return bad ? sql_fail(s) : 0;
}

static const char *col_s(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int64_t col_i(sqlite3_stmt *st, int i)
{
    return sqlite3_column_int64(st, i);
}

/* ---------- listings ---------- */

static int list(sq_sqlite *s, const char *sql, const sq_filter *f, int dead, json_t *rows,
                char **next)
{
    sqlite3_stmt *st = prepare(s, sql);
    if (!st)
        return sql_fail(s);
    int rc = bind_filter(s, st, f), step = SQLITE_DONE;
    int64_t n = 0, k1 = 0, k2 = 0; /* the last row's cursor */
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ == f->limit) { /* one past the page: another follows */
            *next = dead ? sq_cursor2(k1, k2) : sq_cursor1(k1);
            if (!*next)
                rc = sq_no_memory(&s->q);
            break;
        }
        json_t *row;
        if (dead) {
            row = sq_dead_row(col_i(st, 0), col_s(st, 1), col_s(st, 2), col_s(st, 3),
                              col_s(st, 4), col_i(st, 5), col_s(st, 6), col_i(st, 7));
            k1 = col_i(st, 7);
            k2 = col_i(st, 0);
        } else {
            row = sq_event_row(col_s(st, 1), col_s(st, 2), col_s(st, 3), col_i(st, 4),
                               col_i(st, 5), col_i(st, 6), col_i(st, 7));
            k1 = col_i(st, 0);
        }
        if (json_array_append_new(rows, row) != 0)
            rc = sq_no_memory(&s->q);
    }
    if (!rc && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sql_fail(s);
    sqlite3_finalize(st);
    return rc;
}

static int q_events(hookd_spool_q *q, const sq_filter *f, json_t *rows, char **next)
{
    return list(S(q), SQL_EVENTS, f, 0, rows, next);
}

static int q_dead(hookd_spool_q *q, const sq_filter *f, json_t *rows, char **next)
{
    return list(S(q), SQL_DEAD, f, 1, rows, next);
}

/* ---------- one event ---------- */

/* Inside the caller's read transaction. */
static int load_event(sq_sqlite *s, const char *id, json_t **doc)
{
    sqlite3_stmt *e = NULL, *d = NULL, *t = NULL;
    int rc = 0, step;
    if (!(e = prepare(s, s->schema == 1 ? SQL_EVENT_1 : SQL_EVENT)) ||
        !(d = prepare(s, SQL_DELIVERIES)) || !(t = prepare(s, SQL_ATTEMPTS)) ||
        bind_text(e, ":id", id) != SQLITE_OK) {
        rc = sql_fail(s);
        goto done;
    }
    step = sqlite3_step(e);
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE ? sq_fail(&s->q, -ENOENT, "no event %s in the spool", id)
                                 : sql_fail(s);
        goto done;
    }
    *doc = sq_event_doc(col_s(e, 1), col_s(e, 2), col_s(e, 3), col_i(e, 4),
                        sqlite3_column_blob(e, 6), (size_t)sqlite3_column_bytes(e, 6),
                        sqlite3_column_blob(e, 5), (size_t)sqlite3_column_bytes(e, 5),
                        sqlite3_column_type(e, 7) == SQLITE_NULL ? NULL
                                                                 : sqlite3_column_blob(e, 7),
                        (size_t)sqlite3_column_bytes(e, 7));
    json_t *dels = json_object_get(*doc, "deliveries");
    if (!dels) {
        rc = sq_no_memory(&s->q);
        goto done;
    }
    bind_int(d, ":seq", col_i(e, 0));
    while (!rc && (step = sqlite3_step(d)) == SQLITE_ROW) {
        json_t *del = sq_delivery(col_i(d, 0), col_s(d, 1), col_s(d, 2), col_i(d, 3),
                                  col_i(d, 4), col_i(d, 5), col_s(d, 6));
        json_t *hist = json_object_get(del, "history");
        if (!hist || json_array_append_new(dels, del) != 0) {
            rc = sq_no_memory(&s->q);
            break;
        }
        sqlite3_reset(t);
        bind_int(t, ":delivery", col_i(d, 0));
        while (!rc && (step = sqlite3_step(t)) == SQLITE_ROW) {
            int64_t retry = col_i(t, 5);
            json_t *a = sq_attempt(col_i(t, 0), col_i(t, 1), col_i(t, 2), col_s(t, 3),
                                   col_s(t, 4),
                                   sqlite3_column_type(t, 5) == SQLITE_NULL ? NULL : &retry);
            if (json_array_append_new(hist, a) != 0)
                rc = sq_no_memory(&s->q);
        }
        if (!rc && step != SQLITE_DONE)
            rc = sql_fail(s);
    }
    if (!rc && step != SQLITE_DONE)
        rc = sql_fail(s);
done:
    sqlite3_finalize(e);
    sqlite3_finalize(d);
    sqlite3_finalize(t);
    return rc;
}

static int q_event(hookd_spool_q *q, const char *id, json_t **doc)
{
    sq_sqlite *s = S(q);
    /* One read transaction: the event and its attempts from one snapshot. */
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(s);
    int rc = load_event(s, id, doc);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* ---------- replay ---------- */

/* fn inside BEGIN IMMEDIATE: committed when it returns 0, else rolled back. */
static int write_tx(sq_sqlite *s, int (*fn)(sq_sqlite *, const void *, int64_t, int64_t *),
                    const void *arg, int64_t now, int64_t *count)
{
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(s);
    int rc = fn(s, arg, now, count);
    if (!rc && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = sql_fail(s);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

typedef struct replay_args {
    const char *const *ids;
    size_t nids;
    const char *const *plugins;
    size_t nplugins;
    const sq_filter *f;
    const int64_t *deliveries;
} replay_args;

/* One UPDATE step; *count += the rows it changed. */
static int run_update(sq_sqlite *s, sqlite3_stmt *st, int64_t *count)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return sql_fail(s);
    *count += sqlite3_changes(s->db);
    sqlite3_reset(st);
    return 0;
}

static int replay_events_tx(sq_sqlite *s, const void *arg, int64_t now, int64_t *count)
{
    const replay_args *a = arg;
    sqlite3_stmt *find = prepare(s, SQL_EVENT_1), *upd = prepare(s, SQL_REPLAY_EVENT);
    int rc = 0;
    if (!find || !upd || bind_int(upd, ":now", now) != SQLITE_OK)
        rc = sql_fail(s);
    for (size_t i = 0; !rc && i < a->nids; i++) {
        sqlite3_reset(find);
        bind_text(find, ":id", a->ids[i]);
        int step = sqlite3_step(find);
        if (step != SQLITE_ROW) {
            rc = step == SQLITE_DONE
                     ? sq_fail(&s->q, -ENOENT, "no event %s in the spool", a->ids[i])
                     : sql_fail(s);
            break;
        }
        bind_int(upd, ":seq", col_i(find, 0));
        size_t np = a->nplugins ? a->nplugins : 1;
        for (size_t p = 0; !rc && p < np; p++) {
            bind_text(upd, ":plugin", a->nplugins ? a->plugins[p] : NULL);
            rc = run_update(s, upd, count);
        }
    }
    sqlite3_finalize(find);
    sqlite3_finalize(upd);
    return rc;
}

static int q_replay_events(hookd_spool_q *q, const char *const *ids, size_t nids,
                           const char *const *plugins, size_t nplugins, int64_t now,
                           int64_t *count)
{
    replay_args a = {.ids = ids, .nids = nids, .plugins = plugins, .nplugins = nplugins};
    return write_tx(S(q), replay_events_tx, &a, now, count);
}

static int replay_dead_tx(sq_sqlite *s, const void *arg, int64_t now, int64_t *count)
{
    const replay_args *a = arg;
    sqlite3_stmt *upd = prepare(s, a->f ? SQL_REPLAY_DEAD : SQL_REPLAY_ID);
    int rc = !upd || bind_int(upd, ":now", now) != SQLITE_OK ? sql_fail(s) : 0;
    if (!rc && a->f && !(rc = bind_filter(s, upd, a->f)))
        rc = run_update(s, upd, count);
    for (size_t i = 0; !rc && !a->f && i < a->nids; i++) {
        bind_int(upd, ":id", a->deliveries[i]);
        rc = run_update(s, upd, count);
    }
    sqlite3_finalize(upd);
    return rc;
}

static int q_replay_dead(hookd_spool_q *q, const sq_filter *f, const int64_t *ids, size_t n,
                         int64_t now, int64_t *count)
{
    replay_args a = {.f = f, .deliveries = ids, .nids = n};
    return write_tx(S(q), replay_dead_tx, &a, now, count);
}

/* ---------- stats ---------- */

static int stats_read(sq_sqlite *s, int64_t now, json_t **doc)
{
    sqlite3_stmt *st = NULL, *ol = NULL, *hr = NULL, *mn = NULL;
    int64_t pending = 0, retrying = 0, dead = 0, oldest = 0, counts[60] = {0};
    int has_oldest = 0, rc = 0, step = SQLITE_DONE;
    int64_t start = sq_minutes_start(now);
    if (!(st = prepare(s, SQL_STATS_STATES)) || !(ol = prepare(s, SQL_STATS_OLDEST)) ||
        !(hr = prepare(s, SQL_STATS_HOUR)) || !(mn = prepare(s, SQL_STATS_MINUTES)) ||
        bind_int(hr, ":hour", now - SQ_HOUR_MS) || bind_int(mn, ":start", start) ||
        bind_int(mn, ":end", start + SQ_HOUR_MS)) {
        rc = sql_fail(s);
        goto done;
    }
    if ((step = sqlite3_step(ol)) == SQLITE_ROW && sqlite3_column_type(ol, 0) != SQLITE_NULL) {
        has_oldest = 1;
        oldest = col_i(ol, 0);
    }
    while (step == SQLITE_ROW && (step = sqlite3_step(mn)) == SQLITE_ROW) {
        int64_t m = col_i(mn, 0);
        if (m >= 0 && m < 60)
            counts[m] = col_i(mn, 1);
    }
    if (step != SQLITE_DONE) {
        rc = sql_fail(s);
        goto done;
    }
    /* The totals come with the per-plugin rows; the document is built
     * first and its totals set after. */
    *doc = sq_stats_doc(0, 0, 0, NULL, start, counts);
    if (!*doc) {
        rc = sq_no_memory(&s->q);
        goto done;
    }
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *state = col_s(st, 1);
        int64_t n = col_i(st, 2);
        if (!state || !col_s(st, 0))
            continue;
        if (strcmp(state, "pending") == 0) {
            pending += n;
            retrying += col_i(st, 3);
        } else if (strcmp(state, "dead") == 0) {
            dead += n;
        }
        if (sq_stats_plugin(*doc, col_s(st, 0), state, n) != 0)
            rc = sq_no_memory(&s->q);
    }
    if (!rc && step != SQLITE_DONE)
        rc = sql_fail(s);
    while (!rc && (step = sqlite3_step(hr)) == SQLITE_ROW)
        if (!col_s(hr, 0) || sq_stats_plugin(*doc, col_s(hr, 0), "ok_1h", col_i(hr, 1)) ||
            sq_stats_plugin(*doc, col_s(hr, 0), "failed_1h", col_i(hr, 2)))
            rc = sq_no_memory(&s->q);
    if (!rc && step != SQLITE_DONE)
        rc = sql_fail(s);
    if (!rc && (json_object_set_new(*doc, "pending", json_integer(pending)) ||
                json_object_set_new(*doc, "retrying", json_integer(retrying)) ||
                json_object_set_new(*doc, "dead", json_integer(dead)) ||
                json_object_set_new(*doc, "oldest_pending_at",
                                    sq_time_or_null(has_oldest ? &oldest : NULL))))
        rc = sq_no_memory(&s->q);
done:
    sqlite3_finalize(st);
    sqlite3_finalize(ol);
    sqlite3_finalize(hr);
    sqlite3_finalize(mn);
    return rc;
}

static int q_stats(hookd_spool_q *q, int64_t now, json_t **doc)
{
    sq_sqlite *s = S(q);
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sql_fail(s);
    int rc = stats_read(s, now, doc);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* ---------- open, close ---------- */

static void q_close(hookd_spool_q *q)
{
    sq_sqlite *s = S(q);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static const sq_ops sqlite_ops = {
    .name = "sqlite",
    .events = q_events,
    .event = q_event,
    .dead = q_dead,
    .replay_events = q_replay_events,
    .replay_dead = q_replay_dead,
    .stats = q_stats,
    .close = q_close,
};

/* Opens an existing spool; never creates one. */
int hookd_spool_q_open_sqlite(const char *path, int writable, hookd_spool_q **out, char *err,
                              size_t errlen)
{
    struct stat stt;
    *out = NULL;
    if (!path || stat(path, &stt) != 0) {
        int e = path ? errno : ENOENT;
        if (e == ENOENT)
            hookd_say(err, errlen, "no spool at %s", path ? path : "(none)");
        else
            hookd_say(err, errlen, "spool %s: %s", path, strerror(e));
        return e == ENOENT ? -ENOENT : -EIO;
    }
    sq_sqlite *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        hookd_say(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->q.ops = &sqlite_ops;
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        hookd_say(err, errlen, "spool %s: %s", path,
                  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        q_close(&s->q);
        return -EIO;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* The daemon upgrades a spool in place when it opens it; this never
     * changes its layout: it reads an older one as it is, and names a newer
     * one rather than misread it. */
    sqlite3_stmt *st = NULL;
    int schema = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        schema = atoi((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    s->schema = schema > 0 ? schema : HOOKD_SPOOL_SCHEMA; /* no row: nothing to tell */
    if (s->schema > HOOKD_SPOOL_SCHEMA) {
        hookd_say(err, errlen, "spool %s has schema %d; this hookd reads schema %d", path,
                  schema, HOOKD_SPOOL_SCHEMA);
        q_close(&s->q);
        return -EIO;
    }
    *out = &s->q;
    return 0;
}

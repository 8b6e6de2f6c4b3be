/* spool_cli: the inspection and replay commands over the spool (see
 * spool_cli.h). Every command first reads its rows into one jansson document;
 * --json dumps it and the text form is rendered from the same document, so
 * the two never disagree. Only replay writes, in one BEGIN IMMEDIATE
 * transaction; a running daemon notices the commit (PRAGMA data_version) on
 * its next housekeeping pass and takes the rows whose claim is not its own. */
#include "spool_cli.h"
#include "table.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"
#include "common/units.h"
#include "config/config.h"
#include "deliver/event.h"
#include "spool/spool_schema.h"
#include "base/clock.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 100000
#define BUSY_TIMEOUT_MS 5000

/* ---------- SQL (every value is a bound parameter) ---------- */

static const char SQL_EVENTS[] =
    "SELECT e.id, e.source, e.type, e.received_at,"
    " ifnull(sum(d.state = 'pending'), 0), ifnull(sum(d.state = 'delivered'), 0),"
    " ifnull(sum(d.state = 'dead'), 0)"
    " FROM events e LEFT JOIN deliveries d ON d.event = e.seq"
    " WHERE (:type IS NULL OR e.type GLOB :type) AND e.received_at >= :since"
    " GROUP BY e.seq ORDER BY e.seq DESC LIMIT :limit";

static const char SQL_DEAD[] =
    "SELECT d.id, e.id, e.source, e.type, d.plugin, d.attempts, d.reason, d.updated_at"
    " FROM deliveries d JOIN events e ON e.seq = d.event"
    " WHERE d.state = 'dead' AND (:plugin IS NULL OR d.plugin = :plugin)"
    " ORDER BY d.updated_at, d.id LIMIT :limit";

static const char SQL_EVENT[] =
    "SELECT seq, id, source, type, received_at, body, headers, enrichment FROM events"
    " WHERE id = :id";
/* Schema 1 had no enrichment column: the daemon adds it, the commands only read. */
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
static const char SQL_REPLAY_EVENT[] = REPLAY_SET " WHERE event = :seq AND state <> 'pending'";
static const char SQL_REPLAY_DEAD[] =
    REPLAY_SET " WHERE state = 'dead' AND (:plugin IS NULL OR plugin = :plugin)";

/* ---------- the connection ---------- */

typedef struct spool {
    sqlite3 *db;
    const char *path;
    int schema;                /* 1 or HOOKD_SPOOL_SCHEMA (no row: taken as ours) */
} spool;

static int sql_fail(const spool *sp)
{
    fprintf(stderr, "hookd: spool %s: %s\n", sp->path, sqlite3_errmsg(sp->db));
    return HOOKD_EXIT_RUNTIME;
}

static int no_memory(void)
{
    fprintf(stderr, "hookd: out of memory\n");
    return HOOKD_EXIT_RUNTIME;
}

/* Opens an existing spool; never creates one. */
static int spool_open(spool *sp, const char *path, int writable)
{
    struct stat st;
    sp->db = NULL;
    sp->path = path ? path : "(none)";
    if (!path || stat(path, &st) != 0) {
        if (!path || errno == ENOENT)
            fprintf(stderr, "hookd: no spool at %s\n", sp->path);
        else
            fprintf(stderr, "hookd: spool %s: %s\n", path, strerror(errno));
        return HOOKD_EXIT_RUNTIME;
    }
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    int rc = sqlite3_open_v2(path, &sp->db, flags, NULL);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "hookd: spool %s: %s\n", path,
                sp->db ? sqlite3_errmsg(sp->db) : sqlite3_errstr(rc));
        sqlite3_close(sp->db);
        sp->db = NULL;
        return HOOKD_EXIT_RUNTIME;
    }
    sqlite3_busy_timeout(sp->db, BUSY_TIMEOUT_MS);
    /* The daemon upgrades a spool in place when it opens it; the commands
     * never change its layout: they read an older one as it is, and name a
     * newer one rather than misread it. */
    sqlite3_stmt *q = NULL;
    int schema = -1;
    if (sqlite3_prepare_v2(sp->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        schema = atoi((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sp->schema = schema > 0 ? schema : HOOKD_SPOOL_SCHEMA; /* no row: nothing to tell */
    if (sp->schema > HOOKD_SPOOL_SCHEMA) {
        fprintf(stderr, "hookd: spool %s has schema %d; this hookd reads schema %d\n", path,
                schema, HOOKD_SPOOL_SCHEMA);
        sqlite3_close(sp->db);
        sp->db = NULL;
        return HOOKD_EXIT_RUNTIME;
    }
    return HOOKD_EXIT_OK;
}

static const char *event_sql(const spool *sp)
{
    return sp->schema == 1 ? SQL_EVENT_1 : SQL_EVENT;
}

/* NULL on failure, with the reason left in sqlite3_errmsg(). */
static sqlite3_stmt *prepare(const spool *sp, const char *sql)
{
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(sp->db, sql, -1, &s, NULL); /* s stays NULL on failure */
    return s;
}

/* Named parameters a statement does not have are skipped, so one set of
 * filters binds every query. */
static int bind_text(sqlite3_stmt *s, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(s, name);
    return !i ? SQLITE_OK
              : v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

static int bind_int(sqlite3_stmt *s, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(s, name);
    return i ? sqlite3_bind_int64(s, i, v) : SQLITE_OK;
}

/* ---------- arguments ---------- */

typedef struct filters {
    const char *type, *plugin; /* NULL: any */
    int64_t since;             /* received_at >= since */
    int64_t limit;
} filters;

static int parse_filters(const hookd_spool_cmd_args *a, filters *f)
{
    f->type = a->type;
    f->plugin = a->plugin;
    f->since = INT64_MIN;
    f->limit = a->limit <= 0 ? DEFAULT_LIMIT : a->limit > MAX_LIMIT ? MAX_LIMIT : a->limit;
    if (a->since) {
        int64_t d = hookd_parse_duration(a->since);
        if (d < 0) {
            fprintf(stderr, "hookd: --since \"%s\" is not a duration (e.g. 30s, 15m, 2h, 7d)\n",
                    a->since);
            return HOOKD_EXIT_USAGE;
        }
        f->since = hookd_now_ms() - d; /* d <= INT64_MAX and now > 0: no overflow */
    }
    return HOOKD_EXIT_OK;
}

static int bind_filters(sqlite3_stmt *s, const filters *f)
{
    if (bind_text(s, ":type", f->type) != SQLITE_OK ||
        bind_text(s, ":plugin", f->plugin) != SQLITE_OK ||
        bind_int(s, ":since", f->since) != SQLITE_OK)
        return SQLITE_ERROR;
    return bind_int(s, ":limit", f->limit);
}

/* Event ids are ULIDs: 26 characters of Crockford base32, upper case. */
static int check_ids(char *const *ids, size_t n)
{
    static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for (size_t i = 0; i < n; i++) {
        const char *id = ids[i];
        if (!id || strlen(id) != HOOKD_ID_LEN || strspn(id, crockford) != HOOKD_ID_LEN) {
            fprintf(stderr,
                    "hookd: \"%s\" is not an event id (26 characters of Crockford base32,"
                    " upper case)\n", id ? id : "");
            return HOOKD_EXIT_USAGE;
        }
    }
    return HOOKD_EXIT_OK;
}

/* ---------- columns into JSON ---------- */

/* Unix ms as an ISO 8601 string, or null for a NULL column. */
static json_t *col_time(sqlite3_stmt *s, int i)
{
    char buf[32];
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return json_null();
    hookd_format_iso8601_ms(sqlite3_column_int64(s, i), buf);
    return json_string(buf);
}

/* Text or blob as a string; null for NULL or bytes that are not UTF-8. */
static json_t *col_text(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return json_null();
    const char *v = (const char *)sqlite3_column_text(s, i);
    json_t *j = json_stringn(v ? v : "", v ? (size_t)sqlite3_column_bytes(s, i) : 0);
    return j ? j : json_null();
}

static json_int_t col_int(sqlite3_stmt *s, int i)
{
    return (json_int_t)sqlite3_column_int64(s, i);
}

/* "name\0value\0" pairs into an object; a repeated name joins its values
 * with ", " (RFC 9110 5.3). A damaged blob stops at its last whole pair; a
 * name that is not UTF-8 is skipped, a value that is not is null. */
static json_t *headers_json(const char *p, size_t len)
{
    json_t *h = json_object();
    const char *end = p ? p + len : NULL;
    while (h && p && p < end) {
        const char *nz = memchr(p, '\0', (size_t)(end - p));
        const char *v = nz ? nz + 1 : end;
        const char *vz = v < end ? memchr(v, '\0', (size_t)(end - v)) : NULL;
        if (!vz)
            break;
        const char *old = json_string_value(json_object_get(h, p));
        json_t *val = old ? json_sprintf("%s, %s", old, v) : json_string(v);
        json_object_set_new(h, p, val ? val : json_null());
        p = vz + 1;
    }
    return h;
}

static json_t *event_row(sqlite3_stmt *s)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I}}", "id", col_text(s, 0),
                     "source", col_text(s, 1), "type", col_text(s, 2), "received_at",
                     col_time(s, 3), "deliveries", "pending", col_int(s, 4), "delivered",
                     col_int(s, 5), "dead", col_int(s, 6));
}

static json_t *dead_row(sqlite3_stmt *s)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "delivery", col_int(s, 0),
                     "event", col_text(s, 1), "source", col_text(s, 2), "type", col_text(s, 3),
                     "plugin", col_text(s, 4), "attempts", col_int(s, 5), "reason",
                     col_text(s, 6), "at", col_time(s, 7));
}

/* seq, id, source, type, received_at, body, headers, enrichment */
static json_t *event_json(sqlite3_stmt *s)
{
    json_t *headers = headers_json(sqlite3_column_blob(s, 6), (size_t)sqlite3_column_bytes(s, 6));
    json_t *enrichment = sqlite3_column_type(s, 7) == SQLITE_NULL
                             ? NULL
                             : json_loadb(sqlite3_column_blob(s, 7),
                                          (size_t)sqlite3_column_bytes(s, 7), 0, NULL);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:[]}", "id", col_text(s, 1),
                     "source", col_text(s, 2), "type", col_text(s, 3), "received_at",
                     col_time(s, 4), "headers", headers, "body", col_text(s, 5), "enrichment",
                     enrichment ? enrichment : json_null(), "deliveries");
}

static json_t *delivery_json(sqlite3_stmt *s)
{
    const char *state = (const char *)sqlite3_column_text(s, 2);
    int pending = state && strcmp(state, "pending") == 0;
    return json_pack("{s:I, s:o, s:o, s:I, s:o, s:o, s:o, s:[]}", "id", col_int(s, 0),
                     "plugin", col_text(s, 1), "state", col_text(s, 2), "attempts",
                     col_int(s, 3), "next_at", pending ? col_time(s, 4) : json_null(),
                     "updated_at", col_time(s, 5), "reason", col_text(s, 6), "history");
}

static json_t *attempt_json(sqlite3_stmt *s)
{
    return json_pack("{s:I, s:o, s:I, s:o, s:o, s:o}", "n", col_int(s, 0), "started_at",
                     col_time(s, 1), "duration_ms", col_int(s, 2), "result", col_text(s, 3),
                     "reason", col_text(s, 4), "retry_at", col_time(s, 5));
}

/* ---------- output ---------- */

static int finish(FILE *out)
{
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "hookd: writing the output: %s\n", strerror(errno));
        return HOOKD_EXIT_RUNTIME;
    }
    return HOOKD_EXIT_OK;
}

static int emit_json(const json_t *doc, FILE *out)
{
    if (!doc)
        return no_memory();
    if (json_dumpf(doc, out, JSON_INDENT(2)) != 0 || fputc('\n', out) == EOF)
        return finish(out) ? HOOKD_EXIT_RUNTIME : no_memory();
    return finish(out);
}

/* obj[key] as text, then sep. */
static void field(FILE *out, const json_t *obj, const char *key, const char *sep)
{
    char buf[HOOKD_CLI_CELL_MAX];
    fputs(hookd_cli_cell(json_object_get(obj, key), buf), out);
    fputs(sep, out);
}

/* pre, obj[key], post; nothing when obj[key] is not a string. */
static void optional(FILE *out, const json_t *obj, const char *key, const char *pre,
                     const char *post)
{
    if (json_is_string(json_object_get(obj, key))) {
        fputs(pre, out);
        field(out, obj, key, post);
    }
}

static const hookd_cli_column EVENT_COLS[] = {
    {"ID", "id"},     {"RECEIVED", "received_at"},     {"SOURCE", "source"},
    {"TYPE", "type"}, {"DELIVERIES", "deliveries"},    {NULL, NULL}};
static const hookd_cli_column DEAD_COLS[] = {
    {"DELIVERY", "delivery"}, {"EVENT", "event"},       {"SOURCE", "source"},
    {"TYPE", "type"},         {"PLUGIN", "plugin"},     {"ATTEMPTS", "attempts"},
    {"AT", "at"},             {"REASON", "reason"},     {NULL, NULL}};

static int emit_table(const json_t *rows, const hookd_cli_column *cols, const char *empty,
                      FILE *out)
{
    hookd_cli_table(out, rows, cols, empty);
    return finish(out);
}

static int print_event(const json_t *ev, FILE *out)
{
    const json_t *body = json_object_get(ev, "body"), *del, *at;
    size_t i, j;
    field(out, ev, "id", "  ");
    field(out, ev, "received_at", "  ");
    field(out, ev, "source", "  ");
    field(out, ev, "type", "");
    fprintf(out, "  (%zu headers, ", json_object_size(json_object_get(ev, "headers")));
    if (json_is_string(body))
        fprintf(out, "%zu-byte body)\n", json_string_length(body));
    else
        fputs("body not UTF-8)\n", out);
    const json_t *enr = json_object_get(ev, "enrichment");
    if (json_is_object(enr)) {
        char *text = json_dumps(enr, JSON_COMPACT);
        if (text)
            fprintf(out, "  enrichment %s\n", text);
        free(text);
    }
    const json_t *dels = json_object_get(ev, "deliveries");
    if (json_array_size(dels) == 0)
        fputs("  no deliveries\n", out);
    json_array_foreach(dels, i, del) {
        json_int_t n = json_integer_value(json_object_get(del, "attempts"));
        fputs("  ", out);
        field(out, del, "plugin", ": ");
        field(out, del, "state", "");
        fprintf(out, ", %" JSON_INTEGER_FORMAT " attempt%s", n, n == 1 ? "" : "s");
        optional(out, del, "next_at", ", next at ", "");
        optional(out, del, "reason", ", last reason ", "");
        fputc('\n', out);
        json_array_foreach(json_object_get(del, "history"), j, at) {
            fprintf(out, "    #%" JSON_INTEGER_FORMAT "  ",
                    json_integer_value(json_object_get(at, "n")));
            field(out, at, "started_at", "  ");
            fprintf(out, "%" JSON_INTEGER_FORMAT " ms  ",
                    json_integer_value(json_object_get(at, "duration_ms")));
            field(out, at, "result", "");
            optional(out, at, "reason", "  ", "");
            optional(out, at, "retry_at", "  (retry at ", ")");
            fputc('\n', out);
        }
    }
    return finish(out);
}

/* ---------- events, dead ---------- */

typedef json_t *(*row_fn)(sqlite3_stmt *s);

/* One object per row of a filtered query into *rows. */
static int fetch(const spool *sp, const char *sql, const filters *f, row_fn fn, json_t **rows)
{
    sqlite3_stmt *s = prepare(sp, sql);
    if (!s || bind_filters(s, f) != SQLITE_OK) {
        int code = sql_fail(sp);
        sqlite3_finalize(s);
        return code;
    }
    *rows = json_array();
    int rc = SQLITE_DONE, oom = !*rows;
    while (!oom && (rc = sqlite3_step(s)) == SQLITE_ROW)
        oom = json_array_append_new(*rows, fn(s)) != 0;
    int code = oom ? no_memory() : rc != SQLITE_DONE ? sql_fail(sp) : HOOKD_EXIT_OK;
    sqlite3_finalize(s);
    return code;
}

static int list(const hookd_spool_cmd_args *a, const char *sql, row_fn fn, const hookd_cli_column *cols,
                const char *empty, FILE *out)
{
    filters f;
    spool sp;
    json_t *rows = NULL;
    int code = parse_filters(a, &f);
    if (code || (code = spool_open(&sp, a->spool_path, 0)))
        return code;
    code = fetch(&sp, sql, &f, fn, &rows);
    sqlite3_close(sp.db);
    if (code == HOOKD_EXIT_OK)
        code = a->json ? emit_json(rows, out) : emit_table(rows, cols, empty, out);
    json_decref(rows);
    return code;
}

int hookd_spool_cmd_events(const hookd_spool_cmd_args *a, FILE *out)
{
    return list(a, SQL_EVENTS, event_row, EVENT_COLS, "no events", out);
}

int hookd_spool_cmd_dead(const hookd_spool_cmd_args *a, FILE *out)
{
    return list(a, SQL_DEAD, dead_row, DEAD_COLS, "no dead letters", out);
}

/* ---------- events show ---------- */

/* The event, its deliveries and their attempts as one object in *doc. */
static int load_event(const spool *sp, const char *id, json_t **doc)
{
    sqlite3_stmt *e = NULL, *d = NULL, *t = NULL;
    json_t *dels;
    int rc, code = HOOKD_EXIT_OK;
    if (!(e = prepare(sp, event_sql(sp))) || !(d = prepare(sp, SQL_DELIVERIES)) ||
        !(t = prepare(sp, SQL_ATTEMPTS)) || bind_text(e, ":id", id) != SQLITE_OK) {
        code = sql_fail(sp);
        goto done;
    }
    rc = sqlite3_step(e);
    if (rc == SQLITE_DONE) {
        fprintf(stderr, "hookd: no event %s in the spool\n", id);
        code = HOOKD_EXIT_RUNTIME;
        goto done;
    }
    if (rc != SQLITE_ROW) {
        code = sql_fail(sp);
        goto done;
    }
    *doc = event_json(e);
    dels = json_object_get(*doc, "deliveries");
    bind_int(d, ":seq", sqlite3_column_int64(e, 0));
    /* Out of memory leaves rc at SQLITE_ROW. */
    while (dels && (rc = sqlite3_step(d)) == SQLITE_ROW) {
        json_t *del = delivery_json(d), *hist = json_object_get(del, "history");
        if (!hist || json_array_append_new(dels, del) != 0)
            break;
        sqlite3_reset(t);
        bind_int(t, ":delivery", sqlite3_column_int64(d, 0));
        while ((rc = sqlite3_step(t)) == SQLITE_ROW)
            if (json_array_append_new(hist, attempt_json(t)) != 0)
                break;
        if (rc != SQLITE_DONE)
            break;
    }
    if (rc == SQLITE_ROW)
        code = no_memory();
    else if (rc != SQLITE_DONE)
        code = sql_fail(sp);
done:
    sqlite3_finalize(e);
    sqlite3_finalize(d);
    sqlite3_finalize(t);
    return code;
}

int hookd_spool_cmd_show(const hookd_spool_cmd_args *a, FILE *out)
{
    spool sp;
    json_t *doc = NULL;
    if (a->nids != 1) {
        fprintf(stderr, "hookd: events show takes one event id\n");
        return HOOKD_EXIT_USAGE;
    }
    int code = check_ids(a->ids, 1);
    if (code || (code = spool_open(&sp, a->spool_path, 0)))
        return code;
    /* One read transaction: the event and its attempts from one snapshot. */
    if (sqlite3_exec(sp.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        code = sql_fail(&sp);
    } else {
        code = load_event(&sp, a->ids[0], &doc);
        sqlite3_exec(sp.db, "COMMIT", NULL, NULL, NULL);
    }
    sqlite3_close(sp.db);
    if (code == HOOKD_EXIT_OK)
        code = a->json ? emit_json(doc, out) : print_event(doc, out);
    json_decref(doc);
    return code;
}

/* ---------- replay ---------- */

static int replay_usage(const hookd_spool_cmd_args *a)
{
    const char *why = NULL;
    if (!a->dead && a->nids == 0)
        why = "replay needs event ids or --dead";
    else if (a->dead && a->nids > 0)
        why = "replay takes event ids or --dead, not both";
    else if (a->plugin && !a->dead)
        why = "--plugin goes with replay --dead";
    if (why) {
        fprintf(stderr, "hookd: %s\n", why);
        return HOOKD_EXIT_USAGE;
    }
    return check_ids(a->ids, a->nids);
}

/* Inside the caller's transaction; *n counts the deliveries made pending. An
 * id listed twice counts once. */
static int replay_rows(const spool *sp, const hookd_spool_cmd_args *a, int64_t *n)
{
    sqlite3_stmt *upd = NULL, *find = NULL;
    int code = HOOKD_EXIT_OK;
    if (!(upd = prepare(sp, a->dead ? SQL_REPLAY_DEAD : SQL_REPLAY_EVENT)) ||
        (!a->dead && !(find = prepare(sp, event_sql(sp)))) ||
        bind_int(upd, ":now", hookd_now_ms()) != SQLITE_OK ||
        bind_text(upd, ":plugin", a->plugin) != SQLITE_OK) {
        code = sql_fail(sp);
        goto done;
    }
    if (a->dead) {
        if (sqlite3_step(upd) != SQLITE_DONE)
            code = sql_fail(sp);
        *n = sqlite3_changes(sp->db);
        goto done;
    }
    for (size_t i = 0; i < a->nids && code == HOOKD_EXIT_OK; i++) {
        size_t k = 0;
        while (k < i && strcmp(a->ids[k], a->ids[i]) != 0)
            k++;
        if (k < i)
            continue;
        sqlite3_reset(find);
        bind_text(find, ":id", a->ids[i]);
        int rc = sqlite3_step(find);
        if (rc == SQLITE_DONE) {
            fprintf(stderr, "hookd: no event %s in the spool\n", a->ids[i]);
            code = HOOKD_EXIT_RUNTIME;
        } else if (rc != SQLITE_ROW) {
            code = sql_fail(sp);
        } else {
            sqlite3_reset(upd);
            bind_int(upd, ":seq", sqlite3_column_int64(find, 0));
            if (sqlite3_step(upd) != SQLITE_DONE)
                code = sql_fail(sp);
            *n += sqlite3_changes(sp->db);
        }
    }
done:
    sqlite3_finalize(upd);
    sqlite3_finalize(find);
    return code;
}

int hookd_spool_cmd_replay(const hookd_spool_cmd_args *a, FILE *out)
{
    spool sp;
    int64_t n = 0;
    int code = replay_usage(a);
    if (code || (code = spool_open(&sp, a->spool_path, 1)))
        return code;
    if (sqlite3_exec(sp.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        code = sql_fail(&sp);
    } else if ((code = replay_rows(&sp, a, &n)) != HOOKD_EXIT_OK) {
        sqlite3_exec(sp.db, "ROLLBACK", NULL, NULL, NULL);
    } else if (sqlite3_exec(sp.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        code = sql_fail(&sp);
        sqlite3_exec(sp.db, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_close(sp.db);
    if (code != HOOKD_EXIT_OK)
        return code;
    if (a->json) {
        json_t *doc = json_pack("{s:I}", "replayed", (json_int_t)n);
        code = emit_json(doc, out);
        json_decref(doc);
        return code;
    }
    fprintf(out, "replayed %" PRId64 " deliver%s", n, n == 1 ? "y" : "ies");
    if (n > 0)
        fprintf(out, " (a running hookd picks %s up within a second; otherwise the next"
                     " start does)", n == 1 ? "it" : "them");
    fputc('\n', out);
    return finish(out);
}

/* ---------- the commands from the table ---------- */

/* a with --limit (NULL for replay, which has none), --json and the spool of
 * -c FILE, given to fn. */
static int run_spool_cmd(const hookd_cmdline *cl, hookd_spool_cmd_args a, const char *limit,
                         int (*fn)(const hookd_spool_cmd_args *, FILE *))
{
    if (limit) {
        char *end;
        errno = 0;
        a.limit = strtol(limit, &end, 10);
        if (end == limit || *end || a.limit <= 0 || errno) {
            fprintf(stderr, "hookd: --limit wants a positive number\n");
            return HOOKD_EXIT_USAGE;
        }
    }
    a.json = hookd_cli_get(cl, "json") != NULL;
    int code = HOOKD_EXIT_OK;
    hookd_config *cfg = hookd_cli_config(cl, &code);
    if (!cfg)
        return code;
    a.spool_path = cfg->spool_path;
    code = fn(&a, stdout);
    hookd_config_free(cfg);
    return code;
}

int hookd_cmd_events(const hookd_cmdline *cl)
{
    hookd_spool_cmd_args a = {.type = hookd_cli_get(cl, "type"),
                              .since = hookd_cli_get(cl, "since")};
    if (cl->npos > 0 && strcmp(cl->pos[0], "show") == 0) {
        a.ids = cl->pos + 1;
        a.nids = cl->npos - 1;
        return run_spool_cmd(cl, a, hookd_cli_get(cl, "limit"), hookd_spool_cmd_show);
    }
    if (cl->npos > 0) {
        fprintf(stderr, "hookd: unexpected argument \"%s\"\n", cl->pos[0]);
        return HOOKD_EXIT_USAGE;
    }
    return run_spool_cmd(cl, a, hookd_cli_get(cl, "limit"), hookd_spool_cmd_events);
}

int hookd_cmd_dead(const hookd_cmdline *cl)
{
    hookd_spool_cmd_args a = {.plugin = hookd_cli_get(cl, "plugin")};
    return run_spool_cmd(cl, a, hookd_cli_get(cl, "limit"), hookd_spool_cmd_dead);
}

int hookd_cmd_replay(const hookd_cmdline *cl)
{
    hookd_spool_cmd_args a = {.plugin = hookd_cli_get(cl, "plugin"),
                              .dead = hookd_cli_get(cl, "dead") != NULL,
                              .ids = cl->pos,
                              .nids = cl->npos};
    return run_spool_cmd(cl, a, NULL, hookd_spool_cmd_replay);
}

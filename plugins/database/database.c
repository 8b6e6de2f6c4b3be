/*
 * Copyright (C) hookd authors
 */

/* database: writes every event to SQLite or PostgreSQL.
 * Config (db_keys): driver (sqlite | postgres, default sqlite), path (sqlite),
 * conninfo (postgres; a libpq string, the password through ${ENV}), mode
 * (ctct-accounts | sql, default ctct-accounts), statements (list, for sql).
 *
 * ctct-accounts creates, when missing, hookd_events (one row per event,
 * idempotent on id) and ctct_accounts (one row per Constant Contact account:
 * account.cancel -> cancelled, account.disable -> disabled, tier.increase
 * and tier.decrease -> active, plus plan_type and billing_status when the
 * event was enriched). An account row only ever moves forward: the upsert
 * applies when (received_at, id) is newer than the stored one. Other event
 * types, and events without an account id, only get their hookd_events row.
 *
 * sql runs the user's statements with :name parameters (template names:
 * :type, :ctct.account_id, :json./pointer, :header.X-Name, ...). They are
 * bound as text, never pasted into the SQL; a missing value is the empty
 * string (NULLIF(:name, '') gives NULL). Quoted strings, quoted identifiers,
 * comments, :: casts and PostgreSQL dollar quotes are left alone. Every
 * statement is prepared at start-up, so a typo fails `hookd check`.
 *
 * All statements of one event run in one transaction. Constraint violations
 * and SQL errors fail the delivery; lost connections, serialization failures,
 * deadlocks and busy databases are retried. Connections come from a pool that
 * never holds more than the instance's concurrency; a lost one is replaced.
 * A PostgreSQL server that does not answer at start-up (down, starting,
 * unreachable) does not stop hookd: it starts, spools, and retries the
 * deliveries until the server is back. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hookd/plugin.h>
#include "common/config_map.h"
#include "db.h"

#define MAX_PARAMS 256      /* distinct :names in one statement */
#define MAX_STATEMENTS 64
#define DESC_MAX 256

enum mode { MODE_CTCT, MODE_SQL };

typedef struct stmt {
    char *sql;                  /* with the driver's placeholders */
    size_t nparams;
    hookd_template **params;    /* sql mode: parameter k+1 */
} stmt;

typedef struct db_inst {
    const hookd_api *api;
    const db_driver *drv;
    char *target;               /* a path or a conninfo: never logged */
    char desc[DESC_MAX];        /* what logs may show of it */
    enum mode mode;
    stmt *stmts;
    size_t nstmts;
    hookd_template *account;    /* "{{ctct.account_id}}" */
    pthread_mutex_t lock;       /* idle */
    db_conn **idle;
    size_t nidle, cap;
    atomic_int down;            /* the last attempt could not reach the database */
    atomic_int need_schema;     /* down at start-up: the first connection creates the tables */
    pthread_mutex_t schema_lock; /* one creator at a time (PostgreSQL's CREATE TABLE IF NOT
                                  * EXISTS races with itself) */
} db_inst;

/* ---- small helpers ---- */

/* Sets err, evaluates to rc. */
#define bad(err, errlen, rc, ...) (hookd_say(err, errlen, __VA_ARGS__), (rc))

static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A character that continues an SQL identifier. */
static int ident_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '$' || (unsigned char)c >= 0x80;
}

/* "2026-11-26T12:00:00.123Z" */
static void iso8601(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs--;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", day, frac);
}

/* ---- :name parameters ---- */

typedef struct names {
    char **v;
    size_t n;
} names;

static void names_free(names *nm)
{
    for (size_t i = 0; i < nm->n; i++)
        free(nm->v[i]);
    free(nm->v);
    nm->v = NULL;
    nm->n = 0;
}

/* Parameter number (1-based) of name, added if new; 0 on no memory, -1 if
 * there are too many. */
static long name_index(names *nm, const char *s, size_t len)
{
    for (size_t i = 0; i < nm->n; i++)
        if (strlen(nm->v[i]) == len && !memcmp(nm->v[i], s, len))
            return (long)i + 1;
    if (nm->n >= MAX_PARAMS)
        return -1;
    char **v = realloc(nm->v, (nm->n + 1) * sizeof *v);
    if (!v)
        return 0;
    nm->v = v;
    if (!(nm->v[nm->n] = strndup(s, len)))
        return 0;
    return (long)++nm->n;
}

/* The end of a quoted run starting at src[i] (the quote), or the text's end.
 * A doubled quote stands for itself; bs: backslash escapes too. */
static size_t skip_quoted(const char *src, size_t i, char close, int bs)
{
    size_t j = i + 1;
    while (src[j]) {
        if (bs && src[j] == '\\' && src[j + 1]) {
            j += 2;
        } else if (src[j] == close) {
            if (src[j + 1] != close || close == ']')
                return j + 1;
            j += 2;
        } else {
            j++;
        }
    }
    return j;
}

/* The end of a :name starting at src[i] (the colon). Names are template
 * names: letters, digits, '_' and '.', plus "/-~" in a json./pointer and
 * '-' in a header.Name. A trailing '.' is SQL's, not the name's. */
static size_t name_end(const char *src, size_t i)
{
    const char *n = src + i + 1;
    size_t j = 0;
    for (;; j++) {
        char c = n[j];
        if (is_alpha(c) || is_digit(c) || c == '.')
            continue;
        if (j >= 5 && !strncmp(n, "json.", 5) && (c == '/' || c == '-' || c == '~'))
            continue;
        if (j >= 7 && !strncmp(n, "header.", 7) && c == '-')
            continue;
        break;
    }
    while (j > 1 && n[j - 1] == '.')
        j--;
    return i + 1 + j;
}

/* Rewrites src's :name parameters as the driver's numbered placeholders into
 * *out; nm gets the distinct names, parameter k+1 being nm->v[k]. */
static int rewrite(const char *src, int dollar, char **out, names *nm, char *err,
                   size_t errlen)
{
    size_t len = strlen(src);
    /* ":x" (2 bytes) becomes at most "$256" (4). */
    char *o = malloc(2 * len + 16);
    if (!o)
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    size_t w = 0, i = 0;
    while (i < len) {
        char c = src[i];
        size_t j = i + 1;
        if (c == '\'') {
            /* E'...' takes backslash escapes (PostgreSQL). */
            int bs = dollar && i > 0 && (src[i - 1] == 'E' || src[i - 1] == 'e') &&
                     (i < 2 || !ident_char(src[i - 2]));
            j = skip_quoted(src, i, '\'', bs);
        } else if (c == '"' || c == '`') {
            j = skip_quoted(src, i, c, 0);
        } else if (c == '[' && !dollar) {
            j = skip_quoted(src, i, ']', 0);   /* SQLite's [identifier] */
        } else if (c == '-' && src[i + 1] == '-') {
            const char *nl = strchr(src + i, '\n');
            j = nl ? (size_t)(nl - src) : len;
        } else if (c == '/' && src[i + 1] == '*') {
            const char *end = strstr(src + i + 2, "*/");
            j = end ? (size_t)(end - src) + 2 : len;
        } else if (c == '$' && dollar && (i == 0 || !ident_char(src[i - 1]))) {
            if (is_digit(src[i + 1])) {
                free(o);
                return bad(err, errlen, HOOKD_EINVAL,
                           "$%c: write parameters as :name (a template name)", src[i + 1]);
            }
            size_t t = i + 1;   /* $tag$ ... $tag$ */
            if (is_alpha(src[t]))
                while (is_alpha(src[t]) || is_digit(src[t]))
                    t++;
            if (src[t] == '$') {
                size_t taglen = t + 1 - i;
                char tag[taglen + 1];
                memcpy(tag, src + i, taglen);
                tag[taglen] = '\0';
                const char *end = strstr(src + t + 1, tag);
                j = end ? (size_t)(end - src) + taglen : len;
            }
        } else if (c == '?' && !dollar) {
            free(o);
            return bad(err, errlen, HOOKD_EINVAL, "?: write parameters as :name (a template name)");
        } else if (c == ':' && src[i + 1] == ':') {
            j = i + 2;   /* a cast */
        } else if (c == ':' && is_alpha(src[i + 1])) {
            j = name_end(src, i);
            long k = name_index(nm, src + i + 1, j - i - 1);
            if (k <= 0) {
                free(o);
                return k < 0 ? bad(err, errlen, HOOKD_EINVAL, "more than %d distinct parameters",
                                   MAX_PARAMS)
                             : bad(err, errlen, HOOKD_ENOMEM, "out of memory");
            }
            w += (size_t)sprintf(o + w, "%c%ld", dollar ? '$' : '?', k);
            i = j;
            continue;
        }
        memcpy(o + w, src + i, j - i);
        w += j - i;
        i = j;
    }
    o[w] = '\0';
    *out = o;
    return 0;
}

/* ---- the built-in ctct-accounts statements ---- */

enum { CTCT_EVENT, CTCT_ACCOUNT, CTCT_NSTMTS };

static const char *const ctct_schema_pg =
    "CREATE TABLE IF NOT EXISTS hookd_events ("
    " id text PRIMARY KEY, source text NOT NULL, type text NOT NULL, account_id text,"
    " received_at timestamptz NOT NULL, body jsonb);"
    "CREATE INDEX IF NOT EXISTS hookd_events_account ON hookd_events (account_id, received_at);"
    "CREATE TABLE IF NOT EXISTS ctct_accounts ("
    " account_id text PRIMARY KEY, status text, plan_type text, billing_status text,"
    " last_event_type text NOT NULL, last_event_id text COLLATE \"C\" NOT NULL,"
    " last_event_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)";

static const char *const ctct_schema_sqlite =
    "CREATE TABLE IF NOT EXISTS hookd_events ("
    " id TEXT PRIMARY KEY, source TEXT NOT NULL, type TEXT NOT NULL, account_id TEXT,"
    " received_at TEXT NOT NULL, body TEXT);"
    "CREATE INDEX IF NOT EXISTS hookd_events_account ON hookd_events (account_id, received_at);"
    "CREATE TABLE IF NOT EXISTS ctct_accounts ("
    " account_id TEXT PRIMARY KEY, status TEXT, plan_type TEXT, billing_status TEXT,"
    " last_event_type TEXT NOT NULL, last_event_id TEXT NOT NULL,"
    " last_event_at TEXT NOT NULL, updated_at TEXT NOT NULL)";

/* Written with :names, rewritten like the user's statements. */
static const char *const ctct_event_sql =
    "INSERT INTO hookd_events (id, source, type, account_id, received_at, body)"
    " VALUES (:id, :source, :type, :account_id, :received_at, :body%s)"
    " ON CONFLICT (id) DO NOTHING";

static const char *const ctct_account_sql =
    "INSERT INTO ctct_accounts (account_id, status, plan_type, billing_status,"
    " last_event_type, last_event_id, last_event_at, updated_at)"
    " VALUES (:account_id, :status, :plan_type, :billing_status, :type, :id, :received_at, %s)"
    " ON CONFLICT (account_id) DO UPDATE SET"
    " status = excluded.status,"
    " plan_type = COALESCE(excluded.plan_type, ctct_accounts.plan_type),"
    " billing_status = COALESCE(excluded.billing_status, ctct_accounts.billing_status),"
    " last_event_type = excluded.last_event_type, last_event_id = excluded.last_event_id,"
    " last_event_at = excluded.last_event_at, updated_at = excluded.updated_at"
    " WHERE (excluded.last_event_at, excluded.last_event_id)"
    " > (ctct_accounts.last_event_at, ctct_accounts.last_event_id)";

/* The account's status after an event of this type; NULL: leave it alone. */
static const char *ctct_status(const char *type)
{
    if (!strcmp(type, "account.cancel"))
        return "cancelled";
    if (!strcmp(type, "account.disable"))
        return "disabled";
    if (!strcmp(type, "tier.increase") || !strcmp(type, "tier.decrease"))
        return "active";
    return NULL;
}

/* The enrichment's /ctct/plan/field when it is a string. */
static const char *plan_field(const hookd_event *ev, const char *field)
{
    const json_t *plan = json_object_get(json_object_get(ev->enrichment, "ctct"), "plan");
    const char *s = plain_string(json_object_get(plan, field));
    return s && *s ? s : NULL;
}

/* ---- configuration ---- */

static void db_destroy(void *instance)
{
    db_inst *d = instance;
    if (!d)
        return;
    for (size_t i = 0; i < d->nidle; i++)
        d->drv->close(d->idle[i]);
    free(d->idle);
    for (size_t i = 0; i < d->nstmts; i++) {
        for (size_t k = 0; d->stmts[i].params && k < d->stmts[i].nparams; k++)
            if (d->stmts[i].params[k])
                d->api->template_free(d->stmts[i].params[k]);
        free(d->stmts[i].params);
        free(d->stmts[i].sql);
    }
    free(d->stmts);
    if (d->account)
        d->api->template_free(d->account);
    if (d->target) {
        explicit_bzero(d->target, strlen(d->target));   /* may hold a password */
        free(d->target);
    }
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->schema_lock);
    free(d);
}

/* "statements[2]" or the built-in statement's table. */
static void label(const db_inst *d, size_t i, char *out, size_t outlen)
{
    if (d->mode == MODE_SQL)
        snprintf(out, outlen, "statements[%zu]", i);
    else
        snprintf(out, outlen, "%s", i == CTCT_EVENT ? "hookd_events" : "ctct_accounts");
}

/* Compiles "{{name}}"; an unknown name fails here, at start-up. */
static int compile_param(db_inst *d, const char *what, const char *name, hookd_template **out,
                         char *err, size_t errlen)
{
    char src[512], why[256] = "";
    if ((size_t)snprintf(src, sizeof src, "{{%s}}", name) >= sizeof src)
        return bad(err, errlen, HOOKD_EINVAL, "%s: :%.40s...: name too long", what, name);
    if ((*out = d->api->template_compile(d->api, src, why, sizeof why)))
        return 0;
    if (!why[0])
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    /* The offset would be into "{{name}}", not into the statement. */
    char *at = strstr(why, " at offset ");
    if (at && at[11] && strspn(at + 11, "0123456789") == strlen(at + 11))
        *at = '\0';
    return bad(err, errlen, HOOKD_EINVAL, "%s: :%s: %s", what, name, why);
}

/* Adds statement i from src (with :names); compiles them as templates when
 * compile is set. */
static int add_stmt(db_inst *d, size_t i, const char *src, int compile, char *err,
                    size_t errlen)
{
    char what[64], why[256] = "";
    label(d, i, what, sizeof what);
    stmt *s = &d->stmts[i];
    names nm = {0};
    int rc = rewrite(src, d->drv->dollar, &s->sql, &nm, why, sizeof why);
    if (rc != 0) {
        names_free(&nm);
        return bad(err, errlen, rc, "%s: %s", what, why);
    }
    s->nparams = nm.n;
    if (compile && nm.n) {
        if (!(s->params = calloc(nm.n, sizeof *s->params))) {
            names_free(&nm);
            return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
        }
        for (size_t k = 0; k < nm.n && rc == 0; k++)
            rc = compile_param(d, what, nm.v[k], &s->params[k], err, errlen);
    }
    names_free(&nm);
    return rc;
}

static int parse_statements(db_inst *d, const hookd_cmap_list *list, char *err,
                            size_t errlen)
{
    if (list->n > MAX_STATEMENTS)
        return bad(err, errlen, HOOKD_EINVAL, "statements: at most %d", MAX_STATEMENTS);
    if (!(d->stmts = calloc(list->n, sizeof *d->stmts)))
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    for (size_t i = 0; i < list->n; i++) {
        const char *sql = list->v[i];
        if (!sql[strspn(sql, " \t\r\n;")])
            return bad(err, errlen, HOOKD_EINVAL, "statements[%zu]: expected an SQL statement",
                       i);
        d->nstmts = i + 1;
        int rc = add_stmt(d, i, sql, 1, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int ctct_statements(db_inst *d, char *err, size_t errlen)
{
    char sql[2048];
    int pg = d->drv->dollar;
    if (!(d->stmts = calloc(CTCT_NSTMTS, sizeof *d->stmts)))
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    d->nstmts = CTCT_NSTMTS;
    snprintf(sql, sizeof sql, ctct_event_sql, pg ? "::jsonb" : "");
    int rc = add_stmt(d, CTCT_EVENT, sql, 0, err, errlen);
    snprintf(sql, sizeof sql, ctct_account_sql,
             pg ? "now()" : "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
    if (rc == 0)
        rc = add_stmt(d, CTCT_ACCOUNT, sql, 0, err, errlen);
    char why[256] = "";
    if (rc == 0 && !(d->account = d->api->template_compile(d->api, "{{ctct.account_id}}", why,
                                                            sizeof why)))
        rc = bad(err, errlen, HOOKD_EINVAL, "ctct.account_id: %s", why[0] ? why : "out of memory");
    return rc;
}

/* The config: block as db_keys reads it. */
typedef struct db_cfg {
    int driver, mode;
    char *path, *conninfo;
    hookd_cmap_list statements;
} db_cfg;

static const char *const drivers[] = {"sqlite", "postgres", NULL};
static const db_driver *const driver_impl[] = {&db_sqlite, &db_postgres};
static const char *const modes[] = {"ctct-accounts", "sql", NULL};   /* enum mode */

static const hookd_config_key db_keys[] = {
    {.name = "driver", .type = HOOKD_CONFIG_ENUM, .default_text = "sqlite", .choices = drivers,
     .offset = offsetof(db_cfg, driver), .description = "the database"},
    {.name = "path", .type = HOOKD_CONFIG_STRING, .offset = offsetof(db_cfg, path),
     .description = "sqlite: the database file (created if missing)"},
    {.name = "conninfo", .type = HOOKD_CONFIG_STRING, .flags = HOOKD_CONFIG_SECRET,
     .offset = offsetof(db_cfg, conninfo),
     .description = "postgres: a libpq connection string (the password through ${ENV})"},
    {.name = "mode", .type = HOOKD_CONFIG_ENUM, .default_text = "ctct-accounts",
     .choices = modes, .offset = offsetof(db_cfg, mode),
     .description = "the built-in Constant Contact tables, or your statements"},
    {.name = "statements", .type = HOOKD_CONFIG_LIST, .flags = HOOKD_CONFIG_NONEMPTY,
     .offset = offsetof(db_cfg, statements),
     .description = "mode: sql: SQL run per event in one transaction, :name parameters"},
    {.name = NULL},
};

/* What spans keys, and what the instance builds from them. */
static int build(db_inst *d, db_cfg *c, char *err, size_t errlen)
{
    d->drv = driver_impl[c->driver];
    char **target = d->drv == &db_sqlite ? &c->path : &c->conninfo;
    if (d->drv == &db_sqlite && c->conninfo)
        return bad(err, errlen, HOOKD_EINVAL, "conninfo: only with driver: postgres");
    if (d->drv == &db_postgres && c->path)
        return bad(err, errlen, HOOKD_EINVAL, "path: only with driver: sqlite");
    if (!*target)
        return bad(err, errlen, HOOKD_EINVAL, "missing required key \"%s\" (driver: %s)",
                   d->drv == &db_sqlite ? "path" : "conninfo", drivers[c->driver]);
    if (d->drv->describe(*target, d->desc, sizeof d->desc, err, errlen) != 0)
        return HOOKD_EINVAL;
    d->target = *target;   /* ours now: wiped by db_destroy */
    *target = NULL;

    d->mode = (enum mode)c->mode;
    if (d->mode == MODE_SQL && !c->statements.v)
        return bad(err, errlen, HOOKD_EINVAL, "mode: sql needs \"statements\"");
    if (d->mode != MODE_SQL && c->statements.v)
        return bad(err, errlen, HOOKD_EINVAL, "statements: only with mode: sql");
    return d->mode == MODE_SQL ? parse_statements(d, &c->statements, err, errlen)
                               : ctct_statements(d, err, errlen);
}

static int parse_config(db_inst *d, const json_t *config, char *err, size_t errlen)
{
    db_cfg c = {0};
    int rc = hookd_cmap_read(db_keys, NULL, config, &c, err, errlen);
    if (rc == 0)
        rc = build(d, &c, err, errlen);
    hookd_cmap_free(db_keys, &c);
    return rc;
}

/* ---- connections ---- */

/* Puts "what: " before e's text, cutting its end if need be. */
static void prefix(db_error *e, const char *what)
{
    char p[128];
    size_t pl = (size_t)snprintf(p, sizeof p, "%s: ", what);
    size_t max = sizeof e->text - 1, tl = strlen(e->text);
    if (pl >= sizeof p || pl > max)
        return;
    if (pl + tl > max)
        tl = max - pl;
    memmove(e->text + pl, e->text, tl);
    memcpy(e->text, p, pl);
    e->text[pl + tl] = '\0';
}

/* A new connection with every statement prepared (and, with schema, the
 * ctct-accounts tables created first). */
static db_conn *connect_db(db_inst *d, int schema, db_error *e)
{
    char what[64];
    db_conn *c = d->drv->open(d->target, d->api, e);
    if (!c) {
        prefix(e, "connect");
        return NULL;
    }
    if (schema && d->drv->exec(c, d->drv->dollar ? ctct_schema_pg : ctct_schema_sqlite, e)) {
        prefix(e, "creating the ctct-accounts tables");
        d->drv->close(c);
        return NULL;
    }
    for (size_t i = 0; i < d->nstmts; i++) {
        if (d->drv->prepare(c, i, d->stmts[i].sql, d->stmts[i].nparams, e) != 0) {
            label(d, i, what, sizeof what);
            prefix(e, what);
            d->drv->close(c);
            return NULL;
        }
    }
    return c;
}

/* An idle connection (*reused set) or a new one. */
static db_conn *pool_take(db_inst *d, int *reused, db_error *e)
{
    db_conn *c = NULL;
    pthread_mutex_lock(&d->lock);
    if (d->nidle > 0)
        c = d->idle[--d->nidle];
    pthread_mutex_unlock(&d->lock);
    *reused = c != NULL;
    if (c)
        return c;
    if (!atomic_load(&d->need_schema))
        return connect_db(d, 0, e);
    pthread_mutex_lock(&d->schema_lock);
    int schema = atomic_load(&d->need_schema);
    if ((c = connect_db(d, schema, e)) && schema)
        atomic_store(&d->need_schema, 0);
    pthread_mutex_unlock(&d->schema_lock);
    return c;
}

/* Keeps c for the next delivery. At most concurrency connections exist:
 * one per delivery running. */
static void pool_give(db_inst *d, db_conn *c)
{
    pthread_mutex_lock(&d->lock);
    if (d->nidle == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4;
        db_conn **n = realloc(d->idle, nc * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&d->lock);
            d->drv->close(c);
            return;
        }
        d->idle = n;
        d->cap = nc;
    }
    d->idle[d->nidle++] = c;
    pthread_mutex_unlock(&d->lock);
}

/* A lost connection usually means the server went away: its siblings are
 * as dead, so none of them is reused. */
static void pool_drain(db_inst *d)
{
    pthread_mutex_lock(&d->lock);
    db_conn **v = d->idle;
    size_t n = d->nidle;
    d->idle = NULL;
    d->nidle = d->cap = 0;
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++)
        d->drv->close(v[i]);
    free(v);
}

/* ---- delivery ---- */

typedef struct step {
    size_t index;
    const char *const *vals;
    size_t n;
} step;

/* One transaction running steps in order; 0 or -1 with e set (and labelled). */
static int transact(db_inst *d, db_conn *c, const step *steps, size_t nsteps,
                    int64_t timeout_ms, db_error *e)
{
    char what[64];
    const char *stage = "begin";
    if (d->drv->begin(c, timeout_ms, e) != 0)
        goto fail;
    for (size_t i = 0; i < nsteps; i++) {
        if (d->drv->run(c, steps[i].index, steps[i].vals, steps[i].n, e) != 0) {
            label(d, steps[i].index, what, sizeof what);
            stage = what;
            goto fail;
        }
    }
    stage = "commit";
    if (d->drv->commit(c, e) == 0)
        return 0;
fail:
    prefix(e, stage);
    return -1;
}

static int run_steps(db_inst *d, const hookd_event *ev, const step *steps, size_t nsteps,
                     hookd_status *st)
{
    db_error e;
    for (int round = 0;; round++) {
        memset(&e, 0, sizeof e);
        int64_t left = ev->deadline_ms - d->api->monotonic_ms();
        int reused = 0;
        db_conn *c = pool_take(d, &reused, &e);
        if (c && transact(d, c, steps, nsteps, left, &e) == 0) {
            pool_give(d, c);
            if (atomic_exchange(&d->down, 0))
                d->api->log(d->api, HOOKD_LOG_INFO, "%s: reachable again", d->desc);
            return HOOKD_OK;
        }
        if (c) {
            if (e.lost || d->drv->rollback(c) != 0)
                d->drv->close(c);
            else
                pool_give(d, c);
        }
        if (e.lost)
            pool_drain(d);
        /* A pooled connection the server dropped while it was idle: once
         * more, on a new one. */
        if (c && e.lost && reused && round == 0)
            continue;
        break;
    }
    if (e.lost && !atomic_exchange(&d->down, 1))
        d->api->log(d->api, HOOKD_LOG_WARN, "%s: %s", d->desc, e.text);
    snprintf(st->reason, sizeof st->reason, "%s", e.text);
    st->retry_after_ms = -1;
    return e.result == HOOKD_RETRY ? HOOKD_RETRY : HOOKD_FAIL;
}

static int deliver_ctct(db_inst *d, const hookd_event *ev, hookd_status *st)
{
    char *acct = d->api->template_render(d->account, ev, HOOKD_ESC_PLAIN);
    if (!acct) {
        snprintf(st->reason, sizeof st->reason, "out of memory");
        return HOOKD_RETRY;
    }
    char at[32];
    iso8601(ev->received_at_ms, at);
    const char *account = *acct ? acct : NULL;
    const char *status = account ? ctct_status(ev->type) : NULL;
    /* :id, :source, :type, :account_id, :received_at, :body */
    const char *ev_vals[] = {ev->id, ev->source, ev->type, account, at,
                             ev->json ? ev->body : NULL};
    /* :account_id, :status, :plan_type, :billing_status, :type, :id, :received_at */
    const char *acct_vals[] = {account, status, plan_field(ev, "plan_type"),
                               plan_field(ev, "billing_status"), ev->type, ev->id, at};
    step steps[] = {{CTCT_EVENT, ev_vals, 6}, {CTCT_ACCOUNT, acct_vals, 7}};
    int r = run_steps(d, ev, steps, status ? 2 : 1, st);
    d->api->free(acct);
    return r;
}

static int deliver_sql(db_inst *d, const hookd_event *ev, hookd_status *st)
{
    size_t total = 0;
    for (size_t i = 0; i < d->nstmts; i++)
        total += d->stmts[i].nparams;
    char **vals = calloc(total + 1, sizeof *vals);
    step *steps = calloc(d->nstmts, sizeof *steps);
    int r = HOOKD_RETRY;
    snprintf(st->reason, sizeof st->reason, "out of memory");
    if (!vals || !steps)
        goto out;
    size_t at = 0;
    for (size_t i = 0; i < d->nstmts; i++) {
        const stmt *s = &d->stmts[i];
        steps[i] = (step){i, (const char *const *)vals + at, s->nparams};
        for (size_t k = 0; k < s->nparams; k++, at++)
            if (!(vals[at] = d->api->template_render(s->params[k], ev, HOOKD_ESC_PLAIN)))
                goto out;
    }
    st->reason[0] = '\0';
    r = run_steps(d, ev, steps, d->nstmts, st);
out:
    for (size_t k = 0; vals && k < total; k++)
        if (vals[k])
            d->api->free(vals[k]);
    free(vals);
    free(steps);
    return r;
}

static int db_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    db_inst *d = instance;
    return d->mode == MODE_SQL ? deliver_sql(d, ev, st) : deliver_ctct(d, ev, st);
}

static int db_init(const hookd_api *api, const json_t *config, void **instance, char *err,
                   size_t errlen)
{
    db_inst *d = calloc(1, sizeof *d);
    if (!d)
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    d->api = api;
    d->drv = &db_sqlite;
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->schema_lock, NULL);
    atomic_init(&d->down, 0);
    atomic_init(&d->need_schema, 0);
    int rc = parse_config(d, config, err, errlen);
    if (rc == 0) {
        /* Start-up connects, creates the tables and prepares every statement:
         * a typo or a wrong password fails here (and `hookd check`); a
         * server that does not answer at all is waited for. */
        db_error e = {0};
        db_conn *c = connect_db(d, d->mode == MODE_CTCT, &e);
        if (c) {
            pool_give(d, c);
            api->log(api, HOOKD_LOG_INFO, "%s: connected, mode %s, %zu statement%s", d->desc,
                     d->mode == MODE_SQL ? "sql" : "ctct-accounts", d->nstmts,
                     d->nstmts == 1 ? "" : "s");
        } else if (e.lost && d->drv->answers && !d->drv->answers(d->target)) {
            /* A database that is down must not keep hookd from receiving:
             * events are spooled, and deliveries retry until it is back
             * (whose first connection then creates the tables). */
            atomic_store(&d->down, 1);
            atomic_store(&d->need_schema, d->mode == MODE_CTCT);
            api->log(api, HOOKD_LOG_WARN,
                     "%s: not reachable at start-up, deliveries retry until it is: %s",
                     d->desc, e.text);
        } else {
            rc = bad(err, errlen, e.lost ? HOOKD_EIO : HOOKD_EINVAL, "%s: %s", d->desc, e.text);
        }
    }
    if (rc != 0) {
        db_destroy(d);
        return rc;
    }
    *instance = d;
    return 0;
}

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "database",
    .version = "1.0",
    .init = db_init,
    .deliver = db_deliver,
    .destroy = db_destroy,
    .config_keys = db_keys,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

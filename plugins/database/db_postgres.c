/*
 * Copyright (C) hookd authors
 */

/* database: the PostgreSQL driver (libpq). The target is a libpq connection
 * string or URI; hookd adds connect_timeout=10, client_encoding=UTF8 and
 * fallback_application_name=hookd unless it sets them itself. Statements are
 * prepared once per connection (hookd_0, hookd_1, ...); every transaction
 * carries a statement_timeout that ends it by the event's deadline.
 * Lost connections and SQLSTATEs that mean "try again later" are retried
 * (class 08, 40001, 40P01, 57P01-57P03, 57014, 25006, classes 53 and 58,
 * 55P03); every other error fails the delivery. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "db.h"

#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS (60LL * 60 * 1000)

struct db_conn {
    PGconn *pg;
    const hookd_api *api;
};

/* SQLSTATEs worth another attempt later. */
static int transient(const char *state)
{
    static const char *const codes[] = {"40001", "40P01", "57P01", "57P02", "57P03",
                                        "57014", "25006", "55P03"};
    if (!state || strlen(state) != 5)
        return 0;
    if (!strncmp(state, "08", 2) || !strncmp(state, "53", 2) || !strncmp(state, "58", 2))
        return 1;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(state, codes[i]))
            return 1;
    return 0;
}

/* Fills e from a failed result (which may be NULL); returns -1. */
static int fail(db_conn *c, const PGresult *r, db_error *e)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg || !*msg)
        msg = PQerrorMessage(c->pg);
    if (!msg || !*msg)
        msg = "no answer from the server";
    e->lost = PQstatus(c->pg) != CONNECTION_OK;
    e->result = e->lost || transient(state) ? HOOKD_RETRY : HOOKD_FAIL;
    if (state && *state)
        snprintf(e->text, sizeof e->text, "SQLSTATE %s: %s", state, msg);
    else
        snprintf(e->text, sizeof e->text, "%s%s", e->lost ? "connection lost: " : "", msg);
    hookd_one_line(e->text);
    return -1;
}

/* Checks a result; clears it. */
static int check(db_conn *c, PGresult *r, db_error *e)
{
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : fail(c, r, e);
    PQclear(r);
    return rc;
}

static int pg_describe(const char *target, char *desc, size_t desclen, char *err,
                       size_t errlen)
{
    if (!target || !*target) {
        snprintf(err, errlen, "conninfo: expected a non-empty string");
        return -1;
    }
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(target, &why);
    if (!opts) {
        /* libpq's message may quote a piece of the string: a password, maybe. */
        PQfreemem(why);
        snprintf(err, errlen, "conninfo: not a libpq connection string (key=value ..., "
                              "or postgresql://...; quote values with blanks)");
        return -1;
    }
    static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user"};
    size_t n = (size_t)snprintf(desc, desclen, "postgres");
    for (size_t k = 0; k < sizeof shown / sizeof shown[0]; k++)
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (!strcmp(o->keyword, shown[k]) && o->val && *o->val && n < desclen)
                n += (size_t)snprintf(desc + n, desclen - n, " %s=%s", o->keyword, o->val);
    PQconninfoFree(opts);
    return 0;
}

static void notice(void *arg, const char *message)
{
    const hookd_api *api = arg;
    char line[HOOKD_REASON_MAX];
    snprintf(line, sizeof line, "%s", message);
    hookd_one_line(line);
    if (api && api->log)
        api->log(api, HOOKD_LOG_DEBUG, "postgres: %s", line);
}

static void pg_close(db_conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    free(c);
}

static db_conn *pg_open(const char *target, const hookd_api *api, db_error *e)
{
    db_conn *c = calloc(1, sizeof *c);
    if (!c) {
        e->result = HOOKD_RETRY;
        snprintf(e->text, sizeof e->text, "out of memory");
        return NULL;
    }
    c->api = api;
    /* Later entries win: the user's conninfo (expanded from dbname) last. */
    static const char *const keys[] = {"connect_timeout", "client_encoding",
                                       "fallback_application_name", "dbname", NULL};
    const char *vals[] = {"10", "UTF8", "hookd", target, NULL};
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        e->result = HOOKD_RETRY;
        e->lost = 1;
        snprintf(e->text, sizeof e->text, "%s",
                 c->pg ? PQerrorMessage(c->pg) : "out of memory");
        hookd_one_line(e->text);
        pg_close(c);
        return NULL;
    }
    PQsetNoticeProcessor(c->pg, notice, (void *)api);
    return c;
}

static int pg_answers(const char *target)
{
    /* The user's conninfo (dbname, expanded last) may set its own timeout. */
    static const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {"3", target, NULL};
    PGPing p = PQpingParams(keys, vals, 1);
    return p == PQPING_OK || p == PQPING_NO_ATTEMPT;
}

static int pg_prepare(db_conn *c, size_t index, const char *sql, size_t nparams, db_error *e)
{
    char name[32];
    snprintf(name, sizeof name, "hookd_%zu", index);
    return check(c, PQprepare(c->pg, name, sql, (int)nparams, NULL), e);
}

static int pg_exec(db_conn *c, const char *sql, db_error *e)
{
    return check(c, PQexec(c->pg, sql), e);
}

static int pg_begin(db_conn *c, int64_t timeout_ms, db_error *e)
{
    long long ms = timeout_ms < TIMEOUT_MIN_MS ? TIMEOUT_MIN_MS
                   : timeout_ms > TIMEOUT_MAX_MS ? TIMEOUT_MAX_MS : (long long)timeout_ms;
    char sql[80];
    snprintf(sql, sizeof sql, "BEGIN; SET LOCAL statement_timeout = %lld", ms);
    return pg_exec(c, sql, e);
}

static int pg_run(db_conn *c, size_t index, const char *const *vals, size_t n, db_error *e)
{
    char name[32];
    snprintf(name, sizeof name, "hookd_%zu", index);
    return check(c, PQexecPrepared(c->pg, name, (int)n, vals, NULL, NULL, 0), e);
}

static int pg_commit(db_conn *c, db_error *e)
{
    return pg_exec(c, "COMMIT", e);
}

static int pg_rollback(db_conn *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return -1;
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    if (t == PQTRANS_IDLE)
        return 0;
    if (t != PQTRANS_INTRANS && t != PQTRANS_INERROR)
        return -1;   /* a command still running, or unknown */
    db_error e;
    return pg_exec(c, "ROLLBACK", &e);
}

const db_driver db_postgres = {
    .name = "postgres",
    .dollar = 1,
    .describe = pg_describe,
    .open = pg_open,
    .answers = pg_answers,
    .prepare = pg_prepare,
    .exec = pg_exec,
    .begin = pg_begin,
    .run = pg_run,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .close = pg_close,
};

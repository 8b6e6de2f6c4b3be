/*
 * Copyright (C) hookd authors
 */

/* database: the SQLite driver. The target is a file path (created if
 * missing). A connection is borrowed by one thread at a time, so it is opened
 * without SQLite's own mutex; transactions take the write lock up front
 * (BEGIN IMMEDIATE) and wait for it until the event's deadline.
 * SQLITE_BUSY, SQLITE_LOCKED and I/O-level errors (IOERR, FULL, CANTOPEN,
 * NOMEM) are retried; everything else (constraints, SQL errors) fails. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "db.h"

#define BUSY_MIN_MS 50
#define BUSY_MAX_MS (10 * 60 * 1000)

struct db_conn {
    sqlite3 *db;
    sqlite3_stmt **stmts;
    size_t nstmts;
};

static const char *code_name(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_ERROR: return "SQLITE_ERROR";
    case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
    case SQLITE_PERM: return "SQLITE_PERM";
    case SQLITE_ABORT: return "SQLITE_ABORT";
    case SQLITE_BUSY: return "SQLITE_BUSY";
    case SQLITE_LOCKED: return "SQLITE_LOCKED";
    case SQLITE_NOMEM: return "SQLITE_NOMEM";
    case SQLITE_READONLY: return "SQLITE_READONLY";
    case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
    case SQLITE_IOERR: return "SQLITE_IOERR";
    case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
    case SQLITE_FULL: return "SQLITE_FULL";
    case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
    case SQLITE_MISUSE: return "SQLITE_MISUSE";
    case SQLITE_RANGE: return "SQLITE_RANGE";
    case SQLITE_NOTADB: return "SQLITE_NOTADB";
    default: return "SQLITE";
    }
}

/* Fills e from rc and the connection's message; returns -1. */
static int fail(db_error *e, sqlite3 *db, int rc)
{
    int prim = rc & 0xff;
    switch (prim) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        e->result = HOOKD_RETRY;
        break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        /* The file may have moved or the disk filled: start afresh. */
        e->result = HOOKD_RETRY;
        e->lost = 1;
        break;
    default:
        e->result = HOOKD_FAIL;
    }
    /* Called right after the failing call: the connection's message is its. */
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (rc == prim)
        snprintf(e->text, sizeof e->text, "sqlite %s: %s", code_name(rc), msg);
    else
        snprintf(e->text, sizeof e->text, "sqlite %s (%d): %s", code_name(rc), rc, msg);
    hookd_one_line(e->text);
    return -1;
}

static int lite_describe(const char *target, char *desc, size_t desclen, char *err,
                         size_t errlen)
{
    if (!target || !*target) {
        snprintf(err, errlen, "path: expected a non-empty string");
        return -1;
    }
    snprintf(desc, desclen, "sqlite %s", target);
    return 0;
}

static void lite_close(db_conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nstmts; i++)
        sqlite3_finalize(c->stmts[i]);
    free(c->stmts);
    sqlite3_close_v2(c->db);
    free(c);
}

static db_conn *lite_open(const char *target, const hookd_api *api, db_error *e)
{
    (void)api;
    db_conn *c = calloc(1, sizeof *c);
    if (!c) {
        fail(e, NULL, SQLITE_NOMEM);
        return NULL;
    }
    int rc = sqlite3_open_v2(target, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        fail(e, c->db, rc);
        lite_close(c);
        return NULL;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 5000);
    /* Foreign keys are constraints like any other. */
    rc = sqlite3_exec(c->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        fail(e, c->db, rc);
        lite_close(c);
        return NULL;
    }
    return c;
}

/* True if sql holds no statement (blanks, comments, semicolons). */
static int nothing_left(sqlite3 *db, const char *sql)
{
    while (sql && *sql) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK)
            return 0;
        if (st) {
            sqlite3_finalize(st);
            return 0;
        }
        if (!tail || tail == sql)
            break;
        sql = tail;
    }
    return 1;
}

static int lite_prepare(db_conn *c, size_t index, const char *sql, size_t nparams,
                        db_error *e)
{
    if (index >= c->nstmts) {
        sqlite3_stmt **n = realloc(c->stmts, (index + 1) * sizeof *n);
        if (!n)
            return fail(e, NULL, SQLITE_NOMEM);
        for (size_t i = c->nstmts; i <= index; i++)
            n[i] = NULL;
        c->stmts = n;
        c->nstmts = index + 1;
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK)
        return fail(e, c->db, rc);
    e->result = HOOKD_FAIL;
    if (!st) {
        snprintf(e->text, sizeof e->text, "empty statement");
        return -1;
    }
    c->stmts[index] = st;
    if (!nothing_left(c->db, tail)) {
        snprintf(e->text, sizeof e->text, "only one SQL statement per entry");
        return -1;
    }
    /* ?NNN, @name or $name written by hand would stay unbound. */
    if ((size_t)sqlite3_bind_parameter_count(st) != nparams) {
        snprintf(e->text, sizeof e->text,
                 "parameters are written :name (a template name); found ?, @ or $ ones");
        return -1;
    }
    return 0;
}

static int lite_exec(db_conn *c, const char *sql, db_error *e)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(e, c->db, rc);
}

static int lite_begin(db_conn *c, int64_t timeout_ms, db_error *e)
{
    int ms = timeout_ms < BUSY_MIN_MS ? BUSY_MIN_MS
             : timeout_ms > BUSY_MAX_MS ? BUSY_MAX_MS : (int)timeout_ms;
    sqlite3_busy_timeout(c->db, ms);
    return lite_exec(c, "BEGIN IMMEDIATE", e);
}

static int lite_run(db_conn *c, size_t index, const char *const *vals, size_t n, db_error *e)
{
    sqlite3_stmt *st = c->stmts[index];
    int rc = SQLITE_OK;
    sqlite3_reset(st);
    for (size_t k = 0; k < n && rc == SQLITE_OK; k++)
        rc = vals[k] ? sqlite3_bind_text(st, (int)k + 1, vals[k], -1, SQLITE_STATIC)
                     : sqlite3_bind_null(st, (int)k + 1);
    if (rc == SQLITE_OK)
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
    int r = rc == SQLITE_OK || rc == SQLITE_DONE ? 0 : fail(e, c->db, rc);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);   /* vals belong to the caller */
    return r;
}

static int lite_commit(db_conn *c, db_error *e)
{
    return lite_exec(c, "COMMIT", e);
}

static int lite_rollback(db_conn *c)
{
    if (sqlite3_get_autocommit(c->db))
        return 0;   /* no transaction open (SQLite may have ended it itself) */
    return sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

const db_driver db_sqlite = {
    .name = "sqlite",
    .dollar = 0,
    .describe = lite_describe,
    .open = lite_open,
    .prepare = lite_prepare,
    .exec = lite_exec,
    .begin = lite_begin,
    .run = lite_run,
    .commit = lite_commit,
    .rollback = lite_rollback,
    .close = lite_close,
};

/*
 * Copyright (C) hookd authors
 */

/* database: the interface between the plugin (database.c) and its drivers
 * (db_sqlite.c, db_postgres.c). A connection is used by one thread at a time;
 * its statements are prepared once, right after it is opened, and run by
 * their index. Every call returns 0, or -1 with a db_error filled. */
#ifndef HOOKD_DB_H
#define HOOKD_DB_H

#include <stddef.h>
#include <stdint.h>
#include <hookd/plugin.h>
#include "common/text.h"  /* hookd_one_line */

typedef struct db_error {
    int result;     /* HOOKD_RETRY (transient) or HOOKD_FAIL (this event cannot succeed) */
    int lost;       /* the connection is unusable: close it, open a new one */
    char text[HOOKD_REASON_MAX]; /* one line, names the SQLSTATE or sqlite code */
} db_error;

typedef struct db_conn db_conn;   /* a driver's own */

typedef struct db_driver {
    const char *name;
    /* "$3" or "?3": how the SQL text names parameter k (1-based). */
    int dollar;
    /* Validates target; desc gets what a log line may show of it (never a
     * password). 0, or -1 with a one-line message in err. */
    int (*describe)(const char *target, char *desc, size_t desclen, char *err, size_t errlen);
    /* Opens a connection to target (a path, a libpq conninfo). */
    db_conn *(*open)(const char *target, const hookd_api *api, db_error *e);
    /* After open failed: 0 when the server does not answer (down, starting,
     * unreachable: worth waiting for), 1 when it does (the failure is about
     * the target itself: credentials, database name). NULL: always 1. */
    int (*answers)(const char *target);
    /* Prepares statement `index` (0-based, dense) with nparams parameters. */
    int (*prepare)(db_conn *c, size_t index, const char *sql, size_t nparams, db_error *e);
    /* Runs one or more statements that take no parameter (schema, ROLLBACK). */
    int (*exec)(db_conn *c, const char *sql, db_error *e);
    /* Starts a transaction that should end within timeout_ms. */
    int (*begin)(db_conn *c, int64_t timeout_ms, db_error *e);
    /* Runs prepared statement index; vals[k] is parameter k+1 as text, NULL
     * for SQL NULL. Rows it returns are ignored. */
    int (*run)(db_conn *c, size_t index, const char *const *vals, size_t n, db_error *e);
    int (*commit)(db_conn *c, db_error *e);
    /* Ends an open transaction, if any; -1 if the connection is unusable. */
    int (*rollback)(db_conn *c);
    void (*close)(db_conn *c);
} db_driver;

extern const db_driver db_sqlite;
extern const db_driver db_postgres;


#endif

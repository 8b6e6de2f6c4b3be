/* pg_test: the real PostgreSQL the CTest fixture "pg" started
 * (tests/fixtures/pg_fixture.py), for the unit tests of the spool's
 * PostgreSQL driver. Each test works in a schema of its own. */
#ifndef HOOKD_PG_TEST_H
#define HOOKD_PG_TEST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fixture's conninfo, or NULL with the reason it is missing in *why. */
static inline char *pg_test_conninfo(const char **why)
{
    const char *state = getenv("HOOKD_TEST_PG");
    json_error_t e;
    json_t *j = state ? json_load_file(state, 0, &e) : NULL;
    const char *ci = json_string_value(json_object_get(j, "conninfo"));
    char *out = ci ? strdup(ci) : NULL;
    if (!out)
        *why = !state ? "HOOKD_TEST_PG is not set (run under ctest)"
               : !j  ? "the fixture's state file cannot be read"
                     : json_string_value(json_object_get(j, "unavailable"));
    json_decref(j);
    return out;
}

/* The conninfo for main(); without a fixture server, says why and exits 77
 * (ctest: skipped). */
static inline char *pg_test_start(void)
{
    const char *why = NULL;
    char *c = pg_test_conninfo(&why);
    if (!c) {
        printf("skipped: %s\n", why ? why : "no PostgreSQL");
        exit(77);
    }
    return c;
}

/* A connection working in schema `schema` (created empty). NULL on failure. */
static inline PGconn *pg_test_connect(const char *conninfo, const char *schema)
{
    char ci[1024];
    snprintf(ci, sizeof ci, "%s options='-c search_path=%s'", conninfo, schema);
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_test: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_test: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* The first column of the first row as a long, or -1. */
static inline long pg_test_long(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

#endif

/* spool_pg_schema: see spool_pg_schema.h. Tables carry a hookd_ prefix so
 * that the spool can share a database with other schemas' tables. Times are
 * Unix milliseconds, as in the SQLite spool. */
#include "spool_pg_schema.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

/* Version 1, in one transaction. No foreign keys: a delivery's event and an
 * attempt's delivery are inserted in the same statement or transaction, and
 * only retention deletes, all three tables in one statement; the checks
 * cost every append a lookup per row (an eighth of the server's time). */
static const char schema_v1[] =
    "CREATE TABLE hookd_meta(key text PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE hookd_events("
    " seq bigserial PRIMARY KEY,"
    " id text NOT NULL UNIQUE,"
    " source text NOT NULL,"
    " type text NOT NULL,"
    " received_at bigint NOT NULL,"
    " body bytea NOT NULL,"
    " headers bytea NOT NULL,"
    " enrichment bytea);"
    "CREATE INDEX hookd_events_received ON hookd_events(received_at);"
    /* claim: the token of the node holding the delivery (NULL: nobody);
     * lease_until: when it returns to the pool without a renewal. */
    "CREATE TABLE hookd_deliveries("
    " id bigserial PRIMARY KEY,"
    " event bigint NOT NULL,"
    " plugin text NOT NULL,"
    " state text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),"
    " attempts integer NOT NULL DEFAULT 0,"
    " round_start integer NOT NULL DEFAULT 0,"
    " next_at bigint NOT NULL,"
    " updated_at bigint NOT NULL,"
    " reason text,"
    " claim bigint,"
    " lease_until bigint,"
    " node text);"
    "CREATE INDEX hookd_deliveries_event ON hookd_deliveries(event);"
    "CREATE INDEX hookd_deliveries_due ON hookd_deliveries(next_at) WHERE state = 'pending';"
    "CREATE INDEX hookd_deliveries_dead ON hookd_deliveries(plugin) WHERE state = 'dead';"
    "CREATE TABLE hookd_attempts("
    " delivery bigint NOT NULL,"
    " n integer NOT NULL,"
    " started_at bigint NOT NULL,"
    " duration_ms bigint NOT NULL,"
    " result text NOT NULL,"
    " reason text,"
    " retry_at bigint,"
    " node text,"
    " PRIMARY KEY(delivery, n));"
    "CREATE TABLE hookd_dedup("
    " source text NOT NULL,"
    " key text NOT NULL,"
    " event text NOT NULL,"
    " at bigint NOT NULL,"
    " PRIMARY KEY(source, key));"
    "CREATE INDEX hookd_dedup_at ON hookd_dedup(at);"
    "INSERT INTO hookd_meta VALUES('schema', '1');";

/* Each step from version i to i + 1 (none yet: version 1 is the first). */
static const char *const migrations[HOOKD_PG_SCHEMA] = {[0] = schema_v1};

void hookd_pg_why(char *err, size_t errlen, const char *what, const PGconn *c,
                  const PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : "";
    if ((!m || !*m) && c)
        m = PQerrorMessage(c);
    hookd_say(err, errlen, "%s: %s", what, m && *m ? m : "no answer");
    hookd_one_line(err);
}

PGconn *hookd_pg_connect(const char *conninfo)
{
    /* Bounds first, the user's string after: libpq keeps the last value
     * of a key, so a conninfo that names one of them wins. */
    static const char *const keys[] = {"connect_timeout", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count",
                                       "tcp_user_timeout", "dbname", NULL};
    const char *vals[] = {"5", "10", "5", "3", "20000", conninfo, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

char *hookd_pg_int_array(const int64_t *x, size_t n)
{
    size_t cap = 3 + n * 21; /* braces, NUL, and "-9223372036854775808," each */
    char *s = malloc(cap), *w = s;
    if (!s)
        return NULL;
    *w++ = '{';
    for (size_t i = 0; i < n; i++)
        w += snprintf(w, cap - (size_t)(w - s), "%s%" PRId64, i ? "," : "", x[i]);
    *w++ = '}';
    *w = '\0';
    return s;
}

/* Runs sql; 0 when it gave `want`, else -1 with err. */
static int run(PGconn *c, const char *sql, ExecStatusType want, const char *what, char *err,
               size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int ok = r && PQresultStatus(r) == want;
    if (!ok)
        hookd_pg_why(err, errlen, what, c, r);
    PQclear(r);
    return ok ? 0 : -1;
}

int hookd_pg_schema_version(PGconn *c, char *err, size_t errlen)
{
    /* Two queries: a statement naming a missing table fails as a whole.
     * to_regclass gives NULL rather than an error. */
    PGresult *r = PQexec(c, "SELECT to_regclass('hookd_meta') IS NOT NULL");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        hookd_pg_why(err, errlen, "reading the schema version", c, r);
        PQclear(r);
        return -1;
    }
    int tables = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!tables)
        return 0;
    r = PQexec(c, "SELECT value FROM hookd_meta WHERE key = 'schema'");
    int v = -1;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
        const char *s = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";
        char *end;
        long x = strtol(s, &end, 10);
        if (*s && !*end && x > 0 && x < 1000000)
            v = (int)x;
        else
            hookd_say(err, errlen, "hookd_meta holds no schema version");
    } else {
        hookd_pg_why(err, errlen, "reading the schema version", c, r);
    }
    PQclear(r);
    return v;
}

int hookd_pg_schema_ensure(PGconn *c, char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", HOOKD_PG_LOCK_SCHEMA);
    if (run(c, sql, PGRES_TUPLES_OK, "taking the schema lock", err, errlen) < 0)
        return -1;
    int v = hookd_pg_schema_version(c, err, errlen), rc = -1;
    if (v > HOOKD_PG_SCHEMA) {
        hookd_say(err, errlen, "the database has spool schema %d; this hookd knows %d", v,
                  HOOKD_PG_SCHEMA);
    } else if (v >= 0) {
        rc = 0;
        for (int i = v; i < HOOKD_PG_SCHEMA && rc == 0; i++) {
            /* One step per transaction, its version written inside it. */
            char what[48];
            snprintf(what, sizeof what, "creating spool schema %d", i + 1);
            if (run(c, "BEGIN", PGRES_COMMAND_OK, what, err, errlen) < 0 ||
                run(c, migrations[i], PGRES_COMMAND_OK, what, err, errlen) < 0 ||
                run(c, "COMMIT", PGRES_COMMAND_OK, what, err, errlen) < 0) {
                PQclear(PQexec(c, "ROLLBACK"));
                rc = -1;
            }
        }
    }
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", HOOKD_PG_LOCK_SCHEMA);
    PQclear(PQexec(c, sql)); /* also released when the session ends */
    return rc;
}

int hookd_pg_probe(const char *conninfo, char *out, size_t outlen)
{
    PGconn *c = hookd_pg_connect(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        hookd_say(out, outlen, "PostgreSQL not reachable: %s", PQerrorMessage(c));
        hookd_one_line(out);
        PQfinish(c);
        return -1;
    }
    char err[256] = "";
    int v = hookd_pg_schema_version(c, err, sizeof err);
    const char *host = PQhost(c), *db = PQdb(c);
    if (v < 0)
        hookd_say(out, outlen, "PostgreSQL %s on %s: %s", db ? db : "?", host ? host : "?", err);
    else if (v == 0)
        hookd_say(out, outlen, "PostgreSQL %s on %s: reachable, no tables yet (the first node "
                  "to start creates schema %d)", db ? db : "?", host ? host : "?",
                  HOOKD_PG_SCHEMA);
    else
        hookd_say(out, outlen, "PostgreSQL %s on %s: reachable, schema %d (this hookd: %d)",
                  db ? db : "?", host ? host : "?", v, HOOKD_PG_SCHEMA);
    PQfinish(c);
    return v;
}

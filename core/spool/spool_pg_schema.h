/* spool_pg_schema: the PostgreSQL spool's tables (docs/DESIGN.md §11),
 * created and migrated by whichever node starts first, under an advisory
 * lock, with a version number in hookd_meta. */
#ifndef HOOKD_SPOOL_PG_SCHEMA_H
#define HOOKD_SPOOL_PG_SCHEMA_H

#include <stddef.h>
#include <libpq-fe.h>
#include <stdint.h>

#define HOOKD_PG_SCHEMA 1

/* The session-level advisory lock that serialises schema changes between
 * nodes (a constant: "hookd" in ASCII). */
#define HOOKD_PG_LOCK_SCHEMA 0x686f6f6b64LL

/* Creates the tables if there are none, migrates an older version, refuses
 * a newer one. Waits for another node doing the same. 0, or -1 with one
 * line in err (never the conninfo). */
int hookd_pg_schema_ensure(PGconn *c, char *err, size_t errlen);

/* The version in the database: 0 when there are no tables, -1 with err when
 * it cannot be read. For `hookd check`. */
int hookd_pg_schema_version(PGconn *c, char *err, size_t errlen);

/* Connects with conninfo (a libpq string or URI) under bounds of its own
 * unless conninfo sets them: 5 s to connect, and a server that stops
 * answering mid-statement is given up after about 20 s (TCP keepalives,
 * tcp_user_timeout), so the writer thread never waits without end. */
PGconn *hookd_pg_connect(const char *conninfo);

/* "{1,2,3}": an int8[] parameter in text form (malloc'd; "{}" for none).
 * NULL on no memory. */
char *hookd_pg_int_array(const int64_t *x, size_t n);

/* One line into err: what failed and the server's (or libpq's) words. */
void hookd_pg_why(char *err, size_t errlen, const char *what, const PGconn *c,
                  const PGresult *r);

/* For `hookd check`: connects with conninfo and reads the schema version.
 * Writes one line into out ("PostgreSQL hookd on 10.0.0.5: schema 1" or
 * why it could not; never the conninfo). Returns the version (0: no
 * tables yet), or -1 when the server could not be reached or read. */
int hookd_pg_probe(const char *conninfo, char *out, size_t outlen);

#endif

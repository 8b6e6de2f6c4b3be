/* spool_pg: the PostgreSQL driver's state, shared by spool_pg.c (open,
 * commit, close, the connection and the set of held deliveries) and
 * spool_pg_housekeep.c (renewal, claims, retention). Not for anyone else:
 * the driver's interface is spool_driver.h. Everything here runs on the
 * spool's writer thread (open excepted). */
#ifndef HOOKD_SPOOL_PG_H
#define HOOKD_SPOOL_PG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "spool_driver.h"

/* One delivery this node holds: its row id and the claim token. */
typedef struct hookd_pg_held {
    int64_t id;    /* 0: a free slot */
    int64_t token;
} hookd_pg_held;

typedef struct hookd_pg {
    PGconn *c;
    char *conninfo;          /* for PQconnectdb again; never logged */
    char *node;
    char where[160];         /* "PostgreSQL dbname on host": describe() */
    int64_t lease_ms;
    int64_t token;           /* this node's own appends */
    /* Reconnecting (full jitter): the next try no sooner than retry_at
     * (monotonic ms); backoff doubles from 100 ms to 10 s. */
    int64_t retry_at, backoff;
    int64_t next_renew;      /* Unix ms */
    /* The deliveries this node holds (its own inserts and its claims), by
     * id: open addressing with linear probing, cap a power of two. */
    hookd_pg_held *held;
    size_t cap, nheld;
    char detail[256];        /* PostgreSQL's words on the last failure */
} hookd_pg;

/* 0 when the connection works (reconnected if it was bad and its back-off
 * is over), else -1. */
int hookd_pg_ready(hookd_pg *pg);
/* Notes PostgreSQL's message (one line) in pg->detail. */
void hookd_pg_note(hookd_pg *pg, const char *what, const PGresult *r);

/* The held set. put: 0 or -1 (out of memory); get: the token or 0. */
int hookd_pg_held_put(hookd_pg *pg, int64_t id, int64_t token);
int64_t hookd_pg_held_get(const hookd_pg *pg, int64_t id);
void hookd_pg_held_drop(hookd_pg *pg, int64_t id);

/* Renews the leases of what this node holds, claims due deliveries into d,
 * releases expired leases and applies retention (spool_pg_housekeep.c). */
int hookd_pg_housekeep(void *db, hookd_runtime *rt, hookd_dispatch *d);

#endif

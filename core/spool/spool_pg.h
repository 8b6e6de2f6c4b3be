/* spool_pg: the PostgreSQL driver's state, shared by spool_pg.c (open,
 * the group commit, close), spool_pg_conn.c (connections, the held set)
 * and spool_pg_housekeep.c (renewal and expired leases on the writer;
 * claims, LISTEN and retention on a thread of its own). Not for anyone else: the driver's interface is
 * spool_driver.h.
 *
 * Threads and connections (spool.pool must allow two; more would buy
 * nothing while the writer is one thread): the spool's writer thread
 * commits, renews leases and releases expired ones on `w` (they write the
 * rows commits write: on one connection they never wait for, or deadlock
 * with, this node's own commits); the driver's housekeeping thread LISTENs
 * on hookd_due, claims due deliveries and applies retention on `k`, so a
 * claim never delays a commit, and a notification wakes a claim without
 * waiting for the writer. What both threads touch (the held set, the
 * runtime) is under `lock`. */
#ifndef HOOKD_SPOOL_PG_H
#define HOOKD_SPOOL_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "spool_driver.h"

/* The channel that says "deliveries became due" (empty payload). */
#define HOOKD_PG_CHANNEL "hookd_due"

/* One delivery this node holds: its row id and the claim token. */
typedef struct hookd_pg_held {
    int64_t id;    /* 0: a free slot */
    int64_t token;
} hookd_pg_held;

/* One connection and its reconnecting (full jitter): the next try no
 * sooner than retry_at (monotonic ms); backoff doubles from 100 ms to 10 s. */
typedef struct hookd_pg_link {
    PGconn *c;               /* NULL or bad: reconnect */
    int64_t retry_at, backoff;
    const char *role;        /* "writer", "housekeeping": for log lines */
    int prepared;            /* c's first batch (the writer's setting and
                              * statements) went through: c is set up */
} hookd_pg_link;

typedef struct hookd_pg {
    hookd_pg_link w;         /* the writer's: commits (writer thread) */
    hookd_pg_link k;         /* the housekeeping thread's */
    char *conninfo;          /* for connecting again; never logged */
    char *node;
    char where[160];         /* "PostgreSQL dbname on host": describe() */
    int64_t lease_ms;
    int64_t token;           /* this node's own appends */
    char detail[256];        /* PostgreSQL's words on the last failed commit */
    uint64_t round_trips;    /* writer: waits for the server in commits (tests) */
    struct hookd_pg_sent_batch *fly; /* writer: records sent, their answer not yet read */
    int64_t next_renew;      /* writer: Unix ms */
    atomic_int writer_ok;    /* the writer's connection works: claims pause when not */

    pthread_mutex_t lock;    /* held, rt, d */
    /* The deliveries this node holds (its own inserts and its claims), by
     * id: open addressing with linear probing, cap a power of two. */
    hookd_pg_held *held;
    size_t cap, nheld;
    hookd_runtime *rt;       /* the latest the writer handed over (a reference) */
    hookd_dispatch *d;

    /* The housekeeping thread. */
    pthread_t thread;
    int started;
    atomic_int stop;
    int wake[2];             /* a pipe: close() wakes the thread's poll */
} hookd_pg;

/* 0 when l's connection works (connected again if it was bad and its
 * back-off is over), else -1 with the reason logged once per outage. */
int hookd_pg_link_ready(hookd_pg *pg, hookd_pg_link *l);
/* Closes l's connection: the next hookd_pg_link_ready connects anew (the
 * server rolls back what it had open). */
void hookd_pg_link_drop(hookd_pg_link *l);
/* Notes PostgreSQL's message on the writer's connection in pg->detail. */
void hookd_pg_note(hookd_pg *pg, const char *what, const PGresult *r);

/* The held set; each takes the lock. put: 0 or -1 (out of memory); get:
 * the token or 0; drop: only while held under `token` (a later claim of
 * the same row stays). */
int hookd_pg_held_put(hookd_pg *pg, int64_t id, int64_t token);
int64_t hookd_pg_held_get(hookd_pg *pg, int64_t id);
void hookd_pg_held_drop(hookd_pg *pg, int64_t id, int64_t token);
/* A copy of the held set: *ids and *tokens malloc'd (NULL when empty or
 * out of memory), the count returned. */
size_t hookd_pg_held_copy(hookd_pg *pg, int64_t **ids, int64_t **tokens);

/* The housekeeping thread (spool_pg_housekeep.c): start at open (0 or -1),
 * stop at close (joins it). */
int hookd_pg_keeper_start(hookd_pg *pg);
void hookd_pg_keeper_stop(hookd_pg *pg);
/* The driver's housekeep (writer thread, every HOOKD_SPOOL_HOUSEKEEP_MS):
 * hands rt and d to the housekeeping thread, reconnects the writer. */
int hookd_pg_housekeep(void *db, hookd_runtime *rt, hookd_dispatch *d);
/* At close, on the writer's connection: gives back what this node holds,
 * its leases ended now and a NOTIFY with them (spool_pg_housekeep.c). */
void hookd_pg_give_back(hookd_pg *pg);

#endif

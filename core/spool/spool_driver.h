/* spool_driver: the one interface between the spool's generic part (spool.c:
 * the loop side, the writer thread, the queue of records, the failing
 * state) and a store. A driver is a table of functions, chosen by name
 * (spool.driver) when the spool opens; the receive path and the dispatcher
 * see only spool.h and never know which driver runs (docs/DESIGN.md §11).
 *
 * Threads: open runs on the thread that opens the spool; every other
 * function runs on the writer thread, one call at a time, so a driver
 * needs no lock of its own for its handle (close runs on the opener's
 * thread only when the writer thread could not be started). */
#ifndef HOOKD_SPOOL_DRIVER_H
#define HOOKD_SPOOL_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "deliver/dispatch.h"
#include "deliver/runtime.h"
#include "spool.h"

/* How often the writer calls housekeep (Unix ms between passes): a driver
 * takes what falls due before the next pass, so nothing waits longer. */
#define HOOKD_SPOOL_HOUSEKEEP_MS 1000

/* What commit and housekeep return. */
enum {
    HOOKD_SPOOL_OK = 0,
    HOOKD_SPOOL_FAILED = 1, /* nothing of the batch is stored; a later commit may work */
    HOOKD_SPOOL_LOST = 2,   /* the store is no longer the one opened (the driver logged
                             * why, once): nothing is written until hookd restarts */
    HOOKD_SPOOL_UNREACHABLE = 3, /* the store cannot be reached now (a server down, a
                             * connection cut): nothing of the batch is stored; the
                             * driver reconnects, and a housekeep that returns OK
                             * says it is back, with or without traffic */
};

/* One record from the workers, committed with the next batch of appends:
 * an attempt's outcome, or (a.delivery == 0) the enrichment of event `id`
 * as compact JSON in `json`. */
typedef struct hookd_spool_rec {
    struct hookd_spool_rec *next;
    hookd_attempt a;        /* a.reason is NULL: the text is in reason */
    char reason[256];       /* "" when none */
    char id[HOOKD_ID_LEN + 1];
    char *json;             /* malloc'd; NULL for an attempt */
} hookd_spool_rec;

typedef struct hookd_spool_open_args {
    const hookd_config *cfg; /* the configuration at start; gone after open returns */
} hookd_spool_open_args;

typedef struct hookd_spool_driver {
    const char *name;       /* the value of spool.driver */

    /* Opens (creates, migrates) the store and claims it for this daemon.
     * Returns the driver's handle, or NULL with one line in err. */
    void *(*open)(const hookd_spool_open_args *a, char *err, size_t errlen);

    /* Stores the appends and the records in one transaction, all or
     * nothing. For each append it sets result (HOOKD_SPOOL_STORED with
     * delivery[], or HOOKD_SPOOL_DUPLICATE with first_id); on failure the
     * caller overwrites them. `now` is the Unix ms of the batch. Returns
     * HOOKD_SPOOL_OK, or FAILED / UNREACHABLE / LOST with *why a short reason for the
     * answers ("disk full") and detail(db) the driver's own words. */
    int (*commit)(void *db, hookd_append *apps, hookd_spool_rec *recs, int64_t now,
                  const char **why);

    /* Optional, both or neither (a server whose work can overlap the loop
     * reading the next requests; an embedded store runs on hookd's own
     * core and would only pay a second commit). When a batch has appends
     * and enough records (spool.c's SPLIT_MIN; fewer ride with the
     * appends), the writer commits the appends alone and answers them,
     * then send_records sends the records' transaction without waiting
     * (or, when it cannot, stores them as commit would): HOOKD_SPOOL_OK, or
     * a failure status as commit's (nothing in flight). The caller keeps
     * recs until settle, given the same list, reads that answer and returns
     * commit's status for it; the writer calls it before any other call to
     * the driver (close included) and within a few ms when idle. */
    int (*send_records)(void *db, hookd_spool_rec *recs, int64_t now, const char **why);
    int (*settle)(void *db, hookd_spool_rec *recs, const char **why);

    /* Between commits, every HOOKD_SPOOL_HOUSEKEEP_MS: hands due pending
     * deliveries that nobody holds (an earlier run's, released retries,
     * replayed ones) to d within dispatch.queue, and applies retention
     * under rt's configuration. Returns HOOKD_SPOOL_OK (the store answered,
     * or has nothing to reach), UNREACHABLE (a server that does not answer:
     * the node is not ready until a pass returns OK) or LOST. */
    int (*housekeep)(void *db, hookd_runtime *rt, hookd_dispatch *d);

    /* After the last commit: writes back what it holds, releases the
     * store and frees db. */
    void (*close)(void *db);

    /* Which store, for log lines ("hookd-spool.db"); never a secret. */
    const char *(*describe)(void *db);

    /* The store's own words on the last failure, for the log line. */
    const char *(*detail)(void *db);
} hookd_spool_driver;

/* The drivers built into this hookd (spool_sqlite.c, ...). */
extern const hookd_spool_driver hookd_spool_sqlite;
extern const hookd_spool_driver hookd_spool_postgres; /* spool_pg.c */

#endif

/* spool_copy: moves a single node's SQLite spool into a cluster's
 * PostgreSQL spool (`hookd spool copy`, docs/DESIGN.md §11): every event,
 * every delivery with its state and counters, every attempt, every dedup
 * key. Keyed by the event id, so running it twice stores nothing twice. */
#ifndef HOOKD_SPOOL_COPY_H
#define HOOKD_SPOOL_COPY_H

#include <stddef.h>
#include <stdint.h>

#define HOOKD_COPY_BATCH 500 /* events per transaction by default */

/* What was committed (on a failure too: the batches before it stay). */
typedef struct hookd_copy_stats {
    int64_t events;     /* copied */
    int64_t skipped;    /* already in PostgreSQL: left as they are, with their deliveries */
    int64_t deliveries; /* copied, of which: */
    int64_t pending, delivered, dead;
    int64_t attempts;
    int64_t dedup;      /* dedup keys stored (one PostgreSQL already had is not) */
    char where[160];    /* "PostgreSQL hookd on 10.0.0.5" once connected, never the conninfo */
} hookd_copy_stats;

/* Whether libpq can parse conninfo (a key=value string or a URI; "" takes
 * everything from the PG* environment). Says nothing of why: libpq's words
 * would quote a piece of it, perhaps of the password. */
int hookd_copy_conninfo_ok(const char *conninfo);

/* Copies the SQLite spool at path (opened read-only, never created; a
 * daemon may be running on it) into the PostgreSQL spool of conninfo,
 * creating or migrating its schema first. Events in arrival order, `batch`
 * (<= 0: HOOKD_COPY_BATCH) to a transaction, each event with its deliveries
 * and their attempts; an event whose id PostgreSQL has is skipped with
 * them. Pending deliveries arrive unclaimed, so any node takes them when
 * due, and a transaction that stored one sends NOTIFY hookd_due. Then the
 * dedup keys, a key PostgreSQL has left as it is. 0, or -1 with one line in
 * err (never the conninfo). */
int hookd_spool_copy(const char *path, const char *conninfo, int batch, hookd_copy_stats *st,
                     char *err, size_t errlen);

#endif

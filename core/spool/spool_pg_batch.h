/* spool_pg_batch: a whole batch's appends (those without a dedup key) and
 * a whole batch's delivery results, each as ONE statement over arrays
 * (unnest), sent as a prepared statement with binary array parameters.
 * Per-statement work on the server (executor start, the plan's nodes,
 * the protocol messages) is paid once per batch instead of once per event.
 * Part of the PostgreSQL driver (spool_pg.c); nobody else uses it. */
#ifndef HOOKD_SPOOL_PG_BATCH_H
#define HOOKD_SPOOL_PG_BATCH_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* A binary PostgreSQL array of one element type, grown as elements are
 * added (array_recv's format: ndim, has-null, element oid, length,
 * lower bound, then each element as a length and its bytes). */
typedef struct hookd_pg_arr {
    unsigned char *b;
    size_t len, cap;
    int count, nulls, oom;
    uint32_t oid;
} hookd_pg_arr;

#define HOOKD_PG_OID_BYTEA 17
#define HOOKD_PG_OID_INT8 20
#define HOOKD_PG_OID_INT4 23
#define HOOKD_PG_OID_TEXT 25

void hookd_pg_arr_init(hookd_pg_arr *a, uint32_t oid);
/* An element of len bytes (p NULL: a NULL element). */
void hookd_pg_arr_add(hookd_pg_arr *a, const void *p, size_t len);
void hookd_pg_arr_text(hookd_pg_arr *a, const char *s); /* NULL: a NULL element */
void hookd_pg_arr_i64(hookd_pg_arr *a, int64_t v);
void hookd_pg_arr_i32(hookd_pg_arr *a, int32_t v);
/* Completes the header: 0, or -1 when an add ran out of memory. */
int hookd_pg_arr_done(hookd_pg_arr *a);
void hookd_pg_arr_free(hookd_pg_arr *a);

/* The appends of a batch without a dedup key, in one statement (12
 * parameters): $1..$6 the events' ids, sources, types, received_at,
 * bodies and headers (text[], text[], text[], int8[], bytea[], bytea[],
 * binary); $7 int4[] and $8 text[] the deliveries: the 1-based index of
 * their event in $1 and the plugin, in the order the caller wants their
 * ids; $9 now, $10 the claim token, $11 lease_until, $12 the node (text).
 * Events are inserted in array order, deliveries already claimed, due at
 * their event's received_at; the rows are the deliveries' ids in $7's
 * order (bigserial, ascending). */
extern const char hookd_pg_appends_sql[];
#define HOOKD_PG_APPENDS_STMT "hookd_appends"

/* The results of a batch in one statement (12 parameters, arrays binary):
 * $1 int8[] delivery, $2 int8[] token, $3 text[] state, $4 int4[] attempt
 * number, $5 int8[] next_at (for a "pending" result, else now), $6 text[]
 * reason (NULL elements: none), $7 int8[] started_at, $8 int8[]
 * duration_ms, $9 text[] result, $10 int8[] keep_until (> 0: a retry kept
 * in memory, still claimed under that lease), $11 now, $12 the node. As
 * hookd_pg_finish for each element: both rows or neither, written only
 * while the row is held under its token. The rows: the deliveries written.
 * A delivery may appear once only (an UPDATE ... FROM takes one match). */
extern const char hookd_pg_finishes_sql[];
#define HOOKD_PG_FINISHES_STMT "hookd_finishes"

#endif

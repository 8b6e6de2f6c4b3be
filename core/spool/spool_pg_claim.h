/* spool_pg_claim: how a node takes due deliveries from the shared PostgreSQL
 * spool and gives them back (docs/DESIGN.md §11). A claim marks rows with a
 * random token and a lease; only the holder of the token writes the result;
 * a lease that passes puts the row back in the pool. Every function takes
 * the time (Unix ms) from its caller, so tests can move it. */
#ifndef HOOKD_SPOOL_PG_CLAIM_H
#define HOOKD_SPOOL_PG_CLAIM_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* One claimed delivery and its event. Strings and blobs are malloc'd. */
typedef struct hookd_pg_claimed {
    int64_t id;              /* hookd_deliveries.id */
    int64_t token;           /* write the result with it */
    char *plugin;            /* the instance name */
    int attempts, round_start;
    int64_t next_at;
    char *event_id, *source, *type;
    int64_t received_at;
    unsigned char *body, *headers, *enrichment; /* enrichment NULL when none */
    size_t body_len, headers_len, enrichment_len;
} hookd_pg_claimed;

/* A new claim token: 63 random bits, never 0. */
int64_t hookd_pg_token(void);

/* Claims up to max due deliveries nobody holds (pending, next_at <= now,
 * no lease or one that passed), oldest due first, skipping rows another
 * node is claiming this instant (FOR UPDATE SKIP LOCKED): each gets token,
 * lease_until = now + lease_ms and node. *out (free with
 * hookd_pg_claimed_free) and *n. 0, or -1 with err. */
int hookd_pg_claim(PGconn *c, int64_t token, const char *node, int64_t now, int64_t lease_ms,
                   int max, hookd_pg_claimed **out, size_t *n, char *err, size_t errlen);
void hookd_pg_claimed_free(hookd_pg_claimed *v, size_t n);

/* Extends the leases of deliveries this node holds (ids[i] under
 * tokens[i]) to until. The number still held (a lease that passed and was
 * taken by another node is not), or -1 with err. */
long hookd_pg_renew(PGconn *c, const int64_t *ids, const int64_t *tokens, size_t n,
                    int64_t until, char *err, size_t errlen);
/* The same, and the ids renewed into kept[] (room for n), in no order. */
long hookd_pg_renew_kept(PGconn *c, const int64_t *ids, const int64_t *tokens, size_t n,
                         int64_t until, int64_t *kept, char *err, size_t errlen);

/* The outcome of an attempt, written only if the row is still held under
 * token: state "delivered", "dead" or "pending" (a retry: next_at, and the
 * row goes back to the pool), with the attempt row. 1 written, 0 the lease
 * was lost (nothing written), -1 with err. Not in a transaction of its own:
 * the caller's (BEGIN ... COMMIT) or autocommit. */
int hookd_pg_finish(PGconn *c, int64_t id, int64_t token, const char *state, int attempts,
                    int64_t next_at, int64_t now, const char *reason, const char *node,
                    int64_t started_at, int64_t duration_ms, const char *result,
                    char *err, size_t errlen);

/* hookd_pg_finish's statement (12 parameters), and the name the writer
 * prepares it under on its connection. */
extern const char hookd_pg_finish_sql[];
#define HOOKD_PG_FINISH_STMT "hookd_finish"

/* hookd_pg_finish sent in pipeline mode, as the prepared statement
 * HOOKD_PG_FINISH_STMT (c must have it; its result read later: COMMAND_OK,
 * PQcmdTuples "1" written, "0" the lease was lost). keep_until > 0: a
 * retry ("pending") that the node keeps in memory stays claimed under
 * token with that lease instead of going back to the pool. 0, or -1 when
 * libpq could not queue it. */
int hookd_pg_finish_send(PGconn *c, int64_t id, int64_t token, const char *state, int attempts,
                         int64_t next_at, int64_t now, const char *reason, const char *node,
                         int64_t started_at, int64_t duration_ms, const char *result,
                         int64_t keep_until);

/* Clears the claims of leases that passed before now, on one node at a
 * time (pg_try_advisory_xact_lock; another node doing it: 0 at once). The
 * number released, or -1 with err. */
long hookd_pg_release_expired(PGconn *c, int64_t now, char *err, size_t errlen);

#define HOOKD_PG_LOCK_HOUSEKEEP 0x686f6f6b65LL /* the advisory lock of the above */

#endif

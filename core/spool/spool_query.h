/* spool_query: reading and replaying the spool from outside the daemon's
 * writer, on either driver (spool.driver: sqlite or postgres), for the
 * commands (`hookd events`, `dead`, `replay`) and the console's API. One
 * handle is one connection: not shared between threads. Every call blocks.
 *
 * Results are negative errno codes: 0 ok, -ENOENT no such event (or no
 * spool file, no hookd tables), -EINVAL a bad argument (id, cursor, status,
 * limit), -EIO the store failed or holds a newer schema, -ENOMEM. After a
 * failure hookd_spool_q_error() gives one line saying why (never the
 * conninfo or a password). Times are Unix milliseconds in, ISO 8601 UTC
 * strings with milliseconds out (the shapes of the console API, docs/console.md). */
#ifndef HOOKD_SPOOL_QUERY_H
#define HOOKD_SPOOL_QUERY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define HOOKD_SPOOL_Q_DEFAULT 50 /* rows when limit <= 0 */
#define HOOKD_SPOOL_Q_MAX 500    /* the most rows when max_limit is 0 (the API's) */

typedef struct hookd_spool_q hookd_spool_q;

/* Opens cfg's spool as a second connection (SQLite: an existing file only,
 * never created nor upgraded, WAL reader, 5 s busy timeout; PostgreSQL:
 * cfg->spool_conninfo, read-only unless writable). On failure *out is NULL
 * and err holds the reason. */
int hookd_spool_q_open(const hookd_config *cfg, int writable, hookd_spool_q **out, char *err,
                       size_t errlen);
void hookd_spool_q_close(hookd_spool_q *q);
/* The last failure, one line ("" when none). */
const char *hookd_spool_q_error(const hookd_spool_q *q);
/* "sqlite" or "postgres". */
const char *hookd_spool_q_driver(const hookd_spool_q *q);

/* 1 when id looks like an event id (a ULID: 26 characters of Crockford
 * base32, upper case); the calls below answer -EINVAL otherwise. */
int hookd_spool_q_valid_id(const char *id);

/* The filter of the listings and of replay_dead. NULL fields match any.
 * type: exact, or a glob where * matches any run of characters and ? one
 * character (every other character is itself, on both drivers).
 * status (events only): "pending" (some delivery pending), "dead" (some
 * dead), "delivered" (at least one, all delivered). since_ms: received_at
 * >= since_ms (INT64_MIN: any). cursor: the previous page's *next (NULL:
 * the first page). limit: <= 0 HOOKD_SPOOL_Q_DEFAULT, clamped to max_limit
 * (0: HOOKD_SPOOL_Q_MAX; the commands pass their own, bigger, maximum). */
typedef struct hookd_spool_filter {
    const char *source, *type, *status, *plugin;
    int64_t since_ms;
    const char *cursor;
    int limit;
    int max_limit;
} hookd_spool_filter;

/* An "any" filter: every field NULL or 0, since_ms INT64_MIN. */
#define HOOKD_SPOOL_FILTER_ANY {.since_ms = INT64_MIN}

/* Events, newest first: *rows an array of {"id","source","type",
 * "received_at","status","deliveries":{"pending","delivered","dead"}};
 * status is "pending" if any delivery is, else "dead" if any is, else
 * "delivered" if any is, else "none". *next a malloc'd cursor when more
 * rows follow, else NULL. On failure *rows and *next are NULL. */
int hookd_spool_q_events(hookd_spool_q *q, const hookd_spool_filter *f, json_t **rows,
                         char **next);

/* One event: {"id","source","type","received_at","headers":{name:value},
 * "body": text|null,"body_base64": null|text (when the body is not UTF-8),
 * "enrichment": obj|null,"deliveries":[{"id","plugin","state","attempts",
 * "next_at" (pending only),"updated_at","reason","history":[{"n",
 * "started_at","duration_ms","result","reason","retry_at"}]}]}, read from
 * one snapshot. Headers are as stored (credentials were never kept); the
 * caller masks what it shows. -ENOENT: no such event. */
int hookd_spool_q_event(hookd_spool_q *q, const char *id, json_t **doc);

/* Dead letters, oldest first (by when they died): *rows an array of
 * {"delivery","event","source","type","plugin","attempts","reason","at"}.
 * Filters: plugin, source, type, since_ms (received_at), cursor, limit. */
int hookd_spool_q_dead(hookd_spool_q *q, const hookd_spool_filter *f, json_t **rows,
                       char **next);

/* Replays: every delivery of the events ids (nplugins > 0: only those to
 * these instances) that is not pending is made pending again, in one
 * transaction, as a new round (the retry budget counts from its attempts
 * now; no claim; due now). A pending delivery is left alone: a daemon may
 * hold it already. *count: the deliveries made pending (an id listed twice
 * counts once). An unknown id is -ENOENT and nothing is replayed. On
 * PostgreSQL the lease is cleared and NOTIFY hookd_due sent with the commit;
 * on SQLite a running daemon notices the commit (PRAGMA data_version). */
int hookd_spool_q_replay_events(hookd_spool_q *q, const char *const *ids, size_t nids,
                                const char *const *plugins, size_t nplugins, int64_t *count);
int hookd_spool_q_replay_event(hookd_spool_q *q, const char *id, const char *const *plugins,
                               size_t nplugins, int64_t *count);

/* Dead letters made pending as above: the deliveries listed (n > 0; ids
 * that are not dead are skipped), else every one f matches (plugin, source,
 * type; f NULL: all). */
int hookd_spool_q_replay_dead(hookd_spool_q *q, const hookd_spool_filter *f,
                              const int64_t *deliveries, size_t n, int64_t *count);

/* The spool's counts at now_ms: {"pending","retrying" (pending, attempted
 * before),"dead","oldest_pending_at" (the received_at of the oldest event
 * with a pending delivery, or null),"plugins":{name:{"delivered","pending",
 * "dead","ok_1h","failed_1h"}} (instances with rows only),"per_minute":
 * {"start":ISO,"counts":[60 events received per minute, oldest first, the
 * last the current minute]}}. The counts scan the deliveries table. */
int hookd_spool_q_stats(hookd_spool_q *q, int64_t now_ms, json_t **doc);

#endif

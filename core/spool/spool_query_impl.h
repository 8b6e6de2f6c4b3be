/* spool_query_impl: what spool_query.c shares with its two drivers
 * (spool_query_sqlite.c, spool_query_pg.c). Private to core/spool. The
 * generic part checks every argument and clamps limits; a driver gets them
 * already checked, in the shape below, and builds its JSON with the row
 * helpers here so that both drivers give the same documents. */
#ifndef HOOKD_SPOOL_QUERY_IMPL_H
#define HOOKD_SPOOL_QUERY_IMPL_H

#include "spool_query.h"

#include <stdbool.h>

/* A checked filter. type is as given (each driver turns it into its own
 * pattern); status is one of the three words or NULL; cursor fields are
 * set when has_cursor (events: c1 = seq; dead: c1 = updated_at, c2 = id);
 * limit is 1..max. */
typedef struct sq_filter {
    const char *source, *type, *status, *plugin;
    int64_t since;
    bool has_cursor;
    int64_t c1, c2;
    int64_t limit;
} sq_filter;

typedef struct sq_ops {
    const char *name;
    /* rows is an empty array to fill; *next as in spool_query.h. */
    int (*events)(hookd_spool_q *q, const sq_filter *f, json_t *rows, char **next);
    int (*event)(hookd_spool_q *q, const char *id, json_t **doc);
    int (*dead)(hookd_spool_q *q, const sq_filter *f, json_t *rows, char **next);
    /* ids unique and valid; plugins NULL when nplugins is 0. */
    int (*replay_events)(hookd_spool_q *q, const char *const *ids, size_t nids,
                         const char *const *plugins, size_t nplugins, int64_t now,
                         int64_t *count);
    /* f NULL with n > 0. */
    int (*replay_dead)(hookd_spool_q *q, const sq_filter *f, const int64_t *ids, size_t n,
                       int64_t now, int64_t *count);
    int (*stats)(hookd_spool_q *q, int64_t now, json_t **doc);
    void (*close)(hookd_spool_q *q);
} sq_ops;

/* The first member of each driver's handle. */
struct hookd_spool_q {
    const sq_ops *ops;
    char err[256];
};

int hookd_spool_q_open_sqlite(const char *path, int writable, hookd_spool_q **out, char *err,
                              size_t errlen);
int hookd_spool_q_open_pg(const char *conninfo, int writable, hookd_spool_q **out, char *err,
                          size_t errlen);

/* Sets q's error (printf style) and returns code. */
int sq_fail(hookd_spool_q *q, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sq_no_memory(hookd_spool_q *q);

/* Cursors (malloc'd; NULL on no memory). */
char *sq_cursor1(int64_t a);
char *sq_cursor2(int64_t a, int64_t b);

/* ---- JSON pieces: every function gives a new reference or NULL ---- */

json_t *sq_time(int64_t unix_ms);         /* ISO 8601 string */
json_t *sq_time_or_null(const int64_t *unix_ms);
json_t *sq_text(const char *s);            /* string, null for NULL or not UTF-8 */

json_t *sq_event_row(const char *id, const char *source, const char *type, int64_t received,
                     int64_t pending, int64_t delivered, int64_t dead);
json_t *sq_dead_row(int64_t delivery, const char *event, const char *source, const char *type,
                    const char *plugin, int64_t attempts, const char *reason, int64_t at);
/* The event document with an empty "deliveries" array. enrichment NULL:
 * null (also for bytes that are not JSON). */
json_t *sq_event_doc(const char *id, const char *source, const char *type, int64_t received,
                     const void *headers, size_t headers_len, const void *body, size_t body_len,
                     const void *enrichment, size_t enrichment_len);
/* One delivery with an empty "history"; next_at shown when pending. */
json_t *sq_delivery(int64_t id, const char *plugin, const char *state, int64_t attempts,
                    int64_t next_at, int64_t updated_at, const char *reason);
json_t *sq_attempt(int64_t n, int64_t started_at, int64_t duration_ms, const char *result,
                   const char *reason, const int64_t *retry_at);

/* The stats document without its plugins (an empty object to fill with
 * sq_stats_plugin) — counts[60], oldest minute first, from start. */
json_t *sq_stats_doc(int64_t pending, int64_t retrying, int64_t dead, const int64_t *oldest,
                     int64_t start, const int64_t counts[60]);
/* doc.plugins[name][key] = v, the instance's other counts 0 on first sight. */
int sq_stats_plugin(json_t *doc, const char *name, const char *key, int64_t v);

/* The first minute of the per-minute window ending with now's minute. */
int64_t sq_minutes_start(int64_t now);
#define SQ_HOUR_MS ((int64_t)3600 * 1000)

#endif

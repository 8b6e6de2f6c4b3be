/* spool_query: see spool_query.h. The generic half: picks the driver,
 * checks every argument (ids, cursors, status words, limits) before a
 * driver sees it, and builds the JSON rows both drivers share. */
#include "spool_query_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "common/text.h"
#include "deliver/event.h"

/* ---------- the handle ---------- */

int hookd_spool_q_open(const hookd_config *cfg, int writable, hookd_spool_q **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->spool_driver) {
        hookd_say(err, errlen, "no spool configured");
        return -EINVAL;
    }
    if (strcmp(cfg->spool_driver, "postgres") == 0)
        return hookd_spool_q_open_pg(cfg->spool_conninfo, writable, out, err, errlen);
    if (strcmp(cfg->spool_driver, "sqlite") == 0)
        return hookd_spool_q_open_sqlite(cfg->spool_path, writable, out, err, errlen);
    hookd_say(err, errlen, "unknown spool driver \"%s\"", cfg->spool_driver);
    return -EINVAL;
}

void hookd_spool_q_close(hookd_spool_q *q)
{
    if (q)
        q->ops->close(q);
}

const char *hookd_spool_q_error(const hookd_spool_q *q)
{
    return q ? q->err : "";
}

const char *hookd_spool_q_driver(const hookd_spool_q *q)
{
    return q->ops->name;
}

/* ---------- arguments ---------- */

int hookd_spool_q_valid_id(const char *id)
{
    static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    return id && strlen(id) == HOOKD_ID_LEN && strspn(id, crockford) == HOOKD_ID_LEN;
}

static int bad_id(hookd_spool_q *q, const char *id)
{
    return sq_fail(q, -EINVAL,
                   "\"%.40s\" is not an event id (26 characters of Crockford base32, upper case)",
                   id ? id : "");
}

/* A decimal number 0..INT64_MAX: digits only, no sign, no leading zero
 * (one cursor, one spelling). Returns the end, or NULL. */
static const char *parse_u63(const char *s, int64_t *v)
{
    int64_t x = 0;
    const char *p = s;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
        return NULL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (x > (INT64_MAX - (*p - '0')) / 10)
            return NULL;
        x = x * 10 + (*p - '0');
    }
    *v = x;
    return p;
}

/* f into *out; two_part: the dead letters' "updated_at.id" cursor. */
static int check_filter(hookd_spool_q *q, const hookd_spool_filter *f, int two_part,
                        sq_filter *out)
{
    static const hookd_spool_filter any = HOOKD_SPOOL_FILTER_ANY;
    if (!f)
        f = &any;
    memset(out, 0, sizeof *out);
    out->source = f->source;
    out->type = f->type;
    out->plugin = f->plugin;
    out->since = f->since_ms;
    if (f->status && strcmp(f->status, "pending") != 0 && strcmp(f->status, "delivered") != 0 &&
        strcmp(f->status, "dead") != 0)
        return sq_fail(q, -EINVAL, "status \"%.40s\" is not pending, delivered or dead",
                       f->status);
    out->status = f->status;
    if (f->max_limit < 0)
        return sq_fail(q, -EINVAL, "a negative maximum of rows");
    int64_t max = f->max_limit ? f->max_limit : HOOKD_SPOOL_Q_MAX;
    out->limit = f->limit <= 0 ? HOOKD_SPOOL_Q_DEFAULT : f->limit;
    if (out->limit > max)
        out->limit = max;
    if (f->cursor) {
        const char *e = parse_u63(f->cursor, &out->c1);
        if (e && two_part)
            e = *e == '.' ? parse_u63(e + 1, &out->c2) : NULL;
        if (!e || *e)
            return sq_fail(q, -EINVAL, "not a cursor of this listing");
        out->has_cursor = true;
    }
    return 0;
}

/* ---------- the calls ---------- */

static int list(hookd_spool_q *q, const hookd_spool_filter *f, int dead, json_t **rows,
                char **next)
{
    sq_filter sf;
    *rows = NULL;
    *next = NULL;
    q->err[0] = '\0';
    int rc = check_filter(q, f, dead, &sf);
    if (rc)
        return rc;
    json_t *a = json_array();
    if (!a)
        return sq_no_memory(q);
    rc = dead ? q->ops->dead(q, &sf, a, next) : q->ops->events(q, &sf, a, next);
    if (rc) {
        json_decref(a);
        free(*next);
        *next = NULL;
        return rc;
    }
    *rows = a;
    return 0;
}

int hookd_spool_q_events(hookd_spool_q *q, const hookd_spool_filter *f, json_t **rows,
                         char **next)
{
    return list(q, f, 0, rows, next);
}

int hookd_spool_q_dead(hookd_spool_q *q, const hookd_spool_filter *f, json_t **rows,
                       char **next)
{
    return list(q, f, 1, rows, next);
}

int hookd_spool_q_event(hookd_spool_q *q, const char *id, json_t **doc)
{
    *doc = NULL;
    q->err[0] = '\0';
    if (!hookd_spool_q_valid_id(id))
        return bad_id(q, id);
    int rc = q->ops->event(q, id, doc);
    if (rc) {
        json_decref(*doc);
        *doc = NULL;
    }
    return rc;
}

int hookd_spool_q_replay_events(hookd_spool_q *q, const char *const *ids, size_t nids,
                                const char *const *plugins, size_t nplugins, int64_t *count)
{
    *count = 0;
    q->err[0] = '\0';
    if (nids == 0)
        return sq_fail(q, -EINVAL, "no event to replay");
    for (size_t i = 0; i < nids; i++)
        if (!hookd_spool_q_valid_id(ids[i]))
            return bad_id(q, ids[i]);
    for (size_t i = 0; i < nplugins; i++)
        if (!plugins[i] || !*plugins[i])
            return sq_fail(q, -EINVAL, "an empty plugin instance name");
    /* Each id once: the drivers count what they change. */
    const char **uniq = malloc(nids * sizeof *uniq);
    if (!uniq)
        return sq_no_memory(q);
    size_t n = 0;
    for (size_t i = 0; i < nids; i++) {
        size_t k = 0;
        while (k < n && strcmp(uniq[k], ids[i]) != 0)
            k++;
        if (k == n)
            uniq[n++] = ids[i];
    }
    int rc = q->ops->replay_events(q, uniq, n, nplugins ? plugins : NULL, nplugins,
                                   hookd_now_ms(), count);
    free(uniq);
    if (rc)
        *count = 0;
    return rc;
}

int hookd_spool_q_replay_event(hookd_spool_q *q, const char *id, const char *const *plugins,
                               size_t nplugins, int64_t *count)
{
    return hookd_spool_q_replay_events(q, &id, 1, plugins, nplugins, count);
}

int hookd_spool_q_replay_dead(hookd_spool_q *q, const hookd_spool_filter *f,
                              const int64_t *deliveries, size_t n, int64_t *count)
{
    sq_filter sf;
    *count = 0;
    q->err[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (deliveries[i] <= 0)
            return sq_fail(q, -EINVAL, "delivery %" PRId64 " is not a delivery id",
                           deliveries[i]);
    int rc = check_filter(q, f, 1, &sf);
    if (rc)
        return rc;
    rc = q->ops->replay_dead(q, n ? NULL : &sf, deliveries, n, hookd_now_ms(), count);
    if (rc)
        *count = 0;
    return rc;
}

int hookd_spool_q_stats(hookd_spool_q *q, int64_t now_ms, json_t **doc)
{
    *doc = NULL;
    q->err[0] = '\0';
    if (now_ms < SQ_HOUR_MS)
        return sq_fail(q, -EINVAL, "not a time");
    int rc = q->ops->stats(q, now_ms, doc);
    if (rc) {
        json_decref(*doc);
        *doc = NULL;
    }
    return rc;
}

/* console_spool: the API's routes that read or replay the spool (docs/
 * console.md): stats, events, one event, dead letters and both replays.
 * They run on libuv's thread pool (they block on SQLite or PostgreSQL),
 * through the query interface the commands use (spool/spool_query.h), so
 * they answer the same on a single node and on a cluster node. */
#include "console_spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/refusals.h"
#include "common/units.h"

#define MASK "[masked]"
#define MAX_IDS 1000   /* deliveries or plugins named in one replay */

/* ---------- the spool, and its failures as answers ---------- */

typedef struct use {
    hookd_console_view *v;
    hookd_spool_q *q;
    int writable;
    int broken;
} use;

static int open_spool(const hookd_api_call *call, use *u, int writable, json_t **out)
{
    char err[256];
    u->v = call->view;
    u->writable = writable;
    u->broken = 0;
    int rc = hookd_console_view_spool(u->v, writable, &u->q, err, sizeof err);
    if (rc == 0)
        return 0;
    /* No spool yet (nothing received) reads as empty, not as a failure. */
    return hookd_api_fail(out, rc == -ENOENT ? 404 : 503, err);
}

static void close_spool(use *u)
{
    hookd_console_view_release(u->v, u->q, u->writable, u->broken);
}

/* A query's failure: 400 for a bad argument, 404 unknown, else 503. */
static int failed(use *u, int rc, json_t **out)
{
    const char *why = hookd_spool_q_error(u->q);
    if (rc == -EIO || rc == -ENOMEM)
        u->broken = 1;
    int status = rc == -EINVAL ? 400 : rc == -ENOENT ? 404 : 503;
    return hookd_api_fail(out, status, why && *why ? why : "the spool failed");
}

/* ---------- parameters ---------- */

typedef struct params {
    char source[128], type[128], status[16], plugin[128], cursor[64], since[32];
    hookd_spool_filter f;
} params;

static int text_param(const hookd_api_call *call, const char *name, char *buf, size_t cap,
                      const char **field, json_t **out)
{
    int r = hookd_api_param(call, name, buf, cap);
    if (r < 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "%s: too long or badly escaped", name);
        return hookd_api_fail(out, 400, msg);
    }
    *field = r > 0 && buf[0] ? buf : NULL;
    return 0;
}

/* The filters of the listings; 0, or the status of a 400 in *out. */
static int read_filter(const hookd_api_call *call, params *p, json_t **out)
{
    memset(p, 0, sizeof *p);
    p->f.since_ms = INT64_MIN;
    const char *since = NULL;
    int rc;
    if ((rc = text_param(call, "source", p->source, sizeof p->source, &p->f.source, out)) ||
        (rc = text_param(call, "type", p->type, sizeof p->type, &p->f.type, out)) ||
        (rc = text_param(call, "status", p->status, sizeof p->status, &p->f.status, out)) ||
        (rc = text_param(call, "plugin", p->plugin, sizeof p->plugin, &p->f.plugin, out)) ||
        (rc = text_param(call, "cursor", p->cursor, sizeof p->cursor, &p->f.cursor, out)) ||
        (rc = text_param(call, "since", p->since, sizeof p->since, &since, out)))
        return rc;
    if (since) {
        int64_t d = hookd_parse_duration(since);
        if (d < 0)
            return hookd_api_fail(out, 400, "since: expected a duration (e.g. 15m, 2h, 7d)");
        p->f.since_ms = hookd_now_ms() - d;
    }
    int limit = hookd_api_limit(call, HOOKD_SPOOL_Q_DEFAULT, HOOKD_SPOOL_Q_MAX);
    if (limit < 0)
        return hookd_api_fail(out, 400, "limit: expected a number");
    p->f.limit = limit;
    return 0;
}

static int page(json_t **out, const char *key, json_t *rows, char *next)
{
    *out = json_pack("{s:o, s:o}", key, rows, "next", next ? json_string(next) : json_null());
    free(next);
    return *out ? 200 : hookd_api_fail(out, 503, "out of memory");
}

/* ---------- the routes ---------- */

int hookd_console_events(const hookd_api_call *call, json_t **out)
{
    params p;
    int rc = read_filter(call, &p, out);
    if (rc)
        return rc;
    use u;
    if ((rc = open_spool(call, &u, 0, out)))
        return rc == 404 ? page(out, "events", json_array(), NULL) : rc;
    json_t *rows = NULL;
    char *next = NULL;
    rc = hookd_spool_q_events(u.q, &p.f, &rows, &next);
    int status = rc ? failed(&u, rc, out) : page(out, "events", rows, next);
    close_spool(&u);
    return status;
}

int hookd_console_dead(const hookd_api_call *call, json_t **out)
{
    params p;
    int rc = read_filter(call, &p, out);
    if (rc)
        return rc;
    use u;
    if ((rc = open_spool(call, &u, 0, out)))
        return rc == 404 ? page(out, "dead", json_array(), NULL) : rc;
    json_t *rows = NULL;
    char *next = NULL;
    rc = hookd_spool_q_dead(u.q, &p.f, &rows, &next);
    int status = rc ? failed(&u, rc, out) : page(out, "dead", rows, next);
    close_spool(&u);
    return status;
}

/* Kept headers whose values are credentials or signatures: replaced. */
static void mask(const hookd_console_view *v, json_t *doc)
{
    json_t *h = json_object_get(doc, "headers");
    const char *name;
    json_t *val;
    json_object_foreach(h, name, val)
        if (hookd_console_view_masked(v, name))
            json_object_set_new(h, name, json_string(MASK));
}

int hookd_console_event(const hookd_api_call *call, json_t **out)
{
    if (!hookd_spool_q_valid_id(call->id))
        return hookd_api_fail(out, 404, "no such event");
    use u;
    int rc = open_spool(call, &u, 0, out);
    if (rc)
        return rc;
    json_t *doc = NULL;
    rc = hookd_spool_q_event(u.q, call->id, &doc);
    int status = 200;
    if (rc) {
        status = failed(&u, rc, out);
    } else {
        mask(call->view, doc);
        *out = doc;
    }
    close_spool(&u);
    return status;
}

/* body.key: absent, or an array of strings (at most MAX_IDS); -1 otherwise. */
static int strings(json_t *body, const char *key, const char **v, size_t *n)
{
    json_t *a = json_object_get(body, key);
    *n = 0;
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > MAX_IDS)
        return -1;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !*s)
            return -1;
        v[(*n)++] = s;
    }
    return 0;
}

int hookd_console_replay_event(const hookd_api_call *call, json_t **out)
{
    if (!hookd_spool_q_valid_id(call->id))
        return hookd_api_fail(out, 404, "no such event");
    const char **plugins = malloc(MAX_IDS * sizeof *plugins);
    size_t n = 0;
    if (!plugins)
        return hookd_api_fail(out, 503, "out of memory");
    if (strings(call->body, "plugins", plugins, &n) < 0) {
        free(plugins);
        return hookd_api_fail(out, 400, "plugins: expected a list of plugin instance names");
    }
    use u;
    int rc = open_spool(call, &u, 1, out);
    if (rc) {
        free(plugins);
        return rc;
    }
    int64_t count = 0;
    rc = hookd_spool_q_replay_event(u.q, call->id, plugins, n, &count);
    int status = rc ? failed(&u, rc, out) : 200;
    if (!rc)
        *out = json_pack("{s:I}", "replayed", (json_int_t)count);
    close_spool(&u);
    free(plugins);
    return status;
}

int hookd_console_replay_dead(const hookd_api_call *call, json_t **out)
{
    json_t *body = call->body, *ids = json_object_get(body, "deliveries");
    hookd_spool_filter f = HOOKD_SPOOL_FILTER_ANY;
    static const char *const keys[] = {"plugin", "source", "type", NULL};
    const char **fields[] = {&f.plugin, &f.source, &f.type};
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(body, keys[i]);
        if (v && !json_is_null(v) && !json_is_string(v)) {
            char msg[64];
            snprintf(msg, sizeof msg, "%s: expected a string", keys[i]);
            return hookd_api_fail(out, 400, msg);
        }
        const char *s = json_string_value(v);
        *fields[i] = s && *s ? s : NULL;
    }
    if (ids && (!json_is_array(ids) || json_array_size(ids) > MAX_IDS))
        return hookd_api_fail(out, 400, "deliveries: expected a list of delivery ids");
    size_t n = ids ? json_array_size(ids) : 0;
    int64_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return hookd_api_fail(out, 503, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(ids, i);
        if (!json_is_integer(x) || json_integer_value(x) <= 0) {
            free(v);
            return hookd_api_fail(out, 400, "deliveries: expected a list of delivery ids");
        }
        v[i] = (int64_t)json_integer_value(x);
    }
    if (ids && n == 0) { /* an empty selection replays nothing, not everything */
        free(v);
        *out = json_pack("{s:i}", "replayed", 0);
        return 200;
    }
    use u;
    int rc = open_spool(call, &u, 1, out);
    if (rc) {
        free(v);
        return rc;
    }
    int64_t count = 0;
    rc = hookd_spool_q_replay_dead(u.q, &f, v, n, &count);
    int status = rc ? failed(&u, rc, out) : 200;
    if (!rc)
        *out = json_pack("{s:I}", "replayed", (json_int_t)count);
    close_spool(&u);
    free(v);
    return status;
}

/* What this process knows (node, received and refused since it started)
 * and what the spool knows (pending, dead, per plugin, per minute); every
 * configured instance is listed, with zeros when the spool has no row. */
int hookd_console_stats(const hookd_api_call *call, json_t **out)
{
    const hookd_console_view *v = call->view;
    int64_t now = hookd_now_ms();
    json_t *refused = json_object();
    hookd_refusal_count counts[HOOKD_REFUSALS_CHECKS];
    size_t nc = hookd_refusals_counts(counts, HOOKD_REFUSALS_CHECKS);
    for (size_t i = 0; i < nc; i++)
        json_object_set_new(refused, counts[i].check, json_integer((json_int_t)counts[i].n));
    json_t *doc = json_pack("{s:s, s:s, s:o, s:o, s:I, s:o}", "node",
                            hookd_console_view_node(v), "driver", hookd_console_view_driver(v),
                            "now", hookd_api_time(now), "started_at",
                            hookd_api_time(call->started_ms), "received",
                            (json_int_t)hookd_metrics_events_accepted(), "refused", refused);
    if (!doc)
        return hookd_api_fail(out, 503, "out of memory");
    json_t *spool = NULL;
    use u;
    int rc = open_spool(call, &u, 0, out);
    if (rc == 0) {
        rc = hookd_spool_q_stats(u.q, now, &spool);
        if (rc)
            rc = failed(&u, rc, out);
        close_spool(&u);
    }
    if (rc && rc != 404) { /* no spool file yet: zeros */
        json_decref(doc);
        return rc;
    }
    json_decref(rc ? *out : NULL);
    json_t *by_plugin = json_object_get(spool, "plugins");
    json_t *list = json_array();
    for (size_t i = 0; i < hookd_console_view_ninstances(v); i++) {
        const char *use_name, *name = hookd_console_view_instance(v, i, &use_name);
        json_t *row = json_object_get(by_plugin, name);
        json_t *item = json_pack("{s:s, s:s}", "name", name, "plugin", use_name);
        static const char *const k[] = {"delivered", "pending", "dead", "ok_1h", "failed_1h"};
        for (size_t j = 0; item && j < sizeof k / sizeof k[0]; j++) {
            json_t *x = json_object_get(row, k[j]);
            json_object_set_new(item, k[j], x ? json_incref(x) : json_integer(0));
        }
        json_array_append_new(list, item);
    }
    json_object_set_new(doc, "plugins", list);
    static const char *const from_spool[] = {"pending", "retrying", "dead", "oldest_pending_at",
                                             "per_minute"};
    for (size_t j = 0; j < sizeof from_spool / sizeof from_spool[0]; j++) {
        json_t *x = json_object_get(spool, from_spool[j]);
        json_object_set_new(doc, from_spool[j],
                            x ? json_incref(x)
                              : j == 3 ? json_null()
                              : j == 4 ? json_pack("{s:o, s:[]}", "start",
                                                   hookd_api_time(now - now % 60000 - 59 * 60000),
                                                   "counts")
                                       : json_integer(0));
    }
    json_decref(spool);
    *out = doc;
    return 200;
}

/* console_api: routing of /api/v1 and the routes that need no spool (see
 * console_api.h). The spool's routes (events, dead, replay, and the stats
 * the spool knows) are added to the table below. */
#include "console_api.h"
#include "console_priv.h"
#include "console_spool.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/refusals.h"

/* ---------- the routes without the spool ---------- */

static int refusals(const hookd_api_call *call, json_t **out)
{
    int limit = hookd_api_limit(call, 50, HOOKD_REFUSALS_KEEP);
    if (limit < 0)
        return hookd_api_fail(out, 400, "limit: expected a number");
    hookd_refusal *r = malloc(sizeof *r * (size_t)limit);
    if (!r)
        return hookd_api_fail(out, 503, "out of memory");
    size_t n = hookd_refusals_recent(r, (size_t)limit);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list, json_pack("{s:o, s:o, s:s, s:i, s:s, s:s}", "at", hookd_api_time(r[i].at_ms),
                            "source", r[i].source[0] ? json_string(r[i].source) : json_null(),
                            "peer", r[i].peer, "status", r[i].status, "check", r[i].check,
                            "reason", r[i].reason));
    free(r);
    *out = json_pack("{s:o}", "refusals", list);
    return 200;
}

/* The routes, matched in order; those over the spool (console_spool.c)
 * block, so they run on the thread pool. */
static const hookd_api_route routes[] = {
    {HTTP_GET, "/api/v1/stats", 1, hookd_console_stats},
    {HTTP_GET, "/api/v1/events", 1, hookd_console_events},
    {HTTP_GET, "/api/v1/events/{id}", 1, hookd_console_event},
    {HTTP_POST, "/api/v1/events/{id}/replay", 1, hookd_console_replay_event},
    {HTTP_GET, "/api/v1/dead", 1, hookd_console_dead},
    {HTTP_POST, "/api/v1/dead/replay", 1, hookd_console_replay_dead},
    /* Off the loop though it could run on it: it keeps the thread-pool path
     * exercised (the ring takes its own lock; no configuration is read). */
    {HTTP_GET, "/api/v1/refusals", 1, refusals},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* ---------- answers ---------- */

void hookd_api_answer(hookd_console_answer *ans, int status, json_t *j, const char *extra)
{
    ans->status = status;
    ans->ctype = HOOKD_JSON_TYPE;
    snprintf(ans->headers, sizeof ans->headers, "%s%s", HOOKD_CONSOLE_HEADERS,
             extra ? extra : "");
    ans->body = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (!ans->body) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        ans->status = 500;
        ans->body = strdup(oom);
    }
    ans->body_len = ans->body ? strlen(ans->body) : 0;
}

void hookd_api_error(hookd_console_answer *ans, int status, const char *msg, const char *extra)
{
    hookd_api_answer(ans, status, json_pack("{s:s}", "error", msg), extra);
}

/* ---------- routing ---------- */

/* path matches pattern ({id}: one non-empty segment, copied into id). */
static int match(const char *pattern, const char *path, size_t len, char *id, size_t idcap)
{
    const char *p = pattern, *s = path, *end = path + len;
    while (*p) {
        if (strncmp(p, "{id}", 4) == 0) {
            const char *seg = s;
            while (s < end && *s != '/')
                s++;
            size_t n = (size_t)(s - seg);
            if (n == 0 || n >= idcap)
                return 0;
            memcpy(id, seg, n);
            id[n] = '\0';
            p += 4;
            continue;
        }
        if (s == end || *p != *s)
            return 0;
        p++;
        s++;
    }
    return s == end;
}

typedef struct job {
    uv_work_t work;
    hookd_console *console;
    const hookd_api_route *route;
    hookd_api_call call;
    hookd_console_done_fn done;
    void *ctx;
    int status;
    json_t *out;
} job;

static void job_run(uv_work_t *w)
{
    job *j = w->data;
    j->status = j->route->fn(&j->call, &j->out);
}

static void job_done(uv_work_t *w, int status)
{
    job *j = w->data;
    hookd_console_answer ans;
    memset(&ans, 0, sizeof ans);
    if (status == UV_ECANCELED) {
        json_decref(j->out);
        hookd_api_error(&ans, 503, "shutting down", NULL);
    } else if (!j->out) {
        hookd_api_error(&ans, 500, "the handler gave no answer", NULL);
    } else {
        hookd_api_answer(&ans, j->status, j->out, NULL);
    }
    j->console->working--;
    json_decref(j->call.body);
    hookd_console_view_unref(j->call.view);
    free((char *)j->call.query);
    j->done(j->ctx, &ans);
    free(j);
}

int hookd_api_dispatch(hookd_console *c, const hookd_console_req *req, json_t *body,
                       hookd_console_answer *ans, hookd_console_done_fn done, void *ctx)
{
    int method = req->method == HTTP_HEAD ? HTTP_GET : req->method;
    const hookd_api_route *r = NULL;
    char allow[64] = "";
    hookd_api_call call = {.console = c, .spool = c->spool, .body = body, .cfg = c->cfg,
                           .view = c->view, .started_ms = c->started_ms};
    for (size_t i = 0; i < NROUTES && !r; i++) {
        if (!match(routes[i].pattern, req->path, req->path_len, call.id, sizeof call.id))
            continue;
        if (routes[i].method == method) {
            r = &routes[i];
        } else {
            const char *m = routes[i].method == HTTP_GET ? "GET, HEAD" : "POST";
            if (!strstr(allow, m)) {
                size_t n = strlen(allow);
                snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", m);
            }
        }
    }
    if (!r && allow[0]) {
        char line[96];
        snprintf(line, sizeof line, "Allow: %s\r\n", allow);
        hookd_api_error(ans, 405, "method not allowed on this path", line);
        return 0;
    }
    if (!r) {
        hookd_api_error(ans, 404, "no such API path", NULL);
        return 0;
    }
    char *query = strndup(req->query, req->query_len);
    if (!query) {
        hookd_api_error(ans, 503, "out of memory", NULL);
        return 0;
    }
    call.query = query;
    if (!r->off_loop) {
        json_t *out = NULL;
        int status = r->fn(&call, &out);
        free(query);
        if (!out)
            hookd_api_error(ans, 500, "the handler gave no answer", NULL);
        else
            hookd_api_answer(ans, status, out, NULL);
        return 0;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        free(query);
        hookd_api_error(ans, 503, "out of memory", NULL);
        return 0;
    }
    j->console = c;
    j->route = r;
    j->call = call;
    j->call.cfg = NULL; /* not for the thread pool (a reload may free it) */
    j->call.body = json_incref(body);
    j->call.view = hookd_console_view_ref(c->view);
    j->done = done;
    j->ctx = ctx;
    j->work.data = j;
    if (uv_queue_work(c->loop, &j->work, job_run, job_done) != 0) {
        json_decref(j->call.body);
        hookd_console_view_unref(j->call.view);
        free(query);
        free(j);
        hookd_api_error(ans, 503, "cannot queue the request", NULL);
        return 0;
    }
    c->working++;
    return HOOKD_CONSOLE_LATER;
}

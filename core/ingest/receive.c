/* receive: the checks of docs/DESIGN.md §5 in order, each refusal answered with its
 * status and logged with the check that failed (never a secret or a MAC). */
#include "receive.h"

#include <errno.h>
#include <llhttp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/json_pointer.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/refusals.h"
#include "config/config.h"
#include "deliver/template.h"
#include "verify/verify.h"

#define MAX_TYPE_LEN 128

static const char *req_header(void *ctx, const char *name)
{
    return hookd_request_header(ctx, name);
}

/* check: the short word the console's recent refusals show ("auth",
 * "signature", ...); why: the logged line, which never holds a secret. */
static void refuse(hookd_response *resp, int status, const hookd_request *req,
                   const char *source, const char *check, const char *why)
{
    hookd_response_error(resp, status, why);
    hookd_logctx ctx = {.source = source, .peer = req->peer};
    hookd_logx(HOOKD_LOG_WARN, &ctx, "refused %d: %s", status, why);
    hookd_refusal_add(source, req->peer, status, check, why);
}

/* Event types end up in logs, templates, URLs and file names: keep them
 * tame. Only dots would be a path's dot segment. */
static int type_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > MAX_TYPE_LEN || strspn(t, ".") == n)
        return 0;
    for (; *t; t++)
        if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
            return 0;
    return 1;
}

static int64_t wall_s(void) { return (int64_t)time(NULL); }

/* The index of a source by name (for metrics); -1 when none. */
static int source_index(const hookd_runtime *rt, const char *name)
{
    const hookd_source_cfg *sc = hookd_config_source(rt->cfg, name);
    return sc ? (int)(sc - rt->cfg->sources) : -1;
}

/* Runs on the loop thread once the spool committed (or could not). */
static void stored(hookd_append *a)
{
    hookd_ev *ev = a->ev;
    const hookd_receiver *rc = a->owner;
    int src = source_index(rc->rt, ev->source);
    hookd_response resp = {.source = src + 1};
    hookd_logctx ctx = {.event = ev->id, .source = ev->source, .peer = a->peer};
    if (a->result < 0) {
        char why[160];
        snprintf(why, sizeof why, "spool cannot store the event: %s", a->why);
        hookd_response_error(&resp, 503, why);
        resp.headers = "Retry-After: 5\r\n";
        hookd_logx(HOOKD_LOG_WARN, &ctx, "refused 503: %s", why);
        hookd_refusal_add(ev->source, a->peer, 503, "spool", why);
    } else if (a->result == HOOKD_SPOOL_DUPLICATE) {
        resp.status = 200;
        resp.body_len = (size_t)snprintf(resp.body, sizeof resp.body,
                                         "{\"id\":\"%s\",\"duplicate\":true}", a->first_id);
        hookd_logx(HOOKD_LOG_INFO, &ctx, "duplicate of %s: answered, not delivered again",
                   a->first_id);
    } else {
        for (size_t i = 0; i < a->nto; i++)
            if (hookd_dispatch_stage(a->jobs, ev, a->to[i], a->delivery[i], 0, 0, 0) != 0)
                hookd_logx(HOOKD_LOG_WARN, &ctx, "no memory to queue a delivery: it runs "
                           "after the next restart");
        if (a->nto == 0)
            hookd_logx(HOOKD_LOG_INFO, &ctx, "accepted %s: no route matches (unrouted)",
                       ev->type);
        else
            hookd_logx(HOOKD_LOG_DEBUG, &ctx, "accepted %s for %zu deliveries", ev->type,
                       a->nto);
        hookd_metrics_event_accepted(src, ev->type);
        resp.status = 200;
        resp.body_len =
            (size_t)snprintf(resp.body, sizeof resp.body, "{\"id\":\"%s\"}", ev->id);
    }
    hookd_server_answer(a->ud, &resp);
}

/* The dedup key: a SHA-256 of the body, a header or a JSON value, so that
 * what is stored has one bounded size. 0 when the source has none. */
static int dedup_key(const hookd_source_cfg *src, const hookd_request *req, const json_t *json,
                     char out[65])
{
    const char *data = NULL;
    size_t len = 0;
    char *dumped = NULL;
    switch (src->dedup) {
    case HOOKD_DEDUP_NONE:
        return 0;
    case HOOKD_DEDUP_BODY:
        data = req->body;
        len = req->body_len;
        break;
    case HOOKD_DEDUP_HEADER:
        data = hookd_request_header(req, src->dedup_arg);
        len = data ? strlen(data) : 0;
        break;
    case HOOKD_DEDUP_POINTER: {
        const json_t *v = hookd_json_pointer(json, src->dedup_arg);
        if (json_is_string(v)) {
            data = json_string_value(v);
            len = json_string_length(v);
        } else if (v) {
            data = dumped = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
            len = data ? strlen(data) : 0;
        }
        break;
    }
    }
    if (!data || len == 0) {
        free(dumped);
        return 0; /* nothing to key on: no dedup for this one */
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)data, len, md);
    free(dumped);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 1;
}

/* The checks the head alone decides, in docs/DESIGN.md §5's order: the source by
 * path, the method, the Basic credentials. The source, or NULL with resp
 * filled. */
static const hookd_source_cfg *head_checks(const hookd_runtime *rt, const hookd_request *req,
                                           hookd_response *resp)
{
    const hookd_source_cfg *src = hookd_runtime_source(rt, req->path, req->path_len);
    if (!src) {
        refuse(resp, 404, req, NULL, "path", "no source at this path");
        return NULL;
    }
    int src_idx = (int)(src - rt->cfg->sources);
    resp->source = src_idx + 1;
    if (req->method != HTTP_POST) {
        refuse(resp, 405, req, src->name, "method", "only POST is accepted");
        resp->headers = "Allow: POST\r\n";
        return NULL;
    }
    if (src->basic_user &&
        hookd_basic_check(hookd_request_header(req, "authorization"), src->basic_user,
                          src->basic_pass) != 0) {
        hookd_metrics_verify_failure(src_idx, HOOKD_MR_BASIC_AUTH);
        refuse(resp, 401, req, src->name, "auth", "basic credentials missing or wrong");
        resp->headers = "WWW-Authenticate: Basic realm=\"hookd\"\r\n";
        return NULL;
    }
    return src;
}

int hookd_receive_head(void *ud, const hookd_request *req, hookd_response *resp)
{
    hookd_receiver *rc = ud;
    const hookd_source_cfg *src = head_checks(rc->rt, req, resp);
    if (!src)
        return 1;
    /* A request that carries no signature header of the source's schemes
     * fails verification whatever its body: say so before reading it. */
    int carried = 0;
    for (size_t i = 0; i < src->nverify && !carried; i++) {
        const char *h = hookd_scheme_header(&src->verify[i]);
        carried = !h || hookd_request_header(req, h) != NULL;
    }
    if (!carried) {
        /* In the words hookd_verify_source would use. */
        char why[200];
        if (src->nverify == 1)
            snprintf(why, sizeof why, "signature check failed: %s header missing",
                     hookd_scheme_header(&src->verify[0]));
        else
            snprintf(why, sizeof why, "signature check failed: no signature header of any "
                                      "configured scheme");
        hookd_metrics_verify_failure((int)(src - rc->rt->cfg->sources), HOOKD_MR_MISSING);
        refuse(resp, 401, req, src->name, "signature", why);
        return 1;
    }
    return 0;
}

int hookd_receive(void *ud, const hookd_request *req, hookd_response *resp,
                  hookd_pending *later)
{
    hookd_receiver *rc = ud;
    const hookd_runtime *rt = rc->rt;
    char why[256];

    const hookd_source_cfg *src = head_checks(rt, req, resp);
    if (!src)
        return 0;
    int src_idx = (int)(src - rt->cfg->sources);
    const char *check = NULL;
    int64_t now = rc->clock_s ? rc->clock_s() : wall_s();
    int vrc = hookd_verify_source(src, req->body, req->body_len, req_header, (void *)req, now,
                                  &check);
    if (vrc == HOOKD_VERIFY_NO_KEYS) {
        /* Nothing to check with yet: the sender retries (Constant Contact
         * every minute for an hour), so nothing is lost and nothing forged
         * is taken. */
        hookd_metrics_verify_failure(src_idx, HOOKD_MR_NO_KEYS);
        refuse(resp, 503, req, src->name, "keys",
               "signature check unavailable: no key set read yet");
        resp->headers = "Retry-After: 60\r\n";
        return 0;
    }
    if (vrc != HOOKD_VERIFY_OK) {
        int reason = hookd_verify_metrics_reason(vrc);
        hookd_metrics_verify_failure(src_idx, reason);
        snprintf(why, sizeof why, "signature check failed: %s", check ? check : "refused");
        refuse(resp, 401, req, src->name,
               reason == HOOKD_MR_EXPIRED ? "timestamp" : "signature", why);
        return 0;
    }

    json_error_t jerr;
    json_t *json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json) {
        snprintf(why, sizeof why, "body is not JSON: %s at byte %d", jerr.text, jerr.position);
        refuse(resp, 400, req, src->name, "json", why);
        return 0;
    }
    const char *type = NULL;
    if (src->event_type_header) {
        type = hookd_request_header(req, src->event_type_header);
    } else {
        const json_t *t = hookd_json_pointer(json, src->event_type);
        type = json_is_string(t) ? json_string_value(t) : NULL;
    }
    if (!type || !type_ok(type)) {
        snprintf(why, sizeof why, "%s at %s%s",
                 type && *type && strspn(type, ".") == strlen(type) ? "event type is only dots"
                                                                    : "no event type",
                 src->event_type_header ? "header " : "",
                 src->event_type_header ? src->event_type_header : src->event_type);
        refuse(resp, 400, req, src->name, "type", why);
        json_decref(json);
        return 0;
    }

    if (hookd_dispatch_ready(rc->dispatch) + hookd_spool_waiting(rc->spool) >=
        rc->queue_max) {
        refuse(resp, 503, req, src->name, "queue", "too many events waiting");
        resp->headers = "Retry-After: 1\r\n";
        json_decref(json);
        return 0;
    }
    /* Keep every header a plugin may want, but not the credentials. */
    const char *names[HOOKD_MAX_HEADERS], *values[HOOKD_MAX_HEADERS];
    size_t nk = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcmp(req->names[i], "authorization") == 0 ||
            strcmp(req->names[i], "proxy-authorization") == 0 ||
            strcmp(req->names[i], "cookie") == 0)
            continue;
        names[nk] = req->names[i];
        values[nk++] = req->values[i];
    }
    hookd_ev *ev = hookd_ev_new(src->name, type, hookd_now_ms(), req->body, req->body_len,
                                json, names, values, nk);
    if (ev && src->enrich)
        atomic_store(&ev->enrich, HOOKD_ENRICH_NEEDED);
    hookd_instance *to[rt->ninstances + 1];
    size_t nto = ev ? hookd_runtime_route(rt, src->name, ev->type, to) : 0;
    hookd_append *a = ev ? hookd_append_new(ev, to, nto) : NULL;
    if (!a) {
        refuse(resp, 503, req, src->name, "memory", "out of memory");
        resp->headers = "Retry-After: 1\r\n";
        hookd_ev_unref(ev);
        return 0;
    }
    a->rt = hookd_runtime_ref(rc->rt); /* `to` stays valid across a reload */
    a->window_ms = src->dedup_window_ms;
    a->has_key = dedup_key(src, req, json, a->key);
    a->done = stored;
    a->ud = later;
    a->owner = rc;
    snprintf(a->peer, sizeof a->peer, "%s", req->peer);
    hookd_spool_append(rc->spool, a);
    return HOOKD_ANSWER_LATER;
}

/* receive: the checks of DESIGN §5 in order, each refusal answered with its
 * status and logged with the check that failed (never a secret or a MAC). */
#include "receive.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "template.h"
#include "verify.h"

#define MAX_TYPE_LEN 128

static const char *req_header(void *ctx, const char *name)
{
    return hookd_request_header(ctx, name);
}

static void refuse(hookd_response *resp, int status, const hookd_request *req,
                   const char *source, const char *why)
{
    hookd_response_error(resp, status, why);
    hookd_logctx ctx = {.source = source, .peer = req->peer};
    hookd_logx(HOOKD_LOG_WARN, &ctx, "refused %d: %s", status, why);
}

/* Event types end up in logs, templates and file names: keep them tame. */
static int type_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > MAX_TYPE_LEN)
        return 0;
    for (; *t; t++)
        if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
            return 0;
    return 1;
}

static int64_t wall_s(void) { return (int64_t)time(NULL); }

void hookd_receive(void *ud, const hookd_request *req, hookd_response *resp)
{
    hookd_receiver *rc = ud;
    const hookd_runtime *rt = rc->rt;
    char why[256];

    const hookd_source_cfg *src = hookd_runtime_source(rt, req->path, req->path_len);
    if (!src) {
        refuse(resp, 404, req, NULL, "no source at this path");
        return;
    }
    if (req->method != HTTP_POST) {
        refuse(resp, 405, req, src->name, "only POST is accepted");
        resp->headers = "Allow: POST\r\n";
        return;
    }
    if (src->basic_user &&
        hookd_basic_check(hookd_request_header(req, "authorization"), src->basic_user,
                          src->basic_pass) != 0) {
        refuse(resp, 401, req, src->name, "basic credentials missing or wrong");
        resp->headers = "WWW-Authenticate: Basic realm=\"hookd\"\r\n";
        return;
    }
    const char *check = NULL;
    int64_t now = rc->clock_s ? rc->clock_s() : wall_s();
    if (hookd_verify(&src->verify, req->body, req->body_len, req_header, (void *)req, now,
                     &check) != HOOKD_VERIFY_OK) {
        snprintf(why, sizeof why, "signature check failed: %s", check ? check : "refused");
        refuse(resp, 401, req, src->name, why);
        return;
    }

    json_error_t jerr;
    json_t *json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json) {
        snprintf(why, sizeof why, "body is not JSON: %s at byte %d", jerr.text, jerr.position);
        refuse(resp, 400, req, src->name, why);
        return;
    }
    const char *type = NULL;
    if (src->event_type_header) {
        type = hookd_request_header(req, src->event_type_header);
    } else {
        const json_t *t = hookd_json_pointer(json, src->event_type);
        type = json_is_string(t) ? json_string_value(t) : NULL;
    }
    if (!type || !type_ok(type)) {
        snprintf(why, sizeof why, "no event type at %s%s",
                 src->event_type_header ? "header " : "",
                 src->event_type_header ? src->event_type_header : src->event_type);
        refuse(resp, 400, req, src->name, why);
        json_decref(json);
        return;
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
    if (!ev) {
        refuse(resp, 503, req, src->name, "out of memory");
        resp->headers = "Retry-After: 1\r\n";
        return;
    }
    hookd_instance *to[rt->ninstances + 1];
    size_t n = hookd_runtime_route(rt, src->name, ev->type, to);
    hookd_logctx ctx = {.event = ev->id, .source = src->name, .peer = req->peer};
    if (n == 0) {
        hookd_logx(HOOKD_LOG_INFO, &ctx, "accepted %s: no route matches (unrouted)", ev->type);
    } else if (hookd_dispatch_submit(rc->dispatch, ev, to, n) != 0) {
        refuse(resp, 503, req, src->name, "too many events waiting");
        resp->headers = "Retry-After: 1\r\n";
        hookd_ev_unref(ev);
        return;
    } else {
        hookd_logx(HOOKD_LOG_DEBUG, &ctx, "accepted %s for %zu deliveries", ev->type, n);
    }
    resp->status = 200;
    resp->body_len = (size_t)snprintf(resp->body, sizeof resp->body, "{\"id\":\"%s\"}", ev->id);
    hookd_ev_unref(ev);
}

/*
 * Copyright (C) hookd authors
 */

/* forward: sends every event to an HTTP(S) endpoint.
 * Config: url (template, required), method (POST), headers (map of
 * templates), body: raw (default: the bytes received, with their
 * Content-Type) | json (`template`: a JSON text rendered with JSON escaping,
 * or a JSON value whose strings are templates; default the event object) |
 * slack (`text`, optional `blocks`), sign {scheme, secret}, ca_file, insecure,
 * follow_redirects, connect_timeout; every key is a row of fwd_keys.
 * 2xx succeeds; 408, 429, 5xx and transport errors are retried (honouring
 * Retry-After); any other answer fails with its status and first bytes.
 * Thread-safe: each delivery borrows a curl handle from the instance's pool,
 * so connections are reused without being shared. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <hookd/plugin.h>

#include "common/config_map.h"
#include "common/http_answer.h"
#include "common/text.h"
#include "common/curl_answer.h"
#include "common/curl_opts.h"
#include "common/curl_pool.h"

#define SNIPPET_MAX 200                 /* bytes of an answer kept for the reason */
#define SIGN_MAX 1024                   /* room for the signature header lines */
#define MAX_CONNECT_MS 3600000
#define MAX_REDIRS 5
#define TCHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" \
               "!#$%&'*+-.^_`|~"        /* RFC 9110 token */

enum body_kind { BODY_RAW, BODY_JSON, BODY_SLACK };

typedef struct fwd_header {
    char *name;
    hookd_template *t;
} fwd_header;

typedef struct fwd_inst {
    const hookd_api *api;
    hookd_template *url;
    char *method;
    fwd_header *headers;
    size_t nheaders;
    int user_ctype;             /* headers sets Content-Type itself */
    enum body_kind body;
    /* JSON texts whose placeholders are rendered with JSON escaping. */
    hookd_template *tmpl, *blocks;
    hookd_template *text;
    char *scheme, *secret;
    char *ca_file;
    int insecure, follow;
    long connect_ms;
    int curl_ready;             /* curl_global_init succeeded */
    hookd_curl_pool pool;       /* handles between deliveries, with their connections */
} fwd_inst;

/* ---- small helpers ---- */

/* Sets err, evaluates to rc. */
#define bad(err, errlen, rc, ...) (hookd_say(err, errlen, __VA_ARGS__), (rc))

/* Sets the reason, cut to its size. */
#define say(st, ...) hookd_say((st)->reason, sizeof (st)->reason, __VA_ARGS__)

/* A JSON string without NUL bytes, or NULL. */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* ---- configuration ---- */

/* The config: block as fwd_keys reads it; parse_config builds fwd_inst from it. */
typedef struct fwd_cfg {
    char *url, *text, *ca_file;
    int method, body, insecure, follow;
    int64_t connect_ms;
    const json_t *headers, *tmpl, *blocks, *sign;   /* during init only */
} fwd_cfg;

static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE", "GET", NULL};
static const char *const kinds[] = {"raw", "json", "slack", NULL};   /* enum body_kind */

static const hookd_config_key fwd_keys[] = {
    {.name = "url", .type = HOOKD_CONFIG_TEMPLATE, .flags = HOOKD_CONFIG_REQUIRED,
     .offset = offsetof(fwd_cfg, url),
     .description = "where each event goes; http:// or https://, the rest may be templated"},
    {.name = "method", .type = HOOKD_CONFIG_ENUM, .default_text = "POST", .choices = methods,
     .offset = offsetof(fwd_cfg, method), .description = "the request's method"},
    {.name = "headers", .type = HOOKD_CONFIG_MAP, .offset = offsetof(fwd_cfg, headers),
     .description = "request headers, their values templates"},
    {.name = "body", .type = HOOKD_CONFIG_ENUM, .default_text = "raw", .choices = kinds,
     .offset = offsetof(fwd_cfg, body),
     .description = "the bytes received, a JSON document, or a Slack message"},
    {.name = "template", .type = HOOKD_CONFIG_JSON, .offset = offsetof(fwd_cfg, tmpl),
     .description = "body: json: a JSON text, or a JSON value whose strings are templates"},
    {.name = "text", .type = HOOKD_CONFIG_TEMPLATE, .offset = offsetof(fwd_cfg, text),
     .description = "body: slack: the message text"},
    {.name = "blocks", .type = HOOKD_CONFIG_JSON, .offset = offsetof(fwd_cfg, blocks),
     .description = "body: slack: Block Kit blocks, a list (strings are templates)"},
    {.name = "sign", .type = HOOKD_CONFIG_JSON, .offset = offsetof(fwd_cfg, sign),
     .description = "{ scheme, secret }: sign each request as that sender would"},
    {.name = "ca_file", .type = HOOKD_CONFIG_FILE, .offset = offsetof(fwd_cfg, ca_file),
     .description = "CA certificates (PEM) to trust instead of the system's"},
    {.name = "insecure", .type = HOOKD_CONFIG_BOOL, .default_text = "false",
     .offset = offsetof(fwd_cfg, insecure), .description = "do not verify TLS certificates"},
    {.name = "follow_redirects", .type = HOOKD_CONFIG_BOOL, .default_text = "false",
     .offset = offsetof(fwd_cfg, follow), .description = "follow 3xx answers (at most 5)"},
    {.name = "connect_timeout", .type = HOOKD_CONFIG_DURATION, .default_text = "10s",
     .min = 1, .max = MAX_CONNECT_MS, .offset = offsetof(fwd_cfg, connect_ms),
     .description = "how long connecting may take (within the event's deadline)"},
    {.name = NULL},
};

typedef struct sign_cfg {
    int scheme;
    char *secret;
} sign_cfg;

static const char *const schemes[] = {"standard-webhooks", "hmac", "github", "stripe",
                                      "ctct-hmac-sha256", NULL};

static const hookd_config_key sign_keys[] = {
    {.name = "scheme", .type = HOOKD_CONFIG_ENUM, .flags = HOOKD_CONFIG_REQUIRED,
     .choices = schemes, .offset = offsetof(sign_cfg, scheme), .description = "how to sign"},
    {.name = "secret", .type = HOOKD_CONFIG_STRING,
     .flags = HOOKD_CONFIG_REQUIRED | HOOKD_CONFIG_SECRET, .offset = offsetof(sign_cfg, secret),
     .description = "the shared secret (whsec_ and base64 for standard-webhooks)"},
    {.name = NULL},
};

static void tfree(const hookd_api *api, hookd_template *t)
{
    if (t)
        api->template_free(t);
}

static void fwd_destroy(void *instance)
{
    fwd_inst *f = instance;
    if (!f)
        return;
    const hookd_api *api = f->api;
    hookd_curl_pool_destroy(&f->pool);
    tfree(api, f->url);
    tfree(api, f->text);
    for (size_t i = 0; i < f->nheaders; i++) {
        free(f->headers[i].name);
        tfree(api, f->headers[i].t);
    }
    free(f->headers);
    tfree(api, f->tmpl);
    tfree(api, f->blocks);
    free(f->method);
    free(f->scheme);
    if (f->secret) {
        explicit_bzero(f->secret, strlen(f->secret));
        free(f->secret);
    }
    free(f->ca_file);
    if (f->curl_ready)
        curl_global_cleanup();
    free(f);
}

/* Compiles src, or the string v, as a template; an unknown name fails here. */
static int compile_src(const fwd_inst *f, const char *what, const char *src,
                       hookd_template **out, char *err, size_t errlen)
{
    char why[200] = "";
    if (!(*out = f->api->template_compile(f->api, src, why, sizeof why)))
        return bad(err, errlen, HOOKD_EINVAL, "%s: %s", what, why[0] ? why : "out of memory");
    return 0;
}

static int compile(const fwd_inst *f, const char *what, const json_t *v,
                   hookd_template **out, char *err, size_t errlen)
{
    const char *s = plain_string(v);
    if (!s)
        return bad(err, errlen, HOOKD_EINVAL, "%s: expected a string", what);
    return compile_src(f, what, s, out, err, errlen);
}

/* A JSON text template, or a JSON value from the config written out as one:
 * its strings' placeholders then render inside JSON strings, escaped, so the
 * result is always valid JSON. */
static int jt_compile(const fwd_inst *f, const char *what, const json_t *v, int list_only,
                      hookd_template **out, char *err, size_t errlen)
{
    if (json_is_string(v))
        return compile(f, what, v, out, err, errlen);
    if (!json_is_array(v) && (list_only || !json_is_object(v)))
        return bad(err, errlen, HOOKD_EINVAL, "%s: expected a JSON text (a string) or %s",
                   what, list_only ? "a list" : "an object or a list");
    char *text = json_dumps(v, JSON_COMPACT);
    int rc = text ? compile_src(f, what, text, out, err, errlen)
                  : bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    free(text);
    return rc;
}

static int parse_headers(fwd_inst *f, const json_t *h, char *err, size_t errlen)
{
    if (!json_is_object(h))
        return bad(err, errlen, HOOKD_EINVAL, "headers: expected a map of templates");
    if (!(f->headers = calloc(json_object_size(h) + 1, sizeof *f->headers)))
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)h, key, v) {
        char what[300];
        snprintf(what, sizeof what, "headers.%s", key);
        if (!*key || key[strspn(key, TCHARS)])
            return bad(err, errlen, HOOKD_EINVAL, "%s: not a valid header name", what);
        /* curl frames the body itself. */
        if (!strcasecmp(key, "content-length") || !strcasecmp(key, "transfer-encoding"))
            return bad(err, errlen, HOOKD_EINVAL, "%s: set by hookd, not configurable", what);
        fwd_header *fh = &f->headers[f->nheaders];
        if (!(fh->name = strdup(key)))
            return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
        f->nheaders++;
        int rc = compile(f, what, v, &fh->t, err, errlen);
        if (rc != 0)
            return rc;
        f->user_ctype |= !strcasecmp(key, "content-type");
    }
    return 0;
}

static int parse_sign(fwd_inst *f, const json_t *s, char *err, size_t errlen)
{
    if (!json_is_object(s))
        return bad(err, errlen, HOOKD_EINVAL, "sign: expected { scheme, secret }");
    if (!HOOKD_API_HAS(f->api, sign) || !f->api->sign)
        return bad(err, errlen, HOOKD_EINVAL, "sign: this hookd cannot sign (ABI 1.1 needed)");
    sign_cfg c = {0};
    int rc = hookd_cmap_read(sign_keys, "sign", s, &c, err, errlen);
    if (rc == 0 && !(f->scheme = strdup(schemes[c.scheme])))
        rc = bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    if (rc == 0) {
        f->secret = c.secret;   /* ours now: wiped by fwd_destroy */
        c.secret = NULL;
    }
    hookd_cmap_free(sign_keys, &c);
    if (rc != 0)
        return rc;
    /* A secret the scheme cannot use fails now, not at the first event. */
    char out[SIGN_MAX];
    int n = f->api->sign(f->scheme, f->secret, "{}", 2, "msg_check", (int64_t)time(NULL),
                         out, sizeof out);
    explicit_bzero(out, sizeof out);
    if (n < 0)
        return bad(err, errlen, HOOKD_EINVAL, "sign.secret: not usable with scheme %s%s",
                   f->scheme, !strcmp(f->scheme, "standard-webhooks")
                                  ? " (expected whsec_ and base64)" : "");
    return 0;
}

/* What spans keys, and what the instance builds from them. */
static int build(fwd_inst *f, fwd_cfg *c, char *err, size_t errlen)
{
    int rc;
    /* The scheme is literal so that a template can never pick another one. */
    if (strncasecmp(c->url, "http://", 7) && strncasecmp(c->url, "https://", 8))
        return bad(err, errlen, HOOKD_EINVAL, "url: must start with http:// or https://");
    if ((rc = compile_src(f, "url", c->url, &f->url, err, errlen)) != 0)
        return rc;
    if (!(f->method = strdup(methods[c->method])))
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    if (c->headers && (rc = parse_headers(f, c->headers, err, errlen)) != 0)
        return rc;
    f->body = (enum body_kind)c->body;
    if (c->tmpl && f->body != BODY_JSON)
        return bad(err, errlen, HOOKD_EINVAL, "template: only with body: json");
    if ((c->text || c->blocks) && f->body != BODY_SLACK)
        return bad(err, errlen, HOOKD_EINVAL, "%s: only with body: slack",
                   c->text ? "text" : "blocks");
    if (f->body == BODY_SLACK && !c->text)
        return bad(err, errlen, HOOKD_EINVAL, "body: slack needs \"text\"");
    if (c->tmpl && (rc = jt_compile(f, "template", c->tmpl, 0, &f->tmpl, err, errlen)) != 0)
        return rc;
    if (c->text && (rc = compile_src(f, "text", c->text, &f->text, err, errlen)) != 0)
        return rc;
    if (c->blocks && (rc = jt_compile(f, "blocks", c->blocks, 1, &f->blocks, err, errlen)) != 0)
        return rc;
    if (c->sign && (rc = parse_sign(f, c->sign, err, errlen)) != 0)
        return rc;
    f->ca_file = c->ca_file;   /* ours now */
    c->ca_file = NULL;
    f->insecure = c->insecure;
    f->follow = c->follow;
    f->connect_ms = (long)c->connect_ms;
    if (f->insecure && f->api->log)
        f->api->log(f->api, HOOKD_LOG_WARN, "insecure: true: TLS certificates are not verified");
    return 0;
}

static int parse_config(fwd_inst *f, const json_t *config, char *err, size_t errlen)
{
    fwd_cfg c = {0};
    int rc = hookd_cmap_read(fwd_keys, NULL, config, &c, err, errlen);
    if (rc == 0)
        rc = build(f, &c, err, errlen);
    hookd_cmap_free(fwd_keys, &c);
    return rc;
}

static int fwd_init(const hookd_api *api, const json_t *config, void **instance, char *err,
                    size_t errlen)
{
    fwd_inst *f = calloc(1, sizeof *f);
    if (!f)
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    f->api = api;
    hookd_curl_pool_init(&f->pool, 0);
    /* Here, on the main thread: libcurl's global set-up is not thread-safe
     * everywhere. It counts calls, so every instance pairs its own. */
    f->curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    int rc = f->curl_ready ? parse_config(f, config, err, errlen)
                           : bad(err, errlen, HOOKD_EIO, "libcurl initialisation failed");
    if (rc != 0) {
        fwd_destroy(f);
        return rc;
    }
    *instance = f;
    return 0;
}

/* ---- the body ---- */

/* t rendered and parsed into *out (a new reference). */
static int jt_render(const fwd_inst *f, const hookd_template *t, const char *what,
                     const hookd_event *ev, json_t **out, hookd_status *st)
{
    char *s = f->api->template_render(t, ev, HOOKD_ESC_JSON);
    if (!s) {
        say(st, "out of memory");
        return HOOKD_RETRY;
    }
    json_error_t je;
    *out = json_loads(s, JSON_DECODE_ANY, &je);
    f->api->free(s);
    if (!*out) {
        say(st, "%s: the rendered text is not JSON: %s (line %d, column %d)", what, je.text,
            je.line, je.column);
        return HOOKD_FAIL;
    }
    return HOOKD_OK;
}

/* The JSON body of a json or slack instance, malloc'd. */
static int json_body(const fwd_inst *f, const hookd_event *ev, char **body, hookd_status *st)
{
    json_t *doc = NULL;
    int r = HOOKD_OK;
    if (f->body == BODY_JSON) {
        if (f->tmpl)
            r = jt_render(f, f->tmpl, "template", ev, &doc, st);
        else if (!(doc = f->api->event_json(ev)))
            r = HOOKD_RETRY;
    } else {
        char *text = f->api->template_render(f->text, ev, HOOKD_ESC_PLAIN);
        json_t *blocks = NULL, *t = text ? json_string(text) : NULL;
        if (text && !t) {
            r = HOOKD_FAIL;
            say(st, "text: not valid UTF-8 once rendered");
        } else if (!t || !(doc = json_object()) || json_object_set_new(doc, "text", t) != 0) {
            r = HOOKD_RETRY;   /* set_new took t even when it failed */
            if (!doc)
                json_decref(t);
        }
        if (text)
            f->api->free(text);
        if (r == HOOKD_OK && f->blocks &&
            (r = jt_render(f, f->blocks, "blocks", ev, &blocks, st)) == HOOKD_OK) {
            if (!json_is_array(blocks)) {
                say(st, "blocks: the rendered value is not a list");
                r = HOOKD_FAIL;
            } else if (json_object_set(doc, "blocks", blocks) != 0) {
                r = HOOKD_RETRY;
            }
        }
        json_decref(blocks);
    }
    if (r == HOOKD_OK && !(*body = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY)))
        r = HOOKD_RETRY;
    if (r == HOOKD_RETRY && !st->reason[0])
        say(st, "out of memory");
    json_decref(doc);
    return r;
}

/* ---- the request ---- */

/* "Name: value" for curl; an empty value needs "Name;" to be sent at all. */
static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    char *line;
    int n = *value ? asprintf(&line, "%s: %s", name, value) : asprintf(&line, "%s;", name);
    if (n < 0)
        return -1;
    struct curl_slist *l = curl_slist_append(*list, line);
    free(line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

/* Every outgoing header but the User-Agent. */
static int build_headers(const fwd_inst *f, const hookd_event *ev, const char *body,
                         size_t len, struct curl_slist **list, hookd_status *st)
{
    /* A body waits for no "100 Continue": the receiver answers in one trip. */
    struct curl_slist *l = curl_slist_append(*list, "Expect:");
    if (!l)
        goto nomem;
    *list = l;
    if (!f->user_ctype) {
        const char *ct = "application/json";
        if (f->body == BODY_RAW) {
            const char *kept = f->api->header(ev, "content-type");
            ct = kept && *kept ? kept : "application/octet-stream";
        }
        if (strcmp(f->method, "GET") && add_header(list, "Content-Type", ct) < 0)
            goto nomem;
    }
    for (size_t i = 0; i < f->nheaders; i++) {
        char *v = f->api->template_render(f->headers[i].t, ev, HOOKD_ESC_HEADER);
        int rc = v ? add_header(list, f->headers[i].name, v) : -1;
        if (v)
            f->api->free(v);
        if (rc < 0)
            goto nomem;
    }
    if (f->scheme) {
        char sig[SIGN_MAX];
        int n = f->api->sign(f->scheme, f->secret, body, len, ev->id, (int64_t)time(NULL), sig,
                             sizeof sig);
        if (n < 0) {
            say(st, "sign: cannot sign with scheme %s", f->scheme);
            return HOOKD_FAIL;
        }
        /* "Name: value\n" lines, the form curl takes without the newline. */
        char *save = NULL;
        for (char *line = strtok_r(sig, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (!(l = curl_slist_append(*list, line))) {
                explicit_bzero(sig, sizeof sig);
                goto nomem;
            }
            *list = l;
        }
        explicit_bzero(sig, sizeof sig);
    }
    return HOOKD_OK;
nomem:
    say(st, "out of memory");
    return HOOKD_RETRY;
}

/* What curl's result and the HTTP status mean for the delivery. */
static int judge(const fwd_inst *f, CURLcode cc, const hookd_curl_answer *a, hookd_status *st)
{
    char snip[SNIPPET_MAX + 1] = "", status[96];
    long code = a->status;
    if (cc != CURLE_OK) {
        /* Timeouts, refused connections, TLS failures: the peer may recover. */
        say(st, "%s (curl %d)", hookd_curl_answer_error(a, cc), (int)cc);
        /* Not so a bad URL (rendered per event) or an endless redirect. */
        return cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ||
                       cc == CURLE_TOO_MANY_REDIRECTS
                   ? HOOKD_FAIL : HOOKD_RETRY;
    }
    if (a->body)
        memcpy(snip, a->body, a->len + 1);
    hookd_one_line(snip);
    snprintf(status, sizeof status, "HTTP %ld%s%s", code, a->phrase[0] ? " " : "", a->phrase);
    if (code >= 200 && code < 300)
        return HOOKD_OK;
    if (code >= 300 && code < 400 && !f->follow) {
        say(st, "%s: redirect not followed (follow_redirects is off)", status);
        return HOOKD_FAIL;
    }
    say(st, "%s%s%s", status, snip[0] ? ": " : "", snip);
    if (code == 408 || code == 429 || (code >= 500 && code < 600)) {
        st->retry_after_ms = hookd_retry_after_ms(a->retry_after);
        return HOOKD_RETRY;
    }
    return HOOKD_FAIL;
}

/* The bytes to send and sign: the event's own (body: raw) or the rendered
 * JSON, malloc'd in *owned; none for a GET. */
static int request_body(const fwd_inst *f, const hookd_event *ev, char **owned,
                        const char **body, size_t *len, hookd_status *st)
{
    *body = ev->body ? ev->body : "";
    *len = ev->body ? ev->body_len : 0;
    if (f->body != BODY_RAW) {
        int r = json_body(f, ev, owned, st);
        if (r != HOOKD_OK)
            return r;
        *body = *owned;
        *len = strlen(*owned);
    }
    if (!strcmp(f->method, "GET")) {   /* sends no body, so signs none */
        *body = "";
        *len = 0;
    }
    return HOOKD_OK;
}

/* The whole exchange fits in what is left of the event's deadline: the
 * connect and total timeouts (0: none) for curl. */
static int timeouts(const fwd_inst *f, const hookd_event *ev, long *connect_ms, long *total_ms,
                    hookd_status *st)
{
    int64_t left = ev->deadline_ms > 0 ? ev->deadline_ms - f->api->monotonic_ms() : INT64_MAX;
    if (left <= 0) {
        say(st, "deadline passed before sending");
        return HOOKD_RETRY;
    }
    *connect_ms = left < f->connect_ms ? (long)left : f->connect_ms;
    *total_ms = left == INT64_MAX ? 0 : left > LONG_MAX ? LONG_MAX : (long)left;
    return HOOKD_OK;
}

/* One exchange on a handle from the pool, judged. */
static int exchange(fwd_inst *f, const char *url, struct curl_slist *hdrs, const char *body,
                    size_t len, long connect_ms, long total_ms, hookd_status *st)
{
    CURL *h = hookd_curl_pool_take(&f->pool);
    if (!h) {
        say(st, "out of memory");
        return HOOKD_RETRY;
    }
    /* The first bytes of the answer for the reason; the rest is read and
     * dropped, so the connection stays usable. */
    hookd_curl_answer a = {.max_body = SNIPPET_MAX, .drain = 1};
    hookd_curl_opts o = {.url = url, .method = f->method, .body = body, .body_len = len,
                         .timeout_ms = total_ms, .connect_timeout_ms = connect_ms,
                         .insecure = f->insecure, .ca_file = f->ca_file, .follow = f->follow,
                         .max_redirs = MAX_REDIRS,
                         .path_as_is = 1, /* the path as the template made it */
                         .user_agent = "hookd/" HOOKD_VERSION_STRING, .headers = hdrs,
                         .answer = &a};
    int r;
    CURLcode cc = hookd_curl_setup(h, &o);
    if (cc != CURLE_OK) {
        say(st, "curl: %s", curl_easy_strerror(cc));
        r = HOOKD_RETRY;
    } else {
        cc = hookd_curl_perform(h, &a);
        r = judge(f, cc, &a, st);
    }
    hookd_curl_pool_give(&f->pool, h);
    hookd_curl_answer_clear(&a);
    return r;
}

static int fwd_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    fwd_inst *f = instance;
    const hookd_api *api = f->api;
    char *url = NULL, *owned = NULL;
    const char *body;
    size_t len;
    struct curl_slist *hdrs = NULL;
    long connect_ms, total_ms;
    int r;

    st->retry_after_ms = -1;
    if (!(url = api->template_render(f->url, ev, HOOKD_ESC_URL))) {
        say(st, "out of memory");
        r = HOOKD_RETRY;
    } else if ((r = request_body(f, ev, &owned, &body, &len, st)) == HOOKD_OK &&
               (r = build_headers(f, ev, body, len, &hdrs, st)) == HOOKD_OK &&
               (r = timeouts(f, ev, &connect_ms, &total_ms, st)) == HOOKD_OK) {
        r = exchange(f, url, hdrs, body, len, connect_ms, total_ms, st);
    }
    curl_slist_free_all(hdrs);
    free(owned);
    if (url)
        api->free(url);
    st->reason[sizeof st->reason - 1] = '\0';
    hookd_one_line(st->reason);
    return r;
}

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "forward",
    .version = "1.0",
    .init = fwd_init,
    .deliver = fwd_deliver,
    .destroy = fwd_destroy,
    .config_keys = fwd_keys,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

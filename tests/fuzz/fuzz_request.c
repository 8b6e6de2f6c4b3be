/* fuzz_request: raw bytes through the real receive path of core/server.c.
 *
 * One libuv loop and one hookd_server (plain HTTP on 127.0.0.1, configured
 * from YAML by hookd_config_parse) live for the whole run. Each input is sent
 * over a fresh loopback TCP connection, in one to three writes split at points
 * derived from the input (so headers and bodies also arrive cut in pieces),
 * then the client half-closes and reads until the server closes. Parsing,
 * limits, timeouts and answers are server.c's own (llhttp in strict mode).
 *
 * The handler stands in for hookd_receive (which needs a runtime, the SQLite
 * spool and the dispatcher threads): the same checks in the same order —
 * source by path, POST only, Basic credentials, hookd_verify with a fixed
 * clock, json_loadb(JSON_REJECT_DUPLICATES), the event type (pointer or
 * header), hookd_ev_new with the kept headers — and a request that passes
 * them all is answered later from the loop (HOOKD_ANSWER_LATER), as the
 * spool does, so pipelined requests behind it go through the stash. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <llhttp.h>
#include <uv.h>

#include "config.h"
#include "event.h"
#include "log.h"
#include "server.h"
#include "template.h"
#include "verify.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define NOW_S INT64_C(1614265330) /* the timestamp of tests/vectors */

static const char CONFIG[] =
    "server:\n"
    "  listen: [\"127.0.0.1:%d\"]\n"
    "  max_body: 16KiB\n"
    "  max_header: 4KiB\n"
    "  max_connections: 16\n"
    "  timeouts: { header: 10s, body: 10s, idle: 10s }\n"
    "log: { level: error, format: text }\n"
    "spool: { path: /nonexistent/fuzz-spool.db }\n"
    "sources:\n"
    "  - name: ctct\n"
    "    path: /webhooks/ctct\n"
    "    auth:\n"
    "      basic: { username: partner, password: partner-password }\n"
    "    verify: { scheme: ctct-hmac-sha256, secret: api-secret-key }\n"
    "    event_type: /event_type\n"
    "  - name: github\n"
    "    path: /webhooks/github\n"
    "    verify: { scheme: github, secret: \"It's a Secret to Everybody\" }\n"
    "    event_type: header:X-GitHub-Event\n"
    "  - name: stripe\n"
    "    path: /webhooks/stripe\n"
    "    verify: { scheme: stripe, secret: whsec_test_secret, tolerance: 5m }\n"
    "    event_type: /type\n"
    "  - name: stdwh\n"
    "    path: /webhooks/stdwh\n"
    "    verify: { scheme: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw }\n"
    "    event_type: /type\n"
    "  - name: open\n"
    "    path: /hooks/open\n"
    "    verify: { scheme: none }\n"
    "    event_type: /type\n";

static uv_loop_t loop;
static hookd_config *cfg;
static hookd_server *srv;
static struct sockaddr_in addr;

/* ---- the handler ---- */

typedef struct pending {
    hookd_pending *later;
    hookd_response resp;
    int used;
} pending;

static pending pend[4];
static uv_timer_t answer_timer;
static size_t npending;

static void on_answer(uv_timer_t *t)
{
    (void)t;
    for (size_t i = 0; i < sizeof pend / sizeof pend[0]; i++)
        if (pend[i].used) {
            pend[i].used = 0;
            npending--;
            hookd_server_answer(pend[i].later, &pend[i].resp);
        }
}

static const char *req_header(void *ctx, const char *name)
{
    return hookd_request_header(ctx, name);
}

static int type_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128)
        return 0;
    for (; *t; t++)
        if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
            return 0;
    return 1;
}

static int handler(void *ud, const hookd_request *req, hookd_response *resp,
                   hookd_pending *later)
{
    (void)ud;
    /* What server.c promises about a request. */
    if (req->nheaders > HOOKD_MAX_HEADERS || !req->body || req->body[req->body_len] != '\0')
        abort();
    for (size_t i = 0; i < req->nheaders; i++) {
        for (const char *p = req->names[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                abort(); /* names are lower case */
        (void)strlen(req->values[i]);
    }
    if (req->body_len > cfg->max_body)
        abort();

    const hookd_source_cfg *src = NULL;
    for (size_t i = 0; i < cfg->nsources; i++)
        if (strlen(cfg->sources[i].path) == req->path_len &&
            memcmp(cfg->sources[i].path, req->path, req->path_len) == 0)
            src = &cfg->sources[i];
    if (!src) {
        hookd_response_error(resp, 404, "no source at this path");
        return 0;
    }
    resp->source = (int)(src - cfg->sources) + 1;
    if (req->method != HTTP_POST) {
        hookd_response_error(resp, 405, "only POST is accepted");
        resp->headers = "Allow: POST\r\n";
        return 0;
    }
    if (src->basic_user && hookd_basic_check(hookd_request_header(req, "authorization"),
                                             src->basic_user, src->basic_pass) != 0) {
        hookd_response_error(resp, 401, "basic credentials missing or wrong");
        return 0;
    }
    const char *check = NULL;
    char why[256];
    if (hookd_verify(&src->verify, req->body, req->body_len, req_header, (void *)req, NOW_S,
                     &check) != HOOKD_VERIFY_OK) {
        snprintf(why, sizeof why, "signature check failed: %s", check ? check : "refused");
        hookd_response_error(resp, 401, why);
        return 0;
    }
    json_error_t jerr;
    json_t *json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json) {
        snprintf(why, sizeof why, "body is not JSON: %s at byte %d", jerr.text, jerr.position);
        hookd_response_error(resp, 400, why);
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
        hookd_response_error(resp, 400, "no event type");
        json_decref(json);
        return 0;
    }
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
    hookd_ev *ev = hookd_ev_new(src->name, type, hookd_now_ms(), req->body, req->body_len, json,
                                names, values, nk);
    if (!ev)
        abort();
    json_t *ej = hookd_event_json(&ev->pub);
    json_decref(ej);

    /* Answered later, as after the spool's commit. */
    pending *p = NULL;
    for (size_t i = 0; i < sizeof pend / sizeof pend[0]; i++)
        if (!pend[i].used)
            p = &pend[i];
    if (!p)
        abort(); /* a connection waits for its answer before parsing more */
    memset(&p->resp, 0, sizeof p->resp);
    p->resp.status = 200;
    p->resp.source = resp->source;
    p->resp.body_len = (size_t)snprintf(p->resp.body, sizeof p->resp.body, "{\"id\":\"%s\"}",
                                        ev->id);
    p->later = later;
    p->used = 1;
    npending++;
    hookd_ev_unref(ev);
    uv_timer_start(&answer_timer, on_answer, 0, 0);
    return HOOKD_ANSWER_LATER;
}

/* ---- the client ---- */

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_shutdown_t shut;
    int connected;
    int done;          /* read EOF or an error, and closed */
    int closing;
    size_t got;
    char buf[4096];
} client;

static void on_client_closed(uv_handle_t *h)
{
    client *c = h->data;
    c->done = 1;
}

static void client_close(client *c)
{
    if (!c->closing) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
    }
}

static void on_connect(uv_connect_t *r, int status)
{
    client *c = r->data;
    if (status < 0) {
        fprintf(stderr, "fuzz_request: connect: %s\n", uv_strerror(status));
        abort();
    }
    c->connected = 1;
}

static void on_calloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    client *c = h->data;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_cread(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    client *c = st->data;
    if (n < 0) {
        client_close(c);
        return;
    }
    c->got += (size_t)n;
}

static void on_shutdown(uv_shutdown_t *r, int status)
{
    (void)r;
    (void)status;
}

/* Writes everything now (loopback with room for 64 KiB: no partial writes
 * in practice; a slow remainder is written blocking-style via the loop). */
static void send_all(client *c, const char *p, size_t n)
{
    while (n > 0 && !c->closing) {
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
        int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (w == UV_EAGAIN) {
            uv_run(&loop, UV_RUN_NOWAIT);
            continue;
        }
        if (w < 0)
            return; /* the server closed on us: fine */
        p += w;
        n -= (size_t)w;
        uv_run(&loop, UV_RUN_NOWAIT);
    }
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hookd_log_setup(HOOKD_LOG_ERROR + 1, 0);
    signal(SIGPIPE, SIG_IGN); /* writes to a peer that closed: EPIPE, not death */
    uv_loop_init(&loop);
    uv_timer_init(&loop, &answer_timer);
    char text[sizeof CONFIG + 16], err[512];
    for (int tries = 0; tries < 20 && !srv; tries++) {
        int port = free_port();
        snprintf(text, sizeof text, CONFIG, port);
        cfg = hookd_config_parse("fuzz.yaml", text, strlen(text), err, sizeof err);
        if (!cfg) {
            fprintf(stderr, "fuzz_request: config: %s\n", err);
            abort();
        }
        srv = hookd_server_new(&loop, cfg, handler, NULL, err, sizeof err);
        if (!srv) {
            hookd_config_free(cfg);
            cfg = NULL;
            continue;
        }
        uv_ip4_addr("127.0.0.1", port, &addr);
    }
    if (!srv) {
        fprintf(stderr, "fuzz_request: server: %s\n", err);
        abort();
    }
    return 0;
}

static uint32_t fnv(const uint8_t *d, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    client *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c->conn.data = c->shut.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&addr, on_connect) != 0)
        abort();
    while (!c->connected)
        uv_run(&loop, UV_RUN_ONCE);
    /* The server accepts and starts reading before the first byte. */
    while (hookd_server_connections(srv) == 0)
        uv_run(&loop, UV_RUN_ONCE);
    uv_read_start((uv_stream_t *)&c->tcp, on_calloc, on_cread);

    /* One to three writes, cut where the input's hash says. */
    uint32_t h = fnv(data, size);
    size_t cuts[3] = {0, 0, size};
    int ncut = size > 2 ? (int)(h % 3) : 0;
    if (ncut >= 1)
        cuts[0] = (h >> 2) % size;
    if (ncut >= 2)
        cuts[1] = (h >> 12) % size;
    if (cuts[0] > cuts[1] && ncut >= 2) {
        size_t t = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = t;
    }
    if (ncut < 2)
        cuts[1] = cuts[0];
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        if (cuts[i] > at) {
            send_all(c, (const char *)data + at, cuts[i] - at);
            at = cuts[i];
        }
    }
    if (!c->closing)
        uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown);
    /* Until the server has closed the connection and no answer waits. */
    while (!c->done || hookd_server_connections(srv) > 0 || npending > 0)
        uv_run(&loop, UV_RUN_ONCE);
    free(c);
    return 0;
}

/* admin: a small HTTP/1.1 listener of its own (llhttp parses), separate from
 * the webhook listeners so that neither their limits nor their counters see
 * a scrape. /healthz, /readyz and /metrics are answered here; the console's
 * paths by console.c. Keep-alive, bounded (admin.h); an error closes. */
#include "admin.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "answer.h"
#include "console.h"
#include "server.h"
#include "base/log.h"
#include "base/metrics.h"

#define URL_MAX 1024
#define STASH_MAX 4096 /* bytes read behind a request (pipelined); the read buffer's size */

/* The headers the console's rules read; others are skipped. */
enum { H_AUTH = 0, H_CTYPE, H_SFS, H_HOST, NHDR, H_NONE = NHDR };
static const char *const hdr_names[NHDR] = {"authorization", "content-type", "sec-fetch-site",
                                            "host"};
static const size_t hdr_caps[NHDR] = {1024, 256, 64, 256};

typedef struct aconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct hookd_admin *adm;
    struct aconn *prev, *next;
    llhttp_t parser;
    /* the request being read */
    size_t head_bytes;  /* request line and headers so far */
    char url[URL_MAX + 1];
    size_t url_len;
    int url_long;
    char field[32];     /* the header name being read, lower case */
    size_t field_len;
    int hdr;            /* H_*: whose value is being read */
    char *hval[NHDR];
    size_t hlen[NHDR];
    int hseen[NHDR];
    char *body;
    size_t body_len, body_cap;
    int refuse;         /* a status to refuse with (431, 413), set while parsing */
    int complete;       /* a whole request was read */
    /* the connection */
    int answered;       /* the answer is being written */
    int working;        /* the console answers later */
    int keep;           /* keep the connection after this answer */
    int head_only;      /* HEAD: no body in the answer */
    unsigned requests;  /* answered on this connection */
    char stash[STASH_MAX];
    size_t stash_len;
    int closing;
    int handles;
} aconn;

struct hookd_admin {
    uv_loop_t *loop;
    hookd_admin_deps deps;
    hookd_console *console;
    uv_tcp_t listener;
    int listener_open;
    int stopping;
    aconn *conns;
    size_t nconns;
    llhttp_settings_t settings;
};

/* ---------- closing ---------- */

static void conn_free(aconn *c)
{
    for (int i = 0; i < NHDR; i++)
        free(c->hval[i]);
    free(c->body);
    free(c);
}

static void on_conn_closed(uv_handle_t *h)
{
    aconn *c = h->data;
    if (--c->handles == 0 && !c->working)
        conn_free(c);
}

static void conn_close(aconn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    hookd_admin *a = c->adm;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->nconns--;
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* Ready for the connection's next request. */
static void request_reset(aconn *c)
{
    c->head_bytes = c->url_len = c->field_len = c->body_len = 0;
    c->url_long = c->refuse = c->complete = c->answered = c->head_only = 0;
    c->url[0] = '\0';
    c->hdr = H_NONE;
    for (int i = 0; i < NHDR; i++) {
        c->hlen[i] = 0;
        c->hseen[i] = 0;
    }
}

/* ---------- answers ---------- */

typedef struct wreq {
    uv_write_t req;
    aconn *c;
    char *data;
} wreq;

static void feed(aconn *c, const char *data, size_t len);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void on_timeout(uv_timer_t *t);

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    aconn *c = w->c;
    free(w->data);
    free(w);
    if (c->closing)
        return;
    if (status < 0 || !c->keep || c->adm->stopping) {
        conn_close(c);
        return;
    }
    /* The next request: what was read behind this one first. */
    request_reset(c);
    llhttp_resume(&c->parser);
    uv_timer_start(&c->timer, on_timeout, HOOKD_ADMIN_KEEPALIVE_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (c->stash_len) {
        char buf[STASH_MAX];
        size_t n = c->stash_len;
        memcpy(buf, c->stash, n);
        c->stash_len = 0;
        feed(c, buf, n);
    }
}

/* Writes one answer; the connection stays open when c->keep. body is
 * copied. */
static void respond(aconn *c, int status, const char *ctype, const char *extra,
                    const char *body, size_t body_len)
{
    if (c->answered || c->closing)
        return;
    c->answered = 1;
    c->requests++;
    if (c->requests >= HOOKD_ADMIN_MAX_REQUESTS)
        c->keep = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_start(&c->timer, on_timeout, HOOKD_ADMIN_TIMEOUT_MS, 0); /* to be taken */
    char head[1536];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%s%s\r\n",
                     status, hookd_http_reason(status), ctype, body_len, extra ? extra : "",
                     c->keep ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= sizeof head) {
        conn_close(c);
        return;
    }
    if (c->head_only)
        body_len = 0;
    wreq *w = calloc(1, sizeof *w);
    char *data = w ? malloc((size_t)n + body_len) : NULL;
    if (!data) {
        free(w);
        conn_close(c);
        return;
    }
    memcpy(data, head, (size_t)n);
    if (body_len)
        memcpy(data + n, body, body_len);
    w->c = c;
    w->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned)((size_t)n + body_len));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(data);
        free(w);
        conn_close(c);
    }
}

static void respond_text(aconn *c, int status, const char *text, const char *extra)
{
    respond(c, status, "text/plain; charset=utf-8", extra, text, strlen(text));
}

/* An answer that ends the connection (a request that broke the rules). */
static void refuse(aconn *c, int status, const char *text)
{
    c->keep = 0;
    respond_text(c, status, text, NULL);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

static void metrics_page(aconn *c)
{
    const hookd_admin_deps *d = &c->adm->deps;
    hookd_metrics_gauges g = {0};
    if (d->dispatch)
        g.deliveries_pending = hookd_dispatch_pending(d->dispatch);
    if (d->server)
        g.connections_open = hookd_server_connections(d->server);
    /* A file only on SQLite; PostgreSQL's size is the database's. */
    const char *sp = d->rt->cfg->spool_path, *drv = d->rt->cfg->spool_driver;
    if (sp && (!drv || strcmp(drv, "sqlite") == 0)) {
        char wal[4096];
        g.spool_bytes = file_size(sp);
        if ((size_t)snprintf(wal, sizeof wal, "%s-wal", sp) < sizeof wal)
            g.spool_bytes += file_size(wal);
    }
    size_t len = 0;
    char *text = hookd_metrics_render(&g, &len);
    if (!text) {
        respond_text(c, 500, "metrics unavailable\n", NULL);
        return;
    }
    respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text, len);
    free(text);
}

/* NULL when ready, else why not. */
static const char *not_ready(hookd_admin *a, char *buf, size_t len)
{
    if (a->stopping)
        return "shutting down";
    if (a->deps.spool && hookd_spool_failing(a->deps.spool))
        return "spool cannot write";
    const hookd_runtime *rt = a->deps.rt;
    for (size_t i = 0; i < rt->ninstances; i++)
        if (!rt->instances[i].initialised) {
            snprintf(buf, len, "plugin instance %s not initialised",
                     rt->instances[i].cfg->name);
            return buf;
        }
    return NULL;
}

/* The console's answer, now or later (loop thread). */
static void console_answered(void *ctx, hookd_console_answer *ans)
{
    aconn *c = ctx;
    if (c->working) {
        c->working = 0;
        if (c->closing) { /* gone meanwhile: nobody to answer */
            if (c->handles == 0)
                conn_free(c);
            free(ans->body);
            return;
        }
    }
    respond(c, ans->status, ans->ctype, ans->headers, ans->body ? ans->body : "",
            ans->body_len);
    free(ans->body);
}

static const char *hval(aconn *c, int i)
{
    return c->hseen[i] ? c->hval[i] : NULL;
}

static void route(aconn *c)
{
    const char *q = memchr(c->url, '?', c->url_len);
    size_t plen = q ? (size_t)(q - c->url) : c->url_len;
    c->head_only = c->parser.method == HTTP_HEAD;
#define IS(p) (plen == sizeof(p) - 1 && memcmp(c->url, p, plen) == 0)
    int known = IS("/healthz") || IS("/readyz") || IS("/metrics");
    if (c->url_long) {
        refuse(c, 414, "URI too long\n");
        return;
    }
    if (!known) {
        hookd_console_req req = {
            .method = (int)c->parser.method, .path = c->url, .path_len = plen,
            .query = q ? q + 1 : "", .query_len = q ? c->url_len - plen - 1 : 0,
            .authorization = hval(c, H_AUTH), .content_type = hval(c, H_CTYPE),
            .sec_fetch_site = hval(c, H_SFS), .host = hval(c, H_HOST), .body = c->body ? c->body : "",
            .body_len = c->body_len};
        hookd_console_answer ans;
        int r = hookd_console_handle(c->adm->console, &req, &ans, console_answered, c);
        if (r == HOOKD_CONSOLE_LATER)
            c->working = 1;
        else if (r == 0)
            console_answered(c, &ans);
        else
            respond_text(c, 404, "not found\n", NULL);
    } else if (c->parser.method != HTTP_GET) {
        c->head_only = 0;
        respond_text(c, 405, "only GET is accepted\n", "Allow: GET\r\n");
    } else if (IS("/healthz")) {
        respond_text(c, 200, "ok\n", NULL);
    } else if (IS("/readyz")) {
        char buf[256], line[300];
        const char *why = not_ready(c->adm, buf, sizeof buf);
        if (!why) {
            respond_text(c, 200, "ready\n", NULL);
        } else {
            snprintf(line, sizeof line, "not ready: %s\n", why);
            respond_text(c, 503, line, NULL);
        }
    } else {
        metrics_page(c);
    }
#undef IS
}

/* ---------- parsing ---------- */

static int head_add(aconn *c, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes > HOOKD_ADMIN_MAX_REQUEST) {
        c->refuse = 431;
        return -1;
    }
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    aconn *c = p->data;
    if (head_add(c, len) < 0)
        return -1;
    if (len > URL_MAX - c->url_len) {
        c->url_long = 1;
        return 0;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = '\0';
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    aconn *c = p->data;
    if (head_add(c, len) < 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (c->field_len + 1 < sizeof c->field)
            c->field[c->field_len] = (char)(at[i] >= 'A' && at[i] <= 'Z' ? at[i] + 32 : at[i]);
        c->field_len++; /* past the buffer: a name longer than any we read */
    }
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    aconn *c = p->data;
    c->hdr = H_NONE;
    if (c->field_len < sizeof c->field) {
        c->field[c->field_len] = '\0';
        for (int i = 0; i < NHDR; i++)
            if (strcmp(c->field, hdr_names[i]) == 0)
                c->hdr = i;
    }
    c->field_len = 0;
    if (c->hdr != H_NONE) {
        if (c->hseen[c->hdr]) { /* a repeated one is not ours to pick from */
            c->refuse = 400;
            return -1;
        }
        if (!c->hval[c->hdr] && !(c->hval[c->hdr] = malloc(hdr_caps[c->hdr] + 1))) {
            c->refuse = 503;
            return -1;
        }
        c->hseen[c->hdr] = 1;
        c->hlen[c->hdr] = 0;
        c->hval[c->hdr][0] = '\0';
    }
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    aconn *c = p->data;
    if (head_add(c, len) < 0)
        return -1;
    if (c->hdr == H_NONE)
        return 0;
    int h = c->hdr;
    if (len > hdr_caps[h] - c->hlen[h]) {
        c->refuse = 431;
        return -1;
    }
    memcpy(c->hval[h] + c->hlen[h], at, len);
    c->hlen[h] += len;
    c->hval[h][c->hlen[h]] = '\0';
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    aconn *c = p->data;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > HOOKD_ADMIN_MAX_BODY) {
        c->refuse = 413;
        return -1;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    aconn *c = p->data;
    if (len > HOOKD_ADMIN_MAX_BODY - c->body_len) {
        c->refuse = 413;
        return -1;
    }
    if (c->body_len + len > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 1024;
        while (cap < c->body_len + len)
            cap *= 2;
        char *nb = realloc(c->body, cap);
        if (!nb) {
            c->refuse = 503;
            return -1;
        }
        c->body = nb;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    aconn *c = p->data;
    c->complete = 1;
    c->keep = llhttp_should_keep_alive(p);
    return HPE_PAUSED; /* one request at a time: the next waits for this answer */
}

/* Parses bytes read (or stashed); a whole request is routed, what follows
 * it is kept for after its answer. */
static void feed(aconn *c, const char *data, size_t len)
{
    llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
    if (c->complete) {
        if (e == HPE_PAUSED) {
            const char *at = llhttp_get_error_pos(&c->parser);
            size_t rest = at && at >= data && at <= data + len ? (size_t)(data + len - at) : 0;
            if (rest > sizeof c->stash)
                c->keep = 0; /* more pipelined than we hold: answer this one, then close */
            else {
                memcpy(c->stash, at, rest);
                c->stash_len = rest;
            }
        }
        uv_read_stop((uv_stream_t *)&c->tcp);
        uv_timer_stop(&c->timer); /* a handler off the loop may take its time */
        route(c);
    } else if (c->refuse == 431) {
        refuse(c, 431, "request too large\n");
    } else if (c->refuse == 413) {
        refuse(c, 413, "body too large\n");
    } else if (c->refuse) {
        refuse(c, c->refuse, c->refuse == 503 ? "out of memory\n" : "malformed request\n");
    } else if (e != HPE_OK) {
        refuse(c, 400, "malformed request\n");
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    static char readbuf[STASH_MAX]; /* the loop thread only; consumed at once */
    *b = uv_buf_init(readbuf, sizeof readbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    aconn *c = st->data;
    if (nread < 0) {
        if (!c->working)
            conn_close(c);
        return;
    }
    if (nread == 0 || c->answered || c->working || c->complete)
        return;
    feed(c, buf->base, (size_t)nread);
}

static void on_timeout(uv_timer_t *t) { conn_close(t->data); }

/* ---------- accepting ---------- */

static void on_connection(uv_stream_t *ls, int status)
{
    hookd_admin *a = ls->data;
    if (status < 0 || a->stopping)
        return;
    aconn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->adm = a;
    request_reset(c);
    uv_tcp_init(a->loop, &c->tcp);
    uv_timer_init(a->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    a->nconns++;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    /* Full: the oldest connection still waiting for its request makes room.
     * A probe asks at once and is answered at once, so idle or slow
     * connections can no longer keep probes out. */
    if (a->nconns > HOOKD_ADMIN_MAX_CONNECTIONS) {
        aconn *old = NULL;
        for (aconn *o = c->next; o; o = o->next)
            if (!o->answered && !o->closing && !o->working && !o->complete)
                old = o; /* the list is newest first: the last one is the oldest */
        conn_close(old ? old : c);
        if (!old)
            return;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &a->settings);
    c->parser.data = c;
    uv_timer_start(&c->timer, on_timeout, HOOKD_ADMIN_TIMEOUT_MS, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

hookd_admin *hookd_admin_new(uv_loop_t *loop, const hookd_admin_deps *deps, char *err,
                             size_t errlen)
{
    const char *spec = deps->rt->cfg->admin_listen;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (!spec || hookd_listen_addr(spec, &ss) != 0) {
        snprintf(err, errlen, "admin.listen: \"%s\" is not host:port", spec ? spec : "");
        return NULL;
    }
    hookd_admin *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->loop = loop;
    a->deps = *deps;
    llhttp_settings_init(&a->settings);
    a->settings.on_url = on_url;
    a->settings.on_header_field = on_header_field;
    a->settings.on_header_field_complete = on_header_field_complete;
    a->settings.on_header_value = on_header_value;
    a->settings.on_headers_complete = on_headers_complete;
    a->settings.on_body = on_body;
    a->settings.on_message_complete = on_message_complete;
    uv_tcp_init(loop, &a->listener);
    a->listener.data = a;
    a->listener_open = 1;
    int rc = uv_tcp_bind(&a->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&a->listener, 64, on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "admin.listen: cannot listen on %s: %s", spec, uv_strerror(rc));
        uv_close((uv_handle_t *)&a->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        free(a);
        return NULL;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    char ip[INET6_ADDRSTRLEN] = "?", url[INET6_ADDRSTRLEN + 32];
    uv_tcp_getsockname(&a->listener, (struct sockaddr *)&bound, &bl);
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
        snprintf(url, sizeof url, "http://[%s]:%d/", ip,
                 ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
        snprintf(url, sizeof url, "http://%s:%d/", ip,
                 ntohs(((struct sockaddr_in *)&bound)->sin_port));
    }
    hookd_log(HOOKD_LOG_INFO, "admin listening on %.*s", (int)strlen(url) - 1, url);
    a->console = hookd_console_new(loop, deps->rt->cfg, deps->spool, (struct sockaddr *)&bound,
                                   url, err, errlen);
    if (!a->console && err[0]) {
        hookd_admin_stop(a);
        uv_run(loop, UV_RUN_NOWAIT);
        free(a);
        return NULL;
    }
    return a;
}

void hookd_admin_set_runtime(hookd_admin *a, const hookd_runtime *rt)
{
    if (a) {
        a->deps.rt = rt;
        hookd_console_set_config(a->console, rt->cfg);
    }
}

void hookd_admin_stop(hookd_admin *a)
{
    if (!a || a->stopping)
        return;
    a->stopping = 1;
    if (a->listener_open) {
        a->listener_open = 0;
        uv_close((uv_handle_t *)&a->listener, NULL);
    }
    while (a->conns)
        conn_close(a->conns);
}

void hookd_admin_free(hookd_admin *a)
{
    if (!a)
        return;
    hookd_console_free(a->console);
    free(a);
}

/* admin: a small HTTP/1.1 listener of its own (llhttp parses), separate from
 * the webhook listeners so that neither their limits nor their counters see
 * a scrape. Every answer closes its connection. */
#include "admin.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "answer.h"
#include "server.h"
#include "base/log.h"
#include "base/metrics.h"

#define URL_MAX 1024

typedef struct aconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct hookd_admin *adm;
    struct aconn *prev, *next;
    llhttp_t parser;
    size_t bytes;       /* read so far */
    char url[URL_MAX + 1];
    size_t url_len;
    int url_long;
    int complete;       /* a whole request was read */
    int answered;
    int closing;
    int handles;
} aconn;

struct hookd_admin {
    uv_loop_t *loop;
    hookd_admin_deps deps;
    uv_tcp_t listener;
    int listener_open;
    int stopping;
    aconn *conns;
    size_t nconns;
    llhttp_settings_t settings;
};

/* ---------- closing ---------- */

static void on_conn_closed(uv_handle_t *h)
{
    aconn *c = h->data;
    if (--c->handles == 0)
        free(c);
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

/* ---------- answers ---------- */

typedef struct wreq {
    uv_write_t req;
    aconn *c;
    char *data;
} wreq;

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    wreq *w = (wreq *)req;
    aconn *c = w->c;
    free(w->data);
    free(w);
    conn_close(c);
}

/* Writes one answer and closes once it is out. body is copied. */
static void respond(aconn *c, int status, const char *ctype, const char *extra,
                    const char *body, size_t body_len)
{
    if (c->answered || c->closing)
        return;
    c->answered = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                     status, hookd_http_reason(status), ctype, body_len, extra ? extra : "");
    wreq *w = calloc(1, sizeof *w);
    char *data = w ? malloc((size_t)n + body_len) : NULL;
    if (!data) {
        free(w);
        conn_close(c);
        return;
    }
    memcpy(data, head, (size_t)n);
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
    const char *sp = d->rt->cfg->spool_path;
    if (sp) {
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

static void route(aconn *c)
{
    const char *q = memchr(c->url, '?', c->url_len);
    size_t plen = q ? (size_t)(q - c->url) : c->url_len;
#define IS(p) (plen == sizeof(p) - 1 && memcmp(c->url, p, plen) == 0)
    int known = IS("/healthz") || IS("/readyz") || IS("/metrics");
    if (c->url_long) {
        respond_text(c, 414, "URI too long\n", NULL);
    } else if (!known) {
        respond_text(c, 404, "not found\n", NULL);
    } else if (c->parser.method != HTTP_GET) {
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

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    aconn *c = p->data;
    if (len > URL_MAX - c->url_len) {
        c->url_long = 1;
        return 0;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = '\0';
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    aconn *c = p->data;
    c->complete = 1;
    return HPE_PAUSED; /* one request per connection */
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    static char readbuf[4096]; /* the loop thread only; consumed at once */
    *b = uv_buf_init(readbuf, sizeof readbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    aconn *c = st->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->answered)
        return;
    c->bytes += (size_t)nread;
    llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (c->complete) {
        route(c);
    } else if (c->bytes > HOOKD_ADMIN_MAX_REQUEST) {
        respond_text(c, 431, "request too large\n", NULL);
    } else if (e != HPE_OK) {
        respond_text(c, 400, "malformed request\n", NULL);
    }
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
            if (!o->answered && !o->closing)
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
    char ip[INET6_ADDRSTRLEN] = "?";
    uv_tcp_getsockname(&a->listener, (struct sockaddr *)&bound, &bl);
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
        hookd_log(HOOKD_LOG_INFO, "admin listening on http://[%s]:%d", ip,
                  ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
        hookd_log(HOOKD_LOG_INFO, "admin listening on http://%s:%d", ip,
                  ntohs(((struct sockaddr_in *)&bound)->sin_port));
    }
    return a;
}

void hookd_admin_set_runtime(hookd_admin *a, const hookd_runtime *rt)
{
    if (a)
        a->deps.rt = rt;
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
    free(a);
}

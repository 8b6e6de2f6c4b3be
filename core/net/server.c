/* server: listeners, connections, answers, TLS through memory BIOs, and
 * every timeout and connection limit of the receive path; the llhttp
 * callbacks are in server_http.c. Requests are answered in order, so
 * pipelining needs no reordering. */
#include "server_conn.h"
#include "common/text.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "tls.h"

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Answers queued for a peer that does not read them: past this, reading
 * stops, so pipelined requests cannot pile up answers in memory. */
#define WRITE_QUEUE_MAX (64 * 1024)
/* A refused request's sender may still be sending: closing with its bytes
 * unread makes the kernel answer with a reset, which can destroy the refusal
 * before the sender reads it. So, as nginx does, the answer is followed by
 * a FIN and what still arrives is read and dropped, for a bounded time and
 * amount, before the socket closes. */
#define LINGER_MS 2000
#define LINGER_MAX (4u << 20)

/* ---------- answers ---------- */

static const char *status_text(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static const char *http_date(hookd_server *s)
{
    time_t now = time(NULL);
    if (now != s->date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_at = now;
    }
    return s->date;
}

int hookd_conn_reserve(conn *c, size_t more)
{
    if (c->olen + more <= c->ocap)
        return 0;
    size_t cap = c->ocap ? c->ocap : 1024;
    while (cap < c->olen + more)
        cap *= 2;
    char *p = realloc(c->out, cap);
    if (!p)
        return -1;
    c->out = p;
    c->ocap = cap;
    return 0;
}

void hookd_conn_answer(conn *c, const hookd_response *r)
{
    const char *extra = r->headers ? r->headers : "";
    size_t need = 256 + strlen(extra) + r->body_len;
    if (hookd_conn_reserve(c, need) != 0) {
        c->closing = 1;
        return;
    }
    int n = snprintf(c->out + c->olen, c->ocap - c->olen,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s%s\r\n",
                     r->status, status_text(r->status), http_date(c->srv), r->body_len,
                     extra, r->close ? "Connection: close\r\n" : "");
    c->olen += (size_t)n;
    memcpy(c->out + c->olen, r->body, r->body_len);
    c->olen += r->body_len;
    hookd_metrics_request(r->source - 1, r->status,
                          c->t0_us ? hookd_metrics_now_us() - c->t0_us : -1);
    c->t0_us = 0;
}

void hookd_response_error(hookd_response *resp, int status, const char *msg)
{
    /* The reason may hold bytes a sender chose (a parser's "near '...'"):
     * invalid UTF-8 becomes U+FFFD, and the text is cut only between whole
     * characters and escapes, so the body is always JSON. */
    static const char tail[] = "\"}";
    resp->status = status;
    size_t cap = sizeof resp->body - sizeof tail, at;
    at = (size_t)snprintf(resp->body, cap, "{\"error\":\"");
    const unsigned char *p = (const unsigned char *)msg;
    size_t left = strlen(msg);
    while (left > 0) {
        char esc[8];
        const char *put = esc;
        size_t n = hookd_utf8_len(p, left), take = n ? n : 1;
        if (*p == '"' || *p == '\\')
            n = (size_t)snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p < 0x20)
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
        else if (n == 0)
            n = (size_t)snprintf(esc, sizeof esc, "\\ufffd");
        else
            put = (const char *)p;
        if (at + n > cap)
            break;
        memcpy(resp->body + at, put, n);
        at += n;
        p += take;
        left -= take;
    }
    memcpy(resp->body + at, tail, sizeof tail);
    resp->body_len = at + sizeof tail - 1;
}

/* An answer the connection stage gives itself; the connection then closes. */
void hookd_conn_refuse(conn *c, int status, const char *why)
{
    hookd_response r = {.close = 1};
    hookd_response_error(&r, status, why);
    if (status == 503)
        r.headers = "Retry-After: 1\r\n";
    hookd_conn_answer(c, &r);
    c->closing = 1;
    c->linger = c->phase == PH_HEADERS || c->phase == PH_BODY;
    hookd_logctx ctx = {.peer = c->peer};
    hookd_logx(HOOKD_LOG_WARN, &ctx, "refused %d: %s", status, why);
}

/* ---------- writing ---------- */

typedef struct wreq {
    uv_write_t req;
    conn *c;
    char data[];
} wreq;

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    conn *c = w->c;
    free(w);
    c->writes--;
    if (status < 0)
        c->closing = 1;
    if (c->closing && c->writes == 0)
        hookd_conn_close(c);
    else if (c->writes == 0 && c->wblocked) {
        /* Taken: the request being read gets its full time again. */
        c->wblocked = 0;
        const hookd_config *cfg = c->srv->cfg;
        if (c->phase == PH_WAIT) /* the answer comes from the spool, untimed */
            uv_timer_stop(&c->timer);
        else
            hookd_conn_arm(c, c->phase == PH_HEADERS ? cfg->header_timeout_ms
                              : c->phase == PH_BODY  ? cfg->body_timeout_ms
                                                     : cfg->idle_timeout_ms);
        if (c->read_paused && !c->waiting && !c->closing) {
            c->read_paused = 0;
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        }
    }
}

static void write_bytes(conn *c, const char *data, size_t len)
{
    if (c->writes == 0) {
        /* Most answers fit the socket buffer: no copy, no request. */
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n != UV_EAGAIN) {
            c->closing = 1;
            return;
        }
        if (len == 0)
            return;
    }
    wreq *w = malloc(sizeof *w + len);
    if (!w) {
        c->closing = 1;
        return;
    }
    w->c = c;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(w);
        c->closing = 1;
        return;
    }
    c->writes++;
    if (!c->wblocked &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_MAX) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->read_paused = 1;
        c->wblocked = 1;
        c->wblocked_at = uv_now(c->srv->loop);
    }
}

void hookd_conn_flush(conn *c)
{
    if (c->use_tls) {
        if (c->olen > 0 && hookd_tls_write(&c->tls, c->out, c->olen) != 0)
            c->closing = 1;
        c->olen = 0;
        char *ct = NULL;
        size_t n = hookd_tls_take(&c->tls, &ct);
        if (n > 0) {
            write_bytes(c, ct, n);
            free(ct);
        }
    } else if (c->olen > 0) {
        write_bytes(c, c->out, c->olen);
        c->olen = 0;
    }
}

/* ---------- closing ---------- */

/* Once stopping, the last handle to close reports, once. */
static void maybe_done(hookd_server *s)
{
    if (s->stopping && s->nconns == 0 && s->ls_open == 0 && s->done) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_arg);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles > 0)
        return;
    hookd_server *s = c->srv;
    hookd_tls_free(&c->tls);
    free(c->hbuf);
    hookd_conn_body_free(c);
    free(c->out);
    free(c->stash);
    free(c);
    maybe_done(s);
}

static void conn_release(conn *c);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;
    if (status < 0 && status != UV_ECANCELED)
        conn_release(c);
}

static void on_linger_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = st->data;
    if (nread < 0 || (c->lingered += (size_t)nread) > LINGER_MAX)
        conn_release(c);
}

static void on_linger_timer(uv_timer_t *t) { conn_release(t->data); }

void hookd_conn_close(conn *c)
{
    if (c->handles == 0 || uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    if (c->lingering) {
        conn_release(c);
        return;
    }
    c->closing = 1;
    if (c->waiting) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        return; /* the pending answer closes it */
    }
    if (c->writes > 0 && !c->abandon) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        return; /* on_write closes once the answers are out */
    }
    if (c->linger && !c->abandon && !c->srv->stopping) {
        c->lingering = 1;
        c->phase = PH_IDLE; /* a stopping server closes it at once */
        c->shut.data = c;
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) == 0 &&
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_linger_read) == 0) {
            uv_timer_start(&c->timer, on_linger_timer, LINGER_MS, 0);
            return;
        }
    }
    conn_release(c);
}

/* Unlinks the connection and closes its handles. */
static void conn_release(conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    hookd_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* ---------- timeouts ---------- */

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->wblocked) {
        /* Our reading stopped, not the peer's sending: the peer gets the
         * idle timeout to take the answers, then the connection closes. */
        uint64_t waited = uv_now(c->srv->loop) - c->wblocked_at;
        uint64_t idle = (uint64_t)c->srv->cfg->idle_timeout_ms;
        if (waited < idle) {
            uv_timer_start(&c->timer, on_timer, idle - waited, 0);
        } else {
            c->abandon = 1;
            hookd_conn_close(c);
        }
        return;
    }
    if (c->phase == PH_IDLE) {
        if (c->use_tls && !SSL_is_init_finished(c->tls.ssl))
            hookd_metrics_tls_handshake_failure();
        hookd_conn_close(c);
        return;
    }
    hookd_conn_refuse(c, 408, c->phase == PH_HEADERS ? "header timeout" : "body timeout");
    hookd_conn_flush(c);
    hookd_conn_close(c);
}

void hookd_conn_arm(conn *c, int64_t ms)
{
    uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
}

/* ---------- reading ---------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    /* Every read is consumed before the next one, so one buffer serves all. */
    *buf = uv_buf_init(c->srv->readbuf, sizeof c->srv->readbuf);
}

/* Decrypts what TLS holds (after `in`, if any) and parses it, until the
 * connection closes or TLS has nothing more. */
static void pump_tls(conn *c, const char *in, size_t n)
{
    for (;;) {
        int got = hookd_tls_read(&c->tls, in, n, c->srv->plain, sizeof c->srv->plain);
        in = NULL;
        n = 0;
        if (got < 0) {
            if (!SSL_is_init_finished(c->tls.ssl))
                hookd_metrics_tls_handshake_failure();
            hookd_logctx ctx = {.peer = c->peer};
            hookd_logx(HOOKD_LOG_WARN, &ctx, "TLS failure; connection closed");
            hookd_conn_flush(c); /* the alert, if any */
            c->olen = 0;
            c->closing = 1;
            return;
        }
        if (got == 0)
            return;
        hookd_conn_feed(c, c->srv->plain, (size_t)got);
        if (c->closing)
            return;
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = st->data;
    if (nread == UV_EOF && c->waiting) {
        /* The sender half-closed after its request(s): answer, then close. */
        c->eof = 1;
        uv_read_stop(st);
        return;
    }
    if (nread < 0) {
        if (c->use_tls && !SSL_is_init_finished(c->tls.ssl))
            hookd_metrics_tls_handshake_failure();
        hookd_conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->use_tls)
        pump_tls(c, buf->base, (size_t)nread);
    else
        hookd_conn_feed(c, buf->base, (size_t)nread);
    hookd_conn_flush(c);
    if (c->closing)
        hookd_conn_close(c);
}

void hookd_server_answer(hookd_pending *later, const hookd_response *resp)
{
    conn *c = (conn *)later;
    c->waiting = 0;
    if (c->closing) { /* the peer went away meanwhile */
        hookd_conn_close(c);
        return;
    }
    hookd_response r = *resp;
    llhttp_resume(&c->parser);
    if (hookd_conn_finish(c, &r) == 0) {
        /* Parse what arrived behind it; it may wait again. */
        char *stash = c->stash;
        size_t n = c->stash_len;
        c->stash = NULL;
        c->stash_len = 0;
        hookd_conn_feed(c, stash, n); /* if it waits again, feed stashes the tail anew */
        free(stash);
        if (c->eof && !c->waiting)
            c->closing = 1;
        else if (c->read_paused && !c->waiting && !c->closing) {
            c->read_paused = 0;
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        }
    }
    hookd_conn_flush(c);
    if (c->closing)
        hookd_conn_close(c);
}

/* ---------- accepting ---------- */

static void peer_name(uv_tcp_t *t, char *out, size_t len)
{
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(out, len, "%s:%d", ip, port);
}

/* Accept failures come in bursts: one line a second at most, with how many
 * there were. libuv drops connections silently at EMFILE (it accepts and
 * closes them with a reserved descriptor), so a connection given one of
 * the last few descriptors below RLIMIT_NOFILE counts as a failure too:
 * the next ones are being dropped. */
static void accept_failed(hookd_server *s, const char *why)
{
    s->accept_failures++;
    uint64_t now = uv_now(s->loop);
    if (s->accept_logged_at && now - s->accept_logged_at < 1000)
        return;
    hookd_log(HOOKD_LOG_WARN, "cannot accept connections: %s (%llu since the last line)", why,
              (unsigned long long)s->accept_failures);
    s->accept_failures = 0;
    s->accept_logged_at = now ? now : 1;
}

static void on_connection(uv_stream_t *ls, int status)
{
    listener *l = ls->data;
    hookd_server *s = l->srv;
    if (status < 0 && !s->stopping)
        accept_failed(s, uv_strerror(status));
    if (status < 0 || s->stopping)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
        hookd_conn_close(c);
        return;
    }
    peer_name(&c->tcp, c->peer, sizeof c->peer);
    uv_tcp_nodelay(&c->tcp, 1);
    uv_os_fd_t fd;
    if (s->nofile && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && (rlim_t)fd + 8 >= s->nofile)
        accept_failed(s, "the open files limit (RLIMIT_NOFILE) is reached: connections "
                         "past it are closed unanswered");
    if (s->nconns > (size_t)s->cfg->max_connections && !s->tls) {
        hookd_conn_refuse(c, 503, "too many connections");
        hookd_conn_flush(c);
        hookd_conn_close(c);
        return;
    }
    /* Over TLS the refusal needs the handshake first: it is answered at
     * the request's head (server_http.c), within the header timeout. */
    c->over_limit = s->nconns > (size_t)s->cfg->max_connections;
    if (s->tls) {
        if (hookd_tls_init(&c->tls, s->tls) != 0) {
            hookd_conn_close(c);
            return;
        }
        c->use_tls = 1;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
    c->parser.data = c;
    hookd_conn_arm(c, s->cfg->header_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int hookd_listen_addr(const char *spec, struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || strlen(spec) >= sizeof host)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == colon + 1)
        return -1;
    size_t hl = (size_t)(colon - spec);
    memcpy(host, spec, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss);
    }
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

static void on_listener_closed(uv_handle_t *h)
{
    listener *l = h->data;
    hookd_server *s = l->srv;
    s->ls_open--;
    maybe_done(s);
}

void hookd_server_set_config(hookd_server *s, const hookd_config *cfg) { s->cfg = cfg; }

void hookd_server_set_head_check(hookd_server *s, hookd_head_fn check) { s->head_check = check; }

SSL_CTX *hookd_server_swap_tls(hookd_server *s, SSL_CTX *ctx)
{
    if (!s->tls) /* plain HTTP stays plain until a restart */
        return ctx;
    SSL_CTX *old = s->tls; /* open connections hold their own reference */
    s->tls = ctx;
    return old;
}

hookd_server *hookd_server_new(uv_loop_t *loop, const hookd_config *cfg,
                               hookd_handler_fn handler, void *ud, char *err,
                               size_t errlen)
{
    hookd_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* A fixed threshold (glibc's grows with use): bodies of 128 KiB and
     * more are mmapped, so their memory returns to the system when freed
     * instead of staying in the heap after a burst. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        s->nofile = rl.rlim_cur;
    s->loop = loop;
    s->cfg = cfg;
    s->handler = handler;
    s->ud = ud;
    hookd_http_settings(&s->settings);
    if (cfg->tls_cert) {
        s->tls = hookd_tls_ctx_new(cfg->tls_cert, cfg->tls_key, err, errlen);
        if (!s->tls)
            goto fail;
    }
    s->ls = calloc(cfg->nlisten, sizeof *s->ls);
    if (!s->ls) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->nlisten; i++) {
        listener *l = &s->ls[i];
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        if (hookd_listen_addr(cfg->listen[i], &ss) != 0) {
            snprintf(err, errlen, "server.listen[%zu]: \"%s\" is not host:port", i,
                     cfg->listen[i]);
            goto fail;
        }
        uv_tcp_init(loop, &l->tcp);
        l->tcp.data = l;
        l->srv = s;
        s->nls++;
        s->ls_open++;
        int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&l->tcp, 4096, on_connection);
        if (rc != 0) {
            snprintf(err, errlen, "server.listen[%zu]: cannot listen on %s: %s", i,
                     cfg->listen[i], uv_strerror(rc));
            goto fail;
        }
        struct sockaddr_storage bound;
        int bl = sizeof bound;
        char ip[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &bl);
        if (bound.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
            hookd_log(HOOKD_LOG_INFO, "listening on %s://[%s]:%d", s->tls ? "https" : "http",
                      ip, port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
            hookd_log(HOOKD_LOG_INFO, "listening on %s://%s:%d", s->tls ? "https" : "http",
                      ip, port);
        }
    }
    return s;
fail:
    /* Listeners already initialised must be closed through the loop. */
    s->stopping = 1;
    for (size_t i = 0; i < s->nls; i++)
        uv_close((uv_handle_t *)&s->ls[i].tcp, on_listener_closed);
    uv_run(loop, UV_RUN_NOWAIT);
    hookd_server_free(s);
    return NULL;
}

void hookd_server_stop(hookd_server *s, void (*done)(void *), void *arg)
{
    s->stopping = 1;
    s->done = done;
    s->done_arg = arg;
    for (size_t i = 0; i < s->nls; i++)
        if (!uv_is_closing((uv_handle_t *)&s->ls[i].tcp))
            uv_close((uv_handle_t *)&s->ls[i].tcp, on_listener_closed);
    /* Idle connections go now; the others close after their answer. */
    for (conn *c = s->conns, *nx; c; c = nx) {
        nx = c->next;
        if (c->phase == PH_IDLE)
            hookd_conn_close(c);
    }
}

void hookd_server_free(hookd_server *s)
{
    if (!s)
        return;
    SSL_CTX_free(s->tls);
    free(s->ls);
    free(s);
}

size_t hookd_server_connections(const hookd_server *s) { return s->nconns; }

const char *hookd_request_header(const hookd_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->names[i], name) == 0)
            return req->values[i];
    return NULL;
}

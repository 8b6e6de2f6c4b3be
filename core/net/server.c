/* server: listeners, connections, answers, TLS through memory BIOs, and
 * every timeout and connection limit of the receive path. Each connection
 * feeds its bytes to its HTTP/1.1 parser (server_http.c) and acts on what
 * the parser records: a head to check, a request to answer, a refusal.
 * Requests are answered in order, so pipelining needs no reordering. */
#include "server_conn.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "base/hostport.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/refusals.h"
#include "tls.h"

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void conn_close(conn *c);
static void conn_arm(conn *c, int64_t ms);

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

static int conn_reserve(conn *c, size_t more)
{
    return hookd_buf_room(&c->out, more) ? 0 : -1;
}

static void conn_answer(conn *c, const hookd_response *r)
{
    const char *extra = r->headers ? r->headers : "";
    size_t need = 256 + strlen(extra) + r->body_len;
    if (conn_reserve(c, need) != 0) {
        c->closing = 1;
        return;
    }
    int n = snprintf(c->out.p + c->out.len, c->out.cap - c->out.len,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s%s\r\n",
                     r->status, hookd_http_reason(r->status), http_date(c->srv), r->body_len,
                     extra, r->close ? "Connection: close\r\n" : "");
    c->out.len += (size_t)n;
    memcpy(c->out.p + c->out.len, r->body, r->body_len);
    c->out.len += r->body_len;
    hookd_metrics_request(r->source - 1, r->status,
                          c->t0_us ? hookd_metrics_now_us() - c->t0_us : -1);
    c->t0_us = 0;
}

/* The console's word for a refusal of the connection stage. */
static const char *refusal_check(int status)
{
    switch (status) {
    case 408: return "timeout";
    case 413:
    case 431: return "size";
    case 405: return "method";
    case 503: return "busy";
    default: return "http";
    }
}

/* An answer the connection stage gives itself; the connection then closes. */
static void conn_refuse(conn *c, int status, const char *why)
{
    hookd_response r = {.close = 1};
    hookd_response_error(&r, status, why);
    if (status == 503)
        r.headers = "Retry-After: 1\r\n";
    conn_answer(c, &r);
    c->closing = 1;
    c->linger = c->phase == PH_HEADERS || c->phase == PH_BODY;
    hookd_logctx ctx = {.peer = c->peer};
    hookd_logx(HOOKD_LOG_WARN, &ctx, "refused %d: %s", status, why);
    hookd_refusal_add(NULL, c->peer, status, refusal_check(status), why);
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
        conn_close(c);
    else if (c->writes == 0 && c->wblocked) {
        /* Taken: the request being read gets its full time again. */
        c->wblocked = 0;
        const hookd_config *cfg = c->srv->cfg;
        if (c->phase == PH_WAIT) /* the answer comes from the spool, untimed */
            uv_timer_stop(&c->timer);
        else
            conn_arm(c, c->phase == PH_HEADERS ? cfg->header_timeout_ms
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

static void conn_flush(conn *c)
{
    if (c->use_tls) {
        if (c->out.len > 0 && hookd_tls_write(&c->tls, c->out.p, c->out.len) != 0)
            c->closing = 1;
        c->out.len = 0;
        char *ct = NULL;
        size_t n = hookd_tls_take(&c->tls, &ct);
        if (n > 0) {
            write_bytes(c, ct, n);
            free(ct);
        }
    } else if (c->out.len > 0) {
        write_bytes(c, c->out.p, c->out.len);
        c->out.len = 0;
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
    hookd_h1_free(&c->h1);
    hookd_buf_free(&c->out);
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

static void conn_close(conn *c)
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
            conn_close(c);
        }
        return;
    }
    if (c->phase == PH_IDLE) {
        if (c->use_tls && !SSL_is_init_finished(c->tls.ssl))
            hookd_metrics_tls_handshake_failure();
        conn_close(c);
        return;
    }
    conn_refuse(c, 408, c->phase == PH_HEADERS ? "header timeout" : "body timeout");
    conn_flush(c);
    conn_close(c);
}

static void conn_arm(conn *c, int64_t ms)
{
    uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
}

/* ---------- reading ---------- */

/* After an answer: the connection goes idle, or closes (-1). */
static int conn_finish(conn *c, hookd_response *resp)
{
    hookd_server *s = c->srv;
    if (!c->keep_alive || s->stopping)
        resp->close = 1;
    conn_answer(c, resp);
    c->phase = PH_IDLE;
    conn_arm(c, s->cfg->idle_timeout_ms);
    if (resp->close) {
        c->closing = 1; /* whatever was pipelined behind it is ignored */
        return -1;
    }
    hookd_h1_trim(&c->h1);
    return 0;
}

/* What the head alone decides (unknown path, method, credentials, a missing
 * signature) is answered before the body is read: an anonymous sender makes
 * hookd hold nothing. Returns 0 to read the body. */
static int conn_head(conn *c)
{
    hookd_server *s = c->srv;
    if (s->head_check) {
        hookd_request req;
        hookd_response resp = {0};
        hookd_h1_request(&c->h1, &req);
        req.peer = c->peer;
        if (s->head_check(s->ud, &req, &resp) != 0) {
            resp.close = 1;
            conn_answer(c, &resp);
            c->closing = 1;
            c->linger = 1; /* read on and discard, so the close sends no reset */
            return -1;
        }
    }
    int r = hookd_h1_accept_head(&c->h1);
    if (r < 0) {
        conn_refuse(c, c->h1.status, c->h1.why);
        return -1;
    }
    if (r > 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (conn_reserve(c, sizeof cont) == 0) {
            memcpy(c->out.p + c->out.len, cont, sizeof cont - 1);
            c->out.len += sizeof cont - 1;
            conn_flush(c);
        }
    }
    conn_arm(c, s->cfg->body_timeout_ms);
    return 0;
}

/* Hands a whole request to the handler. Returns 0 to read on, -1 when the
 * connection waits for the answer or closes. */
static int conn_message(conn *c)
{
    hookd_server *s = c->srv;
    hookd_request req;
    hookd_response resp = {0};
    hookd_h1_request(&c->h1, &req);
    req.peer = c->peer;
    c->keep_alive = !s->stopping && !c->h1.close_after;
    if (s->handler(s->ud, &req, &resp, (hookd_pending *)c) == HOOKD_ANSWER_LATER) {
        c->waiting = 1;
        c->phase = PH_WAIT;
        uv_timer_stop(&c->timer);
        return -1;
    }
    return conn_finish(c, &resp);
}

/* Bytes that arrive while a request waits for its answer are kept for later;
 * past this much the connection stops reading until the answer. Reading is
 * not stopped for every wait: that would cost two epoll_ctl per request. */
#define STASH_MAX (256 * 1024)

static void stash(conn *c, const char *data, size_t len)
{
    if (len == 0)
        return;
    char *b = realloc(c->stash, c->stash_len + len);
    if (!b) {
        c->closing = 1;
        return;
    }
    memcpy(b + c->stash_len, data, len);
    c->stash = b;
    c->stash_len += len;
    if (c->stash_len > STASH_MAX && !c->read_paused) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->read_paused = 1;
    }
}

/* Parses bytes read, acting on each event the parser records (stashing
 * them while a request waits for its answer). */
static void conn_feed(conn *c, const char *data, size_t len)
{
    if (c->closing || len == 0)
        return;
    if (c->waiting) {
        stash(c, data, len);
        return;
    }
    for (;;) {
        size_t used;
        hookd_h1_event ev = hookd_h1_execute(&c->h1, data, len, &used);
        data += used;
        len -= used;
        if (c->h1.begun) { /* first, as it came first */
            c->h1.begun = 0;
            c->phase = PH_HEADERS;
            c->t0_us = c->h1.t0_us;
            conn_arm(c, c->srv->cfg->header_timeout_ms);
        }
        if (c->h1.in_body && c->phase == PH_HEADERS)
            c->phase = PH_BODY;
        if (ev == HOOKD_H1_MORE)
            return;
        if (ev == HOOKD_H1_REFUSE) {
            conn_refuse(c, c->h1.status, c->h1.why);
            return;
        }
        if (ev == HOOKD_H1_HEAD ? conn_head(c) != 0 : conn_message(c) != 0) {
            if (c->waiting) /* keep what follows for when it is answered */
                stash(c, data, len);
            return;
        }
    }
}

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
            conn_flush(c); /* the alert, if any */
            c->out.len = 0;
            c->closing = 1;
            return;
        }
        if (got == 0)
            return;
        conn_feed(c, c->srv->plain, (size_t)got);
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
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->use_tls)
        pump_tls(c, buf->base, (size_t)nread);
    else
        conn_feed(c, buf->base, (size_t)nread);
    conn_flush(c);
    if (c->closing)
        conn_close(c);
}

void hookd_server_answer(hookd_pending *later, const hookd_response *resp)
{
    conn *c = (conn *)later;
    c->waiting = 0;
    if (c->closing) { /* the peer went away meanwhile */
        conn_close(c);
        return;
    }
    hookd_response r = *resp;
    if (conn_finish(c, &r) == 0) {
        /* Parse what arrived behind it; it may wait again. */
        char *stash = c->stash;
        size_t n = c->stash_len;
        c->stash = NULL;
        c->stash_len = 0;
        conn_feed(c, stash, n); /* if it waits again, feed stashes the tail anew */
        free(stash);
        if (c->eof && !c->waiting)
            c->closing = 1;
        else if (c->read_paused && !c->waiting && !c->closing) {
            c->read_paused = 0;
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        }
    }
    conn_flush(c);
    if (c->closing)
        conn_close(c);
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
    hookd_h1_init(&c->h1, &s->h1);
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
        conn_close(c);
        return;
    }
    peer_name(&c->tcp, c->peer, sizeof c->peer);
    uv_tcp_nodelay(&c->tcp, 1);
    uv_os_fd_t fd;
    if (s->nofile && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && (rlim_t)fd + 8 >= s->nofile)
        accept_failed(s, "the open files limit (RLIMIT_NOFILE) is reached: connections "
                         "past it are closed unanswered");
    if (s->nconns > (size_t)s->cfg->max_connections && !s->tls) {
        conn_refuse(c, 503, "too many connections");
        conn_flush(c);
        conn_close(c);
        return;
    }
    /* Over TLS the refusal needs the handshake first: it is answered at
     * the request's head (server_http.c), within the header timeout. */
    if (s->tls) {
        if (hookd_tls_init(&c->tls, s->tls) != 0) {
            conn_close(c);
            return;
        }
        c->use_tls = 1;
    }
    c->h1.over_limit = s->nconns > (size_t)s->cfg->max_connections;
    conn_arm(c, s->cfg->header_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int hookd_listen_addr(const char *spec, struct sockaddr_storage *ss)
{
    char host[256];
    int port;
    if (hookd_hostport_parse(spec, host, sizeof host, &port) != 0)
        return -1;
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, port,
                       (struct sockaddr_in *)ss);
}

static void on_listener_closed(uv_handle_t *h)
{
    listener *l = h->data;
    hookd_server *s = l->srv;
    s->ls_open--;
    maybe_done(s);
}

void hookd_server_set_config(hookd_server *s, const hookd_config *cfg)
{
    s->cfg = cfg;
    s->h1.cfg = cfg;
}

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
    hookd_h1_shared_init(&s->h1, cfg);
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
            conn_close(c);
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

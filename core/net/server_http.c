/* server_http: the llhttp callbacks of a connection. They gather the
 * request line and headers into one buffer under max_header, hold bodies
 * under max_body, refuse what HTTP/1.1 forbids or hookd bounds (too many
 * fields, Host rules, Expect), and hand the whole request to the handler;
 * requests behind one that waits for its answer are stashed. */
#include "server_conn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/metrics.h"

static int hput(conn *c, const char *at, size_t len, int count)
{
    if (count) {
        c->hbytes += len;
        if (c->hbytes > c->srv->cfg->max_header) {
            c->reject = 431;
            c->reject_why = "headers larger than max_header";
            return -1;
        }
    }
    if (c->hlen + len + 1 > c->hcap) {
        size_t cap = c->hcap ? c->hcap : 1024;
        while (cap < c->hlen + len + 1)
            cap *= 2;
        char *p = realloc(c->hbuf, cap);
        if (!p) {
            c->reject = 503;
            c->reject_why = "out of memory";
            return -1;
        }
        c->hbuf = p;
        c->hcap = cap;
    }
    memcpy(c->hbuf + c->hlen, at, len);
    c->hlen += len;
    return 0;
}

static int hend(conn *c) { return hput(c, "", 1, 0); }

#define CONN(p) ((conn *)(p)->data)

static int on_message_begin(llhttp_t *p)
{
    conn *c = CONN(p);
    c->phase = PH_HEADERS;
    c->t0_us = hookd_metrics_now_us();
    c->hlen = c->hbytes = 0;
    c->nh = 0;
    c->hstate = 0;
    c->blen = 0;
    hookd_conn_arm(c, c->srv->cfg->header_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) { return hput(CONN(p), at, len, 1); }
static int on_url_complete(llhttp_t *p) { return hend(CONN(p)); }

/* Trailer fields (after a chunked body) are counted against max_header and
 * dropped: RFC 9112 §7.1.2 lets a recipient ignore them, and hookd verifies,
 * routes and keeps only what came before the body. */
static int trailer(conn *c, size_t len)
{
    c->hbytes += len;
    if (c->hbytes > c->srv->cfg->max_header) {
        c->reject = 431;
        c->reject_why = "headers and trailers larger than max_header";
        return -1;
    }
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    conn *c = CONN(p);
    if (c->phase == PH_BODY)
        return trailer(c, len);
    if (c->hstate != 1) {
        if (c->nh == HOOKD_MAX_HEADERS) {
            c->reject = 431;
            c->reject_why = "too many header fields";
            return -1;
        }
        c->hdrs[c->nh].name_off = c->hlen;
        c->hstate = 1;
    }
    return hput(c, at, len, 1);
}

static int on_header_field_complete(llhttp_t *p)
{
    conn *c = CONN(p);
    if (c->phase == PH_BODY)
        return 0;
    if (c->hstate != 1) { /* an empty name: llhttp refuses it, but be safe */
        c->reject = 400;
        c->reject_why = "empty header name";
        return -1;
    }
    for (size_t i = c->hdrs[c->nh].name_off; i < c->hlen; i++)
        c->hbuf[i] = (char)tolower((unsigned char)c->hbuf[i]);
    return hend(c);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    conn *c = CONN(p);
    if (c->phase == PH_BODY)
        return trailer(c, len);
    /* llhttp passes an obs-fold continuation ("a\r\n  b") on as more of the
     * same value; a value resumed right after a line end is one. Two parsers
     * reading one header two ways is a smuggling shape: refuse it. */
    char before = at > c->feed_start ? at[-1] : c->feed_prev;
    if (c->hstate == 2 && (before == '\n' || before == '\r')) {
        c->reject = 400;
        c->reject_why = "folded header line (obs-fold)";
        return -1;
    }
    if (c->hstate != 2) {
        c->hdrs[c->nh].val_off = c->hlen;
        c->hstate = 2;
    }
    return hput(c, at, len, 1);
}

static int on_header_value_complete(llhttp_t *p)
{
    conn *c = CONN(p);
    if (c->phase == PH_BODY)
        return 0;
    if (c->hstate != 2)
        c->hdrs[c->nh].val_off = c->hlen; /* empty value */
    c->hstate = 0;
    c->nh++;
    return hend(c);
}

static const char *conn_header(conn *c, const char *name)
{
    for (size_t i = 0; i < c->nh; i++)
        if (strcmp(c->hbuf + c->hdrs[i].name_off, name) == 0)
            return c->hbuf + c->hdrs[i].val_off;
    return NULL;
}

/* RFC 9112 3.2: an HTTP/1.1 request carries exactly one Host, and a
 * repeated or malformed one is refused (two proxies could read it apart). */
static int host_ok(conn *c, const llhttp_t *p)
{
    size_t n = 0;
    const char *v = NULL;
    for (size_t i = 0; i < c->nh; i++)
        if (strcmp(c->hbuf + c->hdrs[i].name_off, "host") == 0) {
            n++;
            v = c->hbuf + c->hdrs[i].val_off;
        }
    if (n > 1 || (n == 0 && p->http_major == 1 && p->http_minor >= 1))
        return 0;
    return !v || !strpbrk(v, " \t@/\\?#");
}

static const char *origin_form(const char *url);

/* Makes room for `need` bytes of body, counted against the server's budget
 * of bodies in flight. Sized to what is needed (the announced length, or
 * double for a chunked body, never past max_body), not more. The byte for
 * the terminating NUL is not counted: N bodies of max_body fit a budget of
 * N x max_body. */
static int body_reserve(conn *c, size_t need)
{
    hookd_server *s = c->srv;
    if (c->body && need <= c->bcap)
        return 0;
    size_t cap = c->bcap ? c->bcap * 2 : 4096, max = s->cfg->max_body;
    if (cap < need)
        cap = need;
    if (cap > max)
        cap = max;
    if (s->body_bytes - c->bcap + cap > s->cfg->max_body_memory) {
        c->reject = 503;
        c->reject_why = "too many request bodies in flight (max_body_memory)";
        return -1;
    }
    char *b = realloc(c->body, cap + 1);
    if (!b) {
        c->reject = 503;
        c->reject_why = "out of memory";
        return -1;
    }
    s->body_bytes += cap - c->bcap;
    c->body = b;
    c->bcap = cap;
    return 0;
}

void hookd_conn_body_free(conn *c)
{
    c->srv->body_bytes -= c->bcap;
    free(c->body);
    c->body = NULL;
    c->bcap = 0;
}

/* The request as the handler sees it, from the head read so far. */
static void fill_request(conn *c, const llhttp_t *p, hookd_request *req)
{
    const char *url = origin_form(c->hbuf + c->url_off);
    const char *q = strchr(url, '?');
    req->method = p->method;
    req->peer = c->peer;
    req->path = url;
    req->path_len = q ? (size_t)(q - url) : strlen(url);
    for (size_t i = 0; i < c->nh; i++) {
        req->names[i] = c->hbuf + c->hdrs[i].name_off;
        req->values[i] = c->hbuf + c->hdrs[i].val_off;
    }
    req->nheaders = c->nh;
}

/* What the head alone decides (unknown path, method, credentials, a missing
 * signature) is answered before the body is read: an anonymous sender makes
 * hookd hold nothing. */
static int head_refused(conn *c, const llhttp_t *p)
{
    hookd_server *s = c->srv;
    if (!s->head_check)
        return 0;
    hookd_request req = {0};
    hookd_response resp = {0};
    fill_request(c, p, &req);
    if (s->head_check(s->ud, &req, &resp) == 0)
        return 0;
    resp.close = 1;
    hookd_conn_answer(c, &resp);
    c->closing = 1;
    c->linger = 1; /* read on and discard, so the close sends no reset */
    c->reject = -1; /* answered */
    return 1;
}

static int on_headers_complete(llhttp_t *p)
{
    conn *c = CONN(p);
    c->phase = PH_BODY;
    if (p->http_major != 1) { /* llhttp reads "HTTP/2.0" and others alike */
        c->reject = 505;
        c->reject_why = "HTTP version not supported";
        return -1;
    }
    /* One answer per request, in HTTP/1.1: CONNECT is refused and the
     * connection closed; an Upgrade (websocket, h2c) is ignored, as RFC 9110
     * §7.8 allows, so llhttp does not stop at the end of the request. */
    if (c->over_limit) {
        c->reject = 503;
        c->reject_why = "too many connections";
        return -1;
    }
    if (p->method == HTTP_CONNECT) {
        c->reject = 405;
        c->reject_why = "CONNECT is not served";
        return -1;
    }
    p->upgrade = 0;
    /* RFC 9112 §6.1: chunked framing in HTTP/1.0 is faulty: answer, then close. */
    c->close_after = p->http_minor == 0 && (p->flags & F_CHUNKED);
    /* Decided now: llhttp reads "Connection" in trailers too. */
    c->close_after |= !llhttp_should_keep_alive(p);
    if (!host_ok(c, p)) {
        c->reject = 400;
        c->reject_why = "Host header missing, repeated or malformed";
        return -1;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->cfg->max_body) {
        c->reject = 413;
        c->reject_why = "body larger than max_body";
        return -1;
    }
    if (head_refused(c, p))
        return -1;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0 &&
        body_reserve(c, (size_t)p->content_length) != 0)
        return -1;
    const char *expect = conn_header(c, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (hookd_conn_reserve(c, sizeof cont) == 0) {
            memcpy(c->out + c->olen, cont, sizeof cont - 1);
            c->olen += sizeof cont - 1;
            hookd_conn_flush(c);
        }
    }
    hookd_conn_arm(c, c->srv->cfg->body_timeout_ms);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    conn *c = CONN(p);
    size_t max = c->srv->cfg->max_body;
    if (len > max - c->blen) {
        c->reject = 413;
        c->reject_why = "body larger than max_body";
        return -1;
    }
    if (body_reserve(c, c->blen + len) != 0)
        return -1;
    memcpy(c->body + c->blen, at, len);
    c->blen += len;
    return 0;
}

/* RFC 9112 3.2.2: a server must accept the absolute form
 * (http://host/path) as well as the origin form; the authority is ignored,
 * as the listener already decided where the request goes. */
static const char *origin_form(const char *url)
{
    size_t skip = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
    if (!skip)
        return url;
    const char *p = url + strcspn(url + skip, "/?") + skip;
    return *p == '/' ? p : "/";
}


static int on_message_complete(llhttp_t *p)
{
    conn *c = CONN(p);
    hookd_server *s = c->srv;
    hookd_request req = {0};
    fill_request(c, p, &req);
    if (!c->body && on_body(p, "", 0) != 0)
        return -1;
    c->body[c->blen] = '\0';
    req.body = c->body;
    req.body_len = c->blen;

    hookd_response resp = {0};
    c->keep_alive = !s->stopping && !c->close_after;
    /* A "Connection: close" trailer set llhttp's flag too: left there, it
     * would refuse the next pipelined request. */
    if (!c->close_after)
        p->flags &= ~F_CONNECTION_CLOSE;
    if (s->handler(s->ud, &req, &resp, (hookd_pending *)c) == HOOKD_ANSWER_LATER) {
        c->waiting = 1;
        c->phase = PH_WAIT;
        uv_timer_stop(&c->timer);
        return HPE_PAUSED;
    }
    return hookd_conn_finish(c, &resp);
}

/* After an answer: the connection goes idle, or closes. */
int hookd_conn_finish(conn *c, hookd_response *resp)
{
    hookd_server *s = c->srv;
    if (!c->keep_alive || s->stopping)
        resp->close = 1;
    hookd_conn_answer(c, resp);
    c->phase = PH_IDLE;
    hookd_conn_arm(c, s->cfg->idle_timeout_ms);
    if (resp->close) {
        c->closing = 1;
        return HPE_PAUSED; /* ignore whatever was pipelined behind it */
    }
    /* Give back what a large request made us hold (large buffers are
     * mmapped: see hookd_server_new, so the memory goes back to the system). */
    if (c->bcap > 64 * 1024)
        hookd_conn_body_free(c);
    return 0;
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

void hookd_conn_feed(conn *c, const char *data, size_t len)
{
    if (c->closing || len == 0)
        return;
    if (c->waiting) {
        stash(c, data, len);
        return;
    }
    c->feed_start = data;
    llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
    c->feed_prev = data[len - 1];
    if (e == HPE_PAUSED && c->waiting) {
        /* Keep what follows the waiting request for when it is answered. */
        const char *at = llhttp_get_error_pos(&c->parser);
        if (at && at >= data && at <= data + len)
            stash(c, at, (size_t)(data + len - at));
        return;
    }
    if (e == HPE_OK || e == HPE_PAUSED || c->reject < 0)
        return;
    if (c->reject)
        hookd_conn_refuse(c, c->reject, c->reject_why);
    else if (e == HPE_INVALID_VERSION)
        hookd_conn_refuse(c, 505, "HTTP version not supported");
    else {
        char why[160];
        snprintf(why, sizeof why, "malformed request: %s", llhttp_get_error_reason(&c->parser));
        hookd_conn_refuse(c, 400, why);
    }
}

void hookd_http_settings(llhttp_settings_t *s)
{
    llhttp_settings_init(s);
    s->on_message_begin = on_message_begin;
    s->on_url = on_url;
    s->on_url_complete = on_url_complete;
    s->on_header_field = on_header_field;
    s->on_header_field_complete = on_header_field_complete;
    s->on_header_value = on_header_value;
    s->on_header_value_complete = on_header_value_complete;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}

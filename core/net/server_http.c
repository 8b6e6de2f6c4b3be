/* server_http: the llhttp callbacks of a connection (see server_http.h).
 * They gather the request line and headers into one buffer under
 * max_header, hold bodies under max_body, refuse what HTTP/1.1 forbids or
 * hookd bounds (too many fields, Host rules), and pause llhttp at each
 * head and each whole request for the connection to act on. */
#include "server_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/metrics.h"

#define H1(p) ((hookd_h1 *)(p)->data)

static int refuse(hookd_h1 *h, int status, const char *why)
{
    h->status = status;
    h->why = why;
    return -1;
}

static int hput(hookd_h1 *h, const char *at, size_t len, int count)
{
    if (count) {
        h->hbytes += len;
        if (h->hbytes > h->sh->cfg->max_header)
            return refuse(h, 431, "headers larger than max_header");
    }
    if (!hookd_buf_add(&h->hb, at, len))
        return refuse(h, 503, "out of memory");
    return 0;
}

static int hend(hookd_h1 *h) { return hput(h, "", 1, 0); }

static int on_message_begin(llhttp_t *p)
{
    hookd_h1 *h = H1(p);
    h->begun = 1;
    h->in_body = 0;
    h->t0_us = hookd_metrics_now_us();
    h->hb.len = h->hbytes = 0;
    h->nh = 0;
    h->hstate = 0;
    h->blen = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) { return hput(H1(p), at, len, 1); }
static int on_url_complete(llhttp_t *p) { return hend(H1(p)); }

/* Trailer fields (after a chunked body) are counted against max_header and
 * dropped: RFC 9112 §7.1.2 lets a recipient ignore them, and hookd verifies,
 * routes and keeps only what came before the body. */
static int trailer(hookd_h1 *h, size_t len)
{
    h->hbytes += len;
    if (h->hbytes > h->sh->cfg->max_header)
        return refuse(h, 431, "headers and trailers larger than max_header");
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    hookd_h1 *h = H1(p);
    if (h->in_body)
        return trailer(h, len);
    if (h->hstate != 1) {
        if (h->nh == HOOKD_MAX_HEADERS)
            return refuse(h, 431, "too many header fields");
        h->hdrs[h->nh].name_off = h->hb.len;
        h->hstate = 1;
    }
    return hput(h, at, len, 1);
}

static int on_header_field_complete(llhttp_t *p)
{
    hookd_h1 *h = H1(p);
    if (h->in_body)
        return 0;
    if (h->hstate != 1) /* an empty name: llhttp refuses it, but be safe */
        return refuse(h, 400, "empty header name");
    for (size_t i = h->hdrs[h->nh].name_off; i < h->hb.len; i++)
        h->hb.p[i] = (char)tolower((unsigned char)h->hb.p[i]);
    return hend(h);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    hookd_h1 *h = H1(p);
    if (h->in_body)
        return trailer(h, len);
    /* llhttp passes an obs-fold continuation ("a\r\n  b") on as more of the
     * same value; a value resumed right after a line end is one. Two parsers
     * reading one header two ways is a smuggling shape: refuse it. */
    char before = at > h->feed_start ? at[-1] : h->feed_prev;
    if (h->hstate == 2 && (before == '\n' || before == '\r'))
        return refuse(h, 400, "folded header line (obs-fold)");
    if (h->hstate != 2) {
        h->hdrs[h->nh].val_off = h->hb.len;
        h->hstate = 2;
    }
    return hput(h, at, len, 1);
}

static int on_header_value_complete(llhttp_t *p)
{
    hookd_h1 *h = H1(p);
    if (h->in_body)
        return 0;
    if (h->hstate != 2)
        h->hdrs[h->nh].val_off = h->hb.len; /* empty value */
    h->hstate = 0;
    h->nh++;
    return hend(h);
}

static const char *h1_header(const hookd_h1 *h, const char *name)
{
    for (size_t i = 0; i < h->nh; i++)
        if (strcmp(h->hb.p + h->hdrs[i].name_off, name) == 0)
            return h->hb.p + h->hdrs[i].val_off;
    return NULL;
}

/* RFC 9112 3.2: an HTTP/1.1 request carries exactly one Host, and a
 * repeated or malformed one is refused (two proxies could read it apart). */
static int host_ok(const hookd_h1 *h, const llhttp_t *p)
{
    size_t n = 0;
    const char *v = NULL;
    for (size_t i = 0; i < h->nh; i++)
        if (strcmp(h->hb.p + h->hdrs[i].name_off, "host") == 0) {
            n++;
            v = h->hb.p + h->hdrs[i].val_off;
        }
    if (n > 1 || (n == 0 && p->http_major == 1 && p->http_minor >= 1))
        return 0;
    return !v || !strpbrk(v, " \t@/\\?#");
}

/* Makes room for `need` bytes of body, counted against the server's budget
 * of bodies in flight. Sized to what is needed (the announced length, or
 * double for a chunked body, never past max_body), not more. The byte for
 * the terminating NUL is not counted: N bodies of max_body fit a budget of
 * N x max_body. */
static int body_reserve(hookd_h1 *h, size_t need)
{
    hookd_h1_shared *sh = h->sh;
    if (h->body && need <= h->bcap)
        return 0;
    size_t cap = h->bcap ? h->bcap * 2 : 4096, max = sh->cfg->max_body;
    if (cap < need)
        cap = need;
    if (cap > max)
        cap = max;
    if (sh->body_bytes - h->bcap + cap > sh->cfg->max_body_memory)
        return refuse(h, 503, "too many request bodies in flight (max_body_memory)");
    char *b = realloc(h->body, cap + 1);
    if (!b)
        return refuse(h, 503, "out of memory");
    sh->body_bytes += cap - h->bcap;
    h->body = b;
    h->bcap = cap;
    return 0;
}

static void body_free(hookd_h1 *h)
{
    h->sh->body_bytes -= h->bcap;
    free(h->body);
    h->body = NULL;
    h->bcap = 0;
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

void hookd_h1_request(const hookd_h1 *h, hookd_request *req)
{
    /* The URL is the first thing in the buffer. */
    const char *url = origin_form(h->hb.p);
    const char *q = strchr(url, '?');
    memset(req, 0, sizeof *req);
    req->method = h->parser.method;
    req->path = url;
    req->path_len = q ? (size_t)(q - url) : strlen(url);
    for (size_t i = 0; i < h->nh; i++) {
        req->names[i] = h->hb.p + h->hdrs[i].name_off;
        req->values[i] = h->hb.p + h->hdrs[i].val_off;
    }
    req->nheaders = h->nh;
    if (h->event == HOOKD_H1_MESSAGE) {
        req->body = h->body;
        req->body_len = h->blen;
    }
}

static int on_headers_complete(llhttp_t *p)
{
    hookd_h1 *h = H1(p);
    h->in_body = 1;
    if (p->http_major != 1) /* llhttp reads "HTTP/2.0" and others alike */
        return refuse(h, 505, "HTTP version not supported");
    /* One answer per request, in HTTP/1.1: CONNECT is refused and the
     * connection closed; an Upgrade (websocket, h2c) is ignored, as RFC 9110
     * §7.8 allows, so llhttp does not stop at the end of the request. */
    if (h->over_limit)
        return refuse(h, 503, "too many connections");
    if (p->method == HTTP_CONNECT)
        return refuse(h, 405, "CONNECT is not served");
    p->upgrade = 0;
    /* RFC 9112 §6.1: chunked framing in HTTP/1.0 is faulty: answer, then close. */
    h->close_after = p->http_minor == 0 && (p->flags & F_CHUNKED);
    /* Decided now: llhttp reads "Connection" in trailers too. */
    h->close_after |= !llhttp_should_keep_alive(p);
    if (!host_ok(h, p))
        return refuse(h, 400, "Host header missing, repeated or malformed");
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > h->sh->cfg->max_body)
        return refuse(h, 413, "body larger than max_body");
    h->event = HOOKD_H1_HEAD;
    return HPE_PAUSED;
}

int hookd_h1_accept_head(hookd_h1 *h)
{
    const llhttp_t *p = &h->parser;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0 &&
        body_reserve(h, (size_t)p->content_length) != 0)
        return -1;
    const char *expect = h1_header(h, "expect");
    return expect && strcasecmp(expect, "100-continue") == 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    hookd_h1 *h = H1(p);
    size_t max = h->sh->cfg->max_body;
    if (len > max - h->blen)
        return refuse(h, 413, "body larger than max_body");
    if (body_reserve(h, h->blen + len) != 0)
        return -1;
    memcpy(h->body + h->blen, at, len);
    h->blen += len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    hookd_h1 *h = H1(p);
    if (!h->body && on_body(p, "", 0) != 0)
        return -1;
    h->body[h->blen] = '\0';
    /* A "Connection: close" trailer set llhttp's flag too: left there, it
     * would refuse the next pipelined request. */
    if (!h->close_after)
        p->flags &= ~F_CONNECTION_CLOSE;
    h->event = HOOKD_H1_MESSAGE;
    return HPE_PAUSED;
}

hookd_h1_event hookd_h1_execute(hookd_h1 *h, const char *data, size_t len, size_t *used)
{
    if (llhttp_get_errno(&h->parser) == HPE_PAUSED)
        llhttp_resume(&h->parser);
    h->event = HOOKD_H1_MORE;
    h->feed_start = data;
    llhttp_errno_t e = llhttp_execute(&h->parser, data, len);
    const char *at = e == HPE_OK ? data + len : llhttp_get_error_pos(&h->parser);
    if (!at || at < data || at > data + len)
        at = data + len;
    *used = (size_t)(at - data);
    if (at > data)
        h->feed_prev = at[-1];
    if (e == HPE_OK)
        return HOOKD_H1_MORE;
    if (e == HPE_PAUSED)
        return (hookd_h1_event)h->event;
    if (h->status)
        return HOOKD_H1_REFUSE;
    if (e == HPE_INVALID_VERSION) {
        h->status = 505;
        h->why = "HTTP version not supported";
    } else {
        h->status = 400;
        snprintf(h->why_buf, sizeof h->why_buf, "malformed request: %s",
                 llhttp_get_error_reason(&h->parser));
        h->why = h->why_buf;
    }
    return HOOKD_H1_REFUSE;
}

void hookd_h1_trim(hookd_h1 *h)
{
    /* Large buffers are mmapped (see hookd_server_new), so the memory goes
     * back to the system. */
    if (h->bcap > 64 * 1024)
        body_free(h);
}

void hookd_h1_shared_init(hookd_h1_shared *sh, const hookd_config *cfg)
{
    memset(sh, 0, sizeof *sh);
    sh->cfg = cfg;
    llhttp_settings_t *s = &sh->settings;
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

void hookd_h1_init(hookd_h1 *h, hookd_h1_shared *sh)
{
    memset(h, 0, sizeof *h);
    h->sh = sh;
    llhttp_init(&h->parser, HTTP_REQUEST, &sh->settings);
    h->parser.data = h;
}

void hookd_h1_free(hookd_h1 *h)
{
    hookd_buf_free(&h->hb);
    body_free(h);
}

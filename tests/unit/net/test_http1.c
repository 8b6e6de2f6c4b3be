/* Unit tests for core/net/server_http.c, the HTTP/1.1 request parser of a
 * connection: byte strings in, the events it records out (a head, a whole
 * request, a refusal with its status), with no socket, timer or handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/server_http.h"

typedef struct fixture {
    hookd_config cfg;
    hookd_h1_shared sh;
    hookd_h1 h;
    char log[4096]; /* one line per event */
    size_t loglen;
} fixture;

static int setup(void **state)
{
    static fixture f;
    memset(&f, 0, sizeof f);
    f.cfg.max_header = 1024;
    f.cfg.max_body = 64;
    f.cfg.max_body_memory = 1 << 20;
    hookd_h1_shared_init(&f.sh, &f.cfg);
    hookd_h1_init(&f.h, &f.sh);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hookd_h1_free(&f->h);
    assert_int_equal(f->sh.body_bytes, 0); /* every body given back */
    return 0;
}

static void say(fixture *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(f->log + f->loglen, sizeof f->log - f->loglen, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof f->log - f->loglen);
    f->loglen += (size_t)n;
}

/* Acts as the connection does: reads bytes `step` at a time (0: all at
 * once), lets every head through, and logs each event. Stops at a
 * refusal; returns how many bytes were read. */
static size_t drive(fixture *f, const char *data, size_t len, size_t step)
{
    size_t off = 0;
    while (off < len) {
        size_t n = step && step < len - off ? step : len - off;
        const char *p = data + off;
        for (;;) {
            size_t used;
            hookd_h1_event ev = hookd_h1_execute(&f->h, p, n, &used);
            assert_true(used <= n);
            p += used;
            n -= used;
            off += used;
            hookd_request req;
            if (ev == HOOKD_H1_MORE) {
                assert_int_equal(n, 0);
                break;
            }
            if (ev == HOOKD_H1_REFUSE) {
                say(f, "refuse %d %s\n", f->h.status, f->h.why);
                return off;
            }
            hookd_h1_request(&f->h, &req);
            if (ev == HOOKD_H1_HEAD) {
                assert_null(req.body);
                say(f, "head %s %.*s\n", llhttp_method_name(req.method), (int)req.path_len,
                    req.path);
                int r = hookd_h1_accept_head(&f->h);
                if (r < 0) {
                    say(f, "refuse %d %s\n", f->h.status, f->h.why);
                    return off;
                }
                if (r > 0)
                    say(f, "100-continue\n");
            } else {
                assert_int_equal(ev, HOOKD_H1_MESSAGE);
                assert_non_null(req.body);
                assert_int_equal(req.body[req.body_len], '\0');
                say(f, "request %.*s body=%zu:%s%s\n", (int)req.path_len, req.path,
                    req.body_len, req.body, f->h.close_after ? " close" : "");
                hookd_h1_trim(&f->h);
            }
        }
    }
    return off;
}

#define S(lit) lit, sizeof lit - 1

/* Every way of cutting the bytes into reads gives the same events. */
static void expect_events(fixture *f, const char *data, size_t len, const char *want)
{
    static const size_t steps[] = {0, 1, 2, 7};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        hookd_h1_free(&f->h);
        hookd_h1_init(&f->h, &f->sh);
        f->loglen = 0;
        f->log[0] = '\0';
        drive(f, data, len, steps[i]);
        if (strcmp(f->log, want) != 0)
            fail_msg("read %zu at a time:\n%s\nwanted:\n%s", steps[i], f->log, want);
    }
}

static void test_get(void **state)
{
    fixture *f = *state;
    static const char get[] = "GET /hooks/a?x=1 HTTP/1.1\r\nHost: h\r\nX-Thing: One\r\n\r\n";
    assert_int_equal(hookd_h1_execute(&f->h, S(get), &(size_t){0}), HOOKD_H1_HEAD);
    assert_true(f->h.begun);
    hookd_request req;
    hookd_h1_request(&f->h, &req);
    assert_int_equal(req.method, HTTP_GET);
    assert_int_equal(req.path_len, strlen("/hooks/a"));
    assert_memory_equal(req.path, "/hooks/a", req.path_len);
    assert_int_equal(req.nheaders, 2);
    assert_string_equal(req.names[1], "x-thing"); /* names lower case */
    assert_string_equal(req.values[1], "One");
    assert_string_equal(hookd_request_header(&req, "X-THING"), "One");
    assert_null(req.peer);
    assert_int_equal(hookd_h1_accept_head(&f->h), 0);
    /* The request ends with its head: no more bytes are needed to finish it. */
    size_t used = 1;
    assert_int_equal(hookd_h1_execute(&f->h, get + sizeof get - 1, 0, &used), HOOKD_H1_MESSAGE);
    assert_int_equal(used, 0);
    assert_int_equal(hookd_h1_execute(&f->h, get + sizeof get - 1, 0, &used), HOOKD_H1_MORE);

    expect_events(f, S(get), "head GET /hooks/a\nrequest /hooks/a body=0:\n");
    /* The absolute form is read as the origin form. */
    expect_events(f, S("GET http://h:1/p?q HTTP/1.1\r\nHost: h\r\n\r\n"),
                  "head GET /p\nrequest /p body=0:\n");
}

static void test_post_content_length(void **state)
{
    fixture *f = *state;
    static const char post[] = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    expect_events(f, S(post), "head POST /p\nrequest /p body=5:hello\n");
    /* Room for the announced length is taken at the head (4 KiB at least,
     * max_body at most), against the budget all connections share. */
    hookd_h1_free(&f->h);
    hookd_h1_init(&f->h, &f->sh);
    size_t used;
    assert_int_equal(hookd_h1_execute(&f->h, S(post), &used), HOOKD_H1_HEAD);
    assert_int_equal(f->sh.body_bytes, 0);
    assert_int_equal(hookd_h1_accept_head(&f->h), 0);
    assert_int_equal(f->sh.body_bytes, f->cfg.max_body);
}

static void test_chunked(void **state)
{
    fixture *f = *state;
    expect_events(f,
                  S("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: dropped\r\n\r\n"),
                  "head POST /c\nrequest /c body=11:hello world\n");
    /* Chunked framing in HTTP/1.0: answered, then the connection closes. */
    expect_events(f,
                  S("POST /c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "2\r\nhi\r\n0\r\n\r\n"),
                  "head POST /c\nrequest /c body=2:hi close\n");
}

static void test_pipelined(void **state)
{
    fixture *f = *state;
    expect_events(f,
                  S("POST /one HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                    "GET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
                  "head POST /one\nrequest /one body=3:abc\n"
                  "head GET /two\nrequest /two body=0: close\n");
    /* One read, one event at a time: each stops where its request ends. */
    hookd_h1_free(&f->h);
    hookd_h1_init(&f->h, &f->sh);
    static const char two[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t used;
    assert_int_equal(hookd_h1_execute(&f->h, S(two), &used), HOOKD_H1_HEAD);
    assert_int_equal(hookd_h1_accept_head(&f->h), 0);
    const char *p = two + used;
    assert_int_equal(hookd_h1_execute(&f->h, p, (size_t)(two + sizeof two - 1 - p), &used),
                     HOOKD_H1_MESSAGE);
    p += used;
    assert_int_equal(p - two, (sizeof two - 1) / 2);
}

static void test_header_over_max_header(void **state)
{
    fixture *f = *state;
    char big[4096];
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: %01100d\r\n\r\n", 0);
    expect_events(f, big, (size_t)n, "refuse 431 headers larger than max_header\n");
    /* Trailers count too. */
    n = snprintf(big, sizeof big,
                 "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "1\r\na\r\n0\r\nX-Big: %01100d\r\n\r\n", 0);
    expect_events(f, big, (size_t)n,
                  "head POST /\nrefuse 431 headers and trailers larger than max_header\n");
}

static void test_body_over_max_body(void **state)
{
    fixture *f = *state;
    /* Announced: refused at the head, before the connection sees it. */
    expect_events(f, S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n"),
                  "refuse 413 body larger than max_body\n");
    expect_events(f, S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 64\r\n\r\n"),
                  "head POST /\n");
    /* Chunked: refused when the bytes pass it. */
    char big[512];
    int n = snprintf(big, sizeof big,
                     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "40\r\n%064d\r\n1\r\nx\r\n0\r\n\r\n", 0);
    expect_events(f, big, (size_t)n, "head POST /\nrefuse 413 body larger than max_body\n");
}

static void test_body_budget(void **state)
{
    fixture *f = *state;
    f->cfg.max_body_memory = 4;
    expect_events(f, S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"),
                  "head POST /\n"
                  "refuse 503 too many request bodies in flight (max_body_memory)\n");
}

static void test_expect_continue(void **state)
{
    fixture *f = *state;
    expect_events(f,
                  S("POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                    "Content-Length: 2\r\n\r\nok"),
                  "head POST /e\n100-continue\nrequest /e body=2:ok\n");
    expect_events(f, S("POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok"),
                  "head POST /e\nrequest /e body=2:ok\n");
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    hookd_h1_free(&f->h);
    hookd_h1_init(&f->h, &f->sh);
    size_t used;
    assert_int_equal(hookd_h1_execute(&f->h, S("GET/ HTTP/1.1\r\n\r\n"), &used),
                     HOOKD_H1_REFUSE);
    assert_int_equal(f->h.status, 400);
    assert_string_equal(f->h.why, "malformed request: Expected space after method");
    expect_events(f, S("GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
                  "refuse 505 HTTP version not supported\n");
    expect_events(f, S("GET / HTTP/1.1\r\n\r\n"),
                  "refuse 400 Host header missing, repeated or malformed\n");
    expect_events(f, S("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
                  "refuse 400 Host header missing, repeated or malformed\n");
    expect_events(f, S("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n  b\r\n\r\n"),
                  "refuse 400 folded header line (obs-fold)\n");
    expect_events(f, S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
                  "refuse 405 CONNECT is not served\n");
    /* HTTP/1.0 needs no Host. */
    expect_events(f, S("GET / HTTP/1.0\r\n\r\n"), "head GET /\nrequest / body=0: close\n");
}

/* Accepted past max_connections: the first head is refused. */
static void test_over_limit(void **state)
{
    fixture *f = *state;
    f->h.over_limit = 1;
    drive(f, S("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    assert_string_equal(f->log, "refuse 503 too many connections\n");
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_get),
        T(test_post_content_length),
        T(test_chunked),
        T(test_pipelined),
        T(test_header_over_max_header),
        T(test_body_over_max_body),
        T(test_body_budget),
        T(test_expect_continue),
        T(test_malformed),
        T(test_over_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

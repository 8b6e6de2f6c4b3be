/* server: the listeners and HTTP/1.1 connections (libuv + llhttp, optional
 * TLS). Limits and timeouts are enforced here, while bytes arrive. */
#ifndef HOOKD_SERVER_H
#define HOOKD_SERVER_H

#include <stddef.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "config/config.h"
#include "answer.h"

#define HOOKD_MAX_HEADERS 100

typedef struct hookd_request {
    int method;                       /* llhttp_method_t */
    const char *path;                 /* up to '?', not NUL-terminated */
    size_t path_len;
    const char *names[HOOKD_MAX_HEADERS]; /* lower case, NUL-terminated */
    const char *values[HOOKD_MAX_HEADERS];
    size_t nheaders;
    const char *body;                 /* NUL-terminated; body_len bytes */
    size_t body_len;
    const char *peer;                 /* "ip:port" */
} hookd_request;

/* An answer given later: the connection reads nothing more until it comes. */
typedef struct hookd_pending hookd_pending;
#define HOOKD_ANSWER_LATER 1

/* Fills resp and returns 0, or keeps `later` and returns HOOKD_ANSWER_LATER,
 * then calls hookd_server_answer(later, ...) exactly once on the loop thread
 * (the request's memory is valid only during the call). */
typedef int (*hookd_handler_fn)(void *ud, const hookd_request *req, hookd_response *resp,
                                hookd_pending *later);

void hookd_server_answer(hookd_pending *later, const hookd_response *resp);

/* Called when a request's head has been read, before any of its body (and
 * before a 100 Continue): req has no body (body NULL). Returns 0 to read
 * the body and hand the request to the handler, or fills resp with a
 * refusal, which is answered at once and closes the connection. */
typedef int (*hookd_head_fn)(void *ud, const hookd_request *req, hookd_response *resp);

typedef struct hookd_server hookd_server;

/* Binds every server.listen address (port 0 picks a free one; the real
 * address is logged). NULL with a one-line reason in err on failure. */
hookd_server *hookd_server_new(uv_loop_t *loop, const hookd_config *cfg,
                               hookd_handler_fn handler, void *ud, char *err,
                               size_t errlen);

/* Stops accepting; requests in flight are answered, idle connections are
 * closed. `done` runs once every connection is gone (then free the server). */
/* A reload: limits and timeouts from cfg apply to what is read from now on
 * (the listeners and TLS stay as they are). Loop thread; cfg must outlive
 * the server or the next call. */
void hookd_server_set_config(hookd_server *s, const hookd_config *cfg);

/* The head check (same ud as the handler); NULL: none. */
void hookd_server_set_head_check(hookd_server *s, hookd_head_fn check);

/* A renewed certificate: handshakes from now on use ctx (non-NULL); open
 * connections keep the one they started with. Returns the previous context
 * for the caller to free, or ctx itself when the server has no TLS. Loop
 * thread. */
SSL_CTX *hookd_server_swap_tls(hookd_server *s, SSL_CTX *ctx);

void hookd_server_stop(hookd_server *s, void (*done)(void *), void *arg);
void hookd_server_free(hookd_server *s);

size_t hookd_server_connections(const hookd_server *s);

/* Case-insensitive header look-up in a request (names are lower case). */
const char *hookd_request_header(const hookd_request *req, const char *name);

/* "host:port", "[v6]:port" or "localhost:port" (base/hostport's grammar)
 * into an address; 0, -1 when spec is not of the grammar, or a negative
 * libuv error (a host that is not an address). The admin listener shares it. */
int hookd_listen_addr(const char *spec, struct sockaddr_storage *ss);

#endif

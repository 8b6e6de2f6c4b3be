/* server_http: the HTTP/1.1 request parser of a connection, around llhttp.
 * It gathers the request line and headers under max_header and the body
 * under max_body (and the shared max_body_memory), refuses what HTTP/1.1
 * forbids or hookd bounds, and records what happened; it writes nothing
 * and knows no socket, timer or handler. The connection (server.c) acts on
 * each event after the parser returns, as h2o's connection code does
 * around its parser. */
#ifndef HOOKD_SERVER_HTTP_H
#define HOOKD_SERVER_HTTP_H

#include "common/buf.h"

#include <llhttp.h>
#include <stdint.h>

#include "server.h"

/* Shared by every connection of a server. */
typedef struct hookd_h1_shared {
    llhttp_settings_t settings;
    const hookd_config *cfg; /* max_header, max_body, max_body_memory; a reload swaps it */
    size_t body_bytes;       /* held by all connections' bodies (cfg->max_body_memory) */
} hookd_h1_shared;

typedef struct hookd_h1_hdr {
    size_t name_off, val_off;
} hookd_h1_hdr;

typedef struct hookd_h1 {
    llhttp_t parser;
    hookd_h1_shared *sh;
    int over_limit;     /* set by the connection: refuse 503 at the first head */
    /* recorded while parsing, for the connection to act on */
    int begun;          /* a request's first byte was read (cleared by the reader) */
    int in_body;        /* the current request's head is read */
    int close_after;    /* close after the answer: asked for, or HTTP/1.0 chunked framing */
    int status;         /* the refusal (HOOKD_H1_REFUSE) */
    const char *why;
    char why_buf[160];
    int64_t t0_us;      /* when the request's first byte was read (metrics) */
    int event;          /* the pause's event */
    /* the request being read */
    hookd_buf hb;       /* the head: the URL, then each name and value, NUL-separated */
    size_t hbytes;
    hookd_h1_hdr hdrs[HOOKD_MAX_HEADERS];
    size_t nh;
    int hstate;         /* 0 between headers, 1 in a name, 2 in a value */
    char *body;
    size_t blen, bcap;
    const char *feed_start; /* the bytes llhttp is reading now ... */
    char feed_prev;         /* ... and the last byte of the previous ones */
} hookd_h1;

typedef enum hookd_h1_event {
    HOOKD_H1_MORE = 0, /* every byte was read; more are needed */
    HOOKD_H1_HEAD,     /* a request's head is read: check it, then hookd_h1_accept_head */
    HOOKD_H1_MESSAGE,  /* a whole request is read: answer it (hookd_h1_request) */
    HOOKD_H1_REFUSE,   /* stopped: answer status and why, then close */
} hookd_h1_event;

void hookd_h1_shared_init(hookd_h1_shared *sh, const hookd_config *cfg);
void hookd_h1_init(hookd_h1 *h, hookd_h1_shared *sh);
void hookd_h1_free(hookd_h1 *h);

/* Parses from where the last event stopped, until an event; *used tells
 * how many of the len bytes were read (the rest is for the next call,
 * which may be given no bytes: a paused parser has work left). */
hookd_h1_event hookd_h1_execute(hookd_h1 *h, const char *data, size_t len, size_t *used);

/* The request as read so far (at HOOKD_H1_HEAD: no body, body NULL). Valid
 * until the next hookd_h1_execute; peer is left NULL. */
void hookd_h1_request(const hookd_h1 *h, hookd_request *req);

/* After HOOKD_H1_HEAD passed the connection's checks: makes room for an
 * announced body. 1: the sender waits for "100 Continue"; 0: go on; -1:
 * refused (status, why). */
int hookd_h1_accept_head(hookd_h1 *h);

/* After an answer that keeps the connection: gives back what a large body
 * made the connection hold. */
void hookd_h1_trim(hookd_h1 *h);

#endif

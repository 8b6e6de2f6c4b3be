/* server_conn: what server.c (listeners, connections, writing, closing,
 * TLS, timeouts) and server_http.c (the llhttp callbacks: limits, header
 * rules, the request handed to the handler) share. Private to the two. */
#ifndef HOOKD_SERVER_CONN_H
#define HOOKD_SERVER_CONN_H

#include <llhttp.h>
#include <time.h>

#include "server.h"
#include "tls.h"

enum { PH_IDLE = 0, PH_HEADERS, PH_BODY, PH_WAIT };

typedef struct hdr {
    size_t name_off, val_off;
} hdr;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    struct hookd_server *srv;
    struct conn *prev, *next;
    llhttp_t parser;
    hookd_tls tls;
    int use_tls;
    int phase;
    int closing;        /* read no more; close when the writes are out */
    int handles;        /* libuv handles still open */
    int writes;         /* uv_write requests in flight */
    int waiting;        /* the handler answers later; bytes read meanwhile are stashed */
    int keep_alive;     /* of the request being answered */
    int over_limit;     /* accepted past max_connections (TLS): 503 at its first head */
    int close_after;    /* close after the answer: asked for, or HTTP/1.0 chunked framing */
    int read_paused;    /* too much stashed, or answers not taken */
    int wblocked;       /* reading stopped because the peer does not take answers */
    int abandon;        /* close without waiting for queued answers */
    int linger;         /* refused mid-request: read on after the answer ... */
    int lingering;      /* ... discarding, so the close sends no reset */
    size_t lingered;
    uint64_t wblocked_at; /* loop ms when it began */
    int eof;            /* the peer half-closed while a request waited */
    char *stash;        /* bytes read behind a request that waits */
    size_t stash_len;
    int reject;         /* status chosen by a callback that stopped the parser */
    const char *reject_why;
    /* the request being read */
    char *hbuf;
    size_t hlen, hcap, hbytes;
    size_t url_off;
    hdr hdrs[HOOKD_MAX_HEADERS];
    size_t nh;
    int hstate;         /* 0 between headers, 1 in a name, 2 in a value */
    char *body;
    size_t blen, bcap;
    /* answers not yet written */
    char *out;
    size_t olen, ocap;
    const char *feed_start; /* the bytes llhttp is reading now ... */
    char feed_prev;         /* ... and the last byte of the previous ones */
    char peer[64];
    int64_t t0_us;          /* the request's first byte (metrics); 0: none */
} conn;

typedef struct listener {
    uv_tcp_t tcp;
    struct hookd_server *srv;
} listener;

struct hookd_server {
    uv_loop_t *loop;
    const hookd_config *cfg;
    hookd_handler_fn handler;
    hookd_head_fn head_check;
    void *ud;
    size_t body_bytes;     /* held by all connections' bodies (cfg->max_body_memory) */
    SSL_CTX *tls;
    listener *ls;
    size_t nls, ls_open;
    conn *conns;
    size_t nconns;
    uint64_t accept_failures;   /* since the last line logged */
    uint64_t accept_logged_at;  /* loop ms */
    unsigned long nofile;       /* RLIMIT_NOFILE at start; 0: unlimited */
    int stopping;
    void (*done)(void *);
    void *done_arg;
    llhttp_settings_t settings;
    char plain[64 * 1024]; /* decrypted bytes, consumed before the next read */
    char readbuf[64 * 1024];
    int reading;           /* readbuf is lent to libuv */
    time_t date_at;
    char date[40];
};

/* server_http.c: a connection's body buffer, counted in srv->body_bytes. */
void hookd_conn_body_free(conn *c);

/* server.c */
void hookd_conn_answer(conn *c, const hookd_response *r);
void hookd_conn_refuse(conn *c, int status, const char *why);
int hookd_conn_reserve(conn *c, size_t more);
void hookd_conn_flush(conn *c);
void hookd_conn_arm(conn *c, int64_t ms);
void hookd_conn_close(conn *c);

/* server_http.c */
void hookd_http_settings(llhttp_settings_t *s);
/* Parses bytes read (stashing them while a request waits for its answer). */
void hookd_conn_feed(conn *c, const char *data, size_t len);
/* Writes the answer of the request just parsed; -1 when the connection closes. */
int hookd_conn_finish(conn *c, hookd_response *resp);

#endif

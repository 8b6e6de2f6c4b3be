/* server_conn: the structures of server.c (listeners, connections,
 * writing, closing, TLS, timeouts); each connection holds its HTTP/1.1
 * parser (server_http.h), whose events server.c acts on. */
#ifndef HOOKD_SERVER_CONN_H
#define HOOKD_SERVER_CONN_H

#include <time.h>

#include "common/buf.h"
#include "server.h"
#include "server_http.h"
#include "tls.h"

enum { PH_IDLE = 0, PH_HEADERS, PH_BODY, PH_WAIT };

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    struct hookd_server *srv;
    struct conn *prev, *next;
    hookd_h1 h1;
    hookd_tls tls;
    int use_tls;
    int phase;
    int closing;        /* read no more; close when the writes are out */
    int handles;        /* libuv handles still open */
    int writes;         /* uv_write requests in flight */
    int waiting;        /* the handler answers later; bytes read meanwhile are stashed */
    int keep_alive;     /* of the request being answered */
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
    /* answers not yet written */
    hookd_buf out;  /* answers not yet written */
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
    hookd_h1_shared h1;    /* the parsers' settings, limits and body budget */
    char plain[64 * 1024]; /* decrypted bytes, consumed before the next read */
    char readbuf[64 * 1024];
    int reading;           /* readbuf is lent to libuv */
    time_t date_at;
    char date[40];
};

#endif

/* daemon: the state `hookd run` keeps, shared by daemon.c (start, signals,
 * drain) and reload.c (SIGHUP). Not for other folders. */
#ifndef HOOKD_DAEMON_PRIV_H
#define HOOKD_DAEMON_PRIV_H

#include <pthread.h>
#include <uv.h>

#include "config/config.h"
#include "ctct/ctct.h"
#include "deliver/dispatch.h"
#include "deliver/runtime.h"
#include "ingest/enrich.h"
#include "ingest/receive.h"
#include "net/admin.h"
#include "net/server.h"
#include "net/tls.h"
#include "spool/spool.h"

typedef struct daemon_state {
    /* What hookd_daemon_run opened, in order; teardown() closes in reverse
     * whatever is set. */
    uv_loop_t loop;
    int loop_open;
    hookd_ctct_cfg ctct_cfg;  /* the client's own copy: a reload keeps it */
    hookd_dispatch *disp;
    hookd_ctct *ctct;
    hookd_enricher *enricher;
    hookd_spool *spool;
    hookd_receiver recv;
    hookd_server *server;
    hookd_admin *admin;
    int watching;             /* the signal and async handles below are open */

    const char *config_path;  /* -c, or NULL: searched again on reload */
    hookd_runtime *rt;        /* the current configuration; the daemon's reference */
    int64_t drain_ms;         /* the longest of every configuration run so far */
    uv_signal_t sigterm, sigint, sighup;
    int stopping;
    /* Runtimes whose last reference is gone (a worker may drop it): freed on
     * the loop thread, where plugins' destroy() must run. */
    uv_async_t reap;
    pthread_mutex_t reap_lock;
    hookd_runtime *dead;      /* under reap_lock */
    int reap_closed;          /* under reap_lock: after that main frees them */

    /* reload.c. SIGHUP builds the new runtime on a thread of its own: a
     * plugin's init may block (a database that does not answer), the loop
     * never does. */
    uv_async_t built;
    pthread_t builder;
    int building;             /* loop only: a build runs */
    int build_again;          /* loop only: SIGHUP came during a build */
    int server_stopped;       /* loop only: the reload handles are closing */
    hookd_runtime *new_rt;    /* the builder's result, read once it has ended */
    char build_err[1024];
    /* A renewed certificate is read by the builder too (new handshakes use
     * it, open connections keep theirs); TLS on or off needs a restart. */
    int tls;                  /* set at start: the webhook listeners use TLS */
    SSL_CTX *new_tls;         /* the builder's, or NULL with tls_err */
    hookd_tls_cert_info new_tls_info;
    char tls_err[512];
} daemon_state;

/* reload.c: what every configuration sets, the first and each reloaded
 * one; daemon.c calls it, never the other way round. */

/* How long running deliveries may take to end under cfg. */
int64_t hookd_daemon_drain_ms(const hookd_config *cfg);

/* The certificate new handshakes use: the gauge and the log follow it. */
void hookd_daemon_tls_in_use(const hookd_tls_cert_info *info, const char *prefix);

/* Tells the service manager the daemon is ready, with cfg's counts. */
void hookd_daemon_notify_ready(const hookd_config *cfg);

/* Starts watching SIGHUP: each one reloads the configuration. */
void hookd_daemon_reload_watch(daemon_state *d);

/* The server has stopped: closes the reload handles (the builder's once it
 * has ended). */
void hookd_daemon_reload_close(daemon_state *d);

#endif

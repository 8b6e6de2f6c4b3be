/* admin: the admin listener (docs/DESIGN.md §4 `admin: { listen: ... }`): GET
 * /healthz, /readyz and /metrics over plain HTTP/1.1, on the loop thread,
 * and the console and its API (console.h, docs/DESIGN.md §12). Keep-alive,
 * bounded: a few requests per connection, small heads and bodies, and
 * connections idle past a few seconds close. */
#ifndef HOOKD_ADMIN_H
#define HOOKD_ADMIN_H

#include <stddef.h>
#include <uv.h>

#include "deliver/dispatch.h"
#include "deliver/runtime.h"
#include "server.h"
#include "spool/spool.h"

typedef struct hookd_admin_deps {
    const hookd_runtime *rt;   /* plugins initialised; cfg->admin_listen, spool_path */
    hookd_spool *spool;        /* writable? (may be NULL in tests) */
    hookd_dispatch *dispatch;  /* pending deliveries (may be NULL) */
    hookd_server *server;      /* open connections (may be NULL) */
} hookd_admin_deps;

typedef struct hookd_admin hookd_admin;

#define HOOKD_ADMIN_MAX_CONNECTIONS 64 /* past it the oldest unanswered one is closed */
#define HOOKD_ADMIN_MAX_REQUEST 8192     /* the request line and headers */
#define HOOKD_ADMIN_MAX_BODY (64 * 1024) /* 413 past it */
#define HOOKD_ADMIN_TIMEOUT_MS 3000      /* to read a connection's first request */
#define HOOKD_ADMIN_KEEPALIVE_MS 10000   /* to read each next one */
#define HOOKD_ADMIN_MAX_REQUESTS 100     /* per connection */

/* Listens on deps->rt->cfg->admin_listen and logs "admin listening on
 * http://IP:PORT" (and where the console is). NULL with a one-line reason in
 * err on failure. */
hookd_admin *hookd_admin_new(uv_loop_t *loop, const hookd_admin_deps *deps, char *err,
                             size_t errlen);

/* A reload: readiness and the spool gauge read rt from now on. Loop thread;
 * rt must outlive the admin or the next call. NULL a is ignored. */
void hookd_admin_set_runtime(hookd_admin *a, const hookd_runtime *rt);

/* Closes the listener and every admin connection (handles close through the
 * loop). /readyz answers 503 from here on. NULL is ignored. */
void hookd_admin_stop(hookd_admin *a);

/* After the loop has closed the handles (uv_run returned). NULL is ignored. */
void hookd_admin_free(hookd_admin *a);

#endif

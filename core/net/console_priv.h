/* console_priv: what console.c (the files and the rules) and console_api.c
 * (the routes of /api/v1) share. */
#ifndef HOOKD_CONSOLE_PRIV_H
#define HOOKD_CONSOLE_PRIV_H

#include <jansson.h>
#include <openssl/sha.h>

#include "console.h"
#include "console_view.h"

/* On every console and API answer (docs/DESIGN.md §12; no cookies ever). */
#define HOOKD_CONSOLE_HEADERS                                                          \
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; " \
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "    \
    "frame-ancestors 'none'\r\n"                                                       \
    "X-Content-Type-Options: nosniff\r\n"                                              \
    "Referrer-Policy: no-referrer\r\n"
#define HOOKD_JSON_TYPE "application/json; charset=utf-8"
#define HOOKD_API_MAX_BODY (64 * 1024) /* a POST's JSON body */

struct hookd_console {
    uv_loop_t *loop;
    const hookd_config *cfg;   /* loop thread only (a reload replaces it) */
    hookd_console_view *view;  /* its copy for the thread pool (a reload makes a new one) */
    hookd_spool *spool;        /* for the spool's routes (may be NULL) */
    int has_token;
    unsigned char token_sha[SHA256_DIGEST_LENGTH]; /* never the token itself */
    int open;                  /* no token: served only on a loopback listener */
    char *dir;                 /* admin.console_dir, or NULL: the embedded files */
    int64_t started_ms;        /* Unix ms, for stats.started_at */
    size_t working;            /* answers given later, not yet come */
};

/* /api/v1/...: the route table (console_api.c). Same returns as
 * hookd_console_handle but never NOT_MINE (an unknown path is a JSON 404).
 * body is the POST's parsed JSON object, or NULL. */
int hookd_api_dispatch(hookd_console *c, const hookd_console_req *req, json_t *body,
                       hookd_console_answer *ans, hookd_console_done_fn done, void *ctx);

/* ans as a JSON answer: the console's headers, no-store; takes j. */
void hookd_api_answer(hookd_console_answer *ans, int status, json_t *j, const char *extra);
/* ans as {"error": msg}. */
void hookd_api_error(hookd_console_answer *ans, int status, const char *msg, const char *extra);

#endif

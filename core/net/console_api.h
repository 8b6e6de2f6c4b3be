/* console_api: the routes of /api/v1 (docs/DESIGN.md §12) and what a
 * handler gets. A route runs on the loop thread (it must not block) or,
 * marked off_loop, on libuv's thread pool (blocking spool reads) and is
 * answered on the loop when it returns. The table is in console_api.c; a
 * handler may live in a file of its own (say console_spool.c, declared in
 * a header the router includes) and use the helpers of console_util.c. */
#ifndef HOOKD_CONSOLE_API_H
#define HOOKD_CONSOLE_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "console_view.h"

typedef struct hookd_api_call {
    hookd_console *console;
    hookd_spool *spool;     /* the console's spool (may be NULL) */
    const char *query;      /* after '?', NUL-terminated ("" when none) */
    char id[128];           /* the {id} segment of the route, "" when none */
    json_t *body;           /* a POST's JSON object (borrowed), else NULL */
    hookd_console_view *view; /* what any thread may read of the configuration */
    int64_t started_ms;     /* this process's start, Unix ms */
    /* On the loop thread only (an off_loop handler must not read them: a
     * reload may free the configuration meanwhile): */
    const hookd_config *cfg;
} hookd_api_call;

/* Returns the status and sets *out to the answer (an object; for an error
 * use hookd_api_fail). */
typedef int (*hookd_api_fn)(const hookd_api_call *call, json_t **out);

typedef struct hookd_api_route {
    int method;             /* HTTP_GET or HTTP_POST (HEAD is answered as GET) */
    const char *pattern;    /* "/api/v1/events/{id}/replay": {id} is one segment */
    int off_loop;           /* 1: runs on the thread pool */
    hookd_api_fn fn;
} hookd_api_route;

/* A query parameter, percent-decoded into out: 1 found, 0 absent, -1 bad
 * (too long for cap, a bad escape, or a NUL). */
int hookd_api_param(const hookd_api_call *call, const char *name, char *out, size_t cap);
/* A limit= parameter: def when absent, clamped to 1..max; -1 when it is not
 * digits. */
int hookd_api_limit(const hookd_api_call *call, int def, int max);
/* *out = {"error": msg}; returns status. */
int hookd_api_fail(json_t **out, int status, const char *msg);
/* Unix ms as "2026-12-06T19:00:00.000Z" (a JSON string), or null when ms < 0. */
json_t *hookd_api_time(int64_t ms);

#endif

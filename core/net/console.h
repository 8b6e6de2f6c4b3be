/* console: the admin console and its JSON API on the admin listener
 * (docs/DESIGN.md §12): the page's three files (embedded, or read from
 * admin.console_dir), the rules every request passes (the bearer token, the
 * loopback rule, POST's content type and Sec-Fetch-Site), the security
 * headers, and /api/v1/... (console_api.c). The admin listener (admin.c)
 * reads the requests and writes the answers; this decides them. */
#ifndef HOOKD_CONSOLE_H
#define HOOKD_CONSOLE_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "spool/spool.h"

typedef struct hookd_console hookd_console;

/* One request as the admin listener read it (the memory is the caller's,
 * valid during hookd_console_handle only). */
typedef struct hookd_console_req {
    int method;                    /* llhttp_method_t */
    const char *path;              /* up to '?' (not NUL-terminated) */
    size_t path_len;
    const char *query;             /* after '?' (not NUL-terminated); "" when none */
    size_t query_len;
    const char *authorization;     /* the header values, NULL when absent */
    const char *content_type;
    const char *sec_fetch_site;
    const char *host;
    const char *body;              /* body_len bytes */
    size_t body_len;
} hookd_console_req;

/* An answer for the admin listener to write (then free body). */
typedef struct hookd_console_answer {
    int status;
    const char *ctype;
    char headers[768];             /* extra lines, each ending "\r\n" */
    char *body;                    /* malloc'd, body_len bytes; NULL when empty */
    size_t body_len;
} hookd_console_answer;

/* Called once on the loop thread with an answer given later (ans->body is
 * the callee's to free). */
typedef void (*hookd_console_done_fn)(void *ctx, hookd_console_answer *ans);

#define HOOKD_CONSOLE_NOT_MINE (-1) /* not a console path: the listener answers */
#define HOOKD_CONSOLE_LATER 1

/* The console of an admin listener bound at `bound` (its URL `url`, e.g.
 * "http://127.0.0.1:9090/", for the start-up line); reads admin.token,
 * admin.console and admin.console_dir of cfg (a reload does not change
 * them). Logs where the console is, or why it answers 403. NULL when
 * admin.console is false (everything is then NOT_MINE) or out of memory
 * (err says which: empty when off). */
hookd_console *hookd_console_new(uv_loop_t *loop, const hookd_config *cfg, hookd_spool *spool,
                                 const struct sockaddr *bound, const char *url, char *err,
                                 size_t errlen);

/* A reload: cfg (for the stats' node and driver) is read from now on. Loop
 * thread; cfg must outlive the console or the next call. */
void hookd_console_set_config(hookd_console *c, const hookd_config *cfg);

/* Decides a request (loop thread): HOOKD_CONSOLE_NOT_MINE, 0 with ans
 * filled, or HOOKD_CONSOLE_LATER: done(ctx, ans) follows on the loop
 * thread (a handler that blocks runs on libuv's thread pool meanwhile).
 * c NULL: NOT_MINE. */
int hookd_console_handle(hookd_console *c, const hookd_console_req *req,
                         hookd_console_answer *ans, hookd_console_done_fn done, void *ctx);

/* After every answer given later has come (the loop has returned). */
void hookd_console_free(hookd_console *c);

/* Whether an address is loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). */
int hookd_console_is_loopback(const struct sockaddr *sa);

#endif

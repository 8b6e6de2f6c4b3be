/* console_view: what the API's handlers on the thread pool may read. The
 * configuration belongs to the loop thread (a reload frees it), so the
 * loop copies what the handlers need into a view: how to open the spool,
 * this node's name, the plugin instances, which kept headers to mask; and
 * the view keeps the spool handles the handlers reuse (one connection per
 * handle, one handler at a time on each). Reference-counted: a reload makes
 * a new view, handlers in flight finish with theirs. */
#ifndef HOOKD_CONSOLE_VIEW_H
#define HOOKD_CONSOLE_VIEW_H

#include <stddef.h>

#include "config/config.h"
#include "spool/spool_query.h"

typedef struct hookd_console_view hookd_console_view;

/* Loop thread. NULL when out of memory. */
hookd_console_view *hookd_console_view_new(const hookd_config *cfg);
hookd_console_view *hookd_console_view_ref(hookd_console_view *v);
void hookd_console_view_unref(hookd_console_view *v); /* any thread */

const char *hookd_console_view_node(const hookd_console_view *v);
const char *hookd_console_view_driver(const hookd_console_view *v);
size_t hookd_console_view_ninstances(const hookd_console_view *v);
const char *hookd_console_view_instance(const hookd_console_view *v, size_t i,
                                        const char **use);

/* A handle on the spool: an idle one of this view, or a new connection
 * (writable ones are never kept). 0, or a negative errno with err. */
int hookd_console_view_spool(hookd_console_view *v, int writable, hookd_spool_q **q, char *err,
                             size_t errlen);
/* Gives it back after use: kept for the next handler when it worked
 * (broken: closed, so the next one connects afresh). */
void hookd_console_view_release(hookd_console_view *v, hookd_spool_q *q, int writable,
                                int broken);

/* 1 when a kept header's value is a credential or a signature and must
 * not be shown: Authorization and cookies, every scheme's signature header,
 * each source's configured hmac header, and any name that says key, token,
 * secret, password, signature or sig. */
int hookd_console_view_masked(const hookd_console_view *v, const char *name);

#endif

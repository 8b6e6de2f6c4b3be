/* receive: what a complete request goes through — source by path, Basic
 * credentials, signature on the raw bytes, JSON, event type — and what it
 * becomes: an event handed to the dispatcher. */
#ifndef HOOKD_RECEIVE_H
#define HOOKD_RECEIVE_H

#include "deliver/dispatch.h"
#include "deliver/runtime.h"
#include "net/server.h"
#include "spool/spool.h"

typedef struct hookd_receiver {
    hookd_runtime *rt;          /* the current one; a reload swaps it (loop thread) */
    hookd_dispatch *dispatch;
    hookd_spool *spool;
    size_t queue_max;           /* deliveries pending + appends waiting: 503 beyond */
    int64_t (*clock_s)(void);   /* Unix seconds; tests may fix it */
} hookd_receiver;

/* A hookd_handler_fn; ud is a hookd_receiver. An accepted event is answered
 * once the spool has committed it. */
int hookd_receive(void *ud, const hookd_request *req, hookd_response *resp,
                  hookd_pending *later);

/* A hookd_head_fn: the same first checks on the head alone (source, method,
 * Basic) and the presence of a signature header, so that a request refused
 * anyway is refused before its body is read. */
int hookd_receive_head(void *ud, const hookd_request *req, hookd_response *resp);

#endif

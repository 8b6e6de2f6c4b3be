/* dispatch: the bounded worker pool that calls plugins' deliver(). The loop
 * thread only enqueues; plugin code never runs on it. */
#ifndef HOOKD_DISPATCH_H
#define HOOKD_DISPATCH_H

#include <stddef.h>

#include "event.h"
#include "runtime.h"

typedef struct hookd_dispatch hookd_dispatch;

hookd_dispatch *hookd_dispatch_new(int workers, size_t queue_max);

/* Queues one delivery of ev to each of insts[0..n): all of them or none.
 * Returns 0, or -EAGAIN when the queue has no room for n more. */
int hookd_dispatch_submit(hookd_dispatch *d, hookd_ev *ev, hookd_instance *const *insts,
                          size_t n);

size_t hookd_dispatch_pending(hookd_dispatch *d);

/* Lets queued and running deliveries end, then joins the workers. */
void hookd_dispatch_free(hookd_dispatch *d);

#endif

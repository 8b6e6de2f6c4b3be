/* enrich: the dispatcher's enricher for sources with `enrich: ctct-plan`.
 * The event gets {"ctct":{"account_id":..,"plan":{..}}}; when the plan cannot
 * be had for good (a refused url, a 404) {"ctct":{"account_id":..,"error":..}}
 * and its deliveries run without it; a 5xx or a timeout retries the delivery. */
#ifndef HOOKD_ENRICH_H
#define HOOKD_ENRICH_H

#include <stddef.h>
#include <stdint.h>

#include "ctct/ctct.h"
#include "deliver/event.h"
#include "spool/spool.h"

typedef struct hookd_enricher hookd_enricher;

/* ctct may be NULL (every enrichment then fails, noted in the event). The
 * spool may come later: the writer thread can hand out work before
 * hookd_spool_open returns. */
hookd_enricher *hookd_enricher_new(hookd_ctct *ctct, hookd_spool *spool);
void hookd_enricher_set_spool(hookd_enricher *en, hookd_spool *spool);
void hookd_enricher_free(hookd_enricher *en);

/* A hookd_enrich_fn; ud is the hookd_enricher. */
int hookd_enrich_ctct(void *ud, hookd_ev *ev, int64_t deadline_ms, int64_t *retry_after_ms,
                      char *why, size_t whylen);

#endif

/* enrich: Constant Contact plan details attached to an event before its
 * deliveries run (docs/DESIGN.md §8). Runs on a worker thread through the
 * dispatcher's enricher hook; the result is kept in the spool with the event,
 * so a retry or a restart does not fetch it again. */
#include "enrich.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct hookd_enricher {
    hookd_ctct *ctct;
    _Atomic(hookd_spool *) spool;   /* set once the spool is open */
};

hookd_enricher *hookd_enricher_new(hookd_ctct *ctct, hookd_spool *spool)
{
    hookd_enricher *en = calloc(1, sizeof *en);
    if (en) {
        en->ctct = ctct;
        atomic_init(&en->spool, spool);
    }
    return en;
}

void hookd_enricher_set_spool(hookd_enricher *en, hookd_spool *spool)
{
    atomic_store(&en->spool, spool);
}

void hookd_enricher_free(hookd_enricher *en) { free(en); }

int hookd_enrich_ctct(void *ud, hookd_ev *ev, int64_t deadline_ms, int64_t *retry_after_ms,
                      char *why, size_t whylen)
{
    hookd_enricher *en = ud;
    const char *url = json_string_value(json_object_get(ev->json, "url"));
    char account[HOOKD_CTCT_ID_MAX + 1];
    char reason[200] = "";
    json_t *ctct = json_object(), *plan = NULL;
    if (!ctct) {
        snprintf(why, whylen, "out of memory");
        return HOOKD_RETRY;
    }
    if (url && hookd_ctct_account_id(url, account, sizeof account) == 0)
        json_object_set_new(ctct, "account_id", json_string(account));

    int rc = HOOKD_CTCT_FAIL;
    if (!url)
        snprintf(reason, sizeof reason, "the body has no \"url\" to read the plan from");
    else if (!en->ctct)
        snprintf(reason, sizeof reason, "no ctct: block configured");
    else
        rc = hookd_ctct_fetch_plan(en->ctct, url, deadline_ms, &plan, retry_after_ms, reason,
                                   sizeof reason);
    if (rc == HOOKD_CTCT_RETRY) {
        json_decref(ctct);
        snprintf(why, whylen, "%s", reason);
        return HOOKD_RETRY;
    }
    hookd_logctx ctx = {.event = ev->id, .source = ev->source};
    if (rc == HOOKD_CTCT_OK) {
        json_object_set_new(ctct, "plan", plan);
        hookd_logx(HOOKD_LOG_DEBUG, &ctx, "enriched with the account's plan");
    } else {
        /* Settled for good: the plugins run without the plan, and can see why. */
        json_object_set_new(ctct, "error", json_string(reason));
        hookd_logx(HOOKD_LOG_WARN, &ctx, "enrichment failed: %s; delivering without it",
                   reason);
    }
    json_t *e = json_object();
    if (!e || json_object_set_new(e, "ctct", ctct) != 0) {
        json_decref(e);
        snprintf(why, whylen, "out of memory");
        return HOOKD_RETRY;
    }
    hookd_ev_set_enrichment(ev, e);
    hookd_spool *sp = atomic_load(&en->spool);
    if (sp) /* else fetched again after a restart */
        hookd_spool_enriched(sp, ev);
    return HOOKD_OK;
}

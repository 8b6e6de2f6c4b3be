/* spool_pg_housekeep: what the PostgreSQL driver does between commits, once
 * a second (HOOKD_SPOOL_HOUSEKEEP_MS): renews the leases of the deliveries
 * this node holds (every lease / 3), releases leases that passed (a node
 * that died), claims due deliveries nobody holds into the dispatcher, and
 * deletes events past retention in batches. */
#include "spool_pg.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "spool_pg_claim.h"

#define PURGE_BATCH 500

static void renew(hookd_pg *pg, int64_t now)
{
    if (now < pg->next_renew)
        return;
    pg->next_renew = now + pg->lease_ms / 3;
    if (!pg->nheld)
        return;
    int64_t *ids = malloc(pg->nheld * sizeof *ids), *toks = malloc(pg->nheld * sizeof *toks);
    size_t n = 0;
    for (size_t i = 0; ids && toks && i < pg->cap; i++)
        if (pg->held[i].id) {
            ids[n] = pg->held[i].id;
            toks[n++] = pg->held[i].token;
        }
    char why[256];
    long got = n ? hookd_pg_renew(pg->c, ids, toks, n, now + pg->lease_ms, why, sizeof why) : 0;
    if (got < 0)
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where, why);
    else if ((size_t)got < n)
        /* Their results will not be written (hookd_lease_lost_total). */
        hookd_log(HOOKD_LOG_WARN, "spool %s: %zu deliveries held here passed their lease "
                  "before it was renewed; another node may run them", pg->where,
                  n - (size_t)got);
    free(ids);
    free(toks);
}

/* Gives up one claimed row: released (dead NULL) or dead-lettered. */
static void let_go(hookd_pg *pg, const hookd_pg_claimed *c, const char *dead, int64_t now)
{
    char id[24], tok[24], nw[24];
    snprintf(id, sizeof id, "%" PRId64, c->id);
    snprintf(tok, sizeof tok, "%" PRId64, c->token);
    snprintf(nw, sizeof nw, "%" PRId64, now);
    const char *p[4] = {id, tok, nw, dead};
    PGresult *r = PQexecParams(
        pg->c,
        dead ? "UPDATE hookd_deliveries SET state = 'dead', updated_at = $3, reason = $4,"
               " claim = NULL, lease_until = NULL WHERE id = $1 AND claim = $2"
             : "UPDATE hookd_deliveries SET claim = NULL, lease_until = NULL, node = NULL"
               " WHERE id = $1 AND claim = $2 AND $3::bigint > 0",
        dead ? 4 : 3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        hookd_pg_note(pg, "giving back a delivery", r);
    PQclear(r);
}

static void claim(hookd_pg *pg, hookd_runtime *rt, hookd_dispatch *d, int64_t now)
{
    size_t busy = hookd_dispatch_ready(d), max = rt->cfg->queue_max;
    if (busy >= max)
        return;
    size_t room = max - busy;
    if (room > 1000)
        room = 1000; /* one batch; the next pass takes more */
    hookd_pg_claimed *v;
    size_t n;
    char why[256];
    if (hookd_pg_claim(pg->c, hookd_pg_token(), pg->node, now, pg->lease_ms, (int)room, &v, &n,
                       why, sizeof why) < 0) {
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where, why);
        return;
    }
    size_t dead = 0;
    hookd_ev *ev = NULL;
    const char *ev_id = NULL;
    for (size_t i = 0; i < n; i++) {
        hookd_pg_claimed *c = &v[i];
        hookd_instance *in = hookd_runtime_instance(rt, c->plugin);
        if (!in) {
            char reason[256];
            snprintf(reason, sizeof reason, "no plugin instance \"%s\" in the configuration",
                     c->plugin);
            let_go(pg, c, reason, now);
            dead++;
            continue;
        }
        if (!ev_id || strcmp(ev_id, c->event_id) != 0) {
            hookd_ev_unref(ev);
            ev = hookd_ev_restore(c->event_id, c->source, c->type, c->received_at,
                                  (const char *)c->body, c->body_len, (const char *)c->headers,
                                  c->headers_len);
            if (ev)
                hookd_runtime_restore_enrichment(rt, ev, (const char *)c->enrichment,
                                                 c->enrichment_len);
            ev_id = c->event_id;
        }
        if (!ev || hookd_pg_held_put(pg, c->id, c->token) < 0 ||
            hookd_dispatch_submit(d, ev, in, c->id, c->attempts, c->round_start, c->next_at) != 0) {
            hookd_pg_held_drop(pg, c->id);
            let_go(pg, c, NULL, now); /* the next pass (here or elsewhere) tries again */
        }
    }
    hookd_ev_unref(ev);
    if (n)
        hookd_log(HOOKD_LOG_INFO, "spool %s: claimed %zu due deliveries%s", pg->where, n - dead,
                  dead ? " (some name a plugin instance no longer configured: dead-lettered)"
                       : "");
    hookd_pg_claimed_free(v, n);
}

/* Events past retention whose deliveries all succeeded (their deliveries
 * and attempts go with them: ON DELETE CASCADE), and dedup keys past every
 * source's window; one node at a time, a batch per pass. */
static void purge(hookd_pg *pg, const hookd_runtime *rt, int64_t now)
{
    int64_t max_window_ms = 0;
    for (size_t i = 0; i < rt->cfg->nsources; i++) {
        const hookd_source_cfg *src = &rt->cfg->sources[i];
        if (src->dedup != HOOKD_DEDUP_NONE && src->dedup_window_ms > max_window_ms)
            max_window_ms = src->dedup_window_ms;
    }
    char before[24], keys_before[24], sql[640];
    snprintf(before, sizeof before, "%" PRId64, now - rt->cfg->spool_retention_ms);
    snprintf(keys_before, sizeof keys_before, "%" PRId64,
             max_window_ms > 0 ? now - max_window_ms : INT64_MIN);
    snprintf(sql, sizeof sql,
             "WITH l AS (SELECT pg_try_advisory_xact_lock(%lld) AS got),"
             " e AS (DELETE FROM hookd_events WHERE (SELECT got FROM l) AND seq IN"
             " (SELECT x.seq FROM hookd_events x WHERE x.received_at < $1 AND NOT EXISTS"
             " (SELECT 1 FROM hookd_deliveries d WHERE d.event = x.seq AND d.state <> 'delivered')"
             " ORDER BY x.received_at LIMIT %d) RETURNING 1),"
             " k AS (DELETE FROM hookd_dedup WHERE (SELECT got FROM l) AND ctid IN"
             " (SELECT ctid FROM hookd_dedup WHERE at < $2 LIMIT %d) RETURNING 1)"
             " SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM k)",
             HOOKD_PG_LOCK_HOUSEKEEP + 1, PURGE_BATCH, PURGE_BATCH);
    const char *p[2] = {before, keys_before};
    PGresult *r = PQexecParams(pg->c, sql, 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (n > 0)
            hookd_log(HOOKD_LOG_DEBUG, "spool %s: purged %ld delivered events past retention",
                      pg->where, n);
    } else {
        hookd_pg_note(pg, "retention", r);
    }
    PQclear(r);
}

int hookd_pg_housekeep(void *db, hookd_runtime *rt, hookd_dispatch *d)
{
    hookd_pg *pg = db;
    if (hookd_pg_ready(pg) < 0)
        return HOOKD_SPOOL_UNREACHABLE; /* nothing is claimed until it is back */
    int64_t now = hookd_now_ms();
    renew(pg, now);
    char why[256];
    long freed = hookd_pg_release_expired(pg->c, now, why, sizeof why);
    if (freed < 0)
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where, why);
    else if (freed > 0)
        hookd_log(HOOKD_LOG_INFO, "spool %s: %ld leases passed (a node stopped or died): "
                  "their deliveries go back to the pool", pg->where, freed);
    claim(pg, rt, d, now);
    purge(pg, rt, now);
    /* A server that went away shows here first when no request comes. */
    return PQstatus(pg->c) == CONNECTION_OK ? HOOKD_SPOOL_OK : HOOKD_SPOOL_UNREACHABLE;
}

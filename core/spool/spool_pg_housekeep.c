/* spool_pg_housekeep: what the PostgreSQL driver does besides commits.
 *
 * On the writer thread, between commits, once a second
 * (HOOKD_SPOOL_HOUSEKEEP_MS): renews the leases of the deliveries this node
 * holds (every lease / 3) and releases leases that passed (a node that
 * died; hookd_leases_expired_total). Both write rows the commits write
 * too: on the writer's connection they never wait for (or deadlock with)
 * this node's own commits, and they are quick.
 *
 * On a thread of its own, with a connection of its own: LISTEN hookd_due;
 * claims due deliveries nobody holds into the dispatcher, within tens of
 * ms of a notification and once a second anyway (the backstop); deletes
 * events past retention in batches. Claims read bodies and retention
 * deletes: neither delays a commit. */
#include "spool_pg.h"

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "spool_pg_claim.h"
#include "spool_pg_schema.h"

#define PURGE_BATCH 500
/* The least time between two claims that notifications ask for: a burst
 * of them (a replay, many released retries) is one claim, not one each. */
#define CLAIM_GAP_MS 20

/* ---------- on the writer thread ---------- */

static void renew(hookd_pg *pg, int64_t now)
{
    if (now < pg->next_renew)
        return;
    pg->next_renew = now + pg->lease_ms / 3;
    int64_t *ids, *toks;
    /* A claim the other thread adds meanwhile has a fresh lease: the next
     * renewal takes it. Only this thread drops rows: none goes missing. */
    size_t n = hookd_pg_held_copy(pg, &ids, &toks);
    char why[256];
    long got = n ? hookd_pg_renew(pg->w.c, ids, toks, n, now + pg->lease_ms, why, sizeof why)
                 : 0;
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

/* Leases that passed (a node stopped or died) go back to the pool, and the
 * other nodes hear of it (NOTIFY); one node at a time does it. */
static void release_expired(hookd_pg *pg, int64_t now)
{
    char why[256];
    long freed = hookd_pg_release_expired(pg->w.c, now, why, sizeof why);
    if (freed < 0) {
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where, why);
        return;
    }
    if (freed == 0)
        return;
    hookd_metrics_leases_expired((uint64_t)freed);
    hookd_log(HOOKD_LOG_INFO, "spool %s: %ld leases passed (a node stopped or died): "
              "their deliveries go back to the pool", pg->where, freed);
    PGresult *r = PQexec(pg->w.c, "NOTIFY " HOOKD_PG_CHANNEL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        hookd_pg_note(pg, "notifying", r);
    PQclear(r);
}

int hookd_pg_housekeep(void *db, hookd_runtime *rt, hookd_dispatch *d)
{
    hookd_pg *pg = db;
    /* The configuration of this moment, for the claims (a reload swaps it). */
    pthread_mutex_lock(&pg->lock);
    hookd_runtime *old = pg->rt;
    pg->rt = hookd_runtime_ref(rt);
    pg->d = d;
    pthread_mutex_unlock(&pg->lock);
    if (old)
        hookd_runtime_unref(old);
    else if (write(pg->wake[1], "", 1) < 0) /* the first: the thread can start */
        hookd_log(HOOKD_LOG_DEBUG, "spool %s: waking the housekeeping thread failed",
                  pg->where);
    /* Connected again between commits, so the next append need not fail. */
    int ok = hookd_pg_link_ready(pg, &pg->w) == 0;
    atomic_store(&pg->writer_ok, ok);
    if (!ok)
        return HOOKD_SPOOL_UNREACHABLE; /* nothing is claimed until it is back */
    int64_t now = hookd_now_ms();
    renew(pg, now);
    release_expired(pg, now);
    /* A server that went away shows here first when no request comes; a
     * connection cut by itself (pg_terminate_backend) is opened again at
     * once, so the node stays ready. */
    if (PQstatus(pg->w.c) != CONNECTION_OK) {
        hookd_pg_link_drop(&pg->w);
        ok = hookd_pg_link_ready(pg, &pg->w) == 0;
        atomic_store(&pg->writer_ok, ok);
    }
    return ok ? HOOKD_SPOOL_OK : HOOKD_SPOOL_UNREACHABLE;
}

/* ---------- on the housekeeping thread ---------- */

/* Gives up one claimed row: released (dead NULL) or dead-lettered. */
static void let_go(hookd_pg *pg, const hookd_pg_claimed *c, const char *dead, int64_t now)
{
    char id[24], tok[24], nw[24];
    snprintf(id, sizeof id, "%" PRId64, c->id);
    snprintf(tok, sizeof tok, "%" PRId64, c->token);
    snprintf(nw, sizeof nw, "%" PRId64, now);
    const char *p[4] = {id, tok, nw, dead};
    PGresult *r = PQexecParams(
        pg->k.c,
        dead ? "UPDATE hookd_deliveries SET state = 'dead', updated_at = $3, reason = $4,"
               " claim = NULL, lease_until = NULL WHERE id = $1 AND claim = $2"
             : "UPDATE hookd_deliveries SET claim = NULL, lease_until = NULL, node = NULL"
               " WHERE id = $1 AND claim = $2 AND $3::bigint > 0",
        dead ? 4 : 3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char why[256];
        hookd_pg_why(why, sizeof why, "giving back a delivery", pg->k.c, r);
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where, why);
    }
    PQclear(r);
}

static void claim(hookd_pg *pg, hookd_runtime *rt, hookd_dispatch *d, int64_t now)
{
    /* Results could not be written: nothing more is taken until they can. */
    if (!atomic_load(&pg->writer_ok))
        return;
    size_t busy = hookd_dispatch_ready(d), max = rt->cfg->queue_max;
    if (busy >= max)
        return;
    size_t room = max - busy;
    if (room > 1000)
        room = 1000; /* one batch; the next pass takes more */
    hookd_pg_claimed *v;
    size_t n;
    char why[256];
    if (hookd_pg_claim(pg->k.c, hookd_pg_token(), pg->node, now, pg->lease_ms, (int)room, &v, &n,
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
            hookd_pg_held_drop(pg, c->id, c->token);
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

/* Events past retention whose deliveries all succeeded, with their
 * deliveries and attempts (no foreign key cascades: the statement deletes
 * all three, so no row is left naming a deleted one), and dedup keys past
 * every source's window; one node at a time, a batch per pass. */
static void purge(hookd_pg *pg, const hookd_runtime *rt, int64_t now)
{
    int64_t max_window_ms = 0;
    for (size_t i = 0; i < rt->cfg->nsources; i++) {
        const hookd_source_cfg *src = &rt->cfg->sources[i];
        if (src->dedup != HOOKD_DEDUP_NONE && src->dedup_window_ms > max_window_ms)
            max_window_ms = src->dedup_window_ms;
    }
    char before[24], keys_before[24], sql[1024];
    snprintf(before, sizeof before, "%" PRId64, now - rt->cfg->spool_retention_ms);
    snprintf(keys_before, sizeof keys_before, "%" PRId64,
             max_window_ms > 0 ? now - max_window_ms : INT64_MIN);
    snprintf(sql, sizeof sql,
             "WITH l AS (SELECT pg_try_advisory_xact_lock(%lld) AS got),"
             " e AS (DELETE FROM hookd_events WHERE (SELECT got FROM l) AND seq IN"
             " (SELECT x.seq FROM hookd_events x WHERE x.received_at < $1 AND NOT EXISTS"
             " (SELECT 1 FROM hookd_deliveries d WHERE d.event = x.seq AND d.state <> 'delivered')"
             " ORDER BY x.received_at LIMIT %d) RETURNING seq),"
             " d AS (DELETE FROM hookd_deliveries WHERE event IN (SELECT seq FROM e) RETURNING id),"
             " a AS (DELETE FROM hookd_attempts WHERE delivery IN (SELECT id FROM d) RETURNING 1),"
             " k AS (DELETE FROM hookd_dedup WHERE (SELECT got FROM l) AND ctid IN"
             " (SELECT ctid FROM hookd_dedup WHERE at < $2 LIMIT %d) RETURNING 1)"
             " SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM a), (SELECT count(*) FROM k)",
             HOOKD_PG_LOCK_HOUSEKEEP + 1, PURGE_BATCH, PURGE_BATCH);
    const char *p[2] = {before, keys_before};
    PGresult *r = PQexecParams(pg->k.c, sql, 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (n > 0)
            hookd_log(HOOKD_LOG_DEBUG, "spool %s: purged %ld delivered events past retention",
                      pg->where, n);
    } else {
        char why[256];
        hookd_pg_why(why, sizeof why, "retention", pg->k.c, r);
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where, why);
    }
    PQclear(r);
}

/* Whether a notification came (they may have arrived during any query). */
static int notified(hookd_pg *pg)
{
    int got = 0;
    PGnotify *n;
    while ((n = PQnotifies(pg->k.c)) != NULL) {
        got = 1;
        PQfreemem(n);
    }
    return got;
}

/* Waits up to ms for a notification or close(); 1 when one came. */
static int wait_for(hookd_pg *pg, int64_t ms, int up)
{
    if (ms < 0)
        ms = 0;
    if (ms > HOOKD_SPOOL_HOUSEKEEP_MS)
        ms = HOOKD_SPOOL_HOUSEKEEP_MS;
    struct pollfd f[2] = {{.fd = pg->wake[0], .events = POLLIN},
                          {.fd = up ? PQsocket(pg->k.c) : -1, .events = POLLIN}};
    if (poll(f, 2, (int)ms) <= 0)
        return 0;
    char buf[16];
    if (f[0].revents)
        while (read(pg->wake[0], buf, sizeof buf) > 0)
            ;
    if (!up || !f[1].revents)
        return 0;
    if (!PQconsumeInput(pg->k.c)) {
        char why[256];
        hookd_pg_why(why, sizeof why, "listening", pg->k.c, NULL);
        hookd_log(HOOKD_LOG_WARN, "spool %s: housekeeping connection: %s", pg->where, why);
        hookd_pg_link_drop(&pg->k); /* connected again, and LISTEN again, next time */
        return 0;
    }
    return notified(pg);
}

/* A new housekeeping connection: LISTEN, and plain index scans for its
 * session. A claim's due rows are few among many entries that rows
 * already delivered left in the due index until a vacuum; a plain index
 * scan marks those dead as it passes, so the next pass skips them, where
 * a bitmap scan (the planner's pick while the statistics say the due set
 * is small) visited them all again every pass. */
static int listen_due(hookd_pg *pg)
{
    PGresult *r = PQexec(pg->k.c, "SET enable_bitmapscan = off; LISTEN " HOOKD_PG_CHANNEL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        char why[256];
        hookd_pg_why(why, sizeof why, "LISTEN", pg->k.c, r);
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where, why);
        hookd_pg_link_drop(&pg->k);
    }
    PQclear(r);
    return ok ? 0 : -1;
}

static void *keeper(void *arg)
{
    hookd_pg *pg = arg;
    int64_t next_pass = 0, next_claim = INT64_MAX, last_claim = INT64_MIN / 2; /* monotonic */
    while (!atomic_load(&pg->stop)) {
        pthread_mutex_lock(&pg->lock);
        hookd_runtime *rt = pg->rt ? hookd_runtime_ref(pg->rt) : NULL;
        hookd_dispatch *d = pg->d;
        pthread_mutex_unlock(&pg->lock);
        /* Nothing until the writer's first housekeep handed the runtime. */
        int was_up = pg->k.c && PQstatus(pg->k.c) == CONNECTION_OK;
        int up = rt && hookd_pg_link_ready(pg, &pg->k) == 0 && (was_up || listen_due(pg) == 0);
        int64_t mono = hookd_monotonic_ms();
        if (up && (mono >= next_pass || mono >= next_claim)) {
            int64_t now = hookd_now_ms();
            claim(pg, rt, d, now);
            if (mono >= next_pass) {
                purge(pg, rt, now);
                next_pass = mono + HOOKD_SPOOL_HOUSEKEEP_MS;
            }
            next_claim = INT64_MAX;
            last_claim = mono;
        }
        if (rt)
            hookd_runtime_unref(rt);
        up = up && PQstatus(pg->k.c) == CONNECTION_OK;
        mono = hookd_monotonic_ms();
        int64_t until = up ? (next_pass < next_claim ? next_pass : next_claim) : mono + 100;
        if ((up && notified(pg)) || wait_for(pg, until - mono, up)) {
            /* Soon, not at once: what else is on its way joins this claim. */
            int64_t at = last_claim + CLAIM_GAP_MS;
            if (next_claim == INT64_MAX)
                next_claim = at > mono ? at : mono;
        }
    }
    return NULL;
}

int hookd_pg_keeper_start(hookd_pg *pg)
{
    if (pipe(pg->wake) < 0)
        return -1;
    fcntl(pg->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(pg->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(pg->wake[1], F_SETFD, FD_CLOEXEC);
    atomic_init(&pg->stop, 0);
    if (pthread_create(&pg->thread, NULL, keeper, pg) != 0) {
        close(pg->wake[0]);
        close(pg->wake[1]);
        pg->wake[0] = pg->wake[1] = -1;
        return -1;
    }
    pthread_setname_np(pg->thread, "hookd-pgkeep");
    pg->started = 1;
    return 0;
}

void hookd_pg_keeper_stop(hookd_pg *pg)
{
    if (!pg->started)
        return;
    atomic_store(&pg->stop, 1);
    if (write(pg->wake[1], "", 1) < 0) {
        /* The poll's timeout ends the wait within a second anyway. */
    }
    pthread_join(pg->thread, NULL);
    pg->started = 0;
    close(pg->wake[0]);
    close(pg->wake[1]);
    pg->wake[0] = pg->wake[1] = -1;
}

/* Gives back what this node holds, so other nodes need not wait for the
 * leases to end: a lease ending now, and a NOTIFY with it so that idle
 * nodes take them at once. */
void hookd_pg_give_back(hookd_pg *pg)
{
    int64_t *ids, *toks;
    size_t n = hookd_pg_held_copy(pg, &ids, &toks);
    if (!n || !pg->w.c || PQstatus(pg->w.c) != CONNECTION_OK) {
        free(ids);
        free(toks);
        return;
    }
    char why[256] = "";
    PGresult *r = PQexec(pg->w.c, "BEGIN");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok && hookd_pg_renew(pg->w.c, ids, toks, n, 0, why, sizeof why) < 0)
        ok = 0;
    if (ok) {
        r = PQexec(pg->w.c, "NOTIFY " HOOKD_PG_CHANNEL "; COMMIT");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            hookd_pg_why(why, sizeof why, "giving back deliveries", pg->w.c, r);
        PQclear(r);
    }
    if (!ok) {
        PQclear(PQexec(pg->w.c, "ROLLBACK"));
        hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where,
                  why[0] ? why : "giving back deliveries failed");
    }
    free(ids);
    free(toks);
}

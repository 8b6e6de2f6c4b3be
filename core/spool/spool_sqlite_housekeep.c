/* spool_sqlite_housekeep: what the SQLite driver does between commits, once
 * a second (HOOKD_SPOOL_HOUSEKEEP_MS): takes pending deliveries nobody holds
 * (a previous run's, released retries, or replayed ones) into the
 * dispatcher, and purges events past retention. */
#include "spool_sqlite.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"

#define PURGE_BATCH 500

/* ---------- recovery: pending deliveries nobody holds ---------- */

static int64_t data_version(hookd_sqlite *sq)
{
    sqlite3_stmt *s = sq->st[S_VERSION];
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    return v;
}

void hookd_sqlite_poll(hookd_sqlite *sq, hookd_runtime *rt, hookd_dispatch *d)
{
    /* Like intake: retries waiting in memory are bounded per instance
     * (HOOKD_RETRIES_IN_MEMORY) and must not hold up what is due here. */
    size_t busy = hookd_dispatch_ready(d);
    size_t max = rt->cfg->queue_max;
    if (busy >= max) {
        sq->backlog = 1;
        return;
    }
    /* Another connection (hookd replay) commits: data_version moves. */
    int64_t v = data_version(sq);
    int64_t now = hookd_now_ms();
    if (sq->polled && !sq->backlog && v == sq->version && now < sq->next_due)
        return;
    sq->version = v;
    if (exec(sq, "BEGIN IMMEDIATE") != SQLITE_OK)
        return;
    size_t limit = max - busy, taken = 0, dead = 0;
    sqlite3_stmt *s = sq->st[S_POLL];
    sqlite3_bind_int64(s, 1, sq->run);
    sqlite3_bind_int64(s, 2, (int64_t)limit);
    /* What is due by the next pass; later ones wait in the spool, not in memory. */
    sqlite3_bind_int64(s, 3, now + HOOKD_SPOOL_HOUSEKEEP_MS);
    hookd_ev *ev = NULL;
    int64_t ev_seq = -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        const char *plugin = (const char *)sqlite3_column_text(s, 1);
        hookd_instance *in = hookd_runtime_instance(rt, plugin);
        taken++;
        if (!in) {
            char why[256];
            snprintf(why, sizeof why, "no plugin instance \"%s\" in the configuration", plugin);
            sqlite3_stmt *o = sq->st[S_ORPHAN];
            sqlite3_bind_int64(o, 1, now);
            bind_text(o, 2, why);
            sqlite3_bind_int64(o, 3, id);
            step_done(o);
            dead++;
            continue;
        }
        int64_t seq = sqlite3_column_int64(s, 5);
        if (seq != ev_seq) {
            hookd_ev_unref(ev);
            ev = hookd_ev_restore((const char *)sqlite3_column_text(s, 6),
                                  (const char *)sqlite3_column_text(s, 7),
                                  (const char *)sqlite3_column_text(s, 8),
                                  sqlite3_column_int64(s, 9),
                                  sqlite3_column_blob(s, 10),
                                  (size_t)sqlite3_column_bytes(s, 10),
                                  sqlite3_column_blob(s, 11),
                                  (size_t)sqlite3_column_bytes(s, 11));
            if (ev)
                hookd_runtime_restore_enrichment(rt, ev, sqlite3_column_blob(s, 12),
                                   (size_t)sqlite3_column_bytes(s, 12));
            ev_seq = seq;
        }
        if (!ev || hookd_dispatch_submit(d, ev, in, id, sqlite3_column_int(s, 2),
                                         sqlite3_column_int(s, 3),
                                         sqlite3_column_int64(s, 4)) != 0)
            continue; /* left unclaimed: the next poll tries again */
        sqlite3_stmt *c = sq->st[S_CLAIM];
        sqlite3_bind_int64(c, 1, sq->run);
        sqlite3_bind_int64(c, 2, id);
        step_done(c);
    }
    sqlite3_reset(s);
    hookd_ev_unref(ev);
    if (exec(sq, "COMMIT") != SQLITE_OK) {
        rollback(sq);
        return;
    }
    sq->version = data_version(sq);
    sq->backlog = taken == limit;
    sqlite3_stmt *nd = sq->st[S_NEXT_DUE];
    sqlite3_bind_int64(nd, 1, sq->run);
    sq->next_due = sqlite3_step(nd) == SQLITE_ROW && sqlite3_column_type(nd, 0) != SQLITE_NULL
                       ? sqlite3_column_int64(nd, 0)
                       : INT64_MAX;
    sqlite3_reset(nd);
    if (taken > 0 || !sq->polled)
        hookd_log(taken ? HOOKD_LOG_INFO : HOOKD_LOG_DEBUG,
                  "spool: took %zu pending deliveries%s%s", taken - dead,
                  dead ? " (some name a plugin instance no longer configured: dead-lettered)"
                       : "",
                  sq->backlog ? "; more wait in the spool" : "");
    sq->polled = 1;
}

/* ---------- retention ---------- */

void hookd_sqlite_purge(hookd_sqlite *sq, const hookd_runtime *rt)
{
    int64_t max_window_ms = 0; /* the longest dedup window of any source */
    for (size_t i = 0; i < rt->cfg->nsources; i++) {
        const hookd_source_cfg *src = &rt->cfg->sources[i];
        if (src->dedup != HOOKD_DEDUP_NONE && src->dedup_window_ms > max_window_ms)
            max_window_ms = src->dedup_window_ms;
    }
    int64_t now = hookd_now_ms();
    if (exec(sq, "BEGIN IMMEDIATE") != SQLITE_OK)
        return;
    sqlite3_stmt *s = sq->st[S_OLD];
    sqlite3_bind_int64(s, 1, now - rt->cfg->spool_retention_ms);
    sqlite3_bind_int(s, 2, PURGE_BATCH);
    int64_t seqs[PURGE_BATCH];
    int n = 0, rc = SQLITE_OK;
    while (n < PURGE_BATCH && sqlite3_step(s) == SQLITE_ROW)
        seqs[n++] = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    static const int del[] = {S_DEL_ATTEMPTS, S_DEL_DELIVERIES, S_DEL_EVENT};
    for (int i = 0; i < n && rc == SQLITE_OK; i++)
        for (size_t k = 0; k < sizeof del / sizeof del[0] && rc == SQLITE_OK; k++) {
            sqlite3_bind_int64(sq->st[del[k]], 1, seqs[i]);
            rc = step_done(sq->st[del[k]]);
        }
    if (rc == SQLITE_OK && max_window_ms > 0) {
        s = sq->st[S_DEDUP_OLD];
        sqlite3_bind_int64(s, 1, now - max_window_ms);
        sqlite3_bind_int(s, 2, PURGE_BATCH);
        rc = step_done(s);
    }
    if (rc == SQLITE_OK && exec(sq, "COMMIT") == SQLITE_OK) {
        if (n > 0)
            hookd_log(HOOKD_LOG_DEBUG, "spool: purged %d delivered events past retention", n);
        return;
    }
    rollback(sq);
}

/* spool_pg: the PostgreSQL driver of the spool (spool_driver.h), the
 * cluster mode of docs/DESIGN.md §11. Several nodes share one database: the
 * schema is spool_pg_schema.c's, claims and results under a token
 * spool_pg_claim.c's; spool_pg_housekeep.c renews leases, claims due
 * deliveries and applies retention. This first cut sends each statement
 * on its own (no pipeline mode) over one connection of the writer thread,
 * and has no LISTEN/NOTIFY: the once-a-second housekeep finds what fell
 * due or was released. */
#include "spool_pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "common/text.h"
#include "spool_pg_claim.h"
#include "spool_pg_schema.h"

/* Runs one statement with text parameters (NULL: SQL NULL) and bytea ones
 * where lens[i] > 0 or bin[i] is set. The result, or NULL with detail set. */
static PGresult *q(hookd_pg *pg, const char *what, const char *sql, int n,
                   const char *const *p, const int *lens, const int *fmts, ExecStatusType want)
{
    PGresult *r = PQexecParams(pg->c, sql, n, NULL, p, lens, fmts, 0);
    if (r && PQresultStatus(r) == want)
        return r;
    hookd_pg_note(pg, what, r);
    PQclear(r);
    return NULL;
}

static int run(hookd_pg *pg, const char *sql)
{
    PGresult *r = q(pg, sql, sql, 0, NULL, NULL, NULL, PGRES_COMMAND_OK);
    PQclear(r);
    return r ? 0 : -1;
}

/* ---------- the group commit ---------- */

#define I64(buf, v) (snprintf(buf, sizeof buf, "%" PRId64, (int64_t)(v)), buf)

/* Changes to the held set, applied once the transaction committed. */
typedef struct change {
    int64_t id, token; /* token 0: drop */
} change;

typedef struct changes {
    change *v;
    size_t n, cap;
    int lost;          /* results not written: the lease had passed */
} changes;

static int note_change(changes *ch, int64_t id, int64_t token)
{
    if (ch->n == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 64;
        change *v = realloc(ch->v, cap * sizeof *v);
        if (!v)
            return -1;
        ch->v = v;
        ch->cap = cap;
    }
    ch->v[ch->n++] = (change){id, token};
    return 0;
}

/* The dedup key: 1 a new key (or an old one replaced), 0 a duplicate
 * (first_id set), -1 on error. Two nodes inserting one key serialise on
 * the primary key: the second waits, then reads the first's row. */
static int dedup(hookd_pg *pg, hookd_append *a)
{
    hookd_ev *ev = a->ev;
    char at[24], old_at[24];
    I64(at, ev->pub.received_at_ms);
    for (int tries = 0; tries < 3; tries++) {
        const char *p[4] = {ev->source, a->key, ev->id, at};
        PGresult *r = q(pg, "storing a dedup key",
                        "INSERT INTO hookd_dedup(source, key, event, at) VALUES($1,$2,$3,$4)"
                        " ON CONFLICT (source, key) DO NOTHING RETURNING 1",
                        4, p, NULL, NULL, PGRES_TUPLES_OK);
        if (!r)
            return -1;
        int stored = PQntuples(r) == 1;
        PQclear(r);
        if (stored)
            return 1;
        r = q(pg, "reading a dedup key",
              "SELECT event, at FROM hookd_dedup WHERE source = $1 AND key = $2", 2, p, NULL,
              NULL, PGRES_TUPLES_OK);
        if (!r)
            return -1;
        if (PQntuples(r) == 0) { /* retention took it meanwhile: insert again */
            PQclear(r);
            continue;
        }
        int64_t first_at = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        if (first_at >= ev->pub.received_at_ms - a->window_ms) {
            snprintf(a->first_id, sizeof a->first_id, "%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            return 0;
        }
        snprintf(old_at, sizeof old_at, "%s", PQgetvalue(r, 0, 1));
        PQclear(r);
        /* Outside the window: replaced only if still the row read. */
        const char *u[5] = {ev->source, a->key, ev->id, at, old_at};
        r = q(pg, "replacing a dedup key",
              "UPDATE hookd_dedup SET event = $3, at = $4"
              " WHERE source = $1 AND key = $2 AND at = $5",
              5, u, NULL, NULL, PGRES_COMMAND_OK);
        if (!r)
            return -1;
        int replaced = strtol(PQcmdTuples(r), NULL, 10) == 1;
        PQclear(r);
        if (replaced)
            return 1;
    }
    hookd_say(pg->detail, sizeof pg->detail, "dedup key of %s changed under three tries",
              ev->source);
    return -1;
}

static int store(hookd_pg *pg, hookd_append *a, int64_t now, changes *ch)
{
    hookd_ev *ev = a->ev;
    if (a->has_key) {
        int d = dedup(pg, a);
        if (d < 0)
            return -1;
        if (d == 0) {
            a->result = HOOKD_SPOOL_DUPLICATE;
            return 0;
        }
    }
    char rcv[24], seq[24], nw[24], tok[24], until[24];
    const char *p[6] = {ev->id, ev->source, ev->type, I64(rcv, ev->pub.received_at_ms),
                        (const char *)ev->body, (const char *)ev->hstore};
    int lens[6] = {0, 0, 0, 0, (int)ev->pub.body_len, (int)ev->hsize};
    int fmts[6] = {0, 0, 0, 0, 1, 1};
    if (!p[4])
        p[4] = "";
    if (!p[5])
        p[5] = "";
    PGresult *r = q(pg, "storing an event",
                    "INSERT INTO hookd_events(id, source, type, received_at, body, headers)"
                    " VALUES($1,$2,$3,$4,$5,$6) RETURNING seq",
                    6, p, lens, fmts, PGRES_TUPLES_OK);
    if (!r)
        return -1;
    snprintf(seq, sizeof seq, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    /* Inserted already claimed by this node: it delivers them from memory. */
    I64(nw, now);
    I64(tok, pg->token);
    I64(until, now + pg->lease_ms);
    for (size_t i = 0; i < a->nto; i++) {
        const char *d[7] = {seq, a->to[i]->cfg->name, rcv, nw, tok, until, pg->node};
        r = q(pg, "storing a delivery",
              "INSERT INTO hookd_deliveries(event, plugin, state, next_at, updated_at, claim,"
              " lease_until, node) VALUES($1,$2,'pending',$3,$4,$5,$6,$7) RETURNING id",
              7, d, NULL, NULL, PGRES_TUPLES_OK);
        if (!r)
            return -1;
        a->delivery[i] = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (note_change(ch, a->delivery[i], pg->token) < 0)
            return -1;
    }
    a->result = HOOKD_SPOOL_STORED;
    return 0;
}

static const char *result_text(int r)
{
    return r == HOOKD_OK ? "ok" : r == HOOKD_RETRY ? "retry" : "fail";
}

static int record(hookd_pg *pg, const hookd_spool_rec *rc, int64_t now, changes *ch)
{
    const hookd_attempt *a = &rc->a;
    if (rc->json) {
        const char *p[2] = {rc->id, rc->json};
        int lens[2] = {0, (int)strlen(rc->json)}, fmts[2] = {0, 1};
        PGresult *r = q(pg, "storing an enrichment",
                        "UPDATE hookd_events SET enrichment = $2 WHERE id = $1", 2, p, lens,
                        fmts, PGRES_COMMAND_OK);
        PQclear(r);
        return r ? 0 : -1;
    }
    int64_t token = hookd_pg_held_get(pg, a->delivery);
    int done = 0;
    if (token) {
        char err[256];
        done = hookd_pg_finish(pg->c, a->delivery, token, a->state, a->n, a->next_at, now,
                               rc->reason, pg->node, a->started_at, a->duration_ms,
                               result_text(a->result), err, sizeof err);
        if (done < 0) {
            hookd_say(pg->detail, sizeof pg->detail, "%s", err);
            return -1;
        }
    }
    if (!done) { /* the lease passed: another node may hold the delivery */
        ch->lost++;
        return note_change(ch, a->delivery, 0);
    }
    if (strcmp(a->state, "pending") == 0 && !a->released) {
        /* A retry the dispatcher keeps in memory: still this node's, so
         * claimed again at once (hookd_pg_finish let it go). */
        char id[24], tok[24], until[24];
        const char *p[4] = {I64(id, a->delivery), I64(tok, token),
                            I64(until, now + pg->lease_ms), pg->node};
        PGresult *r = q(pg, "keeping a retry",
                        "UPDATE hookd_deliveries SET claim = $2, lease_until = $3, node = $4"
                        " WHERE id = $1 AND claim IS NULL AND state = 'pending'",
                        4, p, NULL, NULL, PGRES_COMMAND_OK);
        PQclear(r);
        return r ? 0 : -1;
    }
    return note_change(ch, a->delivery, 0);
}

static int pg_commit(void *db, hookd_append *apps, hookd_spool_rec *recs, int64_t now,
                     const char **why)
{
    hookd_pg *pg = db;
    if (hookd_pg_ready(pg) < 0) {
        *why = "PostgreSQL unreachable";
        return HOOKD_SPOOL_UNREACHABLE;
    }
    changes ch = {0};
    int rc = run(pg, "BEGIN");
    for (hookd_append *a = apps; a && rc == 0; a = a->next)
        rc = store(pg, a, now, &ch);
    for (hookd_spool_rec *r = recs; r && rc == 0; r = r->next)
        rc = record(pg, r, now, &ch);
    if (rc == 0)
        rc = run(pg, "COMMIT");
    if (rc == 0) {
        for (size_t i = 0; i < ch.n; i++)
            if (!ch.v[i].token)
                hookd_pg_held_drop(pg, ch.v[i].id);
            else if (hookd_pg_held_put(pg, ch.v[i].id, ch.v[i].token) < 0)
                /* Not renewed: its lease ends and another node delivers it too. */
                hookd_log(HOOKD_LOG_WARN, "spool %s: out of memory: delivery %" PRId64
                          " will not be renewed", pg->where, ch.v[i].id);
        for (int i = 0; i < ch.lost; i++)
            hookd_metrics_lease_lost();
        free(ch.v);
        return HOOKD_SPOOL_OK;
    }
    free(ch.v);
    if (PQstatus(pg->c) == CONNECTION_OK)
        PQclear(PQexec(pg->c, "ROLLBACK"));
    if (PQstatus(pg->c) == CONNECTION_OK) {
        *why = "commit failed";
        return HOOKD_SPOOL_FAILED;
    }
    *why = "PostgreSQL unreachable";
    return HOOKD_SPOOL_UNREACHABLE;
}

/* ---------- open and close ---------- */

static void pg_free(hookd_pg *pg)
{
    PQfinish(pg->c);
    if (pg->conninfo) /* it holds a password */
        memset(pg->conninfo, 0, strlen(pg->conninfo));
    free(pg->conninfo);
    free(pg->node);
    free(pg->held);
    free(pg);
}

static void *pg_open(const hookd_spool_open_args *args, char *err, size_t errlen)
{
    const hookd_config *cfg = args->cfg;
    if (!cfg->spool_conninfo) {
        snprintf(err, errlen, "spool: spool.conninfo is not set");
        return NULL;
    }
    hookd_pg *pg = calloc(1, sizeof *pg);
    if (!pg || !(pg->conninfo = strdup(cfg->spool_conninfo)) ||
        !(pg->node = strdup(cfg->spool_node ? cfg->spool_node : "hookd"))) {
        snprintf(err, errlen, "spool: out of memory");
        if (pg)
            pg_free(pg);
        return NULL;
    }
    pg->lease_ms = cfg->spool_lease_ms > 0 ? cfg->spool_lease_ms : 30000;
    pg->token = hookd_pg_token();
    pg->c = hookd_pg_connect(pg->conninfo);
    if (PQstatus(pg->c) != CONNECTION_OK) {
        /* libpq's words name the host and port, never the password. */
        hookd_say(err, errlen, "spool: cannot connect to PostgreSQL: %s",
                  PQerrorMessage(pg->c));
        hookd_one_line(err);
        pg_free(pg);
        return NULL;
    }
    const char *host = PQhost(pg->c), *dbname = PQdb(pg->c);
    snprintf(pg->where, sizeof pg->where, "PostgreSQL %s on %s", dbname ? dbname : "?",
             host && *host ? host : "localhost");
    char why[256];
    if (hookd_pg_schema_ensure(pg->c, why, sizeof why) < 0) {
        snprintf(err, errlen, "spool %s: %s", pg->where, why);
        pg_free(pg);
        return NULL;
    }
    hookd_log(HOOKD_LOG_INFO, "spool %s: schema %d, node %s, lease %" PRId64 " ms", pg->where,
              HOOKD_PG_SCHEMA, pg->node, pg->lease_ms);
    return pg;
}

/* Gives back what this node holds, so other nodes need not wait for the
 * leases to end. */
static void pg_close(void *db)
{
    hookd_pg *pg = db;
    if (pg->nheld && PQstatus(pg->c) == CONNECTION_OK) {
        int64_t *ids = malloc(pg->nheld * sizeof *ids), *toks = malloc(pg->nheld * sizeof *toks);
        size_t n = 0;
        for (size_t i = 0; ids && toks && i < pg->cap; i++)
            if (pg->held[i].id) {
                ids[n] = pg->held[i].id;
                toks[n++] = pg->held[i].token;
            }
        char why[256];
        /* A lease ending now: the next claim by any node takes them. */
        if (n && hookd_pg_renew(pg->c, ids, toks, n, 0, why, sizeof why) < 0)
            hookd_log(HOOKD_LOG_WARN, "spool %s: %s", pg->where, why);
        free(ids);
        free(toks);
    }
    pg_free(pg);
}

static const char *pg_describe(void *db) { return ((hookd_pg *)db)->where; }
static const char *pg_detail(void *db) { return ((hookd_pg *)db)->detail; }

const hookd_spool_driver hookd_spool_postgres = {
    .name = "postgres",
    .open = pg_open,
    .commit = pg_commit,
    .housekeep = hookd_pg_housekeep,
    .close = pg_close,
    .describe = pg_describe,
    .detail = pg_detail,
};

/* spool_pg_claim: see spool_pg_claim.h. */
#include "spool_pg_claim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/text.h"
#include "spool_pg_schema.h"

int64_t hookd_pg_token(void)
{
    uint64_t t = 0;
    static uint64_t fallback = 0x9e3779b97f4a7c15ULL;
    if (RAND_bytes((unsigned char *)&t, sizeof t) != 1)
        t = (fallback += 0x9e3779b97f4a7c15ULL); /* distinct, if not secret */
    t &= INT64_MAX;
    return t ? (int64_t)t : 1;
}

/* The claim in one statement: the inner SELECT locks the rows it picks and
 * skips those another claim has locked, so two nodes never pick one row. */
static const char claim_sql[] =
    "WITH c AS (UPDATE hookd_deliveries d SET claim = $1, lease_until = $2::bigint + $3::bigint,"
    " node = $4"
    " WHERE d.id IN (SELECT id FROM hookd_deliveries WHERE state = 'pending'"
    " AND next_at <= $2 AND (lease_until IS NULL OR lease_until < $2)"
    " ORDER BY next_at LIMIT $5 FOR UPDATE SKIP LOCKED)"
    " RETURNING d.id, d.event, d.plugin, d.attempts, d.round_start, d.next_at)"
    " SELECT c.id, c.plugin, c.attempts, c.round_start, c.next_at, e.id, e.source, e.type,"
    " e.received_at, e.body, e.headers, e.enrichment"
    " FROM c JOIN hookd_events e ON e.seq = c.event ORDER BY c.next_at, c.id";

static int64_t col64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static char *col_str(const PGresult *r, int row, int col)
{
    return strdup(PQgetvalue(r, row, col));
}

/* A bytea column (text format, hex) into a malloc'd copy; NULL stays NULL. */
static int col_blob(const PGresult *r, int row, int col, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (PQgetisnull(r, row, col))
        return 0;
    unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), len);
    if (!u)
        return -1;
    /* Copied so callers free() it like everything else (and a NUL after). */
    *out = malloc(*len + 1);
    if (*out) {
        memcpy(*out, u, *len);
        (*out)[*len] = '\0';
    }
    PQfreemem(u);
    return *out ? 0 : -1;
}

int hookd_pg_claim(PGconn *c, int64_t token, const char *node, int64_t now, int64_t lease_ms,
                   int max, hookd_pg_claimed **out, size_t *n, char *err, size_t errlen)
{
    char tok[24], nw[24], lease[24], lim[16];
    snprintf(tok, sizeof tok, "%" PRId64, token);
    snprintf(nw, sizeof nw, "%" PRId64, now);
    snprintf(lease, sizeof lease, "%" PRId64, lease_ms);
    snprintf(lim, sizeof lim, "%d", max);
    const char *p[5] = {tok, nw, lease, node, lim};
    *out = NULL;
    *n = 0;
    PGresult *r = PQexecParams(c, claim_sql, 5, NULL, p, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        hookd_pg_why(err, errlen, "claiming deliveries", c, r);
        PQclear(r);
        return -1;
    }
    int rows = PQntuples(r);
    hookd_pg_claimed *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    int bad = rows && !v;
    for (int i = 0; i < rows && !bad; i++) {
        hookd_pg_claimed *d = &v[i];
        d->id = col64(r, i, 0);
        d->token = token;
        d->plugin = col_str(r, i, 1);
        d->attempts = (int)col64(r, i, 2);
        d->round_start = (int)col64(r, i, 3);
        d->next_at = col64(r, i, 4);
        d->event_id = col_str(r, i, 5);
        d->source = col_str(r, i, 6);
        d->type = col_str(r, i, 7);
        d->received_at = col64(r, i, 8);
        bad = !d->plugin || !d->event_id || !d->source || !d->type ||
              col_blob(r, i, 9, &d->body, &d->body_len) < 0 ||
              col_blob(r, i, 10, &d->headers, &d->headers_len) < 0 ||
              col_blob(r, i, 11, &d->enrichment, &d->enrichment_len) < 0;
        *n = (size_t)i + 1;
    }
    PQclear(r);
    if (bad) {
        /* The rows stay claimed; their leases end and another claim takes them. */
        hookd_pg_claimed_free(v, *n);
        *n = 0;
        hookd_say(err, errlen, "claiming deliveries: out of memory");
        return -1;
    }
    *out = v;
    return 0;
}

void hookd_pg_claimed_free(hookd_pg_claimed *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].plugin);
        free(v[i].event_id);
        free(v[i].source);
        free(v[i].type);
        free(v[i].body);
        free(v[i].headers);
        free(v[i].enrichment);
    }
    free(v);
}

long hookd_pg_renew_kept(PGconn *c, const int64_t *ids, const int64_t *tokens, size_t n,
                         int64_t until, int64_t *kept, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    char *a = hookd_pg_int_array(ids, n), *b = hookd_pg_int_array(tokens, n), u[24];
    snprintf(u, sizeof u, "%" PRId64, until);
    long got = -1;
    if (a && b) {
        const char *p[3] = {a, b, u};
        PGresult *r = PQexecParams(
            c,
            "UPDATE hookd_deliveries d SET lease_until = $3 FROM unnest($1::int8[], $2::int8[])"
            " AS h(id, claim) WHERE d.id = h.id AND d.claim = h.claim AND d.state = 'pending'"
            " RETURNING d.id",
            3, NULL, p, NULL, NULL, 0);
        if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
            got = PQntuples(r);
            for (long i = 0; kept && i < got && (size_t)i < n; i++)
                kept[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
        } else {
            hookd_pg_why(err, errlen, "renewing leases", c, r);
        }
        PQclear(r);
    } else {
        hookd_say(err, errlen, "renewing leases: out of memory");
    }
    free(a);
    free(b);
    return got;
}

long hookd_pg_renew(PGconn *c, const int64_t *ids, const int64_t *tokens, size_t n,
                    int64_t until, char *err, size_t errlen)
{
    return hookd_pg_renew_kept(c, ids, tokens, n, until, NULL, err, errlen);
}

/* Both rows or neither: the attempt is written only where the claim still
 * matched (the CTE's RETURNING is empty otherwise). $12 > 0: a retry kept
 * in memory keeps its claim, under a new lease. */
const char hookd_pg_finish_sql[] =
    "WITH u AS (UPDATE hookd_deliveries SET state = $3, attempts = $4, next_at = $5,"
    " updated_at = $6, reason = $7,"
    " claim = CASE WHEN $12::bigint > 0 THEN claim END,"
    " lease_until = CASE WHEN $12::bigint > 0 THEN $12::bigint END"
    " WHERE id = $1 AND claim = $2 RETURNING id)"
    " INSERT INTO hookd_attempts(delivery, n, started_at, duration_ms, result, reason,"
    " retry_at, node) SELECT id, $4, $9, $10, $11, $7,"
    " CASE WHEN $3 = 'pending' THEN $5::bigint END, $8 FROM u"
    " ON CONFLICT (delivery, n) DO NOTHING";

/* The parameters of finish_sql, as text in buf. */
typedef struct finish_params {
    char id[24], tok[24], att[16], next[24], now[24], start[24], dur[24], keep[24];
    const char *p[12];
} finish_params;

static void finish_fill(finish_params *f, int64_t id, int64_t token, const char *state,
                        int attempts, int64_t next_at, int64_t now, const char *reason,
                        const char *node, int64_t started_at, int64_t duration_ms,
                        const char *result, int64_t keep_until)
{
    snprintf(f->id, sizeof f->id, "%" PRId64, id);
    snprintf(f->tok, sizeof f->tok, "%" PRId64, token);
    snprintf(f->att, sizeof f->att, "%d", attempts);
    snprintf(f->next, sizeof f->next, "%" PRId64, next_at);
    snprintf(f->now, sizeof f->now, "%" PRId64, now);
    snprintf(f->start, sizeof f->start, "%" PRId64, started_at);
    snprintf(f->dur, sizeof f->dur, "%" PRId64, duration_ms);
    snprintf(f->keep, sizeof f->keep, "%" PRId64, keep_until > 0 ? keep_until : 0);
    int pending = strcmp(state, "pending") == 0;
    const char *p[12] = {f->id, f->tok, state, f->att, pending ? f->next : f->now, f->now,
                         reason && *reason ? reason : NULL, node, f->start, f->dur, result,
                         f->keep};
    memcpy(f->p, p, sizeof p);
}

int hookd_pg_finish(PGconn *c, int64_t id, int64_t token, const char *state, int attempts,
                    int64_t next_at, int64_t now, const char *reason, const char *node,
                    int64_t started_at, int64_t duration_ms, const char *result,
                    char *err, size_t errlen)
{
    finish_params f;
    finish_fill(&f, id, token, state, attempts, next_at, now, reason, node, started_at,
                duration_ms, result, 0);
    PGresult *r = PQexecParams(c, hookd_pg_finish_sql, 12, NULL, f.p, NULL, NULL, 0);
    int rc = -1;
    if (r && PQresultStatus(r) == PGRES_COMMAND_OK)
        rc = strtol(PQcmdTuples(r), NULL, 10) > 0;
    else
        hookd_pg_why(err, errlen, "writing a delivery's result", c, r);
    PQclear(r);
    return rc;
}

int hookd_pg_finish_send(PGconn *c, int64_t id, int64_t token, const char *state, int attempts,
                         int64_t next_at, int64_t now, const char *reason, const char *node,
                         int64_t started_at, int64_t duration_ms, const char *result,
                         int64_t keep_until)
{
    finish_params f;
    finish_fill(&f, id, token, state, attempts, next_at, now, reason, node, started_at,
                duration_ms, result, keep_until);
    /* libpq copies the parameters into its buffer: f may go. */
    return PQsendQueryPrepared(c, HOOKD_PG_FINISH_STMT, 12, f.p, NULL, NULL, 0) ? 0 : -1;
}

long hookd_pg_release_expired(PGconn *c, int64_t now, char *err, size_t errlen)
{
    char snow[24], sql[512];
    snprintf(snow, sizeof snow, "%" PRId64, now);
    /* The lock is the transaction's: a node that dies holds nothing. */
    snprintf(sql, sizeof sql,
             "WITH l AS (SELECT pg_try_advisory_xact_lock(%lld) AS got),"
             " u AS (UPDATE hookd_deliveries SET claim = NULL, lease_until = NULL, node = NULL"
             " WHERE state = 'pending' AND lease_until < $1 AND (SELECT got FROM l)"
             " RETURNING 1) SELECT count(*) FROM u",
             HOOKD_PG_LOCK_HOUSEKEEP);
    const char *p[1] = {snow};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    long got = -1;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        got = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    else
        hookd_pg_why(err, errlen, "releasing expired leases", c, r);
    PQclear(r);
    return got;
}

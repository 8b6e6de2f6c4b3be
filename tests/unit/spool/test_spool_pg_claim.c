/* core/spool/spool_pg_claim.c against a real PostgreSQL (the "pg" CTest
 * fixture): claims never hand one delivery to two holders, a lease that
 * passes moves the delivery and silences its late result, a retry is a row,
 * expired leases are released by one node at a time. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg_test.h"
#include "spool/spool_pg_claim.h"
#include "spool/spool_pg_schema.h"

static char *conninfo;

/* A fresh schema with n events, one pending delivery each, due at 1000. */
static PGconn *fresh(const char *schema, int n)
{
    PGconn *c = pg_test_connect(conninfo, schema);
    assert_non_null(c);
    char err[256], sql[512];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE; CREATE SCHEMA %s", schema, schema);
    PQclear(PQexec(c, sql));
    assert_int_equal(hookd_pg_schema_ensure(c, err, sizeof err), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO hookd_events(id, source, type, received_at, body, headers)"
             " SELECT 'ev' || g, 'ctct', 'tier.increase', 900,"
             " convert_to('{\"n\":' || g || '}', 'UTF8'), ''"
             " FROM generate_series(1, %d) g;"
             " INSERT INTO hookd_deliveries(event, plugin, state, next_at, updated_at)"
             " SELECT seq, 'audit', 'pending', 1000, 900 FROM hookd_events",
             n);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s", PQresultErrorMessage(r));
    PQclear(r);
    return c;
}

#define N 2000
#define THREADS 8
static atomic_int seen[N + 1];
static atomic_int lost;

static void *claimer(void *arg)
{
    const char *node = arg;
    PGconn *c = pg_test_connect(conninfo, "t_claim");
    char err[256];
    for (;;) {
        hookd_pg_claimed *v;
        size_t n;
        if (hookd_pg_claim(c, hookd_pg_token(), node, 2000, 1000000000, 25, &v, &n, err,
                           sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            atomic_fetch_add(&lost, 1000);
            break;
        }
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (v[i].id < 1 || v[i].id > N)
                atomic_fetch_add(&lost, 1000);
            else
                atomic_fetch_add(&seen[v[i].id], 1);
            if (hookd_pg_finish(c, v[i].id, v[i].token, "delivered", 1, 0, 2001, NULL, node,
                                2000, 1, "ok", err, sizeof err) != 1)
                atomic_fetch_add(&lost, 1);
        }
        hookd_pg_claimed_free(v, n);
    }
    PQfinish(c);
    return NULL;
}

/* Eight nodes claiming in a loop: each delivery held by exactly one. */
static void test_claims_exclusive(void **state)
{
    (void)state;
    PGconn *c = fresh("t_claim", N);
    static const char *const names[THREADS] = {"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, claimer, (void *)names[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&lost), 0);
    for (int id = 1; id <= N; id++)
        if (atomic_load(&seen[id]) != 1)
            fail_msg("delivery %d claimed %d times", id, atomic_load(&seen[id]));
    assert_int_equal(pg_test_long(c, "SELECT count(*) FROM hookd_deliveries"
                                     " WHERE state = 'delivered' AND claim IS NULL"), N);
    assert_int_equal(pg_test_long(c, "SELECT count(*) FROM hookd_attempts"), N);
    /* More than one node did some of the work. */
    assert_true(pg_test_long(c, "SELECT count(DISTINCT node) FROM hookd_attempts") > 1);
    PQfinish(c);
}

/* A holder stopped past its lease: another node takes the delivery, and
 * the late result changes nothing. */
static void test_lease_passes(void **state)
{
    (void)state;
    PGconn *a = fresh("t_lease", 1), *b = pg_test_connect(conninfo, "t_lease");
    char err[256];
    hookd_pg_claimed *va, *vb;
    size_t na, nb;
    int64_t ta = hookd_pg_token(), tb = hookd_pg_token();
    assert_int_equal(hookd_pg_claim(a, ta, "a", 1000, 100, 10, &va, &na, err, sizeof err), 0);
    assert_int_equal(na, 1);
    assert_string_equal(va[0].event_id, "ev1");
    assert_string_equal(va[0].plugin, "audit");
    assert_int_equal(va[0].body_len, 7);
    assert_memory_equal(va[0].body, "{\"n\":1}", 7);
    assert_null(va[0].enrichment);
    /* Within the lease: nobody else gets it. */
    assert_int_equal(hookd_pg_claim(b, tb, "b", 1050, 100, 10, &vb, &nb, err, sizeof err), 0);
    assert_int_equal(nb, 0);
    /* a renews: held until 1150. */
    assert_int_equal(hookd_pg_renew(a, &va[0].id, &ta, 1, 1150, err, sizeof err), 1);
    assert_int_equal(hookd_pg_claim(b, tb, "b", 1120, 100, 10, &vb, &nb, err, sizeof err), 0);
    assert_int_equal(nb, 0);
    /* Past it: b takes it. */
    assert_int_equal(hookd_pg_claim(b, tb, "b", 1200, 100, 10, &vb, &nb, err, sizeof err), 0);
    assert_int_equal(nb, 1);
    assert_int_equal(vb[0].id, va[0].id);
    /* a's renewal and result come late: not held, nothing written. */
    assert_int_equal(hookd_pg_renew(a, &va[0].id, &ta, 1, 1300, err, sizeof err), 0);
    assert_int_equal(hookd_pg_finish(a, va[0].id, ta, "dead", 1, 0, 1210, "late", "a", 1000, 210,
                                     "fail", err, sizeof err),
                     0);
    assert_int_equal(pg_test_long(a, "SELECT count(*) FROM hookd_attempts"), 0);
    assert_int_equal(pg_test_long(a, "SELECT count(*) FROM hookd_deliveries"
                                     " WHERE state = 'pending' AND node = 'b'"), 1);
    assert_int_equal(hookd_pg_finish(b, vb[0].id, tb, "delivered", 1, 0, 1220, NULL, "b", 1200,
                                     20, "ok", err, sizeof err),
                     1);
    assert_int_equal(pg_test_long(a, "SELECT count(*) FROM hookd_attempts WHERE node = 'b'"), 1);
    hookd_pg_claimed_free(va, na);
    hookd_pg_claimed_free(vb, nb);
    PQfinish(a);
    PQfinish(b);
}

/* A retry goes back to the pool as a row due later, not a timer. */
static void test_retry_is_a_row(void **state)
{
    (void)state;
    PGconn *c = fresh("t_retry", 1);
    char err[256];
    hookd_pg_claimed *v;
    size_t n;
    int64_t t = hookd_pg_token();
    assert_int_equal(hookd_pg_claim(c, t, "a", 1000, 30000, 10, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(hookd_pg_finish(c, v[0].id, t, "pending", 1, 5000, 1001, "HTTP 503", "a",
                                     1000, 1, "retry", err, sizeof err),
                     1);
    hookd_pg_claimed_free(v, n);
    assert_int_equal(pg_test_long(c, "SELECT count(*) FROM hookd_deliveries"
                                     " WHERE claim IS NULL AND next_at = 5000"), 1);
    assert_int_equal(pg_test_long(c, "SELECT retry_at FROM hookd_attempts"), 5000);
    assert_int_equal(hookd_pg_claim(c, t, "a", 4999, 30000, 10, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(hookd_pg_claim(c, t + 1, "b", 5000, 30000, 10, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].attempts, 1);
    hookd_pg_claimed_free(v, n);
    PQfinish(c);
}

/* Expired leases are cleared by one node at a time. */
static void test_release_expired(void **state)
{
    (void)state;
    PGconn *c = fresh("t_release", 3), *other = pg_test_connect(conninfo, "t_release");
    char err[256];
    hookd_pg_claimed *v;
    size_t n;
    assert_int_equal(hookd_pg_claim(c, hookd_pg_token(), "a", 1000, 100, 2, &v, &n, err,
                                    sizeof err),
                     0);
    assert_int_equal(n, 2);
    hookd_pg_claimed_free(v, n);
    assert_int_equal(hookd_pg_release_expired(c, 1050, err, sizeof err), 0); /* not yet */
    /* Another node is at it: this one does nothing, without waiting. */
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", HOOKD_PG_LOCK_HOUSEKEEP);
    PQclear(PQexec(other, sql));
    assert_int_equal(hookd_pg_release_expired(c, 2000, err, sizeof err), 0);
    PQclear(PQexec(other, "COMMIT"));
    assert_int_equal(hookd_pg_release_expired(c, 2000, err, sizeof err), 2);
    assert_int_equal(pg_test_long(c, "SELECT count(*) FROM hookd_deliveries WHERE claim IS NULL"),
                     3);
    PQfinish(other);
    PQfinish(c);
}

int main(void)
{
    conninfo = pg_test_start();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_exclusive),
        cmocka_unit_test(test_lease_passes),
        cmocka_unit_test(test_retry_is_a_row),
        cmocka_unit_test(test_release_expired),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(conninfo);
    return rc;
}

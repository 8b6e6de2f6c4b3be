/* core/spool/spool_pg_schema.c against a real PostgreSQL (the "pg" CTest
 * fixture): created once, idempotent, serialised between nodes starting
 * together, a newer schema refused. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg_test.h"
#include "spool/spool_pg_schema.h"

static char *conninfo;

static void test_created_then_kept(void **state)
{
    (void)state;
    PGconn *c = pg_test_connect(conninfo, "t_created");
    assert_non_null(c);
    char err[256] = "";
    assert_int_equal(hookd_pg_schema_version(c, err, sizeof err), 0);
    assert_int_equal(hookd_pg_schema_ensure(c, err, sizeof err), 0);
    assert_int_equal(hookd_pg_schema_version(c, err, sizeof err), HOOKD_PG_SCHEMA);
    static const char *const tables[] = {"hookd_meta", "hookd_events", "hookd_deliveries",
                                         "hookd_attempts", "hookd_dedup"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        long n = pg_test_long(c, sql);
        if (n < 0)
            fail_msg("table %s missing", tables[i]);
    }
    assert_int_equal(pg_test_long(c, "SELECT count(*) FROM hookd_meta"), 1);
    /* Again: nothing to do, nothing lost. */
    PQclear(PQexec(c, "INSERT INTO hookd_dedup VALUES('s', 'k', 'e', 1)"));
    assert_int_equal(hookd_pg_schema_ensure(c, err, sizeof err), 0);
    assert_int_equal(pg_test_long(c, "SELECT count(*) FROM hookd_dedup"), 1);
    /* The dedup key is unique across the cluster. */
    PGresult *r = PQexec(c, "INSERT INTO hookd_dedup VALUES('s', 'k', 'e2', 2)");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23505");
    PQclear(r);
    PQfinish(c);
}

typedef struct starter {
    int rc;
    char err[256];
} starter;

static void *start_node(void *arg)
{
    starter *s = arg;
    PGconn *c = pg_test_connect(conninfo, "t_together");
    s->rc = c ? hookd_pg_schema_ensure(c, s->err, sizeof s->err) : -2;
    PQfinish(c);
    return NULL;
}

/* Four nodes starting at once: one creates, the others wait and find it. */
static void test_nodes_starting_together(void **state)
{
    (void)state;
    pthread_t t[4];
    starter s[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, start_node, &s[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (s[i].rc != 0)
            fail_msg("node %d: %d %s", i, s[i].rc, s[i].err);
    }
    PGconn *c = pg_test_connect(conninfo, "t_together");
    assert_int_equal(pg_test_long(c, "SELECT count(*) FROM hookd_meta"), 1);
    PQfinish(c);
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    PGconn *c = pg_test_connect(conninfo, "t_newer");
    char err[256] = "";
    assert_int_equal(hookd_pg_schema_ensure(c, err, sizeof err), 0);
    PQclear(PQexec(c, "UPDATE hookd_meta SET value = '99' WHERE key = 'schema'"));
    assert_int_equal(hookd_pg_schema_ensure(c, err, sizeof err), -1);
    assert_string_equal(err, "the database has spool schema 99; this hookd knows 1");
    /* The lock is not left behind: another session takes it at once. */
    assert_int_equal(pg_test_long(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"),
                     0);
    PQfinish(c);
}

/* Bounds of its own on connecting and on a silent server, unless the
 * conninfo names them. */
static const char *option(PGconn *c, const char *key, char *buf, size_t len)
{
    PQconninfoOption *o = PQconninfo(c);
    snprintf(buf, len, "(none)");
    for (PQconninfoOption *i = o; i && i->keyword; i++)
        if (strcmp(i->keyword, key) == 0 && i->val)
            snprintf(buf, len, "%s", i->val);
    PQconninfoFree(o);
    return buf;
}

static void test_connect_bounds(void **state)
{
    (void)state;
    char b[32], ci[1200];
    PGconn *c = hookd_pg_connect(conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_string_equal(option(c, "connect_timeout", b, sizeof b), "5");
    assert_string_equal(option(c, "tcp_user_timeout", b, sizeof b), "20000");
    assert_string_equal(option(c, "keepalives_idle", b, sizeof b), "10");
    PQfinish(c);
    snprintf(ci, sizeof ci, "%s connect_timeout=7", conninfo);
    c = hookd_pg_connect(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_string_equal(option(c, "connect_timeout", b, sizeof b), "7");
    PQfinish(c);
}

int main(void)
{
    conninfo = pg_test_start();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_then_kept),
        cmocka_unit_test(test_nodes_starting_together),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_connect_bounds),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(conninfo);
    return rc;
}

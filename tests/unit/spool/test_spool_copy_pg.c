/* core/spool/spool_copy.c (`hookd spool copy`) from a SQLite spool written
 * here by SQL with the daemon's schema (spool_schema.h) into a real
 * PostgreSQL (the "pg" CTest fixture): every column of events, deliveries
 * (pending ones unclaimed), attempts and dedup keys; a second run stores
 * nothing twice; NOTIFY hookd_due sent only by a transaction that stored
 * pending work; batches committed one by one, a failing one rolled back and
 * a run again going on; a schema-1 spool; the failures, never with the
 * conninfo. Env: HOOKD_TEST_PG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <unistd.h>

#include "pg_test.h"
#include "spool/spool_copy.h"
#include "spool/spool_schema.h"

static char *conninfo;
static char ci[1200];   /* conninfo in schema cpy */
static char path[128];  /* the SQLite spool */
static PGconn *pc;      /* the test's own connection, in schema cpy */

static void sql(sqlite3 *db, const char *text)
{
    char *msg = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", text, msg);
}

/* A fresh schema cpy in PostgreSQL and an empty spool (schema 2). */
static sqlite3 *fresh(void)
{
    PQfinish(pc);
    pc = pg_test_connect(conninfo, "cpy");
    assert_non_null(pc);
    PQclear(PQexec(pc, "DROP SCHEMA cpy CASCADE; CREATE SCHEMA cpy"));
    snprintf(ci, sizeof ci, "%s options='-c search_path=cpy'", conninfo);
    snprintf(path, sizeof path, "/tmp/hookd-test-copy-%d.db", (int)getpid());
    unlink(path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sql(db, "PRAGMA journal_mode=WAL;" HOOKD_SPOOL_SCHEMA_SQL
            "INSERT INTO meta VALUES('schema', '2');");
    return db;
}

/* Three events. E1: delivered to audit after one attempt, enriched; its
 * body has a NUL and bytes >= 0x80. E2: dead in slack after a retry and a
 * failure, replayed once (round_start 1). E3: pending twice, once held by
 * the daemon (claim 77) and due in the future, once due now, not yet
 * tried. Dedup keys for E1 and E2. */
static void fill(sqlite3 *db)
{
    sql(db,
        "INSERT INTO events VALUES(1, '01J00000000000000000000001', 'ctct', 'tier.increase',"
        " 1000, X'7B226E223A317D00FF', X'782D6100310078', '{\"ctct\":{\"plan\":\"gold\"}}');"
        "INSERT INTO events VALUES(2, '01J00000000000000000000002', 'ctct', 'tier.decrease',"
        " 2000, X'', X'', NULL);"
        "INSERT INTO events VALUES(5, '01J00000000000000000000003', 'gh', 'push',"
        " 3000, X'7B7D', X'', NULL);"
        "INSERT INTO deliveries VALUES(10, 1, 'audit', 'delivered', 1, 0, 1000, 1100, NULL,"
        " NULL);"
        "INSERT INTO deliveries VALUES(11, 2, 'slack', 'dead', 3, 1, 2000, 2900,"
        " 'HTTP 500', NULL);"
        "INSERT INTO deliveries VALUES(12, 5, 'audit', 'pending', 1, 0, 9999999999999, 3100,"
        " 'timed out', 77);"
        "INSERT INTO deliveries VALUES(13, 5, 'slack', 'pending', 0, 0, 3000, 3000, NULL,"
        " NULL);"
        "INSERT INTO attempts VALUES(10, 1, 1001, 5, 'ok', NULL, NULL);"
        "INSERT INTO attempts VALUES(11, 1, 2001, 7, 'retry', 'HTTP 503', 2500);"
        "INSERT INTO attempts VALUES(11, 2, 2500, 9, 'fail', 'HTTP 500', NULL);"
        "INSERT INTO attempts VALUES(11, 3, 2800, 4, 'fail', 'HTTP 500', NULL);"
        "INSERT INTO attempts VALUES(12, 1, 3001, 30000, 'retry', 'timed out', 9999999999999);"
        "INSERT INTO dedup VALUES('ctct', 'k1', '01J00000000000000000000001', 1000);"
        "INSERT INTO dedup VALUES('ctct', 'k2', '01J00000000000000000000002', 2000);");
}

static void done(sqlite3 *db)
{
    sqlite3_close(db);
    unlink(path);
    PQfinish(pc);
    pc = NULL;
}

/* One row of sql as "a|b|c" (NULL as "-"; bytea as PostgreSQL's hex). */
static const char *row(const char *q)
{
    static char out[1024];
    PGresult *r = PQexec(pc, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s (%d rows)", q, PQresultErrorMessage(r), PQntuples(r));
    out[0] = '\0';
    for (int i = 0; i < PQnfields(r); i++) {
        size_t n = strlen(out);
        snprintf(out + n, sizeof out - n, "%s%s", i ? "|" : "",
                 PQgetisnull(r, 0, i) ? "-" : PQgetvalue(r, 0, i));
    }
    PQclear(r);
    return out;
}

/* The NOTIFY hookd_due received: waits up to 2 s for one to come (200 ms
 * when none is expected: the server sends them as they happen). */
static int notified(int expect)
{
    int n = 0;
    for (int i = 0; i < (expect ? 100 : 10) && n < (expect ? expect : 1); i++) {
        usleep(20 * 1000);
        PQconsumeInput(pc);
        PGnotify *m;
        while ((m = PQnotifies(pc)) != NULL) {
            n += strcmp(m->relname, "hookd_due") == 0;
            PQfreemem(m);
        }
    }
    return n;
}

static void test_copies_every_column(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    fill(db);
    PQclear(PQexec(pc, "LISTEN hookd_due"));
    hookd_copy_stats st;
    char err[256] = "";
    /* Two events a transaction: two batches. */
    if (hookd_spool_copy(path, ci, 2, &st, err, sizeof err) != 0)
        fail_msg("copy: %s", err);
    assert_int_equal(st.events, 3);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(st.deliveries, 4);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.attempts, 5);
    assert_int_equal(st.dedup, 2);
    assert_non_null(strstr(st.where, "PostgreSQL "));
    assert_null(strstr(st.where, "password"));

    assert_string_equal(row("SELECT value FROM hookd_meta WHERE key = 'schema'"), "1");
    /* Events: in arrival order, every byte. */
    assert_string_equal(row("SELECT string_agg(id, ',' ORDER BY seq) FROM hookd_events"),
                        "01J00000000000000000000001,01J00000000000000000000002,"
                        "01J00000000000000000000003");
    assert_string_equal(row("SELECT source, type, received_at, body, headers,"
                            " convert_from(enrichment, 'UTF8') FROM hookd_events"
                            " WHERE id = '01J00000000000000000000001'"),
                        "ctct|tier.increase|1000|\\x7b226e223a317d00ff|\\x782d6100310078|"
                        "{\"ctct\":{\"plan\":\"gold\"}}");
    assert_string_equal(row("SELECT source, type, received_at, length(body), length(headers),"
                            " enrichment FROM hookd_events"
                            " WHERE id = '01J00000000000000000000002'"),
                        "ctct|tier.decrease|2000|0|0|-");
    /* Deliveries: state and counters kept, nobody's claim. */
    static const char D[] =
        "SELECT d.state, d.attempts, d.round_start, d.next_at, d.updated_at, d.reason,"
        " d.claim, d.lease_until, d.node FROM hookd_deliveries d"
        " JOIN hookd_events e ON e.seq = d.event WHERE e.id = '%s' AND d.plugin = '%s'";
    char q[512];
    snprintf(q, sizeof q, D, "01J00000000000000000000001", "audit");
    assert_string_equal(row(q), "delivered|1|0|1000|1100|-|-|-|-");
    snprintf(q, sizeof q, D, "01J00000000000000000000002", "slack");
    assert_string_equal(row(q), "dead|3|1|2000|2900|HTTP 500|-|-|-");
    snprintf(q, sizeof q, D, "01J00000000000000000000003", "audit");
    assert_string_equal(row(q), "pending|1|0|9999999999999|3100|timed out|-|-|-");
    snprintf(q, sizeof q, D, "01J00000000000000000000003", "slack");
    assert_string_equal(row(q), "pending|0|0|3000|3000|-|-|-|-");
    /* Attempts: under the new delivery ids. */
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_attempts"), 5);
    assert_string_equal(
        row("SELECT string_agg(a.n || ':' || a.started_at || ':' || a.duration_ms || ':' ||"
            " a.result || ':' || coalesce(a.reason, '-') || ':' || coalesce(a.retry_at::text,"
            " '-') || ':' || coalesce(a.node, '-'), ',' ORDER BY a.n)"
            " FROM hookd_attempts a JOIN hookd_deliveries d ON d.id = a.delivery"
            " WHERE d.plugin = 'slack' AND d.state = 'dead'"),
        "1:2001:7:retry:HTTP 503:2500:-,2:2500:9:fail:HTTP 500:-:-,3:2800:4:fail:HTTP 500:-:-");
    assert_string_equal(row("SELECT a.n, a.result, a.retry_at FROM hookd_attempts a"
                            " JOIN hookd_deliveries d ON d.id = a.delivery"
                            " WHERE d.plugin = 'audit' AND d.state = 'pending'"),
                        "1|retry|9999999999999");
    assert_string_equal(row("SELECT string_agg(source || ':' || key || ':' || event || ':' ||"
                            " at, ',' ORDER BY key) FROM hookd_dedup"),
                        "ctct:k1:01J00000000000000000000001:1000,"
                        "ctct:k2:01J00000000000000000000002:2000");
    /* The batch holding E3's pending deliveries woke the cluster. */
    assert_int_equal(notified(1), 1);
    done(db);
}

static void test_twice_stores_nothing_twice(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    fill(db);
    hookd_copy_stats st;
    char err[256] = "";
    assert_int_equal(hookd_spool_copy(path, ci, 0, &st, err, sizeof err), 0);
    /* A cluster node changed a copied row meanwhile: a run again keeps it. */
    PQclear(PQexec(pc, "UPDATE hookd_deliveries SET state = 'delivered' WHERE plugin = 'slack'"
                       " AND state = 'pending'"));
    PQclear(PQexec(pc, "LISTEN hookd_due"));
    if (hookd_spool_copy(path, ci, 0, &st, err, sizeof err) != 0)
        fail_msg("copy: %s", err);
    assert_int_equal(st.events, 0);
    assert_int_equal(st.skipped, 3);
    assert_int_equal(st.deliveries + st.attempts + st.dedup, 0);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_events"), 3);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_deliveries"), 4);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_deliveries"
                                      " WHERE state = 'pending'"), 1);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_attempts"), 5);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_dedup"), 2);
    assert_int_equal(notified(0), 0); /* nothing new to claim */
    /* A new event since: only it (and its key); a key the cluster holds
     * for another event stays the cluster's. */
    PQclear(PQexec(pc, "INSERT INTO hookd_dedup VALUES('gh', 'k3', 'CLUSTERS', 5)"));
    sql(db, "INSERT INTO events VALUES(6, '01J00000000000000000000004', 'gh', 'push', 4000,"
            " X'', X'', NULL);"
            "INSERT INTO deliveries VALUES(14, 6, 'audit', 'pending', 0, 0, 4000, 4000, NULL,"
            " NULL);"
            "INSERT INTO dedup VALUES('gh', 'k3', '01J00000000000000000000004', 4000);"
            "INSERT INTO dedup VALUES('gh', 'k4', '01J00000000000000000000004', 4000);");
    assert_int_equal(hookd_spool_copy(path, ci, 2, &st, err, sizeof err), 0);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.skipped, 3);
    assert_int_equal(st.deliveries, 1);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.dedup, 1);
    assert_string_equal(row("SELECT event FROM hookd_dedup WHERE key = 'k3'"), "CLUSTERS");
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_events"), 4);
    assert_int_equal(notified(1), 1);
    done(db);
}

/* A batch PostgreSQL refuses is rolled back whole; the ones before it
 * stay, and a run again (the row fixed) goes on from there. */
static void test_failed_batch_rolled_back_then_resumed(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    fill(db);
    sql(db, "UPDATE deliveries SET state = 'lost' WHERE id = 13"); /* CHECK refuses it */
    hookd_copy_stats st;
    char err[256] = "";
    assert_int_equal(hookd_spool_copy(path, ci, 2, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "storing a delivery"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(st.events, 2); /* the first batch */
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_events"), 2);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_deliveries"), 2);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_attempts"), 4);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_dedup"), 0);
    sql(db, "UPDATE deliveries SET state = 'pending' WHERE id = 13");
    assert_int_equal(hookd_spool_copy(path, ci, 2, &st, err, sizeof err), 0);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(st.deliveries, 2);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.dedup, 2);
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM hookd_deliveries"), 4);
    done(db);
}

/* A spool of schema 1 (no enrichment column) is read as it is. */
static void test_schema_1_spool(void **state)
{
    (void)state;
    sqlite3 *db = fresh();
    sql(db, "DROP TABLE events; CREATE TABLE events(seq INTEGER PRIMARY KEY, id TEXT NOT NULL"
            " UNIQUE, source TEXT NOT NULL, type TEXT NOT NULL, received_at INTEGER NOT NULL,"
            " body BLOB NOT NULL, headers BLOB NOT NULL);"
            "UPDATE meta SET value = '1';"
            "INSERT INTO events VALUES(1, '01J00000000000000000000009', 's', 't', 1, X'41',"
            " X'');");
    hookd_copy_stats st;
    char err[256] = "";
    if (hookd_spool_copy(path, ci, 0, &st, err, sizeof err) != 0)
        fail_msg("copy: %s", err);
    assert_int_equal(st.events, 1);
    assert_string_equal(row("SELECT body, enrichment FROM hookd_events"), "\\x41|-");
    /* The copy never writes the spool: still schema 1. */
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "1");
    sqlite3_finalize(q);
    done(db);
}

static void test_failures(void **state)
{
    (void)state;
    hookd_copy_stats st;
    char err[256] = "";
    sqlite3 *db = fresh();
    fill(db);
    /* No spool: nothing connects, nothing is created. */
    assert_int_equal(hookd_spool_copy("/nonexistent/spool.db", ci, 0, &st, err, sizeof err), -1);
    assert_string_equal(err, "no spool at /nonexistent/spool.db");
    assert_int_equal(pg_test_long(pc, "SELECT count(*) FROM pg_tables WHERE schemaname = 'cpy'"),
                     0);
    /* PostgreSQL not there: said without the password. */
    assert_int_equal(hookd_spool_copy(path, "host=127.0.0.1 port=1 user=u password=pw-s3cret"
                                            " dbname=x connect_timeout=2",
                                      0, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
    assert_null(strstr(err, "pw-s3cret"));
    assert_int_equal(st.events, 0);
    /* A spool newer than this hookd. */
    sql(db, "UPDATE meta SET value = '99'");
    assert_int_equal(hookd_spool_copy(path, ci, 0, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "has schema 99"));
    /* Not a spool. */
    sql(db, "DROP TABLE meta");
    assert_int_equal(hookd_spool_copy(path, ci, 0, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a hookd spool"));
    /* Connection strings libpq cannot parse are told apart first. */
    assert_true(hookd_copy_conninfo_ok(""));
    assert_true(hookd_copy_conninfo_ok("host=h dbname=d password='a b'"));
    assert_true(hookd_copy_conninfo_ok("postgresql://u:p@h:5432/d"));
    assert_false(hookd_copy_conninfo_ok("password=a b"));
    assert_false(hookd_copy_conninfo_ok("nokey=1"));
    done(db);
}

int main(void)
{
    conninfo = pg_test_start();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_every_column),
        cmocka_unit_test(test_twice_stores_nothing_twice),
        cmocka_unit_test(test_failed_batch_rolled_back_then_resumed),
        cmocka_unit_test(test_schema_1_spool),
        cmocka_unit_test(test_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(conninfo);
    return rc;
}

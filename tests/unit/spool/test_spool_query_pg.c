/* core/spool/spool_query_pg.c against a real PostgreSQL (the "pg" CTest
 * fixture): the shared cases of spool_query_cases.h on the hookd_* tables
 * (created by hookd_pg_schema_ensure in a schema of the test's own), then
 * what is PostgreSQL's own: a replay clears the lease and wakes idle nodes
 * (NOTIFY hookd_due, sent with the commit, not for nothing replayed), the
 * open rules (no tables yet, a newer schema, a refused login whose message
 * never holds the password), and a connection the server ended put back.
 * Env: HOOKD_TEST_PG. */
#include <unistd.h>

#include "pg_test.h"
#include "spool_query_cases.h"
#include "spool/spool_pg_schema.h"

static char *conninfo;
static char ci[1200];   /* conninfo in schema sq */
static PGconn *pc;      /* the test's own connection, in schema sq */

static void pg_exec(const char *sql)
{
    char buf[4096], *w = buf;
    for (const char *p = sql; *p && w < buf + sizeof buf - 8; p++) {
        if (*p == '@') {
            memcpy(w, "hookd_", 6);
            w += 6;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    PGresult *r = PQexec(pc, buf);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", buf, PQerrorMessage(pc));
    PQclear(r);
}

static long long pg_num(const char *sql)
{
    char buf[1024], *w = buf;
    for (const char *p = sql; *p && w < buf + sizeof buf - 8; p++) {
        if (*p == '@') {
            memcpy(w, "hookd_", 6);
            w += 6;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return pg_test_long(pc, buf);
}

static void pg_put_event(int64_t seq, const char *id, const char *src, const char *type,
                         int64_t at, const void *body, size_t blen, const void *hdrs,
                         size_t hlen, const char *enrichment)
{
    char s[24], a[24];
    snprintf(s, sizeof s, "%" PRId64, seq);
    snprintf(a, sizeof a, "%" PRId64, at);
    const char *v[8] = {s, id, src, type, a, body, hdrs, enrichment};
    int len[8] = {0, 0, 0, 0, 0, (int)blen, (int)hlen, enrichment ? (int)strlen(enrichment) : 0};
    int fmt[8] = {0, 0, 0, 0, 0, 1, 1, 1};
    PGresult *r = PQexecParams(pc,
                               "INSERT INTO hookd_events(seq, id, source, type, received_at,"
                               " body, headers, enrichment) VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
                               8, NULL, v, len, fmt, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("insert: %s", PQerrorMessage(pc));
    PQclear(r);
}

static hookd_spool_q *pg_open(int writable)
{
    hookd_config cfg = {.spool_driver = "postgres", .spool_conninfo = ci};
    hookd_spool_q *q = NULL;
    char err[256] = "";
    if (hookd_spool_q_open(&cfg, writable, &q, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    assert_string_equal(hookd_spool_q_driver(q), "postgres");
    return q;
}

static const backend B = {pg_exec, pg_num, pg_put_event, pg_open};

static int setup(void **state)
{
    (void)state;
    pc = pg_test_connect(conninfo, "sq");
    assert_non_null(pc);
    PQclear(PQexec(pc, "SET client_min_messages = warning"));
    PQclear(PQexec(pc, "DROP SCHEMA sq CASCADE; CREATE SCHEMA sq"));
    char err[256];
    if (hookd_pg_schema_ensure(pc, err, sizeof err) != 0)
        fail_msg("schema: %s", err);
    fixture();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(pc);
    return 0;
}

/* The notifications on c so far, waiting up to ms for the first. */
static int notified(PGconn *c, int ms)
{
    int n = 0;
    for (int waited = 0; waited <= ms; waited += 20) {
        PQconsumeInput(c);
        PGnotify *note;
        while ((note = PQnotifies(c))) {
            assert_string_equal(note->relname, "hookd_due");
            n++;
            PQfreemem(note);
        }
        if (n)
            break;
        usleep(20 * 1000);
    }
    return n;
}

static void test_replay_wakes_nodes(void **state)
{
    (void)state;
    PGconn *l = pg_test_connect(conninfo, "sq");
    assert_non_null(l);
    PQclear(PQexec(l, "LISTEN hookd_due"));
    pg_exec("UPDATE hookd_deliveries SET claim = 5, lease_until = 1, node = 'n2' WHERE id = 2");
    hookd_spool_q *q = pg_open(1);
    int64_t n = 0;
    assert_int_equal(hookd_spool_q_replay_event(q, EV_A, NULL, 0, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pg_num("SELECT count(*) FROM hookd_deliveries WHERE id = 2 AND claim IS NULL"
                            " AND lease_until IS NULL AND node IS NULL AND state = 'pending'"),
                     1);
    assert_int_equal(notified(l, 2000), 1);
    /* Nothing made due: no notification. */
    assert_int_equal(hookd_spool_q_replay_event(q, EV_A, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(notified(l, 300), 0);
    /* Rolled back: none either. */
    const char *two[] = {EV_E, EV_NONE};
    assert_int_equal(hookd_spool_q_replay_events(q, two, 2, NULL, 0, &n), -ENOENT);
    assert_int_equal(notified(l, 300), 0);
    pg_exec("UPDATE hookd_deliveries SET state = 'dead' WHERE id = 6");
    const int64_t six[] = {6};
    assert_int_equal(hookd_spool_q_replay_dead(q, NULL, six, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(notified(l, 2000), 1);
    hookd_spool_q_close(q);
    PQfinish(l);
}

static void test_open_rules(void **state)
{
    (void)state;
    char err[256] = "", other[1300];
    hookd_spool_q *q = (hookd_spool_q *)1;
    snprintf(other, sizeof other, "%s options='-c search_path=sq_empty'", conninfo);
    pg_exec("DROP SCHEMA IF EXISTS sq_empty CASCADE; CREATE SCHEMA sq_empty");
    hookd_config cfg = {.spool_driver = "postgres", .spool_conninfo = other};
    assert_int_equal(hookd_spool_q_open(&cfg, 0, &q, err, sizeof err), -ENOENT);
    assert_null(q);
    assert_non_null(strstr(err, "no hookd spool"));

    pg_exec("UPDATE hookd_meta SET value = '99' WHERE key = 'schema'");
    cfg.spool_conninfo = ci;
    assert_int_equal(hookd_spool_q_open(&cfg, 0, &q, err, sizeof err), -EIO);
    assert_non_null(strstr(err, "schema 99"));
    pg_exec("UPDATE hookd_meta SET value = '1' WHERE key = 'schema'");

    snprintf(other, sizeof other, "%s password=Wr0ngPassw0rd user=nobody_here", conninfo);
    cfg.spool_conninfo = other;
    assert_int_equal(hookd_spool_q_open(&cfg, 0, &q, err, sizeof err), -EIO);
    assert_null(q);
    assert_non_null(strstr(err, "PostgreSQL not reachable"));
    assert_null(strstr(err, "Wr0ngPassw0rd"));
    assert_null(strchr(err, '\n'));

    cfg.spool_conninfo = NULL;
    assert_int_equal(hookd_spool_q_open(&cfg, 0, &q, err, sizeof err), -EINVAL);
}

/* The server ends the session between two calls: the next is served. */
static void test_reconnects(void **state)
{
    (void)state;
    char app[1300];
    snprintf(app, sizeof app, "%s application_name=hookd_sq_reconnect", ci);
    hookd_config cfg = {.spool_driver = "postgres", .spool_conninfo = app};
    hookd_spool_q *q = NULL;
    char err[256];
    assert_int_equal(hookd_spool_q_open(&cfg, 0, &q, err, sizeof err), 0);
    hookd_spool_filter f = HOOKD_SPOOL_FILTER_ANY;
    assert_string_equal(events_ids(q, f), EV_E "," EV_C "," EV_B "," EV_A);
    assert_int_equal(pg_num("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE application_name = 'hookd_sq_reconnect'"), 1);
    json_t *rows = NULL;
    char *next = NULL;
    int rc = hookd_spool_q_events(q, &f, &rows, &next);
    if (rc != 0) { /* the first call may find the end; the one after is served */
        assert_int_equal(rc, -EIO);
        rc = hookd_spool_q_events(q, &f, &rows, &next);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(json_array_size(rows), 4);
    json_decref(rows);
    /* Still read-only after the new session. */
    int64_t n;
    assert_int_equal(hookd_spool_q_replay_event(q, EV_A, NULL, 0, &n), -EIO);
    hookd_spool_q_close(q);
}

int main(void)
{
    conninfo = pg_test_start();
    snprintf(ci, sizeof ci, "%s options='-c search_path=sq'", conninfo);
    const struct CMUnitTest tests[] = {
        SPOOL_QUERY_CASES(setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_wakes_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnects, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(conninfo);
    return rc;
}

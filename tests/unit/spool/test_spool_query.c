/* core/spool/spool_query.c on the SQLite driver: the shared cases of
 * spool_query_cases.h on a real spool file (schema from spool_schema.h,
 * WAL, the "daemon's" connection held open), then what is SQLite's own:
 * the open rules (no file, a newer schema, schema 1 without the enrichment
 * column) and the configuration picking the driver. */
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool_query_cases.h"
#include "spool/spool_schema.h"

static char dir[64], path[96];
static sqlite3 *db; /* stays open: the "daemon" */

static void sq_exec(const char *sql)
{
    char buf[4096], *w = buf, *msg = NULL;
    for (const char *p = sql; *p && w < buf + sizeof buf - 1; p++)
        if (*p != '@')
            *w++ = *p;
    *w = '\0';
    if (sqlite3_exec(db, buf, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", buf, msg);
}

static long long sq_num(const char *sql)
{
    char buf[1024], *w = buf;
    for (const char *p = sql; *p && w < buf + sizeof buf - 1; p++)
        if (*p != '@')
            *w++ = *p;
    *w = '\0';
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, buf, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", buf, sqlite3_errmsg(db));
    long long v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

static void sq_put_event(int64_t seq, const char *id, const char *src, const char *type,
                         int64_t at, const void *body, size_t blen, const void *hdrs,
                         size_t hlen, const char *enrichment)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO events(seq, id, source, type, received_at,"
                                        " body, headers, enrichment) VALUES(?,?,?,?,?,?,?,?)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, src, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, at);
    sqlite3_bind_blob(s, 6, body, (int)blen, SQLITE_STATIC);
    sqlite3_bind_blob(s, 7, hdrs, (int)hlen, SQLITE_STATIC);
    if (enrichment)
        sqlite3_bind_blob(s, 8, enrichment, (int)strlen(enrichment), SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
}

/* Through the configuration, as the commands and the console open it. */
static hookd_spool_q *sq_open(int writable)
{
    hookd_config cfg = {.spool_driver = "sqlite", .spool_path = path};
    hookd_spool_q *q = NULL;
    char err[256] = "";
    if (hookd_spool_q_open(&cfg, writable, &q, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    assert_string_equal(hookd_spool_q_driver(q), "sqlite");
    return q;
}

static const backend B = {sq_exec, sq_num, sq_put_event, sq_open};

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/hookd-spool-q-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sq_exec("PRAGMA journal_mode=WAL");
    sq_exec(HOOKD_SPOOL_SCHEMA_SQL);
    sq_exec("INSERT INTO meta VALUES('schema', '2')");
    fixture();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[128];
    sqlite3_close(db);
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static void test_open_rules(void **state)
{
    (void)state;
    char missing[128], err[256] = "";
    hookd_spool_q *q = (hookd_spool_q *)1;
    snprintf(missing, sizeof missing, "%s/missing.db", dir);
    hookd_config cfg = {.spool_driver = "sqlite", .spool_path = missing};
    assert_int_equal(hookd_spool_q_open(&cfg, 1, &q, err, sizeof err), -ENOENT);
    assert_null(q);
    char want[200];
    snprintf(want, sizeof want, "no spool at %s", missing);
    assert_string_equal(err, want);
    struct stat st;
    assert_int_not_equal(stat(missing, &st), 0); /* never created */

    cfg.spool_driver = "mysql";
    assert_int_equal(hookd_spool_q_open(&cfg, 0, &q, err, sizeof err), -EINVAL);

    sq_exec("UPDATE meta SET value = '3' WHERE key = 'schema'");
    cfg.spool_driver = "sqlite";
    cfg.spool_path = path;
    assert_int_equal(hookd_spool_q_open(&cfg, 0, &q, err, sizeof err), -EIO);
    snprintf(want, sizeof want, "spool %s has schema 3; this hookd reads schema 2", path);
    assert_string_equal(err, want);
}

/* A schema-1 spool (no enrichment column) is read as it is, never upgraded. */
static void test_schema_1(void **state)
{
    (void)state;
    sq_exec("CREATE TABLE e1 AS SELECT seq, id, source, type, received_at, body, headers"
            " FROM events; DROP TABLE events; ALTER TABLE e1 RENAME TO events;"
            " UPDATE meta SET value = '1' WHERE key = 'schema'");
    hookd_spool_q *q = sq_open(0);
    json_t *doc = NULL;
    assert_int_equal(hookd_spool_q_event(q, EV_A, &doc), 0);
    assert_true(json_is_null(json_object_get(doc, "enrichment")));
    assert_int_equal(json_array_size(json_object_get(doc, "deliveries")), 2);
    json_decref(doc);
    hookd_spool_q_close(q);
    assert_int_equal(sq_num("SELECT value FROM meta WHERE key = 'schema'"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SPOOL_QUERY_CASES(setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

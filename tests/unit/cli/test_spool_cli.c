/* Unit tests for core/spool_cli.c: events, events show, dead and replay
 * against a real spool file (schema from spool_schema.h, WAL, a second
 * connection held open the way the daemon holds one), checking the JSON
 * documents, the text forms, the exit codes, the messages and the rows. */
#include <setjmp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/event.h"
#include "cli/spool_cli.h"
#include "spool/spool_schema.h"

#define EV_A "01HF8ZQ6S0000000000000000A" /* old: 2023-11-14 */
#define EV_B "01JDQ8X9Y7Z6W5V4T3S2R1Q0P9" /* received a second ago */
#define EV_NONE "01JDQ8X9Y7Z6W5V4T3S2R1Q0PX" /* well formed, not stored */
#define A_AT 1700000000123LL
#define A_ISO "2023-11-14T22:13:20.123Z"

typedef struct fx {
    char dir[64];
    char path[96];
    sqlite3 *db; /* stays open: the "daemon" */
    int64_t b_at;
} fx;

typedef int (*cmd_fn)(const hookd_spool_cmd_args *, FILE *);

typedef struct result {
    int code;
    char *out, *err;
    size_t out_len;
} result;

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static void put_event(fx *f, int64_t seq, const char *id, const char *src, const char *type,
                      int64_t at, const char *body, const char *hdrs, size_t hlen)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(f->db,
                                        "INSERT INTO events(seq, id, source, type, received_at,"
                                        " body, headers) VALUES(?,?,?,?,?,?,?)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, src, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, at);
    sqlite3_bind_blob(s, 6, body, (int)strlen(body), SQLITE_STATIC);
    sqlite3_bind_blob(s, 7, hdrs, (int)hlen, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
}

/* Event A (old): file delivered after one attempt; exec dead after three.
 * Event B (new): file pending (claimed by run 9) after one retry; exec dead
 * after two, the earlier of the two dead letters. */
static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hookd-spool-cli-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/spool.db", f->dir);
    assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
    exec_ok(f->db, "PRAGMA journal_mode=WAL");
    exec_ok(f->db, HOOKD_SPOOL_SCHEMA_SQL);
    static const char hdrs[] = "content-type\0application/json\0x-dup\0a\0x-dup\0b\0";
    f->b_at = hookd_now_ms() - 1000;
    put_event(f, 1, EV_A, "ctct", "tier.increase", A_AT, "{\"a\":1}", hdrs, sizeof hdrs - 1);
    put_event(f, 2, EV_B, "github", "push", f->b_at, "{\"b\":\"\xc3\xa9\"}", "", 0);
    exec_ok(f->db,
            "INSERT INTO deliveries(id, event, plugin, state, attempts, round_start, next_at,"
            " updated_at, reason, claim) VALUES"
            " (1, 1, 'file', 'delivered', 1, 0, 1700000000200, 1700000000300, NULL, NULL),"
            " (2, 1, 'exec', 'dead', 3, 0, 1700000009000, 1700000009000, 'exit 1', 7),"
            " (3, 2, 'file', 'pending', 1, 0, 4102444800000, 1700000000400, 'HTTP 503', 9),"
            " (4, 2, 'exec', 'dead', 2, 0, 1700000001000, 1700000001000, 'timeout', NULL);"
            "INSERT INTO attempts(delivery, n, started_at, duration_ms, result, reason, retry_at)"
            " VALUES (1, 1, 1700000000200, 12, 'ok', NULL, NULL),"
            " (2, 2, 1700000002000, 20, 'retry', 'exit 1', 1700000005000),"
            " (2, 1, 1700000000200, 10, 'retry', 'exit 1', 1700000001000),"
            " (2, 3, 1700000005000, 30, 'fail', 'exit 1', NULL),"
            " (3, 1, 1700000000210, 5000, 'retry', 'HTTP 503', 4102444800000),"
            " (4, 1, 1700000000220, 5000, 'retry', 'timeout', 1700000000500),"
            " (4, 2, 1700000000500, 5000, 'fail', 'timeout', NULL);");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char p[128];
    sqlite3_close(f->db);
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Runs a command with out in memory and stderr captured. */
static result run(cmd_fn fn, const hookd_spool_cmd_args *a)
{
    result r = {0};
    size_t err_len = 0;
    FILE *out = open_memstream(&r.out, &r.out_len);
    FILE *err = open_memstream(&r.err, &err_len);
    assert_non_null(out);
    assert_non_null(err);
    FILE *saved = stderr;
    stderr = err;
    r.code = fn(a, out);
    stderr = saved;
    fclose(out);
    fclose(err);
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* Runs with --json: must succeed, print nothing on stderr and exactly one
 * document followed by a newline. */
static json_t *run_json(cmd_fn fn, hookd_spool_cmd_args a)
{
    a.json = 1;
    result r = run(fn, &a);
    if (r.code != 0 || r.err[0])
        fail_msg("exit %d, stderr \"%s\"", r.code, r.err);
    assert_true(r.out_len > 0 && r.out[r.out_len - 1] == '\n');
    json_error_t je;
    json_t *doc = json_loadb(r.out, r.out_len, 0, &je);
    if (!doc)
        fail_msg("not JSON (%s): %s", je.text, r.out);
    result_free(&r);
    return doc;
}

/* Expects exit code `code` and stderr exactly `err` (one line). */
static void expect_fail(cmd_fn fn, const hookd_spool_cmd_args *a, int code, const char *err)
{
    result r = run(fn, a);
    if (r.code != code || strcmp(r.err, err) != 0)
        fail_msg("exit %d (want %d), stderr \"%s\" (want \"%s\")", r.code, code, r.err, err);
    assert_string_equal(r.out, "");
    result_free(&r);
}

static const char *str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v)
        fail_msg("\"%s\" is not a string", key);
    return v;
}

static json_int_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("\"%s\" is not an integer", key);
    return json_integer_value(v);
}

static int64_t query_int(fx *f, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(f->db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Every column of every delivery, for "nothing changed" checks. */
static char *snapshot(fx *f)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(f->db,
                                        "SELECT group_concat(id || state || attempts || round_start"
                                        " || next_at || updated_at || ifnull(reason, '-')"
                                        " || ifnull(claim, '-'), ';') FROM deliveries",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    char *v = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

static hookd_spool_cmd_args args(fx *f)
{
    return (hookd_spool_cmd_args){.spool_path = f->path};
}

/* ---------- events ---------- */

static void test_events_json(void **state)
{
    fx *f = *state;
    json_t *doc = run_json(hookd_spool_cmd_events, args(f));
    assert_int_equal(json_array_size(doc), 2);
    const json_t *b = json_array_get(doc, 0), *a = json_array_get(doc, 1);
    assert_string_equal(str(b, "id"), EV_B); /* newest first */
    assert_string_equal(str(a, "id"), EV_A);
    assert_string_equal(str(a, "source"), "ctct");
    assert_string_equal(str(a, "type"), "tier.increase");
    assert_string_equal(str(a, "received_at"), A_ISO);
    const json_t *d = json_object_get(a, "deliveries");
    assert_int_equal(num(d, "pending"), 0);
    assert_int_equal(num(d, "delivered"), 1);
    assert_int_equal(num(d, "dead"), 1);
    d = json_object_get(b, "deliveries");
    assert_int_equal(num(d, "pending"), 1);
    assert_int_equal(num(d, "delivered"), 0);
    assert_int_equal(num(d, "dead"), 1);
    json_decref(doc);
}

static void test_events_filters(void **state)
{
    fx *f = *state;
    hookd_spool_cmd_args a = args(f);
    a.type = "tier.*";
    json_t *doc = run_json(hookd_spool_cmd_events, a);
    assert_int_equal(json_array_size(doc), 1);
    assert_string_equal(str(json_array_get(doc, 0), "id"), EV_A);
    json_decref(doc);

    a = args(f);
    a.since = "1h";
    doc = run_json(hookd_spool_cmd_events, a);
    assert_int_equal(json_array_size(doc), 1);
    assert_string_equal(str(json_array_get(doc, 0), "id"), EV_B);
    json_decref(doc);

    a = args(f);
    a.limit = 1;
    doc = run_json(hookd_spool_cmd_events, a);
    assert_int_equal(json_array_size(doc), 1);
    assert_string_equal(str(json_array_get(doc, 0), "id"), EV_B);
    json_decref(doc);

    a = args(f);
    a.type = "' OR 1=1 --"; /* bound, never spliced */
    doc = run_json(hookd_spool_cmd_events, a);
    assert_int_equal(json_array_size(doc), 0);
    json_decref(doc);

    a = args(f);
    a.since = "yesterday";
    expect_fail(hookd_spool_cmd_events, &a, 2,
                "hookd: --since \"yesterday\" is not a duration (e.g. 30s, 15m, 2h, 7d)\n");
}

static void test_events_default_limit(void **state)
{
    fx *f = *state;
    exec_ok(f->db, "WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n"
                   " WHERE i < 79) INSERT INTO events(seq, id, source, type, received_at, body,"
                   " headers) SELECT i, printf('01HF8ZQ6S00000000000000%03d', i), 's', 't', 1,"
                   " x'7b7d', x'' FROM n");
    hookd_spool_cmd_args a = args(f);
    json_t *doc = run_json(hookd_spool_cmd_events, a);
    assert_int_equal(json_array_size(doc), 50);
    assert_string_equal(str(json_array_get(doc, 0), "id"), "01HF8ZQ6S00000000000000079");
    json_decref(doc);
    a.limit = 100000000; /* capped, not refused */
    doc = run_json(hookd_spool_cmd_events, a);
    assert_int_equal(json_array_size(doc), 72);
    json_decref(doc);
}

static void test_events_text(void **state)
{
    fx *f = *state;
    hookd_spool_cmd_args a = args(f);
    result r = run(hookd_spool_cmd_events, &a);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    char *nl = strchr(r.out, '\n');
    assert_non_null(nl);
    assert_true(strncmp(r.out, "ID", 2) == 0);
    assert_non_null(strstr(r.out, "DELIVERIES"));
    /* Rows are aligned: RECEIVED starts where the header says. */
    size_t col = (size_t)(strstr(r.out, "RECEIVED") - r.out);
    assert_int_equal(col, 26 + 2);
    assert_true(strncmp(nl + 1, EV_B, 26) == 0); /* newest first */
    const char *row_a = strstr(r.out, "\n" EV_A);
    assert_non_null(row_a);
    assert_true(strncmp(row_a + 1 + col, A_ISO "  ctct  ", strlen(A_ISO) + 8) == 0);
    assert_non_null(strstr(row_a, "tier.increase  pending 0 delivered 1 dead 1\n"));
    result_free(&r);

    /* The type comes from the sender: no escape sequence reaches the terminal. */
    exec_ok(f->db, "UPDATE events SET type = 'push' || char(27) || '[2J' WHERE seq = 2");
    r = run(hookd_spool_cmd_events, &a);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "  github  push?[2J  "));
    result_free(&r);

    a.type = "nothing*";
    r = run(hookd_spool_cmd_events, &a);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "no events\n");
    result_free(&r);
}

/* The daemon's open write transaction does not block a reader. */
static void test_events_while_writing(void **state)
{
    fx *f = *state;
    exec_ok(f->db, "BEGIN IMMEDIATE; DELETE FROM deliveries");
    json_t *doc = run_json(hookd_spool_cmd_events, args(f));
    exec_ok(f->db, "ROLLBACK");
    assert_int_equal(json_array_size(doc), 2);
    assert_int_equal(num(json_object_get(json_array_get(doc, 0), "deliveries"), "dead"), 1);
    json_decref(doc);
}

/* ---------- events show ---------- */

static void test_show_json(void **state)
{
    fx *f = *state;
    hookd_spool_cmd_args a = args(f);
    char *ids[] = {EV_A};
    a.ids = ids;
    a.nids = 1;
    json_t *doc = run_json(hookd_spool_cmd_show, a);
    assert_string_equal(str(doc, "id"), EV_A);
    assert_string_equal(str(doc, "source"), "ctct");
    assert_string_equal(str(doc, "received_at"), A_ISO);
    assert_string_equal(str(doc, "body"), "{\"a\":1}");
    const json_t *h = json_object_get(doc, "headers");
    assert_int_equal(json_object_size(h), 2);
    assert_string_equal(str(h, "content-type"), "application/json");
    assert_string_equal(str(h, "x-dup"), "a, b");

    const json_t *dels = json_object_get(doc, "deliveries");
    assert_int_equal(json_array_size(dels), 2);
    const json_t *d1 = json_array_get(dels, 0), *d2 = json_array_get(dels, 1);
    assert_int_equal(num(d1, "id"), 1);
    assert_string_equal(str(d1, "plugin"), "file");
    assert_string_equal(str(d1, "state"), "delivered");
    assert_true(json_is_null(json_object_get(d1, "reason")));
    assert_true(json_is_null(json_object_get(d1, "next_at")));
    assert_int_equal(num(d2, "id"), 2);
    assert_string_equal(str(d2, "state"), "dead");
    assert_int_equal(num(d2, "attempts"), 3);
    assert_string_equal(str(d2, "reason"), "exit 1");
    assert_string_equal(str(d2, "updated_at"), "2023-11-14T22:13:29.000Z");
    assert_true(json_is_null(json_object_get(d2, "next_at"))); /* dead: no next */

    const json_t *hist = json_object_get(d2, "history");
    assert_int_equal(json_array_size(hist), 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(num(json_array_get(hist, i), "n"), (json_int_t)i + 1);
    const json_t *h1 = json_array_get(hist, 0), *h3 = json_array_get(hist, 2);
    assert_string_equal(str(h1, "started_at"), "2023-11-14T22:13:20.200Z");
    assert_int_equal(num(h1, "duration_ms"), 10);
    assert_string_equal(str(h1, "result"), "retry");
    assert_string_equal(str(h1, "retry_at"), "2023-11-14T22:13:21.000Z");
    assert_string_equal(str(h3, "result"), "fail");
    assert_true(json_is_null(json_object_get(h3, "retry_at")));
    json_decref(doc);

    ids[0] = EV_B; /* pending: next_at shown; body with UTF-8; no headers */
    doc = run_json(hookd_spool_cmd_show, a);
    assert_string_equal(str(doc, "body"), "{\"b\":\"\xc3\xa9\"}");
    assert_int_equal(json_object_size(json_object_get(doc, "headers")), 0);
    const json_t *p = json_array_get(json_object_get(doc, "deliveries"), 0);
    assert_string_equal(str(p, "state"), "pending");
    assert_string_equal(str(p, "next_at"), "2100-01-01T00:00:00.000Z");
    json_decref(doc);
}

static void test_show_text(void **state)
{
    fx *f = *state;
    hookd_spool_cmd_args a = args(f);
    char *ids[] = {EV_A};
    a.ids = ids;
    a.nids = 1;
    result r = run(hookd_spool_cmd_show, &a);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    assert_non_null(strstr(r.out, EV_A "  " A_ISO "  ctct  tier.increase"));
    assert_non_null(strstr(r.out, "  exec: dead, 3 attempts, last reason exit 1\n"));
    assert_non_null(strstr(r.out, "  file: delivered, 1 attempt\n"));
    assert_non_null(strstr(r.out, "    #1  2023-11-14T22:13:20.200Z  10 ms  retry  exit 1"
                                  "  (retry at 2023-11-14T22:13:21.000Z)\n"));
    assert_non_null(strstr(r.out, "    #3  2023-11-14T22:13:25.000Z  30 ms  fail  exit 1\n"));
    result_free(&r);
}

static void test_show_errors(void **state)
{
    fx *f = *state;
    hookd_spool_cmd_args a = args(f);
    char *ids[] = {EV_NONE, EV_A};
    a.ids = ids;
    a.nids = 1;
    expect_fail(hookd_spool_cmd_show, &a, 1, "hookd: no event " EV_NONE " in the spool\n");
    a.nids = 2;
    expect_fail(hookd_spool_cmd_show, &a, 2, "hookd: events show takes one event id\n");
    a.nids = 0;
    expect_fail(hookd_spool_cmd_show, &a, 2, "hookd: events show takes one event id\n");
    a.nids = 1;
    static const char *const bad[] = {
        "01jdq8x9y7z6w5v4t3s2r1q0p9", /* lower case */
        "01JDQ8X9Y7Z6W5V4T3S2R1Q0PU", /* U is not Crockford */
        "01JDQ8X9Y7Z6W5V4T3S2R1Q0P",  /* 25 */
        "01JDQ8X9Y7Z6W5V4T3S2R1Q0P99", /* 27 */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "hookd: \"%s\" is not an event id (26 characters of Crockford base32,"
                 " upper case)\n", bad[i]);
        ids[0] = (char *)bad[i];
        expect_fail(hookd_spool_cmd_show, &a, 2, msg);
    }
}

/* ---------- dead ---------- */

static void test_dead(void **state)
{
    fx *f = *state;
    hookd_spool_cmd_args a = args(f);
    json_t *doc = run_json(hookd_spool_cmd_dead, a);
    assert_int_equal(json_array_size(doc), 2);
    const json_t *first = json_array_get(doc, 0), *second = json_array_get(doc, 1);
    assert_int_equal(num(first, "delivery"), 4); /* oldest updated first */
    assert_string_equal(str(first, "event"), EV_B);
    assert_string_equal(str(first, "source"), "github");
    assert_string_equal(str(first, "type"), "push");
    assert_string_equal(str(first, "plugin"), "exec");
    assert_int_equal(num(first, "attempts"), 2);
    assert_string_equal(str(first, "reason"), "timeout");
    assert_string_equal(str(first, "at"), "2023-11-14T22:13:21.000Z");
    assert_int_equal(num(second, "delivery"), 2);
    json_decref(doc);

    a.limit = 1;
    doc = run_json(hookd_spool_cmd_dead, a);
    assert_int_equal(json_array_size(doc), 1);
    assert_int_equal(num(json_array_get(doc, 0), "delivery"), 4);
    json_decref(doc);

    a = args(f);
    a.plugin = "file";
    doc = run_json(hookd_spool_cmd_dead, a);
    assert_int_equal(json_array_size(doc), 0);
    json_decref(doc);
    result r = run(hookd_spool_cmd_dead, &a);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "no dead letters\n");
    result_free(&r);

    a.plugin = NULL;
    r = run(hookd_spool_cmd_dead, &a);
    assert_int_equal(r.code, 0);
    assert_true(strncmp(r.out, "DELIVERY  EVENT", 15) == 0);
    assert_non_null(strstr(r.out, "\n4         " EV_B "  github  push"));
    assert_non_null(strstr(r.out, "timeout\n"));
    result_free(&r);
}

/* ---------- replay ---------- */

static void expect_replayed(fx *f, int64_t id, int64_t attempts, int64_t t0, int64_t t1)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT state = 'pending' AND claim IS NULL AND round_start = %" PRId64
             " AND attempts = %" PRId64 " AND next_at BETWEEN %" PRId64 " AND %" PRId64
             " AND updated_at = next_at FROM deliveries WHERE id = %" PRId64,
             attempts, attempts, t0, t1, id);
    if (query_int(f, sql) != 1)
        fail_msg("delivery %" PRId64 " was not replayed", id);
}

static void test_replay_dead(void **state)
{
    fx *f = *state;
    hookd_spool_cmd_args a = args(f);
    a.dead = 1;
    a.plugin = "exec";
    exec_ok(f->db, "UPDATE deliveries SET plugin = 'file' WHERE id = 4");
    int64_t t0 = hookd_now_ms();
    json_t *doc = run_json(hookd_spool_cmd_replay, a);
    int64_t t1 = hookd_now_ms();
    assert_int_equal(num(doc, "replayed"), 1);
    json_decref(doc);
    expect_replayed(f, 2, 3, t0, t1);
    assert_int_equal(query_int(f, "SELECT state = 'dead' AND claim IS NULL FROM deliveries"
                                  " WHERE id = 4"), 1);
    assert_int_equal(query_int(f, "SELECT count(*) FROM attempts"), 7); /* history kept */

    a.plugin = NULL;
    result r = run(hookd_spool_cmd_replay, &a);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "replayed 1 delivery (a running hookd picks it up within a"
                               " second; otherwise the next start does)\n");
    result_free(&r);
    expect_replayed(f, 4, 2, t0, hookd_now_ms());

    r = run(hookd_spool_cmd_replay, &a); /* nothing left */
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "replayed 0 deliveries\n");
    result_free(&r);
}

static void test_replay_ids(void **state)
{
    fx *f = *state;
    hookd_spool_cmd_args a = args(f);
    char *ids[] = {EV_A, EV_B, EV_A};
    a.ids = ids;
    a.nids = 3;
    int64_t t0 = hookd_now_ms();
    result r = run(hookd_spool_cmd_replay, &a);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    assert_string_equal(r.out, "replayed 3 deliveries (a running hookd picks them up within"
                               " a second; otherwise the next start does)\n");
    result_free(&r);
    int64_t t1 = hookd_now_ms();
    expect_replayed(f, 1, 1, t0, t1); /* delivered ones too */
    expect_replayed(f, 2, 3, t0, t1);
    expect_replayed(f, 4, 2, t0, t1);
    /* A pending one is left alone: the daemon holding it would run it twice. */
    assert_int_equal(query_int(f, "SELECT claim = 9 AND next_at = 4102444800000"
                                  " FROM deliveries WHERE id = 3"), 1);
}

static void test_replay_unknown_changes_nothing(void **state)
{
    fx *f = *state;
    char *before = snapshot(f);
    hookd_spool_cmd_args a = args(f);
    char *ids[] = {EV_A, EV_NONE};
    a.ids = ids;
    a.nids = 2;
    expect_fail(hookd_spool_cmd_replay, &a, 1, "hookd: no event " EV_NONE " in the spool\n");
    char *after = snapshot(f);
    assert_string_equal(after, before);
    free(before);
    free(after);
}

static void test_replay_usage(void **state)
{
    fx *f = *state;
    char *before = snapshot(f);
    hookd_spool_cmd_args a = args(f);
    expect_fail(hookd_spool_cmd_replay, &a, 2, "hookd: replay needs event ids or --dead\n");
    char *ids[] = {EV_A, "nope"};
    a.ids = ids;
    a.nids = 1;
    a.dead = 1;
    expect_fail(hookd_spool_cmd_replay, &a, 2, "hookd: replay takes event ids or --dead, not both\n");
    a.dead = 0;
    a.plugin = "exec";
    expect_fail(hookd_spool_cmd_replay, &a, 2, "hookd: --plugin goes with replay --dead\n");
    a.plugin = NULL;
    a.nids = 2;
    expect_fail(hookd_spool_cmd_replay, &a, 2,
                "hookd: \"nope\" is not an event id (26 characters of Crockford base32,"
                " upper case)\n");
    char *after = snapshot(f);
    assert_string_equal(after, before);
    free(before);
    free(after);
}

/* ---------- failures ---------- */

static void test_no_spool(void **state)
{
    fx *f = *state;
    char path[128], msg[200];
    snprintf(path, sizeof path, "%s/missing.db", f->dir);
    snprintf(msg, sizeof msg, "hookd: no spool at %s\n", path);
    char *ids[] = {EV_A};
    hookd_spool_cmd_args a = {.spool_path = path, .ids = ids, .nids = 1};
    expect_fail(hookd_spool_cmd_events, &a, 1, msg);
    expect_fail(hookd_spool_cmd_show, &a, 1, msg);
    expect_fail(hookd_spool_cmd_replay, &a, 1, msg);
    a.nids = 0;
    expect_fail(hookd_spool_cmd_dead, &a, 1, msg);
    a.dead = 1;
    expect_fail(hookd_spool_cmd_replay, &a, 1, msg);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0); /* never created */
}

/* A file that is no spool: every command reports SQLite's reason. */
static void test_sqlite_error(void **state)
{
    fx *f = *state;
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/other.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "CREATE TABLE t(x)");
    sqlite3_close(db);
    char *ids[] = {EV_A};
    hookd_spool_cmd_args a = {.spool_path = path, .ids = ids, .nids = 1};
    cmd_fn cmds[] = {hookd_spool_cmd_events, hookd_spool_cmd_show, hookd_spool_cmd_replay, hookd_spool_cmd_dead};
    for (size_t i = 0; i < 4; i++) {
        a.nids = i == 3 ? 0 : 1;
        result r = run(cmds[i], &a);
        snprintf(want, sizeof want, "hookd: spool %s: no such table: ", path);
        if (r.code != 1 || strncmp(r.err, want, strlen(want)) != 0)
            fail_msg("command %zu: exit %d, stderr \"%s\"", i, r.code, r.err);
        assert_string_equal(r.out, "");
        result_free(&r);
    }
    unlink(path);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_events_json),     T(test_events_filters),
        T(test_events_default_limit), T(test_events_text),
        T(test_events_while_writing), T(test_show_json),
        T(test_show_text),       T(test_show_errors),
        T(test_dead),            T(test_replay_dead),
        T(test_replay_ids),      T(test_replay_unknown_changes_nothing),
        T(test_replay_usage),    T(test_no_spool),
        T(test_sqlite_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

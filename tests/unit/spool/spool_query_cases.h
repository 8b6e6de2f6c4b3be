/* spool_query_cases: the cases of core/spool/spool_query.h that both
 * drivers must pass alike, over one fixture (below), written once and run by
 * test_spool_query.c (SQLite) and test_spool_query_pg.c (PostgreSQL). The
 * including file defines the backend B before including this. */
#ifndef HOOKD_SPOOL_QUERY_CASES_H
#define HOOKD_SPOOL_QUERY_CASES_H

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "base/clock.h"
#include "spool/spool_query.h"

typedef struct backend {
    /* sql with every '@' made the table prefix ("" or "hookd_"). */
    void (*exec)(const char *sql);
    long long (*num)(const char *sql); /* first column of the first row */
    void (*put_event)(int64_t seq, const char *id, const char *src, const char *type,
                      int64_t at, const void *body, size_t blen, const void *hdrs, size_t hlen,
                      const char *enrichment);
    hookd_spool_q *(*open)(int writable);
} backend;

static const backend B;

#define EV_A "01HF8ZQ6S0000000000000000A" /* old: 2023-11-14, dead + delivered */
#define EV_B "01JDQ8X9Y7Z6W5V4T3S2R1Q0P9" /* pending + delivered + dead */
#define EV_C "01JDQ8X9Y7Z6W5V4T3S2R1Q0PC" /* no deliveries */
#define EV_E "01JDQ8X9Y7Z6W5V4T3S2R1Q0PE" /* all delivered */
#define EV_NONE "01JDQ8X9Y7Z6W5V4T3S2R1Q0PX"
#define A_AT 1700000000123LL
#define A_ISO "2023-11-14T22:13:20.123Z"

static int64_t now; /* the fixture's */

static json_t *sq_want_time(int64_t ms)
{
    char buf[32];
    hookd_format_iso8601_ms(ms, buf);
    return json_string(buf);
}

static void execf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void execf(const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    B.exec(sql);
}

static long long numf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long numf(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return B.num(sql);
}

/* The rows (the tables are empty before). */
static void fixture(void)
{
    static const char hdrs[] = "content-type\0application/json\0x-dup\0a\0x-dup\0b\0";
    now = hookd_now_ms();
    B.put_event(1, EV_A, "ctct", "tier.increase", A_AT, "{\"a\":1}", 7, hdrs, sizeof hdrs - 1,
                "{\"ctct\":{\"plan\":\"gold\"}}");
    B.put_event(2, EV_B, "github", "push", now - 1000, "\xff\xfe", 2, "", 0, NULL);
    B.put_event(3, EV_C, "ctct", "tier[1]", now - 500, "", 0, "", 0, NULL);
    B.put_event(4, EV_E, "ctct", "tier.decrease", now - 400, "{}", 2, "", 0, NULL);
    execf("INSERT INTO @deliveries(id, event, plugin, state, attempts, round_start, next_at,"
          " updated_at, reason, claim) VALUES"
          " (1, 1, 'file', 'delivered', 1, 0, 1700000000200, 1700000000300, NULL, NULL),"
          " (2, 1, 'exec', 'dead', 3, 0, 1700000009000, 1700000009000, 'exit 1', 7),"
          " (3, 2, 'file', 'pending', 1, 0, 4102444800000, %" PRId64 ", 'HTTP 503', 9),"
          " (4, 2, 'exec', 'dead', 2, 0, 1700000001000, 1700000001000, 'timeout', NULL),"
          " (5, 2, 'audit', 'delivered', 1, 0, %" PRId64 ", %" PRId64 ", NULL, NULL),"
          " (6, 4, 'file', 'delivered', 1, 0, %" PRId64 ", %" PRId64 ", NULL, NULL)",
          now - 900, now - 800, now - 800, now - 300, now - 300);
    execf("INSERT INTO @attempts(delivery, n, started_at, duration_ms, result, reason, retry_at)"
          " VALUES (1, 1, 1700000000200, 12, 'ok', NULL, NULL),"
          " (2, 2, 1700000002000, 20, 'retry', 'exit 1', 1700000005000),"
          " (2, 1, 1700000000200, 10, 'retry', 'exit 1', 1700000001000),"
          " (2, 3, 1700000005000, 30, 'fail', 'exit 1', NULL),"
          " (3, 1, %" PRId64 ", 50, 'retry', 'HTTP 503', 4102444800000),"
          " (4, 1, 1700000000220, 5000, 'retry', 'timeout', 1700000000500),"
          " (4, 2, 1700000000500, 5000, 'fail', 'timeout', NULL),"
          " (5, 1, %" PRId64 ", 3, 'ok', NULL, NULL),"
          " (6, 1, %" PRId64 ", 2, 'ok', NULL, NULL)",
          now - 950, now - 850, now - 350);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (!s)
        fail_msg("no string \"%s\"", k);
    return s;
}

static long long num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("no integer \"%s\"", k);
    return json_integer_value(v);
}

/* The ids (or "delivery" numbers) of rows, joined with ','. */
static char *ids_of(const json_t *rows, const char *key)
{
    static char buf[2048];
    size_t i, w = 0;
    const json_t *r;
    buf[0] = '\0';
    json_array_foreach(rows, i, r) {
        const json_t *v = json_object_get(r, key);
        w += (size_t)snprintf(buf + w, sizeof buf - w, "%s", i ? "," : "");
        if (json_is_integer(v))
            w += (size_t)snprintf(buf + w, sizeof buf - w, "%lld",
                                  (long long)json_integer_value(v));
        else
            w += (size_t)snprintf(buf + w, sizeof buf - w, "%s", json_string_value(v));
    }
    return buf;
}

/* Lists with f; the rows' ids. */
static const char *events_ids(hookd_spool_q *q, hookd_spool_filter f)
{
    json_t *rows = NULL;
    char *next = NULL;
    int rc = hookd_spool_q_events(q, &f, &rows, &next);
    if (rc)
        fail_msg("events: %d %s", rc, hookd_spool_q_error(q));
    const char *ids = ids_of(rows, "id");
    json_decref(rows);
    free(next);
    return ids;
}

static const char *dead_ids(hookd_spool_q *q, hookd_spool_filter f)
{
    json_t *rows = NULL;
    char *next = NULL;
    int rc = hookd_spool_q_dead(q, &f, &rows, &next);
    if (rc)
        fail_msg("dead: %d %s", rc, hookd_spool_q_error(q));
    const char *ids = ids_of(rows, "delivery");
    json_decref(rows);
    free(next);
    return ids;
}

static void case_events(void **state)
{
    (void)state;
    hookd_spool_q *q = B.open(0);
    json_t *rows = NULL;
    char *next = NULL;
    hookd_spool_filter f = HOOKD_SPOOL_FILTER_ANY;
    assert_int_equal(hookd_spool_q_events(q, &f, &rows, &next), 0);
    assert_null(next);
    assert_string_equal(ids_of(rows, "id"), EV_E "," EV_C "," EV_B "," EV_A); /* newest first */
    const json_t *a = json_array_get(rows, 3), *b = json_array_get(rows, 2);
    assert_string_equal(str(a, "source"), "ctct");
    assert_string_equal(str(a, "type"), "tier.increase");
    assert_string_equal(str(a, "received_at"), A_ISO);
    assert_string_equal(str(a, "status"), "dead");
    assert_int_equal(num(json_object_get(a, "deliveries"), "delivered"), 1);
    assert_int_equal(num(json_object_get(a, "deliveries"), "dead"), 1);
    assert_int_equal(num(json_object_get(a, "deliveries"), "pending"), 0);
    assert_string_equal(str(b, "status"), "pending");
    assert_string_equal(str(json_array_get(rows, 1), "status"), "none");
    assert_string_equal(str(json_array_get(rows, 0), "status"), "delivered");
    json_decref(rows);

    f.source = "github";
    assert_string_equal(events_ids(q, f), EV_B);
    f.source = "' OR 1=1 --"; /* bound, never spliced */
    assert_string_equal(events_ids(q, f), "");
    f = (hookd_spool_filter)HOOKD_SPOOL_FILTER_ANY;
    f.type = "tier.*";
    assert_string_equal(events_ids(q, f), EV_E "," EV_A);
    f.type = "tier*";
    assert_string_equal(events_ids(q, f), EV_E "," EV_C "," EV_A);
    f.type = "tier[1]"; /* a bracket is itself */
    assert_string_equal(events_ids(q, f), EV_C);
    f.type = "tier.?ncrease";
    assert_string_equal(events_ids(q, f), EV_A);
    f.type = "tier%"; /* no SQL wildcard */
    assert_string_equal(events_ids(q, f), "");
    f.type = "tier_increase";
    assert_string_equal(events_ids(q, f), "");
    f.type = "push";
    assert_string_equal(events_ids(q, f), EV_B);
    f = (hookd_spool_filter)HOOKD_SPOOL_FILTER_ANY;
    f.status = "pending";
    assert_string_equal(events_ids(q, f), EV_B);
    f.status = "dead";
    assert_string_equal(events_ids(q, f), EV_B "," EV_A);
    f.status = "delivered";
    assert_string_equal(events_ids(q, f), EV_E);
    f.status = "stuck";
    assert_int_equal(hookd_spool_q_events(q, &f, &rows, &next), -EINVAL);
    assert_null(rows);
    assert_non_null(strstr(hookd_spool_q_error(q), "stuck"));
    f = (hookd_spool_filter)HOOKD_SPOOL_FILTER_ANY;
    f.plugin = "audit";
    assert_string_equal(events_ids(q, f), EV_B);
    f.plugin = NULL;
    f.since_ms = now - 600;
    assert_string_equal(events_ids(q, f), EV_E "," EV_C);
    f.since_ms = now + 1000;
    assert_string_equal(events_ids(q, f), "");
    hookd_spool_q_close(q);
}

/* Pages of 1 and of 3 give every row once, in order; bad cursors refused. */
static void case_events_pages(void **state)
{
    (void)state;
    hookd_spool_q *q = B.open(0);
    hookd_spool_filter f = HOOKD_SPOOL_FILTER_ANY;
    char seen[512] = "", *cursor = NULL;
    int pages = 0;
    f.limit = 1;
    do {
        json_t *rows = NULL;
        char *next = NULL;
        f.cursor = cursor;
        assert_int_equal(hookd_spool_q_events(q, &f, &rows, &next), 0);
        assert_int_equal(json_array_size(rows), 1);
        strcat(seen, str(json_array_get(rows, 0), "id"));
        strcat(seen, ",");
        json_decref(rows);
        free(cursor);
        cursor = next;
        pages++;
    } while (cursor && pages < 10);
    assert_int_equal(pages, 4);
    assert_string_equal(seen, EV_E "," EV_C "," EV_B "," EV_A ",");

    f.limit = 3;
    f.cursor = NULL;
    json_t *rows = NULL;
    char *next = NULL;
    assert_int_equal(hookd_spool_q_events(q, &f, &rows, &next), 0);
    assert_int_equal(json_array_size(rows), 3);
    assert_non_null(next);
    json_decref(rows);
    f.cursor = next;
    assert_string_equal(events_ids(q, f), EV_A);
    free(next);

    f.limit = 2;
    f.max_limit = 1; /* clamped to the caller's maximum */
    f.cursor = NULL;
    assert_string_equal(events_ids(q, f), EV_E);

    static const char *const bad[] = {"", "x", "-1", "01", "1.2", "2 ", "+3",
                                      "99999999999999999999", "1;DROP TABLE events"};
    f = (hookd_spool_filter)HOOKD_SPOOL_FILTER_ANY;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f.cursor = bad[i];
        rows = NULL;
        if (hookd_spool_q_events(q, &f, &rows, &next) != -EINVAL)
            fail_msg("cursor \"%s\" taken", bad[i]);
        assert_null(rows);
        assert_null(next);
    }
    static const char *const bad_dead[] = {"5", "5.", ".5", "5.x", "5.5.5", "a.1", "-1.2"};
    for (size_t i = 0; i < sizeof bad_dead / sizeof bad_dead[0]; i++) {
        f.cursor = bad_dead[i];
        if (hookd_spool_q_dead(q, &f, &rows, &next) != -EINVAL)
            fail_msg("dead cursor \"%s\" taken", bad_dead[i]);
    }
    hookd_spool_q_close(q);
}

/* More rows than the API's maximum: clamped to HOOKD_SPOOL_Q_MAX, with a
 * next page. */
static void case_limit_max(void **state)
{
    (void)state;
    B.exec("BEGIN");
    for (int i = 0; i < HOOKD_SPOOL_Q_MAX + 2; i++) {
        char id[32];
        snprintf(id, sizeof id, "01HF8ZQ6S0000000000000%04d", i);
        B.put_event(100 + i, id, "bulk", "t", 1, "{}", 2, "", 0, NULL);
    }
    B.exec("COMMIT");
    hookd_spool_q *q = B.open(0);
    hookd_spool_filter f = HOOKD_SPOOL_FILTER_ANY;
    json_t *rows = NULL;
    char *next = NULL;
    f.source = "bulk";
    f.limit = 100000;
    assert_int_equal(hookd_spool_q_events(q, &f, &rows, &next), 0);
    assert_int_equal(json_array_size(rows), HOOKD_SPOOL_Q_MAX);
    assert_non_null(next);
    json_decref(rows);
    f.cursor = next;
    assert_int_equal(hookd_spool_q_events(q, &f, &rows, &next), 0);
    assert_int_equal(json_array_size(rows), 2);
    assert_null(next);
    free((char *)f.cursor);
    json_decref(rows);
    f = (hookd_spool_filter)HOOKD_SPOOL_FILTER_ANY;
    f.source = "bulk";
    assert_int_equal(hookd_spool_q_events(q, &f, &rows, &next), 0);
    assert_int_equal(json_array_size(rows), HOOKD_SPOOL_Q_DEFAULT); /* limit 0: default */
    json_decref(rows);
    free(next);
    hookd_spool_q_close(q);
}

static void case_event(void **state)
{
    (void)state;
    hookd_spool_q *q = B.open(0);
    json_t *doc = NULL;
    assert_int_equal(hookd_spool_q_event(q, EV_A, &doc), 0);
    assert_string_equal(str(doc, "id"), EV_A);
    assert_string_equal(str(doc, "received_at"), A_ISO);
    assert_string_equal(str(doc, "body"), "{\"a\":1}");
    assert_true(json_is_null(json_object_get(doc, "body_base64")));
    const json_t *h = json_object_get(doc, "headers");
    assert_string_equal(str(h, "content-type"), "application/json");
    assert_string_equal(str(h, "x-dup"), "a, b");
    assert_string_equal(str(json_object_get(json_object_get(doc, "enrichment"), "ctct"), "plan"),
                        "gold");
    const json_t *dels = json_object_get(doc, "deliveries");
    assert_int_equal(json_array_size(dels), 2);
    const json_t *d = json_array_get(dels, 1);
    assert_int_equal(num(d, "id"), 2);
    assert_string_equal(str(d, "plugin"), "exec");
    assert_string_equal(str(d, "state"), "dead");
    assert_int_equal(num(d, "attempts"), 3);
    assert_true(json_is_null(json_object_get(d, "next_at"))); /* not pending */
    assert_string_equal(str(d, "reason"), "exit 1");
    const json_t *hist = json_object_get(d, "history");
    assert_int_equal(json_array_size(hist), 3);
    assert_int_equal(num(json_array_get(hist, 0), "n"), 1); /* by n */
    assert_string_equal(str(json_array_get(hist, 0), "retry_at"), "2023-11-14T22:13:21.000Z");
    assert_string_equal(str(json_array_get(hist, 2), "result"), "fail");
    assert_true(json_is_null(json_object_get(json_array_get(hist, 2), "retry_at")));
    assert_int_equal(num(json_array_get(hist, 2), "duration_ms"), 30);
    json_decref(doc);

    assert_int_equal(hookd_spool_q_event(q, EV_B, &doc), 0);
    assert_true(json_is_null(json_object_get(doc, "body")));
    assert_string_equal(str(doc, "body_base64"), "//4=");
    assert_true(json_is_null(json_object_get(doc, "enrichment")));
    assert_int_equal(json_object_size(json_object_get(doc, "headers")), 0);
    d = json_array_get(json_object_get(doc, "deliveries"), 0);
    assert_string_equal(str(d, "next_at"), "2100-01-01T00:00:00.000Z"); /* pending */
    json_decref(doc);

    assert_int_equal(hookd_spool_q_event(q, EV_C, &doc), 0);
    assert_string_equal(str(doc, "body"), "");
    assert_int_equal(json_array_size(json_object_get(doc, "deliveries")), 0);
    json_decref(doc);

    assert_int_equal(hookd_spool_q_event(q, EV_NONE, &doc), -ENOENT);
    assert_null(doc);
    assert_string_equal(hookd_spool_q_error(q), "no event " EV_NONE " in the spool");
    assert_int_equal(hookd_spool_q_event(q, "01jdq8x9y7z6w5v4t3s2r1q0p9", &doc), -EINVAL);
    assert_int_equal(hookd_spool_q_event(q, "' OR 1=1 --", &doc), -EINVAL);
    assert_null(doc);
    hookd_spool_q_close(q);
}

static void case_dead(void **state)
{
    (void)state;
    hookd_spool_q *q = B.open(0);
    hookd_spool_filter f = HOOKD_SPOOL_FILTER_ANY;
    json_t *rows = NULL;
    char *next = NULL;
    assert_int_equal(hookd_spool_q_dead(q, &f, &rows, &next), 0);
    assert_null(next);
    assert_string_equal(ids_of(rows, "delivery"), "4,2"); /* oldest first */
    const json_t *r = json_array_get(rows, 0);
    assert_string_equal(str(r, "event"), EV_B);
    assert_string_equal(str(r, "source"), "github");
    assert_string_equal(str(r, "type"), "push");
    assert_string_equal(str(r, "plugin"), "exec");
    assert_int_equal(num(r, "attempts"), 2);
    assert_string_equal(str(r, "reason"), "timeout");
    assert_string_equal(str(r, "at"), "2023-11-14T22:13:21.000Z");
    json_decref(rows);
    f.source = "ctct";
    assert_string_equal(dead_ids(q, f), "2");
    f.source = NULL;
    f.type = "tier.*";
    assert_string_equal(dead_ids(q, f), "2");
    f.type = NULL;
    f.plugin = "file";
    assert_string_equal(dead_ids(q, f), "");
    hookd_spool_q_close(q);

    /* Pages across equal times: (updated_at, id) orders them. */
    execf("UPDATE @deliveries SET state = 'dead', updated_at = 1700000001000"
          " WHERE id IN (1, 5, 6)");
    q = B.open(0);
    f = (hookd_spool_filter)HOOKD_SPOOL_FILTER_ANY;
    f.limit = 2;
    char seen[64] = "", *cursor = NULL;
    for (int page = 0; page < 5; page++) {
        f.cursor = cursor;
        assert_int_equal(hookd_spool_q_dead(q, &f, &rows, &next), 0);
        strcat(seen, ids_of(rows, "delivery"));
        strcat(seen, "|");
        json_decref(rows);
        free(cursor);
        cursor = next;
        if (!cursor)
            break;
    }
    assert_string_equal(seen, "1,4|5,6|2|");
    hookd_spool_q_close(q);
}

/* A delivery made pending as a new round, due between t0 and t1. */
static void expect_replayed(int64_t id, int64_t attempts, int64_t t0, int64_t t1)
{
    if (numf("SELECT count(*) FROM @deliveries WHERE id = %" PRId64 " AND state = 'pending'"
             " AND claim IS NULL AND round_start = %" PRId64 " AND attempts = %" PRId64
             " AND next_at BETWEEN %" PRId64 " AND %" PRId64 " AND updated_at = next_at",
             id, attempts, attempts, t0, t1) != 1)
        fail_msg("delivery %" PRId64 " was not replayed", id);
}

static void case_replay_events(void **state)
{
    (void)state;
    hookd_spool_q *q = B.open(1);
    int64_t n = -1, t0 = hookd_now_ms();
    const char *ids[] = {EV_A, EV_B, EV_A};
    assert_int_equal(hookd_spool_q_replay_events(q, ids, 3, NULL, 0, &n), 0);
    int64_t t1 = hookd_now_ms();
    assert_int_equal(n, 4); /* A: 1, 2; B: 4, 5 — an id twice counts once */
    expect_replayed(1, 1, t0, t1);
    expect_replayed(2, 3, t0, t1);
    expect_replayed(4, 2, t0, t1);
    expect_replayed(5, 1, t0, t1);
    /* The pending one is left alone: a daemon may hold it. */
    assert_int_equal(numf("SELECT count(*) FROM @deliveries WHERE id = 3 AND claim = 9"
                          " AND next_at = 4102444800000"), 1);
    assert_int_equal(numf("SELECT count(*) FROM @attempts"), 9); /* history kept */

    /* Only some instances; an unknown id replays nothing. */
    const char *plugins[] = {"file"};
    const char *e[] = {EV_E};
    assert_int_equal(hookd_spool_q_replay_event(q, EV_E, plugins, 1, &n), 0);
    assert_int_equal(n, 1);
    const char *audit[] = {"audit"};
    assert_int_equal(hookd_spool_q_replay_events(q, e, 1, audit, 1, &n), 0);
    assert_int_equal(n, 0);
    execf("UPDATE @deliveries SET state = 'dead' WHERE id = 6");
    const char *two[] = {EV_E, EV_NONE};
    assert_int_equal(hookd_spool_q_replay_events(q, two, 2, NULL, 0, &n), -ENOENT);
    assert_int_equal(n, 0);
    assert_string_equal(hookd_spool_q_error(q), "no event " EV_NONE " in the spool");
    assert_int_equal(numf("SELECT count(*) FROM @deliveries WHERE id = 6 AND state = 'dead'"),
                     1);
    const char *bad[] = {"nope"};
    assert_int_equal(hookd_spool_q_replay_events(q, bad, 1, NULL, 0, &n), -EINVAL);
    assert_int_equal(hookd_spool_q_replay_events(q, bad, 0, NULL, 0, &n), -EINVAL);
    hookd_spool_q_close(q);
}

static void case_replay_dead(void **state)
{
    (void)state;
    hookd_spool_q *q = B.open(1);
    int64_t n = -1, t0 = hookd_now_ms();
    const int64_t some[] = {3, 4, 4, 1}; /* 3 pending, 1 delivered: skipped */
    assert_int_equal(hookd_spool_q_replay_dead(q, NULL, some, 4, &n), 0);
    assert_int_equal(n, 1);
    expect_replayed(4, 2, t0, hookd_now_ms());
    assert_int_equal(numf("SELECT count(*) FROM @deliveries WHERE id = 1 AND state = 'delivered'"),
                     1);
    const int64_t zero[] = {0};
    assert_int_equal(hookd_spool_q_replay_dead(q, NULL, zero, 1, &n), -EINVAL);

    execf("UPDATE @deliveries SET state = 'dead' WHERE id IN (4, 5, 6)");
    hookd_spool_filter f = HOOKD_SPOOL_FILTER_ANY;
    f.plugin = "exec";
    f.source = "ctct";
    assert_int_equal(hookd_spool_q_replay_dead(q, &f, NULL, 0, &n), 0);
    assert_int_equal(n, 1); /* 2 (ctct, exec); not 4 (github) */
    expect_replayed(2, 3, t0, hookd_now_ms());
    f = (hookd_spool_filter)HOOKD_SPOOL_FILTER_ANY;
    f.type = "tier.*";
    assert_int_equal(hookd_spool_q_replay_dead(q, &f, NULL, 0, &n), 0);
    assert_int_equal(n, 1); /* 6 (tier.decrease) */
    assert_int_equal(hookd_spool_q_replay_dead(q, NULL, NULL, 0, &n), 0);
    assert_int_equal(n, 2); /* every other: 4, 5 */
    assert_int_equal(numf("SELECT count(*) FROM @deliveries WHERE state = 'dead'"), 0);
    hookd_spool_q_close(q);
}

static void case_read_only(void **state)
{
    (void)state;
    hookd_spool_q *q = B.open(0);
    int64_t n = -1;
    assert_int_equal(hookd_spool_q_replay_event(q, EV_A, NULL, 0, &n), -EIO);
    assert_int_equal(n, 0);
    assert_true(hookd_spool_q_error(q)[0] != '\0');
    assert_int_equal(numf("SELECT count(*) FROM @deliveries WHERE state = 'pending'"), 1);
    hookd_spool_q_close(q);
}

static void case_stats(void **state)
{
    (void)state;
    hookd_spool_q *q = B.open(0);
    json_t *doc = NULL;
    int rc = hookd_spool_q_stats(q, now, &doc);
    if (rc)
        fail_msg("stats: %d %s", rc, hookd_spool_q_error(q));
    assert_int_equal(num(doc, "pending"), 1);
    assert_int_equal(num(doc, "retrying"), 1);
    assert_int_equal(num(doc, "dead"), 2);
    json_t *b_at = sq_want_time(now - 1000);
    assert_true(json_equal(json_object_get(doc, "oldest_pending_at"), b_at));
    json_decref(b_at);
    const json_t *p = json_object_get(doc, "plugins");
    assert_int_equal(json_object_size(p), 3);
    const json_t *file = json_object_get(p, "file"), *exec = json_object_get(p, "exec");
    const json_t *audit = json_object_get(p, "audit");
    assert_int_equal(num(file, "delivered"), 2);
    assert_int_equal(num(file, "pending"), 1);
    assert_int_equal(num(file, "dead"), 0);
    assert_int_equal(num(file, "ok_1h"), 1);
    assert_int_equal(num(file, "failed_1h"), 1);
    assert_int_equal(num(exec, "dead"), 2);
    assert_int_equal(num(exec, "ok_1h"), 0); /* long ago */
    assert_int_equal(num(exec, "failed_1h"), 0);
    assert_int_equal(num(audit, "delivered"), 1);
    assert_int_equal(num(audit, "ok_1h"), 1);
    const json_t *pm = json_object_get(doc, "per_minute");
    const json_t *counts = json_object_get(pm, "counts");
    assert_int_equal(json_array_size(counts), 60);
    int64_t start = now - now % 60000 - 59 * 60000, want[60] = {0};
    json_t *s = sq_want_time(start);
    assert_true(json_equal(json_object_get(pm, "start"), s));
    json_decref(s);
    want[(now - 1000 - start) / 60000]++;
    want[(now - 500 - start) / 60000]++;
    want[(now - 400 - start) / 60000]++;
    for (int i = 0; i < 60; i++)
        if (json_integer_value(json_array_get(counts, (size_t)i)) != want[i])
            fail_msg("minute %d: %lld, not %" PRId64, i,
                     (long long)json_integer_value(json_array_get(counts, (size_t)i)), want[i]);
    json_decref(doc);
    assert_int_equal(hookd_spool_q_stats(q, 5, &doc), -EINVAL);
    hookd_spool_q_close(q);
}

#define SPOOL_QUERY_CASES(setup, teardown)                                                  \
    cmocka_unit_test_setup_teardown(case_events, setup, teardown),                        \
        cmocka_unit_test_setup_teardown(case_events_pages, setup, teardown),              \
        cmocka_unit_test_setup_teardown(case_limit_max, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(case_event, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(case_dead, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(case_replay_events, setup, teardown),             \
        cmocka_unit_test_setup_teardown(case_replay_dead, setup, teardown),               \
        cmocka_unit_test_setup_teardown(case_read_only, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(case_stats, setup, teardown)

#endif

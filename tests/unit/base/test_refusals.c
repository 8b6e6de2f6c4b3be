/* Unit tests for core/base/refusals.c: the ring of recent refusals and the
 * counts by check (docs/DESIGN.md §12, GET /api/v1/refusals and stats). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/refusals.h"

static int reset(void **state)
{
    (void)state;
    hookd_refusals_reset();
    return 0;
}

static uint64_t count_of(const char *check)
{
    hookd_refusal_count c[HOOKD_REFUSALS_CHECKS];
    size_t n = hookd_refusals_counts(c, HOOKD_REFUSALS_CHECKS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].check, check) == 0)
            return c[i].n;
    return 0;
}

static void test_newest_first(void **state)
{
    (void)state;
    hookd_refusal r[4];
    assert_int_equal(hookd_refusals_recent(r, 4), 0);
    int64_t t0 = hookd_now_ms();
    hookd_refusal_add("ctct", "127.0.0.1:5000", 401, "signature", "signature check failed");
    hookd_refusal_add(NULL, "10.0.0.1:1", 408, "timeout", "header timeout");
    hookd_refusal_add("gh", NULL, 405, "method", "only POST is accepted");
    assert_int_equal(hookd_refusals_recent(r, 4), 3);
    assert_string_equal(r[0].source, "gh");
    assert_string_equal(r[0].peer, "");
    assert_int_equal(r[0].status, 405);
    assert_string_equal(r[0].check, "method");
    assert_string_equal(r[1].source, "");
    assert_string_equal(r[1].reason, "header timeout");
    assert_string_equal(r[2].source, "ctct");
    assert_string_equal(r[2].peer, "127.0.0.1:5000");
    assert_string_equal(r[2].check, "signature");
    assert_true(r[2].at_ms >= t0 && r[2].at_ms <= hookd_now_ms());
    /* fewer asked: the newest */
    assert_int_equal(hookd_refusals_recent(r, 1), 1);
    assert_string_equal(r[0].source, "gh");
}

static void test_bounded(void **state)
{
    (void)state;
    static hookd_refusal r[HOOKD_REFUSALS_KEEP + 10];
    char why[32];
    for (int i = 0; i < HOOKD_REFUSALS_KEEP + 50; i++) {
        snprintf(why, sizeof why, "n%d", i);
        hookd_refusal_add("s", "p", 401, "auth", why);
    }
    size_t n = hookd_refusals_recent(r, HOOKD_REFUSALS_KEEP + 10);
    assert_int_equal(n, HOOKD_REFUSALS_KEEP);
    snprintf(why, sizeof why, "n%d", HOOKD_REFUSALS_KEEP + 49);
    assert_string_equal(r[0].reason, why);
    snprintf(why, sizeof why, "n%d", 50); /* the oldest kept */
    assert_string_equal(r[n - 1].reason, why);
    /* counted past what is kept */
    assert_int_equal(count_of("auth"), HOOKD_REFUSALS_KEEP + 50);
}

static void test_one_line_and_cut(void **state)
{
    (void)state;
    char long_reason[1000];
    memset(long_reason, 'x', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = '\0';
    hookd_refusal_add("a\nb", "p\r", 400, "json", "line one\nline two\tend");
    hookd_refusal_add("s", "p", 400, NULL, long_reason);
    hookd_refusal r[2];
    assert_int_equal(hookd_refusals_recent(r, 2), 2);
    assert_string_equal(r[0].check, "other");
    assert_int_equal(strlen(r[0].reason), sizeof r[0].reason - 1);
    assert_string_equal(r[1].reason, "line one line two end");
    assert_string_equal(r[1].source, "a b");
    assert_string_equal(r[1].peer, "p ");
}

static void test_counts_by_check(void **state)
{
    (void)state;
    hookd_refusal_add("s", "p", 401, "signature", "x");
    hookd_refusal_add("s", "p", 401, "signature", "x");
    hookd_refusal_add("s", "p", 401, "timestamp", "x");
    assert_int_equal(count_of("signature"), 2);
    assert_int_equal(count_of("timestamp"), 1);
    assert_int_equal(count_of("auth"), 0);
    /* more distinct checks than the table holds: the rest count as other */
    char w[16];
    for (int i = 0; i < HOOKD_REFUSALS_CHECKS + 5; i++) {
        snprintf(w, sizeof w, "c%d", i);
        hookd_refusal_add("s", "p", 400, w, "x");
    }
    hookd_refusal_count c[HOOKD_REFUSALS_CHECKS];
    size_t n = hookd_refusals_counts(c, HOOKD_REFUSALS_CHECKS);
    assert_int_equal(n, HOOKD_REFUSALS_CHECKS);
    assert_string_equal(c[n - 1].check, "other");
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += c[i].n;
    assert_int_equal(total, 3 + HOOKD_REFUSALS_CHECKS + 5);
    assert_int_equal(count_of("signature"), 2); /* the names never moved */
}

#define THREADS 4
#define EACH 5000

static void *adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < EACH; i++)
        hookd_refusal_add("s", "p", 401, i % 2 ? "auth" : "signature", "concurrent");
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, adder, NULL), 0);
    hookd_refusal r[HOOKD_REFUSALS_KEEP];
    for (int k = 0; k < 100; k++) { /* readers meanwhile see whole entries */
        size_t n = hookd_refusals_recent(r, HOOKD_REFUSALS_KEEP);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(r[i].reason, "concurrent");
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(count_of("auth") + count_of("signature"), THREADS * EACH);
    assert_int_equal(hookd_refusals_recent(r, HOOKD_REFUSALS_KEEP), HOOKD_REFUSALS_KEEP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_newest_first, reset),
        cmocka_unit_test_setup(test_bounded, reset),
        cmocka_unit_test_setup(test_one_line_and_cut, reset),
        cmocka_unit_test_setup(test_counts_by_check, reset),
        cmocka_unit_test_setup(test_threads, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for core/metrics.c: label escaping, the exposition text and
 * histogram output; reloads free the series they retire, and lose no count. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hookd/plugin.h>

#include "base/metrics.h"
#include "verify/verify.h"

static void test_escape(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(hookd_metrics_escape(out, sizeof out, "a\"b\\c\nd"), 10);
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
    assert_int_equal(hookd_metrics_escape(out, 4, "abcdef"), 6); /* truncated, terminated */
    assert_string_equal(out, "abc");
    assert_int_equal(hookd_metrics_escape(NULL, 0, "x\""), 3);
}

static void test_not_initialised_is_a_no_op(void **state)
{
    (void)state;
    hookd_metrics_request(0, 200, 10);
    hookd_metrics_dead_letter();
    size_t len;
    hookd_metrics_gauges g = {0};
    assert_null(hookd_metrics_render(&g, &len));
}

static int has(const char *text, const char *line)
{
    return strstr(text, line) != NULL;
}

static void test_render(void **state)
{
    (void)state;
    hookd_source_cfg src[1] = {{.name = "we\"ird\\src\n"}};
    hookd_plugin_cfg plug[1] = {{.name = "audit"}};
    hookd_config cfg = {.sources = src, .nsources = 1, .plugins = plug, .nplugins = 1};
    assert_int_equal(hookd_config_metrics(&cfg, 0), 0);

    hookd_metrics_request(0, 200, 400);      /* le 0.0005 */
    hookd_metrics_request(0, 200, 1000);     /* le 0.001 (bounds are inclusive) */
    hookd_metrics_request(0, 401, 20000000); /* +Inf only */
    hookd_metrics_request(0, 418, -1);       /* other, not timed */
    hookd_metrics_request(-1, 404, 3000);
    hookd_metrics_verify_failure(0, hookd_verify_metrics_reason(HOOKD_VERIFY_MISMATCH));
    hookd_metrics_verify_failure(0, HOOKD_MR_BASIC_AUTH);
    hookd_metrics_event_accepted(0, "tier.increase");
    hookd_metrics_event_accepted(0, "something.else");
    hookd_metrics_delivery(&plug[0], plug[0].name, HOOKD_OK, 1500);
    hookd_metrics_delivery(&plug[0], plug[0].name, HOOKD_RETRY, 1500);
    hookd_plugin_cfg stranger = {.name = "x"};
    hookd_metrics_delivery(&stranger, stranger.name, HOOKD_OK, 1); /* not ours: ignored */
    hookd_metrics_dead_letter();
    hookd_metrics_lease_lost();
    hookd_metrics_lease_lost();

    hookd_metrics_gauges g = {.deliveries_pending = 7, .connections_open = 3,
                              .spool_bytes = 4096};
    size_t len = 0;
    char *t = hookd_metrics_render(&g, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
#define S "we\\\"ird\\\\src\\n"
    assert_true(has(t, "# HELP hookd_requests_total "));
    assert_true(has(t, "# TYPE hookd_requests_total counter\n"));
    assert_true(has(t, "\nhookd_requests_total{source=\"" S "\",status=\"200\"} 2\n"));
    assert_true(has(t, "\nhookd_requests_total{source=\"" S "\",status=\"401\"} 1\n"));
    assert_true(has(t, "\nhookd_requests_total{source=\"" S "\",status=\"other\"} 1\n"));
    assert_true(has(t, "\nhookd_requests_total{source=\"\",status=\"404\"} 1\n"));
    assert_true(has(t, "{source=\"" S "\",reason=\"mismatch\"} 1\n"));
    assert_true(has(t, "{source=\"" S "\",reason=\"basic_auth\"} 1\n"));
    assert_true(has(t, "# TYPE hookd_request_duration_seconds histogram\n"));
    const char *h = "hookd_request_duration_seconds_bucket{source=\"" S "\",le=";
    char line[256];
    const struct { const char *le; int n; } want[] = {
        {"0.000500", 1}, {"0.001000", 2}, {"0.002500", 2}, {"10.000000", 2}, {"+Inf", 3}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(line, sizeof line, "%s\"%s\"} %d\n", h, want[i].le, want[i].n);
        assert_true(has(t, line));
    }
    assert_true(has(t, "hookd_request_duration_seconds_sum{source=\"" S "\"} 20.001400\n"));
    assert_true(has(t, "hookd_request_duration_seconds_count{source=\"" S "\"} 3\n"));
    assert_true(has(t, "hookd_request_duration_seconds_count{source=\"\"} 1\n"));
    assert_true(has(t, "{source=\"" S "\",type=\"tier.increase\"} 1\n"));
    assert_true(has(t, "{source=\"" S "\",type=\"other\"} 1\n"));
    assert_true(has(t, "hookd_deliveries_total{plugin=\"audit\",result=\"ok\"} 1\n"));
    assert_true(has(t, "hookd_deliveries_total{plugin=\"audit\",result=\"retry\"} 1\n"));
    assert_true(has(t, "hookd_deliveries_total{plugin=\"audit\",result=\"fail\"} 0\n"));
    assert_true(has(t, "hookd_delivery_duration_seconds_count{plugin=\"audit\"} 2\n"));
    assert_true(has(t, "hookd_delivery_duration_seconds_bucket{plugin=\"audit\",le=\"0.002500\"} 2\n"));
    assert_true(has(t, "\nhookd_deliveries_pending 7\n"));
    assert_true(has(t, "\nhookd_dead_letters 1\n"));
    assert_true(has(t, "# TYPE hookd_lease_lost_total counter\n"));
    assert_true(has(t, "\nhookd_lease_lost_total 2\n"));
    assert_true(has(t, "\nhookd_spool_bytes 4096\n"));
    assert_true(has(t, "\nhookd_connections_open 3\n"));
    assert_true(has(t, "\nhookd_tls_handshake_failures_total 0\n"));
    assert_true(has(t, "hookd_reloads_total{result=\"failed\"} 0\n"));
    assert_int_equal(t[len - 1], '\n');
    assert_false(has(t, "hookd_tls_cert_expiry_seconds")); /* no TLS: no gauge */
#undef S
    free(t);
    hookd_metrics_tls_cert_expiry(1798761600); /* 2027-01-01T00:00:00Z */
    t = hookd_metrics_render(&g, &len);
    assert_non_null(t);
    assert_true(has(t, "# TYPE hookd_tls_cert_expiry_seconds gauge\n"));
    assert_true(has(t, "\nhookd_tls_cert_expiry_seconds 1798761600\n"));
    free(t);
    hookd_metrics_free();
}

/* The value of one exposition line (its whole text before the value). */
static unsigned long long sample(const char *text, const char *series)
{
    char key[512];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *p = strstr(text, key);
    assert_non_null(p);
    return strtoull(p + strlen(key), NULL, 10);
}

/* Two configurations a reload alternates between: "a" and "audit" in both. */
#define JWS .verify = {{.scheme = HOOKD_SCHEME_JWS}}, .nverify = 1
static hookd_source_cfg srcs_one[1] = {{.name = "a", JWS}};
static hookd_source_cfg srcs_two[2] = {{.name = "b"}, {.name = "a", JWS}};
static hookd_plugin_cfg plugs_one[1] = {{.name = "audit"}};
static hookd_plugin_cfg plugs_two[2] = {{.name = "other"}, {.name = "audit"}};
static hookd_config cfg_one = {.sources = srcs_one, .nsources = 1, .plugins = plugs_one,
                               .nplugins = 1};
static hookd_config cfg_two = {.sources = srcs_two, .nsources = 2, .plugins = plugs_two,
                               .nplugins = 2};

static void test_reloads_free_what_they_retire(void **state)
{
    (void)state;
    assert_int_equal(hookd_metrics_live_sets(), 0);
    assert_int_equal(hookd_config_metrics(&cfg_one, 0), 0);
    assert_int_equal(hookd_metrics_live_sets(), 1);
    for (int i = 0; i < 1000; i++) {
        hookd_metrics_request(i % 2 ? 1 : 0, 200, 10); /* "a" of the current one */
        assert_int_equal(hookd_config_metrics(i % 2 ? &cfg_one : &cfg_two, 1), 0);
        /* Nobody else counts: the retired set is freed at once. */
        assert_int_equal(hookd_metrics_live_sets(), 1);
    }
    hookd_metrics_gauges g = {0};
    size_t len;
    char *t = hookd_metrics_render(&g, &len);
    assert_non_null(t);
    assert_int_equal(sample(t, "hookd_requests_total{source=\"a\",status=\"200\"}"), 1000);
    free(t);
    hookd_metrics_free();
    assert_int_equal(hookd_metrics_live_sets(), 0);
}

#define COUNTERS 4
#define PER_COUNTER 100000

static void *count_a_lot(void *arg)
{
    const hookd_plugin_cfg *audit = arg;
    for (int i = 0; i < PER_COUNTER; i++) {
        /* Index 0 is "a" in one configuration and "b" in the other: a
         * source found by name is what stays exact. */
        hookd_metrics_jwks_read("a", 1, 3);
        hookd_metrics_delivery(audit, audit->name, HOOKD_OK, 700);
    }
    return NULL;
}

/* Threads count while the loop reloads: no count is lost (those that land in
 * a retired set after its counts moved are carried over when it is freed),
 * nothing is read after it is freed (ASan), and the sets end up freed. */
static void test_reloads_under_load_lose_nothing(void **state)
{
    (void)state;
    assert_int_equal(hookd_config_metrics(&cfg_one, 0), 0);
    pthread_t th[COUNTERS];
    for (int i = 0; i < COUNTERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, count_a_lot, &plugs_one[0]), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(hookd_config_metrics(i % 2 ? &cfg_one : &cfg_two, 1), 0);
    for (int i = 0; i < COUNTERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(hookd_config_metrics(&cfg_one, 1), 0); /* frees the rest */
    assert_int_equal(hookd_metrics_live_sets(), 1);
    hookd_metrics_gauges g = {0};
    size_t len;
    char *t = hookd_metrics_render(&g, &len);
    assert_non_null(t);
    unsigned long long want = (unsigned long long)COUNTERS * PER_COUNTER;
    assert_int_equal(sample(t, "hookd_jwks_reads_total{source=\"a\",result=\"ok\"}"), want);
    assert_int_equal(sample(t, "hookd_deliveries_total{plugin=\"audit\",result=\"ok\"}"), want);
    assert_int_equal(sample(t, "hookd_delivery_duration_seconds_count{plugin=\"audit\"}"), want);
    assert_int_equal(
        sample(t, "hookd_delivery_duration_seconds_bucket{plugin=\"audit\",le=\"0.001000\"}"),
        want);
    free(t);
    hookd_metrics_free();
    assert_int_equal(hookd_metrics_live_sets(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_not_initialised_is_a_no_op),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_reloads_free_what_they_retire),
        cmocka_unit_test(test_reloads_under_load_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

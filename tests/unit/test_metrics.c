/* Unit tests for core/metrics.c: label escaping, the exposition text and
 * histogram output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hookd/plugin.h>

#include "metrics.h"
#include "verify.h"

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
    assert_int_equal(hookd_metrics_init(&cfg), 0);

    hookd_metrics_request(0, 200, 400);      /* le 0.0005 */
    hookd_metrics_request(0, 200, 1000);     /* le 0.001 (bounds are inclusive) */
    hookd_metrics_request(0, 401, 20000000); /* +Inf only */
    hookd_metrics_request(0, 418, -1);       /* other, not timed */
    hookd_metrics_request(-1, 404, 3000);
    hookd_metrics_verify_failure(0, hookd_metrics_verify_reason(HOOKD_VERIFY_MISMATCH));
    hookd_metrics_verify_failure(0, HOOKD_MR_BASIC_AUTH);
    hookd_metrics_event_accepted(0, "tier.increase");
    hookd_metrics_event_accepted(0, "something.else");
    hookd_metrics_delivery(&plug[0], HOOKD_OK, 1500);
    hookd_metrics_delivery(&plug[0], HOOKD_RETRY, 1500);
    hookd_plugin_cfg stranger = {.name = "x"};
    hookd_metrics_delivery(&stranger, HOOKD_OK, 1); /* not ours: ignored */
    hookd_metrics_dead_letter();

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
    assert_true(has(t, "\nhookd_spool_bytes 4096\n"));
    assert_true(has(t, "\nhookd_connections_open 3\n"));
    assert_true(has(t, "\nhookd_tls_handshake_failures_total 0\n"));
    assert_true(has(t, "hookd_reloads_total{result=\"failed\"} 0\n"));
    assert_int_equal(t[len - 1], '\n');
#undef S
    free(t);
    hookd_metrics_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_not_initialised_is_a_no_op),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

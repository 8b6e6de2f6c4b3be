/* Unit tests for the answers of core/net (answer.c): what a refusal's JSON
 * body holds whatever bytes a sender managed to put into its reason, and the
 * one table of reason phrases both listeners use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "net/server.h"

/* The body must be JSON a strict parser takes, with the reason as given
 * where it was valid UTF-8. */
static json_t *body_json(const hookd_response *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %.*s", e.text, (int)r->body_len, r->body);
    return j;
}

static void test_error_body_is_json(void **state)
{
    (void)state;
    hookd_response r = {0};
    hookd_response_error(&r, 400, "body is not JSON: near '\xff\xfe' \"quoted\" \\ \x01 caf\xc3\xa9");
    assert_int_equal(r.status, 400);
    json_t *j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "body is not JSON: near '\xef\xbf\xbd\xef\xbf\xbd' \"quoted\" \\ \x01 "
                        "caf\xc3\xa9");
    json_decref(j);
}

/* A long reason is cut, never inside a UTF-8 sequence or an escape. */
static void test_long_error_is_cut_whole(void **state)
{
    (void)state;
    char msg[2048];
    for (size_t off = 0; off < 4; off++) {
        memset(msg, 'a', off);
        size_t n = off;
        while (n + 3 < sizeof msg - 1) {
            memcpy(msg + n, "\xe2\x82\xac", 3); /* the euro sign */
            n += 3;
        }
        msg[n] = '\0';
        hookd_response r = {0};
        hookd_response_error(&r, 503, msg);
        assert_true(r.body_len < sizeof r.body);
        json_decref(body_json(&r));
        memset(msg, '"', sizeof msg - 1); /* every character escaped */
        msg[sizeof msg - 1 - off] = '\0';
        hookd_response_error(&r, 503, msg);
        json_decref(body_json(&r));
        memset(msg, '\x02', sizeof msg - 1); /* every character a \u escape */
        hookd_response_error(&r, 503, msg);
        json_decref(body_json(&r));
    }
}

/* One table serves the webhook and the admin listeners: each phrase either
 * of them answers with is there. */
static void test_reason_phrases(void **state)
{
    (void)state;
    assert_string_equal(hookd_http_reason(100), "Continue");
    assert_string_equal(hookd_http_reason(200), "OK");
    assert_string_equal(hookd_http_reason(401), "Unauthorized");
    assert_string_equal(hookd_http_reason(408), "Request Timeout");
    assert_string_equal(hookd_http_reason(413), "Content Too Large");
    assert_string_equal(hookd_http_reason(414), "URI Too Long");
    assert_string_equal(hookd_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(hookd_http_reason(503), "Service Unavailable");
    assert_string_equal(hookd_http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(hookd_http_reason(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_body_is_json),
        cmocka_unit_test(test_long_error_is_cut_whole),
        cmocka_unit_test(test_reason_phrases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

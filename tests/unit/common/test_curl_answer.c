/* Unit tests for common/curl_answer.c and common/curl_pool.c: the answer
 * collector and the handle pool every libcurl client of hookd shares. The
 * callbacks are driven directly, as libcurl would call them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/curl_answer.h"
#include "common/curl_pool.h"

static size_t body(hookd_curl_answer *a, const char *s)
{
    return hookd_curl_answer_body((char *)s, 1, strlen(s), a);
}

static size_t header(hookd_curl_answer *a, const char *s)
{
    return hookd_curl_answer_header((char *)s, 1, strlen(s), a);
}

static void test_body_bound_stops(void **state)
{
    (void)state;
    hookd_curl_answer a = {.max_body = 8};
    assert_int_equal(body(&a, "12345"), 5);
    assert_int_equal(body(&a, "678"), 3);
    assert_int_equal(a.len, 8);
    assert_string_equal(a.body, "12345678");
    assert_int_equal(a.over, 0);
    assert_int_equal(body(&a, "9"), 0); /* past the bound: the transfer stops */
    assert_int_equal(a.over, 1);
    hookd_curl_answer_clear(&a);
    assert_null(a.body);
    assert_int_equal(a.over, 0);
    assert_int_equal(a.max_body, 8); /* the bound stays */
}

static void test_body_bound_drains(void **state)
{
    (void)state;
    hookd_curl_answer a = {.max_body = 4, .drain = 1};
    assert_int_equal(body(&a, "abcdef"), 6); /* read on, the rest dropped */
    assert_int_equal(body(&a, "gh"), 2);
    assert_string_equal(a.body, "abcd");
    assert_int_equal(a.len, 4);
    assert_int_equal(a.over, 1);
    hookd_curl_answer_clear(&a);
}

static void test_headers(void **state)
{
    (void)state;
    hookd_curl_answer a = {.max_body = 64, .max_head = 64};
    header(&a, "HTTP/1.1 100 Continue\r\n");
    header(&a, "\r\n");
    body(&a, "x");
    assert_int_equal(header(&a, "HTTP/1.1 503 Service Unavailable\r\n"), 34);
    assert_int_equal(a.len, 0); /* a new answer: the last one's body forgotten */
    assert_string_equal(a.body, "");
    header(&a, "Retry-After:  30 \r\n");
    assert_string_equal(a.phrase, "Service Unavailable");
    assert_string_equal(a.retry_after, "30");
    assert_string_equal(a.head, "HTTP/1.1 503 Service Unavailable\r\nRetry-After:  30 \r\n");
    header(&a, "HTTP/1.1 200\r\n"); /* no phrase, no Retry-After */
    assert_string_equal(a.phrase, "");
    assert_string_equal(a.retry_after, "");
    assert_string_equal(a.head, "HTTP/1.1 200\r\n");
    assert_int_equal(header(&a, "X-Long: 0123456789012345678901234567890123456789012345\r\n"), 0);
    assert_int_equal(a.over, 1);
    hookd_curl_answer_clear(&a);
    assert_null(a.head);
}

static void test_no_head_kept(void **state)
{
    (void)state;
    hookd_curl_answer a = {.max_body = 4};
    assert_int_equal(header(&a, "HTTP/1.1 429 Too Many\r\n"), 23);
    assert_int_equal(header(&a, "retry-after: 2\r\n"), 16);
    assert_null(a.head);
    assert_string_equal(a.retry_after, "2");
    assert_string_equal(hookd_curl_answer_error(&a, CURLE_COULDNT_CONNECT),
                        curl_easy_strerror(CURLE_COULDNT_CONNECT));
    strcpy(a.error, "Connection refused");
    assert_string_equal(hookd_curl_answer_error(&a, CURLE_COULDNT_CONNECT), "Connection refused");
}

static void test_pool(void **state)
{
    (void)state;
    hookd_curl_pool p;
    hookd_curl_pool_init(&p, 1);
    CURL *h1 = hookd_curl_pool_take(&p), *h2 = hookd_curl_pool_take(&p);
    assert_non_null(h1);
    assert_non_null(h2);
    assert_ptr_not_equal(h1, h2);
    hookd_curl_pool_give(&p, h1);
    hookd_curl_pool_give(&p, h2); /* past max_idle: closed */
    assert_int_equal(p.nidle, 1);
    assert_ptr_equal(hookd_curl_pool_take(&p), h1); /* reused */
    assert_int_equal(p.nidle, 0);
    hookd_curl_pool_give(&p, h1);
    hookd_curl_pool_destroy(&p);

    hookd_curl_pool_init(&p, 0); /* no bound */
    CURL *hs[10];
    for (int i = 0; i < 10; i++)
        hs[i] = hookd_curl_pool_take(&p);
    for (int i = 0; i < 10; i++)
        hookd_curl_pool_give(&p, hs[i]);
    assert_int_equal(p.nidle, 10);
    hookd_curl_pool_destroy(&p);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_bound_stops), cmocka_unit_test(test_body_bound_drains),
        cmocka_unit_test(test_headers),          cmocka_unit_test(test_no_head_kept),
        cmocka_unit_test(test_pool),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

/* Unit tests for plugins/common (text.c, http_answer.c): the helpers the
 * core shares with the in-tree plugins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/http_answer.h"
#include "common/text.h"
#include "common/units.h"

static void test_one_line(void **state)
{
    (void)state;
    char s[64];
    snprintf(s, sizeof s, "  a\r\n\tb  c\x7f" "d\xc3\xa9 \n");
    hookd_one_line(s);
    assert_string_equal(s, "a b c d??");
    snprintf(s, sizeof s, " \n\t ");
    hookd_one_line(s);
    assert_string_equal(s, "");
}

static void test_utf8_len(void **state)
{
    (void)state;
    const unsigned char *ok[] = {(const unsigned char *)"a", (const unsigned char *)"\xc3\xa9",
                                 (const unsigned char *)"\xe2\x82\xac",
                                 (const unsigned char *)"\xf0\x9f\x98\x80"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(hookd_utf8_len(ok[i], strlen((const char *)ok[i])), i + 1);
    /* overlong, surrogate, above U+10FFFF, bad continuation, cut short */
    const char *bad[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "\xc3\x28", "\xe2\x82"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(hookd_utf8_len((const unsigned char *)bad[i], strlen(bad[i])), 0);
    assert_int_equal(hookd_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);
}

static void test_header_value(void **state)
{
    (void)state;
    char v[8];
    const char *line = " \t 120 \r\n";
    hookd_header_value(line, strlen(line), v, sizeof v);
    assert_string_equal(v, "120");
    line = "  0123456789\r\n";
    hookd_header_value(line, strlen(line), v, sizeof v);
    assert_string_equal(v, "0123456"); /* truncated to the buffer */
    hookd_header_value("\r\n", 2, v, sizeof v);
    assert_string_equal(v, "");
}

static void test_retry_after(void **state)
{
    (void)state;
    assert_int_equal(hookd_retry_after_ms(""), -1);
    assert_int_equal(hookd_retry_after_ms("0"), 0);
    assert_int_equal(hookd_retry_after_ms("120"), 120000);
    assert_int_equal(hookd_retry_after_ms("12s"), -1);
    assert_int_equal(hookd_retry_after_ms("soon"), -1);
    assert_int_equal(hookd_retry_after_ms("99999999999999999999999"), HOOKD_MAX_RETRY_AFTER_MS);
    assert_int_equal(hookd_retry_after_ms("8640000"), HOOKD_MAX_RETRY_AFTER_MS);
    assert_int_equal(hookd_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), 0); /* past */
    /* An HTTP date about an hour ahead. */
    char date[64];
    time_t later = time(NULL) + 3600;
    struct tm tm;
    gmtime_r(&later, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int64_t ms = hookd_retry_after_ms(date);
    assert_true(ms > 3590000 && ms <= 3600000);
}

static void test_buf(void **state)
{
    (void)state;
    hookd_buf b = {.max = 10};
    assert_int_equal(hookd_buf_add(&b, "abc", 3), 1);
    assert_int_equal(hookd_buf_printf(&b, "%d-%s", 42, "xy"), 1);
    assert_string_equal(b.p, "abc42-xy");
    /* Past the bound: all or nothing, and nothing after. */
    assert_int_equal(hookd_buf_printf(&b, "%s", "123"), 0);
    assert_true(b.over);
    assert_string_equal(b.p, "abc42-xy");
    assert_int_equal(hookd_buf_add(&b, "z", 1), 0);
    size_t len = 0;
    char *p = hookd_buf_take(&b, &len);
    assert_string_equal(p, "abc42-xy");
    assert_int_equal(len, 8);
    assert_null(b.p);
    free(p);
    /* Unbounded, growing across many doublings. */
    hookd_buf u = {0};
    for (int i = 0; i < 10000; i++)
        assert_int_equal(hookd_buf_printf(&u, "%04d", i % 10000), 1);
    assert_int_equal(u.len, 40000);
    assert_memory_equal(u.p + 39996, "9999", 4);
    hookd_buf_free(&u);
    /* Nothing added still takes as "". */
    hookd_buf e = {0};
    p = hookd_buf_take(&e, &len);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
}

static void test_say(void **state)
{
    (void)state;
    char why[16];
    hookd_say(why, sizeof why, "a\nb\r%s", "c long text cut here");
    assert_string_equal(why, "a b c long text"); /* 15 bytes and the NUL */
    hookd_say(NULL, 0, "%s", "nothing happens");
}

/* One grammar: digits and a unit; a bare number is not a duration. */
static void test_units(void **state)
{
    (void)state;
    assert_int_equal(hookd_parse_duration("5s"), 5000);
    assert_int_equal(hookd_parse_duration("5"), -1);
    assert_int_equal(hookd_parse_duration("250ms"), 250);
    assert_int_equal(hookd_parse_size("5"), 5);
    assert_int_equal(hookd_parse_size("2KiB"), 2048);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_line),
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_header_value),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_say),
        cmocka_unit_test(test_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

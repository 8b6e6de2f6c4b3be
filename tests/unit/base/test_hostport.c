/* Unit tests for core/base/hostport.c: the one grammar of listen addresses
 * (the configuration check and the listeners both use it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/hostport.h"

static void accepts(const char *s, const char *want_host, int want_port)
{
    char host[64];
    int port = -1;
    if (hookd_hostport_parse(s, host, sizeof host, &port) != 0)
        fail_msg("\"%s\" refused", s);
    assert_string_equal(host, want_host);
    assert_int_equal(port, want_port);
    assert_int_equal(hookd_hostport_parse(s, NULL, 0, NULL), 0); /* check only */
}

static void refuses(const char *s)
{
    char host[64] = "untouched";
    int port = -1;
    if (hookd_hostport_parse(s, host, sizeof host, &port) == 0)
        fail_msg("\"%s\" accepted (host \"%s\", port %d)", s, host, port);
    assert_int_equal(port, -1);
    assert_int_not_equal(hookd_hostport_parse(s, NULL, 0, NULL), 0);
}

static void test_host_and_port(void **state)
{
    (void)state;
    accepts("127.0.0.1:8080", "127.0.0.1", 8080);
    accepts("0.0.0.0:0", "0.0.0.0", 0);
    accepts("localhost:65535", "localhost", 65535);
    accepts("example.org:00443", "example.org", 443);
}

static void test_bracketed_v6(void **state)
{
    (void)state;
    accepts("[::1]:8080", "::1", 8080);
    accepts("[::]:0", "::", 0);
    accepts("[fe80::1%eth0]:9090", "fe80::1%eth0", 9090);
    refuses("[]:80");
    refuses("[::1]80");
    refuses("[::1]:");
    refuses("[::1");
    refuses("[1.2.3.4]:80"); /* brackets hold an IPv6 address */
    refuses("[::1 ]:80");
    refuses("::1:80");       /* a bare v6 address: which colon ends it? */
}

static void test_port(void **state)
{
    (void)state;
    refuses("127.0.0.1:65536");
    refuses("127.0.0.1:99999");
    refuses("127.0.0.1:123456");
    refuses("127.0.0.1:-1");
    refuses("127.0.0.1:+80");
    refuses("127.0.0.1: 80");
    refuses("127.0.0.1:80 ");
    refuses("127.0.0.1:0x50");
    refuses("127.0.0.1:");
    refuses("127.0.0.1");
}

static void test_host(void **state)
{
    (void)state;
    refuses(":80");
    refuses("");
    refuses("a b:80");
    refuses("a/b:80");
    refuses("a]:80");
    refuses("a[b:80");
}

/* A host that does not fit the caller's buffer is refused, not cut. */
static void test_host_too_long(void **state)
{
    (void)state;
    char host[8];
    int port;
    assert_int_equal(hookd_hostport_parse("1234567:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "1234567");
    assert_int_not_equal(hookd_hostport_parse("12345678:1", host, sizeof host, &port), 0);
    assert_int_not_equal(hookd_hostport_parse("[::123456]:1", host, sizeof host, &port), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_and_port),
        cmocka_unit_test(test_bracketed_v6),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_host_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the admin block's console keys (core/config/config.c):
 * admin.token, admin.console, admin.console_dir (docs/DESIGN.md §12). */
#include <stdlib.h>

#include "config_test.h"

#define SRC PRELUDE "routes:\n  - { match: \"*\", to: [audit] }\n"

static void test_defaults(void **state)
{
    (void)state;
    hookd_config *c = expect_ok("admin: { listen: \"127.0.0.1:9090\" }\n" SRC);
    assert_int_equal(c->admin_console, 1);
    assert_null(c->admin_token);
    assert_null(c->admin_console_dir);
    hookd_config_free(c);
}

static void test_keys(void **state)
{
    (void)state;
    hookd_config *c = expect_ok("admin: { listen: \"0.0.0.0:9090\", token: "
                                "\"0123456789abcdef!\", console: false, "
                                "console_dir: ./console }\n" SRC);
    assert_string_equal(c->admin_token, "0123456789abcdef!");
    assert_int_equal(c->admin_console, 0);
    assert_string_equal(c->admin_console_dir, "./console");
    hookd_config_free(c);
}

static void test_token_from_env(void **state)
{
    (void)state;
    setenv("HOOKD_TEST_ADMIN_TOKEN", "from-the-environment-1", 1);
    hookd_config *c = expect_ok("admin: { listen: \"127.0.0.1:9\", token: "
                                "\"${HOOKD_TEST_ADMIN_TOKEN}\" }\n" SRC);
    assert_string_equal(c->admin_token, "from-the-environment-1");
    hookd_config_free(c);
    /* empty: no token (the loopback rule holds) */
    c = expect_ok("admin: { listen: \"127.0.0.1:9\", token: \"${HOOKD_NOPE_UNSET:-}\" }\n" SRC);
    assert_null(c->admin_token);
    hookd_config_free(c);
}

static void test_errors(void **state)
{
    (void)state;
    /* the messages never repeat the token */
    expect_error("admin: { listen: \"127.0.0.1:9\", token: \"short\" }\n" SRC,
                 "hookd.yaml:1:40: admin.token: too short: at least 16 characters");
    expect_error("admin: { listen: \"127.0.0.1:9\", token: \"has a space in it....\" }\n" SRC,
                 "hookd.yaml:1:40: admin.token: only visible ASCII characters, no spaces (it "
                 "travels in an Authorization header)");
    char err[ERRLEN] = "";
    hookd_config *c = parse("admin: { listen: \"127.0.0.1:9\", console: maybe }\n" SRC, err);
    assert_null(c);
    assert_non_null(strstr(err, "admin.console"));
    c = parse("admin: { listen: \"127.0.0.1:9\", tokn: x }\n" SRC, err);
    assert_null(c);
    assert_non_null(strstr(err, "tokn"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_token_from_env),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Helpers of the configuration tests (tests/unit/config/test_config*.c):
 * parse a YAML text and expect it to load, or to fail with one message. */
#ifndef HOOKD_CONFIG_TEST_H
#define HOOKD_CONFIG_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#define ERRLEN 512

/* A valid prelude for tests of plugins and routes. */
#define PRELUDE                                                                \
    "sources:\n"                                                               \
    "  - name: cc\n"                                                           \
    "    path: /cc\n"                                                          \
    "    verify: { scheme: none }\n"                                           \
    "plugins:\n"                                                               \
    "  - name: audit\n"                                                        \
    "    use: file\n"

static inline hookd_config *parse(const char *yaml, char *err)
{
    return hookd_config_parse("hookd.yaml", yaml, strlen(yaml), err, ERRLEN);
}

/* Parses `yaml`, which must fail with exactly `msg`. */
static inline void expect_error(const char *yaml, const char *msg)
{
    char err[ERRLEN] = "";
    hookd_config *c = parse(yaml, err);
    if (c) {
        hookd_config_free(c);
        fail_msg("parsed, but expected the error: %s", msg);
    }
    assert_string_equal(err, msg);
}

/* Parses `yaml`, which must succeed. */
static inline hookd_config *expect_ok(const char *yaml)
{
    char err[ERRLEN] = "";
    hookd_config *c = parse(yaml, err);
    if (!c)
        fail_msg("unexpected error: %s", err);
    assert_string_equal(err, "");
    return c;
}

#endif

/* Unit tests for core/config/config_yaml.c: the YAML layer under every block:
 * ${ENV} expansion, unknown and duplicate keys, document errors, list limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#include "config_test.h"

/* ---- ${ENV} -------------------------------------------------------------- */

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("HOOKD_T_HOST", "10.1.2.3", 1);
    setenv("HOOKD_T_PORT", "9000", 1);
    setenv("HOOKD_T_EMPTY", "", 1);
    unsetenv("HOOKD_T_UNSET");
    hookd_config *c = expect_ok(
        "server: { listen: \"${HOOKD_T_HOST}:${HOOKD_T_PORT}\" }\n"
        "spool: { path: \"/var/${HOOKD_T_UNSET:-lib}/x-${HOOKD_T_EMPTY:-e}.db\" }\n"
        "plugin_dir: \"$HOME/cost $5 and $${LITERAL} ${HOOKD_T_EMPTY}end\"\n"
        "admin: { listen: \"${HOOKD_T_UNSET:-127.0.0.1:9}\" }\n");
    assert_string_equal(c->listen[0], "10.1.2.3:9000");
    assert_string_equal(c->spool_path, "/var/lib/x-e.db");
    assert_string_equal(c->plugin_dir, "$HOME/cost $5 and ${LITERAL} end");
    assert_string_equal(c->admin_listen, "127.0.0.1:9");
    hookd_config_free(c);

    /* unset, with no default: the exact position of the scalar */
    expect_error("sources:\n"
                 "  - name: constantcontact\n"
                 "    path: /webhooks/ctct\n"
                 "    verify:\n"
                 "      scheme: ctct-hmac-sha256\n"
                 "      secret: \"${HOOKD_T_UNSET}\"\n",
                 "hookd.yaml:6:15: sources[0].verify.secret: environment "
                 "variable HOOKD_T_UNSET is not set");
    expect_error("plugin_dir: \"a${HOOKD_T_HOST\"\n",
                 "hookd.yaml:1:13: plugin_dir: unterminated ${ (write $${ for "
                 "a literal)");
    expect_error("plugin_dir: \"${1X}\"\n",
                 "hookd.yaml:1:13: plugin_dir: invalid ${...}: expected "
                 "${NAME} or ${NAME:-default} (NAME of letters, digits and _)");
    expect_error("plugin_dir: \"${A:-${B}}\"\n",
                 "hookd.yaml:1:13: plugin_dir: nested ${...} is not "
                 "supported");
    /* too long after expansion */
    char *big = malloc(40 * 1024 + 1);
    memset(big, 'x', 40 * 1024);
    big[40 * 1024] = '\0';
    setenv("HOOKD_T_BIG", big, 1);
    free(big);
    expect_error("plugin_dir: ${HOOKD_T_BIG}${HOOKD_T_BIG}\n",
                 "hookd.yaml:1:13: plugin_dir: value too long (over 64 KiB)");
    c = expect_ok("plugin_dir: ${HOOKD_T_BIG}\n");
    assert_int_equal(strlen(c->plugin_dir), 40 * 1024);
    hookd_config_free(c);
    unsetenv("HOOKD_T_BIG");
    unsetenv("HOOKD_T_HOST");
    unsetenv("HOOKD_T_PORT");
    unsetenv("HOOKD_T_EMPTY");
}

/* ---- error messages -------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error("server:\n"
                 "  listen: \"0.0.0.0:8443\"\n"
                 "  lisen: \"0.0.0.0:8443\"\n",
                 "hookd.yaml:3:3: server.lisen: unknown key");
    expect_error("servr: {}\n", "hookd.yaml:1:1: servr: unknown key");
    expect_error("server: { timeouts: { header: 1s, bdy: 2s } }\n",
                 "hookd.yaml:1:35: server.timeouts.bdy: unknown key");
    expect_error(PRELUDE "    retries: 3\n",
                 "hookd.yaml:8:5: plugins[0].retries: unknown key");
    expect_error("sources:\n"
                 "  - name: a\n"
                 "    path: /a\n"
                 "    verify: { scheme: none, secert: x }\n",
                 "hookd.yaml:4:29: sources[0].verify.secert: unknown key");
    expect_error("log: { level: info, level: debug }\n",
                 "hookd.yaml:1:21: log.level: duplicate key");
    expect_error(PRELUDE "    config: { a: 1, a: 2 }\n",
                 "hookd.yaml:8:21: plugins[0].config.a: duplicate key");
}

static void test_document_errors(void **state)
{
    (void)state;
    expect_error("- a\n- b\n",
                 "hookd.yaml:1:1: expected a mapping at the top level");
    expect_error("", "hookd.yaml:1:1: the configuration is empty; expected a "
                     "mapping at the top level");
    expect_error("just text\n",
                 "hookd.yaml:1:1: expected a mapping at the top level");
    expect_error("server:\n  listen: [a\nlog: {}\n",
                 "hookd.yaml:3:4: invalid YAML: did not find expected ',' or "
                 "']' (while parsing a flow sequence at 2:11)");
    expect_error("server:\n  listen: x\n bad: y\n",
                 "hookd.yaml:3:2: invalid YAML: did not find expected key "
                 "(while parsing a block mapping at 1:1)");
    expect_error("log: {}\n---\nlog: {}\n",
                 "hookd.yaml:3:1: only one YAML document is allowed");
    expect_error("log: *nope\n",
                 "hookd.yaml:1:6: invalid YAML: found undefined alias");
    /* invalid UTF-8: a reader error, positioned from its byte offset */
    expect_error("log: {}\nplugin_dir: a\xff\n",
                 "hookd.yaml:2:14: invalid YAML: invalid leading UTF-8 octet");
    /* a recursive alias inside config: is cut off by the depth limit */
    char err[ERRLEN] = "";
    hookd_config *c = parse("plugins:\n"
                            "  - name: a\n"
                            "    use: file\n"
                            "    config: &loop { again: *loop }\n",
                            err);
    assert_null(c);
    const char *want = "hookd.yaml:4:13: plugins[0].config.again.again.";
    assert_true(strncmp(err, want, strlen(want)) == 0);
    assert_non_null(strstr(err, ": nested too deeply (at most 64 levels)"));
}

/* ---- limits -------------------------------------------------------------------- */

static void test_list_limit(void **state)
{
    (void)state;
    size_t cap = 16 + 1025 * 3 + 64;
    char *y = malloc(cap);
    size_t at = (size_t)snprintf(y, cap, "server: { listen: [");
    for (int i = 0; i < 1025; i++)
        at += (size_t)snprintf(y + at, cap - at, "%sa", i ? "," : "");
    snprintf(y + at, cap - at, "] }\n");
    expect_error(y, "hookd.yaml:1:19: server.listen: too many items (at most "
                    "1024)");
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_list_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

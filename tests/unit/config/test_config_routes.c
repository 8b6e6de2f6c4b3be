/* Unit tests for core/config/config_routes.c: the plugins: and routes: lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#include "config_full.h"
#include "config_test.h"

/* ---- the full example of docs/DESIGN.md §4: its plugins and routes -------------- */

static void test_full_plugins_routes(void **state)
{
    (void)state;
    hookd_config *c = full_config();

    assert_int_equal(c->nplugins, 3);
    hookd_plugin_cfg *p = &c->plugins[0];
    assert_string_equal(p->name, "audit");
    assert_string_equal(p->use, "file");
    assert_non_null(p->config);
    assert_true(json_is_object(p->config));
    assert_int_equal(json_object_size(p->config), 1);
    assert_string_equal(json_string_value(json_object_get(p->config, "path")),
                        "events.jsonl");
    assert_int_equal(p->concurrency, 4);
    assert_int_equal(p->timeout_ms, 10000);
    assert_int_equal(p->retry_attempts, 10);
    assert_int_equal(p->retry_backoff_ms, 1000);
    assert_int_equal(p->retry_max_backoff_ms, 600000);
    assert_int_equal(p->mark.line, 44);
    assert_int_equal(p->mark.col, 5);
    assert_int_equal(p->config_mark.line, 46);
    assert_int_equal(p->config_mark.col, 13);

    p = &c->plugins[1];
    assert_string_equal(p->name, "ops-mail");
    assert_string_equal(p->use, "email");
    assert_int_equal(json_object_size(p->config), 4);
    assert_string_equal(json_string_value(json_object_get(p->config, "url")),
                        "smtp://127.0.0.1:2525");
    assert_string_equal(json_string_value(json_object_get(p->config, "subject")),
                        "{{type}} for account {{ctct.account_id}}");
    json_t *to = json_object_get(p->config, "to");
    assert_true(json_is_array(to));
    assert_int_equal(json_array_size(to), 1);
    assert_string_equal(json_string_value(json_array_get(to, 0)),
                        "ops@example.com");
    /* defaults */
    assert_int_equal(p->concurrency, 4);
    assert_int_equal(p->timeout_ms, 10000);
    assert_int_equal(p->retry_attempts, 10);

    p = &c->plugins[2];
    assert_string_equal(p->use, "./x/custom.so");
    assert_true(json_is_object(p->config));
    assert_int_equal(json_object_size(p->config), 0);
    assert_int_equal(p->config_mark.line, p->mark.line);
    assert_int_equal(p->config_mark.col, p->mark.col);
    assert_int_equal(p->concurrency, 2);
    assert_int_equal(p->timeout_ms, 1500);
    assert_int_equal(p->retry_attempts, 3);
    assert_int_equal(p->retry_backoff_ms, 2000);
    assert_int_equal(p->retry_max_backoff_ms, 600000);

    assert_int_equal(c->nroutes, 3);
    hookd_route_cfg *r = &c->routes[0];
    assert_int_equal(r->nmatch, 2);
    assert_string_equal(r->match[0], "account.cancel");
    assert_string_equal(r->match[1], "account.disable");
    assert_null(r->source);
    assert_int_equal(r->nto, 2);
    assert_int_equal(r->to[0], 1);
    assert_int_equal(r->to[1], 0);
    assert_int_equal(r->mark.line, 61);
    assert_int_equal(r->mark.col, 5);
    r = &c->routes[1];
    assert_int_equal(r->nmatch, 1);
    assert_string_equal(r->match[0], "tier.*");
    assert_int_equal(r->nto, 1);
    assert_int_equal(r->to[0], 0);
    r = &c->routes[2];
    assert_string_equal(r->match[0], "*");
    assert_string_equal(r->source, "constantcontact");
    assert_int_equal(r->nto, 1); /* named twice, delivered once */
    assert_int_equal(r->to[0], 0);

    full_done(c);
}

/* ---- error messages -------------------------------------------------------- */

static void test_route_errors(void **state)
{
    (void)state;
    expect_error(PRELUDE "routes:\n"
                         "  - { match: \"*\", to: [audit] }\n"
                         "  - match: \"tier.*\"\n"
                         "    to: [audit, slak]\n",
                 "hookd.yaml:11:17: routes[1].to: unknown plugin instance "
                 "\"slak\"");
    expect_error(PRELUDE "routes:\n"
                         "  - { match: \"*\", to: slak }\n",
                 "hookd.yaml:9:23: routes[0].to: unknown plugin instance "
                 "\"slak\"");
    expect_error(PRELUDE "routes:\n"
                         "  - { match: \"*\", source: other, to: audit }\n",
                 "hookd.yaml:9:27: routes[0].source: unknown source \"other\"");
    expect_error(PRELUDE "routes:\n"
                         "  - { to: audit }\n",
                 "hookd.yaml:9:5: routes[0]: missing required key \"match\"");
    expect_error(PRELUDE "routes:\n"
                         "  - match: \"*\"\n",
                 "hookd.yaml:9:5: routes[0]: missing required key \"to\"");
    expect_error(PRELUDE "routes:\n"
                         "  - { match: [], to: audit }\n",
                 "hookd.yaml:9:14: routes[0].match: must not be empty");
    expect_error(PRELUDE "routes:\n"
                         "  - { match: [a, \"\"], to: audit }\n",
                 "hookd.yaml:9:18: routes[0].match[1]: must not be empty");
    expect_error(PRELUDE "routes: { match: x }\n",
                 "hookd.yaml:8:9: routes: expected a list");
    expect_error(PRELUDE "routes:\n  - x\n",
                 "hookd.yaml:9:5: routes[0]: expected a mapping");
}

static void test_plugin_errors(void **state)
{
    (void)state;
    expect_error("plugins:\n"
                 "  - name: audit\n"
                 "    use: file\n"
                 "  - name: other\n"
                 "    use: file\n"
                 "  - name: audit\n"
                 "    use: exec\n",
                 "hookd.yaml:6:11: plugins[2].name: duplicate plugin instance "
                 "name \"audit\" (first at line 2)");
    expect_error("plugins:\n"
                 "  - use: file\n",
                 "hookd.yaml:2:5: plugins[0]: missing required key \"name\"");
    expect_error("plugins:\n"
                 "  - name: audit\n"
                 "    config: {}\n",
                 "hookd.yaml:2:5: plugins[0]: missing required key \"use\"");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, concurrency: 0 }\n",
                 "hookd.yaml:2:40: plugins[0].concurrency: expected an integer "
                 "from 1 to 1024, got \"0\"");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, retry: { attempts: 1001 } }\n",
                 "hookd.yaml:2:46: plugins[0].retry.attempts: expected an "
                 "integer from 1 to 1000, got \"1001\"");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, timeout: 10 }\n",
                 "hookd.yaml:2:36: plugins[0].timeout: expected a duration like "
                 "10s (ms, s, m, h, d)");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, retry: { backoff: 1m, max_backoff: 1s"
                 " } }\n",
                 "hookd.yaml:2:62: plugins[0].retry.max_backoff: is less than "
                 "backoff");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, config: [1, 2] }\n",
                 "hookd.yaml:2:35: plugins[0].config: expected a mapping");
    expect_error("plugins:\n"
                 "  - { name: a, use: ../evil }\n",
                 "hookd.yaml:2:21: plugins[0].use: expected a plugin name or a "
                 "path ending in .so, got \"../evil\"");
    unsetenv("HOOKD_T_UNSET");
    expect_error("plugins:\n"
                 "  - name: a\n"
                 "    use: file\n"
                 "    config:\n"
                 "      to: [x, \"${HOOKD_T_UNSET}\"]\n",
                 "hookd.yaml:5:15: plugins[0].config.to[1]: environment "
                 "variable HOOKD_T_UNSET is not set");
    /* a retry block without max_backoff raises the default to backoff */
    hookd_config *c = expect_ok("plugins:\n"
                                "  - { name: a, use: file, retry: { backoff: 20m } }\n");
    assert_int_equal(c->plugins[0].retry_backoff_ms, 20 * 60000);
    assert_int_equal(c->plugins[0].retry_max_backoff_ms, 20 * 60000);
    hookd_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_plugins_routes),
        cmocka_unit_test(test_route_errors),
        cmocka_unit_test(test_plugin_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for core/config/config_json.c: a plugin's config: block, YAML
 * converted to JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#include "config_test.h"

/* ---- plugin config: YAML -> JSON ---------------------------------------- */

static void test_plugin_config_types(void **state)
{
    (void)state;
    setenv("HOOKD_T_NUM", "2525", 1);
    hookd_config *c = expect_ok(
        "plugins:\n"
        "  - name: a\n"
        "    use: file\n"
        "    config:\n"
        "      t: true\n"
        "      f: False\n"
        "      n: null\n"
        "      tilde: ~\n"
        "      empty:\n"
        "      i: 42\n"
        "      neg: -7\n"
        "      r: 1.5\n"
        "      e: 1e3\n"
        "      s: hello world\n"
        "      qi: \"42\"\n"
        "      qt: 'true'\n"
        "      qn: \"null\"\n"
        "      yes_is_string: yes\n"
        "      big: 99999999999999999999999\n"
        "      ver: 1.2.3\n"
        "      env: ${HOOKD_T_NUM}\n"
        "      qenv: \"${HOOKD_T_NUM}\"\n"
        "      list: [1, two, [3], { k: v }]\n"
        "      map: { nested: { deep: [] } }\n"
        "      block: |\n"
        "        line1\n"
        "        line2\n");
    json_t *j = c->plugins[0].config;
    assert_true(json_is_object(j));
    assert_true(json_is_true(json_object_get(j, "t")));
    assert_true(json_is_false(json_object_get(j, "f")));
    assert_true(json_is_null(json_object_get(j, "n")));
    assert_true(json_is_null(json_object_get(j, "tilde")));
    assert_true(json_is_null(json_object_get(j, "empty")));
    assert_true(json_is_integer(json_object_get(j, "i")));
    assert_int_equal(json_integer_value(json_object_get(j, "i")), 42);
    assert_int_equal(json_integer_value(json_object_get(j, "neg")), -7);
    assert_true(json_is_real(json_object_get(j, "r")));
    assert_true(json_real_value(json_object_get(j, "r")) == 1.5);
    assert_true(json_is_real(json_object_get(j, "e")));
    assert_true(json_real_value(json_object_get(j, "e")) == 1000.0);
    assert_string_equal(json_string_value(json_object_get(j, "s")),
                        "hello world");
    assert_string_equal(json_string_value(json_object_get(j, "qi")), "42");
    assert_string_equal(json_string_value(json_object_get(j, "qt")), "true");
    assert_string_equal(json_string_value(json_object_get(j, "qn")), "null");
    assert_string_equal(json_string_value(json_object_get(j, "yes_is_string")),
                        "yes");
    assert_string_equal(json_string_value(json_object_get(j, "big")),
                        "99999999999999999999999");
    assert_string_equal(json_string_value(json_object_get(j, "ver")), "1.2.3");
    assert_int_equal(json_integer_value(json_object_get(j, "env")), 2525);
    assert_string_equal(json_string_value(json_object_get(j, "qenv")), "2525");
    json_t *l = json_object_get(j, "list");
    assert_int_equal(json_array_size(l), 4);
    assert_int_equal(json_integer_value(json_array_get(l, 0)), 1);
    assert_string_equal(json_string_value(json_array_get(l, 1)), "two");
    assert_int_equal(json_integer_value(json_array_get(json_array_get(l, 2), 0)),
                     3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(l, 3), "k")), "v");
    json_t *deep =
        json_object_get(json_object_get(json_object_get(j, "map"), "nested"),
                        "deep");
    assert_true(json_is_array(deep));
    assert_int_equal(json_array_size(deep), 0);
    assert_string_equal(json_string_value(json_object_get(j, "block")),
                        "line1\nline2\n");
    assert_int_equal(json_object_size(j), 21);
    assert_int_equal(c->plugins[0].config_mark.line, 5);
    assert_int_equal(c->plugins[0].config_mark.col, 7);
    hookd_config_free(c);

    /* config: with no value is an empty object */
    c = expect_ok("plugins:\n  - name: a\n    use: file\n    config:\n");
    assert_true(json_is_object(c->plugins[0].config));
    assert_int_equal(json_object_size(c->plugins[0].config), 0);
    hookd_config_free(c);
    unsetenv("HOOKD_T_NUM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_config_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

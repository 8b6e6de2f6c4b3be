/* Unit tests for core/config/config_default.c and config_source.c: which file a command reads
 * (-c, ./hookd.yaml, /etc/hookd/hookd.yaml, the embedded default) and the
 * lookup of a source by name. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config_test.h"

#define ONE_SOURCE(name)                                                                     \
    "sources:\n"                                                                             \
    "  - name: " name "\n"                                                                   \
    "    path: /" name "\n"                                                                  \
    "    verify: { scheme: none }\n"

static char dir[] = "/tmp/hookd-config-find-XXXXXX";
static char cwd[4096];

static int setup(void **state)
{
    (void)state;
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(dir) || chdir(dir) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink("hookd.yaml");
    unlink("other.yaml");
    if (chdir(cwd) != 0)
        return -1;
    rmdir(dir);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_find_order(void **state)
{
    (void)state;
    char err[ERRLEN] = "";
    int embedded = -1;
    /* /etc/hookd/hookd.yaml would stand between ./hookd.yaml and the default */
    int etc = access("/etc/hookd/hookd.yaml", F_OK) == 0;

    unlink("hookd.yaml");
    hookd_config *c = hookd_config_find(NULL, &embedded, err, sizeof err);
    if (!etc) {
        assert_non_null(c);
        assert_int_equal(embedded, 1);
        assert_string_equal(c->file, "(embedded default)");
        assert_non_null(hookd_config_source(c, "constantcontact"));
    }
    hookd_config_free(c);

    write_file("hookd.yaml", ONE_SOURCE("here"));
    write_file("other.yaml", ONE_SOURCE("there"));
    c = hookd_config_find(NULL, &embedded, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(embedded, 0);
    assert_string_equal(c->file, "hookd.yaml");
    assert_string_equal(c->sources[0].name, "here");
    hookd_config_free(c);

    /* -c wins over ./hookd.yaml */
    embedded = -1;
    c = hookd_config_find("other.yaml", &embedded, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(embedded, 0);
    assert_string_equal(c->sources[0].name, "there");
    hookd_config_free(c);

    /* -c naming no file is an error, not a fall back to the default */
    c = hookd_config_find("missing.yaml", &embedded, err, sizeof err);
    assert_null(c);
    assert_int_equal(embedded, 0);
    assert_non_null(strstr(err, "missing.yaml"));

    /* a broken ./hookd.yaml is an error too */
    write_file("hookd.yaml", "sources: [\n");
    err[0] = '\0';
    c = hookd_config_find(NULL, &embedded, err, sizeof err);
    assert_null(c);
    assert_int_equal(embedded, 0);
    assert_non_null(strstr(err, "hookd.yaml"));
}

static void test_source_by_name(void **state)
{
    (void)state;
    hookd_config *c = expect_ok(ONE_SOURCE("a") "  - name: b\n"
                                                "    path: /b\n"
                                                "    verify: { scheme: none }\n");
    assert_ptr_equal(hookd_config_source(c, "a"), &c->sources[0]);
    assert_ptr_equal(hookd_config_source(c, "b"), &c->sources[1]);
    assert_null(hookd_config_source(c, "c"));
    assert_null(hookd_config_source(c, ""));
    assert_null(hookd_config_source(c, "A")); /* names are case-sensitive */
    hookd_config_free(c);

    c = expect_ok("plugin_dir: /nonexistent\n"); /* no sources at all */
    assert_null(hookd_config_source(c, "a"));
    hookd_config_free(c);

    /* routes name their source through the same lookup */
    const char *plugins = "plugins:\n"
                          "  - { name: audit, use: file, config: { path: x.jsonl } }\n";
    char yaml[512];
    snprintf(yaml, sizeof yaml, ONE_SOURCE("a") "%sroutes:\n"
             "  - { match: \"*\", source: b, to: audit }\n", plugins);
    expect_error(yaml, "hookd.yaml:8:27: routes[0].source: unknown source \"b\"");
    snprintf(yaml, sizeof yaml, ONE_SOURCE("a") "%sroutes:\n"
             "  - { match: \"*\", source: a, to: audit }\n", plugins);
    c = expect_ok(yaml);
    assert_string_equal(c->routes[0].source, "a");
    hookd_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_order),
        cmocka_unit_test(test_source_by_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

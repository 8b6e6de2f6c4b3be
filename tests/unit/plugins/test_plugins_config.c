/* Plugin configuration as tables: the common/config_map readers, each
 * in-tree plugin's key table (every default reads back through its own
 * reader), one duration grammar for forward and email, the printed table,
 * and the ABI 1.2 descriptor next to an ABI 1.1 one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config_map.h"
#include "deliver/loader.h"
#include "deliver/plugin_keys.h"
#include "deliver/template.h"
#include "verify/verify.h"

/* ---- the readers ---- */

typedef struct settings {
    char *name, *secret, *tmpl, *ca;
    int on, pick;
    int64_t n, wait, size;
    hookd_cmap_list list;
    const json_t *map, *any;
} settings;

static const char *const colours[] = {"red", "green", "blue", NULL};

static const hookd_config_key keys[] = {
    {.name = "name", .type = HOOKD_CONFIG_STRING, .flags = HOOKD_CONFIG_REQUIRED,
     .offset = offsetof(settings, name)},
    {.name = "secret", .type = HOOKD_CONFIG_STRING, .flags = HOOKD_CONFIG_SECRET,
     .offset = offsetof(settings, secret)},
    {.name = "tmpl", .type = HOOKD_CONFIG_TEMPLATE, .default_text = "{{type}}",
     .offset = offsetof(settings, tmpl)},
    {.name = "ca", .type = HOOKD_CONFIG_FILE, .offset = offsetof(settings, ca)},
    {.name = "on", .type = HOOKD_CONFIG_BOOL, .default_text = "true",
     .offset = offsetof(settings, on)},
    {.name = "pick", .type = HOOKD_CONFIG_ENUM, .default_text = "green", .choices = colours,
     .offset = offsetof(settings, pick)},
    {.name = "n", .type = HOOKD_CONFIG_INT, .default_text = "7", .min = 1, .max = 10,
     .offset = offsetof(settings, n)},
    {.name = "wait", .type = HOOKD_CONFIG_DURATION, .default_text = "10s", .min = 1,
     .max = 3600000, .offset = offsetof(settings, wait)},
    {.name = "size", .type = HOOKD_CONFIG_SIZE, .default_text = "1KiB",
     .offset = offsetof(settings, size)},
    {.name = "list", .type = HOOKD_CONFIG_LIST, .offset = offsetof(settings, list)},
    {.name = "map", .type = HOOKD_CONFIG_MAP, .offset = offsetof(settings, map)},
    {.name = "any", .type = HOOKD_CONFIG_JSON, .offset = offsetof(settings, any)},
    {.name = NULL},
};

/* Reads text (JSON) with the table; returns the code, err the message. */
static int read_text(const char *text, settings *s, char *err, size_t errlen)
{
    json_error_t je;
    json_t *cfg = json_loads(text, 0, &je);
    assert_non_null(cfg);
    memset(s, 0, sizeof *s);
    err[0] = '\0';
    int rc = hookd_cmap_read(keys, NULL, cfg, s, err, errlen);
    hookd_cmap_free(keys, s);
    json_decref(cfg);
    return rc;
}

static void refused(const char *text, const char *want)
{
    settings s;
    char err[256];
    int rc = read_text(text, &s, err, sizeof err);
    if (rc != HOOKD_EINVAL || strcmp(err, want) != 0)
        fail_msg("%s: got %d \"%s\", wanted \"%s\"", text, rc, err, want);
}

static void test_defaults_and_values(void **state)
{
    (void)state;
    json_t *cfg = json_pack("{s:s, s:s, s:b, s:s, s:i, s:s, s:s, s:[s,s], s:{s:s}, s:[i]}",
                            "name", "x", "secret", "hush", "on", 0, "pick", "blue", "n", 3,
                            "wait", "1500ms", "size", "2MiB", "list", "a", "b", "map", "K",
                            "v", "any", 1);
    settings s = {0};
    char err[256] = "";
    assert_int_equal(hookd_cmap_read(keys, NULL, cfg, &s, err, sizeof err), 0);
    assert_string_equal(s.name, "x");
    assert_string_equal(s.secret, "hush");
    assert_string_equal(s.tmpl, "{{type}}");   /* the default, read like a value */
    assert_null(s.ca);
    assert_int_equal(s.on, 0);
    assert_int_equal(s.pick, 2);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.wait, 1500);
    assert_int_equal(s.size, 2 << 20);
    assert_int_equal(s.list.n, 2);
    assert_string_equal(s.list.v[1], "b");
    assert_null(s.list.v[2]);
    assert_ptr_equal(s.map, json_object_get(cfg, "map"));
    assert_ptr_equal(s.any, json_object_get(cfg, "any"));
    hookd_cmap_free(keys, &s);
    assert_null(s.name);
    assert_null(s.list.v);
    json_decref(cfg);

    memset(&s, 0, sizeof s);
    cfg = json_pack("{s:s}", "name", "y");
    assert_int_equal(hookd_cmap_read(keys, NULL, cfg, &s, err, sizeof err), 0);
    assert_int_equal(s.on, 1);
    assert_int_equal(s.pick, 1);
    assert_int_equal(s.n, 7);
    assert_int_equal(s.wait, 10000);
    assert_int_equal(s.size, 1024);
    assert_null(s.list.v);
    hookd_cmap_free(keys, &s);
    json_decref(cfg);
}

static void test_messages_name_the_key(void **state)
{
    (void)state;
    refused("{\"name\":\"x\",\"nmae\":1}", "unknown key \"nmae\"");
    refused("{}", "missing required key \"name\"");
    refused("{\"name\":\"\"}", "name: expected a non-empty string");
    refused("{\"name\":\"x\",\"tmpl\":3}", "tmpl: expected a template string");
    refused("{\"name\":\"x\",\"on\":\"yes\"}", "on: expected true or false");
    refused("{\"name\":\"x\",\"pick\":\"pink\"}", "pick: expected red, green or blue");
    refused("{\"name\":\"x\",\"n\":11}", "n: expected an integer from 1 to 10");
    refused("{\"name\":\"x\",\"n\":\"3\"}", "n: expected an integer");
    refused("{\"name\":\"x\",\"size\":\"3 MiB\"}", "size: expected a size (\"64KiB\", \"1MiB\")");
    refused("{\"name\":\"x\",\"list\":\"a\"}", "list: expected a list of strings");
    refused("{\"name\":\"x\",\"list\":[\"a\",2]}", "list[1]: expected a string");
    refused("{\"name\":\"x\",\"map\":{\"A\":1}}", "map.A: expected a string");
    refused("{\"name\":\"x\",\"ca\":\"/nonexistent/ca.pem\"}",
            "ca: /nonexistent/ca.pem: not a readable file (No such file or directory)");
    refused("{\"name\":\"x\",\"ca\":\"/\"}", "ca: /: is a directory");
}

static void test_durations_have_units(void **state)
{
    (void)state;
    /* One grammar: a bare number is neither ms nor s. */
    refused("{\"name\":\"x\",\"wait\":5}", "wait: a bare number is not a duration: write "
                                           "its unit (\"500ms\", \"10s\", \"1m\")");
    refused("{\"name\":\"x\",\"wait\":5.5}", "wait: a bare number is not a duration: write "
                                             "its unit (\"500ms\", \"10s\", \"1m\")");
    refused("{\"name\":\"x\",\"wait\":\"5\"}", "wait: expected a duration with its unit "
                                               "(\"500ms\", \"10s\", \"1m\"), not a bare number");
    refused("{\"name\":\"x\",\"wait\":\"5 s\"}",
            "wait: expected a duration with its unit (\"500ms\", \"10s\", \"1m\")");
    refused("{\"name\":\"x\",\"wait\":\"2h\"}", "wait: expected a duration from 1ms to 1h");
    refused("{\"name\":\"x\",\"wait\":\"0s\"}", "wait: expected a duration from 1ms to 1h");
}

static void test_prefix_and_secret(void **state)
{
    (void)state;
    json_t *cfg = json_pack("{s:s, s:s}", "name", "x", "algo", "y");
    settings s = {0};
    char err[256];
    assert_int_equal(hookd_cmap_read(keys, "sign", cfg, &s, err, sizeof err), HOOKD_EINVAL);
    assert_string_equal(err, "unknown key \"sign.algo\"");
    json_object_del(cfg, "algo");
    json_object_set_new(cfg, "on", json_string("no"));
    assert_int_equal(hookd_cmap_read(keys, "sign", cfg, &s, err, sizeof err), HOOKD_EINVAL);
    assert_string_equal(err, "sign.on: expected true or false");
    hookd_cmap_free(keys, &s);
    json_decref(cfg);
    /* A secret is never in a message, even when it is the wrong type. */
    refused("{\"name\":\"x\",\"secret\":\"\"}", "secret: expected a non-empty string");
}

/* ---- the in-tree plugins ---- */

static hookd_loader *loader;
static const char *const names[] = {"file", "exec", "forward", "email", "database"};
#define NPLUGINS (sizeof names / sizeof names[0])
static const hookd_plugin *plugins[NPLUGINS];

static hookd_template *t_compile(const hookd_api *api, const char *src, char *err,
                                 size_t errlen)
{
    (void)api;
    return hookd_template_compile(src, err, errlen);
}

static void t_log(const hookd_api *api, int level, const char *fmt, ...)
{
    (void)api, (void)level, (void)fmt;
}

static void t_free(void *p) { free(p); }

static const hookd_api api = {
    .struct_size = sizeof(hookd_api),
    .instance_name = "test",
    .log = t_log,
    .template_compile = t_compile,
    .template_render = hookd_template_render,
    .template_free = hookd_template_free,
    .free = t_free,
    .event_json = hookd_event_json,
    .sign = hookd_sign_named,
};

static void test_every_plugin_has_a_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPLUGINS; i++) {
        const hookd_plugin *p = plugins[i];
        assert_true(HOOKD_PLUGIN_HAS(p, config_keys));
        assert_non_null(p->config_keys);
        for (const hookd_config_key *k = p->config_keys; k->name; k++) {
            if (!k->description || !*k->description)
                fail_msg("%s.%s: no description", p->name, k->name);
            if (hookd_cmap_find(p->config_keys, k->name) != k)
                fail_msg("%s.%s: twice in the table", p->name, k->name);
            if (k->type == HOOKD_CONFIG_ENUM && !k->choices)
                fail_msg("%s.%s: an enum without choices", p->name, k->name);
            if (!k->default_text)
                continue;
            if (k->flags & HOOKD_CONFIG_REQUIRED)
                fail_msg("%s.%s: required and a default", p->name, k->name);
            /* The default reads back through the key's own reader. */
            hookd_config_key one[2] = {*k, {.name = NULL}};
            union {
                char *s;
                int i;
                int64_t n;
                hookd_cmap_list l;
            } slot;
            memset(&slot, 0, sizeof slot);
            one[0].offset = 0;
            char err[256] = "";
            json_t *empty = json_object();
            int rc = hookd_cmap_read(one, NULL, empty, &slot, err, sizeof err);
            json_decref(empty);
            hookd_cmap_free(one, &slot);
            if (rc != 0)
                fail_msg("%s.%s: default \"%s\": %s", p->name, k->name, k->default_text, err);
        }
    }
}

static void expect_init_error(const hookd_plugin *p, json_t *cfg, const char *want)
{
    char err[512] = "";
    void *inst = NULL;
    int rc = p->init(&api, cfg, &inst, err, sizeof err);
    json_decref(cfg);
    if (rc != HOOKD_EINVAL || !strstr(err, want)) {
        if (rc == 0)
            p->destroy(inst);
        fail_msg("%s init: got %d \"%s\", wanted \"%s\"", p->name, rc, err, want);
    }
}

static void *start(const hookd_plugin *p, json_t *cfg)
{
    char err[512] = "";
    void *inst = NULL;
    int rc = p->init(&api, cfg, &inst, err, sizeof err);
    json_decref(cfg);
    if (rc != 0)
        fail_msg("%s init: %d %s", p->name, rc, err);
    return inst;
}

static void test_connect_timeout_one_grammar(void **state)
{
    (void)state;
    const hookd_plugin *fwd = plugins[2], *mail = plugins[3];
    /* Once 5 ms to one and 5 s to the other: now an error to both. */
    expect_init_error(fwd, json_pack("{s:s, s:i}", "url", "http://127.0.0.1:9/",
                                     "connect_timeout", 5), "connect_timeout: ");
    expect_init_error(fwd, json_pack("{s:s, s:s}", "url", "http://127.0.0.1:9/",
                                     "connect_timeout", "5"), "connect_timeout: ");
    expect_init_error(mail, json_pack("{s:s, s:s, s:[s], s:i}", "url", "smtp://127.0.0.1:9",
                                      "from", "a@example.com", "to", "b@example.com",
                                      "connect_timeout", 5), "connect_timeout: ");
    expect_init_error(fwd, json_pack("{s:s, s:s}", "url", "http://127.0.0.1:9/",
                                     "connect_timeout", "2h"),
                      "connect_timeout: expected a duration from 1ms to 1h");
    /* With a unit both take it. */
    fwd->destroy(start(fwd, json_pack("{s:s, s:s}", "url", "http://127.0.0.1:9/",
                                      "connect_timeout", "5s")));
    mail->destroy(start(mail, json_pack("{s:s, s:s, s:[s], s:s}", "url", "smtp://127.0.0.1:9",
                                        "from", "a@example.com", "to", "b@example.com",
                                        "connect_timeout", "500ms")));
}

static void test_cross_key_checks_stay(void **state)
{
    (void)state;
    const hookd_plugin *fwd = plugins[2], *db = plugins[4];
    expect_init_error(fwd, json_pack("{s:s, s:s}", "url", "http://x/", "body", "slack"),
                      "body: slack needs \"text\"");
    expect_init_error(fwd, json_pack("{s:s, s:s}", "url", "http://x/", "body", "xml"),
                      "body: expected raw, json or slack");
    expect_init_error(fwd, json_pack("{s:s, s:{s:s,s:s,s:i}}", "url", "http://x/", "sign",
                                     "scheme", "github", "secret", "s", "algo", 1),
                      "unknown key \"sign.algo\"");
    expect_init_error(fwd, json_pack("{s:s, s:{s:s}}", "url", "http://x/", "sign", "scheme",
                                     "github"), "missing required key \"sign.secret\"");
    expect_init_error(db, json_pack("{s:s}", "conninfo", "host=x"),
                      "conninfo: only with driver: postgres");
    expect_init_error(db, json_pack("{s:s}", "driver", "postgres"),
                      "missing required key \"conninfo\" (driver: postgres)");
    expect_init_error(db, json_pack("{s:s, s:s}", "path", "/tmp/x.db", "mode", "sql"),
                      "mode: sql needs \"statements\"");
    expect_init_error(db, json_pack("{s:s}", "driver", "mysql"),
                      "driver: expected sqlite or postgres");
}

static char *printed(const hookd_plugin *p, int *n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    *n = hookd_plugin_keys_print(f, p, "");
    fclose(f);
    return buf;
}

static void test_keys_print(void **state)
{
    (void)state;
    int n;
    char *out = printed(plugins[2], &n);
    int rows = 0;
    for (const hookd_config_key *k = plugins[2]->config_keys; k->name; k++)
        rows++;
    assert_int_equal(n, rows);
    assert_non_null(strstr(out, "forward 1.0: "));
    assert_non_null(strstr(out, "  url "));
    assert_non_null(strstr(out, "(required)"));
    const char *row = strstr(out, "\n  connect_timeout ");
    char name[32], type[32], def[32];
    assert_non_null(row);
    assert_int_equal(sscanf(row, "%31s %31s %31s", name, type, def), 3);
    assert_string_equal(type, "duration");
    assert_string_equal(def, "10s");
    assert_non_null(strstr(out, "(POST, PUT, PATCH, DELETE or GET)"));
    free(out);
    /* email's default body spans lines: printed on one. */
    out = printed(plugins[3], &n);
    assert_non_null(strstr(out, "\"Event {{type}}"));
    int lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, n + 2);   /* title, heading, one per key */
    free(out);
}

static void test_abi_1_1_plugin_loads_without_keys(void **state)
{
    (void)state;
    const char *dir = getenv("HOOKD_FIXTURE_DIR");
    char err[512] = "";
    hookd_loader *l = dir ? hookd_loader_new(dir) : NULL;
    assert_non_null(l);
    const hookd_plugin *p = hookd_loader_open(l, "abi_1_1", err, sizeof err);
    if (!p)
        fail_msg("abi_1_1: %s", err);
    assert_int_equal(p->abi_minor, 1);
    assert_false(HOOKD_PLUGIN_HAS(p, config_keys));
    int n;
    char *out = printed(p, &n);
    assert_int_equal(n, -1);
    assert_non_null(strstr(out, "no list of configuration keys (plugin ABI 1.1)"));
    free(out);
    hookd_loader_free(l);
    /* A descriptor of today's minor must be whole (short_struct is refused). */
    hookd_plugin d = {.abi_major = HOOKD_ABI_MAJOR, .abi_minor = HOOKD_ABI_MINOR,
                      .struct_size = sizeof(hookd_plugin)};
    assert_true(HOOKD_PLUGIN_HAS(&d, config_keys));
    d.struct_size = HOOKD_PLUGIN_SIZE_1_0;
    assert_false(HOOKD_PLUGIN_HAS(&d, config_keys));
}

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("HOOKD_PLUGIN_DIR");
    char err[512] = "";
    if (!dir || !(loader = hookd_loader_new(dir)))
        return fprintf(stderr, "test_plugins_config: set HOOKD_PLUGIN_DIR\n"), -1;
    for (size_t i = 0; i < NPLUGINS; i++)
        if (!(plugins[i] = hookd_loader_open(loader, names[i], err, sizeof err)))
            return fprintf(stderr, "test_plugins_config: %s\n", err), -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hookd_loader_free(loader);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_messages_name_the_key),
        cmocka_unit_test(test_durations_have_units),
        cmocka_unit_test(test_prefix_and_secret),
        cmocka_unit_test(test_every_plugin_has_a_table),
        cmocka_unit_test(test_connect_timeout_one_grammar),
        cmocka_unit_test(test_cross_key_checks_stay),
        cmocka_unit_test(test_keys_print),
        cmocka_unit_test(test_abi_1_1_plugin_loads_without_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

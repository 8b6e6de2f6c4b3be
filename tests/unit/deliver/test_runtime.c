/* Unit tests for core/deliver/runtime.c: a configuration with the file
 * plugin brought to life — instances made, routes resolved, sources found by
 * path — and a bad plugin refused with the position of its line.
 * Env: HOOKD_PLUGIN_DIR (build/plugins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/runtime.h"

static char tmpdir[] = "/tmp/hookd-test-runtime-XXXXXX";

/* plugin_dir, then three file instances writing into tmpdir. */
#define TOP                                                                    \
    "plugin_dir: \"%s\"\n"                                                     \
    "sources:\n"                                                               \
    "  - { name: a, path: /hooks/a, verify: { scheme: none } }\n"              \
    "  - { name: b, path: /hooks/b, verify: { scheme: none } }\n"              \
    "plugins:\n"                                                               \
    "  - { name: audit, use: file, config: { path: \"%s/audit.jsonl\" } }\n"   \
    "  - { name: mail, use: file, config: { path: \"%s/mail.jsonl\" } }\n"     \
    "  - { name: third, use: file, config: { path: \"%s/third.jsonl\" } }\n"

static const char ROUTES[] =
    "routes:\n"
    "  - { match: [account.cancel, \"account.dis*\"], to: [mail, audit] }\n"
    "  - { match: \"tier.*\", source: b, to: [third, audit] }\n"
    "  - { match: \"tier.*\", to: [audit, audit] }\n";

/* Builds TOP + tail (or the YAML `whole` when given); err gets the reason. */
static hookd_runtime *build(const char *tail, const char *whole, char *err, size_t errlen)
{
    const char *pdir = getenv("HOOKD_PLUGIN_DIR");
    if (!pdir)
        fail_msg("HOOKD_PLUGIN_DIR is not set (run through ctest)");
    char yaml[4096];
    if (whole)
        snprintf(yaml, sizeof yaml, whole, pdir, tmpdir);
    else
        snprintf(yaml, sizeof yaml, TOP "%s", pdir, tmpdir, tmpdir, tmpdir, tail);
    hookd_config *cfg = hookd_config_parse("t.yaml", yaml, strlen(yaml), err, errlen);
    if (!cfg)
        fail_msg("config: %s", err);
    return hookd_runtime_build(cfg, err, errlen);
}

static hookd_runtime *build_ok(const char *tail)
{
    char err[512] = "";
    hookd_runtime *rt = build(tail, NULL, err, sizeof err);
    if (!rt)
        fail_msg("build: %s", err);
    return rt;
}

static void test_instances(void **state)
{
    (void)state;
    hookd_runtime *rt = build_ok(ROUTES);
    assert_int_equal(rt->ninstances, 3);
    static const char *const names[] = {"audit", "mail", "third"};
    for (size_t i = 0; i < 3; i++) {
        hookd_instance *in = &rt->instances[i];
        assert_ptr_equal(in->rt, rt);
        assert_ptr_equal(in->cfg, &rt->cfg->plugins[i]);
        assert_string_equal(in->cfg->name, names[i]);
        assert_non_null(in->plugin);
        assert_int_equal(in->initialised, 1);
        assert_non_null(in->inst);
    }
    /* one plugin, loaded once for its three instances */
    assert_ptr_equal(rt->instances[0].plugin, rt->instances[1].plugin);
    assert_ptr_equal(rt->instances[1].plugin, rt->instances[2].plugin);
    /* the file plugin opened its file at init */
    char path[128];
    snprintf(path, sizeof path, "%s/mail.jsonl", tmpdir);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(atomic_load(&rt->refs), 1);
    hookd_runtime_free(rt);
}

/* The instances for (source, type), by name, joined with ','. */
static const char *routed(hookd_runtime *rt, const char *source, const char *type)
{
    static char buf[128];
    hookd_instance *out[8];
    memset(out, 0, sizeof out);
    size_t n = hookd_runtime_route(rt, source, type, out);
    assert_true(n <= rt->ninstances);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        assert_true(out[i] >= rt->instances && out[i] < rt->instances + rt->ninstances);
        strcat(buf, i ? "," : "");
        strcat(buf, out[i]->cfg->name);
    }
    return buf;
}

static void test_route(void **state)
{
    (void)state;
    hookd_runtime *rt = build_ok(ROUTES);
    /* the order of the routes, then of their `to` */
    assert_string_equal(routed(rt, "a", "account.cancel"), "mail,audit");
    assert_string_equal(routed(rt, "b", "account.disable"), "mail,audit");
    assert_string_equal(routed(rt, "a", "account.open"), "");
    /* a route with source: applies to that source only */
    assert_string_equal(routed(rt, "b", "tier.up"), "third,audit");
    assert_string_equal(routed(rt, "a", "tier.up"), "audit");
    /* each instance at most once, however many routes (or one route twice) name it */
    assert_string_equal(routed(rt, "b", "tier.down"), "third,audit");
    /* a glob matches the whole type */
    assert_string_equal(routed(rt, "a", "xtier.up"), "");
    assert_string_equal(routed(rt, "a", "tier"), "");
    hookd_runtime_free(rt);

    /* no routes: nothing is routed */
    rt = build_ok("");
    assert_string_equal(routed(rt, "a", "account.cancel"), "");
    hookd_runtime_free(rt);
}

static void test_source(void **state)
{
    (void)state;
    hookd_runtime *rt = build_ok(ROUTES);
    const char *p = "/hooks/a";
    assert_ptr_equal(hookd_runtime_source(rt, p, strlen(p)), &rt->cfg->sources[0]);
    p = "/hooks/b";
    assert_ptr_equal(hookd_runtime_source(rt, p, strlen(p)), &rt->cfg->sources[1]);
    /* the length given, not a NUL, ends the path (a request's is cut at '?') */
    p = "/hooks/b?x=1";
    assert_ptr_equal(hookd_runtime_source(rt, p, 8), &rt->cfg->sources[1]);
    p = "/hooks/ab";
    assert_ptr_equal(hookd_runtime_source(rt, p, 8), &rt->cfg->sources[0]);
    assert_null(hookd_runtime_source(rt, p, strlen(p)));
    p = "/hooks/a/";
    assert_null(hookd_runtime_source(rt, p, strlen(p)));
    p = "/hooks";
    assert_null(hookd_runtime_source(rt, p, strlen(p)));
    p = "/HOOKS/A";
    assert_null(hookd_runtime_source(rt, p, strlen(p)));
    assert_null(hookd_runtime_source(rt, "", 0));
    hookd_runtime_free(rt);
}

static void test_bad_plugin(void **state)
{
    (void)state;
    char err[512] = "";
    /* an unknown plugin name: the position of that instance */
    hookd_runtime *rt = build(NULL,
                              "plugin_dir: \"%s\"\n"
                              "plugins:\n"
                              "  - { name: audit, use: file, config: { path: \"%s/x\" } }\n"
                              "  - name: other\n"
                              "    use: nosuch\n",
                              err, sizeof err);
    assert_null(rt);
    const char *want = "t.yaml:4:5: plugins[1].use: ";
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got \"%s\", expected it to start with \"%s\"", err, want);
    assert_non_null(strstr(err, "nosuch"));
    assert_null(strchr(err, '\n'));

    /* a config the plugin refuses: the position of config:, the plugin's words */
    rt = build(NULL,
               "plugin_dir: \"%s\"\n"
               "plugins:\n"
               "  - name: audit\n"
               "    use: file\n"
               "    config: { nope: 1 }\n"
               "# %s\n",
               err, sizeof err);
    assert_null(rt);
    assert_string_equal(err, "t.yaml:5:13: plugins[0].config: audit: unknown key \"nope\"");

    /* no config: at all: the position of the instance */
    rt = build(NULL,
               "plugin_dir: \"%s\"\n"
               "plugins:\n"
               "  - name: audit\n"
               "    use: file\n"
               "# %s\n",
               err, sizeof err);
    assert_null(rt);
    assert_string_equal(err,
                        "t.yaml:3:5: plugins[0].config: audit: missing required key \"path\"");
}

static int last_calls;
static hookd_runtime *last_rt;
static void on_last(void *ud, hookd_runtime *rt)
{
    assert_ptr_equal(ud, &last_calls);
    last_calls++;
    last_rt = rt;
}

static void test_refs(void **state)
{
    (void)state;
    hookd_runtime *rt = build_ok(ROUTES);
    rt->last = on_last;
    rt->last_ud = &last_calls;
    assert_ptr_equal(hookd_runtime_ref(rt), rt);
    assert_ptr_equal(hookd_runtime_ref(rt), rt);
    assert_int_equal(atomic_load(&rt->refs), 3);
    hookd_runtime_unref(rt);
    hookd_runtime_unref(rt);
    assert_int_equal(last_calls, 0);
    hookd_runtime_unref(rt); /* the last one */
    assert_int_equal(last_calls, 1);
    assert_ptr_equal(last_rt, rt);
    assert_null(hookd_runtime_ref(NULL));
    hookd_runtime_unref(NULL);
    hookd_runtime_free(rt);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const files[] = {"audit.jsonl", "mail.jsonl", "third.jsonl", "x"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instances),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_source),
        cmocka_unit_test(test_bad_plugin),
        cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

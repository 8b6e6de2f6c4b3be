/* loader: every refusal with its message, reuse, and the fixture plugins
 * (good, flaky, init_fails) that the integration tests rely on.
 * Env: HOOKD_FIXTURE_DIR (build/tests/plugins), HOOKD_PLUGIN_DIR (build/plugins). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/loader.h"

static const char *fixture_dir;
static const char *plugin_dir;
static char tmpdir[64];

/* Paths in a small ring of buffers: a few may be alive at once. */
static char *path_in(const char *dir, const char *name, const char *ext)
{
    static char bufs[8][4096];
    static unsigned next;
    char *buf = bufs[next++ % 8];
    snprintf(buf, sizeof bufs[0], "%s/%s%s", dir, name, ext);
    return buf;
}

static char *fixture(const char *name) { return path_in(fixture_dir, name, ".so"); }
static char *tmp_path(const char *name) { return path_in(tmpdir, name, ""); }

/* Opens `use` in a fresh loader and expects a refusal mentioning each of the
 * given substrings (NULL-terminated). */
static void expect_refusal(const char *use, ...)
{
    hookd_loader *l = hookd_loader_new(fixture_dir);
    assert_non_null(l);
    char err[512] = "";
    const hookd_plugin *p = hookd_loader_open(l, use, err, sizeof err);
    if (p)
        fail_msg("%s: loaded, expected a refusal", use);
    assert_null(strchr(err, '\n'));
    va_list ap;
    va_start(ap, use);
    for (const char *want; (want = va_arg(ap, const char *));) {
        if (!strstr(err, want))
            fail_msg("%s: message \"%s\" lacks \"%s\"", use, err, want);
    }
    va_end(ap);
    hookd_loader_free(l);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    unlink(to);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(out >= 0);
    char buf[8192];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
    assert_int_equal(chmod(to, mode), 0);
}

static void test_good_loads(void **state)
{
    (void)state;
    hookd_loader *l = hookd_loader_new(fixture_dir);
    char err[512] = "";
    const hookd_plugin *p = hookd_loader_open(l, fixture("good"), err, sizeof err);
    if (!p)
        fail_msg("good.so refused: %s", err);
    assert_string_equal(p->name, "good");
    assert_int_equal(p->abi_major, HOOKD_ABI_MAJOR);
    assert_non_null(p->init);
    assert_non_null(p->deliver);
    assert_non_null(p->destroy);
    hookd_loader_free(l);
}

static void test_same_file_same_descriptor(void **state)
{
    (void)state;
    hookd_loader *l = hookd_loader_new(fixture_dir);
    char err[512];
    const hookd_plugin *a = hookd_loader_open(l, "good", err, sizeof err);
    const hookd_plugin *b = hookd_loader_open(l, "good", err, sizeof err);
    const hookd_plugin *c = hookd_loader_open(l, fixture("good"), err, sizeof err);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_ptr_equal(a, c);
    hookd_loader_free(l);
}

static void test_relative_path(void **state)
{
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fixture_dir), 0);
    hookd_loader *l = hookd_loader_new("/nonexistent");
    char err[512];
    const hookd_plugin *p = hookd_loader_open(l, "good.so", err, sizeof err);
    if (!p)
        fail_msg("good.so (relative) refused: %s", err);
    assert_string_equal(p->name, "good");
    hookd_loader_free(l);
    assert_int_equal(chdir(cwd), 0);
    expect_refusal("nowhere.so", "./nowhere.so", "not found", NULL);
}

static void test_file_refusals(void **state)
{
    (void)state;
    expect_refusal("nope", "nope.so", "not found", NULL);
    expect_refusal("/nonexistent/dir/x.so", "/nonexistent/dir/x.so", "not found", NULL);
    expect_refusal("../good", "not a plugin name", NULL);
    expect_refusal("", "not a plugin name", NULL);

    char target[4096];
    snprintf(target, sizeof target, "%s", fixture("good"));
    unlink(tmp_path("link.so"));
    assert_int_equal(symlink(target, tmp_path("link.so")), 0);
    expect_refusal(tmp_path("link.so"), tmp_path("link.so"), "symlink", NULL);

    copy_file(target, tmp_path("world.so"), 0666);
    expect_refusal(tmp_path("world.so"), tmp_path("world.so"), "writable", "0666", NULL);
    copy_file(target, tmp_path("group.so"), 0620);
    expect_refusal(tmp_path("group.so"), tmp_path("group.so"), "writable", "0620", NULL);
    /* The same bytes with a sane mode load. */
    copy_file(target, tmp_path("fine.so"), 0644);
    hookd_loader *l = hookd_loader_new(fixture_dir);
    char err[512];
    assert_non_null(hookd_loader_open(l, tmp_path("fine.so"), err, sizeof err));
    hookd_loader_free(l);

    rmdir(tmp_path("dir.so"));
    assert_int_equal(mkdir(tmp_path("dir.so"), 0755), 0);
    expect_refusal(tmp_path("dir.so"), tmp_path("dir.so"), "not a regular file", NULL);

    FILE *f = fopen(tmp_path("junk.so"), "w");
    assert_non_null(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    assert_int_equal(chmod(tmp_path("junk.so"), 0644), 0);
    expect_refusal(tmp_path("junk.so"), tmp_path("junk.so"), "dlopen failed", NULL);
}

static void test_descriptor_refusals(void **state)
{
    (void)state;
    char maj[16], ours[16], minor[16];
    snprintf(maj, sizeof maj, "major %d", HOOKD_ABI_MAJOR + 1);
    snprintf(ours, sizeof ours, "major %d", HOOKD_ABI_MAJOR);
    snprintf(minor, sizeof minor, "%d.%d", HOOKD_ABI_MAJOR, HOOKD_ABI_MINOR + 1);

    expect_refusal(fixture("no_entry"), fixture("no_entry"), "hookd_plugin_entry", NULL);
    expect_refusal(fixture("null_entry"), fixture("null_entry"), "returned NULL", NULL);
    expect_refusal(fixture("bad_major"), fixture("bad_major"), maj, ours, NULL);
    expect_refusal(fixture("newer_minor"), fixture("newer_minor"), "newer", minor, NULL);
    expect_refusal(fixture("short_struct"), fixture("short_struct"), "short struct", NULL);
    expect_refusal(fixture("bad_signature"), fixture("bad_signature"), "signature",
                   HOOKD_BUILD_SIGNATURE, NULL);
    expect_refusal(fixture("no_deliver"), fixture("no_deliver"), "deliver", NULL);
}

static void test_duplicate_name(void **state)
{
    (void)state;
    char file_so[4096];
    snprintf(file_so, sizeof file_so, "%s/file.so", plugin_dir);
    if (access(file_so, F_OK) != 0)
        fail_msg("%s missing: build the file plugin first", file_so);

    hookd_loader *l = hookd_loader_new(plugin_dir);
    char err[512] = "";
    const hookd_plugin *file = hookd_loader_open(l, "file", err, sizeof err);
    if (!file)
        fail_msg("file.so refused: %s", err);
    assert_null(hookd_loader_open(l, fixture("dup_name"), err, sizeof err));
    assert_non_null(strstr(err, "duplicate"));
    assert_non_null(strstr(err, "\"file\""));
    assert_non_null(strstr(err, fixture("dup_name")));
    assert_non_null(strstr(err, file_so));
    /* The refused library was not kept; the real one still is. */
    assert_ptr_equal(hookd_loader_open(l, file_so, err, sizeof err), file);
    hookd_loader_free(l);

    /* Alone, dup_name is a valid plugin. */
    l = hookd_loader_new(plugin_dir);
    assert_non_null(hookd_loader_open(l, fixture("dup_name"), err, sizeof err));
    hookd_loader_free(l);
}

/* ---- a minimal core-service table ---- */

static int logged;

static void t_log(const hookd_api *api, int level, const char *fmt, ...)
{
    (void)api;
    (void)level;
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    logged++;
}

static int64_t t_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const hookd_api api = {
    .struct_size = sizeof(hookd_api),
    .instance_name = "test",
    .log = t_log,
    .monotonic_ms = t_mono,
};

static void test_init_fails(void **state)
{
    (void)state;
    hookd_loader *l = hookd_loader_new(fixture_dir);
    char err[512];
    const hookd_plugin *p = hookd_loader_open(l, "init_fails", err, sizeof err);
    assert_non_null(p);
    void *inst = (void *)&inst;
    err[0] = '\0';
    json_t *cfg = json_object();
    assert_int_equal(p->init(&api, cfg, &inst, err, sizeof err), HOOKD_EINVAL);
    assert_string_equal(err, "init_fails: refused on purpose");
    json_decref(cfg);
    hookd_loader_free(l);
}

static hookd_event event(const char *id, uint32_t attempt)
{
    return (hookd_event){.id = id, .source = "test", .type = "t.x", .attempt = attempt,
                         .body = "{}", .body_len = 2, .deadline_ms = t_mono() + 5000};
}

static int count_lines(const char *path, const char *id)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        n += strcmp(line, id) == 0;
    }
    fclose(f);
    return n;
}

static void test_good_behaviour(void **state)
{
    (void)state;
    hookd_loader *l = hookd_loader_new(fixture_dir);
    char err[512];
    const hookd_plugin *p = hookd_loader_open(l, "good", err, sizeof err);
    assert_non_null(p);
    const char *count = tmp_path("good.count");
    unlink(count);

    json_t *cfg = json_pack("{s:s, s:i, s:s}", "result", "retry", "sleep_ms", 50,
                            "count_file", count);
    void *inst = NULL;
    assert_int_equal(p->init(&api, cfg, &inst, err, sizeof err), 0);
    hookd_event ev = event("01JDQ0000000000000000000GD", 1);
    hookd_status st = {.retry_after_ms = -1};
    int64_t t0 = t_mono();
    assert_int_equal(p->deliver(inst, &ev, &st), HOOKD_RETRY);
    assert_true(t_mono() - t0 >= 50);
    assert_non_null(strstr(st.reason, "retry"));
    assert_int_equal(count_lines(count, ev.id), 1);
    p->destroy(inst);
    json_decref(cfg);

    cfg = json_pack("{s:s}", "result", "fail");
    assert_int_equal(p->init(&api, cfg, &inst, err, sizeof err), 0);
    assert_int_equal(p->deliver(inst, &ev, &st), HOOKD_FAIL);
    p->destroy(inst);
    json_decref(cfg);

    cfg = json_object();
    assert_int_equal(p->init(&api, cfg, &inst, err, sizeof err), 0);
    assert_int_equal(p->deliver(inst, &ev, &st), HOOKD_OK);
    p->destroy(inst);
    json_decref(cfg);

    cfg = json_pack("{s:s}", "bogus", "x");
    assert_int_equal(p->init(&api, cfg, &inst, err, sizeof err), HOOKD_EINVAL);
    assert_string_equal(err, "unknown key \"bogus\"");
    json_decref(cfg);
    hookd_loader_free(l);
}

static void test_flaky_behaviour(void **state)
{
    (void)state;
    hookd_loader *l = hookd_loader_new(fixture_dir);
    char err[512];
    const hookd_plugin *p = hookd_loader_open(l, "flaky", err, sizeof err);
    assert_non_null(p);
    const char *sf = tmp_path("flaky.state"), *count = tmp_path("flaky.count");
    unlink(sf);
    unlink(count);

    /* With a state file: attempts counted there, whatever ev->attempt says. */
    json_t *cfg = json_pack("{s:s, s:i, s:s}", "state_file", sf, "fail_times", 2,
                            "count_file", count);
    void *inst = NULL;
    assert_int_equal(p->init(&api, cfg, &inst, err, sizeof err), 0);
    hookd_event a = event("01JDQ0000000000000000000AA", 1);
    hookd_event b = event("01JDQ0000000000000000000BB", 1);
    hookd_status st;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(p->deliver(inst, &a, &st), HOOKD_RETRY);
        assert_string_equal(st.reason, "flaky: failing on purpose");
    }
    assert_int_equal(p->deliver(inst, &b, &st), HOOKD_RETRY);
    assert_int_equal(p->deliver(inst, &a, &st), HOOKD_OK);
    assert_int_equal(count_lines(count, a.id), 1);
    assert_int_equal(count_lines(count, b.id), 0);
    p->destroy(inst);
    json_decref(cfg);

    /* Without: ev->attempt decides. */
    cfg = json_pack("{s:i}", "fail_times", 1);
    assert_int_equal(p->init(&api, cfg, &inst, err, sizeof err), 0);
    assert_int_equal(p->deliver(inst, &b, &st), HOOKD_RETRY);
    b.attempt = 2;
    assert_int_equal(p->deliver(inst, &b, &st), HOOKD_OK);
    p->destroy(inst);
    json_decref(cfg);
    hookd_loader_free(l);
}

/* ---- who may have written the file and its directory (issue 15, item 4) ---- */

/* A copy of good.so, mode 0755, in tmpdir/<dir> made with dir_mode. */
static char *good_in(const char *dir, mode_t dir_mode)
{
    char d[256]; /* tmpdir is short */
    snprintf(d, sizeof d, "%s", tmp_path(dir));
    rmdir(d);
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(chmod(d, dir_mode), 0); /* exact, whatever the umask */
    char *so = path_in(d, "good", ".so");
    copy_file(fixture("good"), so, 0755);
    return so;
}

static void forget(const char *so)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", so);
    unlink(so);
    *strrchr(d, '/') = '\0';
    rmdir(d);
}

static void test_owner_refused(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* only root can give a file away */
    char *so = good_in("owned", 0755);
    assert_int_equal(chown(so, 65534, 65534), 0);
    expect_refusal(so, so, "owned by uid 65534", NULL);
    /* Root's own file, or hookd's user's, loads. */
    assert_int_equal(chown(so, 0, 0), 0);
    hookd_loader *l = hookd_loader_new(fixture_dir);
    char err[512];
    if (!hookd_loader_open(l, so, err, sizeof err))
        fail_msg("root's good.so refused: %s", err);
    hookd_loader_free(l);
    forget(so);
}

static void test_writable_directory_refused(void **state)
{
    (void)state;
    static const struct { mode_t mode; const char *shown; } dirs[] = {
        {0777, "0777"}, {01777, "1777"}, {0775, "0775"}, {0757, "0757"}};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *so = good_in("wdir", dirs[i].mode);
        expect_refusal(so, so, "group- or world-writable plugin directory", dirs[i].shown,
                       NULL);
        /* By name through plugin_dir too. */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", tmp_path("wdir"));
        hookd_loader *l = hookd_loader_new(dir);
        char err[512] = "";
        assert_null(hookd_loader_open(l, "good", err, sizeof err));
        assert_non_null(strstr(err, "plugin directory"));
        hookd_loader_free(l);
        forget(so);
    }
    char *so = good_in("wdir", 0755);
    hookd_loader *l = hookd_loader_new(fixture_dir);
    char err[512];
    if (!hookd_loader_open(l, so, err, sizeof err))
        fail_msg("good.so in a 0755 directory refused: %s", err);
    hookd_loader_free(l);
    forget(so);
}

/* A FIFO named like a plugin is refused, not waited on for a writer. */
static void test_fifo_refused(void **state)
{
    (void)state;
    unlink(tmp_path("fifo.so"));
    assert_int_equal(mkfifo(tmp_path("fifo.so"), 0644), 0);
    alarm(10); /* a hang ends the test (SIGALRM) instead of the suite */
    expect_refusal(tmp_path("fifo.so"), tmp_path("fifo.so"), "not a regular file", NULL);
    alarm(0);
    unlink(tmp_path("fifo.so"));
}

static void cleanup_tmp(void)
{
    static const char *const names[] = {"link.so", "world.so", "group.so", "fine.so",
                                        "junk.so", "good.count", "flaky.state",
                                        "flaky.count", "fifo.so", "owned/good.so",
                                        "wdir/good.so"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmp_path("owned"));
    rmdir(tmp_path("wdir"));
    rmdir(tmp_path("dir.so"));
    rmdir(tmpdir);
}

int main(void)
{
    fixture_dir = getenv("HOOKD_FIXTURE_DIR");
    plugin_dir = getenv("HOOKD_PLUGIN_DIR");
    if (!fixture_dir || !plugin_dir) {
        fprintf(stderr, "test_loader: set HOOKD_FIXTURE_DIR and HOOKD_PLUGIN_DIR\n");
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hookd-loader-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_loads),
        cmocka_unit_test(test_same_file_same_descriptor),
        cmocka_unit_test(test_relative_path),
        cmocka_unit_test(test_file_refusals),
        cmocka_unit_test(test_descriptor_refusals),
        cmocka_unit_test(test_duplicate_name),
        cmocka_unit_test(test_init_fails),
        cmocka_unit_test(test_good_behaviour),
        cmocka_unit_test(test_flaky_behaviour),
        cmocka_unit_test(test_owner_refused),
        cmocka_unit_test(test_writable_directory_refused),
        cmocka_unit_test(test_fifo_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cleanup_tmp();
    return rc;
}

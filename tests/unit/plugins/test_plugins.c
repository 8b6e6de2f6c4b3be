/* The file and exec plugins, loaded through the loader from HOOKD_PLUGIN_DIR
 * and driven with a minimal core-service table and hand-built events. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/loader.h"
#include "deliver/template.h"

static hookd_loader *loader;
static const hookd_plugin *file_p, *exec_p;
static char tmpdir[64];

/* ---- a minimal core ---- */

static void t_log(const hookd_api *api, int level, const char *fmt, ...)
{
    (void)api;
    (void)level;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
}

static int64_t mono_skew; /* lets a test move the plugins' clock forward */

static int64_t t_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + mono_skew;
}

static const char *t_header(const hookd_event *ev, const char *name)
{
    for (size_t i = 0; i < ev->nheaders; i++)
        if (strcasecmp(ev->headers[i].name, name) == 0)
            return ev->headers[i].value;
    return NULL;
}

static const hookd_api api = {
    .struct_size = sizeof(hookd_api),
    .instance_name = "test",
    .log = t_log,
    .monotonic_ms = t_mono,
    .header = t_header,
    .event_json = hookd_event_json,
};

/* ---- helpers ---- */

#define EV_ID "01JDQ3Z8M0ABCDEFGHJKMNPQRS"
#define EV_MS INT64_C(1795694400123)   /* 2026-11-26T12:00:00.123Z */

typedef struct tevent {
    hookd_event ev;
    json_t *json;
    char *body;
} tevent;

static void ev_make(tevent *t, const char *body, int64_t timeout_ms)
{
    static const hookd_header hdrs[] = {{"content-type", "application/json"}};
    json_error_t jerr;
    t->body = strdup(body);
    t->json = json_loads(body, 0, &jerr);
    assert_non_null(t->json);
    t->ev = (hookd_event){.id = EV_ID, .source = "ctct", .type = "tier.increase",
                          .received_at_ms = EV_MS, .attempt = 2, .body = t->body,
                          .body_len = strlen(body), .json = t->json, .headers = hdrs,
                          .nheaders = 1, .deadline_ms = t_mono() + timeout_ms};
}

static void ev_free(tevent *t)
{
    json_decref(t->json);
    free(t->body);
}

static char *tmp_path(const char *name)
{
    static char bufs[8][256];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, len = 0, n;
    do {
        if (len + 4096 + 1 > cap && !(buf = realloc(buf, cap = cap * 2 + 8192)))
            abort();
        n = fread(buf + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* The event object both plugins produce, checked field by field. */
static void check_event_object(const json_t *o, const tevent *t)
{
    assert_true(json_is_object(o));
    assert_int_equal(json_object_size(o), 6);
    assert_string_equal(json_string_value(json_object_get(o, "id")), EV_ID);
    assert_string_equal(json_string_value(json_object_get(o, "source")), "ctct");
    assert_string_equal(json_string_value(json_object_get(o, "type")), "tier.increase");
    assert_string_equal(json_string_value(json_object_get(o, "received_at")),
                        "2026-11-26T12:00:00.123Z");
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
    assert_true(json_equal(json_object_get(o, "body"), t->json));
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

static void expect_init_error(const hookd_plugin *p, json_t *cfg, int code, const char *want)
{
    char err[512] = "";
    void *inst = NULL;
    int rc = p->init(&api, cfg, &inst, err, sizeof err);
    json_decref(cfg);
    if (rc != code || !strstr(err, want))
        fail_msg("%s init: got %d \"%s\", wanted %d \"%s\"", p->name, rc, err, code, want);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* Is any live (not zombie) process in process group pgid? */
static int group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    int alive = 0;
    for (struct dirent *e; d && !alive && (e = readdir(d));) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3)
            alive = pgrp == pgid && state != 'Z' && state != 'X';
    }
    if (d)
        closedir(d);
    return alive;
}

/* ---- file ---- */

static void test_file_line(void **state)
{
    (void)state;
    const char *out = tmp_path("events.jsonl");
    unlink(out);
    void *inst = start(file_p, json_pack("{s:s, s:b}", "path", out, "fsync", 1));
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0640 & ~mask);

    tevent t;
    ev_make(&t, "{\"event_type\":\"tier.increase\",\"data\":{\"n\":[1,2,\"\\u00e9\\n\"]}}", 5000);
    hookd_status s = {.retry_after_ms = -1};
    assert_int_equal(file_p->deliver(inst, &t.ev, &s), HOOKD_OK);
    assert_int_equal(file_p->deliver(inst, &t.ev, &s), HOOKD_OK);

    char *text = slurp(out);
    assert_non_null(text);
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1 + (nl - text) + 1, "");   /* two equal lines, then EOF */
    *nl = '\0';
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    assert_non_null(o);
    check_event_object(o, &t);
    json_decref(o);
    free(text);
    file_p->destroy(inst);
    ev_free(&t);
}

static void test_file_reopens_after_rotation(void **state)
{
    (void)state;
    const char *out = tmp_path("rot.jsonl"), *old = tmp_path("rot.jsonl.1");
    unlink(out);
    unlink(old);
    void *inst = start(file_p, json_pack("{s:s}", "path", out));
    tevent t;
    ev_make(&t, "{\"a\":1}", 5000);
    hookd_status s;
    assert_int_equal(file_p->deliver(inst, &t.ev, &s), HOOKD_OK);
    assert_int_equal(rename(out, old), 0);
    /* The plugin looks for rotation once a second. */
    mono_skew += 1500;
    assert_int_equal(file_p->deliver(inst, &t.ev, &s), HOOKD_OK);
    char *a = slurp(old), *b = slurp(out);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(a);
    free(b);
    file_p->destroy(inst);
    ev_free(&t);
}

static json_t *t_event_json(const hookd_event *ev)
{
    return json_pack("{s:s, s:b}", "id", ev->id, "from_core", 1);
}

static void test_file_uses_core_event_json(void **state)
{
    (void)state;
    hookd_api with = api;
    with.event_json = t_event_json;
    const char *out = tmp_path("core.jsonl");
    unlink(out);
    char err[512];
    void *inst = NULL;
    json_t *cfg = json_pack("{s:s}", "path", out);
    assert_int_equal(file_p->init(&with, cfg, &inst, err, sizeof err), 0);
    json_decref(cfg);
    tevent t;
    ev_make(&t, "{}", 5000);
    hookd_status s;
    assert_int_equal(file_p->deliver(inst, &t.ev, &s), HOOKD_OK);
    char *text = slurp(out);
    assert_string_equal(text, "{\"id\":\"" EV_ID "\",\"from_core\":true}\n");
    free(text);
    file_p->destroy(inst);
    ev_free(&t);
    unlink(out);
}

static void test_file_io_error_retries(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    void *inst = start(file_p, json_pack("{s:s}", "path", "/dev/full"));
    tevent t;
    ev_make(&t, "{}", 5000);
    hookd_status s = {.retry_after_ms = -1};
    assert_int_equal(file_p->deliver(inst, &t.ev, &s), HOOKD_RETRY);
    assert_string_equal(s.reason, "/dev/full: write: No space left on device");
    file_p->destroy(inst);
    ev_free(&t);
}

static void test_file_config(void **state)
{
    (void)state;
    expect_init_error(file_p, json_pack("{s:s, s:i}", "path", tmp_path("x"), "nope", 1),
                      HOOKD_EINVAL, "unknown key \"nope\"");
    expect_init_error(file_p, json_object(), HOOKD_EINVAL, "path");
    expect_init_error(file_p, json_pack("{s:i}", "path", 3), HOOKD_EINVAL, "path");
    expect_init_error(file_p, json_pack("{s:s, s:s}", "path", tmp_path("x"), "fsync", "yes"),
                      HOOKD_EINVAL, "fsync");
    expect_init_error(file_p, json_pack("{s:s}", "path", "/nonexistent/dir/events.jsonl"),
                      HOOKD_EIO, "/nonexistent/dir/events.jsonl: No such file");
    unlink(tmp_path("x"));
}

typedef struct worker {
    const hookd_plugin *p;
    void *inst;
    const hookd_event *ev;
    int n, ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        hookd_status s;
        w->ok += w->p->deliver(w->inst, w->ev, &s) == HOOKD_OK;
    }
    return NULL;
}

static void run_workers(const hookd_plugin *p, void *inst, const hookd_event *ev,
                        int threads, int each)
{
    pthread_t th[16];
    worker w[16];
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){.p = p, .inst = inst, .ev = ev, .n = each};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, each);
    }
}

static void test_file_concurrent_lines_whole(void **state)
{
    (void)state;
    const char *out = tmp_path("many.jsonl");
    unlink(out);
    void *inst = start(file_p, json_pack("{s:s}", "path", out));
    char *big = malloc(70000);
    int n = snprintf(big, 70000, "{\"pad\":\"");
    memset(big + n, 'x', 65536);
    strcpy(big + n + 65536, "\"}");
    tevent t;
    ev_make(&t, big, 5000);
    free(big);
    run_workers(file_p, inst, &t.ev, 8, 25);
    file_p->destroy(inst);

    char *text = slurp(out), *save = NULL;
    int lines = 0;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *o = json_loads(l, 0, &jerr);
        assert_non_null(o);
        check_event_object(o, &t);
        json_decref(o);
        lines++;
    }
    assert_int_equal(lines, 200);
    free(text);
    ev_free(&t);
    unlink(out);
}

/* ---- exec ---- */

static void *exec_sh(const char *script)
{
    return start(exec_p, json_pack("{s:[s,s,s]}", "command", "/bin/sh", "-c", script));
}

static int run_sh(const char *script, int64_t timeout_ms, hookd_status *s)
{
    void *inst = exec_sh(script);
    tevent t;
    ev_make(&t, "{\"x\":1}", timeout_ms);
    *s = (hookd_status){.retry_after_ms = -1};
    int rc = exec_p->deliver(inst, &t.ev, s);
    exec_p->destroy(inst);
    ev_free(&t);
    return rc;
}

static void test_exec_stdin_is_event(void **state)
{
    (void)state;
    char script[512];
    const char *out = tmp_path("stdin.json");
    snprintf(script, sizeof script, "cat > '%s'", out);
    void *inst = exec_sh(script);
    tevent t;
    ev_make(&t, "{\"event_type\":\"tier.increase\",\"data\":{\"k\":\"v\"}}", 5000);
    hookd_status s = {.retry_after_ms = -1};
    assert_int_equal(exec_p->deliver(inst, &t.ev, &s), HOOKD_OK);
    char *text = slurp(out);
    assert_non_null(text);
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    assert_non_null(o);
    check_event_object(o, &t);
    json_decref(o);
    free(text);
    exec_p->destroy(inst);
    ev_free(&t);
}

static void test_exec_exit_codes(void **state)
{
    (void)state;
    hookd_status s;
    assert_int_equal(run_sh("exit 0", 5000, &s), HOOKD_OK);
    assert_int_equal(run_sh("echo later >&2; exit 75", 5000, &s), HOOKD_RETRY);
    assert_string_equal(s.reason, "exit status 75: later");
    assert_int_equal(run_sh("echo chatter; printf '\\n  boom  \\nmore\\n' >&2; exit 3", 5000, &s),
                     HOOKD_FAIL);
    assert_string_equal(s.reason, "exit status 3: boom");
    assert_int_equal(run_sh("echo only stdout; exit 4", 5000, &s), HOOKD_FAIL);
    assert_string_equal(s.reason, "exit status 4: only stdout");
    assert_int_equal(run_sh("exit 9", 5000, &s), HOOKD_FAIL);
    assert_string_equal(s.reason, "exit status 9");
    assert_int_equal(run_sh("kill -TERM $$", 5000, &s), HOOKD_FAIL);
    assert_non_null(strstr(s.reason, "signal 15"));
}

static void test_exec_timeout_kills_group(void **state)
{
    (void)state;
    char script[512];
    const char *pidf = tmp_path("pid");
    unlink(pidf);
    /* A grandchild in the same group too. */
    snprintf(script, sizeof script, "sleep 5 & echo $$ > '%s'; wait", pidf);
    int64_t t0 = t_mono();
    hookd_status s;
    assert_int_equal(run_sh(script, 300, &s), HOOKD_RETRY);
    int64_t took = t_mono() - t0;
    assert_true(took >= 290 && took < 1000);
    /* The plugin counts from its own start, a moment after the deadline was set. */
    long said = -1;
    assert_int_equal(sscanf(s.reason, "timed out after %ld ms", &said), 1);
    assert_true(said > 280 && said <= 300);

    char *pid = slurp(pidf);
    assert_non_null(pid);
    pid_t pgid = (pid_t)atoi(pid);
    free(pid);
    assert_true(pgid > 1);
    for (int i = 0; i < 50 && group_alive(pgid); i++)
        usleep(10000);
    assert_false(group_alive(pgid));
}

static void test_exec_environment(void **state)
{
    (void)state;
    const char *out = tmp_path("env.txt");
    char script[512];
    snprintf(script, sizeof script,
             "printf '%%s|%%s|%%s|%%s|%%s' \"$HOOKD_EVENT_ID\" \"$HOOKD_EVENT_TYPE\" "
             "\"$HOOKD_SOURCE\" \"$FOO\" \"$HOME\" > '%s'", out);
    setenv("FOO", "inherited", 1);
    void *inst = start(exec_p, json_pack("{s:[s,s,s], s:{s:s, s:s}}", "command", "/bin/sh",
                                         "-c", script, "env", "FOO", "bar baz",
                                         "HOOKD_SOURCE", "spoofed"));
    unsetenv("FOO");
    tevent t;
    ev_make(&t, "{}", 5000);
    hookd_status s;
    assert_int_equal(exec_p->deliver(inst, &t.ev, &s), HOOKD_OK);
    char *text = slurp(out), want[512];
    /* Of the daemon's own environment only PATH and LANG pass (not HOME). */
    snprintf(want, sizeof want, EV_ID "|tier.increase|ctct|bar baz|");
    assert_string_equal(text, want);
    free(text);
    exec_p->destroy(inst);
    ev_free(&t);
}

static void test_exec_shell_and_workdir(void **state)
{
    (void)state;
    void *inst = start(exec_p, json_pack("{s:[s,s,s], s:b, s:s}", "command",
                                         "printf '%s|%s|%s' \"$0\" \"$1\" \"$(pwd)\" > out.txt",
                                         "zero", "one", "shell", 1, "workdir", tmpdir));
    tevent t;
    ev_make(&t, "{}", 5000);
    hookd_status s;
    assert_int_equal(exec_p->deliver(inst, &t.ev, &s), HOOKD_OK);
    char *text = slurp(tmp_path("out.txt")), want[512], real[256];
    assert_non_null(realpath(tmpdir, real));
    snprintf(want, sizeof want, "zero|one|%s", real);
    assert_string_equal(text, want);
    free(text);
    exec_p->destroy(inst);
    ev_free(&t);
}

static void test_exec_ignores_stdin(void **state)
{
    (void)state;
    /* Far more than a pipe holds, to a command that never reads it: EPIPE,
     * not SIGPIPE (this process does not ignore SIGPIPE). */
    size_t n = 1 << 20;
    char *big = malloc(n + 16);
    strcpy(big, "{\"pad\":\"");
    memset(big + 8, 'y', n);
    strcpy(big + 8 + n, "\"}");
    void *inst = exec_sh("exit 0");
    tevent t;
    ev_make(&t, big, 5000);
    free(big);
    hookd_status s;
    assert_int_equal(exec_p->deliver(inst, &t.ev, &s), HOOKD_OK);
    exec_p->destroy(inst);
    ev_free(&t);
}

static void test_exec_not_found(void **state)
{
    (void)state;
    void *inst = start(exec_p, json_pack("{s:[s]}", "command", "hookd-no-such-command"));
    tevent t;
    ev_make(&t, "{}", 5000);
    hookd_status s;
    assert_int_equal(exec_p->deliver(inst, &t.ev, &s), HOOKD_FAIL);
    assert_non_null(strstr(s.reason, "hookd-no-such-command"));
    exec_p->destroy(inst);
    ev_free(&t);
}

static void test_exec_config(void **state)
{
    (void)state;
    expect_init_error(exec_p, json_pack("{s:[s], s:i}", "command", "true", "timeout", 3),
                      HOOKD_EINVAL, "unknown key \"timeout\"");
    expect_init_error(exec_p, json_object(), HOOKD_EINVAL, "command");
    expect_init_error(exec_p, json_pack("{s:[]}", "command"), HOOKD_EINVAL, "command");
    expect_init_error(exec_p, json_pack("{s:s}", "command", "true"), HOOKD_EINVAL, "command");
    expect_init_error(exec_p, json_pack("{s:[s,i]}", "command", "true", 1), HOOKD_EINVAL,
                      "command[1]");
    expect_init_error(exec_p, json_pack("{s:[s], s:{s:i}}", "command", "true", "env", "A", 1),
                      HOOKD_EINVAL, "env.A");
    expect_init_error(exec_p, json_pack("{s:[s], s:s}", "command", "true", "workdir",
                                        "/nonexistent/dir"), HOOKD_EINVAL, "workdir");
    expect_init_error(exec_p, json_pack("{s:[s], s:s}", "command", "true", "shell", "yes"),
                      HOOKD_EINVAL, "shell");
    expect_init_error(exec_p, json_pack("{s:[s]}", "command", "/nonexistent/bin/x"),
                      HOOKD_EINVAL, "/nonexistent/bin/x");
}

static void test_exec_concurrent(void **state)
{
    (void)state;
    int fds = count_fds();
    void *inst = exec_sh("cat > /dev/null");
    tevent t;
    ev_make(&t, "{\"x\":1}", 20000);
    run_workers(exec_p, inst, &t.ev, 8, 10);
    exec_p->destroy(inst);
    ev_free(&t);
    assert_int_equal(count_fds(), fds);
}

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("HOOKD_PLUGIN_DIR");
    char err[512] = "";
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hookd-plugins-XXXXXX");
    if (!dir || !mkdtemp(tmpdir) || !(loader = hookd_loader_new(dir)))
        return fprintf(stderr, "test_plugins: set HOOKD_PLUGIN_DIR\n"), -1;
    if (!(file_p = hookd_loader_open(loader, "file", err, sizeof err)) ||
        !(exec_p = hookd_loader_open(loader, "exec", err, sizeof err)))
        return fprintf(stderr, "test_plugins: %s\n", err), -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hookd_loader_free(loader);
    static const char *const names[] = {"events.jsonl", "rot.jsonl", "rot.jsonl.1",
                                        "stdin.json", "pid", "env.txt", "out.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_line),
        cmocka_unit_test(test_file_reopens_after_rotation),
        cmocka_unit_test(test_file_uses_core_event_json),
        cmocka_unit_test(test_file_io_error_retries),
        cmocka_unit_test(test_file_config),
        cmocka_unit_test(test_file_concurrent_lines_whole),
        cmocka_unit_test(test_exec_stdin_is_event),
        cmocka_unit_test(test_exec_exit_codes),
        cmocka_unit_test(test_exec_timeout_kills_group),
        cmocka_unit_test(test_exec_environment),
        cmocka_unit_test(test_exec_shell_and_workdir),
        cmocka_unit_test(test_exec_ignores_stdin),
        cmocka_unit_test(test_exec_not_found),
        cmocka_unit_test(test_exec_config),
        cmocka_unit_test(test_exec_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* The exec plugin, loaded through the loader and driven by plugin_test.h. */
#include "plugin_test.h"

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


int main(void)
{
    const struct CMUnitTest tests[] = {
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

/* The file plugin, loaded through the loader and driven by plugin_test.h. */
#include "plugin_test.h"

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


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_line),
        cmocka_unit_test(test_file_reopens_after_rotation),
        cmocka_unit_test(test_file_uses_core_event_json),
        cmocka_unit_test(test_file_io_error_retries),
        cmocka_unit_test(test_file_config),
        cmocka_unit_test(test_file_concurrent_lines_whole),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

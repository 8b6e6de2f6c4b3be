/* Unit tests for core/spool/spool.c, spool_sqlite.c and
 * spool_sqlite_housekeep.c: a spool opened in a temporary directory;
 * appends committed and read back from the database, dedup, one daemon per
 * spool, the pending deliveries of a run that stopped before delivering
 * taken by the next, and the retention purge.
 * Env: HOOKD_PLUGIN_DIR (build/plugins, for the file plugin). */
#include <jansson.h>

#include "base/log.h"

#include "spool_test.h"

static char dir[64], db[96];
static test_stack st;

/* One source with a dedup window, one file instance, events routed by hand. */
static void open_spool(void)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "plugin_dir: \"%s\"\n"
             "spool: { path: \"%s\", sync: normal, retention: 1d }\n"
             "sources:\n"
             "  - name: s\n"
             "    path: /s\n"
             "    verify: { scheme: none }\n"
             "    dedup: { key: body, window: 1h }\n"
             "plugins:\n"
             "  - { name: audit, use: file, config: { path: \"%s/audit.jsonl\" } }\n",
             plugin_dir(), db, dir);
    stack_open(&st, yaml);
}

typedef struct outcome {
    int called;
    int result;
    char first_id[HOOKD_ID_LEN + 1];
    int64_t delivery;
    int stage; /* hand the deliveries to the dispatcher, as receive.c does */
} outcome;

static void on_done(hookd_append *a)
{
    outcome *o = a->ud;
    o->called++;
    o->result = a->result;
    snprintf(o->first_id, sizeof o->first_id, "%s", a->first_id);
    o->delivery = a->nto ? a->delivery[0] : 0;
    for (size_t i = 0; o->stage && a->result == HOOKD_SPOOL_STORED && i < a->nto; i++)
        assert_int_equal(hookd_dispatch_stage(a->jobs, a->ev, a->to[i], a->delivery[i], 0, 0, 0),
                         0);
}

/* Appends one event (routed to audit when `routed`), with `key` as its
 * dedup key when given, and runs the loop until it is committed. The id of
 * the event is copied to id. */
static outcome append(const char *type, const char *body, int64_t received_ms, int routed,
                      const char *key, char id[HOOKD_ID_LEN + 1])
{
    static const char *const names[] = {"content-type", "x-trace"};
    static const char *const values[] = {"application/json", "t-1"};
    json_t *json = json_loads(body, 0, NULL);
    assert_non_null(json);
    hookd_ev *ev = hookd_ev_new("s", type, received_ms, body, strlen(body), json, names, values, 2);
    assert_non_null(ev);
    snprintf(id, HOOKD_ID_LEN + 1, "%s", ev->id);
    hookd_instance *to[1] = {&st.rt->instances[0]};
    hookd_append *a = hookd_append_new(ev, to, routed ? 1 : 0);
    assert_non_null(a);
    outcome o = {0};
    a->done = on_done;
    a->ud = &o;
    if (key) {
        a->has_key = 1;
        snprintf(a->key, sizeof a->key, "%s", key);
        a->window_ms = 3600 * 1000;
    }
    hookd_spool_append(st.sp, a);
    assert_int_equal(hookd_spool_waiting(st.sp), 1);
    while (!o.called)
        uv_run(&st.loop, UV_RUN_ONCE);
    assert_int_equal(o.called, 1);
    assert_int_equal(hookd_spool_waiting(st.sp), 0);
    return o;
}

static void test_append_read_back(void **state)
{
    (void)state;
    open_spool();
    char id[HOOKD_ID_LEN + 1], id2[HOOKD_ID_LEN + 1], id3[HOOKD_ID_LEN + 1];
    int64_t now = hookd_now_ms();
    const char *body = "{\"type\":\"order.paid\",\"n\":1}";
    outcome o = append("order.paid", body, now, 1, "k1", id);
    assert_int_equal(o.result, HOOKD_SPOOL_STORED);
    assert_true(o.delivery > 0);
    assert_int_equal(strlen(id), HOOKD_ID_LEN);
    long long delivery = o.delivery;

    /* the same key within the window: a duplicate naming the first event */
    o = append("order.paid", body, now + 1, 1, "k1", id2);
    assert_int_equal(o.result, HOOKD_SPOOL_DUPLICATE);
    assert_string_equal(o.first_id, id);
    /* another key, and no route: stored with no delivery */
    o = append("order.new", "{\"n\":2}", now + 2, 0, "k2", id3);
    assert_int_equal(o.result, HOOKD_SPOOL_STORED);
    stack_close(&st);

    /* what another connection reads, once the spool is closed */
    char buf[256];
    size_t n;
    assert_int_equal(db_int(db, "SELECT count(*) FROM events"), 2);
    assert_int_equal(db_int(db, "SELECT count(*) FROM events WHERE id = '%s'", id2), 0);
    assert_string_equal(db_text(db, buf, sizeof buf, NULL,
                                "SELECT source || ' ' || type FROM events WHERE id = '%s'", id),
                        "s order.paid");
    assert_int_equal(db_int(db, "SELECT received_at FROM events WHERE id = '%s'", id), now);
    db_text(db, buf, sizeof buf, &n, "SELECT body FROM events WHERE id = '%s'", id);
    assert_int_equal(n, strlen(body));
    assert_memory_equal(buf, body, n);
    /* the headers: "name\0value\0" pairs, in the order received */
    static const char hs[] = "content-type\0application/json\0x-trace\0t-1";
    db_text(db, buf, sizeof buf, &n, "SELECT headers FROM events WHERE id = '%s'", id);
    assert_int_equal(n, sizeof hs);
    assert_memory_equal(buf, hs, sizeof hs);
    /* one delivery, pending (nobody delivered it), for audit */
    assert_int_equal(db_int(db, "SELECT count(*) FROM deliveries"), 1);
    assert_string_equal(db_text(db, buf, sizeof buf, NULL,
                                "SELECT d.plugin || ' ' || d.state || ' ' || d.attempts"
                                " FROM deliveries d JOIN events e ON e.seq = d.event"
                                " WHERE d.id = %lld AND e.id = '%s'",
                                delivery, id),
                        "audit pending 0");
    assert_string_equal(db_text(db, buf, sizeof buf, NULL,
                                "SELECT event FROM dedup WHERE source = 's' AND key = 'k1'"),
                        id);
    assert_int_equal(db_int(db, "SELECT count(*) FROM dedup"), 2);
}

static void test_one_daemon_per_spool(void **state)
{
    (void)state;
    open_spool();
    uv_loop_t loop;
    uv_loop_init(&loop);
    hookd_dispatch *d = hookd_dispatch_new(1);
    char err[512] = "", want[512];
    assert_null(hookd_spool_open(&loop, st.rt, d, err, sizeof err));
    snprintf(want, sizeof want,
             "spool %s is in use by another hookd (pid %ld): one daemon per spool", db,
             (long)getpid());
    assert_string_equal(err, want);
    hookd_dispatch_free(d);
    assert_int_equal(uv_loop_close(&loop), 0);
    stack_close(&st);
}

/* The driver is picked by spool.driver's name; one not built in opens
 * nothing, postgres without a conninfo opens nothing (the configuration
 * refuses it before this), and "sqlite" is the one that runs. */
static void test_driver_by_name(void **state)
{
    (void)state;
    char yaml[512], err[512] = "";
    snprintf(yaml, sizeof yaml,
             "plugin_dir: \"%s\"\nspool: { driver: sqlite, path: \"%s\" }\n", plugin_dir(),
             db);
    hookd_config *cfg = hookd_config_parse("t.yaml", yaml, strlen(yaml), err, sizeof err);
    assert_non_null(cfg);
    cfg->spool_driver = "mysql";
    hookd_runtime *rt = hookd_runtime_build(cfg, err, sizeof err);
    assert_non_null(rt);
    uv_loop_t loop;
    uv_loop_init(&loop);
    hookd_dispatch *d = hookd_dispatch_new(1);
    assert_null(hookd_spool_open(&loop, rt, d, err, sizeof err));
    assert_string_equal(err, "spool.driver: mysql is not built into this hookd");
    rt->cfg->spool_driver = "postgres";
    assert_null(hookd_spool_open(&loop, rt, d, err, sizeof err));
    assert_string_equal(err, "spool: spool.conninfo is not set");
    rt->cfg->spool_driver = "sqlite";
    hookd_spool *sp = hookd_spool_open(&loop, rt, d, err, sizeof err);
    assert_non_null(sp);
    hookd_spool_detach(sp);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(hookd_dispatch_stop(d, 5000), 0);
    hookd_spool_close(sp);
    hookd_dispatch_free(d);
    hookd_runtime_unref(rt);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A run that stored an event and stopped before delivering it: the next run
 * takes the pending delivery and the file plugin writes it. */
static void test_recovery_after_reopen(void **state)
{
    (void)state;
    open_spool();
    char id[HOOKD_ID_LEN + 1];
    outcome o = append("order.paid", "{\"n\":7}", hookd_now_ms(), 1, NULL, id);
    assert_int_equal(o.result, HOOKD_SPOOL_STORED);
    stack_close(&st);
    assert_int_equal(db_int(db, "SELECT count(*) FROM deliveries WHERE state = 'pending'"), 1);

    open_spool();
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM deliveries WHERE id = %lld AND "
                              "state = 'delivered' AND attempts = 1", (long long)o.delivery);
    assert_int_equal(db_wait_int(db, 1, sql), 1);
    stack_close(&st);
    assert_int_equal(db_int(db, "SELECT count(*) FROM attempts WHERE delivery = %lld AND n = 1"
                                " AND result = 'ok'", (long long)o.delivery), 1);
    /* the line the file plugin wrote */
    char path[128], line[1024] = "";
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_null(fgets(line + strlen(line), (int)(sizeof line - strlen(line)), f));
    fclose(f);
    json_t *j = json_loads(line, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), id);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "order.paid");
    json_decref(j);
}

/* Events past retention go once nothing is left to deliver; dedup keys go
 * past the longest window. */
static void test_retention_purge(void **state)
{
    (void)state;
    open_spool();
    int64_t now = hookd_now_ms(), old = now - 2 * 86400 * 1000LL;
    char done_old[HOOKD_ID_LEN + 1], pending_old[HOOKD_ID_LEN + 1], recent[HOOKD_ID_LEN + 1];
    assert_int_equal(append("a", "{\"n\":1}", old, 0, "old-key", done_old).result,
                     HOOKD_SPOOL_STORED);
    assert_int_equal(append("a", "{\"n\":2}", old, 1, NULL, pending_old).result,
                     HOOKD_SPOOL_STORED);
    assert_int_equal(append("a", "{\"n\":3}", now, 0, "new-key", recent).result,
                     HOOKD_SPOOL_STORED);
    /* the writer's next pass (once a second) purges */
    assert_int_equal(db_wait_int(db, 2, "SELECT count(*) FROM events"), 2);
    stack_close(&st);
    assert_int_equal(db_int(db, "SELECT count(*) FROM events WHERE id = '%s'", done_old), 0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM events WHERE id = '%s'", pending_old), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM events WHERE id = '%s'", recent), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM deliveries WHERE state = 'pending'"), 1);
    assert_int_equal(db_int(db, "SELECT count(*) FROM dedup WHERE key = 'old-key'"), 0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM dedup WHERE key = 'new-key'"), 1);
}

static int setup(void **state)
{
    (void)state;
    tmpdir_make(dir, "spool");
    snprintf(db, sizeof db, "%s/spool.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tmpdir_remove(dir);
    return 0;
}

int main(void)
{
    hookd_log_setup(HOOKD_LOG_ERROR + 1, 0); /* quiet */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_daemon_per_spool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_after_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_purge, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

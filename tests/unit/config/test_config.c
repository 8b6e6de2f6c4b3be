/* Unit tests for core/config/config.c: the YAML configuration of docs/DESIGN.md §4,
 * its server, admin, spool, log and dispatch blocks, the defaults, loading
 * a file; and the sizes and durations of common/units.c it reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <hookd/plugin.h>

#include "common/units.h"
#include "config/config.h"

#include "config_full.h"
#include "config_test.h"

/* ---- the full example of docs/DESIGN.md §4: the top-level blocks --------------- */

static void test_full_server(void **state)
{
    (void)state;
    hookd_config *c = full_config();

    assert_string_equal(c->file, "hookd.yaml");
    assert_int_equal(c->nlisten, 2);
    assert_string_equal(c->listen[0], "0.0.0.0:8443");
    assert_string_equal(c->listen[1], "[::1]:8444");
    assert_string_equal(c->tls_cert, "cert.pem");
    assert_string_equal(c->tls_key, "key.pem");
    assert_int_equal(c->max_body, 1048576);
    assert_int_equal(c->max_header, 16384);
    assert_int_equal(c->max_connections, 10000);
    assert_int_equal(c->header_timeout_ms, 10000);
    assert_int_equal(c->body_timeout_ms, 30000);
    assert_int_equal(c->idle_timeout_ms, 60000);
    assert_string_equal(c->admin_listen, "127.0.0.1:9090");
    assert_string_equal(c->spool_path, "hookd-spool.db");
    assert_int_equal(c->spool_sync_full, 1);
    assert_int_equal(c->spool_retention_ms, 7LL * 86400 * 1000);
    assert_int_equal(c->log_level, HOOKD_LOG_INFO);
    assert_int_equal(c->log_json, 1);
    assert_string_equal(c->plugin_dir, "./build/plugins");
    assert_int_equal(c->workers, 8);
    assert_int_equal(c->queue_max, 5000);

    full_done(c);
}

/* ---- defaults ------------------------------------------------------------ */

static void test_embedded_default(void **state)
{
    (void)state;
    const char *saved = getenv("CTCT_CLIENT_SECRET");
    char *copy = saved ? strdup(saved) : NULL;
    unsetenv("CTCT_CLIENT_SECRET");

    char err[ERRLEN] = "";
    hookd_config *c =
        hookd_config_parse("(default)", hookd_default_config,
                           strlen(hookd_default_config), err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0], "127.0.0.1:8080");
    assert_null(c->tls_cert);
    assert_null(c->tls_key);
    /* the console on loopback (docs/DESIGN.md §12): no token needed there */
    assert_string_equal(c->admin_listen, "127.0.0.1:9090");
    assert_int_equal(c->admin_console, 1);
    assert_null(c->admin_token);
    assert_string_equal(c->spool_path, "hookd-spool.db");
    assert_int_equal(c->log_json, 0);
    assert_int_equal(c->log_level, HOOKD_LOG_INFO);
    assert_non_null(c->plugin_dir);
    assert_true(c->plugin_dir[0] != '\0');
    assert_int_equal(c->nsources, 1);
    assert_string_equal(c->sources[0].name, "constantcontact");
    assert_string_equal(c->sources[0].path, "/webhooks/ctct");
    assert_int_equal(c->sources[0].verify[0].scheme, HOOKD_SCHEME_CTCT);
    assert_int_equal(c->sources[0].verify[0].nsecrets, 1);
    assert_string_equal(c->sources[0].verify[0].secrets[0], "change-me");
    assert_string_equal(c->sources[0].event_type, "/event_type");
    assert_int_equal(c->nplugins, 1);
    assert_string_equal(c->plugins[0].name, "audit");
    assert_string_equal(c->plugins[0].use, "file");
    assert_string_equal(
        json_string_value(json_object_get(c->plugins[0].config, "path")),
        "hookd-events.jsonl");
    assert_int_equal(c->nroutes, 1);
    assert_string_equal(c->routes[0].match[0], "*");
    assert_null(c->routes[0].source);
    assert_int_equal(c->routes[0].nto, 1);
    assert_int_equal(c->routes[0].to[0], 0);
    hookd_config_free(c);

    /* with the variable set, it is used */
    setenv("CTCT_CLIENT_SECRET", "from-env", 1);
    c = hookd_config_parse("(default)", hookd_default_config,
                           strlen(hookd_default_config), err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->sources[0].verify[0].secrets[0], "from-env");
    hookd_config_free(c);

    if (copy)
        setenv("CTCT_CLIENT_SECRET", copy, 1);
    else
        unsetenv("CTCT_CLIENT_SECRET");
    free(copy);
}

static void test_defaults_minimal(void **state)
{
    (void)state;
    hookd_config *c = expect_ok("log: { level: debug }\n");
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0], "127.0.0.1:8080");
    assert_null(c->tls_cert);
    assert_int_equal(c->max_body, 1 << 20);
    assert_int_equal(c->max_header, 16 << 10);
    assert_int_equal(c->max_connections, 10000);
    assert_int_equal(c->header_timeout_ms, 10000);
    assert_int_equal(c->body_timeout_ms, 30000);
    assert_int_equal(c->idle_timeout_ms, 60000);
    assert_null(c->admin_listen);
    assert_string_equal(c->spool_path, "hookd-spool.db");
    assert_int_equal(c->spool_sync_full, 1);
    assert_int_equal(c->spool_retention_ms, 7LL * 86400000);
    assert_int_equal(c->log_level, HOOKD_LOG_DEBUG);
    assert_int_equal(c->log_json, 1);
    assert_non_null(c->plugin_dir);
    assert_int_equal(c->workers, 4);
    assert_int_equal(c->queue_max, 10000);
    assert_int_equal(c->nsources, 0);
    assert_null(c->sources);
    assert_int_equal(c->nplugins, 0);
    assert_int_equal(c->nroutes, 0);
    hookd_config_free(c);

    c = expect_ok("server: { listen: \"10.0.0.1:80\" }\n"
                  "spool: { sync: normal }\n"
                  "log: { level: error, format: text }\n");
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0], "10.0.0.1:80");
    assert_int_equal(c->spool_sync_full, 0);
    assert_int_equal(c->log_level, HOOKD_LOG_ERROR);
    assert_int_equal(c->log_json, 0);
    hookd_config_free(c);

    c = expect_ok("log: { level: warn }\n");
    assert_int_equal(c->log_level, HOOKD_LOG_WARN);
    hookd_config_free(c);
}

static void test_server_errors(void **state)
{
    (void)state;
    expect_error("server: { listen: [] }\n",
                 "hookd.yaml:1:19: server.listen: must not be empty");
    expect_error("server: { listen: \"\" }\n",
                 "hookd.yaml:1:19: server.listen: must not be empty");
    expect_error("server:\n  listen:\n",
                 "hookd.yaml:2:10: server.listen: missing value");
    expect_error("server: { listen: [\"127.0.0.1:80\", \"localhost\"] }\n",
                 "hookd.yaml:1:36: server.listen[1]: expected host:port (like "
                 "127.0.0.1:8080 or [::1]:8080), got \"localhost\"");
    expect_error("server: { listen: \"h:99999\" }\n",
                 "hookd.yaml:1:19: server.listen: expected host:port (like "
                 "127.0.0.1:8080 or [::1]:8080), got \"h:99999\"");
    expect_error("server:\n  tls: { cert: c.pem }\n",
                 "hookd.yaml:2:8: server.tls: cert and key go together");
    expect_error("server: { max_body: 1MB }\n",
                 "hookd.yaml:1:21: server.max_body: expected a size like 1MiB "
                 "(B, KiB, MiB, GiB)");
    expect_error("server: { max_body: 0 }\n",
                 "hookd.yaml:1:21: server.max_body: 0 out of range (1 to "
                 "9223372036854775807 bytes)");
    expect_error("server: { timeouts: { idle: 5 } }\n",
                 "hookd.yaml:1:29: server.timeouts.idle: expected a duration "
                 "like 10s (ms, s, m, h, d)");
    expect_error("server: { max_connections: lots }\n",
                 "hookd.yaml:1:28: server.max_connections: expected an integer "
                 "from 1 to 1000000, got \"lots\"");
    expect_error("server: [a]\n", "hookd.yaml:1:9: server: expected a mapping");
    expect_error("dispatch: { workers: 257 }\n",
                 "hookd.yaml:1:22: dispatch.workers: expected an integer from 1 "
                 "to 256, got \"257\"");
    expect_error("dispatch: { queue: 0 }\n",
                 "hookd.yaml:1:20: dispatch.queue: expected an integer from 1 "
                 "to 1000000, got \"0\"");
    expect_error("spool: { sync: always }\n",
                 "hookd.yaml:1:16: spool.sync: unknown value \"always\" "
                 "(expected normal, full)");
    expect_error("log: { level: verbose }\n",
                 "hookd.yaml:1:15: log.level: unknown value \"verbose\" "
                 "(expected debug, info, warn, error)");
    expect_error("log: { format: xml }\n",
                 "hookd.yaml:1:16: log.format: unknown value \"xml\" (expected "
                 "text, json)");
    expect_error("admin: {}\n",
                 "hookd.yaml:1:8: admin: missing required key \"listen\"");
    expect_error("plugin_dir: [a]\n",
                 "hookd.yaml:1:13: plugin_dir: expected a string");
}

/* spool.driver names the store behind the spool (docs/DESIGN.md §11),
 * at the value's line and column when it is unknown. */
static void test_spool_driver(void **state)
{
    (void)state;
    hookd_config *c = expect_ok("log: { level: warn }\n");
    assert_string_equal(c->spool_driver, "sqlite");
    assert_null(c->spool_conninfo);
    hookd_config_free(c);
    c = expect_ok("spool: { driver: sqlite, path: x.db }\n");
    assert_string_equal(c->spool_driver, "sqlite");
    assert_string_equal(c->spool_path, "x.db");
    hookd_config_free(c);
    expect_error("spool: { driver: mysql }\n",
                 "hookd.yaml:1:18: spool.driver: unknown value \"mysql\" "
                 "(expected sqlite, postgres)");
}

/* driver: postgres and its keys: conninfo required there (with ${ENV}) and
 * refused with sqlite; node defaults to the host name; lease and pool in
 * their ranges. */
static void test_spool_postgres(void **state)
{
    (void)state;
    setenv("HOOKD_TEST_PGPW", "s3cret", 1);
    hookd_config *c = expect_ok("spool:\n  driver: postgres\n"
                                "  conninfo: \"host=db dbname=h password=${HOOKD_TEST_PGPW}\"\n");
    assert_string_equal(c->spool_driver, "postgres");
    assert_string_equal(c->spool_conninfo, "host=db dbname=h password=s3cret");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    assert_string_equal(c->spool_node, host);
    assert_int_equal(c->spool_lease_ms, 30000);
    assert_int_equal(c->spool_pool, 8);
    hookd_config_free(c);
    c = expect_ok("spool: { driver: postgres, conninfo: \"x\", node: n-1, lease: 2s, pool: 3 }\n");
    assert_string_equal(c->spool_node, "n-1");
    assert_int_equal(c->spool_lease_ms, 2000);
    assert_int_equal(c->spool_pool, 3);
    hookd_config_free(c);
    expect_error("spool: { driver: postgres }\n",
                 "hookd.yaml:1:8: spool: missing required key \"conninfo\" (driver: postgres)");
    expect_error("spool: { conninfo: \"x\" }\n",
                 "hookd.yaml:1:20: spool.conninfo: only with driver: postgres "
                 "(this spool is SQLite)");
    expect_error("spool: { driver: postgres, conninfo: x, lease: 500ms }\n",
                 "hookd.yaml:1:48: spool.lease: 500ms out of range (1000 to 3600000 ms)");
    expect_error("spool: { driver: postgres, conninfo: x, pool: 65 }\n",
                 "hookd.yaml:1:47: spool.pool: expected an integer from 2 to 64, got \"65\"");
    expect_error("spool: { driver: postgres, conninfo: x, pool: 1 }\n",
                 "hookd.yaml:1:47: spool.pool: expected an integer from 2 to 64, got \"1\"");
    expect_error("spool: { driver: postgres, conninfo: x, node: \"a b\" }\n",
                 "hookd.yaml:1:47: spool.node: expected a name (letters, digits, _ . -), "
                 "got \"a b\"");
}

/* ---- sizes and durations --------------------------------------------------- */

static void test_parse_size(void **state)
{
    (void)state;
    assert_int_equal(hookd_parse_size("0"), 0);
    assert_int_equal(hookd_parse_size("123"), 123);
    assert_int_equal(hookd_parse_size("123B"), 123);
    assert_int_equal(hookd_parse_size("16KiB"), 16384);
    assert_int_equal(hookd_parse_size("1MiB"), 1048576);
    assert_int_equal(hookd_parse_size("3GiB"), 3LL << 30);
    assert_int_equal(hookd_parse_size("9223372036854775807"), INT64_MAX);
    assert_int_equal(hookd_parse_size("9223372036854775808"), -1);
    assert_int_equal(hookd_parse_size("8589934592GiB"), -1); /* 2^33 GiB */
    assert_int_equal(hookd_parse_size("8589934591GiB"), 8589934591LL << 30);
    assert_int_equal(hookd_parse_size(""), -1);
    assert_int_equal(hookd_parse_size("MiB"), -1);
    assert_int_equal(hookd_parse_size("1MB"), -1);
    assert_int_equal(hookd_parse_size("1mib"), -1);
    assert_int_equal(hookd_parse_size("1 MiB"), -1);
    assert_int_equal(hookd_parse_size("-1"), -1);
    assert_int_equal(hookd_parse_size("1.5MiB"), -1);
    assert_int_equal(hookd_parse_size("1TiB"), -1);
    assert_int_equal(hookd_parse_size(NULL), -1);
}

static void test_parse_duration(void **state)
{
    (void)state;
    assert_int_equal(hookd_parse_duration("0s"), 0);
    assert_int_equal(hookd_parse_duration("250ms"), 250);
    assert_int_equal(hookd_parse_duration("10s"), 10000);
    assert_int_equal(hookd_parse_duration("10m"), 600000);
    assert_int_equal(hookd_parse_duration("2h"), 7200000);
    assert_int_equal(hookd_parse_duration("7d"), 604800000);
    assert_int_equal(hookd_parse_duration("9223372036854775807ms"), INT64_MAX);
    assert_int_equal(hookd_parse_duration("9223372036854776s"), -1);
    assert_int_equal(hookd_parse_duration("106751991168d"), -1);
    assert_int_equal(hookd_parse_duration("106751991167d"),
                     106751991167LL * 86400000);
    assert_int_equal(hookd_parse_duration("99999999999999999999s"), -1);
    assert_int_equal(hookd_parse_duration("10"), -1); /* bare number */
    assert_int_equal(hookd_parse_duration(""), -1);
    assert_int_equal(hookd_parse_duration("s"), -1);
    assert_int_equal(hookd_parse_duration("-1s"), -1);
    assert_int_equal(hookd_parse_duration("1.5s"), -1);
    assert_int_equal(hookd_parse_duration("1S"), -1);
    assert_int_equal(hookd_parse_duration("1w"), -1);
    assert_int_equal(hookd_parse_duration("1h30m"), -1);
    assert_int_equal(hookd_parse_duration("1 s"), -1);
    assert_int_equal(hookd_parse_duration(NULL), -1);
}

/* ---- hookd_config_load ------------------------------------------------------ */

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/hookd-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "log: { level: warn }\nspool: { path: x.db }\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);
    char err[ERRLEN] = "";
    hookd_config *c = hookd_config_load(path, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(c->file, path);
    assert_int_equal(c->log_level, HOOKD_LOG_WARN);
    assert_string_equal(c->spool_path, "x.db");
    hookd_config_free(c);

    /* errors name the path given */
    FILE *f = fopen(path, "w");
    fputs("log:\n  levl: warn\n", f);
    fclose(f);
    assert_null(hookd_config_load(path, err, sizeof err));
    char want[ERRLEN];
    snprintf(want, sizeof want, "%s:2:3: log.levl: unknown key", path);
    assert_string_equal(err, want);
    unlink(path);

    assert_null(hookd_config_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory",
             path);
    assert_string_equal(err, want);

    /* a NULL or tiny error buffer is fine */
    assert_null(hookd_config_load(path, NULL, 0));
    char tiny[8];
    assert_null(hookd_config_load(path, tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_server),
        cmocka_unit_test(test_embedded_default),
        cmocka_unit_test(test_defaults_minimal),
        cmocka_unit_test(test_server_errors),
        cmocka_unit_test(test_spool_driver),
        cmocka_unit_test(test_spool_postgres),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

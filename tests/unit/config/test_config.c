/* Unit tests for core/config.c: the YAML configuration of DESIGN §4. */
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

#include "config_test.h"

/* A valid prelude for tests of plugins and routes. */
#define PRELUDE                                                                \
    "sources:\n"                                                               \
    "  - name: cc\n"                                                           \
    "    path: /cc\n"                                                          \
    "    verify: { scheme: none }\n"                                           \
    "plugins:\n"                                                               \
    "  - name: audit\n"                                                        \
    "    use: file\n"

/* ---- the full example of DESIGN §4 ---------------------------------------- */

static const char full_yaml[] =
    "server:\n"
    "  listen: [\"0.0.0.0:8443\", \"[::1]:8444\"]\n"
    "  tls: { cert: cert.pem, key: key.pem }\n"
    "  max_body: 1MiB\n"
    "  max_header: 16KiB\n"
    "  max_connections: 10000\n"
    "  timeouts: { header: 10s, body: 30s, idle: 60s }\n"
    "admin: { listen: \"127.0.0.1:9090\" }\n"
    "spool: { path: hookd-spool.db, sync: full, retention: 7d }\n"
    "log: { level: info, format: json }\n"
    "plugin_dir: ./build/plugins\n"
    "dispatch: { workers: 8, queue: 5000 }\n"
    "\n"
    "sources:\n"
    "  - name: constantcontact\n"
    "    path: /webhooks/ctct\n"
    "    auth: { basic: { username: partner, password: \"${TEST_CTCT_PARTNER_PASSWORD}\" } }\n"
    "    verify: { scheme: ctct-hmac-sha256, secret: \"${TEST_CTCT_CLIENT_SECRET}\" }\n"
    "    event_type: /event_type\n"
    "    dedup: { key: none }\n"
    "    enrich: ctct-plan\n"
    "  - name: gh\n"
    "    path: /webhooks/github\n"
    "    verify: { scheme: github, secrets: [old, new] }\n"
    "    dedup: { key: \"header:X-GitHub-Delivery\", window: 2h }\n"
    "  - name: custom\n"
    "    path: /webhooks/custom\n"
    "    verify:\n"
    "      scheme: hmac\n"
    "      secret: k\n"
    "      header: X-Signature\n"
    "      algorithm: sha512\n"
    "      encoding: base64\n"
    "      prefix: \"sha512=\"\n"
    "      # no tolerance: hmac signs no timestamp hookd could check\n"
    "    event_type: \"header:X-Event\"\n"
    "    dedup: { key: \"pointer:/id\" }\n"
    "  - name: sw\n"
    "    path: /webhooks/sw\n"
    "    verify: { scheme: standard-webhooks, secret: whsec_YWJj, tolerance: 5m }\n"
    "    dedup: { key: body }\n"
    "\n"
    "plugins:\n"
    "  - name: audit\n"
    "    use: file\n"
    "    config: { path: events.jsonl }\n"
    "    concurrency: 4\n"
    "    timeout: 10s\n"
    "    retry: { attempts: 10, backoff: 1s, max_backoff: 10m }\n"
    "  - name: ops-mail\n"
    "    use: email\n"
    "    config: { url: \"smtp://127.0.0.1:2525\", from: \"hookd@example.com\",\n"
    "              to: [\"ops@example.com\"], subject: \"{{type}} for account {{ctct.account_id}}\" }\n"
    "  - name: local\n"
    "    use: ./x/custom.so\n"
    "    concurrency: 2\n"
    "    timeout: 1500ms\n"
    "    retry: { attempts: 3, backoff: 2s }\n"
    "\n"
    "routes:\n"
    "  - { match: [\"account.cancel\", \"account.disable\"], to: [ops-mail, audit] }\n"
    "  - { match: \"tier.*\", to: [audit] }\n"
    "  - { match: \"*\", source: constantcontact, to: [audit, audit] }\n"
    "ctct: { api: v2, api_key: key, username: partner, password: pw }\n";

static void test_full(void **state)
{
    (void)state;
    setenv("TEST_CTCT_PARTNER_PASSWORD", "pw!", 1);
    setenv("TEST_CTCT_CLIENT_SECRET", "s3cret", 1);
    hookd_config *c = expect_ok(full_yaml);

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

    assert_int_equal(c->nsources, 4);
    hookd_source_cfg *s = &c->sources[0];
    assert_string_equal(s->name, "constantcontact");
    assert_string_equal(s->path, "/webhooks/ctct");
    assert_string_equal(s->basic_user, "partner");
    assert_string_equal(s->basic_pass, "pw!");
    assert_int_equal(s->verify[0].scheme, HOOKD_SCHEME_CTCT);
    assert_int_equal(s->verify[0].nsecrets, 1);
    assert_string_equal(s->verify[0].secrets[0], "s3cret");
    assert_int_equal(s->verify[0].tolerance_ms, 0);
    assert_null(s->verify[0].header);
    assert_null(s->verify[0].prefix);
    assert_string_equal(s->event_type, "/event_type");
    assert_null(s->event_type_header);
    assert_int_equal(s->dedup, HOOKD_DEDUP_NONE);
    assert_null(s->dedup_arg);
    assert_int_equal(s->dedup_window_ms, 3600000);
    assert_string_equal(s->enrich, "ctct-plan");
    assert_int_equal(s->mark.line, 15);
    assert_int_equal(s->mark.col, 5);

    s = &c->sources[1];
    assert_string_equal(s->name, "gh");
    assert_null(s->basic_user);
    assert_null(s->basic_pass);
    assert_int_equal(s->verify[0].scheme, HOOKD_SCHEME_GITHUB);
    assert_int_equal(s->verify[0].nsecrets, 2);
    assert_string_equal(s->verify[0].secrets[0], "old");
    assert_string_equal(s->verify[0].secrets[1], "new");
    assert_null(s->event_type);
    assert_string_equal(s->event_type_header, "X-GitHub-Event");
    assert_int_equal(s->dedup, HOOKD_DEDUP_HEADER);
    assert_string_equal(s->dedup_arg, "X-GitHub-Delivery");
    assert_int_equal(s->dedup_window_ms, 2 * 3600000);
    assert_null(s->enrich);

    s = &c->sources[2];
    assert_int_equal(s->verify[0].scheme, HOOKD_SCHEME_HMAC);
    assert_string_equal(s->verify[0].secrets[0], "k");
    assert_string_equal(s->verify[0].header, "X-Signature");
    assert_int_equal(s->verify[0].algorithm, HOOKD_ALG_SHA512);
    assert_int_equal(s->verify[0].encoding, HOOKD_ENC_BASE64);
    assert_string_equal(s->verify[0].prefix, "sha512=");
    assert_int_equal(s->verify[0].tolerance_ms, 0);
    assert_null(s->event_type);
    assert_string_equal(s->event_type_header, "X-Event");
    assert_int_equal(s->dedup, HOOKD_DEDUP_POINTER);
    assert_string_equal(s->dedup_arg, "/id");

    s = &c->sources[3];
    assert_int_equal(s->verify[0].scheme, HOOKD_SCHEME_STDWH);
    assert_string_equal(s->verify[0].secrets[0], "whsec_YWJj");
    assert_int_equal(s->verify[0].tolerance_ms, 300000);
    assert_string_equal(s->event_type, "/type");
    assert_int_equal(s->dedup, HOOKD_DEDUP_BODY);
    assert_null(s->dedup_arg);

    assert_int_equal(c->nplugins, 3);
    hookd_plugin_cfg *p = &c->plugins[0];
    assert_string_equal(p->name, "audit");
    assert_string_equal(p->use, "file");
    assert_non_null(p->config);
    assert_true(json_is_object(p->config));
    assert_int_equal(json_object_size(p->config), 1);
    assert_string_equal(json_string_value(json_object_get(p->config, "path")),
                        "events.jsonl");
    assert_int_equal(p->concurrency, 4);
    assert_int_equal(p->timeout_ms, 10000);
    assert_int_equal(p->retry_attempts, 10);
    assert_int_equal(p->retry_backoff_ms, 1000);
    assert_int_equal(p->retry_max_backoff_ms, 600000);
    assert_int_equal(p->mark.line, 44);
    assert_int_equal(p->mark.col, 5);
    assert_int_equal(p->config_mark.line, 46);
    assert_int_equal(p->config_mark.col, 13);

    p = &c->plugins[1];
    assert_string_equal(p->name, "ops-mail");
    assert_string_equal(p->use, "email");
    assert_int_equal(json_object_size(p->config), 4);
    assert_string_equal(json_string_value(json_object_get(p->config, "url")),
                        "smtp://127.0.0.1:2525");
    assert_string_equal(json_string_value(json_object_get(p->config, "subject")),
                        "{{type}} for account {{ctct.account_id}}");
    json_t *to = json_object_get(p->config, "to");
    assert_true(json_is_array(to));
    assert_int_equal(json_array_size(to), 1);
    assert_string_equal(json_string_value(json_array_get(to, 0)),
                        "ops@example.com");
    /* defaults */
    assert_int_equal(p->concurrency, 4);
    assert_int_equal(p->timeout_ms, 10000);
    assert_int_equal(p->retry_attempts, 10);

    p = &c->plugins[2];
    assert_string_equal(p->use, "./x/custom.so");
    assert_true(json_is_object(p->config));
    assert_int_equal(json_object_size(p->config), 0);
    assert_int_equal(p->config_mark.line, p->mark.line);
    assert_int_equal(p->config_mark.col, p->mark.col);
    assert_int_equal(p->concurrency, 2);
    assert_int_equal(p->timeout_ms, 1500);
    assert_int_equal(p->retry_attempts, 3);
    assert_int_equal(p->retry_backoff_ms, 2000);
    assert_int_equal(p->retry_max_backoff_ms, 600000);

    assert_int_equal(c->nroutes, 3);
    hookd_route_cfg *r = &c->routes[0];
    assert_int_equal(r->nmatch, 2);
    assert_string_equal(r->match[0], "account.cancel");
    assert_string_equal(r->match[1], "account.disable");
    assert_null(r->source);
    assert_int_equal(r->nto, 2);
    assert_int_equal(r->to[0], 1);
    assert_int_equal(r->to[1], 0);
    assert_int_equal(r->mark.line, 61);
    assert_int_equal(r->mark.col, 5);
    r = &c->routes[1];
    assert_int_equal(r->nmatch, 1);
    assert_string_equal(r->match[0], "tier.*");
    assert_int_equal(r->nto, 1);
    assert_int_equal(r->to[0], 0);
    r = &c->routes[2];
    assert_string_equal(r->match[0], "*");
    assert_string_equal(r->source, "constantcontact");
    assert_int_equal(r->nto, 1); /* named twice, delivered once */
    assert_int_equal(r->to[0], 0);

    hookd_config_free(c);
    unsetenv("TEST_CTCT_PARTNER_PASSWORD");
    unsetenv("TEST_CTCT_CLIENT_SECRET");
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
    assert_null(c->admin_listen);
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

static void test_scheme_defaults(void **state)
{
    (void)state;
    hookd_config *c = expect_ok(
        "sources:\n"
        "  - { name: a, path: /a, verify: { scheme: stripe, secret: whsec_x } }\n"
        "  - { name: b, path: /b, verify: { scheme: github, secret: x },"
        " event_type: /action, dedup: { key: none } }\n"
        "  - { name: c, path: /c, verify: { scheme: none } }\n"
        "  - { name: d, path: /d, verify: { scheme: hmac, secret: x,"
        " header: X-Sig } }\n"
        "  - { name: e, path: /e, verify: { scheme: standard-webhooks,"
        " secret: whsec_eA== } }\n");
    assert_int_equal(c->sources[0].verify[0].scheme, HOOKD_SCHEME_STRIPE);
    assert_int_equal(c->sources[0].verify[0].tolerance_ms, 300000);
    assert_string_equal(c->sources[0].event_type, "/type");
    assert_int_equal(c->sources[0].dedup, HOOKD_DEDUP_NONE);
    assert_string_equal(c->sources[1].event_type, "/action");
    assert_null(c->sources[1].event_type_header);
    assert_int_equal(c->sources[1].dedup, HOOKD_DEDUP_NONE);
    assert_int_equal(c->sources[2].verify[0].scheme, HOOKD_SCHEME_NONE);
    assert_int_equal(c->sources[2].verify[0].nsecrets, 0);
    assert_null(c->sources[2].verify[0].secrets);
    assert_string_equal(c->sources[2].event_type, "/event_type");
    assert_int_equal(c->sources[3].verify[0].algorithm, HOOKD_ALG_SHA256);
    assert_int_equal(c->sources[3].verify[0].encoding, HOOKD_ENC_HEX);
    assert_null(c->sources[3].verify[0].prefix);
    assert_int_equal(c->sources[3].verify[0].tolerance_ms, 0);
    assert_int_equal(c->sources[4].dedup, HOOKD_DEDUP_HEADER);
    assert_string_equal(c->sources[4].dedup_arg, "webhook-id");
    assert_string_equal(c->sources[4].event_type, "/type");
    hookd_config_free(c);
}

/* ---- ${ENV} -------------------------------------------------------------- */

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("HOOKD_T_HOST", "10.1.2.3", 1);
    setenv("HOOKD_T_PORT", "9000", 1);
    setenv("HOOKD_T_EMPTY", "", 1);
    unsetenv("HOOKD_T_UNSET");
    hookd_config *c = expect_ok(
        "server: { listen: \"${HOOKD_T_HOST}:${HOOKD_T_PORT}\" }\n"
        "spool: { path: \"/var/${HOOKD_T_UNSET:-lib}/x-${HOOKD_T_EMPTY:-e}.db\" }\n"
        "plugin_dir: \"$HOME/cost $5 and $${LITERAL} ${HOOKD_T_EMPTY}end\"\n"
        "admin: { listen: \"${HOOKD_T_UNSET:-127.0.0.1:9}\" }\n");
    assert_string_equal(c->listen[0], "10.1.2.3:9000");
    assert_string_equal(c->spool_path, "/var/lib/x-e.db");
    assert_string_equal(c->plugin_dir, "$HOME/cost $5 and ${LITERAL} end");
    assert_string_equal(c->admin_listen, "127.0.0.1:9");
    hookd_config_free(c);

    /* unset, with no default: the exact position of the scalar */
    expect_error("sources:\n"
                 "  - name: constantcontact\n"
                 "    path: /webhooks/ctct\n"
                 "    verify:\n"
                 "      scheme: ctct-hmac-sha256\n"
                 "      secret: \"${HOOKD_T_UNSET}\"\n",
                 "hookd.yaml:6:15: sources[0].verify.secret: environment "
                 "variable HOOKD_T_UNSET is not set");
    expect_error("plugin_dir: \"a${HOOKD_T_HOST\"\n",
                 "hookd.yaml:1:13: plugin_dir: unterminated ${ (write $${ for "
                 "a literal)");
    expect_error("plugin_dir: \"${1X}\"\n",
                 "hookd.yaml:1:13: plugin_dir: invalid ${...}: expected "
                 "${NAME} or ${NAME:-default} (NAME of letters, digits and _)");
    expect_error("plugin_dir: \"${A:-${B}}\"\n",
                 "hookd.yaml:1:13: plugin_dir: nested ${...} is not "
                 "supported");
    /* too long after expansion */
    char *big = malloc(40 * 1024 + 1);
    memset(big, 'x', 40 * 1024);
    big[40 * 1024] = '\0';
    setenv("HOOKD_T_BIG", big, 1);
    free(big);
    expect_error("plugin_dir: ${HOOKD_T_BIG}${HOOKD_T_BIG}\n",
                 "hookd.yaml:1:13: plugin_dir: value too long (over 64 KiB)");
    c = expect_ok("plugin_dir: ${HOOKD_T_BIG}\n");
    assert_int_equal(strlen(c->plugin_dir), 40 * 1024);
    hookd_config_free(c);
    unsetenv("HOOKD_T_BIG");
    unsetenv("HOOKD_T_HOST");
    unsetenv("HOOKD_T_PORT");
    unsetenv("HOOKD_T_EMPTY");
}

/* ---- error messages -------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error("server:\n"
                 "  listen: \"0.0.0.0:8443\"\n"
                 "  lisen: \"0.0.0.0:8443\"\n",
                 "hookd.yaml:3:3: server.lisen: unknown key");
    expect_error("servr: {}\n", "hookd.yaml:1:1: servr: unknown key");
    expect_error("server: { timeouts: { header: 1s, bdy: 2s } }\n",
                 "hookd.yaml:1:35: server.timeouts.bdy: unknown key");
    expect_error(PRELUDE "    retries: 3\n",
                 "hookd.yaml:8:5: plugins[0].retries: unknown key");
    expect_error("sources:\n"
                 "  - name: a\n"
                 "    path: /a\n"
                 "    verify: { scheme: none, secert: x }\n",
                 "hookd.yaml:4:29: sources[0].verify.secert: unknown key");
    expect_error("log: { level: info, level: debug }\n",
                 "hookd.yaml:1:21: log.level: duplicate key");
    expect_error(PRELUDE "    config: { a: 1, a: 2 }\n",
                 "hookd.yaml:8:21: plugins[0].config.a: duplicate key");
}

static void test_route_errors(void **state)
{
    (void)state;
    expect_error(PRELUDE "routes:\n"
                         "  - { match: \"*\", to: [audit] }\n"
                         "  - match: \"tier.*\"\n"
                         "    to: [audit, slak]\n",
                 "hookd.yaml:11:17: routes[1].to: unknown plugin instance "
                 "\"slak\"");
    expect_error(PRELUDE "routes:\n"
                         "  - { match: \"*\", to: slak }\n",
                 "hookd.yaml:9:23: routes[0].to: unknown plugin instance "
                 "\"slak\"");
    expect_error(PRELUDE "routes:\n"
                         "  - { match: \"*\", source: other, to: audit }\n",
                 "hookd.yaml:9:27: routes[0].source: unknown source \"other\"");
    expect_error(PRELUDE "routes:\n"
                         "  - { to: audit }\n",
                 "hookd.yaml:9:5: routes[0]: missing required key \"match\"");
    expect_error(PRELUDE "routes:\n"
                         "  - match: \"*\"\n",
                 "hookd.yaml:9:5: routes[0]: missing required key \"to\"");
    expect_error(PRELUDE "routes:\n"
                         "  - { match: [], to: audit }\n",
                 "hookd.yaml:9:14: routes[0].match: must not be empty");
    expect_error(PRELUDE "routes:\n"
                         "  - { match: [a, \"\"], to: audit }\n",
                 "hookd.yaml:9:18: routes[0].match[1]: must not be empty");
    expect_error(PRELUDE "routes: { match: x }\n",
                 "hookd.yaml:8:9: routes: expected a list");
    expect_error(PRELUDE "routes:\n  - x\n",
                 "hookd.yaml:9:5: routes[0]: expected a mapping");
}

static void test_source_errors(void **state)
{
    (void)state;
    expect_error("sources:\n"
                 "  - name: constantcontact\n"
                 "    path: /webhooks/ctct\n",
                 "hookd.yaml:2:5: sources[0]: no verify; write verify: { "
                 "scheme: none } to accept unsigned requests");
    expect_error("sources:\n"
                 "  - { name: a, path: /a, verify: { scheme: none } }\n"
                 "  - name: b\n"
                 "    path: /b\n"
                 "    verify: { scheme: github }\n",
                 "hookd.yaml:5:13: sources[1].verify: scheme github needs a "
                 "secret (secret: or secrets:)");
    expect_error("sources:\n"
                 "  - name: b\n"
                 "    path: /b\n"
                 "    verify: { scheme: gitlab, secret: x }\n",
                 "hookd.yaml:4:23: sources[0].verify.scheme: unknown scheme "
                 "\"gitlab\" (ctct-jws, ctct-hmac-sha256, github, stripe, "
                 "standard-webhooks, hmac, none)");
    expect_error("sources:\n"
                 "  - name: b\n"
                 "    path: /b\n"
                 "    verify: { scheme: hmac, secret: x }\n",
                 "hookd.yaml:4:13: sources[0].verify: scheme hmac needs "
                 "header");
    expect_error("sources:\n"
                 "  - name: b\n"
                 "    path: /b\n"
                 "    verify: { secret: x }\n",
                 "hookd.yaml:4:13: sources[0].verify: missing required key "
                 "\"scheme\"");
    expect_error("sources:\n"
                 "  - { name: b, path: /b, verify: { scheme: none, secret: x } }\n",
                 "hookd.yaml:2:58: sources[0].verify.secret: scheme none takes "
                 "no secret");
    expect_error("sources:\n"
                 "  - { name: b, path: /b, verify: { scheme: github, secret: x,"
                 " secrets: [y] } }\n",
                 "hookd.yaml:2:72: sources[0].verify.secrets: give secret or "
                 "secrets, not both");
    expect_error("sources:\n"
                 "  - { name: b, path: /b, verify: { scheme: github, secret: x,"
                 " header: X-Sig } }\n",
                 "hookd.yaml:2:71: sources[0].verify.header: only used with "
                 "scheme hmac (this is github)");
    expect_error("sources:\n"
                 "  - { name: b, path: /b, verify: { scheme: ctct-hmac-sha256,"
                 " secret: x, tolerance: 5s } }\n",
                 "hookd.yaml:2:84: sources[0].verify.tolerance: scheme "
                 "ctct-hmac-sha256 has no timestamp to check");
    expect_error("sources:\n"
                 "  - { name: b, path: /b, verify: { scheme: github, secret: \"\" } }\n",
                 "hookd.yaml:2:60: sources[0].verify.secret: must not be empty");
    expect_error("sources:\n"
                 "  - { name: b, path: /b, verify: { scheme: hmac, secret: x,"
                 " header: X-Sig, algorithm: md5 } }\n",
                 "hookd.yaml:2:87: sources[0].verify.algorithm: unknown value "
                 "\"md5\" (expected sha256, sha512)");
    /* missing name / path */
    expect_error("sources:\n"
                 "  - path: /a\n"
                 "    verify: { scheme: none }\n",
                 "hookd.yaml:2:5: sources[0]: missing required key \"name\"");
    expect_error("sources:\n"
                 "  - name: a\n"
                 "    verify: { scheme: none }\n",
                 "hookd.yaml:2:5: sources[0]: missing required key \"path\"");
    expect_error("sources:\n"
                 "  - name: a\n"
                 "    path: webhooks\n"
                 "    verify: { scheme: none }\n",
                 "hookd.yaml:3:11: sources[0].path: expected a request path "
                 "starting with '/' (no spaces, '?' or '#'), got \"webhooks\"");
    expect_error("sources:\n"
                 "  - name: a b\n"
                 "    path: /a\n"
                 "    verify: { scheme: none }\n",
                 "hookd.yaml:2:11: sources[0].name: invalid name \"a b\" "
                 "(letters, digits, '.', '_', '-')");
    /* a message stays on one line whatever the value holds */
    expect_error("sources:\n"
                 "  - name: \"a\\nb\\tc\\x01\"\n"
                 "    path: /a\n"
                 "    verify: { scheme: none }\n",
                 "hookd.yaml:2:11: sources[0].name: invalid name "
                 "\"a\\nb\\tc\\x01\" (letters, digits, '.', '_', '-')");
    expect_error("plugin_dir: \"a\\0b\"\n",
                 "hookd.yaml:1:13: plugin_dir: contains a NUL character");
    /* duplicates: the second one's position */
    expect_error("sources:\n"
                 "  - { name: cc, path: /a, verify: { scheme: none } }\n"
                 "  - { name: gh, path: /b, verify: { scheme: none } }\n"
                 "  - { name: cc, path: /c, verify: { scheme: none } }\n",
                 "hookd.yaml:4:13: sources[2].name: duplicate source name "
                 "\"cc\" (first at line 2)");
    expect_error("sources:\n"
                 "  - { name: cc, path: /a, verify: { scheme: none } }\n"
                 "  - name: gh\n"
                 "    path: /a\n"
                 "    verify: { scheme: none }\n",
                 "hookd.yaml:4:11: sources[1].path: duplicate source path "
                 "\"/a\" (first at line 2)");
    /* event type and dedup */
    expect_error("sources:\n"
                 "  - { name: a, path: /a, verify: { scheme: none },"
                 " event_type: type }\n",
                 "hookd.yaml:2:64: sources[0].event_type: expected a JSON "
                 "pointer like /event_type or header:Name, got \"type\"");
    expect_error("sources:\n"
                 "  - { name: a, path: /a, verify: { scheme: none },"
                 " dedup: { key: \"header:\" } }\n",
                 "hookd.yaml:2:66: sources[0].dedup.key: expected none, body, "
                 "header:Name or pointer:/json/pointer, got \"header:\"");
    expect_error("sources:\n"
                 "  - { name: a, path: /a, verify: { scheme: none },"
                 " enrich: yes }\n",
                 "hookd.yaml:2:60: sources[0].enrich: unknown value \"yes\" "
                 "(expected none, ctct-plan)");
    expect_error("sources:\n"
                 "  - { name: a, path: /a, verify: { scheme: none },"
                 " auth: { basic: { username: u } } }\n",
                 "hookd.yaml:2:67: sources[0].auth.basic: missing required key "
                 "\"password\"");
}

static void test_plugin_errors(void **state)
{
    (void)state;
    expect_error("plugins:\n"
                 "  - name: audit\n"
                 "    use: file\n"
                 "  - name: other\n"
                 "    use: file\n"
                 "  - name: audit\n"
                 "    use: exec\n",
                 "hookd.yaml:6:11: plugins[2].name: duplicate plugin instance "
                 "name \"audit\" (first at line 2)");
    expect_error("plugins:\n"
                 "  - use: file\n",
                 "hookd.yaml:2:5: plugins[0]: missing required key \"name\"");
    expect_error("plugins:\n"
                 "  - name: audit\n"
                 "    config: {}\n",
                 "hookd.yaml:2:5: plugins[0]: missing required key \"use\"");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, concurrency: 0 }\n",
                 "hookd.yaml:2:40: plugins[0].concurrency: expected an integer "
                 "from 1 to 1024, got \"0\"");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, retry: { attempts: 1001 } }\n",
                 "hookd.yaml:2:46: plugins[0].retry.attempts: expected an "
                 "integer from 1 to 1000, got \"1001\"");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, timeout: 10 }\n",
                 "hookd.yaml:2:36: plugins[0].timeout: expected a duration like "
                 "10s (ms, s, m, h, d)");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, retry: { backoff: 1m, max_backoff: 1s"
                 " } }\n",
                 "hookd.yaml:2:62: plugins[0].retry.max_backoff: is less than "
                 "backoff");
    expect_error("plugins:\n"
                 "  - { name: a, use: file, config: [1, 2] }\n",
                 "hookd.yaml:2:35: plugins[0].config: expected a mapping");
    expect_error("plugins:\n"
                 "  - { name: a, use: ../evil }\n",
                 "hookd.yaml:2:21: plugins[0].use: expected a plugin name or a "
                 "path ending in .so, got \"../evil\"");
    unsetenv("HOOKD_T_UNSET");
    expect_error("plugins:\n"
                 "  - name: a\n"
                 "    use: file\n"
                 "    config:\n"
                 "      to: [x, \"${HOOKD_T_UNSET}\"]\n",
                 "hookd.yaml:5:15: plugins[0].config.to[1]: environment "
                 "variable HOOKD_T_UNSET is not set");
    /* a retry block without max_backoff raises the default to backoff */
    hookd_config *c = expect_ok("plugins:\n"
                                "  - { name: a, use: file, retry: { backoff: 20m } }\n");
    assert_int_equal(c->plugins[0].retry_backoff_ms, 20 * 60000);
    assert_int_equal(c->plugins[0].retry_max_backoff_ms, 20 * 60000);
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

static void test_document_errors(void **state)
{
    (void)state;
    expect_error("- a\n- b\n",
                 "hookd.yaml:1:1: expected a mapping at the top level");
    expect_error("", "hookd.yaml:1:1: the configuration is empty; expected a "
                     "mapping at the top level");
    expect_error("just text\n",
                 "hookd.yaml:1:1: expected a mapping at the top level");
    expect_error("server:\n  listen: [a\nlog: {}\n",
                 "hookd.yaml:3:4: invalid YAML: did not find expected ',' or "
                 "']' (while parsing a flow sequence at 2:11)");
    expect_error("server:\n  listen: x\n bad: y\n",
                 "hookd.yaml:3:2: invalid YAML: did not find expected key "
                 "(while parsing a block mapping at 1:1)");
    expect_error("log: {}\n---\nlog: {}\n",
                 "hookd.yaml:3:1: only one YAML document is allowed");
    expect_error("log: *nope\n",
                 "hookd.yaml:1:6: invalid YAML: found undefined alias");
    /* invalid UTF-8: a reader error, positioned from its byte offset */
    expect_error("log: {}\nplugin_dir: a\xff\n",
                 "hookd.yaml:2:14: invalid YAML: invalid leading UTF-8 octet");
    /* a recursive alias inside config: is cut off by the depth limit */
    char err[ERRLEN] = "";
    hookd_config *c = parse("plugins:\n"
                            "  - name: a\n"
                            "    use: file\n"
                            "    config: &loop { again: *loop }\n",
                            err);
    assert_null(c);
    const char *want = "hookd.yaml:4:13: plugins[0].config.again.again.";
    assert_true(strncmp(err, want, strlen(want)) == 0);
    assert_non_null(strstr(err, ": nested too deeply (at most 64 levels)"));
}

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

/* ---- limits -------------------------------------------------------------------- */

static void test_list_limit(void **state)
{
    (void)state;
    size_t cap = 16 + 1025 * 3 + 64;
    char *y = malloc(cap);
    size_t at = (size_t)snprintf(y, cap, "server: { listen: [");
    for (int i = 0; i < 1025; i++)
        at += (size_t)snprintf(y + at, cap - at, "%sa", i ? "," : "");
    snprintf(y + at, cap - at, "] }\n");
    expect_error(y, "hookd.yaml:1:19: server.listen: too many items (at most "
                    "1024)");
    free(y);
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
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_embedded_default),
        cmocka_unit_test(test_defaults_minimal),
        cmocka_unit_test(test_scheme_defaults),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_route_errors),
        cmocka_unit_test(test_source_errors),
        cmocka_unit_test(test_plugin_errors),
        cmocka_unit_test(test_server_errors),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_plugin_config_types),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_list_limit),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for core/ctct.c and the ctct: block of core/config.c: the url
 * rule of docs/DESIGN.md §8 (which plan urls may receive the partner's credentials),
 * the configuration errors, topics and callback checks, and the outcomes of
 * hookd_ctct_fetch_plan that need no server (a refused url, a closed port, a
 * passed deadline). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config/config.h"
#include "ctct/ctct.h"
#include "deliver/event.h"

#define ERRLEN 512

/* ---- the url rule ----------------------------------------------------------- */

static void allowed(const hookd_ctct_cfg *cfg, const char *url)
{
    char why[256] = "x";
    if (hookd_ctct_url_allowed(cfg, url, why, sizeof why) != 0)
        fail_msg("refused %s: %s", url, why);
}

/* Refused, with a reason containing `part`. */
static void refused(const hookd_ctct_cfg *cfg, const char *url, const char *part)
{
    char why[256] = "";
    if (hookd_ctct_url_allowed(cfg, url, why, sizeof why) == 0)
        fail_msg("allowed %s", url ? url : "(null)");
    assert_true(why[0] != '\0');
    assert_null(strchr(why, '\n'));
    if (!strstr(why, part))
        fail_msg("%s: reason \"%s\" lacks \"%s\"", url ? url : "(null)", why, part);
}

#define V2 "https://api.constantcontact.com/v2/partner/accounts/"
#define V3 "https://api.cc.email/v3/partner/accounts/"
#define ID64 "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-"

static void test_url_real_hosts(void **state)
{
    (void)state;
    hookd_ctct_cfg cfg = {.present = 1, .api = 2, .base_url = "https://api.constantcontact.com"};
    allowed(NULL, V2 "a07e1ih151d0/plan");
    allowed(NULL, V3 "a07e1ih151d0/plan");
    allowed(NULL, "https://api.cc.email/v2/partner/accounts/x/plan"); /* either version */
    allowed(NULL, "https://API.ConstantContact.com/v2/partner/accounts/x/plan");
    allowed(NULL, "HTTPS://api.cc.email:443/v3/partner/accounts/A-b_9/plan");
    allowed(NULL, V2 ID64 "/plan");
    allowed(&cfg, V2 "a/plan");
    allowed(&cfg, V3 "a/plan");
}

static void test_url_refused(void **state)
{
    (void)state;
    hookd_ctct_cfg cfg = {.present = 1, .api = 2, .base_url = "https://api.constantcontact.com"};
    /* scheme */
    refused(NULL, "http://api.constantcontact.com/v2/partner/accounts/x/plan", "not https");
    refused(&cfg, "http://api.cc.email/v3/partner/accounts/x/plan", "not https");
    refused(NULL, "ftp://api.constantcontact.com/v2/partner/accounts/x/plan", "http");
    refused(NULL, "//api.constantcontact.com/v2/partner/accounts/x/plan", "http");
    /* hosts */
    refused(NULL, "https://evil.com/v2/partner/accounts/x/plan", "evil.com");
    refused(NULL, "https://evil.com/api.constantcontact.com/v2/partner/accounts/x/plan",
            "evil.com");
    refused(NULL, "https://api.constantcontact.com.evil.com/v2/partner/accounts/x/plan",
            "not a Constant Contact API host");
    refused(NULL, "https://evil.api.cc.email/v3/partner/accounts/x/plan", "not a Constant");
    refused(NULL, "https://api.constantcontact.com./v2/partner/accounts/x/plan", "not a");
    refused(NULL, "https://127.0.0.1/v2/partner/accounts/x/plan", "127.0.0.1");
    refused(NULL, "https://[::1]/v2/partner/accounts/x/plan", "[::1]");
    /* userinfo */
    refused(NULL, "https://u:p@api.constantcontact.com/v2/partner/accounts/x/plan", "userinfo");
    refused(NULL, "https://api.constantcontact.com@evil.com/v2/partner/accounts/x/plan",
            "userinfo");
    refused(NULL, "https://@api.cc.email/v3/partner/accounts/x/plan", "userinfo");
    /* ports */
    refused(NULL, "https://api.constantcontact.com:8443/v2/partner/accounts/x/plan", "port 8443");
    refused(NULL, "https://api.cc.email:80/v3/partner/accounts/x/plan", "port 80");
    refused(NULL, "https://api.cc.email:/v3/partner/accounts/x/plan", "port");
    refused(NULL, "https://api.cc.email:99999/v3/partner/accounts/x/plan", "port");
    refused(NULL, "https://api.cc.email:0/v3/partner/accounts/x/plan", "port");
    /* paths */
    refused(NULL, "https://api.constantcontact.com", "path");
    refused(NULL, "https://api.constantcontact.com/", "path");
    refused(NULL, "https://api.constantcontact.com/v1/partner/accounts/x/plan", "path");
    refused(NULL, "https://api.constantcontact.com/v2/partner/accounts/x/plan/", "path");
    refused(NULL, "https://api.constantcontact.com/v2/partner/accounts/x/plans", "path");
    refused(NULL, "https://api.constantcontact.com/v2/partner/accounts/x", "path");
    refused(NULL, "https://api.constantcontact.com/v2/partner/accounts/x/y/plan", "path");
    refused(NULL, "https://api.constantcontact.com/v2/webhooks/partner/topics", "path");
    refused(NULL, "https://api.constantcontact.com/V2/partner/accounts/x/plan", "path");
    refused(NULL, "https://api.constantcontact.com//v2/partner/accounts/x/plan", "path");
    refused(NULL, "https://api.constantcontact.com/v2/partner/accounts/x/plan?api_key=1", "path");
    refused(NULL, "https://api.constantcontact.com/v2/partner/accounts/x/plan#f", "path");
    refused(NULL, "https://api.constantcontact.com?/v2/partner/accounts/x/plan", "path");
    /* ids */
    refused(NULL, V2 "/plan", "path");
    refused(NULL, V2 ID64 "x/plan", "path");
    refused(NULL, V2 "a.b/plan", "path");
    refused(NULL, V2 "../plan", "path");
    refused(NULL, V2 "a%2Fb/plan", "path");
    refused(NULL, V2 "a+b/plan", "path");
    /* bytes */
    refused(NULL, V2 "a b/plan", "space");
    refused(NULL, V2 "a\n/plan", "control");
    refused(NULL, "https://api.constantcontact.com\\@evil.com/v2/partner/accounts/x/plan",
            "backslash");
    refused(NULL, V2 "\xc3\xa9/plan", "non-ASCII");
    refused(NULL, "", "no url");
    refused(NULL, NULL, "no url");
    char longurl[2200];
    snprintf(longurl, sizeof longurl, V2 "%02100d/plan", 0);
    refused(NULL, longurl, "longer");
}

static void test_url_configured_base(void **state)
{
    (void)state;
    hookd_ctct_cfg cfg = {.present = 1, .api = 2, .base_url = "http://127.0.0.1:8080"};
    allowed(&cfg, "http://127.0.0.1:8080/v2/partner/accounts/x/plan");
    allowed(&cfg, "http://127.0.0.1:8080/v3/partner/accounts/x/plan");
    allowed(&cfg, V2 "x/plan"); /* the real hosts stay allowed */
    refused(&cfg, "http://127.0.0.1:8081/v2/partner/accounts/x/plan", "127.0.0.1");
    refused(&cfg, "https://127.0.0.1:8080/v2/partner/accounts/x/plan", "127.0.0.1");
    refused(&cfg, "http://localhost:8080/v2/partner/accounts/x/plan", "localhost");
    refused(&cfg, "http://127.0.0.1/v2/partner/accounts/x/plan", "127.0.0.1");
    refused(&cfg, "http://u@127.0.0.1:8080/v2/partner/accounts/x/plan", "userinfo");
    refused(&cfg, "http://127.0.0.1:8080/v2/partner/accounts/x/plan?x", "path");
    refused(&cfg, "http://127.0.0.1:8080/other", "path");
    refused(NULL, "http://127.0.0.1:8080/v2/partner/accounts/x/plan", "127.0.0.1");

    /* Default ports count as written. */
    hookd_ctct_cfg https_base = {.present = 1, .api = 3, .base_url = "https://ctct.test"};
    allowed(&https_base, "https://ctct.test:443/v3/partner/accounts/x/plan");
    allowed(&https_base, "https://CTCT.test/v3/partner/accounts/x/plan");
    refused(&https_base, "http://ctct.test/v3/partner/accounts/x/plan", "ctct.test");
    hookd_ctct_cfg v6 = {.present = 1, .api = 2, .base_url = "http://[::1]:9000"};
    allowed(&v6, "http://[::1]:9000/v2/partner/accounts/x/plan");
    refused(&v6, "http://[::2]:9000/v2/partner/accounts/x/plan", "[::2]");
    /* An odd port on a real host, configured on purpose, is that host's base. */
    hookd_ctct_cfg odd = {.present = 1, .api = 3, .base_url = "https://api.cc.email:8443"};
    allowed(&odd, "https://api.cc.email:8443/v3/partner/accounts/x/plan");
    refused(&odd, "https://api.cc.email:8444/v3/partner/accounts/x/plan", "port 8444");
}

static void test_base_and_callback_checks(void **state)
{
    (void)state;
    char *n = NULL, why[256];
    assert_int_equal(hookd_ctct_base_check("HTTP://LocalHost:8080/", &n, why, sizeof why), 0);
    assert_string_equal(n, "http://localhost:8080");
    free(n);
    assert_int_equal(hookd_ctct_base_check("https://api.cc.email", &n, why, sizeof why), 0);
    assert_string_equal(n, "https://api.cc.email");
    free(n);
    assert_int_equal(hookd_ctct_base_check("https://[::1]:1", &n, why, sizeof why), 0);
    assert_string_equal(n, "https://[::1]:1");
    free(n);
    const char *bad[] = {"https://api.cc.email/v3", "https://a/?x", "https://a#f",
                         "https://u@a",             "ftp://a",      "https://",
                         "https://a:0",             "a:80",         "https://a b",
                         "https://a_b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hookd_ctct_base_check(bad[i], &n, why, sizeof why) == 0)
            fail_msg("accepted base %s", bad[i]);
        assert_null(n);
    }
    assert_int_equal(hookd_ctct_token_url_check("http://127.0.0.1:1/oauth2/token", why, sizeof why), 0);
    assert_int_equal(hookd_ctct_token_url_check("https://x/t#f", why, sizeof why), -1);
    assert_int_equal(hookd_ctct_token_url_check("https://u:p@x/t", why, sizeof why), -1);

    assert_int_equal(hookd_ctct_callback_ok("https://hooks.example.com/ctct", why, sizeof why), 0);
    assert_int_equal(hookd_ctct_callback_ok("HTTPS://h", why, sizeof why), 0);
    assert_int_equal(hookd_ctct_callback_ok("http://hooks.example.com/ctct", why, sizeof why), -1);
    assert_non_null(strstr(why, "https://"));
    assert_int_equal(hookd_ctct_callback_ok("https://", why, sizeof why), -1);
    assert_int_equal(hookd_ctct_callback_ok("https:///x", why, sizeof why), -1);
    assert_int_equal(hookd_ctct_callback_ok("https://a b", why, sizeof why), -1);
    assert_int_equal(hookd_ctct_callback_ok(NULL, why, sizeof why), -1);
    char u[600];
    memset(u, 'a', sizeof u);
    memcpy(u, "https://h/", 10);
    u[512] = '\0';
    assert_int_equal(hookd_ctct_callback_ok(u, why, sizeof why), 0);
    u[512] = 'a';
    u[513] = '\0';
    assert_int_equal(hookd_ctct_callback_ok(u, why, sizeof why), -1);
    assert_non_null(strstr(why, "513"));
}

static void test_topics(void **state)
{
    (void)state;
    assert_int_equal(hookd_ctct_topic_parse("1"), 1);
    assert_int_equal(hookd_ctct_topic_parse("4"), 4);
    assert_int_equal(hookd_ctct_topic_parse("tier.increase"), 1);
    assert_int_equal(hookd_ctct_topic_parse("tier.decrease"), 2);
    assert_int_equal(hookd_ctct_topic_parse("account.cancel"), 3);
    assert_int_equal(hookd_ctct_topic_parse("account.disable"), 4);
    const char *bad[] = {"0", "5", "01", "+1", " 1", "1 ", "tier.*", "Tier.Increase", "", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(hookd_ctct_topic_parse(bad[i]), -1);
    assert_string_equal(hookd_ctct_topic_event(3), "account.cancel");
    assert_string_equal(hookd_ctct_topic_name(2), "Billing Tier Downgrade");
    assert_null(hookd_ctct_topic_event(0));
    assert_null(hookd_ctct_topic_event(5));
}

/* ---- configuration ---------------------------------------------------------- */

static hookd_config *parse(const char *yaml, char *err)
{
    return hookd_config_parse("hookd.yaml", yaml, strlen(yaml), err, ERRLEN);
}

static void expect_error(const char *yaml, const char *msg)
{
    char err[ERRLEN] = "";
    hookd_config *c = parse(yaml, err);
    if (c) {
        hookd_config_free(c);
        fail_msg("parsed, but expected the error: %s", msg);
    }
    assert_string_equal(err, msg);
}

static hookd_config *expect_ok(const char *yaml)
{
    char err[ERRLEN] = "";
    hookd_config *c = parse(yaml, err);
    if (!c)
        fail_msg("unexpected error: %s", err);
    return c;
}

static void test_config_absent(void **state)
{
    (void)state;
    hookd_config *c = expect_ok("log: { level: info }\n");
    assert_int_equal(c->ctct.present, 0);
    assert_null(c->ctct.base_url);
    assert_null(hookd_ctct_new(&c->ctct));
    assert_null(hookd_ctct_new(NULL));
    hookd_config_free(c);
}

static void test_config_v2(void **state)
{
    (void)state;
    setenv("TEST_CTCT_PW", "pa:ss", 1);
    hookd_config *c = expect_ok("ctct:\n"
                                "  api_key: key1\n"
                                "  username: partner\n"
                                "  password: \"${TEST_CTCT_PW}\"\n");
    assert_int_equal(c->ctct.present, 1);
    assert_int_equal(c->ctct.api, 2);
    assert_string_equal(c->ctct.base_url, "https://api.constantcontact.com");
    assert_string_equal(c->ctct.api_key, "key1");
    assert_string_equal(c->ctct.username, "partner");
    assert_string_equal(c->ctct.password, "pa:ss");
    assert_null(c->ctct.client_id);
    assert_null(c->ctct.client_secret);
    assert_null(c->ctct.token_url);
    assert_int_equal(c->ctct.timeout_ms, 10000);
    assert_int_equal(c->ctct.mark.line, 2);
    assert_int_equal(c->ctct.mark.col, 3);
    hookd_ctct *cl = hookd_ctct_new(&c->ctct);
    assert_non_null(cl);
    hookd_ctct_free(cl);
    hookd_config_free(c);

    c = expect_ok("ctct: { api: v2, base_url: \"http://127.0.0.1:8080/\", api_key: k,"
                  " username: u, password: p, timeout: 1500ms }\n");
    assert_string_equal(c->ctct.base_url, "http://127.0.0.1:8080");
    assert_int_equal(c->ctct.timeout_ms, 1500);
    hookd_config_free(c);
}

static void test_config_v3(void **state)
{
    (void)state;
    hookd_config *c = expect_ok("ctct: { api: v3, api_key: k, client_id: cid, client_secret: cs }\n");
    assert_int_equal(c->ctct.api, 3);
    assert_string_equal(c->ctct.base_url, "https://api.cc.email");
    assert_string_equal(c->ctct.client_id, "cid");
    assert_string_equal(c->ctct.client_secret, "cs");
    assert_string_equal(c->ctct.token_url,
                        "https://v3api-partner.auth.us-east-1.amazoncognito.com/oauth2/token");
    assert_null(c->ctct.username);
    hookd_config_free(c);

    c = expect_ok("ctct: { api: v3, api_key: k, client_id: cid, client_secret: cs,"
                  " base_url: \"HTTP://[::1]:9\", token_url: \"http://127.0.0.1:9/token?x=1\" }\n");
    assert_string_equal(c->ctct.base_url, "http://[::1]:9");
    assert_string_equal(c->ctct.token_url, "http://127.0.0.1:9/token?x=1");
    hookd_config_free(c);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error("ctct: { api_key: k, username: u, password: p, user: x }\n",
                 "hookd.yaml:1:47: ctct.user: unknown key");
    expect_error("ctct: [a]\n", "hookd.yaml:1:7: ctct: expected a mapping");
    expect_error("ctct:\n", "hookd.yaml:1:6: ctct: expected a mapping");
    expect_error("ctct: { api: v4, api_key: k }\n",
                 "hookd.yaml:1:14: ctct.api: unknown value \"v4\" (expected v2, v3)");
    expect_error("ctct: { username: u, password: p }\n",
                 "hookd.yaml:1:7: ctct: missing required key \"api_key\" (api: v2)");
    expect_error("ctct: { api_key: k, password: p }\n",
                 "hookd.yaml:1:7: ctct: missing required key \"username\" (api: v2)");
    expect_error("ctct: { api_key: k, username: u }\n",
                 "hookd.yaml:1:7: ctct: missing required key \"password\" (api: v2)");
    expect_error("ctct: { api: v3, api_key: k, client_secret: s }\n",
                 "hookd.yaml:1:7: ctct: missing required key \"client_id\" (api: v3)");
    expect_error("ctct: { api: v3, api_key: k, client_id: i }\n",
                 "hookd.yaml:1:7: ctct: missing required key \"client_secret\" (api: v3)");
    expect_error("ctct: { api_key: k, username: u, password: p, client_id: i }\n",
                 "hookd.yaml:1:58: ctct.client_id: only used with api: v3");
    expect_error("ctct: { api_key: k, username: u, password: p, token_url: \"https://t/x\" }\n",
                 "hookd.yaml:1:58: ctct.token_url: only used with api: v3");
    expect_error("ctct: { api: v3, api_key: k, client_id: i, client_secret: s, username: u }\n",
                 "hookd.yaml:1:72: ctct.username: only used with api: v2");
    expect_error("ctct: { api_key: \"\", username: u, password: p }\n",
                 "hookd.yaml:1:18: ctct.api_key: must not be empty");
    expect_error("ctct: { api_key: k, username: \"a:b\", password: p }\n",
                 "hookd.yaml:1:31: ctct.username: must not contain ':'");
    expect_error("ctct: { api_key: k, username: u, password: \"se\\ncret\" }\n",
                 "hookd.yaml:1:44: ctct.password: must not contain control characters");
    expect_error("ctct: { api_key: k, username: u, password: p, base_url: \"https://api.cc.email/v3\" }\n",
                 "hookd.yaml:1:57: ctct.base_url: has a path, query or fragment: expected http(s)://host[:port] with no path, got "
                 "\"https://api.cc.email/v3\"");
    expect_error("ctct: { api_key: k, username: u, password: p, base_url: \"ftp://x\" }\n",
                 "hookd.yaml:1:57: ctct.base_url: not an http(s) url: expected "
                 "http(s)://host[:port] with no path, got \"ftp://x\"");
    expect_error("ctct: { api_key: k, username: u, password: p, base_url: \"https://u:p@x\" }\n",
                 "hookd.yaml:1:57: ctct.base_url: url carries userinfo (user@host): expected "
                 "http(s)://host[:port] with no path, got \"https://u:p@x\"");
    expect_error("ctct: { api: v3, api_key: k, client_id: i, client_secret: s,"
                 " token_url: \"https://t/x#y\" }\n",
                 "hookd.yaml:1:73: ctct.token_url: url has a fragment, got \"https://t/x#y\"");
    expect_error("ctct: { api_key: k, username: u, password: p, timeout: 10 }\n",
                 "hookd.yaml:1:56: ctct.timeout: expected a duration like 10s (ms, s, m, h, d)");
    expect_error("ctct: { api_key: k, username: u, password: p, timeout: 2h }\n",
                 "hookd.yaml:1:56: ctct.timeout: 2h out of range (1 to 3600000 ms)");
    expect_error("ctct: { api_key: \"${TEST_CTCT_UNSET_VAR}\", username: u, password: p }\n",
                 "hookd.yaml:1:18: ctct.api_key: environment variable TEST_CTCT_UNSET_VAR is "
                 "not set");
}

/* A secret never appears in a configuration error. */
static void test_config_error_hides_secrets(void **state)
{
    (void)state;
    char err[ERRLEN] = "";
    hookd_config *c = parse("ctct: { api: v3, api_key: TOPSECRETKEY, client_id: \"i\\td\","
                            " client_secret: TOPSECRETS }\n", err);
    assert_null(c);
    assert_non_null(strstr(err, "ctct.client_id: must not contain control characters"));
    assert_null(strstr(err, "TOPSECRET"));
}

#define SOURCE_ENRICH                                                          \
    "sources:\n"                                                               \
    "  - name: cc\n"                                                           \
    "    path: /cc\n"                                                          \
    "    verify: { scheme: none }\n"                                           \
    "  - name: constantcontact\n"                                              \
    "    path: /webhooks/ctct\n"                                               \
    "    verify: { scheme: ctct-hmac-sha256, secret: s }\n"                    \
    "    enrich: ctct-plan\n"

static void test_config_enrich_needs_ctct(void **state)
{
    (void)state;
    expect_error(SOURCE_ENRICH,
                 "hookd.yaml:8:13: sources[1].enrich: source \"constantcontact\" enriches "
                 "with ctct-plan but there is no ctct: block (api, api_key and the partner "
                 "credentials)");
    hookd_config *c = expect_ok(SOURCE_ENRICH "ctct: { api_key: k, username: u, password: p }\n");
    assert_string_equal(c->sources[1].enrich, "ctct-plan");
    assert_int_equal(c->ctct.present, 1);
    hookd_config_free(c);
    c = expect_ok("ctct: { api_key: k, username: u, password: p }\n" SOURCE_ENRICH);
    hookd_config_free(c);
    /* enrich: none needs nothing. */
    c = expect_ok("sources:\n  - { name: a, path: /a, verify: { scheme: none }, enrich: none }\n");
    assert_null(c->sources[0].enrich);
    hookd_config_free(c);
}

/* ---- fetch_plan without a server -------------------------------------------- */

/* A loopback port nobody listens on: bound (so nobody else takes it) but not
 * listening, so a connection is refused at once. */
static int closed_port(int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static void test_fetch_refused_url(void **state)
{
    (void)state;
    hookd_ctct_cfg cfg = {.present = 1, .api = 2, .base_url = "https://api.constantcontact.com",
                          .api_key = "SECRETKEY123", .username = "u", .password = "SECRETPW",
                          .timeout_ms = 2000};
    hookd_ctct *c = hookd_ctct_new(&cfg);
    assert_non_null(c);
    json_t *plan = (json_t *)1;
    int64_t ra = 5;
    char why[256];
    assert_int_equal(hookd_ctct_fetch_plan(c, "https://evil.com/v2/partner/accounts/x/plan", 0,
                                           &plan, &ra, why, sizeof why),
                     HOOKD_CTCT_FAIL);
    assert_null(plan);
    assert_int_equal(ra, -1);
    assert_non_null(strstr(why, "refused"));
    assert_non_null(strstr(why, "evil.com"));
    assert_int_equal(hookd_ctct_fetch_plan(c, "http://api.constantcontact.com/v2/partner/accounts/x/plan",
                                           0, &plan, &ra, why, sizeof why),
                     HOOKD_CTCT_FAIL);
    assert_non_null(strstr(why, "https"));
    assert_int_equal(hookd_ctct_fetch_plan(NULL, V2 "x/plan", 0, &plan, &ra, why, sizeof why),
                     HOOKD_CTCT_FAIL);
    hookd_ctct_free(c);
}

static void test_fetch_connection_refused(void **state)
{
    (void)state;
    int fd, port = closed_port(&fd);
    char base[64], url[160], why[256];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    snprintf(url, sizeof url, "%s/v2/partner/accounts/abc/plan", base);
    hookd_ctct_cfg cfg = {.present = 1, .api = 2, .base_url = base, .api_key = "SECRETKEY123",
                          .username = "u", .password = "SECRETPW", .timeout_ms = 2000};
    hookd_ctct *c = hookd_ctct_new(&cfg);
    json_t *plan = NULL;
    int64_t ra = 5;
    assert_int_equal(hookd_ctct_fetch_plan(c, url, hookd_monotonic_ms() + 5000, &plan, &ra, why,
                                           sizeof why),
                     HOOKD_CTCT_RETRY);
    assert_null(plan);
    assert_int_equal(ra, -1);
    assert_true(why[0]);
    assert_null(strstr(why, "SECRET"));
    /* A passed deadline sends nothing. */
    assert_int_equal(hookd_ctct_fetch_plan(c, url, hookd_monotonic_ms() - 1, &plan, &ra, why,
                                           sizeof why),
                     HOOKD_CTCT_RETRY);
    assert_non_null(strstr(why, "deadline"));
    hookd_ctct_free(c);

    /* v3: the token endpoint is down. */
    char tok[96];
    snprintf(tok, sizeof tok, "%s/oauth2/token", base);
    hookd_ctct_cfg v3 = {.present = 1, .api = 3, .base_url = base, .api_key = "SECRETKEY123",
                         .client_id = "cid", .client_secret = "SECRETCS", .token_url = tok,
                         .timeout_ms = 2000};
    snprintf(url, sizeof url, "%s/v3/partner/accounts/abc/plan", base);
    c = hookd_ctct_new(&v3);
    assert_int_equal(hookd_ctct_fetch_plan(c, url, 0, &plan, &ra, why, sizeof why),
                     HOOKD_CTCT_RETRY);
    assert_non_null(strstr(why, "partner token"));
    assert_null(strstr(why, "SECRET"));
    hookd_ctct_free(c);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_real_hosts),
        cmocka_unit_test(test_url_refused),
        cmocka_unit_test(test_url_configured_base),
        cmocka_unit_test(test_base_and_callback_checks),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_config_absent),
        cmocka_unit_test(test_config_v2),
        cmocka_unit_test(test_config_v3),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_error_hides_secrets),
        cmocka_unit_test(test_config_enrich_needs_ctct),
        cmocka_unit_test(test_fetch_refused_url),
        cmocka_unit_test(test_fetch_connection_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

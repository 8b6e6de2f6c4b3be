/* Unit tests for the verify: block of a source (core/config_sources.c):
 * ctct-jws and its keys, and a list of schemes for a migration. */
#include <stdlib.h>

#include "config_test.h"

#define SRC(verify)                                                                          \
    "sources:\n"                                                                             \
    "  - name: cc\n"                                                                         \
    "    path: /cc\n"                                                                        \
    "    verify: " verify "\n"

static void test_jws_defaults(void **state)
{
    (void)state;
    hookd_config *c = expect_ok(SRC("{ scheme: ctct-jws }"));
    const hookd_verify_cfg *v = &c->sources[0].verify[0];
    assert_int_equal(c->sources[0].nverify, 1);
    assert_int_equal(v->scheme, HOOKD_SCHEME_JWS);
    assert_string_equal(v->jwks_url, HOOKD_CTCT_JWKS_URL);
    assert_null(v->jwks_file);
    assert_null(v->ca_file);
    assert_int_equal(v->tolerance_ms, 300000);
    assert_int_equal(v->refresh_ms, 3600000);
    assert_int_equal(v->nsecrets, 0);
    assert_null(v->keys); /* the runtime makes it, not the loader */
    /* v3 bodies carry event_type like v2 ones */
    assert_string_equal(c->sources[0].event_type, "/event_type");
    hookd_config_free(c);

    c = expect_ok(SRC("{ scheme: ctct-jws, jwks_url: \"https://keys.example.com/jwks.json\", "
                      "ca_file: /etc/ca.pem, tolerance: 60s, refresh: 10m }"));
    v = &c->sources[0].verify[0];
    assert_string_equal(v->jwks_url, "https://keys.example.com/jwks.json");
    assert_string_equal(v->ca_file, "/etc/ca.pem");
    assert_int_equal(v->tolerance_ms, 60000);
    assert_int_equal(v->refresh_ms, 600000);
    hookd_config_free(c);

    c = expect_ok(SRC("{ scheme: ctct-jws, jwks_file: /etc/hookd/jwks.json }"));
    v = &c->sources[0].verify[0];
    assert_null(v->jwks_url);
    assert_string_equal(v->jwks_file, "/etc/hookd/jwks.json");
    hookd_config_free(c);

    /* plain http is for loopback hosts only */
    const char *const loopback[] = {"http://127.0.0.1:8000/k", "http://localhost/k",
                                    "http://[::1]:9/k"};
    for (size_t i = 0; i < 3; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, SRC("{ scheme: ctct-jws, jwks_url: \"%s\" }"), loopback[i]);
        hookd_config_free(expect_ok(yaml));
    }
}

static void test_jws_errors(void **state)
{
    (void)state;
    expect_error(SRC("{ scheme: ctct-jws, jwks_url: \"http://keys.example.com/jwks.json\" }"),
                 "hookd.yaml:4:43: sources[0].verify.jwks_url: must be https (plain http "
                 "only on a loopback host)");
    expect_error(SRC("{ scheme: ctct-jws, jwks_url: \"ftp://keys.example.com/j\" }"),
                 "hookd.yaml:4:43: sources[0].verify.jwks_url: not an http(s) url");
    expect_error(SRC("{ scheme: ctct-jws, jwks_url: \"https://a/j\", jwks_file: /j }"),
                 "hookd.yaml:4:69: sources[0].verify.jwks_file: give jwks_url or jwks_file, "
                 "not both");
    expect_error(SRC("{ scheme: ctct-jws, jwks_file: /j, ca_file: /ca }"),
                 "hookd.yaml:4:57: sources[0].verify.ca_file: only used with jwks_url");
    expect_error(SRC("{ scheme: ctct-jws, secret: s }"),
                 "hookd.yaml:4:41: sources[0].verify.secret: scheme ctct-jws takes no secret");
    expect_error(SRC("{ scheme: ctct-jws, header: X-Sig }"),
                 "hookd.yaml:4:41: sources[0].verify.header: only used with scheme hmac "
                 "(this is ctct-jws)");
    expect_error(SRC("{ scheme: ctct-hmac-sha256, secret: s, jwks_url: \"https://a/j\" }"),
                 "hookd.yaml:4:62: sources[0].verify.jwks_url: only used with scheme ctct-jws "
                 "(this is ctct-hmac-sha256)");
    expect_error(SRC("{ scheme: github, secret: s, refresh: 1h }"),
                 "hookd.yaml:4:51: sources[0].verify.refresh: only used with scheme ctct-jws "
                 "(this is github)");
    expect_error(SRC("{ scheme: ctct-jws, refresh: 10 }"),
                 "hookd.yaml:4:42: sources[0].verify.refresh: expected a duration like 10s "
                 "(ms, s, m, h, d)");
}

static void test_verify_list(void **state)
{
    (void)state;
    hookd_config *c = expect_ok(
        SRC("[{ scheme: ctct-jws, jwks_url: \"http://127.0.0.1:1/k\" }, "
            "{ scheme: ctct-hmac-sha256, secret: s }]"));
    const hookd_source_cfg *s = &c->sources[0];
    assert_int_equal(s->nverify, 2);
    assert_int_equal(s->verify[0].scheme, HOOKD_SCHEME_JWS);
    assert_string_equal(s->verify[0].jwks_url, "http://127.0.0.1:1/k");
    assert_int_equal(s->verify[1].scheme, HOOKD_SCHEME_CTCT);
    assert_string_equal(s->verify[1].secrets[0], "s");
    assert_int_equal(s->verify[1].mark.line, 4);
    hookd_config_free(c);

    expect_error(SRC("[]"), "hookd.yaml:4:13: sources[0].verify: expected a mapping or a list "
                            "of 1 to 4 mappings");
    expect_error(SRC("[{ scheme: none }, { scheme: github, secret: s }]"),
                 "hookd.yaml:4:14: sources[0].verify[0]: scheme none cannot stand beside "
                 "another scheme");
    expect_error(SRC("[{ scheme: github, secret: a }, { scheme: github, secret: b }]"),
                 "hookd.yaml:4:45: sources[0].verify[1]: scheme github is listed twice");
    expect_error(SRC("[{ scheme: github, secret: a }, x]"),
                 "hookd.yaml:4:45: sources[0].verify[1]: expected a mapping with a scheme");
    expect_error(SRC("[{ scheme: github }]"),
                 "hookd.yaml:4:14: sources[0].verify[0]: scheme github needs a secret "
                 "(secret: or secrets:)");
    expect_error(SRC("[{ scheme: ctct-jws, secret: x }]"),
                 "hookd.yaml:4:42: sources[0].verify[0].secret: scheme ctct-jws takes no "
                 "secret");
    expect_error(SRC("[{}, {}, {}, {}, {}]"),
                 "hookd.yaml:4:13: sources[0].verify: expected a mapping or a list of 1 to 4 "
                 "mappings");
}

/* Issue 15, items 6 and 7: a key the scheme does not read, or a secret it
 * cannot use, is an error at load, not a 401 to every request. */
static void test_unused_keys_and_bad_secrets(void **state)
{
    (void)state;
    expect_error(SRC("{ scheme: hmac, secret: k, header: X-Sig, tolerance: 5m }"),
                 "hookd.yaml:4:66: sources[0].verify.tolerance: scheme hmac has no timestamp "
                 "to check");
    expect_error(SRC("{ scheme: standard-webhooks, secret: \"not base64!\" }"),
                 "hookd.yaml:4:50: sources[0].verify.secret: not a Standard Webhooks secret "
                 "(whsec_ and base64 of 1 to 1024 bytes)");
    expect_error(SRC("{ scheme: standard-webhooks, secret: \"whsec_\" }"),
                 "hookd.yaml:4:50: sources[0].verify.secret: not a Standard Webhooks secret "
                 "(whsec_ and base64 of 1 to 1024 bytes)");
    expect_error(SRC("{ scheme: standard-webhooks, secrets: [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\", "
                     "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa\"] }"),
                 "hookd.yaml:4:94: sources[0].verify.secrets[1]: not a Standard Webhooks secret "
                 "(whsec_ and base64 of 1 to 1024 bytes)");
    hookd_config_free(expect_ok(
        SRC("{ scheme: standard-webhooks, secrets: [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\", "
            "\"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"] }")));
    /* Stripe's key is the whole whsec_ string, as it is: any text will do. */
    hookd_config_free(expect_ok(SRC("{ scheme: stripe, secret: \"whsec_anything at all\" }")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jws_defaults),
        cmocka_unit_test(test_jws_errors),
        cmocka_unit_test(test_verify_list),
        cmocka_unit_test(test_unused_keys_and_bad_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

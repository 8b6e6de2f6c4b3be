/* Unit tests for core/config/config_sources.c: the sources: list (the
 * verify: block of ctct-jws and migrations is in test_config_verify.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

#include "config_full.h"
#include "config_test.h"

/* ---- the full example of docs/DESIGN.md §4: its sources ------------------------- */

static void test_full_sources(void **state)
{
    (void)state;
    hookd_config *c = full_config();

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

    full_done(c);
}

/* ---- defaults ------------------------------------------------------------ */

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

/* ---- error messages -------------------------------------------------------- */

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_sources),
        cmocka_unit_test(test_scheme_defaults),
        cmocka_unit_test(test_source_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

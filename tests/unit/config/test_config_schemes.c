/* Unit tests for the per-scheme table of core/config/config_sources.c: each
 * verify.scheme's defaults (tolerance, event_type, dedup key), whether it
 * takes a secret, and which keys it refuses, checked scheme by scheme. */
#include <stdio.h>
#include <stdlib.h>

#include "config_test.h"

static const struct {
    const char *name;
    hookd_scheme scheme;
    const char *secret;      /* ", secret: ..." a key it accepts; NULL: takes none */
    const char *needs;       /* other keys it needs */
    int64_t tolerance_ms;    /* 0: tolerance refused */
    const char *event_type;  /* the JSON pointer, or "header:Name" */
    hookd_dedup_kind dedup;
    const char *dedup_arg;
} want[] = {
    {"ctct-jws", HOOKD_SCHEME_JWS, NULL, "", 300000, "/event_type", HOOKD_DEDUP_NONE, NULL},
    {"ctct-hmac-sha256", HOOKD_SCHEME_CTCT, ", secret: k", "", 0, "/event_type", HOOKD_DEDUP_NONE,
     NULL},
    {"github", HOOKD_SCHEME_GITHUB, ", secret: k", "", 0, "header:X-GitHub-Event",
     HOOKD_DEDUP_HEADER, "X-GitHub-Delivery"},
    {"stripe", HOOKD_SCHEME_STRIPE, ", secret: k", "", 300000, "/type", HOOKD_DEDUP_NONE, NULL},
    {"standard-webhooks", HOOKD_SCHEME_STDWH,
     ", secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", 300000, "/type", HOOKD_DEDUP_HEADER,
     "webhook-id"},
    {"hmac", HOOKD_SCHEME_HMAC, ", secret: k", ", header: X-Sig", 0, "/event_type",
     HOOKD_DEDUP_NONE, NULL},
    {"none", HOOKD_SCHEME_NONE, NULL, "", 0, "/event_type", HOOKD_DEDUP_NONE, NULL},
};
#define NWANT (sizeof want / sizeof want[0])

/* The keys of a scheme's verify: entry that loads, the scheme's first. */
static const char *keys(size_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "scheme: %s%s%s", want[i].name, want[i].secret ? want[i].secret : "",
             want[i].needs);
    return buf;
}

/* A source whose verify: is { <keys(i)><extra> }. */
static void source(char *yaml, size_t cap, size_t i, const char *extra)
{
    char k[160];
    snprintf(yaml, cap,
             "sources:\n"
             "  - name: s\n"
             "    path: /s\n"
             "    verify: { %s%s }\n",
             keys(i, k, sizeof k), extra);
}

/* Parses `yaml`, which must fail with a message ending in `tail`. */
static void expect_error_ending(const char *yaml, const char *tail)
{
    char err[ERRLEN] = "";
    hookd_config *c = parse(yaml, err);
    if (c) {
        hookd_config_free(c);
        fail_msg("parsed, but expected an error ending in: %s", tail);
    }
    size_t n = strlen(err), m = strlen(tail);
    if (n < m || strcmp(err + n - m, tail) != 0)
        fail_msg("error \"%s\" does not end in \"%s\"", err, tail);
}

static void test_defaults(void **state)
{
    (void)state;
    char yaml[512];
    for (size_t i = 0; i < NWANT; i++) {
        source(yaml, sizeof yaml, i, "");
        hookd_config *c = expect_ok(yaml);
        const hookd_source_cfg *sc = &c->sources[0];
        assert_int_equal(sc->verify[0].scheme, want[i].scheme);
        assert_int_equal(sc->verify[0].tolerance_ms, want[i].tolerance_ms);
        if (strncmp(want[i].event_type, "header:", 7) == 0) {
            assert_null(sc->event_type);
            assert_string_equal(sc->event_type_header, want[i].event_type + 7);
        } else {
            assert_null(sc->event_type_header);
            assert_string_equal(sc->event_type, want[i].event_type);
        }
        assert_int_equal(sc->dedup, want[i].dedup);
        if (want[i].dedup_arg)
            assert_string_equal(sc->dedup_arg, want[i].dedup_arg);
        else
            assert_null(sc->dedup_arg);
        hookd_config_free(c);
    }
}

static void test_tolerance(void **state)
{
    (void)state;
    char yaml[512], tail[160];
    for (size_t i = 0; i < NWANT; i++) {
        source(yaml, sizeof yaml, i, ", tolerance: 1m");
        if (want[i].tolerance_ms) {
            hookd_config *c = expect_ok(yaml);
            assert_int_equal(c->sources[0].verify[0].tolerance_ms, 60000);
            hookd_config_free(c);
        } else {
            snprintf(tail, sizeof tail, "sources[0].verify.tolerance: scheme %s has no "
                     "timestamp to check", want[i].name);
            expect_error_ending(yaml, tail);
        }
    }
}

static void test_secrets(void **state)
{
    (void)state;
    char yaml[512], tail[160];
    for (size_t i = 0; i < NWANT; i++) {
        if (want[i].secret) { /* the same without its secret */
            snprintf(yaml, sizeof yaml,
                     "sources:\n"
                     "  - name: s\n"
                     "    path: /s\n"
                     "    verify: { scheme: %s%s }\n",
                     want[i].name, want[i].needs);
            snprintf(tail, sizeof tail,
                     "sources[0].verify: scheme %s needs a secret (secret: or secrets:)",
                     want[i].name);
            expect_error_ending(yaml, tail);
        } else {
            source(yaml, sizeof yaml, i, ", secret: k");
            snprintf(tail, sizeof tail, "sources[0].verify.secret: scheme %s takes no secret",
                     want[i].name);
            expect_error_ending(yaml, tail);
        }
    }
}

static void test_foreign_keys(void **state)
{
    (void)state;
    static const struct {
        const char *key, *owner;
    } own[] = {
        {"header: X", "hmac"},         {"algorithm: sha512", "hmac"},
        {"encoding: base64", "hmac"},  {"prefix: p", "hmac"},
        {"jwks_url: \"https://k.example.com/\"", "ctct-jws"},
        {"jwks_file: /k", "ctct-jws"}, {"ca_file: /ca", "ctct-jws"},
        {"refresh: 1h", "ctct-jws"},
    };
    char yaml[512], extra[160], tail[200];
    for (size_t i = 0; i < NWANT; i++)
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++) {
            if (!strcmp(own[k].owner, want[i].name))
                continue;
            snprintf(extra, sizeof extra, ", %s", own[k].key);
            source(yaml, sizeof yaml, i, extra);
            char key[32];
            snprintf(key, sizeof key, "%.*s", (int)strcspn(own[k].key, ":"), own[k].key);
            snprintf(tail, sizeof tail, "sources[0].verify.%s: only used with scheme %s "
                     "(this is %s)", key, own[k].owner, want[i].name);
            expect_error_ending(yaml, tail);
        }
}

static void test_unknown_and_lists(void **state)
{
    (void)state;
    expect_error("sources:\n"
                 "  - { name: s, path: /s, verify: { scheme: md5, secret: k } }\n",
                 "hookd.yaml:2:44: sources[0].verify.scheme: unknown scheme \"md5\" (ctct-jws, "
                 "ctct-hmac-sha256, github, stripe, standard-webhooks, hmac, none)");
    /* none stands alone; every other pair may be listed, each scheme once */
    char yaml[512], a[160], b[160];
    for (size_t i = 0; i + 1 < NWANT; i++) {
        size_t j = i + 1;
        snprintf(yaml, sizeof yaml,
                 "sources:\n"
                 "  - name: s\n"
                 "    path: /s\n"
                 "    verify:\n"
                 "      - { %s }\n"
                 "      - { %s }\n",
                 keys(i, a, sizeof a), keys(j, b, sizeof b));
        if (want[j].scheme == HOOKD_SCHEME_NONE) {
            expect_error_ending(yaml, "sources[0].verify[1]: scheme none cannot stand beside "
                                      "another scheme");
        } else {
            hookd_config *c = expect_ok(yaml);
            assert_int_equal(c->sources[0].nverify, 2);
            hookd_config_free(c);
        }
        snprintf(yaml, sizeof yaml,
                 "sources:\n"
                 "  - name: s\n"
                 "    path: /s\n"
                 "    verify:\n"
                 "      - { %s }\n"
                 "      - { %s }\n",
                 keys(i, a, sizeof a), keys(i, b, sizeof b));
        char tail[160];
        snprintf(tail, sizeof tail, "sources[0].verify[1]: scheme %s is listed twice",
                 want[i].name);
        expect_error_ending(yaml, tail);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_tolerance),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_foreign_keys),
        cmocka_unit_test(test_unknown_and_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

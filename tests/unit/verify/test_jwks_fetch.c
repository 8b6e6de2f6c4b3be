/* Unit tests for core/jwks_fetch.c (the key set holder of a ctct-jws source)
 * and for hookd_verify_source (several schemes on one source). The signed
 * seeds of tests/fuzz/corpus/fuzz_jws were made by an independent signer
 * (Python's cryptography) with the keys of fuzz_jwks/rsa-ec.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "verify/jwks_fetch.h"
#include "verify/verify.h"

#define SEED_NOW INT64_C(1700000000) /* the ts of the signed seeds */

static char dir[] = "/tmp/hookd-test-jwks-XXXXXX";

static char *corpus(const char *rel)
{
    const char *top = getenv("HOOKD_SOURCE_DIR");
    static char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/%s", top ? top : "../..", rel);
    return path;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static hookd_keyset *holder(const char *url, const char *file, const char *keep, char *err)
{
    hookd_keyset_opts o = {.source = "cc", .url = url, .file = file, .keep_path = keep,
                           .refresh_ms = 3600000, .timeout_ms = 2000};
    return hookd_keyset_new(&o, err, 256);
}

static void test_file_is_read_at_once(void **state)
{
    (void)state;
    char err[256] = "";
    hookd_keyset *ks = holder(NULL, corpus("fuzz_jwks/rsa-ec.json"), NULL, err);
    assert_non_null(ks);
    assert_int_equal(hookd_keyset_nkeys(ks), 2);
    assert_string_equal(hookd_keyset_origin(ks), corpus("fuzz_jwks/rsa-ec.json"));
    hookd_jwks *set = hookd_keyset_get(ks);
    assert_non_null(set);
    hookd_keyset_free(ks); /* the reference outlives the holder */
    assert_string_equal(set->keys[0].kid, "r1");
    hookd_jwks_unref(set);
}

static void test_bad_file_is_an_error(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(holder(NULL, "/nonexistent/jwks.json", NULL, err));
    assert_non_null(strstr(err, "cannot read /nonexistent/jwks.json"));
    assert_null(holder(NULL, corpus("fuzz_jwks/dup-kid.json"), NULL, err));
    assert_non_null(strstr(err, "kid"));
}

/* A URL that does not answer: nothing until a set is read, and the kept copy
 * of an earlier run verifies meanwhile. */
static void test_kept_copy_used_without_network(void **state)
{
    (void)state;
    char keep[256], err[256] = "";
    snprintf(keep, sizeof keep, "%s/spool.db.cc.jwks.json", dir);
    unlink(keep);
    const char *dead = "http://127.0.0.1:1/jwks.json";
    hookd_keyset *ks = holder(dead, NULL, keep, err);
    assert_non_null(ks);
    assert_null(hookd_keyset_get(ks));
    assert_int_equal(hookd_keyset_read_now(ks, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    assert_null(hookd_keyset_get(ks));
    /* The thread starts, fails to read, and stops promptly when freed. */
    assert_int_equal(hookd_keyset_start(ks), 0);
    usleep(50000);
    hookd_keyset_free(ks);

    char *good = slurp(corpus("fuzz_jwks/rsa-ec.json"), NULL);
    spit(keep, good);
    free(good);
    ks = holder(dead, NULL, keep, err);
    assert_non_null(ks);
    assert_int_equal(hookd_keyset_nkeys(ks), 2);
    hookd_keyset_free(ks);

    /* A spoilt copy is not used, and is no error either. */
    spit(keep, "{\"keys\":[");
    ks = holder(dead, NULL, keep, err);
    assert_non_null(ks);
    assert_int_equal(hookd_keyset_nkeys(ks), 0);
    hookd_keyset_free(ks);
    unlink(keep);
}

static const char *hdr_fn(void *ctx, const char *name)
{
    const char *const *h = ctx;
    for (; h[0]; h += 2)
        if (strcasecmp(h[0], name) == 0)
            return h[1];
    return NULL;
}

/* A migration source: ctct-jws beside ctct-hmac-sha256. */
static void test_verify_source_several_schemes(void **state)
{
    (void)state;
    size_t len;
    char *seed = slurp(corpus("fuzz_jws/rs256-kid"), &len);
    char *nl = strchr(seed, '\n');
    assert_non_null(nl);
    *nl = '\0';
    const char *jws = seed, *body = nl + 1;
    size_t blen = len - (size_t)(nl + 1 - seed);

    char err[256];
    char *secrets[] = {"api-secret-key"};
    hookd_source_cfg src = {.name = "cc", .nverify = 2};
    src.verify[0] = (hookd_verify_cfg){.scheme = HOOKD_SCHEME_JWS, .tolerance_ms = 300000};
    src.verify[1] = (hookd_verify_cfg){.scheme = HOOKD_SCHEME_CTCT, .secrets = secrets,
                                       .nsecrets = 1};
    const char *check = NULL;

    /* No key set yet: 503, not a 401 and never a pass. */
    const char *only_jws[] = {"X-CTCT-WEBHOOK-SIG", jws, NULL};
    assert_int_equal(hookd_verify_source(&src, body, blen, hdr_fn, only_jws, SEED_NOW, &check),
                     HOOKD_VERIFY_NO_KEYS);

    src.verify[0].keys = holder(NULL, corpus("fuzz_jwks/rsa-ec.json"), NULL, err);
    assert_non_null(src.verify[0].keys);
    assert_int_equal(hookd_verify_source(&src, body, blen, hdr_fn, only_jws, SEED_NOW, &check),
                     HOOKD_VERIFY_OK);

    /* The v2 header alone, right: passes; wrong: refused by its check. */
    char sig[128];
    assert_true(hookd_sign(&src.verify[1], body, blen, NULL, 0, sig, sizeof sig) > 0);
    char *v2 = strchr(sig, ' ') + 1;
    v2[strcspn(v2, "\n")] = '\0';
    const char *only_v2[] = {"x-ctct-hmac-sha256", v2, NULL};
    assert_int_equal(hookd_verify_source(&src, body, blen, hdr_fn, only_v2, SEED_NOW, &check),
                     HOOKD_VERIFY_OK);
    const char *both[] = {"X-CTCT-WEBHOOK-SIG", jws, "x-ctct-hmac-sha256", v2, NULL};
    assert_int_equal(hookd_verify_source(&src, body, blen, hdr_fn, both, SEED_NOW, &check),
                     HOOKD_VERIFY_OK);
    /* Every header carried must pass: a bad v2 beside a good v3 is refused. */
    const char *bad_v2[] = {"X-CTCT-WEBHOOK-SIG", jws, "x-ctct-hmac-sha256",
                            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", NULL};
    assert_int_equal(hookd_verify_source(&src, body, blen, hdr_fn, bad_v2, SEED_NOW, &check),
                     HOOKD_VERIFY_MISMATCH);
    assert_string_equal(check, "signature mismatch");
    /* A good v2 does not excuse a stale v3. */
    const char *stale[] = {"X-CTCT-WEBHOOK-SIG", jws, "x-ctct-hmac-sha256", v2, NULL};
    assert_int_equal(
        hookd_verify_source(&src, body, blen, hdr_fn, stale, SEED_NOW + 301, &check),
        HOOKD_VERIFY_EXPIRED);
    /* Neither header. */
    const char *none[] = {"content-type", "application/json", NULL};
    assert_int_equal(hookd_verify_source(&src, body, blen, hdr_fn, none, SEED_NOW, &check),
                     HOOKD_VERIFY_MISSING);
    assert_string_equal(check, "no signature header of any configured scheme");

    hookd_keyset_free(src.verify[0].keys);
    free(seed);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_is_read_at_once),
        cmocka_unit_test(test_bad_file_is_an_error),
        cmocka_unit_test(test_kept_copy_used_without_network),
        cmocka_unit_test(test_verify_source_several_schemes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

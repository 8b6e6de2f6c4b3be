/* test_jws_sign: hookd_jws_sign and hookd_jws_verify round trips per algorithm (RS256,
 * PS256, ES256), an independent signer, signature shapes, and private keys from PEM. */
#include <openssl/pem.h>
#include <unistd.h>

#include "jws_test.h"

/* ---- signing and verifying -------------------------------------------- */

/* OpenSSL's own verification of a value hookd_jws_sign wrote. */
static void independent_check(EVP_PKEY *pk, const char *value, const char *body)
{
    const char *dots = strstr(value, "..");
    assert_non_null(dots);
    unsigned char sig[1024], der[80];
    size_t sl = unb64u(dots + 2, strlen(dots + 2), sig);
    const unsigned char *s = sig;
    if (EVP_PKEY_is_a(pk, "EC")) {
        assert_int_equal(sl, 64);
        ECDSA_SIG *es = ECDSA_SIG_new();
        assert_int_equal(
            ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
        unsigned char *p = der;
        sl = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        s = der;
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pk), 1);
    assert_int_equal(EVP_DigestVerifyUpdate(c, value, (size_t)(dots - value)), 1);
    assert_int_equal(EVP_DigestVerifyUpdate(c, ".", 1), 1);
    assert_int_equal(EVP_DigestVerifyUpdate(c, body, strlen(body)), 1);
    assert_int_equal(EVP_DigestVerifyFinal(c, s, sl), 1);
    EVP_MD_CTX_free(c);
}

static void round_trip(EVP_PKEY *pk, const char *alg, const char *kid)
{
    hookd_jwks *ks = std_set();
    char out[4096];
    int n = hookd_jws_sign(pk, kid, NOW - 5, BODY, strlen(BODY), out, sizeof out);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    const char *dots = strstr(out, "..");
    assert_non_null(dots);
    unsigned char prot[512];
    size_t pl = unb64u(out, (size_t)(dots - out), prot);
    prot[pl] = '\0';
    assert_string_equal((char *)prot, hdr(alg, NOW - 5, kid));
    ok(ks, out);
    independent_check(pk, out, BODY);
    /* The body exactly as signed: one byte changed, a newline added. */
    char body[] = BODY;
    body[5] ^= 1;
    expect(ks, out, body, strlen(body), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    expect(ks, out, BODY "\n", strlen(BODY) + 1, HOOKD_VERIFY_MISMATCH, "signature mismatch");
    expect(ks, out, BODY, strlen(BODY) - 1, HOOKD_VERIFY_MISMATCH, "signature mismatch");
    /* The output buffer: exactly enough, one byte short. */
    assert_int_equal(hookd_jws_sign(pk, kid, NOW, BODY, strlen(BODY), out, (size_t)n + 1), n);
    assert_int_equal(hookd_jws_sign(pk, kid, NOW, BODY, strlen(BODY), out, (size_t)n), -1);
    assert_int_equal(hookd_jws_sign(pk, kid, NOW, BODY, strlen(BODY), out, 10), -1);
    hookd_jwks_unref(ks);
}

static void test_round_trip_rs256(void **state)
{
    (void)state;
    round_trip(rsa[0], "RS256", "r1");
    round_trip(rsa[0], "RS256", NULL); /* no kid: each RSA key is tried */
}

static void test_round_trip_es256(void **state)
{
    (void)state;
    round_trip(ec[0], "ES256", "e1");
    round_trip(ec[0], "ES256", NULL);
}

static void test_empty_body(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    char out[4096];
    assert_true(hookd_jws_sign(rsa[0], "r1", NOW, NULL, 0, out, sizeof out) > 0);
    expect(ks, out, NULL, 0, HOOKD_VERIFY_OK, "ok");
    expect(ks, out, "", 0, HOOKD_VERIFY_OK, "ok");
    expect(ks, out, "x", 1, HOOKD_VERIFY_MISMATCH, "signature mismatch");
    hookd_jwks_unref(ks);
}

static void test_independent_signer(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    ok(ks, jws(rsa[0], RS, hdr("RS256", NOW, "r1"), BODY));
    ok(ks, jws(rsa[0], PS, hdr("PS256", NOW, "r1"), BODY));
    ok(ks, jws(rsa[0], PS, hdr("PS256", NOW, NULL), BODY));
    ok(ks, jws(ec[0], ES, hdr("ES256", NOW, "e1"), BODY));
    /* Surrounding optional white space of the field value is not part of it. */
    ok(ks, fmt(" \t%s ", jws(rsa[0], RS, hdr("RS256", NOW, "r1"), BODY)));
    /* Unknown, non-critical members are ignored (RFC 7515 §4). */
    ok(ks, jws(rsa[0], RS, "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"],\"ts\":1700000000,"
                           "\"typ\":\"JOSE\",\"x-extra\":{\"a\":[1,2]}}", BODY));
    /* PSS is checked as RFC 7518 says: salt 32, not "any". */
    refused(ks, jws_salt(rsa[0], PS, 20, hdr("PS256", NOW, "r1"), BODY, strlen(BODY)),
            HOOKD_VERIFY_MISMATCH, "signature mismatch");
    /* One padding is not the other. */
    refused(ks, jws(rsa[0], PS, hdr("RS256", NOW, "r1"), BODY), HOOKD_VERIFY_MISMATCH,
            "signature mismatch");
    refused(ks, jws(rsa[0], RS, hdr("PS256", NOW, "r1"), BODY), HOOKD_VERIFY_MISMATCH,
            "signature mismatch");
    /* Another key of the right type under the kid. */
    refused(ks, jws(rsa[1], RS, hdr("RS256", NOW, "r1"), BODY), HOOKD_VERIFY_MISMATCH,
            "signature mismatch");
    refused(ks, jws(ec[1], ES, hdr("ES256", NOW, "e1"), BODY), HOOKD_VERIFY_MISMATCH,
            "signature mismatch");
    hookd_jwks_unref(ks);
}


static void test_es256_signature_shape(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    char *good = jws(ec[0], ES, hdr("ES256", NOW, "e1"), BODY);
    unsigned char rs[66];
    const char *dots = strstr(good, "..");
    assert_int_equal(unb64u(dots + 2, strlen(dots + 2), rs), 64);
    refused(ks, with_sig(good, rs, 63), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    rs[64] = 0;
    refused(ks, with_sig(good, rs, 65), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    unsigned char sw[64];
    memcpy(sw, rs + 32, 32);
    memcpy(sw + 32, rs, 32);
    refused(ks, with_sig(good, sw, 64), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    memset(sw, 0, 32); /* r = 0 */
    refused(ks, with_sig(good, sw, 64), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    memset(sw, 0xff, 64);
    refused(ks, with_sig(good, sw, 64), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    /* DER, as OpenSSL would write it, is not the JWS form. */
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL));
    unsigned char der[80], *p = der;
    int dl = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    refused(ks, with_sig(good, der, (size_t)dl), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    /* RSA signatures must be as long as the modulus. */
    char *rgood = jws(rsa[0], RS, hdr("RS256", NOW, "r1"), BODY);
    unsigned char rsig[300];
    dots = strstr(rgood, "..");
    size_t rl = unb64u(dots + 2, strlen(dots + 2), rsig);
    refused(ks, with_sig(rgood, rsig, rl - 1), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    hookd_jwks_unref(ks);
}

/* ---- private keys -------------------------------------------------------- */

static char *write_key(const char *dir, const char *name, EVP_PKEY *pk, const char *pass)
{
    char *path = fmt("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pk, pass ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
                                          (void *)pass),
                     1);
    fclose(f);
    return path;
}

static void test_load_key(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_jws.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256];
    hookd_jwks *ks = std_set();

    const char *rp = write_key(dir, "rsa.pem", rsa[0], NULL);
    EVP_PKEY *k = hookd_jws_load_key(rp, err, sizeof err);
    assert_non_null(k);
    char out[4096];
    assert_true(hookd_jws_sign(k, "r1", NOW, BODY, strlen(BODY), out, sizeof out) > 0);
    ok(ks, out);
    EVP_PKEY_free(k);
    unlink(rp);

    const char *ep = write_key(dir, "ec.pem", ec[0], NULL);
    k = hookd_jws_load_key(ep, err, sizeof err);
    assert_non_null(k);
    assert_true(hookd_jws_sign(k, "e1", NOW, BODY, strlen(BODY), out, sizeof out) > 0);
    ok(ks, out);
    EVP_PKEY_free(k);
    unlink(ep);

    struct { EVP_PKEY *pk; const char *pass, *why; } bad[] = {
        {EVP_RSA_gen(1024), NULL, "RSA key of 1024 bits (2048 to 8192 allowed)"},
        {EVP_EC_gen("P-384"), NULL, "EC key on a curve other than P-256"},
        {EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), NULL, "ED25519 key (RSA or EC P-256 allowed)"},
        {EVP_RSA_gen(2048), "secret", "no unencrypted PEM private key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_non_null(bad[i].pk);
        const char *p = write_key(dir, "bad.pem", bad[i].pk, bad[i].pass);
        err[0] = '\0';
        assert_null(hookd_jws_load_key(p, err, sizeof err));
        if (strstr(err, bad[i].why) == NULL)
            fail_msg("expected \"%s\" in \"%s\"", bad[i].why, err);
        /* Unsupported keys do not sign either. */
        if (bad[i].pass == NULL)
            assert_int_equal(hookd_jws_sign(bad[i].pk, NULL, NOW, "", 0, out, sizeof out), -1);
        EVP_PKEY_free(bad[i].pk);
        unlink(p);
    }
    assert_null(hookd_jws_load_key(fmt("%s/missing.pem", dir), err, sizeof err));
    assert_non_null(strstr(err, "No such file"));
    FILE *f = fopen(fmt("%s/pub.pem", dir), "w");
    assert_non_null(f);
    PEM_write_PUBKEY(f, rsa[0]);
    fclose(f);
    assert_null(hookd_jws_load_key(fmt("%s/pub.pem", dir), err, sizeof err));
    unlink(fmt("%s/pub.pem", dir));
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(hookd_jws_sign(NULL, NULL, NOW, "", 0, out, sizeof out), -1);
    hookd_jwks_unref(ks);
}

static void test_sign_kid_escaped(void **state)
{
    (void)state;
    /* A kid with JSON specials is escaped in the header and found again. */
    hookd_jwks *ks =
        parse_ok(fmt("{\"keys\":[%s]}", rsa_jwk(rsa[0], "\"kid\":\"a\\\"b\\\\c/\\u00e9\",")));
    char out[4096];
    assert_true(hookd_jws_sign(rsa[0], "a\"b\\c/\xc3\xa9", NOW, BODY, strlen(BODY), out,
                               sizeof out) > 0);
    ok(ks, out);
    assert_int_equal(hookd_jws_sign(rsa[0], "\xff", NOW, BODY, strlen(BODY), out, sizeof out), -1);
    char longkid[HOOKD_JWKS_MAX_KID + 2];
    memset(longkid, 'k', sizeof longkid - 1);
    longkid[sizeof longkid - 1] = '\0';
    assert_int_equal(hookd_jws_sign(rsa[0], longkid, NOW, BODY, strlen(BODY), out, sizeof out), -1);
    hookd_jwks_unref(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_rs256),
        cmocka_unit_test(test_round_trip_es256),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_independent_signer),
        cmocka_unit_test(test_es256_signature_shape),
        cmocka_unit_test(test_load_key),
        cmocka_unit_test(test_sign_kid_escaped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_jwks: key sets (hookd_jwks_parse) — usable and skipped keys, hostile
 * documents and their bounds — and their reference count. */
#include <openssl/err.h>
#include <time.h>

#include "jws_test.h"

/* ---- key sets ------------------------------------------------------------ */

static void test_jwks_parse(void **state)
{
    (void)state;
    hookd_jwks *ks = parse_ok(fmt(
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},%s,{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},%s,%s,%s,%s,%s,{\"kty\":\"XYZ\"}],"
        "\"other\":1}",
        rsa_jwk(rsa[0], "\"kid\":\"r1\",\"alg\":\"RS256\",\"use\":\"sig\",\"key_ops\":[\"x\"],"),
        rsa_jwk(rsa[1], "\"kid\":\"enc\",\"use\":\"enc\","),
        rsa_jwk(rsa[2], "\"kid\":\"hs\",\"alg\":\"HS256\","),
        ec_jwk(ec[0], "\"kid\":\"e1\",\"alg\":\"ES256\","),
        ec_jwk(ec[1], "\"kid\":\"rs-on-ec\",\"alg\":\"RS256\","),
        fmt("{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"p384\",\"x\":\"AA\",\"y\":\"AA\"}")));
    assert_int_equal(ks->nkeys, 2);
    assert_string_equal(ks->keys[0].kid, "r1");
    assert_int_equal(ks->keys[0].type, HOOKD_JWK_RSA);
    assert_int_equal(ks->keys[0].alg, HOOKD_JWS_RS256);
    assert_string_equal(ks->keys[1].kid, "e1");
    assert_int_equal(ks->keys[1].type, HOOKD_JWK_EC_P256);
    assert_int_equal(ks->keys[1].alg, HOOKD_JWS_ES256);
    assert_non_null(ks->keys[1].pkey);
    ok(ks, jws(rsa[0], RS, hdr("RS256", NOW, "r1"), BODY));
    refused(ks, jws(rsa[1], RS, hdr("RS256", NOW, "enc"), BODY), HOOKD_VERIFY_MISMATCH,
            "unknown key");
    hookd_jwks_unref(ks);

    /* A leading zero byte in n is tolerated; kid of exactly the maximum. */
    BIGNUM *n = NULL;
    unsigned char nb[257] = {0};
    assert_int_equal(EVP_PKEY_get_bn_param(rsa[0], OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(BN_bn2binpad(n, nb + 1, 256), 256);
    BN_free(n);
    char kid[HOOKD_JWKS_MAX_KID + 2];
    memset(kid, 'k', sizeof kid);
    kid[HOOKD_JWKS_MAX_KID] = '\0';
    ks = parse_ok(fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"AAEAAQ\"}]}",
                      kid, b64u(nb, sizeof nb)));
    ok(ks, jws(rsa[0], RS, hdr("RS256", NOW, kid), BODY));
    hookd_jwks_unref(ks);
    kid[HOOKD_JWKS_MAX_KID] = 'k';
    kid[HOOKD_JWKS_MAX_KID + 1] = '\0';
    parse_refused(fmt("{\"keys\":[%s]}", rsa_jwk(rsa[0], fmt("\"kid\":\"%s\",", kid))),
                  "kid of 129 bytes (at most 128)");
}

static void test_jwks_hostile(void **state)
{
    (void)state;
    char r[1024]; /* kept: the rotating buffers are reused below */
    snprintf(r, sizeof r, "%s", rsa_jwk(rsa[0], "\"kid\":\"r1\","));
    parse_refused("", "not valid JSON");
    parse_refused("not json", "not valid JSON");
    parse_refused("{\"keys\":[]", "not valid JSON");
    parse_refused("{\"keys\":[],\"keys\":[]}", "not valid JSON");
    parse_refused("{\"keys\":[]} x", "not valid JSON");
    parse_refused("[]", "no \"keys\" array");
    parse_refused("{}", "no \"keys\" array");
    parse_refused("{\"keys\":{}}", "no \"keys\" array");
    parse_refused("{\"keys\":[]}", "no usable key");
    parse_refused_n("{\"keys\":[]}\0", 12, "not valid JSON");
    parse_refused("{\"keys\":[1]}", "keys[0] is not an object");
    parse_refused("{\"keys\":[{\"n\":\"AQAB\"}]}", "keys[0]: kty missing");
    parse_refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"},{\"kty\":\"oct\",\"k\":\"AB\"}]}",
                  "no usable key");
    parse_refused(fmt("{\"keys\":[%s]}", rsa_jwk(rsa[0], "\"use\":\"enc\",")), "no usable key");
    parse_refused(fmt("{\"keys\":[%s]}", rsa_jwk(rsa[0], "\"kid\":7,")),
                  "keys[0]: kid is not a string");
    parse_refused(fmt("{\"keys\":[%s,%s]}", r, ec_jwk(ec[0], "\"kid\":\"r1\",")),
                  "keys[1]: a second key with the same kid");
    parse_refused(fmt("{\"keys\":[%s,%s]}", r, r), "keys[1]: a second key with the same kid");

    /* Base64url of n and e. */
    char *trunc = fmt("{\"keys\":[%s]}", r);
    char *q = strstr(trunc, "\",\"e\"");
    memmove(q - 1, q, strlen(q) + 1); /* 342 chars -> 341: length % 4 == 1 */
    parse_refused(trunc, "RSA n missing or not canonical base64url");
    char *padded = fmt("{\"keys\":[%s]}", r);
    q = strstr(padded, "\",\"e\"");
    memmove(q + 2, q, strlen(q) + 1);
    memcpy(q, "==", 2);
    parse_refused(padded, "RSA n missing or not canonical base64url");
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(2048, "AQ+B")), "RSA e missing");
    parse_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"}]}"), "RSA e missing");

    /* Modulus and exponent bounds. */
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(16384, "AQAB")),
                  "RSA modulus over 8192 bits");
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(8200, "AQAB")),
                  "keys[0]: RSA modulus of 8200 bits (2048 to 8192 allowed)");
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(1024, "AQAB")),
                  "keys[0]: RSA modulus of 1024 bits (2048 to 8192 allowed)");
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(2047, "AQAB")), "of 2047 bits");
    EVP_PKEY *small = EVP_RSA_gen(1024);
    assert_non_null(small);
    parse_refused(fmt("{\"keys\":[%s]}", rsa_jwk(small, "")), "RSA modulus of 1024 bits");
    EVP_PKEY_free(small);
    hookd_jwks_unref(parse_ok(fmt("{\"keys\":[%s]}", fake_rsa_jwk(8192, "AQAB"))));
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(2048, "AQAA")), "exponent must be odd");
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(2048, "AQ")), "exponent must be odd");
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(2048, "AA")), "exponent must be odd");
    parse_refused(fmt("{\"keys\":[%s]}", fake_rsa_jwk(2048, "AQEBAQEBAQEBAQ")),
                  "exponent over 8 bytes");
    hookd_jwks_unref(parse_ok(fmt("{\"keys\":[%s]}", fake_rsa_jwk(2048, "Aw"))));
    char *even = fake_rsa_jwk(2048, "AQAB");
    char *ev = strstr(even, "\",\"e\"") - 1; /* 2048 bits: the last char holds the low bits */
    *ev = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[b64u_val(*ev) & ~16];
    parse_refused(fmt("{\"keys\":[%s]}", even), "RSA modulus is even");

    /* EC points. */
    unsigned char pub[65];
    ec_point(ec[0], pub);
    pub[64] ^= 1;
    parse_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
                      b64u(pub + 1, 32), b64u(pub + 33, 32)),
                  "keys[0]: EC point is not on the P-256 curve");
    pub[64] ^= 1;
    parse_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
                      b64u(pub + 1, 31), b64u(pub + 33, 32)),
                  "EC x and y must be 32 bytes");
    parse_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
                      b64u(pub + 1, 32), b64u(pub, 33)),
                  "EC x and y must be 32 bytes");
    parse_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\"}]}",
                      b64u(pub + 1, 32)),
                  "EC x and y must be 32 bytes");
    memset(pub, 0, sizeof pub);
    parse_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
                      b64u(pub + 1, 32), b64u(pub + 33, 32)),
                  "not on the P-256 curve");
    parse_refused("{\"keys\":[{\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\"}]}", "EC crv missing");

    /* Size and work bounds. */
    size_t cap = HOOKD_JWKS_MAX_BYTES + 64;
    char *doc = malloc(cap);
    assert_non_null(doc);
    int len = snprintf(doc, cap, "{\"keys\":[%s],\"pad\":\"", r);
    memset(doc + len, 'x', cap - (size_t)len);
    memcpy(doc + HOOKD_JWKS_MAX_BYTES - 1, "\"}", 2);
    parse_refused_n(doc, HOOKD_JWKS_MAX_BYTES + 1, "key set of 262145 bytes (at most 262144)");
    free(doc);

    doc = malloc(HOOKD_JWKS_MAX_BYTES);
    assert_non_null(doc);
    size_t dl = (size_t)snprintf(doc, HOOKD_JWKS_MAX_BYTES, "{\"keys\":[%s", r);
    for (int i = 0; i < 9999; i++) {
        memcpy(doc + dl, ",{\"kty\":\"oct\"}", 14);
        dl += 14;
    }
    memcpy(doc + dl, "]}", 2);
    dl += 2;
    assert_true(dl < HOOKD_JWKS_MAX_BYTES);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    parse_refused_n(doc, dl, "key set of 10000 entries (at most 1024)");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);

    memset(doc, '[', 100000);
    parse_refused_n(doc, 100000, "not valid JSON: nested too deeply");
    dl = (size_t)snprintf(doc, HOOKD_JWKS_MAX_BYTES, "{\"keys\":[%s", r);
    memset(doc + dl, '[', 100000);
    parse_refused_n(doc, dl + 100000, "not valid JSON");

    /* At most HOOKD_JWKS_MAX_KEYS usable keys (the EC key 65 times). */
    char *e = ec_jwk(ec[0], "\"kid\":\"%d\",");
    dl = (size_t)snprintf(doc, HOOKD_JWKS_MAX_BYTES, "{\"keys\":[");
    for (int i = 0; i < HOOKD_JWKS_MAX_KEYS; i++) {
        dl += (size_t)snprintf(doc + dl, HOOKD_JWKS_MAX_BYTES - dl, e, i);
        doc[dl++] = ',';
    }
    dl += (size_t)snprintf(doc + dl, HOOKD_JWKS_MAX_BYTES - dl, "{\"kty\":\"oct\"}]}");
    hookd_jwks *ks = parse_ok(doc);
    assert_int_equal(ks->nkeys, HOOKD_JWKS_MAX_KEYS);
    hookd_jwks_unref(ks);
    memcpy(doc + dl - 15, r, strlen(r)); /* a 65th usable key for the oct one */
    memcpy(doc + dl - 15 + strlen(r), "]}", 3);
    parse_refused(doc, "more than 64 usable keys");
    free(doc);

    /* An error leaves nothing in the calling thread's OpenSSL error queue. */
    ERR_clear_error();
    pub[0] = 1;
    parse_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
                      b64u(pub, 32), b64u(pub, 32)),
                  "not on the P-256 curve");
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_refcount(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    assert_int_equal(atomic_load(&ks->refs), 1);
    assert_ptr_equal(hookd_jwks_ref(ks), ks);
    assert_ptr_equal(hookd_jwks_ref(ks), ks);
    assert_int_equal(atomic_load(&ks->refs), 3);
    hookd_jwks_unref(ks);
    hookd_jwks_unref(ks);
    ok(ks, jws(rsa[0], RS, hdr("RS256", NOW, "r1"), BODY)); /* still held once */
    hookd_jwks_unref(ks); /* freed here: ASan reports a leak otherwise */
    hookd_jwks_unref(NULL);
    assert_null(hookd_jwks_ref(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwks_parse),
        cmocka_unit_test(test_jwks_hostile),
        cmocka_unit_test(test_refcount),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

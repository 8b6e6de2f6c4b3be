/* Helpers of the JWS and key set tests (test_jws.c: headers and parsing;
 * test_jws_sign.c: signatures per algorithm, signing, private keys;
 * test_jwks.c: key sets): keys made here, an independent signer written
 * against OpenSSL directly, JWK documents, and checks of hookd_jws_verify.
 * static inline: each test file uses only some of them. */
#ifndef HOOKD_JWS_TEST_H
#define HOOKD_JWS_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "verify/jws.h"
#include "verify/verify.h"

#define NOW INT64_C(1700000000)
#define TOL 300
#define BODY "{\"event_type\":\"contact.created\",\"id\":\"e-1\"}"

enum { RS = 1, PS = 2, ES = 3 }; /* the test signer's algorithms */

static EVP_PKEY *rsa[3], *ec[2];

/* ---- helpers: encodings, keys, documents ------------------------------ */

/* Rotating buffers: results of one test need not be freed. */
static inline char *slot(void)
{
    static char pool[64][24 * 1024];
    static unsigned next;
    return pool[next++ % 64];
}

/* base64url without padding, written out here rather than through OpenSSL,
 * so the encoder under test is not checked against itself. */
static inline char *b64u(const unsigned char *in, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = slot(), *o = out;
    assert_true(n / 3 * 4 + 4 < 24 * 1024);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        *o++ = a[v >> 18 & 63];
        *o++ = a[v >> 12 & 63];
        if (i + 1 < n)
            *o++ = a[v >> 6 & 63];
        if (i + 2 < n)
            *o++ = a[v & 63];
    }
    *o = '\0';
    return out;
}

static inline int b64u_val(char c)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = c ? strchr(a, c) : NULL;
    return p ? (int)(p - a) : -1;
}

/* Decodes n chars of base64url (trusted test data) into out; the length. */
static inline size_t unb64u(const char *s, size_t n, unsigned char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64u_val(s[i]);
        assert_true(v >= 0);
        acc = acc << 6 | (uint32_t)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

static inline char *fmt(const char *f, ...)
{
    char *out = slot();
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(out, 24 * 1024, f, ap);
    va_end(ap);
    assert_true(n >= 0 && n < 24 * 1024);
    return out;
}

/* The header this module signs and accepts, with ts and an optional kid. */
static inline char *hdr(const char *alg, int64_t ts, const char *kid)
{
    return fmt("{\"alg\":\"%s\",\"b64\":false,\"crit\":[\"b64\"],\"ts\":%" PRId64 "%s%s%s}", alg,
               ts, kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "");
}

/* An independent signer, OpenSSL directly: BASE64URL(header) ".."
 * BASE64URL(signature over BASE64URL(header) "." body). */
static inline char *jws_salt(EVP_PKEY *pk, int alg, int salt, const char *header,
                             const char *body, size_t blen)
{
    char *prot = b64u((const unsigned char *)header, strlen(header));
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    assert_int_equal(EVP_DigestSignInit(c, &pc, EVP_sha256(), NULL, pk), 1);
    if (alg == PS) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt), 1);
    }
    assert_int_equal(EVP_DigestSignUpdate(c, prot, strlen(prot)), 1);
    assert_int_equal(EVP_DigestSignUpdate(c, ".", 1), 1);
    assert_int_equal(EVP_DigestSignUpdate(c, body, blen), 1);
    unsigned char sig[1024], rs[64];
    size_t sl = sizeof sig;
    assert_int_equal(EVP_DigestSignFinal(c, sig, &sl), 1);
    EVP_MD_CTX_free(c);
    if (alg == ES) {
        const unsigned char *p = sig;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)sl);
        assert_non_null(s);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(s), rs, 32), 32);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(s), rs + 32, 32), 32);
        ECDSA_SIG_free(s);
        memcpy(sig, rs, 64);
        sl = 64;
    }
    return fmt("%s..%s", prot, b64u(sig, sl));
}

static inline char *jws(EVP_PKEY *pk, int alg, const char *header, const char *body)
{
    return jws_salt(pk, alg, 32, header, body, strlen(body));
}

/* A JWK of a public key; `extra` goes in as it is ("\"kid\":\"r1\"," ...). */
static inline char *rsa_jwk(EVP_PKEY *pk, const char *extra)
{
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[1024], eb[16];
    assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
    BN_free(n);
    BN_free(e);
    return fmt("{\"kty\":\"RSA\",%s\"n\":\"%s\",\"e\":\"%s\"}", extra, b64u(nb, (size_t)nl),
               b64u(eb, (size_t)el));
}

/* The EC point: 0x04 || x || y. */
static inline void ec_point(EVP_PKEY *pk, unsigned char pub[65])
{
    size_t len = 0;
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pub, 65, &len), 1);
    assert_int_equal(len, 65);
    assert_int_equal(pub[0], 4);
}

static inline char *ec_jwk(EVP_PKEY *pk, const char *extra)
{
    unsigned char pub[65];
    ec_point(pk, pub);
    return fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",%s\"x\":\"%s\",\"y\":\"%s\"}", extra,
               b64u(pub + 1, 32), b64u(pub + 33, 32));
}

/* An RSA JWK with a made-up odd modulus of `bits` bits and exponent e. */
static inline char *fake_rsa_jwk(int bits, const char *e)
{
    unsigned char n[2048];
    size_t len = (size_t)(bits + 7) / 8;
    assert_true(len <= sizeof n);
    assert_int_equal(RAND_bytes(n, (int)len), 1);
    int top = (bits - 1) % 8; /* the highest bit set, in the first byte */
    n[0] = (unsigned char)((n[0] & ((1u << top) - 1)) | 1u << top);
    n[len - 1] |= 1;
    return fmt("{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", b64u(n, len), e);
}

static inline hookd_jwks *parse_ok(const char *json)
{
    hookd_jwks *ks = NULL;
    char err[256] = "";
    if (hookd_jwks_parse(json, strlen(json), &ks, err, sizeof err) != 0)
        fail_msg("key set refused: %s", err);
    assert_non_null(ks);
    return ks;
}

static inline void parse_refused_n(const char *json, size_t len, const char *why)
{
    hookd_jwks *ks = (hookd_jwks *)1;
    char err[256] = "";
    assert_int_equal(hookd_jwks_parse(json, len, &ks, err, sizeof err), -1);
    assert_null(ks);
    if (strstr(err, why) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", why, err);
    assert_null(strchr(err, '\n'));
}

static inline void parse_refused(const char *json, const char *why)
{
    parse_refused_n(json, strlen(json), why);
}

/* The standard set: r1 (RSA), e1 (EC). */
static inline hookd_jwks *std_set(void)
{
    return parse_ok(fmt("{\"keys\":[%s,%s]}", rsa_jwk(rsa[0], "\"kid\":\"r1\","),
                        ec_jwk(ec[0], "\"kid\":\"e1\",\"use\":\"sig\",")));
}

/* Verifies at NOW with TOL; expects rc and check. */
static inline void expect(const hookd_jwks *ks, const char *sig, const char *body, size_t blen,
                          int rc, const char *check)
{
    const char *got = NULL;
    int unknown = -1;
    int r = hookd_jws_verify(ks, sig, body, blen, NOW, TOL, &got, &unknown);
    assert_non_null(got);
    if (r != rc || strcmp(got, check) != 0)
        fail_msg("want %d \"%s\", got %d \"%s\" for %.120s", rc, check, r, got,
                 sig ? sig : "(null)");
    assert_true(unknown == 0 || (unknown == 1 && strcmp(check, "unknown key") == 0));
}

static inline void ok(const hookd_jwks *ks, const char *sig)
{
    expect(ks, sig, BODY, strlen(BODY), HOOKD_VERIFY_OK, "ok");
}

static inline void refused(const hookd_jwks *ks, const char *sig, int rc, const char *check)
{
    expect(ks, sig, BODY, strlen(BODY), rc, check);
}

static inline int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        if ((rsa[i] = EVP_RSA_gen(2048)) == NULL)
            return -1;
    for (int i = 0; i < 2; i++)
        if ((ec[i] = EVP_EC_gen("P-256")) == NULL)
            return -1;
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        EVP_PKEY_free(rsa[i]);
    for (int i = 0; i < 2; i++)
        EVP_PKEY_free(ec[i]);
    return 0;
}

/* The signature part of a value, replaced by these bytes. */
static inline char *with_sig(const char *value, const unsigned char *sig, size_t n)
{
    const char *dots = strstr(value, "..");
    return fmt("%.*s..%s", (int)(dots - value), value, b64u(sig, n));
}

#endif

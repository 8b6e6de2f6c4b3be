/* test_jws: compact JWS with a detached unencoded payload, and key sets, with keys made here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
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
static char *slot(void)
{
    static char pool[64][24 * 1024];
    static unsigned next;
    return pool[next++ % 64];
}

/* base64url without padding, written out here rather than through OpenSSL,
 * so the encoder under test is not checked against itself. */
static char *b64u(const unsigned char *in, size_t n)
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

static int b64u_val(char c)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = c ? strchr(a, c) : NULL;
    return p ? (int)(p - a) : -1;
}

/* Decodes n chars of base64url (trusted test data) into out; the length. */
static size_t unb64u(const char *s, size_t n, unsigned char *out)
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

static char *fmt(const char *f, ...)
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
static char *hdr(const char *alg, int64_t ts, const char *kid)
{
    return fmt("{\"alg\":\"%s\",\"b64\":false,\"crit\":[\"b64\"],\"ts\":%" PRId64 "%s%s%s}", alg,
               ts, kid ? ",\"kid\":\"" : "", kid ? kid : "", kid ? "\"" : "");
}

/* An independent signer, OpenSSL directly: BASE64URL(header) ".."
 * BASE64URL(signature over BASE64URL(header) "." body). */
static char *jws_salt(EVP_PKEY *pk, int alg, int salt, const char *header, const char *body,
                      size_t blen)
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

static char *jws(EVP_PKEY *pk, int alg, const char *header, const char *body)
{
    return jws_salt(pk, alg, 32, header, body, strlen(body));
}

/* A JWK of a public key; `extra` goes in as it is ("\"kid\":\"r1\"," ...). */
static char *rsa_jwk(EVP_PKEY *pk, const char *extra)
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
static void ec_point(EVP_PKEY *pk, unsigned char pub[65])
{
    size_t len = 0;
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pub, 65, &len), 1);
    assert_int_equal(len, 65);
    assert_int_equal(pub[0], 4);
}

static char *ec_jwk(EVP_PKEY *pk, const char *extra)
{
    unsigned char pub[65];
    ec_point(pk, pub);
    return fmt("{\"kty\":\"EC\",\"crv\":\"P-256\",%s\"x\":\"%s\",\"y\":\"%s\"}", extra,
               b64u(pub + 1, 32), b64u(pub + 33, 32));
}

/* An RSA JWK with a made-up odd modulus of `bits` bits and exponent e. */
static char *fake_rsa_jwk(int bits, const char *e)
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

static hookd_jwks *parse_ok(const char *json)
{
    hookd_jwks *ks = NULL;
    char err[256] = "";
    if (hookd_jwks_parse(json, strlen(json), &ks, err, sizeof err) != 0)
        fail_msg("key set refused: %s", err);
    assert_non_null(ks);
    return ks;
}

static void parse_refused_n(const char *json, size_t len, const char *why)
{
    hookd_jwks *ks = (hookd_jwks *)1;
    char err[256] = "";
    assert_int_equal(hookd_jwks_parse(json, len, &ks, err, sizeof err), -1);
    assert_null(ks);
    if (strstr(err, why) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", why, err);
    assert_null(strchr(err, '\n'));
}

static void parse_refused(const char *json, const char *why)
{
    parse_refused_n(json, strlen(json), why);
}

/* The standard set: r1 (RSA), e1 (EC). */
static hookd_jwks *std_set(void)
{
    return parse_ok(fmt("{\"keys\":[%s,%s]}", rsa_jwk(rsa[0], "\"kid\":\"r1\","),
                        ec_jwk(ec[0], "\"kid\":\"e1\",\"use\":\"sig\",")));
}

/* Verifies at NOW with TOL; expects rc and check. */
static void expect(const hookd_jwks *ks, const char *sig, const char *body, size_t blen, int rc,
                   const char *check)
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

static void ok(const hookd_jwks *ks, const char *sig)
{
    expect(ks, sig, BODY, strlen(BODY), HOOKD_VERIFY_OK, "ok");
}

static void refused(const hookd_jwks *ks, const char *sig, int rc, const char *check)
{
    expect(ks, sig, BODY, strlen(BODY), rc, check);
}

static int setup(void **state)
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

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        EVP_PKEY_free(rsa[i]);
    for (int i = 0; i < 2; i++)
        EVP_PKEY_free(ec[i]);
    return 0;
}

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

/* The signature part of a value, replaced by these bytes. */
static char *with_sig(const char *value, const unsigned char *sig, size_t n)
{
    const char *dots = strstr(value, "..");
    return fmt("%.*s..%s", (int)(dots - value), value, b64u(sig, n));
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

/* ---- header refusals --------------------------------------------------- */

#define HTAIL "\"b64\":false,\"crit\":[\"b64\"],\"ts\":1700000000,\"kid\":\"r1\""

static void test_alg(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    const char *bad[] = {
        "{\"alg\":\"none\"," HTAIL "}",  "{\"alg\":\"HS256\"," HTAIL "}",
        "{\"alg\":\"HS512\"," HTAIL "}", "{\"alg\":\"RS384\"," HTAIL "}",
        "{\"alg\":\"rs256\"," HTAIL "}", "{\"alg\":\"RS256 \"," HTAIL "}",
        "{\"alg\":\"EdDSA\"," HTAIL "}", "{\"alg\":256," HTAIL "}",
        "{\"alg\":null," HTAIL "}",      "{" HTAIL "}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(ks, jws(rsa[0], RS, bad[i], BODY), HOOKD_VERIFY_MISMATCH, "unsupported alg");
    /* alg none with an empty signature: the empty part is malformed first. */
    char *none = b64u((const unsigned char *)"{\"alg\":\"none\"," HTAIL "}",
                      strlen("{\"alg\":\"none\"," HTAIL "}"));
    refused(ks, fmt("%s..", none), HOOKD_VERIFY_MALFORMED, "malformed JWS");
    hookd_jwks_unref(ks);
}

static void test_b64_and_crit(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    const char *b64[] = {
        "{\"alg\":\"RS256\",\"crit\":[\"b64\"],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":true,\"crit\":[\"b64\"],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":\"false\",\"crit\":[\"b64\"],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":0,\"crit\":[\"b64\"],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":null,\"crit\":[\"b64\"],\"ts\":1700000000}",
    };
    for (size_t i = 0; i < sizeof b64 / sizeof b64[0]; i++)
        refused(ks, jws(rsa[0], RS, b64[i], BODY), HOOKD_VERIFY_MISMATCH, "b64 must be false");
    const char *crit[] = {
        "{\"alg\":\"RS256\",\"b64\":false,\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":\"b64\",\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\",\"exp\"],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"exp\"],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\",\"b64\"],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[64],\"ts\":1700000000}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":{\"b64\":1},\"ts\":1700000000}",
    };
    for (size_t i = 0; i < sizeof crit / sizeof crit[0]; i++)
        refused(ks, jws(rsa[0], RS, crit[i], BODY), HOOKD_VERIFY_MISMATCH, "unknown crit");
    /* Checked in order: alg before b64 before crit. */
    refused(ks, jws(rsa[0], RS, "{\"alg\":\"HS256\",\"b64\":true,\"ts\":1700000000}", BODY),
            HOOKD_VERIFY_MISMATCH, "unsupported alg");
    refused(ks, jws(rsa[0], RS, "{\"alg\":\"RS256\",\"b64\":true,\"ts\":1700000000}", BODY),
            HOOKD_VERIFY_MISMATCH, "b64 must be false");
    hookd_jwks_unref(ks);
}

static void test_keys_in_header(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    const char *members[] = {
        fmt("\"jwk\":%s", rsa_jwk(rsa[0], "")),
        "\"jku\":\"https://attacker.example/jwks.json\"",
        "\"x5u\":\"https://attacker.example/cert.pem\"",
        "\"x5c\":[\"MIIB\"]",
        "\"x5t\":\"AAAA\"",
        "\"x5t#S256\":\"AAAA\"",
        "\"jwk\":null",
    };
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        refused(ks, jws(rsa[0], RS, fmt("{\"alg\":\"RS256\"," HTAIL ",%s}", members[i]), BODY),
                HOOKD_VERIFY_MISMATCH, "keys in the header are refused");
    hookd_jwks_unref(ks);
}

static void test_timestamp(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    ok(ks, jws(rsa[0], RS, hdr("RS256", NOW - TOL, "r1"), BODY));
    ok(ks, jws(rsa[0], RS, hdr("RS256", NOW + TOL, "r1"), BODY));
    refused(ks, jws(rsa[0], RS, hdr("RS256", NOW - TOL - 1, "r1"), BODY), HOOKD_VERIFY_EXPIRED,
            "timestamp outside tolerance");
    refused(ks, jws(rsa[0], RS, hdr("RS256", NOW + TOL + 1, "r1"), BODY), HOOKD_VERIFY_EXPIRED,
            "timestamp outside tolerance");
    refused(ks, jws(rsa[0], RS, hdr("RS256", INT64_MIN, "r1"), BODY), HOOKD_VERIFY_EXPIRED,
            "timestamp outside tolerance");
    refused(ks, jws(rsa[0], RS, hdr("RS256", INT64_MAX, "r1"), BODY), HOOKD_VERIFY_EXPIRED,
            "timestamp outside tolerance");
    const char *bad[] = {
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"],\"ts\":\"1700000000\"}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"],\"ts\":1700000000.0}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"],\"ts\":1.7e9}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"],\"ts\":null}",
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(ks, jws(rsa[0], RS, bad[i], BODY), HOOKD_VERIFY_MALFORMED,
                "ts missing or not an integer");
    /* Before any key work: an unknown kid or a bad signature with a stale
     * ts is a stale ts. */
    refused(ks, jws(rsa[1], RS, hdr("RS256", NOW - 1000, "nope"), BODY), HOOKD_VERIFY_EXPIRED,
            "timestamp outside tolerance");
    refused(ks, jws(rsa[1], RS, hdr("RS256", NOW - 1000, "r1"), BODY), HOOKD_VERIFY_EXPIRED,
            "timestamp outside tolerance");
    /* A negative tolerance is none. */
    const char *check;
    char *exact = jws(rsa[0], RS, hdr("RS256", NOW, "r1"), BODY);
    assert_int_equal(hookd_jws_verify(ks, exact, BODY, strlen(BODY), NOW, -5, &check, NULL), 0);
    assert_int_equal(hookd_jws_verify(ks, exact, BODY, strlen(BODY), NOW + 1, -5, &check, NULL),
                     HOOKD_VERIFY_EXPIRED);
    hookd_jwks_unref(ks);
}

static void test_malformed(void **state)
{
    (void)state;
    hookd_jwks *ks = std_set();
    char *good = jws(rsa[0], RS, hdr("RS256", NOW, "r1"), BODY);
    size_t gl = strlen(good);
    const char *dots = strstr(good, "..");
    int pl = (int)(dots - good);
    const char *sig64 = dots + 2;

    refused(ks, NULL, HOOKD_VERIFY_MISSING, "X-CTCT-WEBHOOK-SIG header missing");
    const char *bad[] = {
        "", " ", ".", "..", "...", "a..b", "e30..", "..AAAA",
        fmt("%.*s.%s", pl, good, sig64),                      /* one dot */
        fmt("%.*s.%s.%s", pl, good, b64u((const unsigned char *)BODY, strlen(BODY)), sig64),
        fmt("%.*s.A.%s", pl, good, sig64),                    /* non-empty middle */
        fmt("%s.", good),                                     /* a fourth part */
        fmt("%s..", good),
        fmt("%.*s", (int)gl - 1, good),                       /* truncated */
        fmt("%.*s..%s", pl - 1, good, sig64),                 /* header truncated */
        fmt("%s=", good),                                     /* padding */
        fmt("%s==", good),
        fmt("%.*s=..%s", pl, good, sig64),
        fmt("%.*s+%s", (int)gl - 1, good, good + gl - 1),     /* standard alphabet */
        fmt("%.*s/%s", (int)gl - 1, good, good + gl - 1),
        fmt("%.*s*%s", (int)gl - 1, good, good + gl - 1),
        fmt("%.*s %s", (int)gl - 10, good, good + gl - 10),   /* white space inside */
        fmt("%.*s\n%s", (int)gl - 10, good, good + gl - 10),
        fmt("%s\xc3\xa9", good),
        fmt("%s..%s", b64u((const unsigned char *)"not json", 8), sig64),
        fmt("%s..%s", b64u((const unsigned char *)"[1,2]", 5), sig64),
        fmt("%s..%s", b64u((const unsigned char *)"\"RS256\"", 7), sig64),
        fmt("%s..%s", b64u((const unsigned char *)"{\"alg\":\"RS256\",\"alg\":\"RS256\"}", 29),
            sig64), /* duplicate member */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(ks, bad[i], HOOKD_VERIFY_MALFORMED, "malformed JWS");

    /* Non-canonical base64url: the last char's unused bits set ("A" vs "B"
     * for 2 bytes decoded from 3 chars). RSA-2048 signatures are 256
     * bytes = 342 chars + 2 spare bits. */
    assert_int_equal(strlen(sig64) % 4, 2);
    char *nc = fmt("%s", good);
    char *last = nc + strlen(nc) - 1;
    int v = b64u_val(*last);
    assert_true((v & 15) == 0);
    *last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[v | 1];
    refused(ks, nc, HOOKD_VERIFY_MALFORMED, "malformed JWS");

    /* kid must be a string; NUL inside the header is the end of the value. */
    refused(ks, jws(rsa[0], RS, "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"],"
                                "\"ts\":1700000000,\"kid\":1}", BODY),
            HOOKD_VERIFY_MALFORMED, "malformed JWS");
    refused(ks, jws(rsa[0], RS, "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"],"
                                "\"ts\":1700000000,\"kid\":\"r\\u00001\"}", BODY),
            HOOKD_VERIFY_MALFORMED, "malformed JWS");

    /* Bounds: header value over 8 KiB, protected header over 2 KiB,
     * signature over 1024 bytes. */
    static char big[10000];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, good, gl);
    refused(ks, big, HOOKD_VERIFY_MALFORMED, "malformed JWS");
    char pad[2100];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    refused(ks, jws(rsa[0], RS, fmt("{\"alg\":\"RS256\"," HTAIL ",\"p\":\"%s\"}", pad), BODY),
            HOOKD_VERIFY_MALFORMED, "malformed JWS");
    unsigned char huge[1100] = {0};
    refused(ks, with_sig(good, huge, sizeof huge), HOOKD_VERIFY_MALFORMED, "malformed JWS");
    refused(ks, with_sig(good, huge, 1024), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    /* Cut by two chars it is still base64url, of a signature too short. */
    refused(ks, fmt("%.*s", (int)gl - 2, good), HOOKD_VERIFY_MISMATCH, "signature mismatch");
    hookd_jwks_unref(ks);
}

static void test_kid(void **state)
{
    (void)state;
    hookd_jwks *ks = parse_ok(fmt("{\"keys\":[%s,%s,%s]}", rsa_jwk(rsa[0], "\"kid\":\"r1\","),
                                  ec_jwk(ec[0], "\"kid\":\"e1\","),
                                  rsa_jwk(rsa[1], "\"kid\":\"p1\",\"alg\":\"PS256\",")));
    const char *check;
    int unknown = -1;
    char *s = jws(rsa[0], RS, hdr("RS256", NOW, "nope"), BODY);
    assert_int_equal(hookd_jws_verify(ks, s, BODY, strlen(BODY), NOW, TOL, &check, &unknown),
                     HOOKD_VERIFY_MISMATCH);
    assert_string_equal(check, "unknown key");
    assert_int_equal(unknown, 1);
    /* A NULL key set holds no kid either. */
    unknown = -1;
    assert_int_equal(hookd_jws_verify(NULL, s, BODY, strlen(BODY), NOW, TOL, &check, &unknown),
                     HOOKD_VERIFY_MISMATCH);
    assert_int_equal(unknown, 1);
    /* The kid is known, its key type does not fit alg: not "unknown kid". */
    struct { EVP_PKEY *pk; int alg; const char *name, *kid; } wrong[] = {
        {ec[0], ES, "ES256", "r1"},
        {rsa[0], RS, "RS256", "e1"},
        {rsa[0], PS, "PS256", "e1"},
        {rsa[1], RS, "RS256", "p1"}, /* the key's own alg is PS256 */
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        unknown = -1;
        s = jws(wrong[i].pk, wrong[i].alg, hdr(wrong[i].name, NOW, wrong[i].kid), BODY);
        assert_int_equal(hookd_jws_verify(ks, s, BODY, strlen(BODY), NOW, TOL, &check, &unknown),
                         HOOKD_VERIFY_MISMATCH);
        assert_string_equal(check, "unknown key");
        assert_int_equal(unknown, 0);
    }
    ok(ks, jws(rsa[1], PS, hdr("PS256", NOW, "p1"), BODY));
    /* A kid longer than any in a set is unknown too; check and unknown_kid may be NULL. */
    char longkid[300];
    memset(longkid, 'k', sizeof longkid - 1);
    longkid[sizeof longkid - 1] = '\0';
    unknown = -1;
    s = jws(rsa[0], RS, hdr("RS256", NOW, longkid), BODY);
    assert_int_equal(hookd_jws_verify(ks, s, BODY, strlen(BODY), NOW, TOL, &check, &unknown),
                     HOOKD_VERIFY_MISMATCH);
    assert_int_equal(unknown, 1);
    assert_int_equal(hookd_jws_verify(ks, s, BODY, strlen(BODY), NOW, TOL, NULL, NULL),
                     HOOKD_VERIFY_MISMATCH);
    hookd_jwks_unref(ks);
}

static void test_no_kid(void **state)
{
    (void)state;
    /* Three RSA keys without kid and an EC one: the signer is found. */
    hookd_jwks *ks = parse_ok(fmt("{\"keys\":[%s,%s,%s,%s]}", rsa_jwk(rsa[0], ""),
                                  ec_jwk(ec[0], ""), rsa_jwk(rsa[1], ""), rsa_jwk(rsa[2], "")));
    assert_int_equal(ks->nkeys, 4);
    for (int i = 0; i < 3; i++) {
        ok(ks, jws(rsa[i], RS, hdr("RS256", NOW, NULL), BODY));
        ok(ks, jws(rsa[i], PS, hdr("PS256", NOW, NULL), BODY));
    }
    ok(ks, jws(ec[0], ES, hdr("ES256", NOW, NULL), BODY));
    refused(ks, jws(ec[1], ES, hdr("ES256", NOW, NULL), BODY), HOOKD_VERIFY_MISMATCH,
            "signature mismatch");
    /* An empty kid is no kid. */
    ok(ks, jws(rsa[2], RS, hdr("RS256", NOW, ""), BODY));
    hookd_jwks_unref(ks);

    /* Only RSA keys: nothing fits ES256. */
    ks = parse_ok(fmt("{\"keys\":[%s]}", rsa_jwk(rsa[0], "")));
    refused(ks, jws(ec[0], ES, hdr("ES256", NOW, NULL), BODY), HOOKD_VERIFY_MISMATCH,
            "unknown key");
    hookd_jwks_unref(ks);

    /* At most HOOKD_JWS_MAX_TRIES keys are tried: eight others first,
     * the signer ninth, is not reached. */
    char doc[24 * 1024] = "{\"keys\":[";
    for (int i = 0; i < HOOKD_JWS_MAX_TRIES; i++)
        strcat(strcat(doc, rsa_jwk(rsa[1], "")), ",");
    strcat(strcat(doc, rsa_jwk(rsa[0], "")), "]}");
    ks = parse_ok(doc);
    refused(ks, jws(rsa[0], RS, hdr("RS256", NOW, NULL), BODY), HOOKD_VERIFY_MISMATCH,
            "signature mismatch");
    ok(ks, jws(rsa[1], RS, hdr("RS256", NOW, NULL), BODY));
    hookd_jwks_unref(ks);
}

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
        cmocka_unit_test(test_alg),
        cmocka_unit_test(test_b64_and_crit),
        cmocka_unit_test(test_keys_in_header),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_kid),
        cmocka_unit_test(test_no_kid),
        cmocka_unit_test(test_jwks_parse),
        cmocka_unit_test(test_jwks_hostile),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_load_key),
        cmocka_unit_test(test_sign_kid_escaped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* jws: compact JWS with a detached, unencoded payload, and JSON Web Key Sets (see jws.h). */
#include "jws.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "verify.h"

#define MAX_HEADER 8192    /* the header value, before anything is decoded */
#define MAX_PROTECTED 2048 /* the decoded protected header */
#define MAX_SIG 1024       /* a decoded signature: RSA-8192 */
#define MAX_ENTRIES 1024   /* entries of "keys", usable or not: a work bound */
#define MAX_RSA_BYTES 1025 /* an 8192-bit modulus, with one leading zero tolerated */
#define MIN_RSA_BITS 2048
#define MAX_RSA_BITS 8192
#define B64_TEXT_MAX 2732 /* base64url of MAX_PROTECTED bytes, the largest decoded */

/* ---- small helpers --------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int errf(char *err, size_t errlen,
                                                       const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* OpenSSL 3 looks an algorithm up by name (locks, a property query) on each
 * implicit fetch: SHA-256 is fetched once for the process. */
static EVP_MD *sha256_md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void fetch_md(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&md_once, fetch_md);
    return sha256_md;
}

/* ---- base64url ------------------------------------------------------- */

/* Unpadded base64url length of n bytes. */
static size_t b64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Strict base64url without padding (RFC 7515 §2) into out (cap bytes).
 * EVP_DecodeBlock is lenient (white space, '=' anywhere, the padding counted
 * in its length), so anything outside the alphabet is refused first, the
 * padding is added and subtracted here, and the result must re-encode to
 * the same text: one spelling per value. Returns the length or -1. */
static int b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    char t[B64_TEXT_MAX + 4], re[B64_TEXT_MAX + 5];
    unsigned char tmp[(B64_TEXT_MAX + 4) / 4 * 3];
    if (n == 0 || n % 4 == 1 || n > B64_TEXT_MAX)
        return -1;
    size_t pad = (4 - n % 4) % 4, len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            t[i] = c;
        else if (c == '-')
            t[i] = '+';
        else if (c == '_')
            t[i] = '/';
        else
            return -1;
    }
    memset(t + n, '=', pad);
    int r = EVP_DecodeBlock(tmp, (const unsigned char *)t, (int)(n + pad));
    if (r != (int)((n + pad) / 4 * 3))
        return -1;
    if (EVP_EncodeBlock((unsigned char *)re, tmp, (int)len) != (int)(n + pad) ||
        memcmp(re, t, n + pad) != 0)
        return -1;
    memcpy(out, tmp, len);
    return (int)len;
}

/* Unpadded base64url of in (at most MAX_SIG bytes), NUL terminated; the
 * length or -1 when out is too small. */
static int b64url_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    char t[(MAX_SIG + 2) / 3 * 4 + 1];
    if (n > MAX_SIG)
        return -1;
    int r = EVP_EncodeBlock((unsigned char *)t, in, (int)n);
    while (r > 0 && t[r - 1] == '=')
        r--;
    if ((size_t)r >= cap)
        return -1;
    for (int i = 0; i < r; i++)
        out[i] = t[i] == '+' ? '-' : t[i] == '/' ? '_' : t[i];
    out[r] = '\0';
    return r;
}

/* ---- algorithms ------------------------------------------------------ */

static int alg_from_name(const char *s)
{
    if (s == NULL)
        return 0;
    if (strcmp(s, "RS256") == 0)
        return HOOKD_JWS_RS256;
    if (strcmp(s, "PS256") == 0)
        return HOOKD_JWS_PS256;
    if (strcmp(s, "ES256") == 0)
        return HOOKD_JWS_ES256;
    return 0;
}

static int type_fits(hookd_jwk_type type, int alg)
{
    return alg == HOOKD_JWS_ES256 ? type == HOOKD_JWK_EC_P256 : type == HOOKD_JWK_RSA;
}

/* A key may serve alg: its type fits, and its own "alg" (RFC 7517 §4.4)
 * names that one when it names any. */
static int key_fits(const hookd_jwk *k, int alg)
{
    return type_fits(k->type, alg) && (k->alg == 0 || k->alg == alg);
}

/* ---- key sets -------------------------------------------------------- */

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pk = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *c = params ? EVP_PKEY_CTX_new_from_name(NULL, type, NULL) : NULL;
    if (c == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
        EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(params);
    return pk;
}

/* Decodes a base64url member into out; -1 when absent, not a string, longer
 * than cap allows or not canonical. */
static int member_bytes(json_t *key, const char *name, unsigned char *out, size_t cap)
{
    json_t *v = json_object_get(key, name);
    if (!json_is_string(v) || json_string_length(v) > b64url_len(cap))
        return -1;
    return b64url_decode(json_string_value(v), json_string_length(v), out, cap);
}

static int rsa_key(json_t *j, size_t i, hookd_jwk *k, char *err, size_t errlen)
{
    unsigned char n[MAX_RSA_BYTES], e[16];
    json_t *jn = json_object_get(j, "n");
    if (json_is_string(jn) && json_string_length(jn) > b64url_len(MAX_RSA_BYTES))
        return errf(err, errlen, "keys[%zu]: RSA modulus over %d bits (%d to %d allowed)", i,
                    MAX_RSA_BITS, MIN_RSA_BITS, MAX_RSA_BITS);
    int nl = member_bytes(j, "n", n, sizeof n), el = member_bytes(j, "e", e, sizeof e);
    if (nl < 0 || el < 0)
        return errf(err, errlen, "keys[%zu]: RSA %s missing or not canonical base64url", i,
                    nl < 0 ? "n" : "e");
    /* Leading zero bytes carry no value (some encoders add one). */
    const unsigned char *np = n, *ep = e;
    while (nl > 0 && *np == 0)
        np++, nl--;
    while (el > 0 && *ep == 0)
        ep++, el--;
    int bits = nl > 0 ? (nl - 1) * 8 : 0;
    for (unsigned top = nl > 0 ? np[0] : 0; top != 0; top >>= 1)
        bits++;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS)
        return errf(err, errlen, "keys[%zu]: RSA modulus of %d bits (%d to %d allowed)", i, bits,
                    MIN_RSA_BITS, MAX_RSA_BITS);
    if ((np[nl - 1] & 1) == 0)
        return errf(err, errlen, "keys[%zu]: RSA modulus is even", i);
    if (el > 8)
        return errf(err, errlen, "keys[%zu]: RSA exponent over 8 bytes", i);
    if (el == 0 || (ep[el - 1] & 1) == 0 || (el == 1 && ep[0] < 3))
        return errf(err, errlen, "keys[%zu]: RSA exponent must be odd and at least 3", i);

    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(np, nl, NULL), *be = BN_bin2bn(ep, el, NULL);
    if (bld != NULL && bn != NULL && be != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
        k->pkey = from_params("RSA", bld);
    BN_free(bn);
    BN_free(be);
    OSSL_PARAM_BLD_free(bld);
    if (k->pkey == NULL)
        return errf(err, errlen, "keys[%zu]: RSA key refused by OpenSSL", i);
    k->type = HOOKD_JWK_RSA;
    return 0;
}

static int ec_key(json_t *j, size_t i, hookd_jwk *k, char *err, size_t errlen)
{
    unsigned char pub[65];
    pub[0] = 0x04; /* uncompressed: 0x04 || x || y (SEC 1 §2.3.3) */
    if (member_bytes(j, "x", pub + 1, 32) != 32 || member_bytes(j, "y", pub + 33, 32) != 32)
        return errf(err, errlen, "keys[%zu]: EC x and y must be 32 bytes of base64url each", i);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) == 1)
        k->pkey = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    /* An invalid point lets a signature leak nothing, but proves nothing
     * either: such a key set is broken, so it is refused as a whole. */
    EVP_PKEY_CTX *c = k->pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL) : NULL;
    int ok = c != NULL && EVP_PKEY_public_check(c) == 1;
    EVP_PKEY_CTX_free(c);
    if (!ok) {
        EVP_PKEY_free(k->pkey);
        k->pkey = NULL;
        return errf(err, errlen, "keys[%zu]: EC point is not on the P-256 curve", i);
    }
    k->type = HOOKD_JWK_EC_P256;
    return 0;
}

/* One entry of "keys": 1 usable (into *k), 0 skipped, -1 refused. */
static int parse_key(json_t *j, size_t i, hookd_jwk *k, char *err, size_t errlen)
{
    if (!json_is_object(j))
        return errf(err, errlen, "keys[%zu] is not an object", i);
    const char *kty = json_string_value(json_object_get(j, "kty"));
    if (kty == NULL)
        return errf(err, errlen, "keys[%zu]: kty missing or not a string", i);
    int ec = strcmp(kty, "EC") == 0;
    if (!ec && strcmp(kty, "RSA") != 0)
        return 0; /* oct, OKP, or a type yet to come */
    json_t *use = json_object_get(j, "use"), *alg = json_object_get(j, "alg");
    if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
        return 0;
    if (alg != NULL) {
        k->alg = alg_from_name(json_string_value(alg));
        if (k->alg == 0 || !type_fits(ec ? HOOKD_JWK_EC_P256 : HOOKD_JWK_RSA, k->alg))
            return 0;
    }
    if (ec) {
        const char *crv = json_string_value(json_object_get(j, "crv"));
        if (crv == NULL)
            return errf(err, errlen, "keys[%zu]: EC crv missing or not a string", i);
        if (strcmp(crv, "P-256") != 0)
            return 0;
    }
    json_t *kid = json_object_get(j, "kid");
    if (kid != NULL && !json_is_string(kid))
        return errf(err, errlen, "keys[%zu]: kid is not a string", i);
    if (kid != NULL && json_string_length(kid) > HOOKD_JWKS_MAX_KID)
        return errf(err, errlen, "keys[%zu]: kid of %zu bytes (at most %d)", i,
                    json_string_length(kid), HOOKD_JWKS_MAX_KID);
    if (kid != NULL) /* jansson refuses \u0000 by default: the length is the C length */
        memcpy(k->kid, json_string_value(kid), json_string_length(kid) + 1);
    if ((ec ? ec_key : rsa_key)(j, i, k, err, errlen) != 0)
        return -1;
    return 1;
}

static const char *json_why(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_stack_overflow: return "nested too deeply";
    case json_error_duplicate_key: return "a duplicate member";
    case json_error_invalid_utf8: return "invalid UTF-8";
    case json_error_premature_end_of_input: return "cut short";
    case json_error_end_of_input_expected: return "text after the end";
    case json_error_numeric_overflow: return "a number out of range";
    case json_error_null_character: return "a NUL character";
    case json_error_out_of_memory: return "out of memory";
    default: return "invalid syntax";
    }
}

static void jwks_free(hookd_jwks *ks)
{
    for (size_t i = 0; i < ks->nkeys; i++)
        EVP_PKEY_free(ks->keys[i].pkey);
    free(ks);
}

static int jwks_build(json_t *keys, hookd_jwks *ks, char *err, size_t errlen)
{
    size_t total = json_array_size(keys);
    if (total > MAX_ENTRIES)
        return errf(err, errlen, "key set of %zu entries (at most %d)", total, MAX_ENTRIES);
    for (size_t i = 0; i < total; i++) {
        hookd_jwk k = {.kid = ""};
        int r = parse_key(json_array_get(keys, i), i, &k, err, errlen);
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        if (ks->nkeys == HOOKD_JWKS_MAX_KEYS) {
            EVP_PKEY_free(k.pkey);
            return errf(err, errlen, "key set of more than %d usable keys", HOOKD_JWKS_MAX_KEYS);
        }
        /* Keys without a kid are told apart by trying them, not by name. */
        for (size_t d = 0; k.kid[0] != '\0' && d < ks->nkeys; d++)
            if (strcmp(ks->keys[d].kid, k.kid) == 0) {
                EVP_PKEY_free(k.pkey);
                return errf(err, errlen, "keys[%zu]: a second key with the same kid", i);
            }
        ks->keys[ks->nkeys++] = k;
    }
    if (ks->nkeys == 0)
        return errf(err, errlen, "key set holds no usable key (RSA or EC P-256, for signing)");
    return 0;
}

int hookd_jwks_parse(const char *json, size_t len, hookd_jwks **out, char *err, size_t errlen)
{
    if (out == NULL)
        return errf(err, errlen, "no place for the key set");
    *out = NULL;
    if (json == NULL)
        return errf(err, errlen, "key set missing");
    if (len > HOOKD_JWKS_MAX_BYTES)
        return errf(err, errlen, "key set of %zu bytes (at most %d)", len, HOOKD_JWKS_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return errf(err, errlen, "key set is not valid JSON: %s at line %d, column %d",
                    json_why(&je), je.line, je.column);
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        json_decref(root);
        return errf(err, errlen, "key set has no \"keys\" array");
    }
    hookd_jwks *ks = calloc(1, sizeof *ks + HOOKD_JWKS_MAX_KEYS * sizeof(hookd_jwk));
    if (ks == NULL) {
        json_decref(root);
        return errf(err, errlen, "out of memory");
    }
    /* Failed imports leave errors in this thread's OpenSSL queue, where a
     * later SSL_get_error would find them: drop what this call added. */
    ERR_set_mark();
    int rc = jwks_build(keys, ks, err, errlen);
    ERR_pop_to_mark();
    json_decref(root);
    if (rc != 0) {
        jwks_free(ks);
        return -1;
    }
    atomic_init(&ks->refs, 1);
    *out = ks;
    return 0;
}

hookd_jwks *hookd_jwks_ref(hookd_jwks *ks)
{
    if (ks != NULL)
        atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
    return ks;
}

void hookd_jwks_unref(hookd_jwks *ks)
{
    if (ks != NULL && atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) == 1)
        jwks_free(ks);
}

/* ---- verification ---------------------------------------------------- */

static int refuse(const char **check, const char *why, int rc)
{
    *check = why;
    return rc;
}

/* Checks the protected header in the order of jws.h; 0 with *alg and *kid
 * (NULL when absent, pointing into h) or a HOOKD_VERIFY_* refusal. */
static int check_header(json_t *h, int64_t now_s, int64_t tol, int *alg, const char **kid,
                        const char **check)
{
    static const char *const key_params[] = {"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"};
    json_t *jkid = json_object_get(h, "kid");
    if (jkid != NULL && !json_is_string(jkid))
        return refuse(check, "malformed JWS", HOOKD_VERIFY_MALFORMED);
    *kid = json_string_value(jkid);
    if ((*alg = alg_from_name(json_string_value(json_object_get(h, "alg")))) == 0)
        return refuse(check, "unsupported alg", HOOKD_VERIFY_MISMATCH);
    if (!json_is_false(json_object_get(h, "b64")))
        return refuse(check, "b64 must be false", HOOKD_VERIFY_MISMATCH);
    /* RFC 7797 §6: b64 false must be critical; no other extension is known. */
    json_t *crit = json_object_get(h, "crit");
    const char *c0 = json_string_value(json_array_get(crit, 0));
    if (json_array_size(crit) != 1 || c0 == NULL || strcmp(c0, "b64") != 0)
        return refuse(check, "unknown crit", HOOKD_VERIFY_MISMATCH);
    /* A key carried by the message itself would let the sender pick it. */
    for (size_t i = 0; i < sizeof key_params / sizeof key_params[0]; i++)
        if (json_object_get(h, key_params[i]) != NULL)
            return refuse(check, "keys in the header are refused", HOOKD_VERIFY_MISMATCH);
    json_t *ts = json_object_get(h, "ts");
    if (!json_is_integer(ts))
        return refuse(check, "ts missing or not an integer", HOOKD_VERIFY_MALFORMED);
    /* |ts - now| in unsigned arithmetic: exact, whatever the signs. */
    int64_t t = (int64_t)json_integer_value(ts);
    uint64_t d = t >= now_s ? (uint64_t)t - (uint64_t)now_s : (uint64_t)now_s - (uint64_t)t;
    if (d > (uint64_t)(tol > 0 ? tol : 0))
        return refuse(check, "timestamp outside tolerance", HOOKD_VERIFY_EXPIRED);
    return 0;
}

/* SHA-256 of protected "." body, hashed once however many keys are tried;
 * the body is fed as it is, never copied. */
static int signing_digest(const char *prot, size_t pn, const char *body, size_t bn,
                          unsigned char dg[32])
{
    const EVP_MD *md = sha256();
    EVP_MD_CTX *c = md ? EVP_MD_CTX_new() : NULL;
    int ok = c != NULL && EVP_DigestInit_ex2(c, md, NULL) == 1 &&
             EVP_DigestUpdate(c, prot, pn) == 1 && EVP_DigestUpdate(c, ".", 1) == 1 &&
             EVP_DigestUpdate(c, body, bn) == 1 && EVP_DigestFinal_ex(c, dg, NULL) == 1;
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

/* RFC 7518 §3.4 raw r||s to the DER OpenSSL verifies; its length or -1. */
static int es256_der(const unsigned char rs[64], unsigned char *der, size_t cap)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *sv = BN_bin2bn(rs + 32, 32, NULL);
    int n = -1;
    if (s != NULL && r != NULL && sv != NULL && ECDSA_SIG_set0(s, r, sv) == 1) {
        r = sv = NULL; /* owned by s now */
        n = i2d_ECDSA_SIG(s, NULL);
        unsigned char *p = der;
        n = n > 0 && (size_t)n <= cap ? i2d_ECDSA_SIG(s, &p) : -1;
    }
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    return n;
}

static int verify_one(const hookd_jwk *k, int alg, const unsigned char dg[32],
                      const unsigned char *sig, size_t siglen)
{
    unsigned char der[80];
    if (alg == HOOKD_JWS_ES256) {
        int n = es256_der(sig, der, sizeof der);
        if (n < 0)
            return 0;
        sig = der;
        siglen = (size_t)n;
    } else if (siglen != (size_t)EVP_PKEY_get_size(k->pkey)) {
        return 0; /* an RSA signature is exactly as long as the modulus */
    }
    const EVP_MD *md = sha256();
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    int ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
             EVP_PKEY_CTX_set_signature_md(c, md) == 1;
    if (ok && alg == HOOKD_JWS_RS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1;
    if (ok && alg == HOOKD_JWS_PS256) /* RFC 7518 §3.5: MGF1 SHA-256, 32 bytes of salt */
        ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_PKEY_verify(c, sig, siglen, dg, 32) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

/* The keys to try for alg and kid; 0 or a refusal. */
static int pick_keys(const hookd_jwks *ks, int alg, const char *kid, const hookd_jwk **cand,
                     size_t *ncand, int *unknown_kid, const char **check)
{
    size_t nkeys = ks != NULL ? ks->nkeys : 0;
    *ncand = 0;
    if (kid != NULL && kid[0] != '\0') {
        for (size_t i = 0; i < nkeys; i++)
            if (strcmp(ks->keys[i].kid, kid) == 0) {
                if (!key_fits(&ks->keys[i], alg))
                    return refuse(check, "unknown key", HOOKD_VERIFY_MISMATCH);
                cand[(*ncand)++] = &ks->keys[i];
                return 0;
            }
        if (unknown_kid != NULL)
            *unknown_kid = 1;
        return refuse(check, "unknown key", HOOKD_VERIFY_MISMATCH);
    }
    for (size_t i = 0; i < nkeys && *ncand < HOOKD_JWS_MAX_TRIES; i++)
        if (key_fits(&ks->keys[i], alg))
            cand[(*ncand)++] = &ks->keys[i];
    return *ncand > 0 ? 0 : refuse(check, "unknown key", HOOKD_VERIFY_MISMATCH);
}

int hookd_jws_verify(const hookd_jwks *ks, const char *sig, const char *body, size_t body_len,
                     int64_t now_s, int64_t tolerance_s, const char **check, int *unknown_kid)
{
    const char *ignored;
    if (check == NULL)
        check = &ignored;
    if (unknown_kid != NULL)
        *unknown_kid = 0;
    if (sig == NULL)
        return refuse(check, "X-CTCT-WEBHOOK-SIG header missing", HOOKD_VERIFY_MISSING);
    if (body == NULL)
        body = "", body_len = 0;
    size_t n = strnlen(sig, MAX_HEADER + 1);
    if (n > MAX_HEADER)
        return refuse(check, "malformed JWS", HOOKD_VERIFY_MALFORMED);
    while (n > 0 && (sig[n - 1] == ' ' || sig[n - 1] == '\t'))
        n--; /* optional white space around a field value (RFC 9110 §5.5) */
    while (n > 0 && (sig[0] == ' ' || sig[0] == '\t'))
        sig++, n--;
    /* BASE64URL(protected) ".." BASE64URL(signature): the payload is detached. */
    const char *d1 = memchr(sig, '.', n);
    if (d1 == NULL || (size_t)(d1 - sig) + 1 >= n || d1[1] != '.')
        return refuse(check, "malformed JWS", HOOKD_VERIFY_MALFORMED);
    size_t pn = (size_t)(d1 - sig), sn = n - pn - 2;
    const char *s64 = d1 + 2;
    unsigned char hdr[MAX_PROTECTED], sigb[MAX_SIG];
    int hl = -1, sl = -1;
    if (memchr(s64, '.', sn) == NULL && pn <= b64url_len(MAX_PROTECTED) &&
        sn <= b64url_len(MAX_SIG)) {
        hl = b64url_decode(sig, pn, hdr, sizeof hdr);
        sl = b64url_decode(s64, sn, sigb, sizeof sigb);
    }
    json_t *h = hl > 0 && sl > 0 ? json_loadb((const char *)hdr, (size_t)hl,
                                              JSON_REJECT_DUPLICATES, NULL)
                                 : NULL;
    if (!json_is_object(h)) {
        json_decref(h);
        return refuse(check, "malformed JWS", HOOKD_VERIFY_MALFORMED);
    }
    int alg;
    const char *kid;
    const hookd_jwk *cand[HOOKD_JWS_MAX_TRIES];
    size_t ncand;
    int rc = check_header(h, now_s, tolerance_s, &alg, &kid, check);
    if (rc == 0)
        rc = pick_keys(ks, alg, kid, cand, &ncand, unknown_kid, check);
    json_decref(h); /* kid points into h: not used past here */
    if (rc != 0)
        return rc;
    if (alg == HOOKD_JWS_ES256 && sl != 64)
        return refuse(check, "signature mismatch", HOOKD_VERIFY_MISMATCH);

    unsigned char dg[32];
    int ok = 0;
    /* A failed verification queues OpenSSL errors in this thread, where a
     * later SSL_get_error on the same thread would find them. */
    ERR_set_mark();
    if (signing_digest(sig, pn, body, body_len, dg) == 0)
        for (size_t i = 0; i < ncand && !ok; i++)
            ok = verify_one(cand[i], alg, dg, sigb, (size_t)sl);
    ERR_pop_to_mark();
    if (!ok)
        return refuse(check, "signature mismatch", HOOKD_VERIFY_MISMATCH);
    *check = "ok";
    return HOOKD_VERIFY_OK;
}

/* ---- signing --------------------------------------------------------- */

/* The alg a private key signs with, or 0 when hookd does not sign with it. */
static int key_alg(EVP_PKEY *key)
{
    char group[64];
    if (EVP_PKEY_is_a(key, "RSA")) {
        int bits = EVP_PKEY_get_bits(key);
        return bits >= MIN_RSA_BITS && bits <= MAX_RSA_BITS ? HOOKD_JWS_RS256 : 0;
    }
    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_group_name(key, group, sizeof group, NULL) == 1 &&
        strcmp(group, "prime256v1") == 0)
        return HOOKD_JWS_ES256;
    return 0;
}

/* Passphrases are not asked for: hookd runs without a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

EVP_PKEY *hookd_jws_load_key(const char *pem_path, char *err, size_t errlen)
{
    FILE *f = pem_path != NULL ? fopen(pem_path, "re") : NULL;
    if (f == NULL) {
        errf(err, errlen, "%s: %s", pem_path ? pem_path : "(null)",
             pem_path ? strerror(errno) : "no path");
        return NULL;
    }
    ERR_set_mark();
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
    ERR_pop_to_mark();
    fclose(f);
    if (key == NULL) {
        errf(err, errlen, "%s: no unencrypted PEM private key", pem_path);
        return NULL;
    }
    if (key_alg(key) == 0) {
        if (EVP_PKEY_is_a(key, "RSA"))
            errf(err, errlen, "%s: RSA key of %d bits (%d to %d allowed)", pem_path,
                 EVP_PKEY_get_bits(key), MIN_RSA_BITS, MAX_RSA_BITS);
        else if (EVP_PKEY_is_a(key, "EC"))
            errf(err, errlen, "%s: EC key on a curve other than P-256", pem_path);
        else
            errf(err, errlen, "%s: %s key (RSA or EC P-256 allowed)", pem_path,
                 EVP_PKEY_get0_type_name(key));
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

/* The DER signature OpenSSL gives to RFC 7518 §3.4 r||s, 32 bytes each. */
static int es256_raw(const unsigned char *der, size_t n, unsigned char rs[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)n);
    const BIGNUM *r = NULL, *sv = NULL;
    if (s != NULL)
        ECDSA_SIG_get0(s, &r, &sv);
    int ok = s != NULL && BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(sv, rs + 32, 32) == 32;
    ECDSA_SIG_free(s);
    return ok ? 0 : -1;
}

int hookd_jws_sign(EVP_PKEY *key, const char *kid, int64_t ts, const char *body,
                   size_t body_len, char *out, size_t outlen)
{
    int alg = key != NULL ? key_alg(key) : 0;
    if (alg == 0 || out == NULL || (kid != NULL && strlen(kid) > HOOKD_JWKS_MAX_KID))
        return -1;
    if (body == NULL)
        body = "", body_len = 0;
    json_t *h = json_pack("{s:s, s:b, s:[s], s:I}", "alg",
                          alg == HOOKD_JWS_ES256 ? "ES256" : "RS256", "b64", 0, "crit", "b64",
                          "ts", (json_int_t)ts);
    if (h != NULL && kid != NULL && kid[0] != '\0' &&
        json_object_set_new(h, "kid", json_string(kid)) != 0) {
        json_decref(h);
        h = NULL;
    }
    char hdr[1024];
    size_t hl = h != NULL ? json_dumpb(h, hdr, sizeof hdr, JSON_COMPACT | JSON_PRESERVE_ORDER)
                          : 0;
    json_decref(h);
    if (hl == 0 || hl > sizeof hdr)
        return -1;
    int pn = b64url_encode((const unsigned char *)hdr, hl, out, outlen);
    if (pn < 0)
        return -1;

    unsigned char sig[MAX_SIG], rs[64];
    size_t sl = sizeof sig;
    const EVP_MD *md = sha256();
    EVP_MD_CTX *c = md ? EVP_MD_CTX_new() : NULL;
    ERR_set_mark();
    int ok = c != NULL && EVP_DigestSignInit(c, NULL, md, NULL, key) == 1 &&
             EVP_DigestSignUpdate(c, out, (size_t)pn) == 1 &&
             EVP_DigestSignUpdate(c, ".", 1) == 1 &&
             EVP_DigestSignUpdate(c, body, body_len) == 1 &&
             EVP_DigestSignFinal(c, sig, &sl) == 1;
    ERR_pop_to_mark();
    EVP_MD_CTX_free(c);
    const unsigned char *s = sig;
    if (ok && alg == HOOKD_JWS_ES256) {
        ok = es256_raw(sig, sl, rs) == 0;
        s = rs;
        sl = sizeof rs;
    }
    if (!ok || (size_t)pn + 2 >= outlen)
        return -1;
    memcpy(out + pn, "..", 3);
    int sn = b64url_encode(s, sl, out + pn + 2, outlen - (size_t)pn - 2);
    return sn < 0 ? -1 : pn + 2 + sn;
}

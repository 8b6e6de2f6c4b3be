/* jws: Constant Contact v3 signatures (docs/DESIGN.md §10) — a compact JWS with a
 * detached, unencoded payload (RFC 7515 + RFC 7797) in X-CTCT-WEBHOOK-SIG,
 * checked against a JSON Web Key Set. Pure functions: no I/O, no threads;
 * the key set's fetching and keeping live in jwks_fetch.c.
 *
 * Why by hand on OpenSSL and jansson: Debian 12's libjose (latchset/jose
 * 11) does not implement RFC 7797 ("b64": false), so it would verify a
 * base64url-encoded payload that Constant Contact never signs. */
#ifndef HOOKD_JWS_H
#define HOOKD_JWS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define HOOKD_JWS_HEADER "X-CTCT-WEBHOOK-SIG"

#define HOOKD_JWKS_MAX_BYTES (256 * 1024) /* a key set document */
#define HOOKD_JWKS_MAX_KEYS 64            /* usable keys in one set */
#define HOOKD_JWKS_MAX_KID 128            /* bytes of a kid */
#define HOOKD_JWS_MAX_TRIES 8             /* keys tried when the header has no kid */

typedef enum { HOOKD_JWK_RSA = 1, HOOKD_JWK_EC_P256 = 2 } hookd_jwk_type;

typedef enum {
    HOOKD_JWS_RS256 = 1,
    HOOKD_JWS_PS256 = 2,
    HOOKD_JWS_ES256 = 3
} hookd_jws_alg;

typedef struct hookd_jwk {
    char kid[HOOKD_JWKS_MAX_KID + 1]; /* "" when the key has none */
    hookd_jwk_type type;
    int alg;        /* the key's own "alg" as hookd_jws_alg, 0 when absent */
    EVP_PKEY *pkey; /* public key, owned */
} hookd_jwk;

/* An immutable, reference-counted key set: safe to read from any thread
 * while a holder keeps a reference. */
typedef struct hookd_jwks {
    atomic_int refs;
    size_t nkeys;
    hookd_jwk keys[]; /* nkeys of them */
} hookd_jwks;

/* Parses a JWKS document ({"keys":[...]}). Keys it cannot use are skipped
 * (kty other than RSA and EC, crv other than P-256, "use" other than
 * "sig"); a set is refused as a whole when it is not valid JSON, larger
 * than HOOKD_JWKS_MAX_BYTES, has no "keys" array, holds a usable key
 * that is malformed (bad base64url, an RSA modulus under 2048 or over 8192
 * bits, an even or tiny exponent, an EC point not on the curve), two keys
 * with one kid, more than HOOKD_JWKS_MAX_KEYS usable keys, or no usable
 * key at all. On success *out holds one reference and 0 is returned; on
 * refusal -1 and one line in err saying why (never key material). */
int hookd_jwks_parse(const char *json, size_t len, hookd_jwks **out, char *err,
                     size_t errlen);

hookd_jwks *hookd_jwks_ref(hookd_jwks *ks);
void hookd_jwks_unref(hookd_jwks *ks); /* NULL is ignored */

/* Results: the HOOKD_VERIFY_* codes of verify.h (0 ok, -1 missing, -2
 * malformed, -3 mismatch, -4 expired). *check names the failed check in
 * the words of docs/DESIGN.md §10: "X-CTCT-WEBHOOK-SIG header missing",
 * "malformed JWS", "unsupported alg", "b64 must be false", "unknown crit",
 * "keys in the header are refused", "timestamp outside tolerance",
 * "unknown key", "signature mismatch".
 *
 * `sig` is the header value (may be NULL: missing). The compact form must
 * be BASE64URL(protected) ".." BASE64URL(signature): a non-empty middle
 * part is malformed. The protected header must be a JSON object with alg
 * in {RS256, PS256, ES256}, b64 exactly false, crit an array naming "b64"
 * and nothing else, ts an integer within tolerance_s of now_s either way
 * (checked before any public-key work: it is cheap), no jwk/jku/x5u/x5c/
 * x5t; kid optional (a string). A ts missing or not an integer is
 * malformed ("ts missing or not an integer"). With a kid, only the key of that kid is
 * tried (its type must fit alg: RSA for RS/PS, EC P-256 for ES); without,
 * each fitting key in turn, at most HOOKD_JWS_MAX_TRIES. An ES256
 * signature is the raw 64-byte r||s (RFC 7518 §3.4), not DER.
 * *unknown_kid (may be NULL) is set to 1 when the header names a kid that
 * the set does not hold: the caller may re-read the key set early. */
int hookd_jws_verify(const hookd_jwks *ks, const char *sig, const char *body,
                     size_t body_len, int64_t now_s, int64_t tolerance_s,
                     const char **check, int *unknown_kid);

/* The signer for `hookd sign` and `hookd send`: a private key from a PEM
 * file (RSA signs RS256, EC P-256 signs ES256). Returns the key or NULL
 * with one line in err. */
EVP_PKEY *hookd_jws_load_key(const char *pem_path, char *err, size_t errlen);

/* Writes the header value (no name, no newline) for body signed with key
 * at timestamp ts, with "kid" when kid is non-NULL and non-empty, NUL
 * terminated. Returns its length, or -1 (unsupported key, out too small). */
int hookd_jws_sign(EVP_PKEY *key, const char *kid, int64_t ts, const char *body,
                   size_t body_len, char *out, size_t outlen);

#endif

/* Signature verification (docs/DESIGN.md §4 "Verification schemes") and the
 * constant-time Basic credential check. Every MAC comparison is constant-time;
 * nothing here logs or returns an expected value. */
#ifndef HOOKD_VERIFY_H
#define HOOKD_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Gives the value of a request header (case-insensitive name), or NULL. */
typedef const char *(*hookd_header_fn)(void *ctx, const char *name);

/* Outcomes: 0 = verified; negative = refused, and *check names the failed
 * check in a few words fit for the 401 body and the log, e.g.
 * "x-ctct-hmac-sha256 header missing", "signature mismatch",
 * "timestamp outside tolerance", "malformed Stripe-Signature header". */
#define HOOKD_VERIFY_OK 0
#define HOOKD_VERIFY_MISSING (-1)   /* header absent */
#define HOOKD_VERIFY_MALFORMED (-2) /* header present but unparsable */
#define HOOKD_VERIFY_MISMATCH (-3)  /* well formed, no secret matches */
#define HOOKD_VERIFY_EXPIRED (-4)   /* timestamp outside tolerance */
#define HOOKD_VERIFY_NO_KEYS (-5)   /* ctct-jws: no key set read yet (answer 503, not 401) */

/* The hookd_verify_failures_total reason (HOOKD_MR_*) of an outcome. */
int hookd_verify_metrics_reason(int verify_rc);

/* `now_s`: Unix time in seconds (tests pass a fixed clock). */
int hookd_verify(const hookd_verify_cfg *v, const char *body, size_t body_len,
                 hookd_header_fn header, void *ctx, int64_t now_s,
                 const char **check);

/* A source's verification: its one scheme, or, for a source listing
 * several (a migration, docs/DESIGN.md §10), every scheme whose signature header
 * the request carries must pass, and it must carry at least one. */
int hookd_verify_source(const hookd_source_cfg *src, const char *body, size_t body_len,
                        hookd_header_fn header, void *ctx, int64_t now_s,
                        const char **check);

/* The header that carries a scheme's signature ("X-CTCT-WEBHOOK-SIG", ...;
 * the configured one for hmac; NULL for none). */
const char *hookd_scheme_header(const hookd_verify_cfg *v);

/* Checks an "Authorization: Basic ..." value against user and password in
 * constant time; the decoded pair is split on its first ':' only.
 * Returns 0 when they match, -1 otherwise (absent, malformed or wrong). */
int hookd_basic_check(const char *authorization, const char *user,
                      const char *pass);

/* What a sender would add: writes header lines "Name: value\n" for the
 * scheme into out (NUL-terminated). `id` and `ts` are used by the schemes
 * that sign them (stripe: ts; standard-webhooks: id and ts); the first
 * secret signs. Returns the length written or a negative value on error
 * (unknown scheme, bad secret encoding, out too small). */
int hookd_sign(const hookd_verify_cfg *v, const char *body, size_t body_len,
               const char *id, int64_t ts, char *out, size_t outlen);

/* The generic hmac scheme's default header name when hookd signs. */
#define HOOKD_HMAC_DEFAULT_HEADER "X-Hookd-Signature"

/* The generic hmac scheme as hookd signs it (hookd sign, hookd send, the
 * plugins' signer): the one place its settings and their defaults are made.
 * Sets v's scheme, header, algorithm, encoding and prefix (secrets
 * untouched) from the given options; NULL takes the default: header
 * HOOKD_HMAC_DEFAULT_HEADER, sha256, hex, no prefix ("" is no prefix too):
 * what a source with `scheme: hmac` and only its header named verifies.
 * v points at the given strings. 0, or -1 with one line in err: a header
 * that is not a header name, an algorithm other than sha256|sha512, an
 * encoding other than hex|base64. */
int hookd_hmac_settings(hookd_verify_cfg *v, const char *header, const char *algorithm,
                        const char *encoding, const char *prefix, char *err, size_t errlen);

/* The plugins' signer (hookd_api.sign): hookd_sign by scheme name with one
 * secret, so hookd signs exactly what it would accept; hmac signs with the
 * defaults of hookd_hmac_settings ("X-Hookd-Signature: <hex>"). Returns the
 * length written or HOOKD_EINVAL (-22). */
int hookd_sign_named(const char *scheme, const char *secret, const char *body,
                     size_t body_len, const char *id, int64_t ts, char *out,
                     size_t outlen);

/* Scheme name <-> enum ("ctct-jws", "ctct-hmac-sha256", "github", "stripe",
 * "standard-webhooks", "hmac", "none"). from_name returns -1 if unknown. */
int hookd_scheme_from_name(const char *name);
const char *hookd_scheme_name(hookd_scheme s);

#endif

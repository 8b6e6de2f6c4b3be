/* verify: webhook signature schemes (docs/DESIGN.md §4) and the Basic credential check. */
#include "verify.h"

#include "base/base64.h"
#include "base/metrics.h"
#include "jwks_fetch.h"
#include "jws.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define MAX_HEADER 4096     /* longer header values are refused, not parsed */
#define MAX_SIGS 16         /* signatures looked at per header */
#define MAX_KEY 1024        /* decoded standard-webhooks secret */
#define MAX_BASIC 1024      /* decoded user:password */
#define MAX_MD 64           /* SHA-512 */
#define DEFAULT_TOLERANCE_S 300

typedef struct {
    const void *p;
    size_t n;
} part;

typedef struct {
    unsigned char b[MAX_MD];
    size_t n;
} sigbuf;

static const char *const scheme_names[] = {
    [HOOKD_SCHEME_NONE] = "none",
    [HOOKD_SCHEME_CTCT] = "ctct-hmac-sha256",
    [HOOKD_SCHEME_GITHUB] = "github",
    [HOOKD_SCHEME_STRIPE] = "stripe",
    [HOOKD_SCHEME_STDWH] = "standard-webhooks",
    [HOOKD_SCHEME_HMAC] = "hmac",
    [HOOKD_SCHEME_JWS] = "ctct-jws",
};
#define NSCHEMES (sizeof scheme_names / sizeof scheme_names[0])

int hookd_scheme_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < NSCHEMES; i++)
        if (strcmp(name, scheme_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *hookd_scheme_name(hookd_scheme s)
{
    if ((unsigned)s >= NSCHEMES)
        return "unknown";
    return scheme_names[s];
}

/* ---- encodings ------------------------------------------------------- */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_ws((*s)[*n - 1]))
        (*n)--;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly `want` bytes from 2*want hex digits; -1 otherwise. */
static int hex_decode(const char *s, size_t n, unsigned char *out, size_t want)
{
    if (n != 2 * want)
        return -1;
    for (size_t i = 0; i < want; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Exactly `want` bytes from base64; -1 otherwise. */
static int b64_decode_exact(const char *s, size_t n, unsigned char *out, size_t want)
{
    unsigned char tmp[MAX_MD + 3];
    if (n != (want + 2) / 3 * 4)
        return -1;
    int r = hookd_b64_decode(s, n, tmp, sizeof tmp);
    if (r != (int)want)
        return -1;
    memcpy(out, tmp, want);
    return 0;
}

static int b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    if ((n + 2) / 3 * 4 + 1 > cap)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* ---- MACs ------------------------------------------------------------ */

static const char *md_name(const hookd_verify_cfg *v)
{
    if (v->scheme == HOOKD_SCHEME_HMAC && v->algorithm == HOOKD_ALG_SHA512)
        return "SHA512";
    return "SHA256";
}

static size_t md_size(const char *mdname)
{
    return strcmp(mdname, "SHA512") == 0 ? 64 : 32;
}

/* OpenSSL 3 looks an algorithm up (global locks, a property query) on every
 * implicit fetch, and a fresh context costs a dozen allocations: at one HMAC
 * and four digests per request that was a fifth of the receive path. So the
 * algorithms are fetched once, and each thread keeps its contexts: keyed HMAC
 * contexts (re-initialised with the key they hold, which OpenSSL allows with
 * a NULL key) and one digest context. A thread's are freed when it exits. */
static EVP_MAC *hmac_alg;
static EVP_MD *sha256_md;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static int tls_key_ok;

#define MAC_SLOTS 8        /* keyed contexts per thread: secrets in use at once */
typedef struct mac_slot {
    char md[8];
    unsigned char key[MAX_KEY];
    size_t keylen;
    EVP_MAC_CTX *ctx;
} mac_slot;
typedef struct thread_ctx {
    mac_slot mac[MAC_SLOTS];
    unsigned next;        /* the slot to reuse when all are taken */
    EVP_MD_CTX *md;
} thread_ctx;

static void thread_ctx_free(void *p)
{
    thread_ctx *t = p;
    for (int i = 0; i < MAC_SLOTS; i++)
        EVP_MAC_CTX_free(t->mac[i].ctx);
    EVP_MD_CTX_free(t->md);
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
}

static void fetch_algs(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    tls_key_ok = pthread_key_create(&tls_key, thread_ctx_free) == 0;
}

/* This thread's contexts; NULL when out of memory (callers then make
 * throwaway ones). */
static thread_ctx *thread_ctxs(void)
{
    pthread_once(&fetch_once, fetch_algs);
    if (!tls_key_ok)
        return NULL;
    thread_ctx *t = pthread_getspecific(tls_key);
    if (t == NULL && (t = calloc(1, sizeof *t)) != NULL && pthread_setspecific(tls_key, t) != 0) {
        free(t);
        t = NULL;
    }
    return t;
}

static EVP_MAC_CTX *keyed_ctx(const char *mdname, const unsigned char *key, size_t keylen)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)mdname, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *c = hmac_alg != NULL ? EVP_MAC_CTX_new(hmac_alg) : NULL;
    if (c != NULL && EVP_MAC_init(c, key, keylen, params) != 1) {
        EVP_MAC_CTX_free(c);
        c = NULL;
    }
    return c;
}

/* A context of this thread holding the key, ready for updates; *own is set
 * when the caller must free it (not kept). */
static EVP_MAC_CTX *mac_ctx(const char *mdname, const unsigned char *key, size_t keylen,
                            int *own)
{
    thread_ctx *t = thread_ctxs();
    *own = 0;
    if (t == NULL || keylen > MAX_KEY || strlen(mdname) >= sizeof t->mac[0].md) {
        *own = 1;
        return keyed_ctx(mdname, key, keylen);
    }
    for (int i = 0; i < MAC_SLOTS; i++) {
        mac_slot *m = &t->mac[i];
        if (m->ctx != NULL && m->keylen == keylen && strcmp(m->md, mdname) == 0 &&
            CRYPTO_memcmp(m->key, key, keylen) == 0)
            return EVP_MAC_init(m->ctx, NULL, 0, NULL) == 1 ? m->ctx : NULL;
    }
    mac_slot *m = &t->mac[t->next++ % MAC_SLOTS];
    EVP_MAC_CTX_free(m->ctx);
    if ((m->ctx = keyed_ctx(mdname, key, keylen)) == NULL)
        return NULL;
    snprintf(m->md, sizeof m->md, "%s", mdname);
    memcpy(m->key, key, keylen);
    m->keylen = keylen;
    return m->ctx;
}

/* HMAC over the concatenation of parts, without copying the body. */
static int hmac(const char *mdname, const unsigned char *key, size_t keylen,
                const part *parts, size_t nparts, unsigned char *out, size_t *outlen)
{
    int own;
    EVP_MAC_CTX *c = mac_ctx(mdname, key, keylen, &own);
    int ok = c != NULL;
    for (size_t i = 0; ok && i < nparts; i++)
        ok = EVP_MAC_update(c, parts[i].p, parts[i].n) == 1;
    ok = ok && EVP_MAC_final(c, out, outlen, MAX_MD) == 1;
    if (own)
        EVP_MAC_CTX_free(c);
    return ok ? 0 : -1;
}

/* SHA-256 with this thread's digest context. */
static int sha256(const void *p, size_t n, unsigned char out[32])
{
    thread_ctx *t = thread_ctxs();
    if (sha256_md == NULL)
        return -1;
    if (t == NULL)
        return EVP_Digest(p, n, out, NULL, sha256_md, NULL) == 1 ? 0 : -1;
    if (t->md == NULL && (t->md = EVP_MD_CTX_new()) == NULL)
        return -1;
    return EVP_DigestInit_ex2(t->md, sha256_md, NULL) == 1 &&
                   EVP_DigestUpdate(t->md, p, n) == 1 &&
                   EVP_DigestFinal_ex(t->md, out, NULL) == 1
               ? 0
               : -1;
}

/* The HMAC key of one secret: its bytes, except for standard-webhooks where
 * it is the base64 after an optional "whsec_". Empty keys are refused: a
 * MAC anyone can compute proves nothing. */
static int secret_key(const hookd_verify_cfg *v, const char *secret,
                      unsigned char kbuf[MAX_KEY], const unsigned char **key, size_t *keylen)
{
    if (secret == NULL)
        return -1;
    size_t n = strlen(secret);
    if (v->scheme == HOOKD_SCHEME_STDWH) {
        if (strncmp(secret, "whsec_", 6) == 0) {
            secret += 6;
            n -= 6;
        }
        int r = hookd_b64_decode(secret, n, kbuf, MAX_KEY);
        if (r <= 0)
            return -1;
        *key = kbuf;
        *keylen = (size_t)r;
        return 0;
    }
    if (n == 0)
        return -1;
    *key = (const unsigned char *)secret;
    *keylen = n;
    return 0;
}

/* Whether any secret's MAC equals any candidate. Every pair is compared,
 * without early exit, so timing does not tell which one matched. */
static int verify_macs(const hookd_verify_cfg *v, const part *parts, size_t nparts,
                       const sigbuf *sigs, size_t nsigs, const char **check)
{
    const char *mdname = md_name(v);
    int matched = 0, usable = 0;
    for (size_t i = 0; i < v->nsecrets; i++) {
        unsigned char kbuf[MAX_KEY], mac[MAX_MD];
        const unsigned char *key;
        size_t keylen, maclen = 0;
        if (secret_key(v, v->secrets[i], kbuf, &key, &keylen) == 0 &&
            hmac(mdname, key, keylen, parts, nparts, mac, &maclen) == 0) {
            usable = 1;
            for (size_t j = 0; j < nsigs; j++)
                if (sigs[j].n == maclen)
                    matched |= CRYPTO_memcmp(mac, sigs[j].b, maclen) == 0;
        }
        OPENSSL_cleanse(kbuf, sizeof kbuf);
        OPENSSL_cleanse(mac, sizeof mac);
    }
    if (!usable) {
        *check = "no usable secret configured";
        return HOOKD_VERIFY_MISMATCH;
    }
    if (!matched) {
        *check = "signature mismatch";
        return HOOKD_VERIFY_MISMATCH;
    }
    *check = "ok";
    return HOOKD_VERIFY_OK;
}

/* ---- header parsing -------------------------------------------------- */

/* Fetches and trims a header; refuses absent and oversized values. */
static int get_header(hookd_header_fn header, void *ctx, const char *name,
                      const char *missing, const char *malformed,
                      const char **val, size_t *len, const char **check)
{
    const char *s = header != NULL ? header(ctx, name) : NULL;
    if (s == NULL) {
        *check = missing;
        return HOOKD_VERIFY_MISSING;
    }
    size_t n = strnlen(s, MAX_HEADER + 1);
    if (n > MAX_HEADER) {
        *check = malformed;
        return HOOKD_VERIFY_MALFORMED;
    }
    trim(&s, &n);
    if (n == 0) {
        *check = malformed;
        return HOOKD_VERIFY_MALFORMED;
    }
    *val = s;
    *len = n;
    return HOOKD_VERIFY_OK;
}

/* Unix seconds: 1 to 15 digits, nothing else (no sign, no space). */
static int parse_ts(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 15)
        return -1;
    int64_t t = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        t = t * 10 + (s[i] - '0');
    }
    *out = t;
    return 0;
}

static int within_tolerance(const hookd_verify_cfg *v, int64_t t, int64_t now_s)
{
    uint64_t tol = v->tolerance_ms > 0 ? (uint64_t)v->tolerance_ms / 1000 : DEFAULT_TOLERANCE_S;
    /* Unsigned difference of two int64 values is exact and cannot overflow. */
    uint64_t d = t > now_s ? (uint64_t)t - (uint64_t)now_s : (uint64_t)now_s - (uint64_t)t;
    return d <= tol;
}

/* Next token of s[*pos..n) ending at `sep`, trimmed. 0 when none is left. */
static int next_item(const char *s, size_t n, size_t *pos, char sep,
                     const char **item, size_t *len)
{
    while (*pos < n && (s[*pos] == sep || is_ws(s[*pos])))
        (*pos)++;
    if (*pos >= n)
        return 0;
    size_t start = *pos;
    while (*pos < n && s[*pos] != sep)
        (*pos)++;
    *item = s + start;
    *len = *pos - start;
    trim(item, len);
    return 1;
}

/* ---- schemes --------------------------------------------------------- */

static int verify_single(const hookd_verify_cfg *v, const char *name, const char *prefix,
                         int allow_hex, int allow_b64, const char *missing,
                         const char *malformed, const char *body, size_t body_len,
                         hookd_header_fn header, void *ctx, const char **check)
{
    const char *s;
    size_t n, want = md_size(md_name(v));
    int rc = get_header(header, ctx, name, missing, malformed, &s, &n, check);
    if (rc != HOOKD_VERIFY_OK)
        return rc;
    size_t plen = prefix != NULL ? strlen(prefix) : 0;
    if (n < plen || (plen > 0 && memcmp(s, prefix, plen) != 0)) {
        *check = malformed;
        return HOOKD_VERIFY_MALFORMED;
    }
    s += plen;
    n -= plen;
    sigbuf sig = {.n = want};
    if (!(allow_hex && hex_decode(s, n, sig.b, want) == 0) &&
        !(allow_b64 && b64_decode_exact(s, n, sig.b, want) == 0)) {
        *check = malformed;
        return HOOKD_VERIFY_MALFORMED;
    }
    part p = {body, body_len};
    return verify_macs(v, &p, 1, &sig, 1, check);
}

static int verify_stripe(const hookd_verify_cfg *v, const char *body, size_t body_len,
                         hookd_header_fn header, void *ctx, int64_t now_s,
                         const char **check)
{
    static const char malformed[] = "Stripe-Signature header malformed";
    const char *s, *item, *ts = NULL;
    size_t n, len, tslen = 0, pos = 0, nsigs = 0, nitems = 0;
    sigbuf sigs[MAX_SIGS];
    int64_t t;
    int rc = get_header(header, ctx, "Stripe-Signature", "Stripe-Signature header missing",
                        malformed, &s, &n, check);
    if (rc != HOOKD_VERIFY_OK)
        return rc;
    while (next_item(s, n, &pos, ',', &item, &len)) {
        if (++nitems > 4 * MAX_SIGS)
            goto bad;
        if (len >= 2 && memcmp(item, "t=", 2) == 0) {
            if (ts != NULL)
                goto bad;
            ts = item + 2;
            tslen = len - 2;
        } else if (len >= 3 && memcmp(item, "v1=", 3) == 0) {
            if (nsigs == MAX_SIGS || hex_decode(item + 3, len - 3, sigs[nsigs].b, 32) != 0)
                goto bad;
            sigs[nsigs++].n = 32;
        }
        /* v0 (test mode) and unknown keys are ignored, as Stripe's libraries do. */
    }
    if (ts == NULL || parse_ts(ts, tslen, &t) != 0)
        goto bad;
    if (nsigs == 0) {
        *check = "Stripe-Signature has no v1 signature";
        return HOOKD_VERIFY_MISMATCH;
    }
    part p[] = {{ts, tslen}, {".", 1}, {body, body_len}};
    rc = verify_macs(v, p, 3, sigs, nsigs, check);
    /* Signature first: "outside tolerance" then only ever names an authentic
     * but stale delivery (a replay), not a forgery. */
    if (rc == HOOKD_VERIFY_OK && !within_tolerance(v, t, now_s)) {
        *check = "timestamp outside tolerance";
        return HOOKD_VERIFY_EXPIRED;
    }
    return rc;
bad:
    *check = malformed;
    return HOOKD_VERIFY_MALFORMED;
}

static int verify_stdwh(const hookd_verify_cfg *v, const char *body, size_t body_len,
                        hookd_header_fn header, void *ctx, int64_t now_s,
                        const char **check)
{
    const char *id, *ts, *s, *item;
    size_t idlen, tslen, n, len, pos = 0, nsigs = 0, nitems = 0;
    sigbuf sigs[MAX_SIGS];
    int64_t t;
    int rc = get_header(header, ctx, "webhook-id", "webhook-id header missing",
                        "webhook-id header malformed", &id, &idlen, check);
    if (rc == HOOKD_VERIFY_OK)
        rc = get_header(header, ctx, "webhook-timestamp", "webhook-timestamp header missing",
                        "webhook-timestamp header malformed", &ts, &tslen, check);
    if (rc == HOOKD_VERIFY_OK)
        rc = get_header(header, ctx, "webhook-signature", "webhook-signature header missing",
                        "webhook-signature header malformed", &s, &n, check);
    if (rc != HOOKD_VERIFY_OK)
        return rc;
    if (parse_ts(ts, tslen, &t) != 0) {
        *check = "webhook-timestamp header malformed";
        return HOOKD_VERIFY_MALFORMED;
    }
    while (next_item(s, n, &pos, ' ', &item, &len)) {
        if (++nitems > 4 * MAX_SIGS)
            goto bad;
        const char *comma = memchr(item, ',', len);
        if (comma == NULL)
            goto bad;
        size_t vlen = (size_t)(comma - item);
        if (vlen != 2 || memcmp(item, "v1", 2) != 0)
            continue; /* other versions (v1a: asymmetric) are not ours */
        if (nsigs == MAX_SIGS || b64_decode_exact(comma + 1, len - 3, sigs[nsigs].b, 32) != 0)
            goto bad;
        sigs[nsigs++].n = 32;
    }
    if (nsigs == 0) {
        *check = "webhook-signature has no v1 signature";
        return HOOKD_VERIFY_MISMATCH;
    }
    part p[] = {{id, idlen}, {".", 1}, {ts, tslen}, {".", 1}, {body, body_len}};
    rc = verify_macs(v, p, 5, sigs, nsigs, check);
    if (rc == HOOKD_VERIFY_OK && !within_tolerance(v, t, now_s)) {
        *check = "timestamp outside tolerance";
        return HOOKD_VERIFY_EXPIRED;
    }
    return rc;
bad:
    *check = "webhook-signature header malformed";
    return HOOKD_VERIFY_MALFORMED;
}

/* ctct-jws: the current key set, held by reference for this one check. */
static int verify_jws(const hookd_verify_cfg *v, const char *body, size_t body_len,
                      hookd_header_fn header, void *ctx, int64_t now_s, const char **check)
{
    const char *sig = header != NULL ? header(ctx, HOOKD_JWS_HEADER) : NULL;
    if (sig == NULL) {
        *check = "X-CTCT-WEBHOOK-SIG header missing";
        return HOOKD_VERIFY_MISSING;
    }
    hookd_jwks *ks = hookd_keyset_get(v->keys);
    if (ks == NULL) {
        *check = "no key set read yet";
        return HOOKD_VERIFY_NO_KEYS;
    }
    int unknown = 0;
    int64_t tol = v->tolerance_ms > 0 ? v->tolerance_ms / 1000 : DEFAULT_TOLERANCE_S;
    int rc = hookd_jws_verify(ks, sig, body, body_len, now_s, tol, check, &unknown);
    hookd_jwks_unref(ks);
    if (unknown)
        hookd_keyset_unknown_kid(v->keys);
    return rc;
}

const char *hookd_scheme_header(const hookd_verify_cfg *v)
{
    switch (v->scheme) {
    case HOOKD_SCHEME_CTCT: return "x-ctct-hmac-sha256";
    case HOOKD_SCHEME_GITHUB: return "X-Hub-Signature-256";
    case HOOKD_SCHEME_STRIPE: return "Stripe-Signature";
    case HOOKD_SCHEME_STDWH: return "webhook-signature";
    case HOOKD_SCHEME_HMAC: return v->header;
    case HOOKD_SCHEME_JWS: return HOOKD_JWS_HEADER;
    case HOOKD_SCHEME_NONE: break;
    }
    return NULL;
}

int hookd_verify_source(const hookd_source_cfg *src, const char *body, size_t body_len,
                        hookd_header_fn header, void *ctx, int64_t now_s, const char **check)
{
    const char *unused;
    if (check == NULL)
        check = &unused;
    if (src->nverify <= 1)
        return hookd_verify(&src->verify[0], body, body_len, header, ctx, now_s, check);
    int carried = 0;
    for (size_t i = 0; i < src->nverify; i++) {
        const char *h = hookd_scheme_header(&src->verify[i]);
        if (h == NULL || header == NULL || header(ctx, h) == NULL)
            continue;
        carried = 1;
        int rc = hookd_verify(&src->verify[i], body, body_len, header, ctx, now_s, check);
        if (rc != HOOKD_VERIFY_OK)
            return rc;
    }
    if (!carried) {
        *check = "no signature header of any configured scheme";
        return HOOKD_VERIFY_MISSING;
    }
    return HOOKD_VERIFY_OK;
}

int hookd_verify(const hookd_verify_cfg *v, const char *body, size_t body_len,
                 hookd_header_fn header, void *ctx, int64_t now_s,
                 const char **check)
{
    const char *unused;
    if (check == NULL)
        check = &unused;
    if (body == NULL)
        body = "";
    if (v == NULL) {
        *check = "verification not configured";
        return HOOKD_VERIFY_MALFORMED;
    }
    if (v->scheme != HOOKD_SCHEME_NONE && v->scheme != HOOKD_SCHEME_JWS &&
        (v->nsecrets == 0 || v->secrets == NULL)) {
        *check = "no usable secret configured";
        return HOOKD_VERIFY_MISMATCH;
    }
    switch (v->scheme) {
    case HOOKD_SCHEME_NONE:
        *check = "ok";
        return HOOKD_VERIFY_OK;
    case HOOKD_SCHEME_CTCT:
        /* 44-char base64 as documented, or the 64-char hex one SDK sent. */
        return verify_single(v, "x-ctct-hmac-sha256", NULL, 1, 1,
                             "x-ctct-hmac-sha256 header missing",
                             "x-ctct-hmac-sha256 header malformed", body, body_len,
                             header, ctx, check);
    case HOOKD_SCHEME_GITHUB:
        return verify_single(v, "X-Hub-Signature-256", "sha256=", 1, 0,
                             "X-Hub-Signature-256 header missing",
                             "X-Hub-Signature-256 header malformed", body, body_len,
                             header, ctx, check);
    case HOOKD_SCHEME_STRIPE:
        return verify_stripe(v, body, body_len, header, ctx, now_s, check);
    case HOOKD_SCHEME_STDWH:
        return verify_stdwh(v, body, body_len, header, ctx, now_s, check);
    case HOOKD_SCHEME_JWS:
        return verify_jws(v, body, body_len, header, ctx, now_s, check);
    case HOOKD_SCHEME_HMAC:
        if (v->header == NULL || v->header[0] == '\0') {
            *check = "signature header not configured";
            return HOOKD_VERIFY_MALFORMED;
        }
        /* The configured name cannot go into a static string: say "signature". */
        return verify_single(v, v->header, v->prefix, v->encoding == HOOKD_ENC_HEX,
                             v->encoding == HOOKD_ENC_BASE64, "signature header missing",
                             "signature header malformed", body, body_len, header, ctx,
                             check);
    }
    *check = "unknown verification scheme";
    return HOOKD_VERIFY_MALFORMED;
}

/* ---- Basic ----------------------------------------------------------- */

int hookd_basic_check(const char *authorization, const char *user, const char *pass)
{
    if (authorization == NULL || user == NULL || pass == NULL)
        return -1;
    const char *s = authorization;
    size_t n = strnlen(s, MAX_HEADER + 1);
    if (n > MAX_HEADER)
        return -1;
    trim(&s, &n);
    if (n < 6 || strncasecmp(s, "basic", 5) != 0 || (s[5] != ' ' && s[5] != '\t'))
        return -1;
    s += 5;
    n -= 5;
    trim(&s, &n);

    unsigned char dec[MAX_BASIC + 3];
    int len = n <= (MAX_BASIC + 2) / 3 * 4 ? hookd_b64_decode(s, n, dec, sizeof dec) : -1;
    if (len < 0 || len > MAX_BASIC)
        return -1;
    const unsigned char *colon = memchr(dec, ':', (size_t)len);
    if (colon == NULL) {
        OPENSSL_cleanse(dec, sizeof dec);
        return -1;
    }
    size_t ulen = (size_t)(colon - dec);

    /* Digests make the comparison fixed-length, so neither a length nor a
     * common prefix shows in the timing; both are checked, always. */
    unsigned char d[4][32];
    int ok = sha256(dec, ulen, d[0]) == 0 &&
             sha256(colon + 1, (size_t)len - ulen - 1, d[1]) == 0 &&
             sha256(user, strlen(user), d[2]) == 0 && sha256(pass, strlen(pass), d[3]) == 0;
    int diff = CRYPTO_memcmp(d[0], d[2], 32) | CRYPTO_memcmp(d[1], d[3], 32);
    OPENSSL_cleanse(dec, sizeof dec);
    OPENSSL_cleanse(d, sizeof d);
    return ok && diff == 0 ? 0 : -1;
}

/* ---- signing (tests, tools) ------------------------------------------ */

int hookd_sign(const hookd_verify_cfg *v, const char *body, size_t body_len,
               const char *id, int64_t ts, char *out, size_t outlen)
{
    if (v == NULL || out == NULL || outlen == 0)
        return -1;
    if (body == NULL)
        body = "";
    out[0] = '\0';
    if (v->scheme == HOOKD_SCHEME_NONE)
        return 0;
    if (v->nsecrets == 0 || v->secrets == NULL)
        return -1;

    unsigned char kbuf[MAX_KEY], mac[MAX_MD];
    const unsigned char *key;
    size_t keylen, maclen = 0;
    char tsbuf[24], enc[2 * MAX_MD + 1];
    int n = -1;
    snprintf(tsbuf, sizeof tsbuf, "%" PRId64, ts);
    part p[5];
    size_t np = 0;
    if (v->scheme == HOOKD_SCHEME_STDWH) {
        if (id == NULL)
            return -1;
        p[np++] = (part){id, strlen(id)};
        p[np++] = (part){".", 1};
    }
    if (v->scheme == HOOKD_SCHEME_STDWH || v->scheme == HOOKD_SCHEME_STRIPE) {
        p[np++] = (part){tsbuf, strlen(tsbuf)};
        p[np++] = (part){".", 1};
    }
    p[np++] = (part){body, body_len};

    if (secret_key(v, v->secrets[0], kbuf, &key, &keylen) != 0 ||
        hmac(md_name(v), key, keylen, p, np, mac, &maclen) != 0)
        goto out;
    int b64 = v->scheme == HOOKD_SCHEME_CTCT || v->scheme == HOOKD_SCHEME_STDWH ||
              (v->scheme == HOOKD_SCHEME_HMAC && v->encoding == HOOKD_ENC_BASE64);
    if (b64)
        b64_encode(mac, maclen, enc, sizeof enc);
    else
        hex_encode(mac, maclen, enc);

    switch (v->scheme) {
    case HOOKD_SCHEME_CTCT:
        n = snprintf(out, outlen, "x-ctct-hmac-sha256: %s\n", enc);
        break;
    case HOOKD_SCHEME_GITHUB:
        n = snprintf(out, outlen, "X-Hub-Signature-256: sha256=%s\n", enc);
        break;
    case HOOKD_SCHEME_STRIPE:
        n = snprintf(out, outlen, "Stripe-Signature: t=%s,v1=%s\n", tsbuf, enc);
        break;
    case HOOKD_SCHEME_STDWH:
        n = snprintf(out, outlen, "webhook-id: %s\nwebhook-timestamp: %s\nwebhook-signature: v1,%s\n",
                     id, tsbuf, enc);
        break;
    case HOOKD_SCHEME_HMAC:
        if (v->header != NULL && v->header[0] != '\0')
            n = snprintf(out, outlen, "%s: %s%s\n", v->header, v->prefix ? v->prefix : "", enc);
        break;
    default:
        break;
    }
    if (n < 0 || (size_t)n >= outlen) {
        n = -1;
        out[0] = '\0';
    }
out:
    OPENSSL_cleanse(kbuf, sizeof kbuf);
    OPENSSL_cleanse(mac, sizeof mac);
    return n;
}

int hookd_sign_named(const char *scheme, const char *secret, const char *body,
                     size_t body_len, const char *id, int64_t ts, char *out,
                     size_t outlen)
{
    int s = scheme ? hookd_scheme_from_name(scheme) : -1;
    if (s < 0 || s == HOOKD_SCHEME_NONE || secret == NULL || *secret == '\0' ||
        out == NULL || outlen == 0)
        return -22;
    char *secrets[1] = {(char *)secret};
    hookd_verify_cfg v = {.scheme = (hookd_scheme)s, .secrets = secrets, .nsecrets = 1};
    if (s == HOOKD_SCHEME_HMAC && hookd_hmac_settings(&v, NULL, NULL, NULL, NULL, NULL, 0) != 0)
        return -22;
    int n = hookd_sign(&v, body, body_len, id, ts, out, outlen);
    return n < 0 ? -22 : n;
}

int hookd_verify_metrics_reason(int rc)
{
    switch (rc) {
    case HOOKD_VERIFY_MISSING: return HOOKD_MR_MISSING;
    case HOOKD_VERIFY_MALFORMED: return HOOKD_MR_MALFORMED;
    case HOOKD_VERIFY_MISMATCH: return HOOKD_MR_MISMATCH;
    case HOOKD_VERIFY_EXPIRED: return HOOKD_MR_EXPIRED;
    case HOOKD_VERIFY_NO_KEYS: return HOOKD_MR_NO_KEYS;
    default: return HOOKD_MR_OTHER;
    }
}

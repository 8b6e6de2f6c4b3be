/* test_verify: signature schemes against the shared vectors, and Basic auth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "verify/verify.h"

/* ---- helpers --------------------------------------------------------- */

#define MAXH 8

typedef struct {
    const char *name[MAXH];
    const char *value[MAXH];
    size_t n;
} hdrs;

static const char *hget(void *ctx, const char *name)
{
    hdrs *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

static void hset(hdrs *h, const char *name, const char *value)
{
    assert_true(h->n < MAXH);
    h->name[h->n] = name;
    h->value[h->n] = value;
    h->n++;
}

static hookd_verify_cfg cfg1(hookd_scheme s, char *secret)
{
    /* A slot per call: configurations made in one test must not share it. */
    static char *pool[64];
    static size_t used;
    char **one = &pool[used++ % 64];
    *one = secret;
    hookd_verify_cfg v = {.scheme = s, .secrets = one, .nsecrets = 1};
    return v;
}

/* Runs verify with one header set; returns the code. */
static int verify1(const hookd_verify_cfg *v, const char *body, const char *name,
                   const char *value, int64_t now)
{
    hdrs h = {0};
    const char *check = NULL;
    if (name != NULL)
        hset(&h, name, value);
    int rc = hookd_verify(v, body, strlen(body), hget, &h, now, &check);
    assert_non_null(check);
    return rc;
}

/* The value of header `name` in hookd_sign output, into a static buffer. */
static const char *signed_value(const char *out, const char *name)
{
    static char val[1024];
    size_t nl = strlen(name);
    for (const char *l = out; *l != '\0';) {
        const char *e = strchr(l, '\n');
        assert_non_null(e);
        if ((size_t)(e - l) > nl + 2 && strncmp(l, name, nl) == 0 && l[nl] == ':' &&
            l[nl + 1] == ' ') {
            size_t n = (size_t)(e - l) - nl - 2;
            assert_true(n < sizeof val);
            memcpy(val, l + nl + 2, n);
            val[n] = '\0';
            return val;
        }
        l = e + 1;
    }
    fail_msg("header %s not in signed output", name);
    return NULL;
}

static char *read_all(const char *dir, const char *file, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static const char *vectors_dir(void)
{
    const char *d = getenv("HOOKD_VECTORS");
    if (d == NULL)
        fail_msg("HOOKD_VECTORS is not set");
    return d;
}

/* ---- the shared vectors ---------------------------------------------- */

static const char CTCT_SECRET[] = "api-secret-key";
static const char CTCT_SIG[] = "VNfTwVDbHBoPqEYqDdM61OqxJdVznRzT4h21+BuwgTg=";
static const char CTCT_HEX[] = "54d7d3c150db1c1a0fa8462a0dd33ad4eab125d5739d1cd3e21db5f81bb08138";

static const char STRIPE_SECRET[] = "whsec_test_secret";
static const char STRIPE_BODY[] = "{\"id\":\"evt_1\",\"object\":\"event\"}";
static const char STRIPE_V1[] = "42b3d2b2181207b6b299df380bf37599bb895dc182467ba12e046b1916c4cd19";
#define STRIPE_T 1614265330

static const char SW_SECRET[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char SW_ID[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char SW_BODY[] = "{\"test\": 2432232314}";
static const char SW_SIG[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
#define SW_T 1614265330

static void test_all_vectors(void **state)
{
    (void)state;
    const char *dir = vectors_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/signatures.json", dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (root == NULL)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    json_t *vecs = json_object_get(root, "vectors");
    assert_true(json_is_array(vecs));
    assert_int_equal(json_array_size(vecs), 6);

    size_t i;
    json_t *vec;
    json_array_foreach(vecs, i, vec) {
        const char *scheme = json_string_value(json_object_get(vec, "scheme"));
        const char *secret = json_string_value(json_object_get(vec, "secret"));
        const char *expected = json_string_value(json_object_get(vec, "expected"));
        assert_non_null(scheme);
        assert_non_null(secret);
        assert_non_null(expected);
        int s = hookd_scheme_from_name(scheme);
        assert_true(s >= 0);

        /* The body: inline, or a file plus an optional suffix. */
        size_t blen;
        char *body;
        json_t *bf = json_object_get(vec, "body_file");
        if (bf != NULL) {
            body = read_all(dir, json_string_value(bf), &blen);
            json_t *nb = json_object_get(vec, "body_bytes");
            if (nb != NULL)
                assert_int_equal(blen, json_integer_value(nb));
            const char *suffix = json_string_value(json_object_get(vec, "body_suffix"));
            if (suffix != NULL) {
                memcpy(body + blen, suffix, strlen(suffix) + 1);
                blen += strlen(suffix);
            }
        } else {
            const char *b = json_string_value(json_object_get(vec, "body"));
            assert_non_null(b);
            body = strdup(b);
            blen = strlen(b);
        }

        char *secrets[1] = {(char *)secret};
        hookd_verify_cfg v = {.scheme = (hookd_scheme)s, .secrets = secrets, .nsecrets = 1};
        hdrs h = {0};
        const char *id = NULL, *check = NULL, *hname;
        int64_t ts = 0, now = 1700000000;
        switch (s) {
        case HOOKD_SCHEME_CTCT:
            hname = "x-ctct-hmac-sha256";
            break;
        case HOOKD_SCHEME_GITHUB:
            hname = "X-Hub-Signature-256";
            break;
        case HOOKD_SCHEME_STRIPE:
            hname = "Stripe-Signature";
            ts = now = strtoll(json_string_value(json_object_get(vec, "t")), NULL, 10);
            break;
        case HOOKD_SCHEME_STDWH:
            hname = "webhook-signature";
            id = json_string_value(json_object_get(vec, "webhook-id"));
            ts = now = strtoll(json_string_value(json_object_get(vec, "webhook-timestamp")),
                               NULL, 10);
            hset(&h, "webhook-id", id);
            hset(&h, "webhook-timestamp",
                 json_string_value(json_object_get(vec, "webhook-timestamp")));
            break;
        default:
            fail_msg("vector %zu: unexpected scheme %s", i, scheme);
            return;
        }
        const char *jh = json_string_value(json_object_get(vec, "header"));
        if (jh != NULL)
            assert_string_equal(jh, hname);
        hset(&h, hname, expected);
        int rc = hookd_verify(&v, body, blen, hget, &h, now, &check);
        if (rc != HOOKD_VERIFY_OK)
            fail_msg("vector %zu (%s): rc %d, %s", i, scheme, rc, check);
        assert_string_equal(check, "ok");

        char out[1024];
        int n = hookd_sign(&v, body, blen, id, ts, out, sizeof out);
        assert_true(n > 0);
        assert_int_equal((size_t)n, strlen(out));
        assert_string_equal(signed_value(out, hname), expected);
        if (s == HOOKD_SCHEME_STDWH) {
            assert_string_equal(signed_value(out, "webhook-id"), id);
            assert_string_equal(signed_value(out, "webhook-timestamp"),
                                json_string_value(json_object_get(vec, "webhook-timestamp")));
        }

        /* The MAC covers the exact bytes: one byte more must fail. */
        body[blen] = ' ';
        assert_int_equal(hookd_verify(&v, body, blen + 1, hget, &h, now, &check),
                         HOOKD_VERIFY_MISMATCH);
        assert_string_equal(check, "signature mismatch");
        free(body);
    }
    json_decref(root);
}

/* ---- ctct -------------------------------------------------------------- */

static char *ctct_body(size_t *len)
{
    return read_all(vectors_dir(), "ctct-sdk-fixture.body", len);
}

static int ctct_verify(const hookd_verify_cfg *v, const char *value)
{
    size_t len;
    char *body = ctct_body(&len);
    hdrs h = {0};
    const char *check = NULL;
    if (value != NULL)
        hset(&h, "X-CTCT-HMAC-SHA256", value); /* header names are case-insensitive */
    int rc = hookd_verify(v, body, len, hget, &h, 0, &check);
    assert_non_null(check);
    /* Never echo what was expected. */
    assert_null(strstr(check, CTCT_SIG));
    assert_null(strstr(check, CTCT_SECRET));
    free(body);
    return rc;
}

static void test_ctct(void **state)
{
    (void)state;
    hookd_verify_cfg v = cfg1(HOOKD_SCHEME_CTCT, (char *)CTCT_SECRET);
    char sig[80];

    assert_int_equal(ctct_verify(&v, CTCT_SIG), HOOKD_VERIFY_OK);
    assert_int_equal(ctct_verify(&v, " \t" "VNfTwVDbHBoPqEYqDdM61OqxJdVznRzT4h21+BuwgTg=" " \t"),
                     HOOKD_VERIFY_OK);
    assert_int_equal(ctct_verify(&v, CTCT_HEX), HOOKD_VERIFY_OK);
    snprintf(sig, sizeof sig, "%s\r\n", CTCT_HEX);
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_OK);
    /* Hex has no case: upper-case digits are the same MAC. */
    for (size_t i = 0; i <= sizeof CTCT_HEX - 1; i++)
        sig[i] = (char)toupper((unsigned char)CTCT_HEX[i]);
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_OK);

    /* One character off, at the start, the middle and in the hex form. */
    strcpy(sig, CTCT_SIG);
    sig[0] = 'W';
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_MISMATCH);
    strcpy(sig, CTCT_SIG);
    sig[20] = sig[20] == 'A' ? 'B' : 'A';
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_MISMATCH);
    strcpy(sig, CTCT_HEX);
    sig[63] = '9';
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_MISMATCH);

    /* Base64 is case-sensitive: a case change is another MAC, never a match. */
    strcpy(sig, CTCT_SIG);
    sig[0] = 'v';
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_MISMATCH);
    for (size_t i = 0; sig[i]; i++)
        sig[i] = (char)tolower((unsigned char)CTCT_SIG[i]);
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_MISMATCH);
    /* All upper case also turns the last digit into a non-canonical one
     * ('g' -> 'G' sets the padding bits): refused before any MAC. */
    for (size_t i = 0; sig[i]; i++)
        sig[i] = (char)toupper((unsigned char)CTCT_SIG[i]);
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_MALFORMED);

    assert_int_equal(ctct_verify(&v, NULL), HOOKD_VERIFY_MISSING);
    assert_int_equal(ctct_verify(&v, ""), HOOKD_VERIFY_MALFORMED);
    assert_int_equal(ctct_verify(&v, "   "), HOOKD_VERIFY_MALFORMED);
    assert_int_equal(ctct_verify(&v, "VNfTwVDbHBoPqEYqDdM61OqxJdVznRzT4h21+BuwgTg"),
                     HOOKD_VERIFY_MALFORMED); /* padding dropped */
    assert_int_equal(ctct_verify(&v, "VNfTwVDbHBoPqEYqDdM6 OqxJdVznRzT4h21+BuwgTg="),
                     HOOKD_VERIFY_MALFORMED); /* space inside */
    assert_int_equal(ctct_verify(&v, "VNfTwVDbHBoPqEYqDdM61O=xJdVznRzT4h21+BuwgTg="),
                     HOOKD_VERIFY_MALFORMED); /* '=' inside */
    assert_int_equal(ctct_verify(&v, "sha256=VNfTwVDbHBoPqEYqDdM61OqxJdVznRzT4h21+BuwgTg="),
                     HOOKD_VERIFY_MALFORMED);
    strcpy(sig, CTCT_HEX);
    sig[10] = 'g';
    assert_int_equal(ctct_verify(&v, sig), HOOKD_VERIFY_MALFORMED);

    /* Oversized header values are refused without being parsed. */
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, 'A', 4999);
    big[4999] = '\0';
    assert_int_equal(ctct_verify(&v, big), HOOKD_VERIFY_MALFORMED);
    free(big);

    /* The check strings name the check. */
    hdrs h = {0};
    const char *check;
    assert_int_equal(hookd_verify(&v, "", 0, hget, &h, 0, &check), HOOKD_VERIFY_MISSING);
    assert_string_equal(check, "x-ctct-hmac-sha256 header missing");
}

static void test_rotation(void **state)
{
    (void)state;
    char *two[2] = {"old-secret", (char *)CTCT_SECRET};
    hookd_verify_cfg v = {.scheme = HOOKD_SCHEME_CTCT, .secrets = two, .nsecrets = 2};
    assert_int_equal(ctct_verify(&v, CTCT_SIG), HOOKD_VERIFY_OK);
    two[1] = "other-secret";
    assert_int_equal(ctct_verify(&v, CTCT_SIG), HOOKD_VERIFY_MISMATCH);
    two[0] = (char *)CTCT_SECRET;
    assert_int_equal(ctct_verify(&v, CTCT_SIG), HOOKD_VERIFY_OK);

    /* No secret at all can never verify. */
    v.nsecrets = 0;
    assert_int_equal(ctct_verify(&v, CTCT_SIG), HOOKD_VERIFY_MISMATCH);
    /* An empty secret is not a usable key. */
    hookd_verify_cfg e = cfg1(HOOKD_SCHEME_CTCT, "");
    assert_int_equal(ctct_verify(&e, CTCT_SIG), HOOKD_VERIFY_MISMATCH);
}

/* ---- github -------------------------------------------------------------- */

static void test_github(void **state)
{
    (void)state;
    hookd_verify_cfg v = cfg1(HOOKD_SCHEME_GITHUB, "It's a Secret to Everybody");
    const char *good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    char sig[128];
    assert_int_equal(verify1(&v, "Hello, World!", "X-Hub-Signature-256", good, 0),
                     HOOKD_VERIFY_OK);
    assert_int_equal(verify1(&v, "Hello, World?", "X-Hub-Signature-256", good, 0),
                     HOOKD_VERIFY_MISMATCH);
    strcpy(sig, good);
    sig[strlen(sig) - 1] = '6';
    assert_int_equal(verify1(&v, "Hello, World!", "X-Hub-Signature-256", sig, 0),
                     HOOKD_VERIFY_MISMATCH);
    assert_int_equal(verify1(&v, "Hello, World!", "X-Hub-Signature-256", good + 7, 0),
                     HOOKD_VERIFY_MALFORMED); /* no sha256= */
    assert_int_equal(verify1(&v, "Hello, World!", "X-Hub-Signature",
                             "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", 0),
                     HOOKD_VERIFY_MISSING);
    assert_int_equal(verify1(&v, "Hello, World!", NULL, NULL, 0), HOOKD_VERIFY_MISSING);
}

/* ---- stripe -------------------------------------------------------------- */

static int stripe_verify(const hookd_verify_cfg *v, const char *value, int64_t now,
                         const char **check)
{
    hdrs h = {0};
    if (value != NULL)
        hset(&h, "stripe-signature", value);
    return hookd_verify(v, STRIPE_BODY, strlen(STRIPE_BODY), hget, &h, now, check);
}

static void test_stripe(void **state)
{
    (void)state;
    hookd_verify_cfg v = cfg1(HOOKD_SCHEME_STRIPE, (char *)STRIPE_SECRET);
    const char *check;
    char hv[512], wrong[65];
    strcpy(wrong, STRIPE_V1);
    wrong[0] = wrong[0] == '4' ? '5' : '4';

    snprintf(hv, sizeof hv, "t=%d,v1=%s", STRIPE_T, STRIPE_V1);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_OK);
    /* Tolerance: default 300 s either way. */
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T + 300, &check), HOOKD_VERIFY_OK);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T - 300, &check), HOOKD_VERIFY_OK);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T + 301, &check), HOOKD_VERIFY_EXPIRED);
    assert_string_equal(check, "timestamp outside tolerance");
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T - 301, &check), HOOKD_VERIFY_EXPIRED);
    assert_int_equal(stripe_verify(&v, hv, INT64_MIN, &check), HOOKD_VERIFY_EXPIRED);
    assert_int_equal(stripe_verify(&v, hv, INT64_MAX, &check), HOOKD_VERIFY_EXPIRED);
    v.tolerance_ms = 10000;
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T + 10, &check), HOOKD_VERIFY_OK);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T + 11, &check), HOOKD_VERIFY_EXPIRED);
    v.tolerance_ms = 0;

    /* Several signatures: any v1 may match; v0 and unknown keys are ignored. */
    snprintf(hv, sizeof hv, "t=%d,v1=%s,v1=%s,v0=%s,x=1", STRIPE_T, wrong, STRIPE_V1, wrong);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_OK);
    snprintf(hv, sizeof hv, "t=%d, v1=%s, v0=%s", STRIPE_T, wrong, STRIPE_V1);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_MISMATCH);
    assert_string_equal(check, "signature mismatch");
    snprintf(hv, sizeof hv, "t=%d,v0=%s", STRIPE_T, STRIPE_V1);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_MISMATCH);

    /* The timestamp is signed: another t fails even within tolerance. */
    snprintf(hv, sizeof hv, "t=%d,v1=%s", STRIPE_T + 1, STRIPE_V1);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_MISMATCH);

    /* The key is the whole whsec_ string. */
    hookd_verify_cfg nopfx = cfg1(HOOKD_SCHEME_STRIPE, "test_secret");
    snprintf(hv, sizeof hv, "t=%d,v1=%s", STRIPE_T, STRIPE_V1);
    assert_int_equal(stripe_verify(&nopfx, hv, STRIPE_T, &check), HOOKD_VERIFY_MISMATCH);

    /* Rotation. */
    char *two[2] = {"whsec_old", (char *)STRIPE_SECRET};
    hookd_verify_cfg rot = {.scheme = HOOKD_SCHEME_STRIPE, .secrets = two, .nsecrets = 2};
    assert_int_equal(stripe_verify(&rot, hv, STRIPE_T, &check), HOOKD_VERIFY_OK);

    /* Malformed. */
    assert_int_equal(stripe_verify(&v, NULL, STRIPE_T, &check), HOOKD_VERIFY_MISSING);
    assert_string_equal(check, "Stripe-Signature header missing");
    snprintf(hv, sizeof hv, "v1=%s", STRIPE_V1);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_MALFORMED);
    snprintf(hv, sizeof hv, "t=abc,v1=%s", STRIPE_V1);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_MALFORMED);
    snprintf(hv, sizeof hv, "t=%d,t=%d,v1=%s", STRIPE_T, STRIPE_T, STRIPE_V1);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_MALFORMED);
    snprintf(hv, sizeof hv, "t=%d,v1=%.63s", STRIPE_T, STRIPE_V1);
    assert_int_equal(stripe_verify(&v, hv, STRIPE_T, &check), HOOKD_VERIFY_MALFORMED);
    assert_string_equal(check, "Stripe-Signature header malformed");

    /* At most 16 signatures are parsed. */
    char many[4096];
    int n = snprintf(many, sizeof many, "t=%d", STRIPE_T);
    for (int i = 0; i < 16; i++)
        n += snprintf(many + n, sizeof many - (size_t)n, ",v1=%s", i == 15 ? STRIPE_V1 : wrong);
    assert_int_equal(stripe_verify(&v, many, STRIPE_T, &check), HOOKD_VERIFY_OK);
    snprintf(many + n, sizeof many - (size_t)n, ",v1=%s", wrong);
    assert_int_equal(stripe_verify(&v, many, STRIPE_T, &check), HOOKD_VERIFY_MALFORMED);
}

/* ---- standard webhooks ------------------------------------------------- */

static int sw_verify(const hookd_verify_cfg *v, const char *id, const char *ts,
                     const char *sig, int64_t now, const char **check)
{
    hdrs h = {0};
    if (id != NULL)
        hset(&h, "Webhook-Id", id);
    if (ts != NULL)
        hset(&h, "Webhook-Timestamp", ts);
    if (sig != NULL)
        hset(&h, "Webhook-Signature", sig);
    return hookd_verify(v, SW_BODY, strlen(SW_BODY), hget, &h, now, check);
}

static void test_standard_webhooks(void **state)
{
    (void)state;
    hookd_verify_cfg v = cfg1(HOOKD_SCHEME_STDWH, (char *)SW_SECRET);
    const char *check, *ts = "1614265330";
    char hv[1024], wrong[64];
    strcpy(wrong, SW_SIG);
    wrong[3] = 'h';

    assert_int_equal(sw_verify(&v, SW_ID, ts, SW_SIG, SW_T, &check), HOOKD_VERIFY_OK);
    /* The whsec_ prefix of the secret is optional. */
    hookd_verify_cfg bare = cfg1(HOOKD_SCHEME_STDWH, (char *)SW_SECRET + 6);
    assert_int_equal(sw_verify(&bare, SW_ID, ts, SW_SIG, SW_T, &check), HOOKD_VERIFY_OK);
    /* A secret that is not base64 matches nothing. */
    hookd_verify_cfg junk = cfg1(HOOKD_SCHEME_STDWH, "whsec_not base64!");
    assert_int_equal(sw_verify(&junk, SW_ID, ts, SW_SIG, SW_T, &check), HOOKD_VERIFY_MISMATCH);

    /* Tolerance. */
    assert_int_equal(sw_verify(&v, SW_ID, ts, SW_SIG, SW_T + 300, &check), HOOKD_VERIFY_OK);
    assert_int_equal(sw_verify(&v, SW_ID, ts, SW_SIG, SW_T + 301, &check), HOOKD_VERIFY_EXPIRED);
    assert_string_equal(check, "timestamp outside tolerance");
    assert_int_equal(sw_verify(&v, SW_ID, ts, SW_SIG, SW_T - 301, &check), HOOKD_VERIFY_EXPIRED);
    v.tolerance_ms = 5000;
    assert_int_equal(sw_verify(&v, SW_ID, ts, SW_SIG, SW_T - 5, &check), HOOKD_VERIFY_OK);
    assert_int_equal(sw_verify(&v, SW_ID, ts, SW_SIG, SW_T - 6, &check), HOOKD_VERIFY_EXPIRED);
    v.tolerance_ms = 0;

    /* Several signatures, one right; other versions ignored. */
    snprintf(hv, sizeof hv, "%s v1a,c29tZXRoaW5n v2,xyz %s", wrong, SW_SIG);
    assert_int_equal(sw_verify(&v, SW_ID, ts, hv, SW_T, &check), HOOKD_VERIFY_OK);
    snprintf(hv, sizeof hv, "%s  v1a,%s", wrong, SW_SIG + 3);
    assert_int_equal(sw_verify(&v, SW_ID, ts, hv, SW_T, &check), HOOKD_VERIFY_MISMATCH);
    assert_string_equal(check, "signature mismatch");
    snprintf(hv, sizeof hv, "v1a,%s", SW_SIG + 3);
    assert_int_equal(sw_verify(&v, SW_ID, ts, hv, SW_T, &check), HOOKD_VERIFY_MISMATCH);

    /* id and timestamp are signed. */
    assert_int_equal(sw_verify(&v, "msg_other", ts, SW_SIG, SW_T, &check),
                     HOOKD_VERIFY_MISMATCH);
    assert_int_equal(sw_verify(&v, SW_ID, "1614265331", SW_SIG, SW_T, &check),
                     HOOKD_VERIFY_MISMATCH);

    /* Missing and malformed. */
    assert_int_equal(sw_verify(&v, NULL, ts, SW_SIG, SW_T, &check), HOOKD_VERIFY_MISSING);
    assert_string_equal(check, "webhook-id header missing");
    assert_int_equal(sw_verify(&v, SW_ID, NULL, SW_SIG, SW_T, &check), HOOKD_VERIFY_MISSING);
    assert_string_equal(check, "webhook-timestamp header missing");
    assert_int_equal(sw_verify(&v, SW_ID, ts, NULL, SW_T, &check), HOOKD_VERIFY_MISSING);
    assert_string_equal(check, "webhook-signature header missing");
    assert_int_equal(sw_verify(&v, SW_ID, "-1614265330", SW_SIG, SW_T, &check),
                     HOOKD_VERIFY_MALFORMED);
    assert_int_equal(sw_verify(&v, SW_ID, ts, SW_SIG + 3, SW_T, &check),
                     HOOKD_VERIFY_MALFORMED); /* no "v1," */
    assert_int_equal(sw_verify(&v, SW_ID, ts, "v1,abc", SW_T, &check), HOOKD_VERIFY_MALFORMED);

    /* At most 16 signatures. */
    char many[2048];
    size_t n = 0;
    for (int i = 0; i < 17; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "%s ", wrong);
    assert_int_equal(sw_verify(&v, SW_ID, ts, many, SW_T, &check), HOOKD_VERIFY_MALFORMED);
}

/* ---- generic hmac, none ------------------------------------------------ */

static void test_generic_hmac(void **state)
{
    (void)state;
    char *secrets[1] = {"generic-secret"};
    /* openssl dgst -sha512 -hmac generic-secret -binary | base64 */
    const char *b64 = "ErQEtyOL+ikQjjge4F163Syj23AhI/6DTQGcmoSw/f2yCXnS2+nj8uKCA+tprHgYq+mKugt8W2jKu3OH9ZQ4Nw==";
    hookd_verify_cfg v = {.scheme = HOOKD_SCHEME_HMAC, .secrets = secrets, .nsecrets = 1,
                          .header = "X-Signature", .algorithm = HOOKD_ALG_SHA512,
                          .encoding = HOOKD_ENC_BASE64, .prefix = "sha512="};
    char hv[256], out[512];
    snprintf(hv, sizeof hv, "sha512=%s", b64);
    assert_int_equal(verify1(&v, "hello world", "x-signature", hv, 0), HOOKD_VERIFY_OK);
    assert_int_equal(verify1(&v, "hello world!", "x-signature", hv, 0), HOOKD_VERIFY_MISMATCH);
    assert_int_equal(verify1(&v, "hello world", "x-signature", b64, 0),
                     HOOKD_VERIFY_MALFORMED); /* the prefix is required */
    snprintf(hv, sizeof hv, "SHA512=%s", b64);
    assert_int_equal(verify1(&v, "hello world", "x-signature", hv, 0), HOOKD_VERIFY_MALFORMED);
    assert_int_equal(verify1(&v, "hello world", NULL, NULL, 0), HOOKD_VERIFY_MISSING);

    int n = hookd_sign(&v, "hello world", 11, NULL, 0, out, sizeof out);
    assert_int_equal(n, (int)strlen(out));
    snprintf(hv, sizeof hv, "X-Signature: sha512=%s\n", b64);
    assert_string_equal(out, hv);

    /* sha256, hex, no prefix. */
    const char *hex = "459d657f9e3f0e3369ff69ed1d6109323c7e15e0883fc7a001283b3c11c86470";
    hookd_verify_cfg h = {.scheme = HOOKD_SCHEME_HMAC, .secrets = secrets, .nsecrets = 1,
                          .header = "X-Signature"};
    assert_int_equal(verify1(&h, "hello world", "X-Signature", hex, 0), HOOKD_VERIFY_OK);
    assert_int_equal(verify1(&h, "hello world", "X-Signature", b64, 0), HOOKD_VERIFY_MALFORMED);
    n = hookd_sign(&h, "hello world", 11, NULL, 0, out, sizeof out);
    assert_true(n > 0);
    assert_string_equal(signed_value(out, "X-Signature"), hex);
    /* A sha512 MAC offered to a sha256 configuration is malformed (length). */
    h.encoding = HOOKD_ENC_BASE64;
    assert_int_equal(verify1(&h, "hello world", "X-Signature", b64, 0), HOOKD_VERIFY_MALFORMED);

    /* No header configured. */
    h.header = NULL;
    assert_int_equal(verify1(&h, "hello world", "X-Signature", hex, 0), HOOKD_VERIFY_MALFORMED);
    assert_int_equal(hookd_sign(&h, "hello world", 11, NULL, 0, out, sizeof out), -1);
}

static void test_none(void **state)
{
    (void)state;
    hookd_verify_cfg v = {.scheme = HOOKD_SCHEME_NONE};
    char out[8] = "junk";
    assert_int_equal(verify1(&v, "anything", NULL, NULL, 0), HOOKD_VERIFY_OK);
    assert_int_equal(hookd_sign(&v, "x", 1, NULL, 0, out, sizeof out), 0);
    assert_string_equal(out, "");
}

/* ---- signing ------------------------------------------------------------- */

static void test_sign(void **state)
{
    (void)state;
    char out[512];
    hookd_verify_cfg v = cfg1(HOOKD_SCHEME_STRIPE, (char *)STRIPE_SECRET);
    int n = hookd_sign(&v, STRIPE_BODY, strlen(STRIPE_BODY), NULL, STRIPE_T, out, sizeof out);
    char want[256];
    snprintf(want, sizeof want, "Stripe-Signature: t=%d,v1=%s\n", STRIPE_T, STRIPE_V1);
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
    /* Too small a buffer is an error, never a truncated line. */
    assert_int_equal(hookd_sign(&v, STRIPE_BODY, strlen(STRIPE_BODY), NULL, STRIPE_T, out,
                                (size_t)n),
                     -1);
    assert_int_equal(hookd_sign(&v, STRIPE_BODY, strlen(STRIPE_BODY), NULL, STRIPE_T, out,
                                (size_t)n + 1),
                     n);

    hookd_verify_cfg sw = cfg1(HOOKD_SCHEME_STDWH, (char *)SW_SECRET);
    n = hookd_sign(&sw, SW_BODY, strlen(SW_BODY), SW_ID, SW_T, out, sizeof out);
    snprintf(want, sizeof want, "webhook-id: %s\nwebhook-timestamp: %d\nwebhook-signature: %s\n",
             SW_ID, SW_T, SW_SIG);
    assert_string_equal(out, want);
    assert_int_equal(hookd_sign(&sw, SW_BODY, strlen(SW_BODY), NULL, SW_T, out, sizeof out), -1);
    hookd_verify_cfg bad = cfg1(HOOKD_SCHEME_STDWH, "whsec_***");
    assert_int_equal(hookd_sign(&bad, SW_BODY, strlen(SW_BODY), SW_ID, SW_T, out, sizeof out),
                     -1);

    size_t len;
    char *body = ctct_body(&len);
    hookd_verify_cfg c = cfg1(HOOKD_SCHEME_CTCT, (char *)CTCT_SECRET);
    n = hookd_sign(&c, body, len, NULL, 0, out, sizeof out);
    snprintf(want, sizeof want, "x-ctct-hmac-sha256: %s\n", CTCT_SIG);
    assert_string_equal(out, want);
    free(body);

    /* Round trip: what hookd_sign writes, hookd_verify accepts. */
    hookd_verify_cfg g = cfg1(HOOKD_SCHEME_GITHUB, "s3cret");
    n = hookd_sign(&g, "payload", 7, NULL, 0, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(verify1(&g, "payload", "X-Hub-Signature-256",
                             signed_value(out, "X-Hub-Signature-256"), 0),
                     HOOKD_VERIFY_OK);

    hookd_verify_cfg u = cfg1((hookd_scheme)99, "s");
    assert_int_equal(hookd_sign(&u, "x", 1, NULL, 0, out, sizeof out), -1);
    assert_int_equal(verify1(&u, "x", NULL, NULL, 0), HOOKD_VERIFY_MALFORMED);
}

/* The plugins' signer: by name, one secret, hmac with hookd's own header. */
static void test_sign_named(void **state)
{
    (void)state;
    char out[512], want[256];
    int n = hookd_sign_named("standard-webhooks", SW_SECRET, SW_BODY, strlen(SW_BODY), SW_ID,
                             SW_T, out, sizeof out);
    snprintf(want, sizeof want, "webhook-id: %s\nwebhook-timestamp: %d\nwebhook-signature: %s\n",
             SW_ID, SW_T, SW_SIG);
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));

    n = hookd_sign_named("github", "It's a Secret to Everybody", "Hello, World!", 13, NULL, 0,
                         out, sizeof out);
    assert_string_equal(out, "X-Hub-Signature-256: sha256="
                             "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n");

    n = hookd_sign_named("hmac", "It's a Secret to Everybody", "Hello, World!", 13, NULL, 0, out,
                         sizeof out);
    assert_string_equal(out, "X-Hookd-Signature: "
                             "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n");

    assert_int_equal(hookd_sign_named("none", "s", "x", 1, NULL, 0, out, sizeof out), -22);
    assert_int_equal(hookd_sign_named("nope", "s", "x", 1, NULL, 0, out, sizeof out), -22);
    assert_int_equal(hookd_sign_named("github", "", "x", 1, NULL, 0, out, sizeof out), -22);
    assert_int_equal(hookd_sign_named("standard-webhooks", "whsec_***", "x", 1, "id", 1, out,
                                      sizeof out),
                     -22);
    assert_int_equal(hookd_sign_named("github", "s", "x", 1, NULL, 0, out, 10), -22);
}

static void test_scheme_names(void **state)
{
    (void)state;
    const char *names[] = {"ctct-hmac-sha256", "github", "stripe", "standard-webhooks",
                           "hmac", "none"};
    const hookd_scheme ids[] = {HOOKD_SCHEME_CTCT, HOOKD_SCHEME_GITHUB, HOOKD_SCHEME_STRIPE,
                                HOOKD_SCHEME_STDWH, HOOKD_SCHEME_HMAC, HOOKD_SCHEME_NONE};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(hookd_scheme_from_name(names[i]), ids[i]);
        assert_string_equal(hookd_scheme_name(ids[i]), names[i]);
    }
    assert_int_equal(hookd_scheme_from_name("GitHub"), -1);
    assert_int_equal(hookd_scheme_from_name("hmac-sha256"), -1);
    assert_int_equal(hookd_scheme_from_name(NULL), -1);
}

/* ---- Basic ----------------------------------------------------------- */

static void test_basic(void **state)
{
    (void)state;
    /* "user:pa:ss": the password keeps its ':' (split on the first one). */
    assert_int_equal(hookd_basic_check("Basic dXNlcjpwYTpzcw==", "user", "pa:ss"), 0);
    assert_int_equal(hookd_basic_check("basic dXNlcjpwYTpzcw==", "user", "pa:ss"), 0);
    assert_int_equal(hookd_basic_check("  BASIC   dXNlcjpwYTpzcw==  ", "user", "pa:ss"), 0);
    assert_int_equal(hookd_basic_check("Basic dXNlcjpwYTpzcw==", "user:pa", "ss"), -1);
    assert_int_equal(hookd_basic_check("Basic dXNlcjpwYTpzcw==", "User", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("Basic dXNlcjpwYTpzcw==", "user", "pa:s"), -1);
    assert_int_equal(hookd_basic_check("Basic dXNlcjpwYTpzcw==", "user", "pa:ssx"), -1);
    assert_int_equal(hookd_basic_check("Basic dXNlcjpwYTpzcw==", "use", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("Basic dXNlcjpwYTpzcw==", "user", ""), -1);

    /* Malformed: no colon, not base64, wrong scheme, nothing, padding dropped. */
    assert_int_equal(hookd_basic_check("Basic bm9jb2xvbg==", "nocolon", ""), -1);
    assert_int_equal(hookd_basic_check("Basic !!!!", "user", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("Bearer dXNlcjpwYTpzcw==", "user", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("BasicdXNlcjpwYTpzcw==", "user", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("Basic", "user", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("Basic ", "user", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("Basic dXNlcjpwYTpzcw", "user", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("Basic dXNlcjpw YTpzcw==", "user", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check("", "user", "pa:ss"), -1);
    assert_int_equal(hookd_basic_check(NULL, "user", "pa:ss"), -1);

    /* "a:" is user a with an empty password; ":" an empty user. */
    assert_int_equal(hookd_basic_check("Basic YTo=", "a", ""), 0);
    assert_int_equal(hookd_basic_check("Basic Og==", "", ""), 0);

    /* Oversized credentials are refused. */
    char big[2000] = "Basic ";
    memset(big + 6, 'Q', 1600);
    big[1606] = '\0';
    assert_int_equal(hookd_basic_check(big, "user", "pa:ss"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_vectors),
        cmocka_unit_test(test_ctct),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_github),
        cmocka_unit_test(test_stripe),
        cmocka_unit_test(test_standard_webhooks),
        cmocka_unit_test(test_generic_hmac),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_sign_named),
        cmocka_unit_test(test_scheme_names),
        cmocka_unit_test(test_basic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_jws: the compact JWS with a detached unencoded payload refused by its header
 * (alg, b64, crit, keys, ts), malformed values, and the key chosen by kid or without one. */
#include "jws_test.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg),
        cmocka_unit_test(test_b64_and_crit),
        cmocka_unit_test(test_keys_in_header),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_kid),
        cmocka_unit_test(test_no_kid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

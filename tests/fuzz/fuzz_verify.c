/* fuzz_verify: signature checks on attacker-controlled headers and body.
 *
 * Input: one selector byte, then header lines "name: value" ending at the
 * first empty line ("\n\n"), then the body. Every scheme is tried with fixed
 * secrets and a fixed clock; the selector picks the variants (rotation,
 * tolerance, hmac algorithm/encoding/prefix/header). The value of the
 * "authorization" header (or the first line) also goes to hookd_basic_check. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "base/log.h"
#include "verify/verify.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define MAX_HDRS 16
#define NOW_S INT64_C(1614265330) /* the timestamp of tests/vectors */

typedef struct {
    char *names[MAX_HDRS];
    char *values[MAX_HDRS];
    size_t n;
} hdrs;

static const char *get_header(void *ctx, const char *name)
{
    hdrs *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->names[i], name) == 0)
            return h->values[i];
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hookd_log_setup(HOOKD_LOG_ERROR + 1, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    unsigned sel = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;

    /* Split the header block from the body. */
    const char *body = in;
    size_t body_len = n, hlen = 0;
    const char *hblock = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (in[i] == '\n' && in[i + 1] == '\n') {
            hblock = in;
            hlen = i;
            body = in + i + 2;
            body_len = n - i - 2;
            break;
        }
    char *hcopy = malloc(hlen + 1);
    if (!hcopy)
        return 0;
    memcpy(hcopy, hblock ? hblock : "", hlen);
    hcopy[hlen] = '\0';

    hdrs h = {.n = 0};
    char *first_line = NULL;
    for (char *line = hcopy, *next; line && h.n < MAX_HDRS; line = next) {
        /* Lines end at '\n'; a NUL inside cuts the value, as C strings do. */
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!first_line)
            first_line = line;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        h.names[h.n] = line;
        h.values[h.n++] = v;
    }

    /* Body as a separate allocation, so a read past its end is caught. */
    char *b = malloc(body_len ? body_len : 1);
    if (!b) {
        free(hcopy);
        return 0;
    }
    memcpy(b, body, body_len);

    char *secrets_ctct[] = {"api-secret-key", "old-api-secret"};
    char *secrets_gh[] = {"It's a Secret to Everybody", "second"};
    char *secrets_stripe[] = {"whsec_test_secret", "whsec_other"};
    char *secrets_stdwh[] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2Vjb25k"};
    char *secrets_hmac[] = {"hmac-secret", "rotated-secret"};
    size_t nsec = (sel & 1) ? 2 : 1;
    int64_t tol = (sel & 2) ? 300000 : INT64_C(1) << 40;
    static const char *const hmac_headers[] = {"x-signature", "X-Hookd-Signature",
                                               "authorization", "x-hub-signature-256"};
    static const char *const prefixes[] = {NULL, "sha256=", "", "v1,"};

    hookd_verify_cfg cfgs[] = {
        {.scheme = HOOKD_SCHEME_NONE},
        {.scheme = HOOKD_SCHEME_CTCT, .secrets = secrets_ctct, .nsecrets = nsec},
        {.scheme = HOOKD_SCHEME_GITHUB, .secrets = secrets_gh, .nsecrets = nsec},
        {.scheme = HOOKD_SCHEME_STRIPE, .secrets = secrets_stripe, .nsecrets = nsec,
         .tolerance_ms = tol},
        {.scheme = HOOKD_SCHEME_STDWH, .secrets = secrets_stdwh, .nsecrets = nsec,
         .tolerance_ms = tol},
        {.scheme = HOOKD_SCHEME_HMAC, .secrets = secrets_hmac, .nsecrets = nsec,
         .header = (char *)hmac_headers[(sel >> 2) & 3],
         .algorithm = (sel & 16) ? HOOKD_ALG_SHA512 : HOOKD_ALG_SHA256,
         .encoding = (sel & 32) ? HOOKD_ENC_BASE64 : HOOKD_ENC_HEX,
         .prefix = (char *)prefixes[(sel >> 6) & 3]},
        /* the same generic scheme with the other algorithm/encoding */
        {.scheme = HOOKD_SCHEME_HMAC, .secrets = secrets_hmac, .nsecrets = nsec,
         .header = (char *)hmac_headers[(sel >> 2) & 3],
         .algorithm = (sel & 16) ? HOOKD_ALG_SHA256 : HOOKD_ALG_SHA512,
         .encoding = (sel & 32) ? HOOKD_ENC_HEX : HOOKD_ENC_BASE64,
         .prefix = (char *)prefixes[((sel >> 6) + 1) & 3]},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        const char *check = NULL;
        int rc = hookd_verify(&cfgs[i], b, body_len, get_header, &h, NOW_S, &check);
        if (rc > 0 || rc < HOOKD_VERIFY_EXPIRED)
            abort(); /* outside the documented outcomes */
        if (rc != HOOKD_VERIFY_OK && (!check || !*check))
            abort(); /* a refusal must name its check */
        if (check)
            (void)strlen(check);
        /* A NULL body is "" (the body of an empty request). */
        check = NULL;
        (void)hookd_verify(&cfgs[i], NULL, 0, get_header, &h, NOW_S, &check);
    }

    const char *auth = get_header(&h, "authorization");
    (void)hookd_basic_check(auth ? auth : first_line, "partner", "partner-password");
    (void)hookd_basic_check(auth ? auth : first_line, "user:with", "");
    (void)hookd_basic_check(NULL, "partner", "partner-password");

    free(b);
    free(hcopy);
    return 0;
}

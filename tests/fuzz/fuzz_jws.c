/* fuzz_jws: the X-CTCT-WEBHOOK-SIG check on attacker-controlled header and body.
 *
 * Input: the header value, then the body after the first NUL or '\n'
 * (whichever comes first; without either, all of it is the header and the
 * body is empty). It is checked against one fixed key set (RSA-2048 "r1",
 * EC P-256 "e1"), parsed once, at a fixed clock. The keys are fixed rather
 * than made at start so that the seeds in corpus/fuzz_jws carry real
 * signatures (RS256, PS256, ES256) and the fuzzer starts from the paths
 * that verify; their private halves are not kept anywhere. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/jws.h"
#include "verify/verify.h"

#define FUZZ_MAX_INPUT (64 * 1024)
#define NOW_S INT64_C(1700000000) /* the ts of the seeds */
#define TOLERANCE_S 300

static const char fixed_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"n\":\"lzRjm67MF_rI5S0lftnBvM"
    "FpcaefsQtF6DEUnuOrEwKv8RwLGSie-JY0ktdPdeu04voMWJHNbDNKzA96UrlKbwY7xdzaNy"
    "YDoZIf1XzCkJQ_cLFwgtFWVs5GZ8ZwXUaPTaWIALQNqTjc2gKzbBuwTjRJXhO25HZEQ_Tyeq"
    "HyCaSCo4v--ae_oNPijpbeOBzsnFZ_CAv36B7YpLqFXYuwbGSlZ101IgJcZUkoJrinydfP12"
    "K7rTCKzKmSWQU0NCDIFtP84tJDEyCaGgjBctIwh3VU0ZK4BAH0CevVb2uhD8NuJyL8iHGwxP"
    "WCZRCmjEorJjNrVJCbY-k_Vh5hLa1DJw\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"e1\",\"cr"
    "v\":\"P-256\",\"x\":\"pyIgtGut-WAJJeYWS7lPyfywzv978cUqOe2N_uM_dzs\",\"y\":\"gv0Ojb"
    "ePoNv8nVFue11c9EIaHvbrXOBw_4tO03mSzUM\"}]}";

static hookd_jwks *keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    if (hookd_jwks_parse(fixed_jwks, sizeof fixed_jwks - 1, &keys, err, sizeof err) != 0 ||
        keys->nkeys != 2)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    size_t hlen = 0;
    while (hlen < size && data[hlen] != '\0' && data[hlen] != '\n')
        hlen++;
    size_t blen = hlen < size ? size - hlen - 1 : 0;
    /* Copies of exact size, so that ASan sees any read past either. */
    char *sig = malloc(hlen + 1), *body = malloc(blen ? blen : 1);
    if (sig == NULL || body == NULL) {
        free(sig);
        free(body);
        return 0;
    }
    memcpy(sig, data, hlen);
    sig[hlen] = '\0';
    if (blen)
        memcpy(body, data + hlen + 1, blen);

    const char *check = NULL;
    int unknown = -1;
    int rc = hookd_jws_verify(keys, sig, body, blen, NOW_S, TOLERANCE_S, &check, &unknown);
    if (rc > 0 || rc < HOOKD_VERIFY_EXPIRED || rc == HOOKD_VERIFY_MISSING)
        abort(); /* outside the documented outcomes */
    if (check == NULL || *check == '\0' || (unknown != 0 && unknown != 1))
        abort();
    if (unknown && strcmp(check, "unknown key") != 0)
        abort();
    /* The same value with no key set: never verified. */
    if (hookd_jws_verify(NULL, sig, body, blen, NOW_S, TOLERANCE_S, &check, NULL) == 0)
        abort();
    free(sig);
    free(body);
    return 0;
}

/* fuzz_jwks: the key set parser on an attacker-controlled document (a key
 * set is fetched over the network). A set that parses is checked for the
 * promises of jws.h, used once and released. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify/jws.h"
#include "verify/verify.h"

#define FUZZ_MAX_INPUT (HOOKD_JWKS_MAX_BYTES + 1024)

/* A well-formed header value, signed by no key of any set. */
static const char any_sig[] =
    "eyJhbGciOiJFUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il0sInRzIjoxNzAwMDAwMDAwfQ.."
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    /* An exact-size copy: ASan sees any read past the end. */
    char *doc = malloc(size ? size : 1);
    if (doc == NULL)
        return 0;
    memcpy(doc, data, size);
    hookd_jwks *ks = (hookd_jwks *)&size; /* must be reset on refusal */
    char err[256] = "";
    int rc = hookd_jwks_parse(doc, size, &ks, err, sizeof err);
    if (rc != 0) {
        if (rc != -1 || ks != NULL || err[0] == '\0' || strchr(err, '\n') != NULL)
            abort();
    } else {
        if (ks == NULL || ks->nkeys == 0 || ks->nkeys > HOOKD_JWKS_MAX_KEYS)
            abort();
        for (size_t i = 0; i < ks->nkeys; i++) {
            const hookd_jwk *k = &ks->keys[i];
            if (k->pkey == NULL || strlen(k->kid) > HOOKD_JWKS_MAX_KID ||
                (k->type != HOOKD_JWK_RSA && k->type != HOOKD_JWK_EC_P256))
                abort();
            for (size_t j = 0; j < i; j++)
                if (k->kid[0] != '\0' && strcmp(k->kid, ks->keys[j].kid) == 0)
                    abort();
        }
        const char *check = NULL;
        if (hookd_jws_verify(ks, any_sig, "", 0, INT64_C(1700000000), 300, &check, NULL) == 0)
            abort();
        hookd_jwks_unref(hookd_jwks_ref(ks));
        hookd_jwks_unref(ks);
    }
    free(doc);
    return 0;
}

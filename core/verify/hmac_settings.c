/* hmac_settings: the generic hmac scheme's settings when hookd signs, built
 * in one place so `hookd sign`, `hookd send` and the plugins' signer agree
 * with each other and with a source that keeps the scheme's defaults. */
#include "verify.h"

#include <string.h>

#include "common/text.h"

/* An HTTP header name: an RFC 9110 token. */
static int is_header_name(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr(tchar, *s)))
            return 0;
    return 1;
}

int hookd_hmac_settings(hookd_verify_cfg *v, const char *header, const char *algorithm,
                        const char *encoding, const char *prefix, char *err, size_t errlen)
{
    if (header == NULL)
        header = HOOKD_HMAC_DEFAULT_HEADER;
    if (!is_header_name(header)) {
        hookd_say(err, errlen, "\"%s\" is not a header name", header);
        return -1;
    }
    if (algorithm != NULL && strcmp(algorithm, "sha256") != 0 && strcmp(algorithm, "sha512") != 0) {
        hookd_say(err, errlen, "algorithm \"%s\": want sha256 or sha512", algorithm);
        return -1;
    }
    if (encoding != NULL && strcmp(encoding, "hex") != 0 && strcmp(encoding, "base64") != 0) {
        hookd_say(err, errlen, "encoding \"%s\": want hex or base64", encoding);
        return -1;
    }
    v->scheme = HOOKD_SCHEME_HMAC;
    v->header = (char *)header;
    v->algorithm = algorithm != NULL && strcmp(algorithm, "sha512") == 0 ? HOOKD_ALG_SHA512
                                                                          : HOOKD_ALG_SHA256;
    v->encoding = encoding != NULL && strcmp(encoding, "base64") == 0 ? HOOKD_ENC_BASE64
                                                                       : HOOKD_ENC_HEX;
    v->prefix = prefix != NULL && *prefix != '\0' ? (char *)prefix : NULL;
    return 0;
}

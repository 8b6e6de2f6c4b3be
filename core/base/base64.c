/* base64: see base64.h. */
#include "base64.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* EVP_DecodeBlock alone is too lenient: it skips surrounding white space,
 * reads '=' anywhere as zero bits and counts the padding in its length. So
 * the padding is subtracted here, and the result must re-encode to the very
 * same text. */
int hookd_b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    char re[HOOKD_B64_MAX_TEXT + 4];
    if (n == 0 || n % 4 != 0 || n > HOOKD_B64_MAX_TEXT || n / 4 * 3 > cap)
        return -1;
    size_t pad = (s[n - 1] == '=') + (s[n - 1] == '=' && s[n - 2] == '=');
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (r < 0 || (size_t)r != n / 4 * 3)
        return -1;
    int len = r - (int)pad;
    if (EVP_EncodeBlock((unsigned char *)re, out, len) != (int)n || memcmp(re, s, n) != 0) {
        OPENSSL_cleanse(out, (size_t)r);
        return -1;
    }
    return len;
}

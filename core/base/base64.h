/* base64: strict standard base64 (RFC 4648 §4, padded) on OpenSSL, for
 * what must have one canonical spelling: signatures, secrets, credentials. */
#ifndef HOOKD_BASE64_H
#define HOOKD_BASE64_H

#include <stddef.h>

#define HOOKD_B64_MAX_TEXT 4096 /* longer text is refused, not decoded */

/* Decodes n characters into out (cap bytes, at least n/4*3). Refuses white
 * space, '=' other than the final padding, a length that is not a multiple
 * of 4, and any text that does not re-encode to itself. Returns the decoded
 * length or -1. */
int hookd_b64_decode(const char *s, size_t n, unsigned char *out, size_t cap);

#endif

/* http_answer: see http_answer.h. */
#include "http_answer.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void hookd_header_value(const char *p, size_t len, char *dst, size_t dstlen)
{
    while (len > 0 && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len > 0 && strchr("\r\n \t", p[len - 1]))
        len--;
    if (len >= dstlen)
        len = dstlen - 1;
    memcpy(dst, p, len);
    dst[len] = '\0';
}

static int64_t clamp_ms(long long s)
{
    return s > HOOKD_MAX_RETRY_AFTER_MS / 1000 ? HOOKD_MAX_RETRY_AFTER_MS : (int64_t)s * 1000;
}

int64_t hookd_retry_after_ms(const char *v)
{
    if (!*v)
        return -1;
    if (*v >= '0' && *v <= '9') {
        char *end;
        errno = 0;
        long long s = strtoll(v, &end, 10);
        if (*end)
            return -1;
        return errno ? HOOKD_MAX_RETRY_AFTER_MS : clamp_ms(s);
    }
    time_t t = curl_getdate(v, NULL), now = time(NULL);
    if (t == (time_t)-1)
        return -1;
    return t <= now ? 0 : clamp_ms((long long)(t - now));
}

/* console_util: what the API's handlers share (see console_api.h): query
 * parameters, limits, errors and times. Apart from the router
 * (console_api.c) so that handlers in files of their own call down into
 * it, never back into the router that calls them. */
#include "console_api.h"

#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int hookd_api_fail(json_t **out, int status, const char *msg)
{
    *out = json_pack("{s:s}", "error", msg);
    return status;
}

json_t *hookd_api_time(int64_t ms)
{
    if (ms < 0)
        return json_null();
    char buf[32];
    hookd_format_iso8601_ms(ms, buf);
    return json_string(buf);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int hookd_api_param(const hookd_api_call *call, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *p = call->query; *p;) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        if ((size_t)(kend - p) == nlen && memcmp(p, name, nlen) == 0) {
            size_t n = 0;
            for (const char *v = eq ? eq + 1 : end; v < end; v++) {
                int ch = (unsigned char)*v;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%') {
                    if (end - v < 3 || hexval(v[1]) < 0 || hexval(v[2]) < 0)
                        return -1;
                    ch = hexval(v[1]) * 16 + hexval(v[2]);
                    v += 2;
                }
                if (ch == 0 || n + 1 >= cap)
                    return -1;
                out[n++] = (char)ch;
            }
            out[n] = '\0';
            return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

int hookd_api_limit(const hookd_api_call *call, int def, int max)
{
    char v[16];
    int r = hookd_api_param(call, "limit", v, sizeof v);
    if (r == 0)
        return def;
    if (r < 0 || !v[0] || strspn(v, "0123456789") != strlen(v))
        return -1;
    long n = strlen(v) > 6 ? max : strtol(v, NULL, 10);
    return n < 1 ? 1 : n > max ? max : (int)n;
}

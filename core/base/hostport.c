/* hostport: see hostport.h. */
#include "hostport.h"

#include <string.h>

int hookd_hostport_parse(const char *s, char *host, size_t hostlen, int *port)
{
    const char *h, *colon;
    size_t hl;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb == s + 1 || rb[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(rb - h);
        if (!memchr(h, ':', hl) || strcspn(h, " /[") < hl)
            return -1;
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || colon == s)
            return -1;
        h = s;
        hl = (size_t)(colon - s);
        if (strcspn(h, ": /[]") < hl)
            return -1;
    }
    const char *p = colon + 1;
    size_t n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    if (v > 65535)
        return -1;
    if (host) {
        if (hl >= hostlen)
            return -1;
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    if (port)
        *port = v;
    return 0;
}

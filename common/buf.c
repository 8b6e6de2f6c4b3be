/* buf: see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hookd_buf_room(hookd_buf *b, size_t n)
{
    if (b->over || b->oom)
        return 0;
    size_t max = b->max ? b->max : SIZE_MAX - 1;
    if (n > max - b->len) {
        b->over = 1;
        return 0;
    }
    if (b->len + n + 1 <= b->cap)
        return 1;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + n + 1)
        nc = nc > SIZE_MAX / 2 ? SIZE_MAX : nc * 2;
    if (nc > max + 1)
        nc = max + 1;
    char *np = realloc(b->p, nc);
    if (!np) {
        b->oom = 1;
        return 0;
    }
    b->p = np;
    b->cap = nc;
    return 1;
}

int hookd_buf_add(hookd_buf *b, const void *s, size_t n)
{
    if (!hookd_buf_room(b, n))
        return 0;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 1;
}

int hookd_buf_printf(hookd_buf *b, const char *fmt, ...)
{
    if (b->over || b->oom)
        return 0;
    /* Straight into the room left; format again only when it did not fit. */
    size_t avail = b->p ? b->cap - b->len : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, avail, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return 0;
    }
    if ((size_t)n >= avail) {
        if (!hookd_buf_room(b, (size_t)n)) {
            if (b->p)
                b->p[b->len] = '\0'; /* undo a cut-off attempt */
            return 0;
        }
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 1;
}

char *hookd_buf_take(hookd_buf *b, size_t *len)
{
    char *p = NULL;
    if (!b->oom && (b->p || hookd_buf_room(b, 0))) {
        p = b->p;
        p[b->len] = '\0';
        if (len)
            *len = b->len;
        b->p = NULL;
    }
    hookd_buf_free(b);
    return p;
}

void hookd_buf_free(hookd_buf *b)
{
    free(b->p);
    size_t max = b->max;
    *b = (hookd_buf){.max = max};
}

/* text: see text.h. */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>

void hookd_one_line(char *s)
{
    char *w = s;
    int space = 1; /* drops leading blanks and runs of them */
    for (const char *r = s; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (c <= ' ' || c == 0x7f) {
            if (!space)
                *w++ = ' ';
            space = 1;
            continue;
        }
        *w++ = c < 0x80 ? (char)c : '?';
        space = 0;
    }
    while (w > s && w[-1] == ' ')
        w--;
    *w = '\0';
}

size_t hookd_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], cp, min;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    cp = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void hookd_say(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

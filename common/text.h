/* text: small string helpers shared by the core and the in-tree plugins.
 * Each plugin compiles its own copy (hidden, so nothing crosses the ABI);
 * out-of-tree plugins do not need them. */
#ifndef HOOKD_COMMON_TEXT_H
#define HOOKD_COMMON_TEXT_H

#include <stddef.h>

/* In place: one line of printable ASCII (reasons end up in logs and JSON).
 * Runs of blanks and control characters become one space, bytes >= 0x80
 * '?'; no space at either end. */
void hookd_one_line(char *s);

/* printf into a reason buffer (buf may be NULL or len 0: nothing happens),
 * cut to its size, line breaks made spaces: every reason is one line. */
void hookd_say(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid
 * (overlong, surrogate, above U+10FFFF or cut short). */
size_t hookd_utf8_len(const unsigned char *s, size_t n);

#endif

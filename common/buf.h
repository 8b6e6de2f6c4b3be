/* buf: a growing byte buffer, for the core and the plugins alike: one copy
 * of the doubling realloc, its bound and its out-of-memory flag. */
#ifndef HOOKD_BUF_H
#define HOOKD_BUF_H

#include <stddef.h>

typedef struct hookd_buf {
    char *p;        /* NUL-terminated after each successful add */
    size_t len;     /* bytes held, the NUL not counted */
    size_t cap;     /* bytes allocated */
    size_t max;     /* bytes it may hold (the NUL aside); 0: no bound */
    int over;       /* an add would have passed max: nothing more is added */
    int oom;        /* out of memory: nothing more is added */
} hookd_buf;

/* Room for n more bytes and a NUL, growing by doubling: 1, or 0 with over
 * or oom set (and then 0 for every later call). */
int hookd_buf_room(hookd_buf *b, size_t n);
/* Appends n bytes, all or nothing: 1 or 0 as hookd_buf_room. */
int hookd_buf_add(hookd_buf *b, const void *s, size_t n);
/* Appends printf output, all or nothing: 1 or 0. */
int hookd_buf_printf(hookd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The bytes (NUL-terminated; "" if none were added), handed to the caller
 * (free() them); NULL on oom. b is left empty. */
char *hookd_buf_take(hookd_buf *b, size_t *len);
void hookd_buf_free(hookd_buf *b);

#endif

/* json_pointer: RFC 6901 pointers into jansson values, split once and walked
 * many times (templates) or looked up in one go (event types, dedup keys). */
#include "json_pointer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RFC 6901, in place: "/a~1b/0" -> "a/b\0" "0\0". -1 if bad. */
int hookd_json_pointer_split(char *p, size_t *ntok)
{
    char *w = p;
    if (*p != '/')
        return -1;
    *ntok = 0;
    for (const char *r = p; *r; r++) {
        if (*r == '/') {
            if (r != p)
                *w++ = '\0';
            (*ntok)++;
        } else if (*r == '~') {
            if (r[1] != '0' && r[1] != '1')
                return -1;
            *w++ = *++r == '0' ? '~' : '/';
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return 0;
}

/* "0" or [1-9][0-9]*, as an index; -1 otherwise ("-" included). */
static int parse_index(const char *s, size_t *out)
{
    size_t v = 0;
    if (!*s || (s[0] == '0' && s[1]))
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return 0;
}

const json_t *hookd_json_pointer_walk(const json_t *v, const char *tok, size_t ntok)
{
    for (size_t i = 0; i < ntok && v; i++) {
        size_t idx;
        if (json_is_object(v))
            v = json_object_get(v, tok);
        else if (json_is_array(v) && parse_index(tok, &idx) == 0)
            v = json_array_get(v, idx);
        else
            return NULL;
        tok += strlen(tok) + 1;
    }
    return v;
}

const json_t *hookd_json_pointer(const json_t *root, const char *ptr)
{
    size_t n;
    if (!root || !ptr)
        return NULL;
    if (!*ptr)
        return root;
    char *toks = strdup(ptr);
    if (!toks || hookd_json_pointer_split(toks, &n) != 0) {
        free(toks);
        return NULL;
    }
    const json_t *v = hookd_json_pointer_walk(root, toks, n);
    free(toks);
    return v;
}

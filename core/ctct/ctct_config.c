/* ctct_config: the ctct: block's fields, listed once. */
#include "ctct_config.h"

#include <stdlib.h>
#include <string.h>

/* Every string field, in one place: copy, compare and clear walk it. */
#define CTCT_STRINGS(c)                                                        \
    { &(c)->base_url, &(c)->api_key, &(c)->username, &(c)->password,           \
      &(c)->client_id, &(c)->client_secret, &(c)->token_url }
#define NSTRINGS 7

void hookd_ctct_cfg_clear(hookd_ctct_cfg *c)
{
    char **f[NSTRINGS] = CTCT_STRINGS(c);
    for (size_t i = 0; i < NSTRINGS; i++) {
        if (*f[i])
            explicit_bzero(*f[i], strlen(*f[i]));
        free(*f[i]);
    }
    memset(c, 0, sizeof *c);
}

int hookd_ctct_cfg_copy(hookd_ctct_cfg *to, const hookd_ctct_cfg *from)
{
    *to = *from;
    char **f[NSTRINGS] = CTCT_STRINGS(to);
    int bad = 0;
    for (size_t i = 0; i < NSTRINGS; i++)
        if (*f[i] && !(*f[i] = strdup(*f[i])))
            bad = 1;
    if (bad) {
        /* Only the copies are ours: forget the rest before clearing. */
        char *const *g[NSTRINGS] = CTCT_STRINGS(from);
        for (size_t i = 0; i < NSTRINGS; i++)
            if (*f[i] == *g[i])
                *f[i] = NULL;
        hookd_ctct_cfg_clear(to);
        return -1;
    }
    return 0;
}

static int str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

int hookd_ctct_cfg_differs(const hookd_ctct_cfg *a, const hookd_ctct_cfg *b)
{
    if (a->present != b->present || a->api != b->api || a->timeout_ms != b->timeout_ms)
        return 1;
    char *const *f[NSTRINGS] = CTCT_STRINGS(a);
    char *const *g[NSTRINGS] = CTCT_STRINGS(b);
    for (size_t i = 0; i < NSTRINGS; i++)
        if (str_differs(*f[i], *g[i]))
            return 1;
    return 0;
}

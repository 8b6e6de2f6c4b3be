/* json_pointer: RFC 6901. */
#ifndef HOOKD_JSON_POINTER_H
#define HOOKD_JSON_POINTER_H

#include <stddef.h>
#include <jansson.h>

/* The value at ptr ("" is the root), or NULL. */
const json_t *hookd_json_pointer(const json_t *root, const char *ptr);

/* In place: "/a~1b/0" -> tokens "a/b\0" "0\0", their count in *ntok. 0, or
 * -1 if p is not a pointer (no leading '/', a bad ~ escape). */
int hookd_json_pointer_split(char *p, size_t *ntok);
/* Follows ntok tokens laid out by hookd_json_pointer_split; NULL if absent. */
const json_t *hookd_json_pointer_walk(const json_t *v, const char *tok, size_t ntok);

#endif

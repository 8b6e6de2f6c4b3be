/* Private to the configuration loader (config.c, config_sources.c,
 * config_routes.c): generic helpers over a libyaml document (node access,
 * error messages "file:line:col: path: what", ${ENV} expansion, typed
 * scalars, YAML -> jansson conversion) and the loader's parts. Not part of
 * any other module's API. */
#ifndef HOOKD_CONFIG_YAML_H
#define HOOKD_CONFIG_YAML_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config.h"

#define HOOKD_CY_MAX_SCALAR (64 * 1024)       /* bytes, after expansion */
#define HOOKD_CY_MAX_TOTAL (16 * 1024 * 1024) /* all expanded scalars */
#define HOOKD_CY_MAX_LIST 1024                /* items of any schema list */
#define HOOKD_CY_MAX_DEPTH 64                 /* nesting inside config: */
#define HOOKD_CY_MAX_NODES 100000             /* nodes converted to JSON */
#define HOOKD_CY_DAY_MS (86400LL * 1000)

typedef struct hookd_cy {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errlen;
    char path[512]; /* "sources[0].verify.secret" */
    size_t plen;
    size_t total_left; /* expansion budget, bytes */
    size_t nodes_left; /* conversion budget, nodes */
} hookd_cy;

hookd_mark hookd_cy_mark(const yaml_node_t *n);

/* Copies src into dst (cap bytes, NUL-terminated, truncated) with control
 * characters escaped (\n, \t, \xHH) so that a message stays on one line. */
void hookd_cy_oneline(char *dst, size_t cap, const char *src);

/* printf into err (if err and errlen), through hookd_cy_oneline. */
void hookd_cy_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "file:line:col: path: message" (path omitted when empty) into the
 * error buffer. `at` may be NULL (then 1:1). Always returns -1. */
int hookd_cy_fail(hookd_cy *cy, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Path stack: push returns the length to pop back to. */
size_t hookd_cy_push_key(hookd_cy *cy, const char *key);
size_t hookd_cy_push_index(hookd_cy *cy, size_t i);
void hookd_cy_pop(hookd_cy *cy, size_t len);

/* A mapping's keys must all be scalars, listed in `allowed` (NULL-ended),
 * and distinct. `allowed` NULL: any key (still scalar and distinct). */
int hookd_cy_check_map(hookd_cy *cy, yaml_node_t *map,
                       const char *const *allowed);
/* The value of `key` in `map`, or NULL. */
yaml_node_t *hookd_cy_get(hookd_cy *cy, yaml_node_t *map, const char *key);
/* Item i of a sequence (no bounds check beyond the node's own). */
yaml_node_t *hookd_cy_item(hookd_cy *cy, yaml_node_t *seq, size_t i);
size_t hookd_cy_len(const yaml_node_t *seq);

int hookd_cy_is_null(const yaml_node_t *n); /* plain "", "~", "null" */

/* The scalar with ${NAME} / ${NAME:-default} replaced; malloc'd. NULL on
 * error (already reported against the current path). */
char *hookd_cy_expand(hookd_cy *cy, yaml_node_t *n);

/* Typed fields of a mapping. Each pushes `key` onto the path for its
 * messages. Returns 1 when set, 0 when the key is absent (out untouched),
 * -1 on error. */
#define HOOKD_CY_EMPTY_OK 1
int hookd_cy_str(hookd_cy *cy, yaml_node_t *map, const char *key, char **out,
                 int flags);
int hookd_cy_int(hookd_cy *cy, yaml_node_t *map, const char *key, int64_t *out,
                 int64_t min, int64_t max);
int hookd_cy_size(hookd_cy *cy, yaml_node_t *map, const char *key, int64_t *out,
                  int64_t min, int64_t max);
int hookd_cy_duration(hookd_cy *cy, yaml_node_t *map, const char *key,
                      int64_t *out, int64_t min, int64_t max);
/* One of names[] (NULL-ended); *out gets the index. */
int hookd_cy_enum(hookd_cy *cy, yaml_node_t *map, const char *key,
                  const char *const *names, int *out);
/* A mapping value (checked against `allowed`); *out NULL when absent. */
int hookd_cy_map(hookd_cy *cy, yaml_node_t *map, const char *key,
                 const char *const *allowed, yaml_node_t **out);
/* A string or a list of strings (1..HOOKD_CY_MAX_LIST, non-empty each).
 * With `nodes`, also gives each item's node (malloc'd array). */
int hookd_cy_strlist(hookd_cy *cy, yaml_node_t *map, const char *key,
                     char ***out, size_t *n, yaml_node_t ***nodes);

/* Reports an error at map[key]'s value (or at map when the key is absent),
 * with the key pushed on the path. Returns -1. */
int hookd_cy_fail_key(hookd_cy *cy, yaml_node_t *map, const char *key,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* hookd_cy_str for a required key: absence is an error at the mapping. */
int hookd_cy_req_str(hookd_cy *cy, yaml_node_t *map, const char *key,
                     char **out);
/* The list under map[key] (a null value counts as absent): checks the type
 * and the count (HOOKD_CY_MAX_LIST). Returns 1, 0 when absent, -1. */
int hookd_cy_list(hookd_cy *cy, yaml_node_t *map, const char *key,
                  yaml_node_t **out, size_t *n);

/* A failed yaml_parser_load as "file:line:col: invalid YAML: problem". */
void hookd_cy_syntax_error(const yaml_parser_t *p, const char *file,
                           const char *text, size_t len, char *err,
                           size_t errlen);

/* The node as JSON: mappings -> objects, sequences -> arrays, plain
 * true/false -> bool, null/~/empty -> null, integers -> integer, decimals ->
 * real, anything else and every quoted scalar -> string (after ${ENV}). */
json_t *hookd_cy_json(hookd_cy *cy, yaml_node_t *n, int depth);

/* s is one or more decimal digits and nothing else. */
int hookd_cy_digits(const char *s);

/* Instance and source names: letters, digits, '.', '_', '-' (1..128). */
int hookd_cy_valid_name(const char *s);
/* *dst = strdup(s), freeing the old value; -1 when out of memory. */
int hookd_cy_set_str(char **dst, const char *s);
/* Reports list[j][key] == val as a duplicate of list[i]'s. Returns -1. */
int hookd_cy_fail_dup(hookd_cy *cy, yaml_node_t *list, const char *lname,
                      size_t i, size_t j, const char *key, const char *what,
                      const char *val);

/* The loader's parts, each for one top-level key of the file; 0 or -1 with
 * the error reported. Routes need the plugins loaded first. */
int hookd_cy_load_sources(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root);
int hookd_cy_load_plugins(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root);
int hookd_cy_load_routes(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root);

#endif

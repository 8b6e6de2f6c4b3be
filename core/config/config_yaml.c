/* Generic helpers over a libyaml document for config.c: see config_yaml.h. */
#include "config_yaml.h"
#include "common/buf.h"
#include "common/units.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hookd_mark hookd_cy_mark(const yaml_node_t *n)
{
    hookd_mark m = {1, 1};
    if (n) {
        m.line = (int)n->start_mark.line + 1;
        m.col = (int)n->start_mark.column + 1;
    }
    return m;
}

void hookd_cy_oneline(char *dst, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;
    if (!cap)
        return;
    for (; *src; src++) {
        unsigned char c = (unsigned char)*src;
        char esc[5] = {(char)c, 0};
        if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
        }
        size_t n = strlen(esc);
        if (at + n >= cap)
            break;
        memcpy(dst + at, esc, n);
        at += n;
    }
    dst[at] = '\0';
}

void hookd_cy_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    hookd_cy_oneline(err, errlen, line);
}

int hookd_cy_fail(hookd_cy *cy, const yaml_node_t *at, const char *fmt, ...)
{
    if (!cy->err || cy->errlen == 0)
        return -1;
    hookd_mark m = hookd_cy_mark(at);
    char msg[512], line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cy->plen)
        snprintf(line, sizeof line, "%s:%d:%d: %s: %s", cy->file, m.line, m.col,
                 cy->path, msg);
    else
        snprintf(line, sizeof line, "%s:%d:%d: %s", cy->file, m.line, m.col,
                 msg);
    hookd_cy_oneline(cy->err, cy->errlen, line);
    return -1;
}

static size_t path_append(hookd_cy *cy, const char *fmt, const char *s,
                          size_t i)
{
    size_t old = cy->plen;
    if (old < sizeof cy->path - 1) {
        int w = s ? snprintf(cy->path + old, sizeof cy->path - old, fmt, s)
                  : snprintf(cy->path + old, sizeof cy->path - old, fmt, i);
        size_t nw = w < 0 ? 0 : (size_t)w;
        cy->plen = old + nw < sizeof cy->path ? old + nw : sizeof cy->path - 1;
    }
    return old;
}

size_t hookd_cy_push_key(hookd_cy *cy, const char *key)
{
    return path_append(cy, cy->plen ? ".%s" : "%s", key, 0);
}

size_t hookd_cy_push_index(hookd_cy *cy, size_t i)
{
    return path_append(cy, "[%zu]", NULL, i);
}

void hookd_cy_pop(hookd_cy *cy, size_t len)
{
    cy->plen = len;
    cy->path[len] = '\0';
}

static yaml_node_t *node_at(hookd_cy *cy, int index)
{
    return yaml_document_get_node(cy->doc, index);
}

size_t hookd_cy_len(const yaml_node_t *seq)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(seq->data.sequence.items.top -
                    seq->data.sequence.items.start);
}

yaml_node_t *hookd_cy_item(hookd_cy *cy, yaml_node_t *seq, size_t i)
{
    return node_at(cy, seq->data.sequence.items.start[i]);
}

static int key_is(const yaml_node_t *k, const char *key)
{
    size_t n = strlen(key);
    return k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == n &&
           memcmp(k->data.scalar.value, key, n) == 0;
}

int hookd_cy_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    size_t l = n->data.scalar.length;
    return l == 0 || (l == 1 && v[0] == '~') ||
           (l == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) ||
                       !memcmp(v, "NULL", 4)));
}

int hookd_cy_check_map(hookd_cy *cy, yaml_node_t *map,
                       const char *const *allowed)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return hookd_cy_fail(cy, map, "expected a mapping");
    size_t nallowed = 0;
    while (allowed && allowed[nallowed])
        nallowed++;
    unsigned char seen[64] = {0};
    yaml_node_pair_t *p;
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(cy, p->key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return hookd_cy_fail(cy, k, "keys must be plain strings");
        if (memchr(k->data.scalar.value, 0, k->data.scalar.length))
            return hookd_cy_fail(cy, k, "key contains a NUL character");
        if (!allowed)
            continue;
        size_t i;
        for (i = 0; i < nallowed && i < sizeof seen; i++)
            if (key_is(k, allowed[i]))
                break;
        size_t old = hookd_cy_push_key(cy, (const char *)k->data.scalar.value);
        if (i == nallowed || i == sizeof seen)
            return hookd_cy_fail(cy, k, "unknown key");
        if (seen[i]++)
            return hookd_cy_fail(cy, k, "duplicate key");
        hookd_cy_pop(cy, old);
    }
    return 0;
}

yaml_node_t *hookd_cy_get(hookd_cy *cy, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    yaml_node_pair_t *p;
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++)
        if (key_is(node_at(cy, p->key), key))
            return node_at(cy, p->value);
    return NULL;
}

/* ---- ${ENV} expansion ---------------------------------------------------- */

/* Returns 0, -2 past HOOKD_CY_MAX_SCALAR, -1 out of memory. */
static int buf_add(hookd_buf *b, const char *s, size_t n)
{
    return hookd_buf_add(b, s, n) ? 0 : b->over ? -2 : -1;
}

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

char *hookd_cy_expand(hookd_cy *cy, yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE) {
        hookd_cy_fail(cy, n, "expected a string");
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    hookd_buf b = {.max = HOOKD_CY_MAX_SCALAR};
    int rc = 0;
    if (memchr(s, 0, len)) {
        hookd_cy_fail(cy, n, "contains a NUL character");
        return NULL;
    }
    rc = buf_add(&b, "", 0);
    size_t i = 0;
    while (rc == 0 && i < len) {
        const char *d = memchr(s + i, '$', len - i);
        size_t lit = d ? (size_t)(d - (s + i)) : len - i;
        if ((rc = buf_add(&b, s + i, lit)) != 0)
            break;
        i += lit;
        if (i >= len)
            break;
        /* s[i] == '$' */
        if (i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            rc = buf_add(&b, "${", 2); /* "$${" writes a literal "${" */
            i += 3;
            continue;
        }
        if (i + 1 >= len || s[i + 1] != '{') {
            rc = buf_add(&b, "$", 1);
            i++;
            continue;
        }
        const char *open = s + i + 2;
        const char *close = memchr(open, '}', len - (i + 2));
        if (!close) {
            hookd_cy_fail(cy, n, "unterminated ${ (write $${ for a literal)");
            goto fail;
        }
        size_t nl = 0;
        if (is_name_start(open[0]))
            while (open + nl < close && is_name_char(open[nl]))
                nl++;
        const char *def = NULL;
        size_t deflen = 0;
        if (nl > 0 && open + nl + 1 < close && open[nl] == ':' &&
            open[nl + 1] == '-') {
            def = open + nl + 2;
            deflen = (size_t)(close - def);
        } else if (nl == 0 || open + nl != close) {
            hookd_cy_fail(cy, n,
                          "invalid ${...}: expected ${NAME} or ${NAME:-default}"
                          " (NAME of letters, digits and _)");
            goto fail;
        }
        if (def && memmem(def, deflen, "${", 2)) {
            hookd_cy_fail(cy, n, "nested ${...} is not supported");
            goto fail;
        }
        char name[256];
        if (nl >= sizeof name) {
            hookd_cy_fail(cy, n, "environment variable name too long");
            goto fail;
        }
        memcpy(name, open, nl);
        name[nl] = '\0';
        const char *val = getenv(name);
        if (def && (!val || !*val))
            rc = buf_add(&b, def, deflen);
        else if (val)
            rc = buf_add(&b, val, strlen(val));
        else {
            hookd_cy_fail(cy, n, "environment variable %s is not set", name);
            goto fail;
        }
        i = (size_t)(close - s) + 1;
    }
    if (rc == -2) {
        hookd_cy_fail(cy, n, "value too long (over %d KiB)",
                      HOOKD_CY_MAX_SCALAR / 1024);
        goto fail;
    }
    if (rc != 0) {
        hookd_cy_fail(cy, n, "out of memory");
        goto fail;
    }
    if (b.len > cy->total_left) {
        hookd_cy_fail(cy, n, "configuration too large after expansion");
        goto fail;
    }
    cy->total_left -= b.len;
    return hookd_buf_take(&b, NULL);
fail:
    hookd_buf_free(&b);
    return NULL;
}

/* ---- typed fields -------------------------------------------------------- */

/* Expanded scalar value of map[key], with the key pushed on the path (the
 * caller pops *old). Returns 1, 0 when absent, -1 on error. */
static int scalar_of(hookd_cy *cy, yaml_node_t *map, const char *key,
                     size_t *old, yaml_node_t **node, char **out)
{
    yaml_node_t *v = hookd_cy_get(cy, map, key);
    *old = hookd_cy_push_key(cy, key);
    *node = v;
    if (!v)
        return 0;
    if (v->type != YAML_SCALAR_NODE)
        return hookd_cy_fail(cy, v, "expected a string");
    if (hookd_cy_is_null(v))
        return hookd_cy_fail(cy, v, "missing value");
    *out = hookd_cy_expand(cy, v);
    return *out ? 1 : -1;
}

int hookd_cy_str(hookd_cy *cy, yaml_node_t *map, const char *key, char **out,
                 int flags)
{
    size_t old;
    yaml_node_t *v;
    char *s = NULL;
    int r = scalar_of(cy, map, key, &old, &v, &s);
    if (r == 1 && !*s && !(flags & HOOKD_CY_EMPTY_OK)) {
        free(s);
        r = hookd_cy_fail(cy, v, "must not be empty");
    }
    if (r == 1) {
        free(*out);
        *out = s;
    }
    if (r >= 0)
        hookd_cy_pop(cy, old);
    return r;
}

int hookd_cy_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int hookd_cy_int(hookd_cy *cy, yaml_node_t *map, const char *key, int64_t *out,
                 int64_t min, int64_t max)
{
    size_t old;
    yaml_node_t *v;
    char *s = NULL;
    int r = scalar_of(cy, map, key, &old, &v, &s);
    if (r == 1) {
        const char *d = s[0] == '-' || s[0] == '+' ? s + 1 : s;
        errno = 0;
        long long x = hookd_cy_digits(d) ? strtoll(s, NULL, 10) : 0;
        if (!hookd_cy_digits(d) || errno || x < min || x > max)
            r = hookd_cy_fail(cy, v,
                              "expected an integer from %" PRId64 " to %" PRId64
                              ", got \"%s\"",
                              min, max, s);
        else
            *out = x;
    }
    free(s);
    if (r >= 0)
        hookd_cy_pop(cy, old);
    return r;
}

static int measured(hookd_cy *cy, yaml_node_t *map, const char *key,
                    int64_t *out, int64_t min, int64_t max, int duration)
{
    size_t old;
    yaml_node_t *v;
    char *s = NULL;
    int r = scalar_of(cy, map, key, &old, &v, &s);
    if (r == 1) {
        int64_t x = duration ? hookd_parse_duration(s) : hookd_parse_size(s);
        if (x < 0)
            r = hookd_cy_fail(
                cy, v, "%s",
                duration ? "expected a duration like 10s (ms, s, m, h, d)"
                         : "expected a size like 1MiB (B, KiB, MiB, GiB)");
        else if (x < min || x > max)
            r = hookd_cy_fail(cy, v,
                              "%s out of range (%" PRId64 " to %" PRId64 " %s)",
                              s, min, max, duration ? "ms" : "bytes");
        else
            *out = x;
    }
    free(s);
    if (r >= 0)
        hookd_cy_pop(cy, old);
    return r;
}

int hookd_cy_size(hookd_cy *cy, yaml_node_t *map, const char *key, int64_t *out,
                  int64_t min, int64_t max)
{
    return measured(cy, map, key, out, min, max, 0);
}

int hookd_cy_duration(hookd_cy *cy, yaml_node_t *map, const char *key,
                      int64_t *out, int64_t min, int64_t max)
{
    return measured(cy, map, key, out, min, max, 1);
}

int hookd_cy_enum(hookd_cy *cy, yaml_node_t *map, const char *key,
                  const char *const *names, int *out)
{
    size_t old;
    yaml_node_t *v;
    char *s = NULL;
    int r = scalar_of(cy, map, key, &old, &v, &s);
    if (r == 1) {
        int i;
        for (i = 0; names[i]; i++)
            if (strcmp(s, names[i]) == 0)
                break;
        if (names[i]) {
            *out = i;
        } else {
            char list[256] = "";
            size_t at = 0;
            for (int j = 0; names[j] && at < sizeof list; j++) {
                int w = snprintf(list + at, sizeof list - at, "%s%s",
                                 j ? ", " : "", names[j]);
                at += w > 0 ? (size_t)w : 0;
            }
            r = hookd_cy_fail(cy, v, "unknown value \"%s\" (expected %s)", s,
                              list);
        }
    }
    free(s);
    if (r >= 0)
        hookd_cy_pop(cy, old);
    return r;
}

int hookd_cy_map(hookd_cy *cy, yaml_node_t *map, const char *key,
                 const char *const *allowed, yaml_node_t **out)
{
    yaml_node_t *v = hookd_cy_get(cy, map, key);
    *out = NULL;
    if (!v)
        return 0;
    size_t old = hookd_cy_push_key(cy, key);
    if (hookd_cy_check_map(cy, v, allowed) < 0)
        return -1;
    hookd_cy_pop(cy, old);
    *out = v;
    return 1;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int hookd_cy_strlist(hookd_cy *cy, yaml_node_t *map, const char *key,
                     char ***out, size_t *n, yaml_node_t ***nodes)
{
    yaml_node_t *v = hookd_cy_get(cy, map, key);
    if (!v)
        return 0;
    size_t old = hookd_cy_push_key(cy, key);
    size_t count = 1;
    if (v->type == YAML_SEQUENCE_NODE) {
        count = hookd_cy_len(v);
        if (count == 0)
            return hookd_cy_fail(cy, v, "must not be empty");
        if (count > HOOKD_CY_MAX_LIST)
            return hookd_cy_fail(cy, v, "too many items (at most %d)",
                                 HOOKD_CY_MAX_LIST);
    } else if (v->type != YAML_SCALAR_NODE) {
        return hookd_cy_fail(cy, v, "expected a string or a list of strings");
    }
    char **list = calloc(count, sizeof *list);
    yaml_node_t **nl = nodes ? calloc(count, sizeof *nl) : NULL;
    if (!list || (nodes && !nl)) {
        free(list);
        free(nl);
        return hookd_cy_fail(cy, v, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *it =
            v->type == YAML_SEQUENCE_NODE ? hookd_cy_item(cy, v, i) : v;
        size_t o2 = v->type == YAML_SEQUENCE_NODE ? hookd_cy_push_index(cy, i)
                                                  : cy->plen;
        int bad = 0;
        if (!it || it->type != YAML_SCALAR_NODE)
            bad = hookd_cy_fail(cy, it, "expected a string");
        else if (hookd_cy_is_null(it))
            bad = hookd_cy_fail(cy, it, "missing value");
        else if (!(list[i] = hookd_cy_expand(cy, it)))
            bad = -1;
        else if (!list[i][0])
            bad = hookd_cy_fail(cy, it, "must not be empty");
        if (bad) {
            free_strs(list, count);
            free(nl);
            return -1;
        }
        if (nl)
            nl[i] = it;
        hookd_cy_pop(cy, o2);
    }
    hookd_cy_pop(cy, old);
    free_strs(*out, *n);
    *out = list;
    *n = count;
    if (nodes)
        *nodes = nl;
    return 1;
}

/* Reports an error at map[key]'s value (or at map when absent), with the key
 * on the path. */
int hookd_cy_fail_key(hookd_cy *cy, yaml_node_t *map, const char *key,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    yaml_node_t *v = hookd_cy_get(cy, map, key);
    hookd_cy_push_key(cy, key);
    return hookd_cy_fail(cy, v ? v : map, "%s", msg);
}

/* A required string; its absence is an error at the mapping. */
int hookd_cy_req_str(hookd_cy *cy, yaml_node_t *map, const char *key,
                     char **out)
{
    int r = hookd_cy_str(cy, map, key, out, 0);
    if (r == 0)
        return hookd_cy_fail(cy, map, "missing required key \"%s\"", key);
    return r;
}

/* The list under root[key]: NULL when absent; checks type and count. */
int hookd_cy_list(hookd_cy *cy, yaml_node_t *root, const char *key,
                  yaml_node_t **out, size_t *n)
{
    yaml_node_t *l = hookd_cy_get(cy, root, key);
    *out = NULL;
    *n = 0;
    if (!l || hookd_cy_is_null(l))
        return 0;
    size_t old = hookd_cy_push_key(cy, key);
    if (l->type != YAML_SEQUENCE_NODE)
        return hookd_cy_fail(cy, l, "expected a list");
    if (hookd_cy_len(l) > HOOKD_CY_MAX_LIST)
        return hookd_cy_fail(cy, l, "too many items (at most %d)",
                             HOOKD_CY_MAX_LIST);
    hookd_cy_pop(cy, old);
    *out = l;
    *n = hookd_cy_len(l);
    return 1;
}

/* ---- libyaml's own errors ------------------------------------------------ */

void hookd_cy_syntax_error(const yaml_parser_t *p, const char *file,
                           const char *text, size_t len, char *err,
                           size_t errlen)
{
    size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR) { /* only a byte offset is known */
        line = col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
                col++;
            }
        }
    }
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR)
        problem = "out of memory";
    if (p->context)
        hookd_cy_set_err(err, errlen,
                         "%s:%zu:%zu: invalid YAML: %s (%s at %zu:%zu)", file,
                         line, col, problem, p->context,
                         p->context_mark.line + 1, p->context_mark.column + 1);
    else
        hookd_cy_set_err(err, errlen, "%s:%zu:%zu: invalid YAML: %s", file,
                         line, col, problem);
}

/* Instance and source names: letters, digits, '.', '_', '-'. */
int hookd_cy_valid_name(const char *s)
{
    if (!*s || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int hookd_cy_set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

/* Reports a duplicate of list[j][key] against an earlier list[i]. */
int hookd_cy_fail_dup(hookd_cy *cy, yaml_node_t *list, const char *lname,
                    size_t i, size_t j, const char *key, const char *what,
                    const char *val)
{
    yaml_node_t *first = hookd_cy_item(cy, list, i);
    yaml_node_t *second = hookd_cy_item(cy, list, j);
    hookd_cy_push_key(cy, lname);
    hookd_cy_push_index(cy, j);
    return hookd_cy_fail_key(cy, second, key,
                             "duplicate %s \"%s\" (first at line %d)", what,
                             val, hookd_cy_mark(first).line);
}

/* config_json: a YAML node as JSON (a plugin's config: block), part of the
 * configuration loader; see hookd_cy_json in config_yaml.h. */
#include "config_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- YAML -> JSON -------------------------------------------------------- */

static int match_int(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    return hookd_cy_digits(s);
}

static int match_decimal(const char *s)
{
    int digits = 0, dot = 0;
    if (*s == '-' || *s == '+')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s == '.') {
        dot = 1;
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    }
    if (!digits)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!hookd_cy_digits(s))
            return 0;
        return 1;
    }
    return dot && !*s;
}

static json_t *scalar_json(hookd_cy *cy, yaml_node_t *n)
{
    if (hookd_cy_is_null(n))
        return json_null();
    char *s = hookd_cy_expand(cy, n);
    if (!s)
        return NULL;
    json_t *j = NULL;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
            j = json_true();
        else if (!strcmp(s, "false") || !strcmp(s, "False") ||
                 !strcmp(s, "FALSE"))
            j = json_false();
        else if (!strcmp(s, "null") || !strcmp(s, "Null") ||
                 !strcmp(s, "NULL") || !strcmp(s, "~"))
            j = json_null();
        else if (match_int(s)) {
            errno = 0;
            long long v = strtoll(s, NULL, 10);
            if (!errno)
                j = json_integer((json_int_t)v);
        } else if (match_decimal(s)) {
            errno = 0;
            double v = strtod(s, NULL);
            if (!errno && isfinite(v))
                j = json_real(v);
        }
    }
    if (!j) {
        j = json_string(s);
        if (!j)
            hookd_cy_fail(cy, n, "not valid UTF-8");
    }
    free(s);
    return j;
}

json_t *hookd_cy_json(hookd_cy *cy, yaml_node_t *n, int depth)
{
    if (!n) {
        hookd_cy_fail(cy, n, "missing value");
        return NULL;
    }
    if (depth > HOOKD_CY_MAX_DEPTH) {
        hookd_cy_fail(cy, n, "nested too deeply (at most %d levels)",
                      HOOKD_CY_MAX_DEPTH);
        return NULL;
    }
    if (cy->nodes_left == 0) {
        hookd_cy_fail(cy, n, "too many values (at most %d)",
                      HOOKD_CY_MAX_NODES);
        return NULL;
    }
    cy->nodes_left--;
    if (n->type == YAML_SCALAR_NODE)
        return scalar_json(cy, n);
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        size_t count = hookd_cy_len(n);
        for (size_t i = 0; a && i < count; i++) {
            size_t old = hookd_cy_push_index(cy, i);
            json_t *v = hookd_cy_json(cy, hookd_cy_item(cy, n, i), depth + 1);
            if (!v || json_array_append_new(a, v) < 0) {
                if (v)
                    hookd_cy_fail(cy, n, "out of memory");
                json_decref(a);
                return NULL;
            }
            hookd_cy_pop(cy, old);
        }
        if (!a)
            hookd_cy_fail(cy, n, "out of memory");
        return a;
    }
    if (n->type != YAML_MAPPING_NODE) {
        hookd_cy_fail(cy, n, "unsupported YAML node");
        return NULL;
    }
    if (hookd_cy_check_map(cy, n, NULL) < 0)
        return NULL;
    json_t *o = json_object();
    if (!o) {
        hookd_cy_fail(cy, n, "out of memory");
        return NULL;
    }
    yaml_node_pair_t *p;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(cy->doc, p->key);
        const char *key = (const char *)k->data.scalar.value;
        size_t old = hookd_cy_push_key(cy, key);
        if (json_object_get(o, key)) {
            hookd_cy_fail(cy, k, "duplicate key");
            json_decref(o);
            return NULL;
        }
        json_t *v = hookd_cy_json(cy, yaml_document_get_node(cy->doc, p->value), depth + 1);
        if (!v) {
            json_decref(o);
            return NULL;
        }
        if (json_object_set_new(o, key, v) < 0) {
            hookd_cy_fail(cy, k, "invalid key");
            json_decref(o);
            return NULL;
        }
        hookd_cy_pop(cy, old);
    }
    return o;
}

/* ---- checks shared by the loader's parts ---------------------------------- */

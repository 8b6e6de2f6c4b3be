/* config_map: see config_map.h. One typed reader per HOOKD_CONFIG_* type;
 * every message starts with the key's full name. */
#include "config_map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text.h"
#include "units.h"

#define SLOT(settings, row, type) ((type *)(void *)((char *)(settings) + (row)->offset))

/* A JSON string without NUL bytes, or NULL. */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

const hookd_config_key *hookd_cmap_find(const hookd_config_key *table, const char *name)
{
    for (const hookd_config_key *r = table; r && r->name; r++)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

void hookd_cmap_choices(const hookd_config_key *row, char *buf, size_t len)
{
    size_t n = 0, used = 0;
    while (row->choices && row->choices[n])
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                         row->choices[i]);
        used += w > 0 ? (size_t)w : 0;
    }
}

/* ms as the largest unit that writes it whole: 3600000 -> "1h". */
static void duration_text(int64_t ms, char *buf, size_t len)
{
    static const char *const units[] = {"d", "h", "m", "s"};
    static const int64_t mult[] = {86400000LL, 3600000, 60000, 1000};
    for (size_t i = 0; i < 4; i++)
        if (ms != 0 && ms % mult[i] == 0) {
            snprintf(buf, len, "%" PRId64 "%s", ms / mult[i], units[i]);
            return;
        }
    snprintf(buf, len, "%" PRId64 "ms", ms);
}

static int in_bounds(const hookd_config_key *r, int64_t v)
{
    return (r->min == 0 && r->max == 0) || (v >= r->min && v <= r->max);
}

static int read_duration(const hookd_config_key *r, const char *name, const json_t *v,
                         void *settings, char *err, size_t errlen)
{
    if (json_is_number(v)) {
        hookd_say(err, errlen, "%s: a bare number is not a duration: write its unit "
                               "(\"500ms\", \"10s\", \"1m\")", name);
        return HOOKD_EINVAL;
    }
    const char *s = plain_string(v);
    int64_t ms = s ? hookd_parse_duration(s) : -1;
    if (ms < 0) {
        hookd_say(err, errlen, "%s: expected a duration with its unit (\"500ms\", \"10s\", "
                               "\"1m\")%s", name,
                  s && s[strspn(s, "0123456789")] == '\0' && *s ? ", not a bare number" : "");
        return HOOKD_EINVAL;
    }
    if (!in_bounds(r, ms)) {
        char lo[32], hi[32];
        duration_text(r->min, lo, sizeof lo);
        duration_text(r->max, hi, sizeof hi);
        hookd_say(err, errlen, "%s: expected a duration from %s to %s", name, lo, hi);
        return HOOKD_EINVAL;
    }
    *SLOT(settings, r, int64_t) = ms;
    return 0;
}

static int read_number(const hookd_config_key *r, const char *name, const json_t *v,
                       void *settings, char *err, size_t errlen)
{
    int size = r->type == HOOKD_CONFIG_SIZE;
    const char *s = plain_string(v);
    int64_t x = json_is_integer(v) ? (int64_t)json_integer_value(v)
                : size && s ? hookd_parse_size(s) : -1;
    int ok = json_is_integer(v) ? (!size || x >= 0) : x >= 0;
    if (!ok) {
        hookd_say(err, errlen, "%s: expected %s", name,
                  size ? "a size (\"64KiB\", \"1MiB\")" : "an integer");
        return HOOKD_EINVAL;
    }
    if (!in_bounds(r, x)) {
        hookd_say(err, errlen, "%s: expected %s from %" PRId64 " to %" PRId64, name,
                  size ? "a size in bytes" : "an integer", r->min, r->max);
        return HOOKD_EINVAL;
    }
    *SLOT(settings, r, int64_t) = x;
    return 0;
}

static int read_file(const hookd_config_key *r, const char *name, const char *s,
                     char *err, size_t errlen)
{
    struct stat st;
    int dir = (r->flags & HOOKD_CONFIG_DIR) != 0;
    if (stat(s, &st) != 0 || access(s, dir ? X_OK : R_OK) != 0) {
        char why[128];
        hookd_say(err, errlen, "%s: %s: not a readable %s (%s)", name, s,
                  dir ? "directory" : "file", strerror_r(errno, why, sizeof why));
        return HOOKD_EINVAL;
    }
    if (dir != !!S_ISDIR(st.st_mode)) {
        hookd_say(err, errlen, "%s: %s: %s", name, s, dir ? "not a directory" : "is a directory");
        return HOOKD_EINVAL;
    }
    return 0;
}

static int read_list(const hookd_config_key *r, const char *name, const json_t *v,
                     void *settings, char *err, size_t errlen)
{
    hookd_cmap_list *l = SLOT(settings, r, hookd_cmap_list);
    int nonempty = (r->flags & HOOKD_CONFIG_NONEMPTY) != 0;
    size_t n = json_array_size(v);
    if (!json_is_array(v) || (nonempty && n == 0)) {
        hookd_say(err, errlen, "%s: expected a %slist of strings", name,
                  nonempty ? "non-empty " : "");
        return HOOKD_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if (!plain_string(json_array_get(v, i))) {
            hookd_say(err, errlen, "%s[%zu]: expected a string", name, i);
            return HOOKD_EINVAL;
        }
    if (!(l->v = calloc(n + 1, sizeof *l->v)))
        goto nomem;
    for (l->n = 0; l->n < n; l->n++)
        if (!(l->v[l->n] = strdup(json_string_value(json_array_get(v, l->n)))))
            goto nomem;
    return 0;
nomem:
    hookd_say(err, errlen, "out of memory");
    return HOOKD_ENOMEM;
}

static int read_map(const hookd_config_key *r, const char *name, const json_t *v,
                    void *settings, char *err, size_t errlen)
{
    if (!json_is_object(v)) {
        hookd_say(err, errlen, "%s: expected a map of strings", name);
        return HOOKD_EINVAL;
    }
    const char *key;
    json_t *e;
    json_object_foreach((json_t *)v, key, e) {
        if (!plain_string(e)) {
            hookd_say(err, errlen, "%s.%s: expected a string", name, key);
            return HOOKD_EINVAL;
        }
    }
    *SLOT(settings, r, const json_t *) = v;
    return 0;
}

/* One key's value v into settings; name is its full name for messages. */
static int read_one(const hookd_config_key *r, const char *name, const json_t *v,
                    void *settings, char *err, size_t errlen)
{
    const char *s = plain_string(v);
    switch (r->type) {
    case HOOKD_CONFIG_STRING:
    case HOOKD_CONFIG_FILE:
    case HOOKD_CONFIG_TEMPLATE: {
        int tmpl = r->type == HOOKD_CONFIG_TEMPLATE;
        if (!s || (!tmpl && !*s)) {
            hookd_say(err, errlen, "%s: expected a %s", name,
                      tmpl ? "template string" : "non-empty string");
            return HOOKD_EINVAL;
        }
        if (r->type == HOOKD_CONFIG_FILE) {
            int rc = read_file(r, name, s, err, errlen);
            if (rc)
                return rc;
        }
        char **slot = SLOT(settings, r, char *);
        char *copy = strdup(s);
        if (!copy) {
            hookd_say(err, errlen, "out of memory");
            return HOOKD_ENOMEM;
        }
        free(*slot);   /* a default read before the value: never both, but cheap */
        *slot = copy;
        return 0;
    }
    case HOOKD_CONFIG_BOOL:
        if (!json_is_boolean(v)) {
            hookd_say(err, errlen, "%s: expected true or false", name);
            return HOOKD_EINVAL;
        }
        *SLOT(settings, r, int) = json_is_true(v);
        return 0;
    case HOOKD_CONFIG_INT:
    case HOOKD_CONFIG_SIZE:
        return read_number(r, name, v, settings, err, errlen);
    case HOOKD_CONFIG_DURATION:
        return read_duration(r, name, v, settings, err, errlen);
    case HOOKD_CONFIG_ENUM:
        for (int i = 0; s && r->choices && r->choices[i]; i++)
            if (strcmp(s, r->choices[i]) == 0) {
                *SLOT(settings, r, int) = i;
                return 0;
            }
        char list[256];
        hookd_cmap_choices(r, list, sizeof list);
        hookd_say(err, errlen, "%s: expected %s", name, list);
        return HOOKD_EINVAL;
    case HOOKD_CONFIG_LIST:
        return read_list(r, name, v, settings, err, errlen);
    case HOOKD_CONFIG_MAP:
        return read_map(r, name, v, settings, err, errlen);
    case HOOKD_CONFIG_JSON:
        *SLOT(settings, r, const json_t *) = v;
        return 0;
    }
    hookd_say(err, errlen, "%s: unknown key type %d", name, r->type);
    return HOOKD_EINVAL;
}

/* The default, written as in a configuration, read like a given value. */
static int read_default(const hookd_config_key *r, const char *name, void *settings,
                        char *err, size_t errlen)
{
    const char *d = r->default_text;
    json_t *v = r->type == HOOKD_CONFIG_BOOL ? json_boolean(strcmp(d, "true") == 0)
                : r->type == HOOKD_CONFIG_INT ? json_integer(strtoll(d, NULL, 10))
                                              : json_string(d);
    if (!v) {
        hookd_say(err, errlen, "out of memory");
        return HOOKD_ENOMEM;
    }
    int rc = read_one(r, name, v, settings, err, errlen);
    json_decref(v);
    return rc;
}

static void full_name(const char *prefix, const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", prefix && *prefix ? prefix : "", prefix && *prefix ? "." : "",
             key);
}

int hookd_cmap_read(const hookd_config_key *table, const char *prefix, const json_t *config,
                    void *settings, char *err, size_t errlen)
{
    char name[256];
    const char *key;
    json_t *v;
    if (!json_is_object(config)) {
        hookd_say(err, errlen, "%s: expected a map", prefix && *prefix ? prefix : "config");
        return HOOKD_EINVAL;
    }
    /* Unknown keys first: a misspelt key explains a "missing" one. */
    json_object_foreach((json_t *)config, key, v) {
        if (!hookd_cmap_find(table, key)) {
            full_name(prefix, key, name, sizeof name);
            hookd_say(err, errlen, "unknown key \"%s\"", name);
            return HOOKD_EINVAL;
        }
    }
    for (const hookd_config_key *r = table; r->name; r++) {
        full_name(prefix, r->name, name, sizeof name);
        v = json_object_get(config, r->name);
        int rc = 0;
        if (v)
            rc = read_one(r, name, v, settings, err, errlen);
        else if (r->flags & HOOKD_CONFIG_REQUIRED)
            hookd_say(err, errlen, "missing required key \"%s\"", name), rc = HOOKD_EINVAL;
        else if (r->default_text)
            rc = read_default(r, name, settings, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

void hookd_cmap_free(const hookd_config_key *table, void *settings)
{
    for (const hookd_config_key *r = table; settings && r->name; r++) {
        switch (r->type) {
        case HOOKD_CONFIG_STRING:
        case HOOKD_CONFIG_FILE:
        case HOOKD_CONFIG_TEMPLATE: {
            char **slot = SLOT(settings, r, char *);
            if (*slot && (r->flags & HOOKD_CONFIG_SECRET))
                explicit_bzero(*slot, strlen(*slot));
            free(*slot);
            *slot = NULL;
            break;
        }
        case HOOKD_CONFIG_LIST: {
            hookd_cmap_list *l = SLOT(settings, r, hookd_cmap_list);
            for (size_t i = 0; l->v && i < l->n; i++)
                free(l->v[i]);
            free(l->v);
            l->v = NULL;
            l->n = 0;
            break;
        }
        case HOOKD_CONFIG_MAP:
        case HOOKD_CONFIG_JSON:
            *SLOT(settings, r, const json_t *) = NULL;
            break;
        default:
            break;
        }
    }
}

/* Templates: compiled once into a list of parts, rendered in one pass into a
 * growing, bounded buffer. No global state. */
#include "template.h"

#include "base/clock.h"
#include "common/buf.h"
#include "base/json_pointer.h"
#include "ctct/ctct.h"
#include "common/text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum part_kind {
    P_LIT, P_TYPE, P_ID, P_SOURCE, P_RECEIVED_AT, P_ATTEMPT, P_BODY,
    P_JSON, P_HEADER, P_CTCT_ACCOUNT, P_CTCT_PLAN
};

struct part {
    enum part_kind kind;
    size_t off, len;  /* P_LIT: the text in t->src */
    char *arg;        /* P_JSON: ntok unescaped tokens, each NUL-terminated;
                         P_HEADER: the name; P_CTCT_PLAN: the field */
    size_t ntok;
};

struct hookd_template {
    char *src;
    struct part *parts;
    size_t nparts;
};

static const struct { const char *name; enum part_kind kind; } simple_names[] = {
    {"type", P_TYPE}, {"id", P_ID}, {"source", P_SOURCE},
    {"received_at", P_RECEIVED_AT}, {"attempt", P_ATTEMPT}, {"body", P_BODY},
    {"ctct.account_id", P_CTCT_ACCOUNT},
};

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define TCHARS ALNUM "!#$%&'*+-.^_`|~" /* RFC 9110 token */


static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int add_part(hookd_template *t, size_t *cap, struct part p)
{
    if (t->nparts == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct part *np = realloc(t->parts, nc * sizeof *np);
        if (!np)
            return -1;
        t->parts = np;
        *cap = nc;
    }
    t->parts[t->nparts++] = p;
    return 0;
}

/* Fills p from the trimmed name s[0..n); at is the offset of its "{{".
 * 0, or -1 with err set. */
static int parse_name(const char *s, size_t n, size_t at, struct part *p,
                      char *err, size_t errlen)
{
    static const struct { const char *pre, *what; enum part_kind kind; } pre[] = {
        {"json.", "JSON pointer", P_JSON}, {"header.", "header name", P_HEADER},
        {"ctct.plan.", "plan field", P_CTCT_PLAN},
    };
    int dn = n > 64 ? 64 : (int)n; /* shown in messages */
    memset(p, 0, sizeof *p);
    if (n == 0) {
        hookd_say(err, errlen, "empty template name at offset %zu", at);
        return -1;
    }
    for (size_t i = 0; i < sizeof simple_names / sizeof simple_names[0]; i++) {
        if (strlen(simple_names[i].name) == n && memcmp(s, simple_names[i].name, n) == 0) {
            p->kind = simple_names[i].kind;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        size_t pl = strlen(pre[i].pre);
        if (n < pl || memcmp(s, pre[i].pre, pl) != 0)
            continue;
        p->kind = pre[i].kind;
        if (!(p->arg = strndup(s + pl, n - pl))) {
            hookd_say(err, errlen, "out of memory");
            return -1;
        }
        int bad = p->arg[0] == '\0';
        if (p->kind == P_JSON)
            bad = hookd_json_pointer_split(p->arg, &p->ntok) < 0;
        else if (p->kind == P_HEADER)
            bad = bad || p->arg[strspn(p->arg, TCHARS)] != '\0';
        if (!bad)
            return 0;
        free(p->arg);
        p->arg = NULL;
        hookd_say(err, errlen, "bad %s \"%.*s\" at offset %zu", pre[i].what, dn, s, at);
        return -1;
    }
    hookd_say(err, errlen, "unknown template name \"%.*s\" at offset %zu", dn, s, at);
    return -1;
}

hookd_template *hookd_template_compile(const char *src, char *err, size_t errlen)
{
    hookd_say(err, errlen, "%s", "");
    if (!src) {
        hookd_say(err, errlen, "no template");
        return NULL;
    }
    size_t n = strlen(src);
    if (n > HOOKD_TEMPLATE_MAX_SRC) {
        hookd_say(err, errlen, "template too long (%zu bytes, max %u)", n,
               HOOKD_TEMPLATE_MAX_SRC);
        return NULL;
    }
    hookd_template *t = calloc(1, sizeof *t);
    if (!t || !(t->src = strdup(src))) {
        free(t);
        hookd_say(err, errlen, "out of memory");
        return NULL;
    }
    size_t cap = 0, nph = 0, i = 0;
    while (i < n) {
        const char *open = strstr(t->src + i, "{{");
        size_t at = open ? (size_t)(open - t->src) : n;
        while (open && t->src[at + 2] == '{')
            at++; /* "{{{x}}}": the last two braces open */
        if (at > i && add_part(t, &cap, (struct part){.kind = P_LIT, .off = i, .len = at - i}) < 0)
            goto oom;
        if (!open)
            break;
        const char *close = strstr(t->src + at + 2, "}}");
        if (!close) {
            hookd_say(err, errlen, "unterminated \"{{\" at offset %zu", at);
            goto fail;
        }
        if (++nph > HOOKD_TEMPLATE_MAX_PH) {
            hookd_say(err, errlen, "too many placeholders (max %u)", HOOKD_TEMPLATE_MAX_PH);
            goto fail;
        }
        const char *s = t->src + at + 2, *e = close;
        while (s < e && is_blank(*s))
            s++;
        while (e > s && is_blank(e[-1]))
            e--;
        struct part p;
        if (parse_name(s, (size_t)(e - s), at, &p, err, errlen) < 0)
            goto fail;
        if (add_part(t, &cap, p) < 0) {
            free(p.arg);
            goto oom;
        }
        i = (size_t)(close - t->src) + 2;
    }
    return t;
oom:
    hookd_say(err, errlen, "out of memory");
fail:
    hookd_template_free(t);
    return NULL;
}

void hookd_template_free(hookd_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nparts; i++)
        free(t->parts[i].arg);
    free(t->parts);
    free(t->src);
    free(t);
}

/* ---- rendering ---- */

/* Bounded by HOOKD_TEMPLATE_MAX_OUT; `over` is "full": nothing more fits. */
#define buf hookd_buf
#define room hookd_buf_room

/* All or nothing: for escape sequences. */
static void put_unit(struct buf *b, const char *s, size_t n)
{
    hookd_buf_add(b, s, n);
}

/* Text: if it does not fit, as much as fits without cutting a UTF-8
 * character, then nothing more. */
static void put_text(struct buf *b, const char *s, size_t n)
{
    if (b->over || b->oom || n == 0)
        return;
    if (n > HOOKD_TEMPLATE_MAX_OUT - b->len) {
        size_t k = HOOKD_TEMPLATE_MAX_OUT - b->len;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (k > 0)
            hookd_buf_add(b, s, k);
        b->over = 1;
        return;
    }
    put_unit(b, s, n);
}

static void put_value(struct buf *b, const char *v, size_t n, int esc)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t i = 0, run = 0; /* s[run..i) is copied as is */
    char u[8];
    if (esc == HOOKD_ESC_JSON) {
        while (i < n) {
            size_t l = s[i] < 0x20 || s[i] == '"' || s[i] == '\\' ? 0 : hookd_utf8_len(s + i, n - i);
            if (l) {
                i += l;
                continue;
            }
            put_text(b, v + run, i - run);
            if (s[i] == '"' || s[i] == '\\')
                put_unit(b, u, (size_t)snprintf(u, sizeof u, "\\%c", s[i]));
            else if (s[i] < 0x20)
                put_unit(b, u, (size_t)snprintf(u, sizeof u, "\\u%04x", s[i]));
            else
                put_unit(b, "\\ufffd", 6); /* not UTF-8 */
            run = ++i;
        }
        put_text(b, v + run, i - run);
    } else if (esc == HOOKD_ESC_URL) {
        /* "." and ".." would be dot segments, which a client or server
         * removes with the segment before them: encode those dots. */
        size_t dots = 0;
        while (dots < n && s[dots] == '.')
            dots++;
        int dot_segment = n > 0 && dots == n;
        for (; i < n; i++) {
            if (s[i] && strchr(ALNUM "-._~", s[i]) && !dot_segment)
                put_unit(b, v + i, 1);
            else
                put_unit(b, u, (size_t)snprintf(u, sizeof u, "%%%02X", s[i]));
        }
    } else if (esc == HOOKD_ESC_HEADER) {
        /* NUL is dropped, other control characters but TAB become spaces:
         * a value never starts a header line. */
        for (; i < n; i++) {
            if ((s[i] >= 0x20 && s[i] != 0x7F) || s[i] == '\t')
                continue;
            put_text(b, v + run, i - run);
            if (s[i] != 0)
                put_unit(b, " ", 1);
            run = i + 1;
        }
        put_text(b, v + run, n - run);
    } else {
        put_text(b, v, n);
    }
}

static void put_cstr(struct buf *b, const char *s, int esc)
{
    if (s)
        put_value(b, s, strlen(s), esc);
}

static void put_json(struct buf *b, const json_t *v, int esc)
{
    if (!v)
        return;
    if (json_is_string(v)) {
        put_value(b, json_string_value(v), json_string_length(v), esc);
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        b->oom = 1;
        return;
    }
    put_value(b, s, strlen(s), esc);
    free(s);
}

char *hookd_template_render(const hookd_template *t, const hookd_event *ev,
                            int escape)
{
    if (!t)
        return NULL;
    struct buf b = {.max = HOOKD_TEMPLATE_MAX_OUT};
    if (!room(&b, 256))
        return NULL;
    for (size_t i = 0; i < t->nparts && !b.over && !b.oom; i++) {
        const struct part *p = &t->parts[i];
        char tmp[32];
        if (p->kind == P_LIT) {
            put_text(&b, t->src + p->off, p->len);
            continue;
        }
        if (!ev)
            continue;
        switch (p->kind) {
        case P_TYPE: put_cstr(&b, ev->type, escape); break;
        case P_ID: put_cstr(&b, ev->id, escape); break;
        case P_SOURCE: put_cstr(&b, ev->source, escape); break;
        case P_RECEIVED_AT: hookd_format_iso8601_ms(ev->received_at_ms, tmp); break;
        case P_ATTEMPT: snprintf(tmp, sizeof tmp, "%" PRIu32, ev->attempt); break;
        case P_BODY:
            if (ev->body)
                put_value(&b, ev->body, ev->body_len, escape);
            break;
        case P_JSON: put_json(&b, hookd_json_pointer_walk(ev->json, p->arg, p->ntok), escape); break;
        case P_HEADER: put_cstr(&b, hookd_event_header(ev, p->arg), escape); break;
        case P_CTCT_ACCOUNT: {
            char id[HOOKD_CTCT_ID_MAX + 1];
            const char *url = json_string_value(json_object_get(ev->json, "url"));
            if (url && hookd_ctct_account_id(url, id, sizeof id) == 0)
                put_cstr(&b, id, escape);
            else /* the enrichment may know it */
                put_json(&b, json_object_get(json_object_get(ev->enrichment, "ctct"),
                                             "account_id"), escape);
            break;
        }
        case P_CTCT_PLAN: {
            const json_t *plan =
                json_object_get(json_object_get(ev->enrichment, "ctct"), "plan");
            put_json(&b, json_object_get(plan, p->arg), escape);
            break;
        }
        case P_LIT: break;
        }
        if (p->kind == P_RECEIVED_AT || p->kind == P_ATTEMPT)
            put_cstr(&b, tmp, escape);
    }
    return hookd_buf_take(&b, NULL);
}

/* ---- event helpers ---- */

const char *hookd_event_header(const hookd_event *ev, const char *name)
{
    if (!ev || !name)
        return NULL;
    for (size_t i = 0; i < ev->nheaders; i++)
        if (ev->headers[i].name && strcasecmp(ev->headers[i].name, name) == 0)
            return ev->headers[i].value;
    return NULL;
}

/* A JSON string, with bytes that are not UTF-8 replaced by '?'. */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_null();
    size_t n = strlen(s);
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *c = strdup(s);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t l = hookd_utf8_len((unsigned char *)c + i, n - i);
        if (!l)
            c[i] = '?', l = 1;
        i += l;
    }
    j = json_stringn(c, n);
    free(c);
    return j;
}

static int set_new(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

json_t *hookd_event_json(const hookd_event *ev)
{
    if (!ev)
        return NULL;
    char when[32];
    hookd_format_iso8601_ms(ev->received_at_ms, when);
    json_t *o = json_object();
    if (!o)
        return NULL;
    /* A deep copy: the plugin may change it without touching the event that
     * other deliveries share. */
    if (set_new(o, "id", jstr(ev->id)) < 0 || set_new(o, "source", jstr(ev->source)) < 0 ||
        set_new(o, "type", jstr(ev->type)) < 0 ||
        set_new(o, "received_at", json_string(when)) < 0 ||
        set_new(o, "attempt", json_integer(ev->attempt)) < 0 ||
        set_new(o, "body", ev->json ? json_deep_copy(ev->json) : json_null()) < 0 ||
        (ev->enrichment &&
         set_new(o, "enrichment", json_deep_copy(ev->enrichment)) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/*
 * Copyright (C) hookd authors
 */

/* email: sends one mail per event over SMTP (libcurl).
 * Config: url (smtp:// or smtps://), starttls (required | optional | off),
 * username, password, from, to (list), cc (list), subject, body, html
 * (templates), ca_file, insecure (bool), connect_timeout (duration): the
 * rows of email_keys.
 * The message is assembled here rather than with curl's MIME API so that every
 * header is ours: text parts are base64 (any bytes, any line length, nothing
 * for dot-stuffing to touch), a non-ASCII subject becomes RFC 2047 words, and
 * templated values in headers are rendered with HOOKD_ESC_HEADER and then
 * cleaned again, so a CR or LF can never start a header. The Message-ID is
 * derived from the event id and the instance name: a retry after a lost
 * reply carries the same id, and clients can drop the duplicate.
 * Results: a 5xx reply fails; a 4xx, connection trouble or a timeout retries.
 * Thread-safe: the instance is read-only after init, and each delivery has its
 * own easy handle. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <hookd/plugin.h>

#include "common/config_map.h"
#include "common/text.h"

#define SUBJECT_PLAIN_MAX 900     /* longer subjects go as folded RFC 2047 words */
#define WORD_BYTES 45             /* raw bytes per encoded word: 60 base64 chars */
#define LINE_BYTES 57             /* raw bytes per base64 body line: 76 chars */
#define REPLY_MAX 160             /* bytes of the server's last reply kept */
#define CONNECT_TIMEOUT_MAX 3600000L

#define DEFAULT_SUBJECT "[hookd] {{type}}"
#define DEFAULT_BODY                                                           \
    "Event {{type}} ({{id}}) from {{source}}, received {{received_at}}:\n\n{{body}}\n"

enum { TLS_UNSET = -1 };

typedef struct html_part {
    size_t off, len;          /* literal text in html_src, or ... */
    hookd_template *t;        /* ... one placeholder, HTML-escaped when rendered */
} html_part;

typedef struct email_inst {
    const hookd_api *api;
    int curl_ready;
    char *url, *username, *password, *ca_file;
    long use_ssl;
    int insecure;
    long connect_timeout_ms;
    char *from_env;           /* envelope sender (addr-spec) */
    char *addr_headers;       /* "From: ...\r\nTo: ...\r\n[Cc: ...\r\n]" */
    char *msgid_tail;         /* ".<instance>@<domain of from>" */
    struct curl_slist *rcpt;  /* to + cc; only read by curl */
    size_t nrcpt;
    hookd_template *subject, *body;
    char *html_src;
    html_part *html;
    size_t nhtml;
} email_inst;

/* ---- small text helpers ---- */

/* In place: control characters become spaces, bytes that are not UTF-8 '?'.
 * The template escape already does the first; this also covers literal text. */
static void clean_line(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = hookd_utf8_len((unsigned char *)s + i, n - i);
        if (c < 0x20 || c == 0x7F)
            s[i] = ' ';
        else if (!l)
            s[i] = '?';
        i += l ? l : 1;
    }
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return 1;
    return 0;
}

/* Non-ASCII, something a reader would decode ("=?"), or too long for a line. */
static int needs_words(const char *s)
{
    if (strstr(s, "=?") || strlen(s) > SUBJECT_PLAIN_MAX)
        return 1;
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

/* RFC 2047 B-words of at most 75 characters, folded, never splitting a
 * UTF-8 character (s is clean). */
static void put_words(FILE *m, const char *s)
{
    size_t n = strlen(s), i = 0;
    unsigned char out[4 * WORD_BYTES / 3 + 4];
    do {
        size_t k = n - i < WORD_BYTES ? n - i : WORD_BYTES;
        size_t cut = k;
        while (cut > 0 && i + cut < n && ((unsigned char)s[i + cut] & 0xC0) == 0x80)
            cut--;
        if (cut > 0)
            k = cut;
        EVP_EncodeBlock(out, (const unsigned char *)s + i, (int)k);
        fprintf(m, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", out);
        i += k;
    } while (i < n);
}

/* A text part's bytes, line breaks made CRLF (the canonical form), base64. */
static void put_base64_text(FILE *m, const char *s)
{
    char *canon = NULL;
    size_t len = 0;
    FILE *c = open_memstream(&canon, &len);
    if (!c) {
        fputc('\0', m);   /* poisons the message: the caller sees a NUL */
        return;
    }
    for (const char *p = s; *p; p++) {
        if (*p == '\r' || *p == '\n') {
            fputs("\r\n", c);
            if (p[0] == '\r' && p[1] == '\n')
                p++;
        } else {
            fputc(*p, c);
        }
    }
    if (fclose(c) != 0) {
        free(canon);
        fputc('\0', m);
        return;
    }
    unsigned char out[4 * LINE_BYTES / 3 + 4];
    for (size_t i = 0; i < len; i += LINE_BYTES) {
        size_t k = len - i < LINE_BYTES ? len - i : LINE_BYTES;
        EVP_EncodeBlock(out, (unsigned char *)canon + i, (int)k);
        fprintf(m, "%s\r\n", out);
    }
    free(canon);
}

static void put_part(FILE *m, const char *subtype, const char *text)
{
    fprintf(m, "Content-Type: text/%s; charset=utf-8\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n", subtype);
    put_base64_text(m, text);
}

static void put_html_escaped(FILE *m, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", m); break;
        case '<': fputs("&lt;", m); break;
        case '>': fputs("&gt;", m); break;
        case '"': fputs("&quot;", m); break;
        case '\'': fputs("&#39;", m); break;
        default: fputc(*s, m);
        }
    }
}

/* ---- configuration ---- */

/* Sets err, evaluates to rc. */
#define bad(err, errlen, rc, ...) (hookd_say(err, errlen, __VA_ARGS__), (rc))

/* The config: block as email_keys reads it; parse_config builds the instance
 * from it. */
typedef struct email_cfg {
    char *url, *username, *password, *ca_file, *from, *subject, *body, *html;
    int starttls;             /* index in tls_modes; -1 when not given */
    int insecure;
    int64_t connect_ms;       /* 0: curl's own */
    hookd_cmap_list to, cc;
} email_cfg;

static const char *const tls_modes[] = {"required", "optional", "off", NULL};
static const long tls_curl[] = {CURLUSESSL_ALL, CURLUSESSL_TRY, CURLUSESSL_NONE};

#define KEY(n, t, f, d, field, desc)                                                          \
    {.name = n, .type = HOOKD_CONFIG_##t, .flags = f, .default_text = d,                      \
     .offset = offsetof(email_cfg, field), .description = desc}
static const hookd_config_key email_keys[] = {
    KEY("url", STRING, HOOKD_CONFIG_REQUIRED, NULL, url, "smtp://host[:port] or smtps://..."),
    KEY("from", STRING, HOOKD_CONFIG_REQUIRED, NULL, from,
        "the sender: user@host or Name <user@host>"),
    KEY("to", LIST, HOOKD_CONFIG_REQUIRED | HOOKD_CONFIG_NONEMPTY, NULL, to, "recipients"),
    KEY("cc", LIST, 0, NULL, cc, "more recipients, shown in Cc:"),
    {.name = "starttls", .type = HOOKD_CONFIG_ENUM, .choices = tls_modes,
     .offset = offsetof(email_cfg, starttls),
     .description = "upgrade smtp:// with STARTTLS (default: required with a username, "
                    "else optional)"},
    KEY("username", STRING, 0, NULL, username, "SMTP AUTH user"),
    KEY("password", STRING, HOOKD_CONFIG_SECRET, NULL, password, "SMTP AUTH password"),
    KEY("ca_file", FILE, 0, NULL, ca_file, "CA certificates (PEM) to trust instead of the system's"),
    KEY("insecure", BOOL, 0, "false", insecure, "do not verify TLS certificates"),
    {.name = "connect_timeout", .type = HOOKD_CONFIG_DURATION, .min = 1,
     .max = CONNECT_TIMEOUT_MAX, .offset = offsetof(email_cfg, connect_ms),
     .description = "how long connecting may take (default: libcurl's)"},
    KEY("subject", TEMPLATE, 0, DEFAULT_SUBJECT, subject, "one line"),
    KEY("body", TEMPLATE, 0, DEFAULT_BODY, body, "the text/plain part"),
    KEY("html", TEMPLATE, 0, NULL, html,
        "a text/html alternative; placeholders are HTML-escaped"),
    {.name = NULL},
};
#undef KEY

static void email_destroy(void *instance)
{
    email_inst *x = instance;
    if (!x)
        return;
    if (x->password) {
        explicit_bzero(x->password, strlen(x->password));
        free(x->password);
    }
    free(x->url);
    free(x->username);
    free(x->ca_file);
    free(x->from_env);
    free(x->addr_headers);
    free(x->msgid_tail);
    curl_slist_free_all(x->rcpt);
    if (x->api) {
        x->api->template_free(x->subject);
        x->api->template_free(x->body);
        for (size_t i = 0; i < x->nhtml; i++)
            x->api->template_free(x->html[i].t);
    }
    free(x->html);
    free(x->html_src);
    if (x->curl_ready)
        curl_global_cleanup();
    free(x);
}

/* "addr@host" or "Display Name <addr@host>". Writes the header form to m and
 * returns the malloc'd addr-spec, or NULL with err set. */
static char *parse_address(FILE *m, const char *key, const char *s, char *err,
                           size_t errlen)
{
    static const char ws[] = " \t";
    if (!*s || has_ctl(s)) {
        hookd_say(err, errlen, "%s: expected a non-empty address on one line", key);
        return NULL;
    }
    const char *b = s + strspn(s, ws), *e = s + strlen(s);
    while (e > b && strchr(ws, e[-1]))
        e--;
    const char *lt = memrchr(b, '<', (size_t)(e - b));
    const char *spec = b, *spec_end = e;
    char *name = NULL;
    if (lt && e[-1] == '>') {
        spec = lt + 1;
        spec_end = e - 1;
        const char *ne = lt;
        while (ne > b && strchr(ws, ne[-1]))
            ne--;
        if (ne > b && !(name = strndup(b, (size_t)(ne - b)))) {
            hookd_say(err, errlen, "out of memory");
            return NULL;
        }
    }
    size_t sl = (size_t)(spec_end - spec);
    const char *at = memrchr(spec, '@', sl);
    char *addr = strndup(spec, sl);
    if (!addr) {
        free(name);
        hookd_say(err, errlen, "out of memory");
        return NULL;
    }
    if (!at || at == spec || at == spec_end - 1 || addr[strcspn(addr, " \t<>,;()\"\\")]) {
        hookd_say(err, errlen, "%s: \"%s\" is not an address (user@host or Name <user@host>)",
                  key, s);
        free(name);
        free(addr);
        return NULL;
    }
    if (!name) {
        fputs(addr, m);
    } else {
        clean_line(name);
        size_t nl = strlen(name);
        if (nl > 1 && name[0] == '"' && name[nl - 1] == '"') {
            /* Unquoted here, quoted again below only if it needs it. */
            char *w = name;
            for (const char *r = name + 1; r < name + nl - 1; r++)
                *w++ = *r == '\\' && r + 1 < name + nl - 1 ? *++r : *r;
            *w = '\0';
        }
        if (needs_words(name)) {
            put_words(m, name);
        } else if (name[strcspn(name, "()<>[]:;@\\,.\"")]) {
            fputc('"', m);
            for (const char *p = name; *p; p++)
                fprintf(m, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
            fputc('"', m);
        } else {
            fputs(name, m);
        }
        fprintf(m, " <%s>", addr);
    }
    free(name);
    return addr;
}

/* "Name: a,\r\n b\r\n" and the envelope recipients; 0 or an error code. */
static int address_list(email_inst *x, FILE *m, const char *key, const hookd_cmap_list *l,
                        char *err, size_t errlen)
{
    if (l->n == 0)
        return 0;
    fprintf(m, "%c%s: ", key[0] - 'a' + 'A', key + 1);
    for (size_t i = 0; i < l->n; i++) {
        char where[32];
        snprintf(where, sizeof where, "%s[%zu]", key, i);
        if (i > 0)
            fputs(",\r\n ", m);
        char *addr = parse_address(m, where, l->v[i], err, errlen);
        if (!addr)
            return HOOKD_EINVAL;
        struct curl_slist *sl = curl_slist_append(x->rcpt, addr);
        free(addr);
        if (!sl)
            return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
        x->rcpt = sl;
        x->nrcpt++;
    }
    fputs("\r\n", m);
    return 0;
}

static int compile(email_inst *x, hookd_template **out, const char *key, const char *src,
                   char *err, size_t errlen)
{
    char why[256] = "";
    if (!(*out = x->api->template_compile(x->api, src, why, sizeof why)))
        return bad(err, errlen, HOOKD_EINVAL, "%s: %s", key, why[0] ? why : "bad template");
    return 0;
}

/* The html template as literal runs and single placeholders, split the way
 * the core splits it, so each value can be HTML-escaped on its own (the core
 * offers no HTML escape). */
static int compile_html(email_inst *x, const char *src, char *err, size_t errlen)
{
    hookd_template *whole;
    int rc = compile(x, &whole, "html", src, err, errlen);   /* the core's message */
    if (rc)
        return rc;
    x->api->template_free(whole);
    size_t n = strlen(src), i = 0, cap = 0;
    if (!(x->html_src = strdup(src)))
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    while (i < n) {
        if (x->nhtml + 2 > cap) {
            cap = cap ? cap * 2 : 16;
            html_part *np = realloc(x->html, cap * sizeof *np);
            if (!np)
                return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
            x->html = np;
        }
        const char *open = strstr(src + i, "{{");
        size_t at = open ? (size_t)(open - src) : n;
        while (open && src[at + 2] == '{')
            at++;   /* "{{{x}}}": the last two braces open */
        if (at > i)
            x->html[x->nhtml++] = (html_part){.off = i, .len = at - i};
        if (!open)
            break;
        const char *close = strstr(src + at + 2, "}}");
        size_t end = (size_t)(close - src) + 2;
        char *one = strndup(src + at, end - at);
        if (!one)
            return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
        html_part *p = &x->html[x->nhtml++];
        *p = (html_part){0};
        rc = compile(x, &p->t, "html", one, err, errlen);
        free(one);
        if (rc)
            return rc;
        i = end;
    }
    return 0;
}

/* What spans keys, and what the instance builds from them. */
static int build(email_inst *x, email_cfg *c, char *err, size_t errlen)
{
    /* Ours now: freed (the password wiped) by email_destroy. */
    x->url = c->url, x->username = c->username, x->password = c->password;
    x->ca_file = c->ca_file;
    c->url = c->username = c->password = c->ca_file = NULL;
    x->insecure = c->insecure;
    x->connect_timeout_ms = (long)c->connect_ms;
    if (strncasecmp(x->url, "smtp://", 7) && strncasecmp(x->url, "smtps://", 8))
        return bad(err, errlen, HOOKD_EINVAL, "url: expected smtp://host[:port] or smtps://...");
    if (has_ctl(x->url) || strchr(x->url, ' '))
        return bad(err, errlen, HOOKD_EINVAL, "url: no spaces or control characters");
    if (x->password && !x->username)
        return bad(err, errlen, HOOKD_EINVAL, "password: needs a username");
    /* Credentials never cross the network in the clear unless asked to. */
    x->use_ssl = c->starttls >= 0 ? tls_curl[c->starttls]
                 : x->username    ? (long)CURLUSESSL_ALL
                                  : (long)CURLUSESSL_TRY;
    if (has_ctl(c->subject))
        return bad(err, errlen, HOOKD_EINVAL, "subject: must be a single line");
    const char *from = c->from, *subject = c->subject, *body = c->body, *html = c->html;

    size_t hlen = 0;
    FILE *m = open_memstream(&x->addr_headers, &hlen);
    if (!m)
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    fputs("From: ", m);
    int rc = (x->from_env = parse_address(m, "from", from, err, errlen)) ? 0 : HOOKD_EINVAL;
    if (!rc)
        fputs("\r\n", m);
    /* From, To and Cc headers are rendered once: they hold no template. */
    if (!rc)
        rc = address_list(x, m, "to", &c->to, err, errlen);
    if (!rc)
        rc = address_list(x, m, "cc", &c->cc, err, errlen);
    if (fclose(m) != 0 && !rc)
        rc = bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    if (rc)
        return rc;

    /* Message-ID: <event id>.<instance>@<from's domain>; the tag keeps two
     * instances mailing the same event apart. */
    const char *inst = x->api->instance_name ? x->api->instance_name : "email";
    if (asprintf(&x->msgid_tail, ".%s@%s", inst, strrchr(x->from_env, '@') + 1) < 0) {
        x->msgid_tail = NULL;
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    }
    for (char *p = x->msgid_tail + 1; *p != '@'; p++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p))
            *p = '-';

    if ((rc = compile(x, &x->subject, "subject", subject, err, errlen)) ||
        (rc = compile(x, &x->body, "body", body, err, errlen)))
        return rc;
    return html ? compile_html(x, html, err, errlen) : 0;
}

static int parse_config(email_inst *x, const json_t *config, char *err, size_t errlen)
{
    email_cfg c = {.starttls = -1};
    int rc = hookd_cmap_read(email_keys, NULL, config, &c, err, errlen);
    if (rc == 0)
        rc = build(x, &c, err, errlen);
    hookd_cmap_free(email_keys, &c);
    return rc;
}

static int email_init(const hookd_api *api, const json_t *config, void **instance,
                      char *err, size_t errlen)
{
    email_inst *x = calloc(1, sizeof *x);
    if (!x)
        return bad(err, errlen, HOOKD_ENOMEM, "out of memory");
    x->api = api;
    /* Main thread, before any worker uses curl; counted, undone in destroy. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        email_destroy(x);
        return bad(err, errlen, HOOKD_EIO, "curl_global_init failed");
    }
    x->curl_ready = 1;
    int rc = parse_config(x, config, err, errlen);
    if (rc != 0) {
        email_destroy(x);
        return rc;
    }
    if (x->insecure)
        api->log(api, HOOKD_LOG_WARN, "insecure: TLS certificates are not verified");
    *instance = x;
    return 0;
}

/* ---- delivery ---- */

/* "Tue, 01 Jul 2025 12:00:00 +0000", without the locale's help. */
static void rfc5322_date(char out[40])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

/* The whole message, or NULL on no memory. */
static char *build_message(const email_inst *x, const hookd_event *ev, size_t *len)
{
    const hookd_api *api = x->api;
    char *msg = NULL, date[40];
    char *subject = api->template_render(x->subject, ev, HOOKD_ESC_HEADER);
    char *body = api->template_render(x->body, ev, HOOKD_ESC_PLAIN);
    FILE *m = subject && body ? open_memstream(&msg, len) : NULL;
    int ok = m != NULL;
    if (m) {
        clean_line(subject);
        rfc5322_date(date);
        fprintf(m, "Date: %s\r\n%sSubject: ", date, x->addr_headers);
        if (needs_words(subject))
            put_words(m, subject);
        else
            fputs(subject, m);
        fprintf(m, "\r\nMessage-ID: <%s%s>\r\nMIME-Version: 1.0\r\n"
                   "Auto-Submitted: auto-generated\r\n", ev->id, x->msgid_tail);
        if (!x->html) {
            put_part(m, "plain", body);
        } else {
            /* "=_" never occurs in base64, so the boundary cannot either. */
            fprintf(m, "Content-Type: multipart/alternative; boundary=\"=_hookd_%s\"\r\n\r\n"
                       "--=_hookd_%s\r\n", ev->id, ev->id);
            put_part(m, "plain", body);
            fprintf(m, "--=_hookd_%s\r\n", ev->id);
            char *html = NULL;
            size_t hl = 0;
            FILE *h = open_memstream(&html, &hl);
            ok = h != NULL;
            for (size_t i = 0; ok && i < x->nhtml; i++) {
                const html_part *p = &x->html[i];
                char *val = p->t ? api->template_render(p->t, ev, HOOKD_ESC_PLAIN) : NULL;
                if (!p->t)
                    fwrite(x->html_src + p->off, 1, p->len, h);
                else if (val)
                    put_html_escaped(h, val);
                ok = !p->t || val;
                api->free(val);
            }
            if (h && fclose(h) != 0)
                ok = 0;
            if (ok)
                put_part(m, "html", html);
            free(html);
            fprintf(m, "--=_hookd_%s--\r\n", ev->id);
        }
        if (fclose(m) != 0)
            ok = 0;
    }
    api->free(subject);
    api->free(body);
    /* A NUL inside means a part could not be built. */
    if (!ok || !msg || strlen(msg) != *len) {
        free(msg);
        return NULL;
    }
    return msg;
}

typedef struct upload {
    const char *p;
    size_t left;
} upload;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    upload *u = ud;
    size_t n = size * nmemb < u->left ? size * nmemb : u->left;
    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

/* Keeps the server's last 4xx or 5xx line (curl reports SMTP replies as
 * HEADER_IN; the 221 to curl's QUIT comes after it) for the reason. Only
 * incoming lines: outgoing ones may hold credentials. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t n, void *ud)
{
    (void)h;
    char *line = ud;
    if (type != CURLINFO_HEADER_IN)
        return 0;
    while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n'))
        n--;
    const char *nl = memrchr(data, '\n', n);
    if (nl) {
        n -= (size_t)(nl + 1 - data);
        data = (char *)nl + 1;
    }
    if (n == 0 || (data[0] != '4' && data[0] != '5'))
        return 0;
    if (n >= REPLY_MAX)
        n = REPLY_MAX - 1;
    memcpy(line, data, n);
    line[n] = '\0';
    clean_line(line);
    return 0;
}

static int email_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    email_inst *x = instance;
    int64_t left = ev->deadline_ms - x->api->monotonic_ms();
    if (left <= 0) {
        hookd_say(st->reason, sizeof st->reason, "deadline passed before sending");
        return HOOKD_RETRY;
    }
    size_t len = 0;
    char *msg = build_message(x, ev, &len);
    CURL *c = msg ? curl_easy_init() : NULL;
    if (!c) {
        free(msg);
        hookd_say(st->reason, sizeof st->reason, "out of memory");
        return HOOKD_RETRY;
    }
    upload up = {msg, len};
    char errbuf[CURL_ERROR_SIZE] = "", reply[REPLY_MAX] = "";
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USE_SSL, x->use_ssl);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, x->from_env);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, x->rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(left < 0x7fffffff ? left : 0x7fffffff));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, reply);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    if (x->connect_timeout_ms)
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, x->connect_timeout_ms);
    if (x->username)
        curl_easy_setopt(c, CURLOPT_USERNAME, x->username);
    if (x->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, x->password);
    if (x->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, x->ca_file);
    if (x->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    free(msg);
    if (rc == CURLE_OK) {
        x->api->log(x->api, HOOKD_LOG_DEBUG, "event %s mailed to %zu recipient(s)", ev->id,
                    x->nrcpt);
        return HOOKD_OK;
    }
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (code >= 400 && code < 600) {
        /* The server's own words, and curl's note of the stage it failed. */
        char digits[8];
        snprintf(digits, sizeof digits, "%ld", code);
        if (strncmp(reply, digits, 3) != 0)
            snprintf(reply, sizeof reply, "%ld", code);
        hookd_say(st->reason, sizeof st->reason, "SMTP %.150s (%.90s)", reply, why);
        clean_line(st->reason);
        return code >= 500 ? HOOKD_FAIL : HOOKD_RETRY;
    }
    hookd_say(st->reason, sizeof st->reason, "%s", why);
    clean_line(st->reason);
    /* What the configuration got wrong does not fix itself. */
    return rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? HOOKD_FAIL
                                                                        : HOOKD_RETRY;
}

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "email",
    .version = "1.0",
    .init = email_init,
    .deliver = email_deliver,
    .destroy = email_destroy,
    .config_keys = email_keys,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

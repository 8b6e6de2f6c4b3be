/* ctct_url: the URL rules of the ctct module -- the plan URL checked before
 * any credential is sent (docs/DESIGN.md §8), the API base and token endpoint of the
 * configuration, a subscription callback -- and the names of the webhook
 * topics. Apart from the client (ctct.c) because it is string work only, no
 * I/O, and is what the configuration loader and the CLI check input with. */
#include "ctct_priv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_URL 2048

/* ---- URLs ------------------------------------------------------------------- */

typedef struct url_parts {
    int https;
    char host[256];    /* lower case; an IPv6 literal keeps its brackets */
    int port;          /* explicit, or the scheme's */
    int explicit_port;
    const char *rest;  /* from the first '/', '?' or '#' after the authority */
} url_parts;

static int split_url(const char *url, url_parts *u, char *why, size_t whylen)
{
    size_t len = url ? strlen(url) : 0;
    if (!url || !len) {
        hookd_say(why, whylen, "no url");
        return -1;
    }
    if (len > MAX_URL) {
        hookd_say(why, whylen, "url longer than %d characters", MAX_URL);
        return -1;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '\\') {
            hookd_say(why, whylen, "url contains a space, a control character, a "
                                        "backslash or a non-ASCII byte");
            return -1;
        }
    const char *a;
    if (!strncasecmp(url, "https://", 8)) {
        u->https = 1;
        a = url + 8;
    } else if (!strncasecmp(url, "http://", 7)) {
        u->https = 0;
        a = url + 7;
    } else {
        hookd_say(why, whylen, "not an http(s) url");
        return -1;
    }
    size_t alen = strcspn(a, "/?#");
    u->rest = a + alen;
    if (memchr(a, '@', alen)) {
        hookd_say(why, whylen, "url carries userinfo (user@host)");
        return -1;
    }
    const char *hend, *port = NULL;
    if (alen && *a == '[') {
        const char *rb = memchr(a, ']', alen);
        if (!rb) {
            hookd_say(why, whylen, "url host: unterminated [");
            return -1;
        }
        hend = rb + 1;
        for (const char *p = a + 1; p < rb; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') {
                hookd_say(why, whylen, "url host: not an IPv6 address");
                return -1;
            }
        if (hend < a + alen && *hend != ':') {
            hookd_say(why, whylen, "url host: text after ]");
            return -1;
        }
        if (hend == a + 2) {
            hookd_say(why, whylen, "url has no host");
            return -1;
        }
    } else {
        hend = memchr(a, ':', alen);
        if (!hend)
            hend = a + alen;
        for (const char *p = a; p < hend; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') {
                hookd_say(why, whylen, "url host: invalid character");
                return -1;
            }
    }
    size_t hlen = (size_t)(hend - a);
    if (hlen == 0) {
        hookd_say(why, whylen, "url has no host");
        return -1;
    }
    if (hlen >= sizeof u->host) {
        hookd_say(why, whylen, "url host too long");
        return -1;
    }
    for (size_t i = 0; i < hlen; i++)
        u->host[i] = (char)tolower((unsigned char)a[i]);
    u->host[hlen] = '\0';
    if (hend < a + alen) { /* ':' */
        port = hend + 1;
        size_t plen = (size_t)(a + alen - port);
        long v = 0;
        if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen ||
            (v = strtol(port, NULL, 10)) < 1 || v > 65535) {
            hookd_say(why, whylen, "url port: expected 1 to 65535");
            return -1;
        }
        u->port = (int)v;
        u->explicit_port = 1;
    } else {
        u->port = u->https ? 443 : 80;
        u->explicit_port = 0;
    }
    return 0;
}

static int real_host(const char *host)
{
    return !strcmp(host, "api.constantcontact.com") || !strcmp(host, "api.cc.email");
}

/* "/v2|v3/partner/accounts/{id}/plan" and nothing after it. */
static int plan_path(const char *p)
{
    if (strncmp(p, "/v2/", 4) && strncmp(p, "/v3/", 4))
        return 0;
    p += 4;
    if (strncmp(p, "partner/accounts/", 17))
        return 0;
    p += 17;
    size_t n = 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-')
        n++;
    return n >= 1 && n <= 64 && !strcmp(p + n, "/plan");
}

int hookd_ctct_url_allowed(const hookd_ctct_cfg *cfg, const char *url, char *why, size_t whylen)
{
    url_parts u, b;
    char bwhy[8];
    if (why && whylen)
        why[0] = '\0';
    if (split_url(url, &u, why, whylen) < 0)
        return -1;
    int base = cfg && cfg->base_url && split_url(cfg->base_url, &b, bwhy, sizeof bwhy) == 0 &&
               b.https == u.https && b.port == u.port && !strcmp(b.host, u.host);
    if (!base) {
        if (!real_host(u.host)) {
            hookd_say(why, whylen, "host %s is not a Constant Contact API host%s", u.host,
                cfg && cfg->base_url ? " nor the configured ctct.base_url" : "");
            return -1;
        }
        if (!u.https) {
            hookd_say(why, whylen, "not https");
            return -1;
        }
        if (u.port != 443) {
            hookd_say(why, whylen, "port %d is not allowed on %s", u.port, u.host);
            return -1;
        }
    }
    if (!plan_path(u.rest)) {
        hookd_say(why, whylen, "path is not /v2|v3/partner/accounts/{id}/plan (id of 1 "
                                    "to 64 letters, digits, '_' or '-'; no query)");
        return -1;
    }
    return 0;
}

int hookd_ctct_base_check(const char *url, char **norm, char *why, size_t whylen)
{
    url_parts u;
    *norm = NULL;
    if (split_url(url, &u, why, whylen) < 0)
        return -1;
    if (*u.rest && strcmp(u.rest, "/")) {
        hookd_say(why, whylen, "has a path, query or fragment");
        return -1;
    }
    char buf[300];
    if (u.explicit_port)
        snprintf(buf, sizeof buf, "%s://%s:%d", u.https ? "https" : "http", u.host, u.port);
    else
        snprintf(buf, sizeof buf, "%s://%s", u.https ? "https" : "http", u.host);
    if (!(*norm = strdup(buf))) {
        hookd_say(why, whylen, "out of memory");
        return -1;
    }
    return 0;
}

/* An http(s) URL hookd will fetch: split_url's rules, and no fragment. */
static int fetch_url(const char *url, url_parts *u, char *why, size_t whylen)
{
    if (split_url(url, u, why, whylen) < 0)
        return -1;
    if (strchr(u->rest, '#')) {
        hookd_say(why, whylen, "url has a fragment");
        return -1;
    }
    return 0;
}

int hookd_ctct_token_url_check(const char *url, char *why, size_t whylen)
{
    url_parts u;
    return fetch_url(url, &u, why, whylen);
}

int hookd_ctct_jwks_url_check(const char *url, char *why, size_t whylen)
{
    url_parts u;
    if (fetch_url(url, &u, why, whylen) < 0)
        return -1;
    /* Keys fetched in clear text could be swapped on the way: plain http
     * only where nothing travels, for tests and local mirrors. */
    int loopback = !strcmp(u.host, "127.0.0.1") || !strcmp(u.host, "[::1]") ||
                   !strcmp(u.host, "localhost");
    if (!u.https && !loopback) {
        hookd_say(why, whylen, "must be https (plain http only on a loopback host)");
        return -1;
    }
    return 0;
}

int hookd_ctct_callback_ok(const char *url, char *why, size_t whylen)
{
    size_t n = url ? strlen(url) : 0;
    if (!url || strncasecmp(url, "https://", 8)) {
        hookd_say(why, whylen, "the callback url must start with https://");
        return -1;
    }
    if (n > HOOKD_CTCT_MAX_CALLBACK) {
        hookd_say(why, whylen,
                       "the callback url is %zu characters long; at most %d are allowed", n,
                       HOOKD_CTCT_MAX_CALLBACK);
        return -1;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
            hookd_say(why, whylen, "the callback url contains a space, a control "
                                        "character or a non-ASCII byte");
            return -1;
        }
    if (!url[8] || strchr("/?#:@", url[8])) {
        hookd_say(why, whylen, "the callback url has no host");
        return -1;
    }
    return 0;
}

/* ---- topics ----------------------------------------------------------------- */

static const struct {
    const char *event, *name;
} topics[] = {
    {"tier.increase", "Billing Tier Upgrade"},
    {"tier.decrease", "Billing Tier Downgrade"},
    {"account.cancel", "Account Cancelled"},
    {"account.disable", "Account Disabled"},
};
_Static_assert(sizeof topics / sizeof topics[0] == HOOKD_CTCT_NTOPICS,
               "HOOKD_CTCT_NTOPICS counts the topics");

const char *hookd_ctct_topic_event(long id)
{
    return id >= 1 && id <= HOOKD_CTCT_NTOPICS ? topics[id - 1].event : NULL;
}

const char *hookd_ctct_topic_name(long id)
{
    return id >= 1 && id <= HOOKD_CTCT_NTOPICS ? topics[id - 1].name : NULL;
}

int hookd_ctct_topic_parse(const char *s)
{
    if (!s)
        return -1;
    for (long i = 0; i < HOOKD_CTCT_NTOPICS; i++) {
        char num[4];
        snprintf(num, sizeof num, "%ld", i + 1);
        if (!strcmp(s, num) || !strcmp(s, topics[i].event))
            return (int)(i + 1);
    }
    return -1;
}

int hookd_ctct_account_id(const char *url, char *out, size_t outlen)
{
    if (!url)
        return -1;
    size_t end = strcspn(url, "?#"); /* the path ends there */
    for (const char *p = url; (p = strstr(p, "/accounts/")) && (size_t)(p - url) < end; p++) {
        const char *id = p + 10;
        size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"); /* stops at '?', '#' */
        size_t rest = end - (size_t)(id - url) - n;
        if (n == 0 || n > HOOKD_CTCT_ID_MAX ||
            !(rest == 0 || (rest == 5 && memcmp(id + n, "/plan", 5) == 0)))
            continue;
        if (!out || n >= outlen)
            return -1;
        memcpy(out, id, n);
        out[n] = '\0';
        return 0;
    }
    return -1;
}

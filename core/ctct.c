/* ctct: the Constant Contact partner API client (see ctct.h). One libcurl
 * easy handle per request, borrowed from a small pool so connections are
 * reused without being shared; the v3 partner token is cached under its own
 * lock, which is also held while a new one is fetched so that many workers
 * wanting one at once cause one token request, not many. */
#include "ctct.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <hookd/version.h>

#include "event.h"

#define MAX_URL 2048
#define SNIPPET 200                 /* bytes of an answer quoted in a reason */
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_TOKEN_TTL_S 3600
#define TOKEN_EARLY_MS 60000        /* renew this long before the token expires */
#define MAX_TOKEN 8192
#define MAX_RETRY_AFTER_MS (7LL * 86400 * 1000)
#define USER_AGENT "hookd/" HOOKD_VERSION_STRING

struct hookd_ctct {
    const hookd_ctct_cfg *cfg;
    char *key_query;          /* "api_key=" + the key, percent-encoded (v2) */
    pthread_mutex_t lock;     /* idle */
    CURL **idle;
    size_t nidle, cap;
    pthread_mutex_t tlock;    /* token, renew_at, gen */
    char *token;
    int64_t renew_at;         /* monotonic ms */
    unsigned long gen;        /* counts tokens obtained */
};

/* ---- small helpers ---------------------------------------------------------- */

static __attribute__((format(printf, 3, 4))) void say(char *why, size_t whylen,
                                                      const char *fmt, ...)
{
    if (!why || !whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* One line of printable ASCII: runs of blanks and control characters become
 * one space, other bytes '?'. */
static void one_line(char *s)
{
    char *w = s;
    int space = 1;
    for (const char *r = s; *r; r++) {
        unsigned char ch = (unsigned char)*r;
        if (ch <= ' ' || ch == 0x7f) {
            if (!space)
                *w++ = ' ';
            space = 1;
            continue;
        }
        *w++ = ch < 0x80 ? (char)ch : '?';
        space = 0;
    }
    while (w > s && w[-1] == ' ')
        w--;
    *w = '\0';
}

/* Replaces every occurrence of s (4 bytes or more) in buf with "***". */
static void scrub_one(char *buf, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    char *p;
    if (n < 4)
        return;
    while ((p = strstr(buf, s)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + n, strlen(p + n) + 1);
    }
}

/* A reason fit for a log line: one line, no secret. */
static void clean_reason(const hookd_ctct *c, char *why, const char *token)
{
    if (!why)
        return;
    one_line(why);
    if (!c)
        return;
    const hookd_ctct_cfg *cfg = c->cfg;
    scrub_one(why, cfg->api_key);
    scrub_one(why, c->key_query ? c->key_query + 8 : NULL);
    scrub_one(why, cfg->password);
    scrub_one(why, cfg->client_secret);
    scrub_one(why, token);
}

static char *pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *w = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *w++ = (char)ch;
        } else {
            *w++ = '%';
            *w++ = hex[ch >> 4];
            *w++ = hex[ch & 15];
        }
    }
    *w = '\0';
    return out;
}

static int64_t clamp_ms(long long s)
{
    return s > MAX_RETRY_AFTER_MS / 1000 ? MAX_RETRY_AFTER_MS : (int64_t)s * 1000;
}

/* Retry-After (seconds or an HTTP date) in ms from now; -1 if absent or bad. */
static int64_t retry_after_ms(const char *v)
{
    if (!*v)
        return -1;
    if (*v >= '0' && *v <= '9') {
        char *end;
        errno = 0;
        long long s = strtoll(v, &end, 10);
        if (*end)
            return -1;
        return errno ? MAX_RETRY_AFTER_MS : clamp_ms(s);
    }
    time_t t = curl_getdate(v, NULL), now = time(NULL);
    if (t == (time_t)-1)
        return -1;
    return t <= now ? 0 : clamp_ms((long long)(t - now));
}

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
        say(why, whylen, "no url");
        return -1;
    }
    if (len > MAX_URL) {
        say(why, whylen, "url longer than %d characters", MAX_URL);
        return -1;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '\\') {
            say(why, whylen, "url contains a space, a control character, a backslash or a "
                             "non-ASCII byte");
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
        say(why, whylen, "not an http(s) url");
        return -1;
    }
    size_t alen = strcspn(a, "/?#");
    u->rest = a + alen;
    if (memchr(a, '@', alen)) {
        say(why, whylen, "url carries userinfo (user@host)");
        return -1;
    }
    const char *hend, *port = NULL;
    if (alen && *a == '[') {
        const char *rb = memchr(a, ']', alen);
        if (!rb) {
            say(why, whylen, "url host: unterminated [");
            return -1;
        }
        hend = rb + 1;
        for (const char *p = a + 1; p < rb; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') {
                say(why, whylen, "url host: not an IPv6 address");
                return -1;
            }
        if (hend < a + alen && *hend != ':') {
            say(why, whylen, "url host: text after ]");
            return -1;
        }
        if (hend == a + 2) {
            say(why, whylen, "url has no host");
            return -1;
        }
    } else {
        hend = memchr(a, ':', alen);
        if (!hend)
            hend = a + alen;
        for (const char *p = a; p < hend; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') {
                say(why, whylen, "url host: invalid character");
                return -1;
            }
    }
    size_t hlen = (size_t)(hend - a);
    if (hlen == 0) {
        say(why, whylen, "url has no host");
        return -1;
    }
    if (hlen >= sizeof u->host) {
        say(why, whylen, "url host too long");
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
            say(why, whylen, "url port: expected 1 to 65535");
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
            say(why, whylen, "host %s is not a Constant Contact API host%s", u.host,
                cfg && cfg->base_url ? " nor the configured ctct.base_url" : "");
            return -1;
        }
        if (!u.https) {
            say(why, whylen, "not https");
            return -1;
        }
        if (u.port != 443) {
            say(why, whylen, "port %d is not allowed on %s", u.port, u.host);
            return -1;
        }
    }
    if (!plan_path(u.rest)) {
        say(why, whylen, "path is not /v2|v3/partner/accounts/{id}/plan (id of 1 to 64 "
                         "letters, digits, '_' or '-'; no query)");
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
        say(why, whylen, "has a path, query or fragment");
        return -1;
    }
    char buf[300];
    if (u.explicit_port)
        snprintf(buf, sizeof buf, "%s://%s:%d", u.https ? "https" : "http", u.host, u.port);
    else
        snprintf(buf, sizeof buf, "%s://%s", u.https ? "https" : "http", u.host);
    if (!(*norm = strdup(buf))) {
        say(why, whylen, "out of memory");
        return -1;
    }
    return 0;
}

int hookd_ctct_token_url_check(const char *url, char *why, size_t whylen)
{
    url_parts u;
    if (split_url(url, &u, why, whylen) < 0)
        return -1;
    if (strchr(u.rest, '#')) {
        say(why, whylen, "url has a fragment");
        return -1;
    }
    return 0;
}

int hookd_ctct_callback_ok(const char *url, char *why, size_t whylen)
{
    size_t n = url ? strlen(url) : 0;
    if (!url || strncasecmp(url, "https://", 8)) {
        say(why, whylen, "the callback url must start with https://");
        return -1;
    }
    if (n > HOOKD_CTCT_MAX_CALLBACK) {
        say(why, whylen, "the callback url is %zu characters long; at most %d are allowed", n,
            HOOKD_CTCT_MAX_CALLBACK);
        return -1;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
            say(why, whylen, "the callback url contains a space, a control character or a "
                             "non-ASCII byte");
            return -1;
        }
    if (!url[8] || strchr("/?#:@", url[8])) {
        say(why, whylen, "the callback url has no host");
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
#define NTOPICS ((long)(sizeof topics / sizeof topics[0]))

const char *hookd_ctct_topic_event(long id)
{
    return id >= 1 && id <= NTOPICS ? topics[id - 1].event : NULL;
}

const char *hookd_ctct_topic_name(long id)
{
    return id >= 1 && id <= NTOPICS ? topics[id - 1].name : NULL;
}

int hookd_ctct_topic_parse(const char *s)
{
    if (!s)
        return -1;
    for (long i = 0; i < NTOPICS; i++) {
        char num[4];
        snprintf(num, sizeof num, "%ld", i + 1);
        if (!strcmp(s, num) || !strcmp(s, topics[i].event))
            return (int)(i + 1);
    }
    return -1;
}

/* ---- the client ------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_setup(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

hookd_ctct *hookd_ctct_new(const hookd_ctct_cfg *cfg)
{
    if (!cfg || !cfg->present || !cfg->base_url || !cfg->api_key)
        return NULL;
    pthread_once(&curl_once, curl_setup);
    if (!curl_ok)
        return NULL;
    hookd_ctct *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg = cfg;
    char *k = pct_encode(cfg->api_key);
    if (k && asprintf(&c->key_query, "api_key=%s", k) < 0)
        c->key_query = NULL;
    free(k);
    if (!c->key_query) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->tlock, NULL);
    return c;
}

void hookd_ctct_free(hookd_ctct *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nidle; i++)
        curl_easy_cleanup(c->idle[i]);
    free(c->idle);
    if (c->token) {
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
    }
    explicit_bzero(c->key_query, strlen(c->key_query));
    free(c->key_query);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->tlock);
    free(c);
}

static CURL *take_handle(hookd_ctct *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->nidle > 0)
        h = c->idle[--c->nidle];
    pthread_mutex_unlock(&c->lock);
    return h ? h : curl_easy_init();
}

static void give_back(hookd_ctct *c, CURL *h)
{
    curl_easy_reset(h); /* options (and credentials) go; connections stay */
    pthread_mutex_lock(&c->lock);
    if (c->nidle == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 4;
        CURL **n = nc <= 64 ? realloc(c->idle, nc * sizeof *n) : NULL;
        if (!n) {
            pthread_mutex_unlock(&c->lock);
            curl_easy_cleanup(h);
            return;
        }
        c->idle = n;
        c->cap = nc;
    }
    c->idle[c->nidle++] = h;
    pthread_mutex_unlock(&c->lock);
}

/* ---- one exchange ----------------------------------------------------------- */

typedef struct answer {
    long status;
    char *body;
    size_t len, cap;
    int too_big;
    char retry_after[64];
} answer;

static void answer_reset(answer *a)
{
    free(a->body);
    memset(a, 0, sizeof *a);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    answer *a = ud;
    size_t len = size * n;
    if (len > HOOKD_CTCT_MAX_ANSWER - a->len) {
        a->too_big = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (a->len + len + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + len + 1)
            cap *= 2;
        char *nb = realloc(a->body, cap);
        if (!nb)
            return 0;
        a->body = nb;
        a->cap = cap;
    }
    memcpy(a->body + a->len, p, len);
    a->len += len;
    a->body[a->len] = '\0';
    return len;
}

static void header_value(const char *p, size_t len, char *dst, size_t dstlen)
{
    while (len > 0 && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len > 0 && strchr("\r\n \t", p[len - 1]))
        len--;
    if (len >= dstlen)
        len = dstlen - 1;
    memcpy(dst, p, len);
    dst[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    answer *a = ud;
    size_t len = size * n;
    if (len > 5 && !memcmp(p, "HTTP/", 5)) {
        a->retry_after[0] = '\0';
        a->len = 0;
    } else if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
        header_value(p + 12, len - 12, a->retry_after, sizeof a->retry_after);
    }
    return len;
}

static int retryable(long status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

typedef struct request {
    const char *method;          /* GET, PUT, POST, DELETE */
    const char *url;
    struct curl_slist *headers;
    const char *user, *pass;     /* Basic auth, or NULL */
    const char *body;            /* NULL: none */
    int64_t deadline_ms;
} request;

/* 0 when an answer came (a->status); otherwise HOOKD_CTCT_RETRY or _FAIL
 * with the reason in why (not yet cleaned of secrets). */
static int exchange(hookd_ctct *c, const request *q, answer *a, char *why, size_t whylen)
{
    int64_t limit = c->cfg->timeout_ms > 0 ? c->cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (q->deadline_ms > 0) {
        int64_t left = q->deadline_ms - hookd_monotonic_ms();
        if (left <= 0) {
            say(why, whylen, "deadline passed before sending");
            return HOOKD_CTCT_RETRY;
        }
        if (left < limit)
            limit = left;
    }
    CURL *h = take_handle(c);
    if (!h) {
        say(why, whylen, "out of memory");
        return HOOKD_CTCT_RETRY;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    size_t blen = q->body ? strlen(q->body) : 0;
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                                        \
    do {                                                                                     \
        if (cc == CURLE_OK)                                                                  \
            cc = curl_easy_setopt(h, opt, val);                                              \
    } while (0)
    SET(CURLOPT_URL, q->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)limit);
    SET(CURLOPT_TIMEOUT_MS, (long)limit);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_HTTPHEADER, q->headers);
    SET(CURLOPT_ERRORBUFFER, cerr);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, a);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, a);
    if (q->user) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, q->user);
        SET(CURLOPT_PASSWORD, q->pass ? q->pass : "");
    }
    if (!strcmp(q->method, "GET")) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(q->method, "DELETE") && !q->body) {
        SET(CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        SET(CURLOPT_POSTFIELDS, q->body ? q->body : "");
        if (strcmp(q->method, "POST"))
            SET(CURLOPT_CUSTOMREQUEST, q->method);
    }
#undef SET
    if (cc == CURLE_OK)
        cc = curl_easy_perform(h);
    else
        snprintf(cerr, sizeof cerr, "curl: %s", curl_easy_strerror(cc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    give_back(c, h);
    if (cc == CURLE_OK)
        return 0;
    if (a->too_big) {
        /* A server in trouble may say so at length: a 5xx stays retryable. */
        int again = retryable(a->status);
        say(why, whylen, "HTTP %ld: the answer is larger than %d KiB", a->status,
            HOOKD_CTCT_MAX_ANSWER / 1024);
        a->status = 0;
        return again ? HOOKD_CTCT_RETRY : HOOKD_CTCT_FAIL;
    }
    say(why, whylen, "%s (curl %d)", cerr[0] ? cerr : curl_easy_strerror(cc), (int)cc);
    a->status = 0;
    return cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ? HOOKD_CTCT_FAIL
                                                                        : HOOKD_CTCT_RETRY;
}

/* "HTTP 404: first bytes of the answer" */
static void status_reason(const answer *a, const char *what, char *why, size_t whylen)
{
    char snip[SNIPPET + 1] = "";
    size_t n = a->len < SNIPPET ? a->len : SNIPPET;
    if (a->body)
        memcpy(snip, a->body, n);
    snip[n] = '\0';
    one_line(snip);
    say(why, whylen, "%s%sHTTP %ld%s%s", what ? what : "", what ? ": " : "", a->status,
        snip[0] ? ": " : "", snip);
}

static int add_header(struct curl_slist **l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int add_header(struct curl_slist **l, const char *fmt, ...)
{
    char *line;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    struct curl_slist *nl = curl_slist_append(*l, line);
    explicit_bzero(line, (size_t)n);
    free(line);
    if (!nl)
        return -1;
    *l = nl;
    return 0;
}

static void free_headers(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

/* ---- the v3 partner token --------------------------------------------------- */

typedef struct outcome {
    int code;
    long status;
    int from_token;
    int64_t retry_after_ms;
    char why[512];
} outcome;

/* With tlock held: a new token from the token endpoint into c->token. */
static int fetch_token(hookd_ctct *c, int64_t deadline_ms, outcome *o)
{
    const hookd_ctct_cfg *cfg = c->cfg;
    struct curl_slist *h = NULL;
    answer a = {0};
    int r;
    o->from_token = 1;
    if (add_header(&h, "Accept: application/json") < 0 ||
        add_header(&h, "Content-Type: application/x-www-form-urlencoded") < 0 ||
        add_header(&h, "Expect:") < 0) {
        free_headers(h);
        say(o->why, sizeof o->why, "out of memory");
        return o->code = HOOKD_CTCT_RETRY;
    }
    request q = {.method = "POST",
                 .url = cfg->token_url ? cfg->token_url : HOOKD_CTCT_TOKEN_URL,
                 .headers = h,
                 .user = cfg->client_id,
                 .pass = cfg->client_secret,
                 .body = "grant_type=client_credentials",
                 .deadline_ms = deadline_ms};
    r = exchange(c, &q, &a, o->why, sizeof o->why);
    free_headers(h);
    o->status = a.status;
    if (r != 0) {
        char tmp[sizeof o->why];
        snprintf(tmp, sizeof tmp, "partner token: %.480s", o->why);
        memcpy(o->why, tmp, sizeof tmp);
        answer_reset(&a);
        return o->code = r;
    }
    if (a.status < 200 || a.status > 299) {
        int again = retryable(a.status);
        status_reason(&a, "partner token refused", o->why, sizeof o->why);
        o->retry_after_ms = again ? retry_after_ms(a.retry_after) : -1;
        answer_reset(&a);
        return o->code = again ? HOOKD_CTCT_RETRY : HOOKD_CTCT_FAIL;
    }
    json_t *j = a.body ? json_loadb(a.body, a.len, 0, NULL) : NULL;
    if (a.body)
        explicit_bzero(a.body, a.len);
    answer_reset(&a);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    json_t *exp = json_object_get(j, "expires_in");
    long long ttl = json_is_integer(exp) ? (long long)json_integer_value(exp)
                    : json_is_string(exp) ? strtoll(json_string_value(exp), NULL, 10)
                                          : DEFAULT_TOKEN_TTL_S;
    int ok = tok && *tok && strlen(tok) < MAX_TOKEN;
    for (const char *p = tok; ok && *p; p++)
        ok = (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f;
    if (!ok) {
        json_decref(j);
        say(o->why, sizeof o->why, "partner token: the answer has no usable access_token");
        return o->code = HOOKD_CTCT_FAIL;
    }
    if (ttl <= 0 || ttl > 30LL * 86400)
        ttl = DEFAULT_TOKEN_TTL_S;
    char *copy = strdup(tok);
    explicit_bzero((char *)tok, strlen(tok));
    json_decref(j);
    if (!copy) {
        say(o->why, sizeof o->why, "out of memory");
        return o->code = HOOKD_CTCT_RETRY;
    }
    if (c->token) {
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
    }
    c->token = copy;
    int64_t early = ttl * 1000 > 2 * TOKEN_EARLY_MS ? TOKEN_EARLY_MS : ttl * 1000 / 2;
    c->renew_at = hookd_monotonic_ms() + ttl * 1000 - early;
    c->gen++;
    return o->code = HOOKD_CTCT_OK;
}

/* A copy of a valid token in *tok (and its generation). With stale_gen != 0,
 * the token of that generation was refused: a new one is fetched unless
 * another thread already did. */
static int get_token(hookd_ctct *c, int64_t deadline_ms, unsigned long stale_gen, char **tok,
                     unsigned long *gen, outcome *o)
{
    int r = HOOKD_CTCT_OK;
    pthread_mutex_lock(&c->tlock);
    if (!c->token || hookd_monotonic_ms() >= c->renew_at || (stale_gen && stale_gen == c->gen))
        r = fetch_token(c, deadline_ms, o);
    if (r == HOOKD_CTCT_OK) {
        *gen = c->gen;
        if (!(*tok = strdup(c->token))) {
            say(o->why, sizeof o->why, "out of memory");
            r = o->code = HOOKD_CTCT_RETRY;
        }
    }
    pthread_mutex_unlock(&c->tlock);
    return r;
}

/* ---- an API call ------------------------------------------------------------ */

/* One call to the API with this version's credentials; for v3 a 401 renews
 * the token and tries once more. 0 when an answer came (a->status, any);
 * otherwise the code, with o filled. */
static int api_call(hookd_ctct *c, const char *method, const char *url, const char *body,
                    int64_t deadline_ms, answer *a, outcome *o)
{
    const hookd_ctct_cfg *cfg = c->cfg;
    unsigned long gen = 0;
    o->retry_after_ms = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct curl_slist *h = NULL;
        char *tok = NULL;
        int r;
        if (cfg->api == 3 &&
            (r = get_token(c, deadline_ms, attempt ? gen : 0, &tok, &gen, o)) != HOOKD_CTCT_OK) {
            clean_reason(c, o->why, NULL);
            return r;
        }
        /* Without a body, "Content-Type:" keeps curl from adding its form type. */
        int bad = add_header(&h, "Accept: application/json") < 0 || add_header(&h, "Expect:") < 0 ||
                  add_header(&h, body ? "Content-Type: application/json" : "Content-Type:") < 0;
        if (!bad && cfg->api == 3)
            bad = add_header(&h, "x-api-key: %s", cfg->api_key) < 0 ||
                  add_header(&h, "Authorization: %s", tok) < 0;
        if (bad) {
            free_headers(h);
            if (tok)
                explicit_bzero(tok, strlen(tok));
            free(tok);
            say(o->why, sizeof o->why, "out of memory");
            return o->code = HOOKD_CTCT_RETRY;
        }
        request q = {.method = method,
                     .url = url,
                     .headers = h,
                     .user = cfg->api == 2 ? cfg->username : NULL,
                     .pass = cfg->api == 2 ? cfg->password : NULL,
                     .body = body,
                     .deadline_ms = deadline_ms};
        answer_reset(a);
        r = exchange(c, &q, a, o->why, sizeof o->why);
        free_headers(h);
        clean_reason(c, o->why, tok);
        if (tok)
            explicit_bzero(tok, strlen(tok));
        free(tok);
        o->from_token = 0;
        o->status = a->status;
        if (r != 0)
            return o->code = r;
        if (!(cfg->api == 3 && a->status == 401))
            break;
    }
    return 0;
}

/* The full URL of path under base_url, with ?api_key for v2. */
static char *api_url(const hookd_ctct *c, const char *path_or_url, int is_url)
{
    char *u;
    const char *sep = strchr(path_or_url, '?') ? "&" : "?";
    int n = c->cfg->api == 2
                ? asprintf(&u, "%s%s%s%s", is_url ? "" : c->cfg->base_url, path_or_url, sep,
                           c->key_query)
                : asprintf(&u, "%s%s", is_url ? "" : c->cfg->base_url, path_or_url);
    return n < 0 ? NULL : u;
}

static void free_url(char *u)
{
    if (u) {
        explicit_bzero(u, strlen(u));
        free(u);
    }
}

/* ---- the plan --------------------------------------------------------------- */

int hookd_ctct_fetch_plan(hookd_ctct *c, const char *url, int64_t deadline_ms, json_t **plan,
                          int64_t *retry_after_ms_out, char *why, size_t whylen)
{
    outcome o = {.retry_after_ms = -1};
    answer a = {0};
    int r;
    *plan = NULL;
    if (retry_after_ms_out)
        *retry_after_ms_out = -1;
    if (why && whylen)
        why[0] = '\0';
    if (!c) {
        say(why, whylen, "no ctct: block is configured");
        return HOOKD_CTCT_FAIL;
    }
    char uwhy[256];
    if (hookd_ctct_url_allowed(c->cfg, url, uwhy, sizeof uwhy) < 0) {
        say(why, whylen, "plan url refused: %s", uwhy);
        one_line(why);
        return HOOKD_CTCT_FAIL;
    }
    char *full = api_url(c, url, 1);
    if (!full) {
        say(why, whylen, "out of memory");
        return HOOKD_CTCT_RETRY;
    }
    r = api_call(c, "GET", full, NULL, deadline_ms, &a, &o);
    free_url(full);
    if (r != 0) {
        say(why, whylen, "%s", o.why);
        if (retry_after_ms_out)
            *retry_after_ms_out = o.retry_after_ms;
        answer_reset(&a);
        return r;
    }
    if (a.status < 200 || a.status > 299) {
        const char *what = a.status == 404   ? "account not found"
                           : a.status == 401 ? "credentials refused"
                                             : "plan";
        status_reason(&a, what, o.why, sizeof o.why);
        clean_reason(c, o.why, NULL);
        say(why, whylen, "%s", o.why);
        r = retryable(a.status) ? HOOKD_CTCT_RETRY : HOOKD_CTCT_FAIL;
        if (r == HOOKD_CTCT_RETRY && retry_after_ms_out)
            *retry_after_ms_out = retry_after_ms(a.retry_after);
        answer_reset(&a);
        return r;
    }
    json_error_t je;
    json_t *j = a.body ? json_loadb(a.body, a.len, 0, &je) : NULL;
    answer_reset(&a);
    if (!json_is_object(j)) {
        json_decref(j);
        say(why, whylen, "plan: the answer is not a JSON object");
        return HOOKD_CTCT_FAIL;
    }
    *plan = j;
    return HOOKD_CTCT_OK;
}

/* ---- subscriptions ---------------------------------------------------------- */

void hookd_ctct_result_clear(hookd_ctct_result *r)
{
    if (!r)
        return;
    json_decref(r->json);
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
}

/* An id from a JSON integer or a string of digits; -1 otherwise. */
static long json_id(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 && json_integer_value(v) <= 1000000000
                   ? (long)json_integer_value(v)
                   : -1;
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
        return -1;
    return strtol(s, NULL, 10);
}

static const char *str_or_null(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s ? s : NULL;
}

static json_t *row_new(long id, const char *name, int subscribed, const char *callback)
{
    const char *ev = hookd_ctct_topic_event(id);
    if (!name)
        name = hookd_ctct_topic_name(id);
    return json_pack("{s:I, s:o, s:o, s:b, s:o}", "id", (json_int_t)id, "event_type",
                     ev ? json_string(ev) : json_null(), "name",
                     name ? json_string(name) : json_null(), "subscribed", subscribed,
                     "callback", callback ? json_string(callback) : json_null());
}

/* An API item (v2 topic or v3 subscription) as a row; NULL if it has no id. */
static json_t *row_from(const hookd_ctct *c, const json_t *it)
{
    if (c->cfg->api == 2) {
        long id = json_id(json_object_get(it, "id"));
        const char *cb = str_or_null(json_object_get(it, "callback_uri"));
        return id < 0 ? NULL
                      : row_new(id, str_or_null(json_object_get(it, "name")),
                                json_is_true(json_object_get(it, "is_subscribed")), cb);
    }
    long id = json_id(json_object_get(it, "topic_id"));
    const char *cb = str_or_null(json_object_get(it, "hook_uri"));
    return id < 0 ? NULL : row_new(id, str_or_null(json_object_get(it, "topic_name")), !!cb, cb);
}

static int row_cmp(const void *x, const void *y)
{
    json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "id"));
    json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, "id"));
    return a < b ? -1 : a > b;
}

/* Performs method on path; OK when 2xx, with the answer parsed into *ans
 * (NULL for an empty or non-JSON body). Fills r on every outcome. */
static int sub_call(hookd_ctct *c, const char *method, const char *path, const char *body,
                    hookd_ctct_result *r, json_t **ans)
{
    outcome o = {.retry_after_ms = -1};
    answer a = {0};
    *ans = NULL;
    hookd_ctct_result_clear(r);
    char *url = api_url(c, path, 0);
    if (!url) {
        say(r->why, sizeof r->why, "out of memory");
        return r->code = HOOKD_CTCT_RETRY;
    }
    int rc = api_call(c, method, url, body, 0, &a, &o);
    free_url(url);
    r->status = o.status;
    r->from_token = o.from_token;
    if (rc != 0) {
        r->retry_after_ms = o.retry_after_ms;
        memcpy(r->why, o.why, sizeof r->why);
        answer_reset(&a);
        return r->code = rc;
    }
    json_t *j = a.body && a.len ? json_loadb(a.body, a.len, JSON_DECODE_ANY, NULL) : NULL;
    if (a.status < 200 || a.status > 299) {
        status_reason(&a, NULL, r->why, sizeof r->why);
        clean_reason(c, r->why, NULL);
        r->json = j;
        r->code = retryable(a.status) ? HOOKD_CTCT_RETRY : HOOKD_CTCT_FAIL;
        if (r->code == HOOKD_CTCT_RETRY)
            r->retry_after_ms = retry_after_ms(a.retry_after);
        answer_reset(&a);
        return r->code;
    }
    answer_reset(&a);
    *ans = j;
    return r->code = HOOKD_CTCT_OK;
}

static int no_memory(hookd_ctct_result *r)
{
    json_decref(r->json);
    r->json = NULL;
    say(r->why, sizeof r->why, "out of memory");
    return r->code = HOOKD_CTCT_RETRY;
}

static int bad_answer(hookd_ctct_result *r, json_t *ans, const char *what)
{
    json_decref(r->json);
    r->json = ans;
    say(r->why, sizeof r->why, "unexpected answer (HTTP %ld): %s", r->status, what);
    return r->code = HOOKD_CTCT_FAIL;
}

int hookd_ctct_topics(hookd_ctct *c, hookd_ctct_result *r)
{
    json_t *ans, *it, *rows;
    size_t i;
    const char *path = c->cfg->api == 2 ? "/v2/webhooks/partner/topics?subscription_status=ALL"
                                        : "/v3/partner/webhooks/subscriptions";
    if (sub_call(c, "GET", path, NULL, r, &ans) != HOOKD_CTCT_OK)
        return r->code;
    if (!json_is_array(ans))
        return bad_answer(r, ans, "expected a JSON list");
    if (!(rows = json_array()))
        return json_decref(ans), no_memory(r);
    json_array_foreach(ans, i, it) {
        json_t *row = json_is_object(it) ? row_from(c, it) : NULL;
        if (row && json_array_append_new(rows, row) < 0) {
            json_decref(rows);
            json_decref(ans);
            return no_memory(r);
        }
    }
    json_decref(ans);
    /* v3 lists subscriptions only: the other known topics are unsubscribed. */
    for (long id = 1; c->cfg->api == 3 && id <= NTOPICS; id++) {
        json_t *row;
        int seen = 0;
        json_array_foreach(rows, i, row)
            seen |= json_integer_value(json_object_get(row, "id")) == id;
        if (!seen && json_array_append_new(rows, row_new(id, NULL, 0, NULL)) < 0) {
            json_decref(rows);
            return no_memory(r);
        }
    }
    size_t n = json_array_size(rows);
    json_t **v = n ? calloc(n, sizeof *v) : NULL;
    if (n && !v) {
        json_decref(rows);
        return no_memory(r);
    }
    for (i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(rows, i));
    qsort(v, n, sizeof *v, row_cmp);
    json_array_clear(rows);
    for (i = 0; i < n; i++)
        json_array_append_new(rows, v[i]);
    free(v);
    r->json = rows;
    return r->code;
}

static int bad_topic(int topic, hookd_ctct_result *r)
{
    hookd_ctct_result_clear(r);
    say(r->why, sizeof r->why, "unknown topic %d (expected 1 to %ld)", topic, NTOPICS);
    return r->code = HOOKD_CTCT_FAIL;
}

int hookd_ctct_subscribe(hookd_ctct *c, int topic, const char *callback, hookd_ctct_result *r)
{
    char path[128];
    json_t *ans;
    if (!hookd_ctct_topic_event(topic))
        return bad_topic(topic, r);
    hookd_ctct_result_clear(r);
    if (hookd_ctct_callback_ok(callback, r->why, sizeof r->why) < 0)
        return r->code = HOOKD_CTCT_FAIL;
    json_t *req = c->cfg->api == 2 ? json_pack("{s:s, s:b}", "callback_uri", callback,
                                               "is_subscribed", 1)
                                   : json_pack("{s:s}", "hook_uri", callback);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return no_memory(r);
    snprintf(path, sizeof path, c->cfg->api == 2 ? "/v2/webhooks/partner/topics/%d"
                                                 : "/v3/partner/webhooks/subscriptions/%d",
             topic);
    int rc = sub_call(c, "PUT", path, body, r, &ans);
    free(body);
    if (rc != HOOKD_CTCT_OK)
        return rc;
    /* The answer echoes the subscription; what was sent stands in for
     * anything it leaves out. */
    json_t *row = json_is_object(ans) ? row_from(c, ans) : NULL;
    if (row && json_integer_value(json_object_get(row, "id")) != topic) {
        json_decref(row);
        row = NULL;
    }
    if (row && !json_is_string(json_object_get(row, "callback")))
        json_object_set_new(row, "callback", json_string(callback));
    if (row)
        json_object_set_new(row, "subscribed", json_true());
    json_decref(ans);
    if (!row && !(row = row_new(topic, NULL, 1, callback)))
        return no_memory(r);
    r->json = row;
    return r->code;
}

int hookd_ctct_unsubscribe(hookd_ctct *c, int topic, hookd_ctct_result *r)
{
    char path[128];
    json_t *ans;
    if (!hookd_ctct_topic_event(topic))
        return bad_topic(topic, r);
    snprintf(path, sizeof path, c->cfg->api == 2 ? "/v2/webhooks/partner/topics/%d"
                                                 : "/v3/partner/webhooks/subscriptions/%d",
             topic);
    if (sub_call(c, "DELETE", path, NULL, r, &ans) != HOOKD_CTCT_OK)
        return r->code;
    json_decref(ans);
    if (!(r->json = row_new(topic, NULL, 0, NULL)))
        return no_memory(r);
    return r->code;
}

int hookd_ctct_test(hookd_ctct *c, int topic, hookd_ctct_result *r)
{
    char path[128];
    json_t *ans;
    if (!hookd_ctct_topic_event(topic))
        return bad_topic(topic, r);
    snprintf(path, sizeof path,
             c->cfg->api == 2 ? "/v2/webhooks/partner/topics/%d/test"
                              : "/v3/partner/webhooks/subscriptions/%d/tests",
             topic);
    if (sub_call(c, "POST", path, NULL, r, &ans) != HOOKD_CTCT_OK)
        return r->code;
    r->json = json_pack("{s:I, s:s, s:b, s:o}", "id", (json_int_t)topic, "event_type",
                        hookd_ctct_topic_event(topic), "sent", 1, "answer",
                        ans ? ans : json_null());
    if (!r->json)
        return no_memory(r);
    return r->code;
}

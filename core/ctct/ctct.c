/* ctct: the Constant Contact partner API client (see ctct.h). One libcurl
 * easy handle per request, borrowed from a small pool so connections are
 * reused without being shared; the v3 partner token is cached under its own
 * lock, which is also held while a new one is fetched so that many workers
 * wanting one at once cause one token request, not many. The URL rules and
 * topic names are in ctct_url.c, the subscription calls in ctct_subs.c, and
 * what they share with this file in ctct_priv.h. */
#include "ctct_priv.h"

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

#include "base/clock.h"
#include "common/curl_answer.h"
#include "common/curl_opts.h"
#include "common/curl_pool.h"
#include "common/http_answer.h"
#include "common/text.h"

#define SNIPPET 200                 /* bytes of an answer quoted in a reason */
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_TOKEN_TTL_S 3600
#define TOKEN_EARLY_MS 60000        /* renew this long before the token expires */
#define MAX_TOKEN 8192
#define USER_AGENT "hookd/" HOOKD_VERSION_STRING
#define MAX_IDLE 64                 /* handles kept between requests */

/* ---- small helpers ---------------------------------------------------------- */

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
void hookd_ctct_clean_reason(const hookd_ctct *c, char *why, const char *token)
{
    if (!why)
        return;
    hookd_one_line(why);
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
    hookd_curl_pool_init(&c->pool, MAX_IDLE);
    pthread_mutex_init(&c->tlock, NULL);
    return c;
}

void hookd_ctct_free(hookd_ctct *c)
{
    if (!c)
        return;
    hookd_curl_pool_destroy(&c->pool);
    if (c->token) {
        explicit_bzero(c->token, strlen(c->token));
        free(c->token);
    }
    explicit_bzero(c->key_query, strlen(c->key_query));
    free(c->key_query);
    pthread_mutex_destroy(&c->tlock);
    free(c);
}

/* ---- one exchange ----------------------------------------------------------- */

int hookd_ctct_retryable(long status)
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
static int exchange(hookd_ctct *c, const request *q, hookd_curl_answer *a, char *why, size_t whylen)
{
    int64_t limit = c->cfg->timeout_ms > 0 ? c->cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (q->deadline_ms > 0) {
        int64_t left = q->deadline_ms - hookd_monotonic_ms();
        if (left <= 0) {
            hookd_say(why, whylen, "deadline passed before sending");
            return HOOKD_CTCT_RETRY;
        }
        if (left < limit)
            limit = left;
    }
    CURL *h = hookd_curl_pool_take(&c->pool);
    if (!h) {
        hookd_say(why, whylen, "out of memory");
        return HOOKD_CTCT_RETRY;
    }
    a->max_body = HOOKD_CTCT_MAX_ANSWER;
    hookd_curl_opts o = {.url = q->url, .method = q->method, .body = q->body,
                         .body_len = q->body ? strlen(q->body) : 0, .timeout_ms = (long)limit,
                         .user_agent = USER_AGENT, .headers = q->headers, .answer = a,
                         .user = q->user, .pass = q->pass};
    CURLcode cc = hookd_curl_setup(h, &o);
    if (cc == CURLE_OK)
        cc = hookd_curl_perform(h, a);
    else
        snprintf(a->error, sizeof a->error, "curl: %s", curl_easy_strerror(cc));
    hookd_curl_pool_give(&c->pool, h);
    if (cc == CURLE_OK)
        return 0;
    if (a->over) {
        /* A server in trouble may say so at length: a 5xx stays retryable. */
        int again = hookd_ctct_retryable(a->status);
        hookd_say(why, whylen, "HTTP %ld: the answer is larger than %d KiB", a->status,
            HOOKD_CTCT_MAX_ANSWER / 1024);
        a->status = 0;
        return again ? HOOKD_CTCT_RETRY : HOOKD_CTCT_FAIL;
    }
    hookd_say(why, whylen, "%s (curl %d)", hookd_curl_answer_error(a, cc), (int)cc);
    a->status = 0;
    return cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ? HOOKD_CTCT_FAIL
                                                                        : HOOKD_CTCT_RETRY;
}

/* "HTTP 404: first bytes of the answer" */
void hookd_ctct_status_reason(const hookd_curl_answer *a, const char *what, char *why,
                              size_t whylen)
{
    char snip[SNIPPET + 1] = "";
    size_t n = a->len < SNIPPET ? a->len : SNIPPET;
    if (a->body)
        memcpy(snip, a->body, n);
    snip[n] = '\0';
    hookd_one_line(snip);
    hookd_say(why, whylen, "%s%sHTTP %ld%s%s", what ? what : "", what ? ": " : "", a->status,
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

/* With tlock held: a new token from the token endpoint into c->token. */
static int fetch_token(hookd_ctct *c, int64_t deadline_ms, hookd_ctct_outcome *o)
{
    const hookd_ctct_cfg *cfg = c->cfg;
    struct curl_slist *h = NULL;
    hookd_curl_answer a = {0};
    int r;
    o->from_token = 1;
    if (add_header(&h, "Accept: application/json") < 0 ||
        add_header(&h, "Content-Type: application/x-www-form-urlencoded") < 0 ||
        add_header(&h, "Expect:") < 0) {
        free_headers(h);
        hookd_say(o->why, sizeof o->why, "out of memory");
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
        hookd_curl_answer_clear(&a);
        return o->code = r;
    }
    if (a.status < 200 || a.status > 299) {
        int again = hookd_ctct_retryable(a.status);
        hookd_ctct_status_reason(&a, "partner token refused", o->why, sizeof o->why);
        o->retry_after_ms = again ? hookd_retry_after_ms(a.retry_after) : -1;
        hookd_curl_answer_clear(&a);
        return o->code = again ? HOOKD_CTCT_RETRY : HOOKD_CTCT_FAIL;
    }
    json_t *j = a.body ? json_loadb(a.body, a.len, 0, NULL) : NULL;
    if (a.body)
        explicit_bzero(a.body, a.len);
    hookd_curl_answer_clear(&a);
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
        hookd_say(o->why, sizeof o->why,
                       "partner token: the answer has no usable access_token");
        return o->code = HOOKD_CTCT_FAIL;
    }
    if (ttl <= 0 || ttl > 30LL * 86400)
        ttl = DEFAULT_TOKEN_TTL_S;
    char *copy = strdup(tok);
    explicit_bzero((char *)tok, strlen(tok));
    json_decref(j);
    if (!copy) {
        hookd_say(o->why, sizeof o->why, "out of memory");
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
                     unsigned long *gen, hookd_ctct_outcome *o)
{
    int r = HOOKD_CTCT_OK;
    pthread_mutex_lock(&c->tlock);
    if (!c->token || hookd_monotonic_ms() >= c->renew_at || (stale_gen && stale_gen == c->gen))
        r = fetch_token(c, deadline_ms, o);
    if (r == HOOKD_CTCT_OK) {
        *gen = c->gen;
        if (!(*tok = strdup(c->token))) {
            hookd_say(o->why, sizeof o->why, "out of memory");
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
int hookd_ctct_api_call(hookd_ctct *c, const char *method, const char *url, const char *body,
                        int64_t deadline_ms, hookd_curl_answer *a, hookd_ctct_outcome *o)
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
            hookd_ctct_clean_reason(c, o->why, NULL);
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
            hookd_say(o->why, sizeof o->why, "out of memory");
            return o->code = HOOKD_CTCT_RETRY;
        }
        request q = {.method = method,
                     .url = url,
                     .headers = h,
                     .user = cfg->api == 2 ? cfg->username : NULL,
                     .pass = cfg->api == 2 ? cfg->password : NULL,
                     .body = body,
                     .deadline_ms = deadline_ms};
        hookd_curl_answer_clear(a);
        r = exchange(c, &q, a, o->why, sizeof o->why);
        free_headers(h);
        hookd_ctct_clean_reason(c, o->why, tok);
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
char *hookd_ctct_api_url(const hookd_ctct *c, const char *path_or_url, int is_url)
{
    char *u;
    const char *sep = strchr(path_or_url, '?') ? "&" : "?";
    int n = c->cfg->api == 2
                ? asprintf(&u, "%s%s%s%s", is_url ? "" : c->cfg->base_url, path_or_url, sep,
                           c->key_query)
                : asprintf(&u, "%s%s", is_url ? "" : c->cfg->base_url, path_or_url);
    return n < 0 ? NULL : u;
}

void hookd_ctct_free_url(char *u)
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
    hookd_ctct_outcome o = {.retry_after_ms = -1};
    hookd_curl_answer a = {0};
    int r;
    *plan = NULL;
    if (retry_after_ms_out)
        *retry_after_ms_out = -1;
    if (why && whylen)
        why[0] = '\0';
    if (!c) {
        hookd_say(why, whylen, "no ctct: block is configured");
        return HOOKD_CTCT_FAIL;
    }
    char uwhy[256];
    if (hookd_ctct_url_allowed(c->cfg, url, uwhy, sizeof uwhy) < 0) {
        hookd_say(why, whylen, "plan url refused: %s", uwhy);
        hookd_one_line(why);
        return HOOKD_CTCT_FAIL;
    }
    char *full = hookd_ctct_api_url(c, url, 1);
    if (!full) {
        hookd_say(why, whylen, "out of memory");
        return HOOKD_CTCT_RETRY;
    }
    r = hookd_ctct_api_call(c, "GET", full, NULL, deadline_ms, &a, &o);
    hookd_ctct_free_url(full);
    if (r != 0) {
        hookd_say(why, whylen, "%s", o.why);
        if (retry_after_ms_out)
            *retry_after_ms_out = o.retry_after_ms;
        hookd_curl_answer_clear(&a);
        return r;
    }
    if (a.status < 200 || a.status > 299) {
        const char *what = a.status == 404   ? "account not found"
                           : a.status == 401 ? "credentials refused"
                                             : "plan";
        hookd_ctct_status_reason(&a, what, o.why, sizeof o.why);
        hookd_ctct_clean_reason(c, o.why, NULL);
        hookd_say(why, whylen, "%s", o.why);
        r = hookd_ctct_retryable(a.status) ? HOOKD_CTCT_RETRY : HOOKD_CTCT_FAIL;
        if (r == HOOKD_CTCT_RETRY && retry_after_ms_out)
            *retry_after_ms_out = hookd_retry_after_ms(a.retry_after);
        hookd_curl_answer_clear(&a);
        return r;
    }
    json_error_t je;
    json_t *j = a.body ? json_loadb(a.body, a.len, 0, &je) : NULL;
    hookd_curl_answer_clear(&a);
    if (!json_is_object(j)) {
        json_decref(j);
        hookd_say(why, whylen, "plan: the answer is not a JSON object");
        return HOOKD_CTCT_FAIL;
    }
    *plan = j;
    return HOOKD_CTCT_OK;
}

/* send_cli: `hookd send URL` (see send_cli.h). One libcurl request: the body
 * (a file or a Constant Contact v2 sample), the scheme's signature header(s)
 * made by hookd_sign, Basic credentials, extra headers; then the answer is
 * printed. Secrets stay in memory only: neither the signing key nor the
 * password is written anywhere, and the signature headers only with
 * --verbose. */
#include "send_cli.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <hookd/version.h>
#include <jansson.h>

#include "common/curl_answer.h"
#include "common/buf.h"
#include "common/curl_opts.h"
#include "common/units.h"
#include "ctct/ctct.h"
#include "deliver/event.h"
#include "verify/jws.h"
#include "deliver/template.h"
#include "verify/verify.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_BODY (64u << 20)    /* a body read from a file */
#define MAX_ANSWER (4u << 20)   /* an answer kept for printing */
#define DEFAULT_ACCOUNT "a07e1ih151d0"

/* Bodies are read into one growing buffer, bounded by MAX_BODY. */
typedef hookd_buf buf;

/* ---- the request's parts ------------------------------------------------------ */

static int read_body(const char *path, buf *b)
{
    int in = !path || strcmp(path, "-") == 0;
    FILE *f = in ? stdin : fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (!hookd_buf_add(b, chunk, n)) {
            rc = -1;
            errno = b->over ? EFBIG : ENOMEM;
            break;
        }
    if (rc == 0 && ferror(f)) {
        rc = -1;
        errno = EIO;
    }
    if (!in)
        fclose(f);
    if (rc == 0 && !b->p && !hookd_buf_add(b, "", 0))
        rc = -1;
    return rc;
}

char *hookd_read_input(const char *path, size_t *len)
{
    buf b = {.max = MAX_BODY};
    if (read_body(path, &b) < 0) {
        int e = errno;
        hookd_buf_free(&b);
        errno = e;
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* The account id rule of the receiving side (hookd_ctct_account_id), so the
 * sample's {{ctct.account_id}} is the id given. */
static int valid_account(const char *s)
{
    if (!*s || strlen(s) > HOOKD_CTCT_ID_MAX)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return 0;
    return 1;
}

/* "Name: value": a token name, a value without line breaks. */
static int valid_header(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return 0;
    for (const char *p = h; p < colon; p++)
        if (!isgraph((unsigned char)*p))
            return 0;
    return strpbrk(h, "\r\n") == NULL;
}

static int has_header(const hookd_send_args *a, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < a->nheaders; i++)
        if (strncasecmp(a->headers[i], name, n) == 0 && a->headers[i][n] == ':')
            return 1;
    return 0;
}

/* The whole of s as a non-negative number; -1 otherwise. */
static int64_t whole_number(const char *s)
{
    if (!s || !*s)
        return -1;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* A URL without its user:password@ part, for messages. */
static void url_for_messages(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    const char *at = p ? strchr(p + 3, '@') : NULL;
    const char *slash = p ? strchr(p + 3, '/') : NULL;
    if (at && (!slash || at < slash))
        snprintf(out, outlen, "%.*s%s", (int)(p + 3 - url), url, at + 1);
    else
        snprintf(out, outlen, "%s", url);
}

static int usage(const char *fmt, const char *arg)
{
    fputs("hookd send: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return HOOKD_EXIT_USAGE;
}

/* ---- the answer ------------------------------------------------------------------- */

/* jansson wants UTF-8: invalid bytes become '?'. */
static json_t *json_text(const char *s, size_t n)
{
    json_t *j = json_stringn(s ? s : "", s ? n : 0);
    if (j)
        return j;
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++)
        c[i] = (s[i] & 0x80) || s[i] == '\0' ? '?' : s[i];
    j = json_stringn(c, n);
    free(c);
    return j;
}

static void print_answer(const hookd_curl_answer *an, long ms, int json, FILE *out)
{
    const char *h = an->head ? an->head : "";
    size_t hlen = an->hlen;
    long status = an->status;
    if (!json) {
        /* The status line and headers as received (without CRs), a blank line, the body. */
        for (size_t i = 0; i < hlen; i++)
            if (h[i] != '\r')
                fputc(h[i], out);
        if (hlen == 0)
            fprintf(out, "HTTP %ld\n\n", status);
        if (an->len) {
            fwrite(an->body, 1, an->len, out);
            if (an->body[an->len - 1] != '\n')
                fputc('\n', out);
        }
        return;
    }
    json_t *headers = json_object();
    const char *line = h;
    const char *end = h + hlen;
    int first = 1;
    while (headers && line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        size_t l = (size_t)(le - line);
        if (l && line[l - 1] == '\r')
            l--;
        const char *colon = memchr(line, ':', l);
        if (!first && colon && colon > line) {
            char name[256];
            size_t nl2 = (size_t)(colon - line) < sizeof name - 1 ? (size_t)(colon - line)
                                                                  : sizeof name - 1;
            for (size_t i = 0; i < nl2; i++)
                name[i] = (char)tolower((unsigned char)line[i]);
            name[nl2] = '\0';
            const char *v = colon + 1, *ve = line + l;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            json_t *old = json_object_get(headers, name);
            if (old) { /* repeated: joined as one list */
                char *joined = NULL;
                if (asprintf(&joined, "%s, %.*s", json_string_value(old), (int)(ve - v), v) >= 0) {
                    json_object_set_new(headers, name, json_text(joined, strlen(joined)));
                    free(joined);
                }
            } else {
                json_object_set_new(headers, name, json_text(v, (size_t)(ve - v)));
            }
        }
        first = 0;
        line = nl ? nl + 1 : end;
    }
    json_t *o = json_pack("{s:I,s:o,s:o,s:I}", "status", (json_int_t)status, "headers",
                          headers ? headers : json_object(), "body",
                          json_text(an->body, an->len), "ms", (json_int_t)ms);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        fprintf(out, "%s\n", s);
    free(s);
    json_decref(o);
}

/* ---- the command ---------------------------------------------------------------------- */

/* Adds each "Name: value\n" line of the signer's output; -1 on no memory. */
static int add_lines(struct curl_slist **l, char *lines, int verbose)
{
    for (char *line = lines, *nl; line && *line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        struct curl_slist *n = curl_slist_append(*l, line);
        if (!n)
            return -1;
        *l = n;
        if (verbose)
            fprintf(stderr, "> %s\n", line);
    }
    return 0;
}

static void free_headers(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

int hookd_sign_jws_lines(const char *key_path, const char *kid, int64_t ts, const char *body,
                         size_t body_len, char *out, size_t outlen, char *err, size_t errlen)
{
    EVP_PKEY *key = hookd_jws_load_key(key_path, err, errlen);
    if (!key)
        return -1;
    static const char name[] = HOOKD_JWS_HEADER ": ";
    size_t nl = sizeof name - 1;
    int n = outlen > nl + 2
                ? hookd_jws_sign(key, kid, ts, body, body_len, out + nl, outlen - nl - 1)
                : -1;
    EVP_PKEY_free(key);
    if (n < 0) {
        snprintf(err, errlen, "cannot sign with %s", key_path);
        return -1;
    }
    memcpy(out, name, nl);
    out[nl + (size_t)n] = '\n';
    out[nl + (size_t)n + 1] = '\0';
    return (int)(nl + (size_t)n + 1);
}

/* The body: the file given, or a Constant Contact sample of the topic's
 * event for account. 0, or the exit code with the reason said. */
static int make_body(const hookd_send_args *a, int jws, const char *account, const char *type,
                     buf *body)
{
    if (a->file) {
        if (read_body(a->file, body) < 0) {
            fprintf(stderr, "hookd send: cannot read %s: %s\n",
                    strcmp(a->file, "-") ? a->file : "standard input", strerror(errno));
            return HOOKD_EXIT_RUNTIME;
        }
        return 0;
    }
    /* A v3 sender (ctct-jws) sends the v3 shape, with its api_key. */
    char sample[256];
    int n = jws ? snprintf(sample, sizeof sample,
                           "{\"url\":\"https://api.cc.email/v3/partner/accounts/%s/plan\","
                           "\"api_key\":\"sample-api-key\",\"event_type\":\"%s\"}",
                           account, type)
                : snprintf(sample, sizeof sample,
                           "{\"url\":\"https://api.constantcontact.com/v2/partner/"
                           "accounts/%s/plan\",\"event_type\":\"%s\"}",
                           account, type);
    if (!hookd_buf_add(body, sample, (size_t)n)) {
        fprintf(stderr, "hookd send: out of memory\n");
        return HOOKD_EXIT_RUNTIME;
    }
    return 0;
}

/* The scheme's "Name: value\n" header lines for body into sig. 0, or the
 * exit code with the reason said. */
static int make_signature(const hookd_send_args *a, const hookd_verify_cfg *v, int jws,
                          int64_t ts, const buf *body, char *sig, size_t siglen)
{
    char id[4 + HOOKD_ID_LEN + 1];
    if (a->id) {
        snprintf(id, sizeof id, "%s", a->id);
    } else {
        char ulid[HOOKD_ID_LEN + 1];
        hookd_ulid_new(ulid, hookd_now_ms());
        snprintf(id, sizeof id, "msg_%s", ulid);
    }
    if (jws) {
        char why[256];
        if (hookd_sign_jws_lines(a->key, a->kid, ts, body->p, body->len, sig, siglen, why,
                                 sizeof why) < 0)
            return usage("%s", why);
    } else if (hookd_sign(v, body->p, body->len, a->id ? a->id : id, ts, sig, siglen) < 0) {
        return usage("cannot sign with scheme %s and this secret (standard-webhooks wants "
                     "whsec_ and base64)", hookd_scheme_name(v->scheme));
    }
    return 0;
}

/* The request's headers: a JSON Content-Type unless one is given, no
 * Expect, the signature lines (sig is cut into lines), then the --header
 * ones, each shown with --verbose. -1 if out of memory. */
static int request_headers(const hookd_send_args *a, char *sig, struct curl_slist **hl)
{
    struct curl_slist *n;
    if (!has_header(a, "Content-Type")) {
        if (!(n = curl_slist_append(*hl, "Content-Type: application/json")))
            return -1;
        *hl = n;
    }
    if (!(n = curl_slist_append(*hl, "Expect:"))) /* no 100-continue wait */
        return -1;
    *hl = n;
    if (add_lines(hl, sig, a->verbose) < 0)
        return -1;
    for (size_t i = 0; i < a->nheaders; i++) {
        if (!(n = curl_slist_append(*hl, a->headers[i])))
            return -1;
        *hl = n;
        if (a->verbose)
            fprintf(stderr, "> %s\n", a->headers[i]);
    }
    return 0;
}

/* POSTs the body to a->url; 0 when an answer came (in an, and how long it
 * took in *ms), else HOOKD_EXIT_RUNTIME with the reason said. */
static int post(CURL *h, const hookd_send_args *a, const char *shown, struct curl_slist *hl,
                const char *user, const char *pass, int64_t timeout_ms, const buf *body,
                hookd_curl_answer *an, long *ms)
{
    hookd_curl_opts o = {.url = a->url, .method = "POST", .body = body->p,
                         .body_len = body->len, .timeout_ms = (long)timeout_ms,
                         .insecure = a->insecure, .ca_file = a->ca_file,
                         .user_agent = "hookd/" HOOKD_VERSION_STRING " (send)", .headers = hl,
                         .answer = an, .user = user, .pass = pass};
    CURLcode cc = hookd_curl_setup(h, &o);
    if (cc != CURLE_OK) {
        fprintf(stderr, "hookd send: %s: %s\n", shown, curl_easy_strerror(cc));
        return HOOKD_EXIT_RUNTIME;
    }
    cc = hookd_curl_perform(h, an);
    if (cc != CURLE_OK) {
        if (an->over)
            fprintf(stderr, "hookd send: %s: HTTP %ld: the answer is larger than %u MiB\n", shown,
                    an->status, MAX_ANSWER >> 20);
        else
            fprintf(stderr, "hookd send: %s: %s (curl %d)\n", shown,
                    hookd_curl_answer_error(an, cc), (int)cc);
        return HOOKD_EXIT_RUNTIME;
    }
    curl_off_t us = 0;
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &us);
    *ms = (long)(us / 1000);
    return 0;
}

/* Sends the signed body and prints the answer: the command's exit code. */
static int send_signed(const hookd_send_args *a, const char *user, const char *pass,
                       int64_t timeout_ms, const buf *body, char *sig, size_t siglen,
                       FILE *out)
{
    char shown[1024];
    url_for_messages(a->url, shown, sizeof shown);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "hookd send: cannot initialise libcurl\n");
        return HOOKD_EXIT_RUNTIME;
    }
    int code = HOOKD_EXIT_RUNTIME;
    struct curl_slist *hl = NULL;
    hookd_curl_answer an = {.max_body = MAX_ANSWER, .max_head = MAX_ANSWER};
    CURL *h = curl_easy_init();
    int ok = h && request_headers(a, sig, &hl) == 0;
    explicit_bzero(sig, siglen); /* the list holds its copies now */
    if (!ok) {
        fprintf(stderr, "hookd send: out of memory\n");
        goto done;
    }
    if (a->verbose && user)
        fprintf(stderr, "> Authorization: Basic (user %s, password not shown)\n", user);
    long ms = 0;
    if (post(h, a, shown, hl, user, pass, timeout_ms, body, &an, &ms) != 0)
        goto done;
    print_answer(&an, ms, a->json, out);
    fflush(out);
    if (an.status >= 200 && an.status <= 299)
        code = 0;
    else
        fprintf(stderr, "hookd send: %s answered HTTP %ld\n", shown, an.status);
done:
    if (h)
        curl_easy_cleanup(h);
    free_headers(hl);
    hookd_curl_answer_clear(&an);
    curl_global_cleanup();
    return code;
}

/* The arguments but the scheme's: the topic's event type, the account,
 * the timeout and the timestamp. 0, or HOOKD_EXIT_USAGE with the reason said. */
static int check_args(const hookd_send_args *a, const char **type, const char **account,
                      int64_t *timeout_ms, int64_t *ts)
{
    if (!a->url || (strncasecmp(a->url, "http://", 7) && strncasecmp(a->url, "https://", 8)))
        return usage("give the receiver's URL (http:// or https://), e.g. hookd send "
                     "http://127.0.0.1:8080/webhooks/ctct%s", "");
    if (a->file && a->topic)
        return usage("give --file or --topic, not both%s", "");
    if (a->account && a->file)
        return usage("--account goes with --topic, not --file%s", "");
    int topic = hookd_ctct_topic_parse(a->topic ? a->topic : "tier.increase");
    *type = topic > 0 ? hookd_ctct_topic_event(topic) : NULL;
    if (!*type)
        return usage("unknown topic \"%s\" (tier.increase, tier.decrease, account.cancel, "
                     "account.disable or 1-4)", a->topic);
    *account = a->account ? a->account : DEFAULT_ACCOUNT;
    if (!valid_account(*account))
        return usage("--account \"%s\": 1 to 64 letters, digits, '_' and '-'", *account);
    for (size_t i = 0; i < a->nheaders; i++)
        if (!valid_header(a->headers[i]))
            return usage("--header \"%s\": want 'Name: value'", a->headers[i]);
    *timeout_ms = DEFAULT_TIMEOUT_MS;
    if (a->timeout) {
        *timeout_ms = hookd_parse_duration(a->timeout); /* a unit is required */
        if (*timeout_ms <= 0 || *timeout_ms > 86400000)
            return usage("--timeout \"%s\": want a duration such as 10s or 500ms", a->timeout);
    }
    *ts = (int64_t)time(NULL);
    if (a->timestamp && (*ts = whole_number(a->timestamp)) < 0)
        return usage("--timestamp \"%s\": want Unix seconds", a->timestamp);
    if (a->password && !a->user && !(a->source && a->source->basic_user))
        return usage("--password goes with --user%s", "");
    return 0;
}

int hookd_send_cli(const hookd_send_args *a, FILE *out)
{
    /* Usage first: nothing is read or sent before the arguments make sense. */
    const char *type, *account;
    int64_t timeout_ms, ts;
    int rc = check_args(a, &type, &account, &timeout_ms, &ts);
    if (rc != 0)
        return rc;

    /* The verification scheme: --scheme (and --secret) win over the source's;
     * a source listing several signs with the first. */
    hookd_verify_cfg v = {0};
    char *secrets[1];
    if (a->scheme) {
        int s = hookd_scheme_from_name(a->scheme);
        if (s < 0)
            return usage("unknown scheme \"%s\" (ctct-jws, ctct-hmac-sha256, github, stripe, "
                         "standard-webhooks, hmac, none)", a->scheme);
        v.scheme = (hookd_scheme)s;
        for (size_t i = 0; a->source && i < a->source->nverify; i++)
            if (a->source->verify[i].scheme == v.scheme) {
                v = a->source->verify[i];
                break;
            }
        char why[160];
        if (v.scheme == HOOKD_SCHEME_HMAC && !v.header &&
            hookd_hmac_settings(&v, NULL, a->algorithm, a->encoding, a->prefix, why,
                                sizeof why) != 0)
            return usage("%s", why);
    } else if (a->source) {
        v = a->source->verify[0];
    } else {
        return usage("give --scheme and --secret (--key for ctct-jws), or -c FILE --source "
                     "NAME (--scheme none sends no signature)%s", "");
    }
    if (a->secret) {
        secrets[0] = (char *)a->secret;
        v.secrets = secrets;
        v.nsecrets = 1;
    }
    int jws = v.scheme == HOOKD_SCHEME_JWS;
    if (jws && !a->key)
        return usage("scheme ctct-jws needs --key PRIVATE.pem%s", "");
    if (!jws && (a->key || a->kid))
        return usage("--key and --kid go with scheme ctct-jws%s", "");
    if (!jws && v.scheme != HOOKD_SCHEME_NONE && (!v.nsecrets || !v.secrets[0][0]))
        return usage("scheme %s needs --secret (or a source with a secret)",
                     hookd_scheme_name(v.scheme));
    const char *user = a->user ? a->user : a->source ? a->source->basic_user : NULL;
    const char *pass = a->password ? a->password
                       : a->user     ? ""
                       : a->source   ? a->source->basic_pass
                                     : NULL;

    buf body = {.max = MAX_BODY};
    char sig[4096];
    int code = make_body(a, jws, account, type, &body);
    if (code == 0)
        code = make_signature(a, &v, jws, ts, &body, sig, sizeof sig);
    if (code == 0)
        code = send_signed(a, user, pass, timeout_ms, &body, sig, sizeof sig, out);
    explicit_bzero(sig, sizeof sig);
    hookd_buf_free(&body);
    return code;
}

/* `hookd send URL` from the command table: its options into hookd_send_args,
 * the --source looked up in -c FILE. */
int hookd_cmd_send(const hookd_cmdline *cl)
{
    if (cl->npos != 1) {
        fprintf(stderr, cl->npos ? "hookd send: unexpected argument \"%s\"\n"
                                 : "hookd send: give the receiver's URL%s\n",
                cl->npos ? cl->pos[1] : "");
        return HOOKD_EXIT_USAGE;
    }
    hookd_send_args a = {
        .url = cl->pos[0],
        .scheme = hookd_cli_get(cl, "scheme"),
        .secret = hookd_cli_get(cl, "secret"),
        .key = hookd_cli_get(cl, "key"),
        .kid = hookd_cli_get(cl, "kid"),
        .algorithm = hookd_cli_get(cl, "algorithm"),
        .encoding = hookd_cli_get(cl, "encoding"),
        .prefix = hookd_cli_get(cl, "prefix"),
        .user = hookd_cli_get(cl, "user"),
        .password = hookd_cli_get(cl, "password"),
        .file = hookd_cli_get(cl, "file"),
        .topic = hookd_cli_get(cl, "topic"),
        .account = hookd_cli_get(cl, "account"),
        .id = hookd_cli_get(cl, "id"),
        .timestamp = hookd_cli_get(cl, "timestamp"),
        .ca_file = hookd_cli_get(cl, "ca-file"),
        .timeout = hookd_cli_get(cl, "timeout"),
        .insecure = hookd_cli_get(cl, "insecure") != NULL,
        .json = hookd_cli_get(cl, "json") != NULL,
        .verbose = hookd_cli_get(cl, "verbose") != NULL,
    };
    a.nheaders = hookd_cli_get_all(cl, "header", a.headers, HOOKD_SEND_MAX_HEADERS);
    if (a.nheaders > HOOKD_SEND_MAX_HEADERS) {
        fprintf(stderr, "hookd send: at most %d --header options\n", HOOKD_SEND_MAX_HEADERS);
        return HOOKD_EXIT_USAGE;
    }
    const char *source = hookd_cli_get(cl, "source");
    hookd_config *cfg = NULL;
    if (source) {
        int code = HOOKD_EXIT_OK;
        if (!(cfg = hookd_cli_config(cl, &code)))
            return code;
        a.source = hookd_config_source(cfg, source);
        if (!a.source) {
            fprintf(stderr, "hookd send: no source \"%s\" in %s\n", source, cfg->file);
            hookd_config_free(cfg);
            return HOOKD_EXIT_USAGE;
        }
    }
    int code = hookd_send_cli(&a, stdout);
    hookd_config_free(cfg);
    return code;
}

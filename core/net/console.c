/* console: the page's files and the rules of docs/DESIGN.md §12 (see
 * console.h); the API's routes are in console_api.c. */
#include "console_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <llhttp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console_files.h"
#include "base/clock.h"
#include "base/log.h"

#define MAX_DISK_FILE (4 * 1024 * 1024) /* admin.console_dir: a file past it is refused */

int hookd_console_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

hookd_console *hookd_console_new(uv_loop_t *loop, const hookd_config *cfg, hookd_spool *spool,
                                 const struct sockaddr *bound, const char *url, char *err,
                                 size_t errlen)
{
    err[0] = '\0';
    if (!cfg->admin_console)
        return NULL;
    hookd_console *c = calloc(1, sizeof *c);
    if (!c || (cfg->admin_console_dir && !(c->dir = strdup(cfg->admin_console_dir)))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->cfg = cfg;
    if (!(c->view = hookd_console_view_new(cfg))) {
        free(c->dir);
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->spool = spool;
    c->started_ms = hookd_now_ms();
    if (cfg->admin_token) {
        c->has_token = 1;
        SHA256((const unsigned char *)cfg->admin_token, strlen(cfg->admin_token),
               c->token_sha);
    }
    c->open = c->has_token || hookd_console_is_loopback(bound);
    if (c->open)
        hookd_log(HOOKD_LOG_INFO, "console at %s%s", url,
                  c->dir ? " (files read from admin.console_dir)" : "");
    else
        hookd_log(HOOKD_LOG_WARN, "admin.token is not set and admin.listen is not loopback: "
                                  "the console and API answer 403");
    return c;
}

void hookd_console_set_config(hookd_console *c, const hookd_config *cfg)
{
    if (!c)
        return;
    c->cfg = cfg;
    /* Out of memory keeps the old view: the stats name old instances. */
    hookd_console_view *v = hookd_console_view_new(cfg);
    if (v) {
        hookd_console_view_unref(c->view);
        c->view = v;
    }
}

void hookd_console_free(hookd_console *c)
{
    if (!c)
        return;
    free(c->dir);
    hookd_console_view_unref(c->view);
    OPENSSL_cleanse(c->token_sha, sizeof c->token_sha);
    free(c);
}

/* ---------- the page's files ---------- */

static void text_answer(hookd_console_answer *ans, int status, const char *text,
                        const char *extra)
{
    ans->status = status;
    ans->ctype = "text/plain; charset=utf-8";
    snprintf(ans->headers, sizeof ans->headers, "%s%s", HOOKD_CONSOLE_HEADERS,
             extra ? extra : "");
    ans->body_len = strlen(text);
    ans->body = malloc(ans->body_len + 1);
    if (ans->body)
        memcpy(ans->body, text, ans->body_len + 1);
    else
        ans->body_len = 0;
}

/* A file of admin.console_dir, read again on each request: only the names
 * of the embedded table reach here (no path from the request is used). */
static int disk_file(const char *dir, const hookd_console_file *f, hookd_console_answer *ans)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, f->name) >= sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    char *data = NULL;
    ssize_t got = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= MAX_DISK_FILE &&
        (data = malloc((size_t)st.st_size + 1)) != NULL) {
        size_t at = 0;
        while (at < (size_t)st.st_size) {
            ssize_t n = read(fd, data + at, (size_t)st.st_size - at);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            at += (size_t)n;
        }
        got = (ssize_t)at;
    }
    close(fd);
    if (got < 0) {
        free(data);
        return -1;
    }
    ans->body = data;
    ans->body_len = (size_t)got;
    return 0;
}

static int serve_file(hookd_console *c, const hookd_console_req *req,
                      const hookd_console_file *f, hookd_console_answer *ans)
{
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        text_answer(ans, 405, "only GET and HEAD are accepted\n", "Allow: GET, HEAD\r\n");
        return 0;
    }
    ans->status = 200;
    ans->ctype = f->ctype;
    snprintf(ans->headers, sizeof ans->headers, "%s", HOOKD_CONSOLE_HEADERS);
    if (c->dir) {
        if (disk_file(c->dir, f, ans) != 0) {
            hookd_log(HOOKD_LOG_WARN, "admin.console_dir: cannot read %s/%s (a regular file "
                      "of at most %d bytes)", c->dir, f->name, MAX_DISK_FILE);
            text_answer(ans, 404, "not found\n", NULL);
        }
        return 0;
    }
    ans->body = malloc(f->len + 1);
    if (!ans->body) {
        text_answer(ans, 503, "out of memory\n", NULL);
        return 0;
    }
    memcpy(ans->body, f->data, f->len);
    ans->body_len = f->len;
    return 0;
}

/* ---------- the rules ---------- */

/* "Bearer TOKEN" carries the configured token: both are hashed, so the
 * comparison takes the same time whatever the lengths. */
static int bearer_ok(const hookd_console *c, const char *h)
{
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)h, strlen(h), md);
    int ok = CRYPTO_memcmp(md, c->token_sha, sizeof md) == 0;
    OPENSSL_cleanse(md, sizeof md);
    return ok && *h;
}

/* A Host naming this machine's loopback: localhost, 127.0.0.0/8 or [::1],
 * with a port or not. Without a token, any other name is a page whose
 * domain was made to resolve to 127.0.0.1 (DNS rebinding): refused. */
static int loopback_host(const char *h)
{
    if (!h)
        return 0;
    char name[256];
    size_t n = strlen(h);
    if (n >= sizeof name)
        return 0;
    memcpy(name, h, n + 1);
    if (name[0] == '[') {
        char *end = strchr(name, ']');
        if (!end || (end[1] && (end[1] != ':' || !end[2] ||
                                strspn(end + 2, "0123456789") != strlen(end + 2))))
            return 0;
        *end = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, name + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    char *colon = strchr(name, ':');
    if (colon) {
        if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
            return 0;
        *colon = '\0';
    }
    if (strcasecmp(name, "localhost") == 0)
        return 1;
    struct in_addr a4;
    return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* application/json, with parameters or not. */
static int is_json_ctype(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static int api(hookd_console *c, const hookd_console_req *req, hookd_console_answer *ans,
               hookd_console_done_fn done, void *ctx)
{
    if (c->has_token && !bearer_ok(c, req->authorization)) {
        hookd_api_error(ans, 401, "missing or wrong bearer token", "WWW-Authenticate: Bearer\r\n");
        return 0;
    }
    json_t *body = NULL;
    if (req->method == HTTP_POST) {
        const char *sfs = req->sec_fetch_site;
        if (sfs && (strcasecmp(sfs, "cross-site") == 0 || strcasecmp(sfs, "same-site") == 0)) {
            hookd_api_error(ans, 403, "a request from another site is refused", NULL);
            return 0;
        }
        if (!is_json_ctype(req->content_type)) {
            hookd_api_error(ans, 415, "a POST needs Content-Type: application/json", NULL);
            return 0;
        }
        if (req->body_len > HOOKD_API_MAX_BODY) {
            hookd_api_error(ans, 413, "body larger than 64 KiB", NULL);
            return 0;
        }
        json_error_t jerr;
        body = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr)
                             : json_object();
        if (!json_is_object(body)) {
            char why[200];
            snprintf(why, sizeof why, "the body is not a JSON object%s%s", body ? "" : ": ",
                     body ? "" : jerr.text);
            json_decref(body);
            hookd_api_error(ans, 400, why, NULL);
            return 0;
        }
    }
    int r = hookd_api_dispatch(c, req, body, ans, done, ctx);
    json_decref(body);
    return r;
}

int hookd_console_handle(hookd_console *c, const hookd_console_req *req,
                         hookd_console_answer *ans, hookd_console_done_fn done, void *ctx)
{
    if (!c)
        return HOOKD_CONSOLE_NOT_MINE;
    memset(ans, 0, sizeof *ans);
    const hookd_console_file *f = NULL;
    for (size_t i = 0; i < hookd_console_nfiles && !f; i++)
        if (strlen(hookd_console_files[i].url) == req->path_len &&
            memcmp(hookd_console_files[i].url, req->path, req->path_len) == 0)
            f = &hookd_console_files[i];
    int is_api = (req->path_len >= 5 && memcmp(req->path, "/api/", 5) == 0) ||
                 (req->path_len == 4 && memcmp(req->path, "/api", 4) == 0);
    if (!f && !is_api)
        return HOOKD_CONSOLE_NOT_MINE;
    if (c->open && !c->has_token && !loopback_host(req->host)) {
        static const char why[] = "admin.token is not set: only a loopback Host is answered";
        if (is_api)
            hookd_api_error(ans, 403, why, NULL);
        else
            text_answer(ans, 403, why, NULL);
        return 0;
    }
    if (!c->open) {
        static const char why[] = "admin.token is not set and admin.listen is not loopback";
        if (is_api)
            hookd_api_error(ans, 403, why, NULL);
        else
            text_answer(ans, 403, why, NULL);
        return 0;
    }
    return f ? serve_file(c, req, f, ans) : api(c, req, ans, done, ctx);
}

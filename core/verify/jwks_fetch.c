/* jwks_fetch: a ctct-jws source's key set, read and kept current off the
 * loop thread (see jwks_fetch.h). */
#include "jwks_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "common/curl_answer.h"
#include "common/curl_opts.h"

#define EARLY_GAP_MS 60000   /* unknown kids re-read at most this often */
#define FIRST_RETRY_MS 1000  /* while a read fails: 1 s, 2 s, ... */
#define MAX_RETRY_MS 60000   /* ... up to a minute (or refresh, if shorter) */

struct hookd_keyset {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    hookd_jwks *cur;      /* NULL until a set was read */
    char *source, *url, *file, *ca_file, *keep_path, *origin;
    int64_t refresh_ms, timeout_ms;
    int64_t last_early_ms;
    int early;            /* an early read is asked for */
    int stop;
    int started;
    pthread_t thread;
    CURLM *multi;         /* the thread's, so that stop can wake it */
    char last_error[256]; /* the last failure logged, so a repeat is quiet */
};

static char *dup_or_null(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct body {
    char *p;
    size_t len;
} body;

/* GET the url through the thread's multi handle (or a plain easy perform
 * when called from hookd check), so that hookd_keyset_free can cut it
 * short with curl_multi_wakeup. */
static int http_get(hookd_keyset *ks, CURLM *multi, body *b, char *err, size_t errlen)
{
    hookd_curl_answer a = {.max_body = HOOKD_JWKS_MAX_BYTES};
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
    hookd_curl_opts o = {
        .url = ks->url, .timeout_ms = (long)ks->timeout_ms, .ca_file = ks->ca_file,
        .user_agent = "hookd", .headers = hdr, .answer = &a,
    };
    CURLcode cc = hookd_curl_setup(h, &o);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HOOKD_JWKS_MAX_BYTES);
    int rc = -1;
    if (cc == CURLE_OK && multi) {
        curl_multi_add_handle(multi, h);
        int running = 1;
        while (running) {
            if (curl_multi_perform(multi, &running) != CURLM_OK)
                break;
            pthread_mutex_lock(&ks->mu);
            int stop = ks->stop;
            pthread_mutex_unlock(&ks->mu);
            if (stop) {
                snprintf(err, errlen, "stopped");
                break;
            }
            if (running)
                curl_multi_poll(multi, NULL, 0, 1000, NULL);
        }
        int left;
        CURLMsg *m;
        cc = CURLE_ABORTED_BY_CALLBACK;
        while ((m = curl_multi_info_read(multi, &left)))
            if (m->msg == CURLMSG_DONE)
                cc = m->data.result;
        curl_multi_remove_handle(multi, h);
    } else if (cc == CURLE_OK) {
        cc = curl_easy_perform(h);
    }
    long status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (a.over)
        snprintf(err, errlen, "the key set is larger than %d bytes", HOOKD_JWKS_MAX_BYTES);
    else if (cc == CURLE_ABORTED_BY_CALLBACK && !strcmp(err, "stopped"))
        ;
    else if (cc != CURLE_OK)
        snprintf(err, errlen, "%s", hookd_curl_answer_error(&a, cc));
    else if (status != 200)
        snprintf(err, errlen, "HTTP status %ld", status);
    else
        rc = 0;
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    b->p = a.body; /* the answer's body is the key set's text, kept by the caller */
    b->len = a.len;
    return rc;
}

static int read_file(const char *path, body *b, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > HOOKD_JWKS_MAX_BYTES) {
        snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
                 HOOKD_JWKS_MAX_BYTES);
        close(fd);
        return -1;
    }
    b->p = malloc((size_t)st.st_size + 1);
    ssize_t n = b->p ? read(fd, b->p, (size_t)st.st_size) : -1;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, b->p ? strerror(errno) : "no memory");
        return -1;
    }
    b->len = (size_t)n;
    b->p[n] = '\0';
    return 0;
}

/* The set written whole or not at all: a temporary file, fsync, rename. */
static void keep(hookd_keyset *ks, const body *b)
{
    if (!ks->keep_path)
        return;
    size_t n = strlen(ks->keep_path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        return;
    snprintf(tmp, n, "%s.tmp", ks->keep_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, b->p, b->len) == (ssize_t)b->len && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    if (ok)
        ok = rename(tmp, ks->keep_path) == 0;
    if (!ok) {
        hookd_logctx ctx = {.source = ks->source};
        hookd_logx(HOOKD_LOG_WARN, &ctx, "cannot keep the key set in %s: %s", ks->keep_path,
                   strerror(errno));
        unlink(tmp);
    }
    free(tmp);
}

static void install(hookd_keyset *ks, hookd_jwks *set)
{
    pthread_mutex_lock(&ks->mu);
    hookd_jwks *old = ks->cur;
    ks->cur = set;
    pthread_mutex_unlock(&ks->mu);
    hookd_jwks_unref(old);
}

/* One read from the url or the file. 0 with the set installed; -1 with why
 * in err, the set in use kept. */
static int read_once(hookd_keyset *ks, CURLM *multi, char *err, size_t errlen)
{
    body b = {0};
    hookd_jwks *set = NULL;
    err[0] = '\0';
    int rc = ks->file ? read_file(ks->file, &b, err, errlen) : http_get(ks, multi, &b, err, errlen);
    if (rc == 0 && hookd_jwks_parse(b.p, b.len, &set, err, errlen) != 0)
        rc = -1;
    if (rc == 0) {
        size_t n = set->nkeys;
        install(ks, set);
        if (ks->url)
            keep(ks, &b);
        hookd_metrics_jwks_read(ks->source, 1, n);
    } else if (strcmp(err, "stopped") != 0) {
        hookd_metrics_jwks_read(ks->source, 0, 0);
    }
    free(b.p);
    return rc;
}

/* ---- the thread --------------------------------------------------------- */

static void *run(void *arg)
{
    hookd_keyset *ks = arg;
    int64_t retry_ms = FIRST_RETRY_MS;
    hookd_logctx ctx = {.source = ks->source};
    for (;;) {
        char err[256];
        int rc = read_once(ks, ks->multi, err, sizeof err);
        pthread_mutex_lock(&ks->mu);
        if (ks->stop) {
            pthread_mutex_unlock(&ks->mu);
            break;
        }
        int64_t wait_ms = ks->refresh_ms;
        if (rc == 0) {
            retry_ms = FIRST_RETRY_MS;
            if (ks->last_error[0])
                hookd_logx(HOOKD_LOG_INFO, &ctx, "key set read again from %s: %zu keys",
                           ks->origin, ks->cur->nkeys);
            else
                hookd_logx(HOOKD_LOG_DEBUG, &ctx, "key set read from %s: %zu keys",
                           ks->origin, ks->cur->nkeys);
            ks->last_error[0] = '\0';
        } else {
            /* One line per new failure; the same failure again is quiet. */
            if (strcmp(err, ks->last_error) != 0)
                hookd_logx(HOOKD_LOG_WARN, &ctx, "key set from %s not read (%s): %s",
                           ks->origin, ks->cur ? "the last good one stays" : "no set yet", err);
            snprintf(ks->last_error, sizeof ks->last_error, "%s", err);
            if (retry_ms < wait_ms)
                wait_ms = retry_ms;
            retry_ms = retry_ms * 2 > MAX_RETRY_MS ? MAX_RETRY_MS : retry_ms * 2;
        }
        /* Until the next read is due, an early one is asked for, or stop. */
        int64_t until = hookd_monotonic_ms() + wait_ms, left;
        while (!ks->stop && !ks->early && (left = until - hookd_monotonic_ms()) > 0)
            hookd_cond_wait_ms(&ks->cv, &ks->mu, left);
        ks->early = 0;
        int stop = ks->stop;
        pthread_mutex_unlock(&ks->mu);
        if (stop)
            break;
    }
    return NULL;
}

/* ---- the holder --------------------------------------------------------- */

hookd_keyset *hookd_keyset_new(const hookd_keyset_opts *o, char *err, size_t errlen)
{
    hookd_keyset *ks = calloc(1, sizeof *ks);
    if (!ks) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int oom = 0;
    ks->source = dup_or_null(o->source ? o->source : "", &oom);
    ks->url = dup_or_null(o->url, &oom);
    ks->file = dup_or_null(o->file, &oom);
    ks->ca_file = dup_or_null(o->ca_file, &oom);
    ks->keep_path = o->url ? dup_or_null(o->keep_path, &oom) : NULL;
    ks->origin = ks->url ? ks->url : ks->file;
    ks->refresh_ms = o->refresh_ms > 0 ? o->refresh_ms : 3600000;
    ks->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    ks->last_early_ms = INT64_MIN / 2;
    pthread_mutex_init(&ks->mu, NULL);
    hookd_cond_init_monotonic(&ks->cv);
    if (oom || !ks->origin) {
        snprintf(err, errlen, oom ? "out of memory" : "no jwks_url or jwks_file");
        hookd_keyset_free(ks);
        return NULL;
    }
    if (ks->file) {
        if (read_once(ks, NULL, err, errlen) != 0) {
            hookd_keyset_free(ks);
            return NULL;
        }
        return ks;
    }
    /* The kept copy lets a restart without network verify at once; a
     * missing or spoilt one just waits for the first read. */
    body b = {0};
    hookd_jwks *set = NULL;
    char why[256];
    if (ks->keep_path && access(ks->keep_path, F_OK) == 0) {
        if (read_file(ks->keep_path, &b, why, sizeof why) == 0 &&
            hookd_jwks_parse(b.p, b.len, &set, why, sizeof why) == 0) {
            install(ks, set);
        } else {
            hookd_logctx ctx = {.source = ks->source};
            hookd_logx(HOOKD_LOG_WARN, &ctx, "kept key set %s not used: %s", ks->keep_path,
                       why);
        }
        free(b.p);
    }
    return ks;
}

int hookd_keyset_start(hookd_keyset *ks)
{
    if (ks->started)
        return 0;
    if (!(ks->multi = curl_multi_init()))
        return -ENOMEM;
    int rc = pthread_create(&ks->thread, NULL, run, ks);
    if (rc != 0) {
        curl_multi_cleanup(ks->multi);
        ks->multi = NULL;
        return -rc;
    }
    ks->started = 1;
    /* A set read before the daemon's metrics existed (the kept copy) still
     * shows in hookd_jwks_keys. */
    size_t n = hookd_keyset_nkeys(ks);
    if (n > 0)
        hookd_metrics_jwks_keys(ks->source, n);
    return 0;
}

int hookd_keyset_read_now(hookd_keyset *ks, char *err, size_t errlen)
{
    return read_once(ks, NULL, err, errlen);
}

hookd_jwks *hookd_keyset_get(hookd_keyset *ks)
{
    if (!ks)
        return NULL;
    pthread_mutex_lock(&ks->mu);
    hookd_jwks *set = ks->cur ? hookd_jwks_ref(ks->cur) : NULL;
    pthread_mutex_unlock(&ks->mu);
    return set;
}

void hookd_keyset_unknown_kid(hookd_keyset *ks)
{
    if (!ks)
        return;
    int64_t t = hookd_monotonic_ms();
    pthread_mutex_lock(&ks->mu);
    if (t - ks->last_early_ms >= EARLY_GAP_MS) {
        ks->last_early_ms = t;
        ks->early = 1;
        pthread_cond_signal(&ks->cv);
    }
    pthread_mutex_unlock(&ks->mu);
}

const char *hookd_keyset_origin(const hookd_keyset *ks) { return ks ? ks->origin : ""; }

size_t hookd_keyset_nkeys(hookd_keyset *ks)
{
    hookd_jwks *set = hookd_keyset_get(ks);
    size_t n = set ? set->nkeys : 0;
    hookd_jwks_unref(set);
    return n;
}

void hookd_keyset_free(hookd_keyset *ks)
{
    if (!ks)
        return;
    if (ks->started) {
        pthread_mutex_lock(&ks->mu);
        ks->stop = 1;
        pthread_cond_signal(&ks->cv);
        pthread_mutex_unlock(&ks->mu);
        curl_multi_wakeup(ks->multi);
        pthread_join(ks->thread, NULL);
        curl_multi_cleanup(ks->multi);
    }
    hookd_jwks_unref(ks->cur);
    pthread_mutex_destroy(&ks->mu);
    pthread_cond_destroy(&ks->cv);
    free(ks->source);
    free(ks->url);
    free(ks->file);
    free(ks->ca_file);
    free(ks->keep_path);
    free(ks);
}

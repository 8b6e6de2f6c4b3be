/* Fixture plugin "flaky": config { "state_file": path, "fail_times": N,
 * "count_file": path }. The first N deliveries of each event id return
 * HOOKD_RETRY ("flaky: failing on purpose"); later ones succeed and append the
 * id and "\n" to count_file if given. Attempts are counted in state_file (one
 * line per attempt, so they survive a restart), or by ev->attempt without it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hookd/plugin.h>

typedef struct flaky {
    char *state_file;
    char *count_file;
    long long fail_times;
    pthread_mutex_t lock;   /* the state file's read-count-append */
} flaky;

static void flaky_destroy(void *instance)
{
    flaky *f = instance;
    if (!f)
        return;
    pthread_mutex_destroy(&f->lock);
    free(f->state_file);
    free(f->count_file);
    free(f);
}

static int flaky_init(const hookd_api *api, const json_t *config, void **instance,
                      char *err, size_t errlen)
{
    (void)api;
    flaky *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return HOOKD_ENOMEM;
    }
    pthread_mutex_init(&f->lock, NULL);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)config, key, v) {
        char **dst = strcmp(key, "state_file") == 0   ? &f->state_file
                     : strcmp(key, "count_file") == 0 ? &f->count_file
                                                      : NULL;
        if (dst) {
            if (!json_is_string(v) || !(*dst = strdup(json_string_value(v)))) {
                snprintf(err, errlen, "%s: expected a string", key);
                goto bad;
            }
        } else if (strcmp(key, "fail_times") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(err, errlen, "fail_times: expected a non-negative integer");
                goto bad;
            }
            f->fail_times = json_integer_value(v);
        } else {
            snprintf(err, errlen, "unknown key \"%s\"", key);
            goto bad;
        }
    }
    *instance = f;
    return 0;
bad:
    flaky_destroy(f);
    return HOOKD_EINVAL;
}

static int append_line(const char *path, const char *id)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s\n", id);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int ok = n > 0 && write(fd, line, (size_t)n) == n;
    int e = errno;
    close(fd);
    errno = e;
    return ok ? 0 : -1;
}

/* This attempt's number for id, from the state file; -1 on an I/O error. */
static long long count_attempt(flaky *f, const char *id)
{
    long long seen = 0;
    pthread_mutex_lock(&f->lock);
    FILE *fp = fopen(f->state_file, "re");
    if (fp) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, fp)) > 0) {
            if (line[n - 1] == '\n')
                line[--n] = '\0';
            if (strcmp(line, id) == 0)
                seen++;
        }
        free(line);
        fclose(fp);
    }
    int rc = append_line(f->state_file, id);
    pthread_mutex_unlock(&f->lock);
    return rc == 0 ? seen + 1 : -1;
}

static int flaky_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    flaky *f = instance;
    long long attempt = f->state_file ? count_attempt(f, ev->id) : (long long)ev->attempt;
    if (attempt < 0) {
        snprintf(st->reason, sizeof st->reason, "flaky: %s: %s", f->state_file,
                 strerror(errno));
        return HOOKD_RETRY;
    }
    if (attempt <= f->fail_times) {
        snprintf(st->reason, sizeof st->reason, "flaky: failing on purpose");
        return HOOKD_RETRY;
    }
    if (f->count_file && append_line(f->count_file, ev->id) != 0) {
        snprintf(st->reason, sizeof st->reason, "flaky: %s: %s", f->count_file,
                 strerror(errno));
        return HOOKD_RETRY;
    }
    snprintf(st->reason, sizeof st->reason, "flaky: ok after %lld attempts", attempt);
    return HOOKD_OK;
}

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "flaky", .version = "1.0",
    .init = flaky_init, .deliver = flaky_deliver, .destroy = flaky_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

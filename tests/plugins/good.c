/* Fixture plugin "good": valid, its behaviour driven by its config:
 *   { "result": "ok" | "retry" | "fail", "sleep_ms": N, "count_file": path }
 * deliver() appends the event id and "\n" to count_file (if given), sleeps
 * sleep_ms, then returns the result with a reason. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <hookd/plugin.h>

typedef struct good {
    int result;
    long long sleep_ms;
    char *count_file;
} good;

static void good_destroy(void *instance)
{
    good *g = instance;
    if (!g)
        return;
    free(g->count_file);
    free(g);
}

static int good_init(const hookd_api *api, const json_t *config, void **instance,
                     char *err, size_t errlen)
{
    (void)api;
    good *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return HOOKD_ENOMEM;
    }
    g->result = HOOKD_OK;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)config, key, v) {
        if (strcmp(key, "result") == 0) {
            const char *s = json_string_value(v);
            if (s && strcmp(s, "ok") == 0)
                g->result = HOOKD_OK;
            else if (s && strcmp(s, "retry") == 0)
                g->result = HOOKD_RETRY;
            else if (s && strcmp(s, "fail") == 0)
                g->result = HOOKD_FAIL;
            else {
                snprintf(err, errlen, "result: expected \"ok\", \"retry\" or \"fail\"");
                goto bad;
            }
        } else if (strcmp(key, "sleep_ms") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(err, errlen, "sleep_ms: expected a non-negative integer");
                goto bad;
            }
            g->sleep_ms = json_integer_value(v);
        } else if (strcmp(key, "count_file") == 0) {
            if (!json_is_string(v) || !(g->count_file = strdup(json_string_value(v)))) {
                snprintf(err, errlen, "count_file: expected a string");
                goto bad;
            }
        } else {
            snprintf(err, errlen, "unknown key \"%s\"", key);
            goto bad;
        }
    }
    *instance = g;
    return 0;
bad:
    good_destroy(g);
    return HOOKD_EINVAL;
}

static int good_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    good *g = instance;
    if (g->count_file) {
        char line[128];
        int n = snprintf(line, sizeof line, "%s\n", ev->id);
        int fd = open(g->count_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || n < 0 || write(fd, line, (size_t)n) != n) {
            snprintf(st->reason, sizeof st->reason, "good: %s: %s", g->count_file,
                     strerror(errno));
            if (fd >= 0)
                close(fd);
            return HOOKD_RETRY;
        }
        close(fd);
    }
    if (g->sleep_ms > 0) {
        struct timespec ts = {(time_t)(g->sleep_ms / 1000),
                              (long)(g->sleep_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    static const char *const why[] = {"good: ok", "good: retry on purpose",
                                      "good: fail on purpose"};
    snprintf(st->reason, sizeof st->reason, "%s", why[g->result]);
    return g->result;
}

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "good", .version = "1.0",
    .init = good_init, .deliver = good_deliver, .destroy = good_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

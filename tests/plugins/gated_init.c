/* Fixture plugin "gated_init": an init() that takes as long as the test
 * wants, like a database that does not answer. Config:
 *   { "started": path, "gate": path, "max_ms": N (default 30000) }
 * init() creates `started`, then waits until `gate` exists (checking every
 * 10 ms); after max_ms it gives up and fails. deliver() returns OK. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <hookd/plugin.h>

static const char *str(const json_t *config, const char *key)
{
    return json_string_value(json_object_get(config, key));
}

static int gated_init(const hookd_api *api, const json_t *config, void **instance,
                      char *err, size_t errlen)
{
    const char *started = str(config, "started"), *gate = str(config, "gate");
    json_int_t max_ms = json_integer_value(json_object_get(config, "max_ms"));
    if (!started || !gate) {
        snprintf(err, errlen, "started and gate: expected paths");
        return HOOKD_EINVAL;
    }
    int fd = open(started, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create", started);
        return HOOKD_EIO;
    }
    close(fd);
    int64_t end = api->monotonic_ms() + (max_ms > 0 ? max_ms : 30000);
    while (access(gate, F_OK) != 0) {
        if (api->monotonic_ms() > end) {
            snprintf(err, errlen, "%s never appeared", gate);
            return HOOKD_EIO;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    *instance = NULL;
    return 0;
}

static int gated_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    (void)instance;
    (void)ev;
    (void)st;
    return HOOKD_OK;
}

static void gated_destroy(void *instance) { (void)instance; }

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "gated_init",
    .version = "1.0",
    .init = gated_init,
    .deliver = gated_deliver,
    .destroy = gated_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

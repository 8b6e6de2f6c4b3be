/* account_log: an out-of-tree hookd plugin. Appends one line per event,
 * "{{type}} {{ctct.account_id}}" by default, to a file.
 *   config: { path: accounts.log, line: "{{type}} {{ctct.account_id}}" }
 * Builds against the installed header and jansson alone (see Makefile). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hookd/plugin.h>

typedef struct alog {
    const hookd_api *api;
    hookd_template *line;
    int fd;
} alog;

static void acct_destroy(void *instance)
{
    alog *a = instance;
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    if (a->line)
        a->api->template_free(a->line);
    free(a);
}

static int acct_init(const hookd_api *api, const json_t *config, void **instance,
                     char *err, size_t errlen)
{
    const char *path = json_string_value(json_object_get(config, "path"));
    const char *line = json_string_value(json_object_get(config, "line"));
    alog *a = calloc(1, sizeof *a);
    if (!a)
        return snprintf(err, errlen, "out of memory"), HOOKD_ENOMEM;
    a->api = api;
    a->fd = -1;
    if (!path) {
        snprintf(err, errlen, "missing required key \"path\"");
        acct_destroy(a);
        return HOOKD_EINVAL;
    }
    /* Compile once: an unknown template name fails start-up, not an event. */
    a->line = api->template_compile(api, line ? line : "{{type}} {{ctct.account_id}}", err, errlen);
    a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (!a->line || a->fd < 0) {
        int rc = a->line ? HOOKD_EIO : HOOKD_EINVAL;
        if (a->line)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        acct_destroy(a);
        return rc;
    }
    *instance = a;
    return 0;
}

/* Called on worker threads: one write() of one whole line (O_APPEND). */
static int acct_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    alog *a = instance;
    char *s = a->api->template_render(a->line, ev, HOOKD_ESC_PLAIN);
    if (!s)
        return snprintf(st->reason, sizeof st->reason, "out of memory"), HOOKD_RETRY;
    size_t n = strlen(s);
    char *buf = malloc(n + 1);
    ssize_t w = -1;
    int e = ENOMEM;
    if (buf) {
        memcpy(buf, s, n);
        buf[n] = '\n';
        w = write(a->fd, buf, n + 1);
        e = w < 0 ? errno : EIO;
    }
    free(buf);
    a->api->free(s);
    if (w != (ssize_t)(n + 1)) {
        snprintf(st->reason, sizeof st->reason, "write: %s", strerror(e));
        return HOOKD_RETRY;
    }
    a->api->log(a->api, HOOKD_LOG_DEBUG, "event %s logged", ev->id);
    return HOOKD_OK;
}

/* ABI 1.2: the keys of config:, for `hookd check` to list. Only name, type,
 * flags, default_text, description and choices are the core's business. */
static const hookd_config_key acct_keys[] = {
    {.name = "path", .type = HOOKD_CONFIG_STRING, .flags = HOOKD_CONFIG_REQUIRED,
     .description = "the file lines are appended to"},
    {.name = "line", .type = HOOKD_CONFIG_TEMPLATE, .default_text = "{{type}} {{ctct.account_id}}",
     .description = "one line per event"},
    {.name = NULL},
};

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "account_log",
    .version = "1.0",
    .init = acct_init,
    .deliver = acct_deliver,
    .destroy = acct_destroy,
    .config_keys = acct_keys,   /* ABI 1.2; leave it out for older daemons' headers */
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

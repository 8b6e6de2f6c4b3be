/* Fixture plugin: loads fine, but its init() always refuses. */
#include <stdio.h>
#include <hookd/plugin.h>

static int fx_init(const hookd_api *api, const json_t *config, void **instance,
                   char *err, size_t errlen)
{
    (void)config;
    *instance = NULL;
    if (api && api->log)
        api->log(api, HOOKD_LOG_DEBUG, "init_fails: refusing");
    snprintf(err, errlen, "init_fails: refused on purpose");
    return HOOKD_EINVAL;
}

static int fx_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    (void)instance;
    (void)ev;
    snprintf(st->reason, sizeof st->reason, "init_fails: never initialised");
    return HOOKD_FAIL;
}

static void fx_destroy(void *instance) { (void)instance; }

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "init_fails", .version = "1.0",
    .init = fx_init, .deliver = fx_deliver, .destroy = fx_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

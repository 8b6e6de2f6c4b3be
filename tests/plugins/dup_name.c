/* Fixture plugin, broken on purpose: declares the name "file", the real file plugin's. */
#include <hookd/plugin.h>

static int fx_init(const hookd_api *api, const json_t *config, void **instance,
                   char *err, size_t errlen)
{
    (void)api;
    (void)config;
    (void)err;
    (void)errlen;
    *instance = NULL;
    return 0;
}

static int fx_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    (void)instance;
    (void)ev;
    (void)st;
    return HOOKD_OK;
}

static void fx_destroy(void *instance) { (void)instance; }

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "file", .version = "0.0-dup",
    .init = fx_init, .deliver = fx_deliver, .destroy = fx_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

/* Fixture plugin, broken on purpose: no deliver callback. */
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

static void fx_destroy(void *instance) { (void)instance; }

static const hookd_plugin desc = {
    HOOKD_PLUGIN_HEADER,
    .name = "no_deliver", .version = "1.0",
    .init = fx_init, .deliver = NULL, .destroy = fx_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

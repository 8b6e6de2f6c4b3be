/* Fixture plugin, broken on purpose: a newer ABI minor than the daemon's
 * (and a larger struct, as a newer minor may have). */
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
    .abi_major = HOOKD_ABI_MAJOR, .abi_minor = HOOKD_ABI_MINOR + 1,
    .struct_size = (uint32_t)sizeof(hookd_plugin) + 16, .signature = HOOKD_BUILD_SIGNATURE,
    .name = "newer_minor", .version = "1.0",
    .init = fx_init, .deliver = fx_deliver, .destroy = fx_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

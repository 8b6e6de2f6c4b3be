/* Fixture plugin, broken on purpose: another ABI major. */
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
    .abi_major = HOOKD_ABI_MAJOR + 1, .abi_minor = HOOKD_ABI_MINOR,
    .struct_size = (uint32_t)sizeof(hookd_plugin), .signature = HOOKD_BUILD_SIGNATURE,
    .name = "bad_major", .version = "1.0",
    .init = fx_init, .deliver = fx_deliver, .destroy = fx_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

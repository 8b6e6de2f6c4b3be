/* Fixture plugin "abi_1_1": built the way an ABI 1.1 plugin was, its
 * descriptor ending before config_keys. It must still load. */
#include <hookd/plugin.h>

static int fx_init(const hookd_api *api, const json_t *config, void **instance, char *err,
                   size_t errlen)
{
    (void)api, (void)config, (void)err, (void)errlen;
    *instance = NULL;
    return 0;
}

static int fx_deliver(void *instance, const hookd_event *ev, hookd_status *st)
{
    (void)instance, (void)ev, (void)st;
    return HOOKD_OK;
}

static void fx_destroy(void *instance) { (void)instance; }

/* What a 1.1 descriptor holds: the loader must not read config_keys. */
static const hookd_plugin desc = {
    .abi_major = HOOKD_ABI_MAJOR, .abi_minor = 1,
    .struct_size = (uint32_t)HOOKD_PLUGIN_SIZE_1_0,
    .signature = HOOKD_BUILD_SIGNATURE,
    .name = "abi_1_1", .version = "1.1",
    .init = fx_init, .deliver = fx_deliver, .destroy = fx_destroy,
};

HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }

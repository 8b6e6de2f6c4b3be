/* config_metrics: a configuration's labels for base/metrics, which knows
 * nothing of configurations. */
#include "config.h"

#include "base/metrics.h"

#include <stdlib.h>

int hookd_config_metrics(const hookd_config *cfg, int reload)
{
    size_t ns = cfg->nsources, np = cfg->nplugins;
    const char **src = calloc(ns ? ns : 1, sizeof *src);
    const char **inst = calloc(np ? np : 1, sizeof *inst);
    unsigned char *jwks = calloc(ns ? ns : 1, 1);
    int r = -1;
    if (src && inst && jwks) {
        for (size_t i = 0; i < ns; i++) {
            src[i] = cfg->sources[i].name;
            for (size_t v = 0; v < cfg->sources[i].nverify; v++)
                jwks[i] |= cfg->sources[i].verify[v].scheme == HOOKD_SCHEME_JWS;
        }
        for (size_t i = 0; i < np; i++)
            inst[i] = cfg->plugins[i].name;
        hookd_metrics_names n = {.sources = src, .jwks = jwks, .nsources = ns,
                                 .instances = inst, .ninstances = np,
                                 .instance_base = cfg->plugins,
                                 .instance_stride = sizeof *cfg->plugins};
        r = reload ? hookd_metrics_reload(&n) : hookd_metrics_init(&n);
    }
    free(src);
    free(inst);
    free(jwks);
    return r;
}

/* Configuration: lookups by name in a loaded one (they call nothing, so
 * every part of the loader can use them). */
#include "config.h"

#include <string.h>

const hookd_source_cfg *hookd_config_source(const hookd_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nsources; i++)
        if (strcmp(cfg->sources[i].name, name) == 0)
            return &cfg->sources[i];
    return NULL;
}

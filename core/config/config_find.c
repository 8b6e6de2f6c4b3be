/* Configuration: which file to read, and lookups by name in a loaded one. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

hookd_config *hookd_config_find(const char *path, int *embedded, char *err, size_t errlen)
{
    struct stat st;
    *embedded = 0;
    if (path)
        return hookd_config_load(path, err, errlen);
    if (stat("hookd.yaml", &st) == 0)
        return hookd_config_load("hookd.yaml", err, errlen);
    if (stat("/etc/hookd/hookd.yaml", &st) == 0)
        return hookd_config_load("/etc/hookd/hookd.yaml", err, errlen);
    *embedded = 1;
    return hookd_config_parse("(embedded default)", hookd_default_config,
                              strlen(hookd_default_config), err, errlen);
}

const hookd_source_cfg *hookd_config_source(const hookd_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nsources; i++)
        if (strcmp(cfg->sources[i].name, name) == 0)
            return &cfg->sources[i];
    return NULL;
}

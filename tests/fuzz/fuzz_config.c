/* fuzz_config: the input is a configuration file (YAML). Parsing and
 * validation only: hookd_config_parse never loads a plugin (that is the
 * loader's job, which is not called here). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "base/log.h"

#define FUZZ_MAX_INPUT (64 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hookd_log_setup(HOOKD_LOG_ERROR + 1, 0);
    /* ${VAR:-default} substitutions: give one variable a value. */
    setenv("HOOKD_FUZZ_SECRET", "fuzz-secret", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    char err[512];
    err[0] = '\0';
    hookd_config *cfg = hookd_config_parse("fuzz.yaml", (const char *)data, size, err, sizeof err);
    if (cfg) {
        /* Touch what was parsed, so a dangling pointer shows. */
        size_t n = 0;
        for (size_t i = 0; i < cfg->nsources; i++)
            n += strlen(cfg->sources[i].name) + strlen(cfg->sources[i].path);
        for (size_t i = 0; i < cfg->nplugins; i++)
            n += strlen(cfg->plugins[i].name) + strlen(cfg->plugins[i].use);
        for (size_t i = 0; i < cfg->nroutes; i++)
            for (size_t k = 0; k < cfg->routes[i].nto; k++)
                if (cfg->routes[i].to[k] >= cfg->nplugins)
                    abort(); /* a route to an instance that does not exist */
        (void)n;
        hookd_config_free(cfg);
    } else if (memchr(err, '\0', sizeof err) == NULL) {
        abort();
    }
    return 0;
}

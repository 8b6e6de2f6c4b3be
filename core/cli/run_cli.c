/* run_cli: `hookd run` (the default command) and `hookd version`. */
#include "cli.h"

#include <stdio.h>

#include <hookd/version.h>

#include "daemon/daemon.h"

int hookd_cmd_run(const hookd_cmdline *cl)
{
    if (hookd_cli_get(cl, "version")) {
        printf("hookd %s\n", HOOKD_VERSION_STRING);
        return HOOKD_EXIT_OK;
    }
    int code = HOOKD_EXIT_OK;
    hookd_runtime *rt = hookd_cli_runtime(cl, &code);
    if (!rt)
        return code;
    /* The daemon's own status, in the commands' codes. */
    return hookd_daemon_run(rt, cl->config) == 0 ? HOOKD_EXIT_OK : HOOKD_EXIT_RUNTIME;
}

int hookd_cmd_version(const hookd_cmdline *cl)
{
    (void)cl;
    printf("hookd %s (plugin ABI %d.%d)\n", HOOKD_VERSION_STRING, HOOKD_ABI_MAJOR,
           HOOKD_ABI_MINOR);
    return HOOKD_EXIT_OK;
}

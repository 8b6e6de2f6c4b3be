/* daemon: `hookd run`. */
#ifndef HOOKD_DAEMON_H
#define HOOKD_DAEMON_H

#include "config/config.h"
#include "deliver/runtime.h"

#define HOOKD_EXIT_RUNTIME 1

/* Runs the daemon on rt (taken over) until SIGTERM or SIGINT; SIGHUP reloads
 * from config_path (NULL: searched as hookd_config_find does). Returns the
 * exit code: 0 after a clean stop, HOOKD_EXIT_RUNTIME when it cannot start. */
int hookd_daemon_run(hookd_runtime *rt, const char *config_path);

#endif

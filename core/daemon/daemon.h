/* daemon: `hookd run`. */
#ifndef HOOKD_DAEMON_H
#define HOOKD_DAEMON_H

#include "config/config.h"
#include "deliver/runtime.h"

/* Runs the daemon on rt (taken over) until SIGTERM or SIGINT; SIGHUP reloads
 * from config_path (NULL: searched as hookd_config_find does). Returns 0
 * after a clean stop, -1 when it cannot start (said on stderr or in the log). */
int hookd_daemon_run(hookd_runtime *rt, const char *config_path);

#endif

/* console_spool: the API's routes over the spool (console_spool.c); each
 * runs on libuv's thread pool with call->view. */
#ifndef HOOKD_CONSOLE_SPOOL_H
#define HOOKD_CONSOLE_SPOOL_H

#include "console_api.h"

int hookd_console_stats(const hookd_api_call *call, json_t **out);
int hookd_console_events(const hookd_api_call *call, json_t **out);
int hookd_console_event(const hookd_api_call *call, json_t **out);
int hookd_console_dead(const hookd_api_call *call, json_t **out);
int hookd_console_replay_event(const hookd_api_call *call, json_t **out);
int hookd_console_replay_dead(const hookd_api_call *call, json_t **out);

#endif

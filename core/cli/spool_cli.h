/* spool_cli: `hookd events`, `events show`, `dead` and `replay`, over
 * spool/spool_query.h: the daemon's SQLite spool as a second connection
 * (WAL: readers never block the daemon, the one writer waits for its turn)
 * or, with spool.driver: postgres, the shared spool of every node. An
 * operator can look at what arrived, what failed and why, and deliver it
 * again while hookd runs. */
#ifndef HOOKD_SPOOL_CLI_H
#define HOOKD_SPOOL_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "config/config.h"

typedef struct hookd_spool_cmd_args {
    const hookd_config *cfg; /* the spool to open; NULL: the SQLite file spool_path */
    const char *spool_path;
    const char *type;     /* --type GLOB (* and ? wildcards) on events.type, NULL: any */
    const char *source;   /* --source NAME (events, dead, replay --dead), NULL: any */
    const char *status;   /* --status pending|delivered|dead (events), NULL: any */
    const char *since;    /* --since DURATION: received_at >= now - d, NULL: any */
    const char *plugin;   /* --plugin NAME (dead, replay --dead) */
    long limit;           /* --limit N; <= 0 means the default 50; at most 100000 */
    int json;             /* --json */
    int dead;             /* replay --dead */
    char **ids;           /* positional event ids */
    size_t nids;
} hookd_spool_cmd_args;

/* Each returns the process exit code: 0 ok, 1 runtime failure (no spool,
 * unknown id, store error), 2 usage error (bad --since or --status, missing
 * or malformed id, replay with neither ids nor --dead, or both). Output goes
 * to out; errors are one line "hookd: ..." on stderr. */
int hookd_spool_cmd_events(const hookd_spool_cmd_args *a, FILE *out);  /* list, newest first */
int hookd_spool_cmd_show(const hookd_spool_cmd_args *a, FILE *out);    /* ids[0], exactly one id */
int hookd_spool_cmd_dead(const hookd_spool_cmd_args *a, FILE *out);    /* dead letters, oldest first */
int hookd_spool_cmd_replay(const hookd_spool_cmd_args *a, FILE *out);  /* ids, or every dead letter */

#endif

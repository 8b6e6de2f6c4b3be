/* copy_cli: `hookd spool copy --to postgres:CONNINFO`, moving a single
 * node's SQLite spool into a cluster's PostgreSQL spool (spool/spool_copy.h
 * does the copy; this is its command line and its summary). */
#ifndef HOOKD_COPY_CLI_H
#define HOOKD_COPY_CLI_H

#include "cli.h"

/* The table's row "spool": pos[0] is the sub-command ("copy", the only one).
 * The SQLite spool is --spool PATH, else spool.path of -c FILE. Prints one
 * summary line (or --json) on stdout; errors are one line "hookd: ..." on
 * stderr, never with the conninfo. Exit 0, 1 (the spool or PostgreSQL
 * failed; what was committed stays, and a run again goes on), 2 (usage). */
int hookd_cmd_spool(const hookd_cmdline *cl);

#endif

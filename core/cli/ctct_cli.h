/* ctct_cli: `hookd ctct topics | subscribe TOPIC URL | unsubscribe TOPIC |
 * test TOPIC` over the partner webhook subscription API (ctct.h), and the
 * line `hookd check` prints about the ctct: block. */
#ifndef HOOKD_CTCT_CLI_H
#define HOOKD_CTCT_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "config/config.h"

/* pos: the words after "ctct". Returns the exit code: 0 ok, 1 the API or the
 * network failed, 2 usage (unknown subcommand or topic, a callback URL that
 * is not https or is over 512 characters) or no ctct: block. Results go to
 * out (a table, or JSON with json set); errors are one line "hookd ctct: ..."
 * on stderr, never with a secret. */
int hookd_ctct_cli(const hookd_config *cfg, char **pos, size_t npos, int json, FILE *out);

/* One line "ctct: ..." describing the block (or its absence), no secret. */
void hookd_ctct_describe(const hookd_ctct_cfg *cc, FILE *out);

#endif

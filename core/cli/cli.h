/* cli: what every command shares (docs/DESIGN.md §3): the exit codes, the row of the
 * command table main.c holds, the parse of a command line against its row
 * (each command accepts only its own options), and loading the
 * configuration. The commands' entry points are declared here for the table;
 * each lives in the cli/ file of its family. */
#ifndef HOOKD_CLI_H
#define HOOKD_CLI_H

#include <stddef.h>

#include "config/config.h"
#include "deliver/runtime.h"

/* The exit codes of every command. */
#define HOOKD_EXIT_OK 0
#define HOOKD_EXIT_RUNTIME 1 /* a runtime failure */
#define HOOKD_EXIT_USAGE 2   /* a usage or configuration error */

/* One option of a command: --name, and -letter when letter is set. */
typedef struct hookd_cli_opt {
    const char *name;
    char letter;
    const char *arg;  /* the argument's name in the help ("FILE"); NULL: a flag */
    const char *help; /* one line; "\n" starts another, indented under the first */
} hookd_cli_opt;

typedef struct hookd_cmdline hookd_cmdline;

/* A row of the command table. */
typedef struct hookd_cli_cmd {
    const char *name;
    int (*run)(const hookd_cmdline *cl); /* returns the exit code */
    const hookd_cli_opt *opts; /* its own options, ended by {0}; -c and -h are every command's */
    int maxpos;                /* positional arguments at most; -1: any (run checks them) */
    const char *usage;         /* its lines of `hookd --help`: "  NAME ARGS   what it does\n" */
} hookd_cli_cmd;

/* A command line parsed against its row. */
struct hookd_cmdline {
    const hookd_cli_cmd *cmd;
    const char *config; /* -c FILE, or NULL */
    char **pos;         /* the positional arguments, in order */
    size_t npos;
    struct hookd_cli_given {
        const hookd_cli_opt *opt;
        const char *value; /* "" for a flag */
    } *given;           /* each option as given, in order */
    size_t ngiven;
};

/* The whole of main(): finds the command (the first word that is not an
 * option, else "run"), parses its options before and after the positional
 * arguments, answers --help from the table, and runs it. An option of
 * another command, an unknown one, a missing value or too many arguments
 * is one line on stderr and HOOKD_EXIT_USAGE. */
int hookd_cli_main(const hookd_cli_cmd *table, size_t n, int argc, char **argv);

/* The value of option name as last given, "" for a flag given, NULL when
 * absent. name must be an option of the command (else abort: a bug). */
const char *hookd_cli_get(const hookd_cmdline *cl, const char *name);
/* Each value given for name, in order, at most max of them into out; the
 * number given. */
size_t hookd_cli_get_all(const hookd_cmdline *cl, const char *name, const char **out, size_t max);

/* -c FILE, else ./hookd.yaml, else /etc/hookd/hookd.yaml, else the embedded
 * default (said on stderr). NULL with the error printed and *exit_code set
 * to HOOKD_EXIT_USAGE. */
hookd_config *hookd_cli_config(const hookd_cmdline *cl, int *exit_code);
/* The configuration with its plugins loaded and initialised; logging set up
 * as it says. NULL as hookd_cli_config. */
hookd_runtime *hookd_cli_runtime(const hookd_cmdline *cl, int *exit_code);

/* The commands (the table's rows). */
int hookd_cmd_run(const hookd_cmdline *cl);     /* run_cli.c */
int hookd_cmd_version(const hookd_cmdline *cl); /* run_cli.c */
int hookd_cmd_check(const hookd_cmdline *cl);   /* check_cli.c */
int hookd_cmd_sign(const hookd_cmdline *cl);    /* sign_cli.c */
int hookd_cmd_send(const hookd_cmdline *cl);    /* send_cli.c */
int hookd_cmd_events(const hookd_cmdline *cl);  /* spool_cli.c */
int hookd_cmd_dead(const hookd_cmdline *cl);    /* spool_cli.c */
int hookd_cmd_replay(const hookd_cmdline *cl);  /* spool_cli.c */
int hookd_cmd_ctct(const hookd_cmdline *cl);    /* ctct_cli.c */

#endif

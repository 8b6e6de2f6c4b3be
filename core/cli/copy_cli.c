/* copy_cli: see copy_cli.h. */
#include "copy_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool_copy.h"

#define TO_PREFIX "postgres:"

static int usage(const char *what)
{
    fprintf(stderr, "hookd spool: %s (hookd spool --help)\n", what);
    return HOOKD_EXIT_USAGE;
}

static int print_json(const hookd_copy_stats *st)
{
    json_t *j = json_pack("{sI sI sI sI sI sI sI sI ss}", "events", (json_int_t)st->events,
                          "deliveries", (json_int_t)st->deliveries, "pending",
                          (json_int_t)st->pending, "delivered", (json_int_t)st->delivered,
                          "dead", (json_int_t)st->dead, "attempts", (json_int_t)st->attempts,
                          "dedup_keys", (json_int_t)st->dedup, "skipped",
                          (json_int_t)st->skipped, "to", st->where);
    int rc = j ? json_dumpf(j, stdout, JSON_COMPACT) : -1;
    json_decref(j);
    if (rc < 0) {
        fprintf(stderr, "hookd: out of memory\n");
        return HOOKD_EXIT_RUNTIME;
    }
    fputc('\n', stdout);
    return HOOKD_EXIT_OK;
}

/* The spool to read: --spool PATH, else spool.path of the configuration
 * (malloc'd, or NULL with *code set). */
static char *spool_path(const hookd_cmdline *cl, int *code)
{
    const char *given = hookd_cli_get(cl, "spool");
    if (given) {
        char *p = strdup(given);
        if (!p) {
            fprintf(stderr, "hookd: out of memory\n");
            *code = HOOKD_EXIT_RUNTIME;
        }
        return p;
    }
    hookd_config *cfg = hookd_cli_config(cl, code);
    if (!cfg)
        return NULL;
    char *p = NULL;
    if (cfg->spool_driver && strcmp(cfg->spool_driver, "postgres") == 0) {
        /* A cluster's configuration: its spool.path is not a spool. */
        *code = usage("the configuration's spool is PostgreSQL; name the SQLite spool to"
                      " copy with --spool PATH");
    } else if (!(p = strdup(cfg->spool_path ? cfg->spool_path : ""))) {
        fprintf(stderr, "hookd: out of memory\n");
        *code = HOOKD_EXIT_RUNTIME;
    }
    hookd_config_free(cfg);
    return p;
}

static int cmd_copy(const hookd_cmdline *cl)
{
    const char *to = hookd_cli_get(cl, "to"), *batch = hookd_cli_get(cl, "batch");
    if (!to)
        return usage("copy needs --to postgres:CONNINFO");
    if (strncmp(to, TO_PREFIX, strlen(TO_PREFIX)) != 0)
        return usage("--to takes postgres:CONNINFO (a libpq connection string or URI)");
    const char *conninfo = to + strlen(TO_PREFIX);
    /* libpq's reason would quote the string: perhaps its password. */
    if (!hookd_copy_conninfo_ok(conninfo))
        return usage("--to: libpq cannot parse the connection string after postgres:");
    long n = 0;
    if (batch) {
        char *end;
        errno = 0;
        n = strtol(batch, &end, 10);
        if (end == batch || *end || n <= 0 || n > 100000 || errno)
            return usage("--batch wants a number of events from 1 to 100000");
    }
    int code = HOOKD_EXIT_OK;
    char *path = spool_path(cl, &code);
    if (!path)
        return code;
    hookd_copy_stats st;
    char err[512] = "";
    int rc = hookd_spool_copy(path, conninfo, (int)n, &st, err, sizeof err);
    free(path);
    if (rc < 0) {
        if (st.events || st.dedup)
            fprintf(stderr, "hookd: %s (%" PRId64 " events committed before it; run the copy"
                            " again to go on)\n", err, st.events);
        else
            fprintf(stderr, "hookd: %s\n", err);
        return HOOKD_EXIT_RUNTIME;
    }
    if (hookd_cli_get(cl, "json"))
        return print_json(&st);
    printf("copied %" PRId64 " events, %" PRId64 " deliveries (%" PRId64 " pending, %" PRId64
           " dead), %" PRId64 " attempts; skipped %" PRId64 " already present\n",
           st.events, st.deliveries, st.pending, st.dead, st.attempts, st.skipped);
    return HOOKD_EXIT_OK;
}

int hookd_cmd_spool(const hookd_cmdline *cl)
{
    if (cl->npos == 0)
        return usage("which sub-command? copy");
    if (strcmp(cl->pos[0], "copy") != 0) {
        fprintf(stderr, "hookd spool: unknown sub-command \"%s\" (hookd spool --help)\n",
                cl->pos[0]);
        return HOOKD_EXIT_USAGE;
    }
    if (cl->npos > 1) {
        fprintf(stderr, "hookd: unexpected argument \"%s\"\n", cl->pos[1]);
        return HOOKD_EXIT_USAGE;
    }
    return cmd_copy(cl);
}

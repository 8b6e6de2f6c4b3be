/* send_cmd: `hookd send URL` from the command table: its options into
 * hookd_send_args, the --source looked up in -c FILE, then send_cli.c. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "send_cli.h"

int hookd_cmd_send(const hookd_cmdline *cl)
{
    if (cl->npos != 1) {
        fprintf(stderr, cl->npos ? "hookd send: unexpected argument \"%s\"\n"
                                 : "hookd send: give the receiver's URL%s\n",
                cl->npos ? cl->pos[1] : "");
        return HOOKD_EXIT_USAGE;
    }
    hookd_send_args a = {
        .url = cl->pos[0],
        .scheme = hookd_cli_get(cl, "scheme"),
        .secret = hookd_cli_get(cl, "secret"),
        .key = hookd_cli_get(cl, "key"),
        .kid = hookd_cli_get(cl, "kid"),
        .algorithm = hookd_cli_get(cl, "algorithm"),
        .encoding = hookd_cli_get(cl, "encoding"),
        .prefix = hookd_cli_get(cl, "prefix"),
        .user = hookd_cli_get(cl, "user"),
        .password = hookd_cli_get(cl, "password"),
        .file = hookd_cli_get(cl, "file"),
        .topic = hookd_cli_get(cl, "topic"),
        .account = hookd_cli_get(cl, "account"),
        .id = hookd_cli_get(cl, "id"),
        .timestamp = hookd_cli_get(cl, "timestamp"),
        .ca_file = hookd_cli_get(cl, "ca-file"),
        .timeout = hookd_cli_get(cl, "timeout"),
        .insecure = hookd_cli_get(cl, "insecure") != NULL,
        .json = hookd_cli_get(cl, "json") != NULL,
        .verbose = hookd_cli_get(cl, "verbose") != NULL,
    };
    a.nheaders = hookd_cli_get_all(cl, "header", a.headers, HOOKD_SEND_MAX_HEADERS);
    if (a.nheaders > HOOKD_SEND_MAX_HEADERS) {
        fprintf(stderr, "hookd send: at most %d --header options\n", HOOKD_SEND_MAX_HEADERS);
        return HOOKD_EXIT_USAGE;
    }
    const char *source = hookd_cli_get(cl, "source");
    hookd_config *cfg = NULL;
    if (source) {
        int code = HOOKD_EXIT_OK;
        if (!(cfg = hookd_cli_config(cl, &code)))
            return code;
        for (size_t i = 0; i < cfg->nsources; i++)
            if (strcmp(cfg->sources[i].name, source) == 0)
                a.source = &cfg->sources[i];
        if (!a.source) {
            fprintf(stderr, "hookd send: no source \"%s\" in %s\n", source, cfg->file);
            hookd_config_free(cfg);
            return HOOKD_EXIT_USAGE;
        }
    }
    int code = hookd_send_cli(&a, stdout);
    hookd_config_free(cfg);
    return code;
}

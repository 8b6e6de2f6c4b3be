/* sign_cli: `hookd sign`: the header(s) a sender would add to a body, for
 * testing a receiver by hand (curl -H "$(hookd sign ...)"). */
#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "deliver/event.h"
#include "send_cli.h"
#include "verify/verify.h"

int hookd_cmd_sign(const hookd_cmdline *cl)
{
    const char *scheme = hookd_cli_get(cl, "scheme"), *secret = hookd_cli_get(cl, "secret"),
               *source = hookd_cli_get(cl, "source"), *file = hookd_cli_get(cl, "file"),
               *key = hookd_cli_get(cl, "key"), *kid = hookd_cli_get(cl, "kid"),
               *opt_id = hookd_cli_get(cl, "id"), *timestamp = hookd_cli_get(cl, "timestamp");
    hookd_verify_cfg v = {0};
    char *secrets[1];
    hookd_config *cfg = NULL;
    if (source) {
        int code = HOOKD_EXIT_OK;
        cfg = hookd_cli_config(cl, &code);
        if (!cfg)
            return code;
        const hookd_source_cfg *src = hookd_config_source(cfg, source);
        if (src)
            v = src->verify[0];
        if (!v.nsecrets && !(v.scheme == HOOKD_SCHEME_JWS && key)) {
            fprintf(stderr, "hookd sign: no source \"%s\" with a secret in %s%s\n", source,
                    cfg->file, v.scheme == HOOKD_SCHEME_JWS ? " (ctct-jws: give --key)" : "");
            hookd_config_free(cfg);
            return HOOKD_EXIT_USAGE;
        }
    } else {
        int s = scheme ? hookd_scheme_from_name(scheme) : -1;
        if (!scheme || (!secret && s != HOOKD_SCHEME_JWS) ||
            (s == HOOKD_SCHEME_JWS && !key)) {
            fprintf(stderr, "hookd sign: give --scheme and --secret (--scheme ctct-jws --key "
                            "PRIVATE.pem), or --source NAME\n");
            return HOOKD_EXIT_USAGE;
        }
        if (s < 0 || s == HOOKD_SCHEME_NONE) {
            fprintf(stderr, "hookd sign: unknown scheme \"%s\"\n", scheme);
            return HOOKD_EXIT_USAGE;
        }
        v.scheme = (hookd_scheme)s;
        secrets[0] = (char *)secret;
        v.secrets = secrets;
        v.nsecrets = 1;
        char why[160];
        if (v.scheme == HOOKD_SCHEME_HMAC &&
            hookd_hmac_settings(&v, hookd_cli_get(cl, "header"), hookd_cli_get(cl, "algorithm"),
                                hookd_cli_get(cl, "encoding"), hookd_cli_get(cl, "prefix"), why,
                                sizeof why) != 0) {
            fprintf(stderr, "hookd sign: %s\n", why);
            return HOOKD_EXIT_USAGE;
        }
    }
    if ((key || kid) && v.scheme != HOOKD_SCHEME_JWS) {
        fprintf(stderr, "hookd sign: --key and --kid go with scheme ctct-jws\n");
        hookd_config_free(cfg);
        return HOOKD_EXIT_USAGE;
    }
    size_t len = 0;
    char *body = hookd_read_input(file, &len);
    if (!body) {
        fprintf(stderr, "hookd sign: cannot read %s: %s\n", file ? file : "stdin",
                strerror(errno));
        hookd_config_free(cfg);
        return HOOKD_EXIT_RUNTIME;
    }
    char id[HOOKD_ID_LEN + 1];
    hookd_ulid_new(id, hookd_now_ms()); /* unless --id gives one */
    int64_t ts = timestamp ? strtoll(timestamp, NULL, 10) : (int64_t)time(NULL);
    char out[4096], why[256] = "cannot sign with this scheme and secret";
    int n = v.scheme == HOOKD_SCHEME_JWS
                ? hookd_sign_jws_lines(key, kid, ts, body, len, out, sizeof out, why,
                                       sizeof why)
                : hookd_sign(&v, body, len, opt_id ? opt_id : id, ts, out, sizeof out);
    free(body);
    hookd_config_free(cfg);
    if (n < 0) {
        fprintf(stderr, "hookd sign: %s\n", why);
        return HOOKD_EXIT_USAGE;
    }
    fputs(out, stdout);
    return HOOKD_EXIT_OK;
}

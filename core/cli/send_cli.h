/* send_cli: `hookd send URL`, a signed test notification to a receiver (this
 * one or any other), so a deployment can be checked end to end. The answer
 * is printed: its status line, headers and body, or JSON with --json. */
#ifndef HOOKD_SEND_CLI_H
#define HOOKD_SEND_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

#define HOOKD_SEND_MAX_HEADERS 32

typedef struct hookd_send_args {
    const char *url;                /* http:// or https:// */
    const hookd_source_cfg *source; /* --source NAME of -c FILE, or NULL */
    const char *scheme, *secret;    /* --scheme / --secret (override the source's) */
    const char *key, *kid;          /* --key PRIVATE.pem, --kid K (scheme ctct-jws) */
    const char *algorithm, *encoding, *prefix; /* --scheme hmac only */
    const char *user, *password;    /* --user / --password (Basic; else the source's) */
    const char *file;               /* --file BODY ("-": standard input) ... */
    const char *topic;              /* ... or --topic (default tier.increase) */
    const char *account;            /* --account ID for the --topic sample */
    const char *headers[HOOKD_SEND_MAX_HEADERS]; /* --header 'Name: value' */
    size_t nheaders;
    const char *id, *timestamp;     /* --id (standard-webhooks), --timestamp (Unix s) */
    const char *ca_file;            /* --ca-file PEM */
    const char *timeout;            /* --timeout DURATION (default 10s) */
    int insecure;                   /* --insecure: no TLS verification */
    int json;                       /* --json */
    int verbose;                    /* --verbose: the request headers on stderr */
} hookd_send_args;

/* The bytes of path (NULL or "-": standard input), at most 64 MiB, with a NUL
 * after them (not counted in *len). NULL with errno set (EFBIG past the
 * bound); free() the result. Shared with `hookd sign`. */
char *hookd_read_input(const char *path, size_t *len);

/* "X-CTCT-WEBHOOK-SIG: <detached JWS>\n" for body, signed at ts with the
 * private key in key_path (RSA: RS256, EC P-256: ES256), with kid when
 * given. Shared by `hookd sign` and `hookd send`. The length, or -1 with
 * one line in err. */
int hookd_sign_jws_lines(const char *key_path, const char *kid, int64_t ts, const char *body,
                         size_t body_len, char *out, size_t outlen, char *err, size_t errlen);

/* Returns the exit code: 0 on a 2xx answer, 1 on any other answer or a
 * network failure (one line "hookd send: ..." on stderr), 2 on a usage
 * error. The answer goes to out; no secret or password is ever printed. */
int hookd_send_cli(const hookd_send_args *a, FILE *out);

#endif

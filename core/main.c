/* main: the command line (DESIGN §3). Exit codes: 0 ok, 1 runtime failure,
 * 2 usage or configuration error. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hookd/version.h>

#include "config/config.h"
#include "daemon/daemon.h"
#include "cli/ctct_cli.h"
#include "deliver/event.h"
#include "verify/jwks_fetch.h"
#include "base/log.h"
#include "deliver/runtime.h"
#include "cli/send_cli.h"
#include "cli/spool_cli.h"
#include "net/tls.h"
#include "verify/verify.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: hookd [COMMAND] [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  run                 run the daemon (the default)\n"
    "  check               load the configuration and every plugin, print what would run\n"
    "  sign                print the header(s) a sender would add to a body\n"
    "  send URL            post a signed test notification to a receiver, print the answer\n"
    "  version             print the version\n"
    "  events              list stored events, newest first\n"
    "  events show ID      one event: its deliveries, each attempt, times and reasons\n"
    "  dead                list dead-lettered deliveries\n"
    "  replay ID...        deliver these events again (every routed instance)\n"
    "  replay --dead       deliver every dead letter again (--plugin NAME: only its)\n"
    "  ctct topics         Constant Contact partner webhook topics and subscriptions\n"
    "  ctct subscribe TOPIC URL   subscribe a topic (1-4 or its event type) to an https URL\n"
    "  ctct unsubscribe TOPIC     end a topic's subscription\n"
    "  ctct test TOPIC     ask Constant Contact to send a sample notification\n"
    "                      (the ctct: block of -c FILE gives the API and credentials; --json)\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   configuration (default ./hookd.yaml, then /etc/hookd/hookd.yaml,\n"
    "                      then the embedded default: plain HTTP on 127.0.0.1:8080)\n"
    "  -h, --help          this text\n"
    "\n"
    "events, dead, replay options (they work while the daemon runs):\n"
    "  --type GLOB         only events whose type matches (events)\n"
    "  --since DURATION    only events received within it, e.g. 1h (events)\n"
    "  --limit N           at most N rows (default 50)\n"
    "  --plugin NAME       only this plugin instance's deliveries (dead, replay --dead)\n"
    "  --json              machine-readable output\n"
    "\n"
    "sign options:\n"
    "  --scheme S          ctct-jws | ctct-hmac-sha256 | github | stripe | standard-webhooks\n"
    "                      | hmac\n"
    "  --secret K          the shared secret (or take both from --source NAME of -c FILE)\n"
    "  --key PRIVATE.pem   ctct-jws: the signing key (RSA: RS256, EC P-256: ES256)\n"
    "  --kid K             ctct-jws: the key id to name in the header (default: none)\n"
    "  --source NAME       use the scheme and first secret of this configured source\n"
    "  --file BODY         the body to sign (default: standard input)\n"
    "  --id ID             message id (standard-webhooks; default: a new id)\n"
    "  --timestamp T       Unix seconds (ctct-jws, stripe, standard-webhooks; default: now)\n"
    "  --header H, --algorithm sha256|sha512, --encoding hex|base64, --prefix P\n"
    "                      for the generic hmac scheme\n"
    "\n"
    "send URL: post a signed test notification and print the answer (exit 0 on 2xx)\n"
    "  --scheme S --secret K, or --source NAME of -c FILE (scheme, secret, Basic)\n"
    "  --key PRIVATE.pem [--kid K]   the signing key for ctct-jws (v3 sample body)\n"
    "  --user U --password P   Basic credentials (default: the source's)\n"
    "  --file BODY         the body (- for standard input), or\n"
    "  --topic T           a Constant Contact v2 sample: tier.increase (default),\n"
    "                      tier.decrease, account.cancel, account.disable (v3 with ctct-jws)\n"
    "  --account ID        the sample's account id\n"
    "  --header 'Name: value'   an extra request header (repeatable)\n"
    "  --insecure, --ca-file PEM   TLS verification off, or a CA bundle (https)\n"
    "  --timeout DURATION  default 10s;  --id, --timestamp as for sign\n"
    "  --json              {\"status\",\"headers\",\"body\",\"ms\"};  --verbose: request headers on stderr\n"
    "\n"
    "Example:\n"
    "  hookd sign --scheme ctct-hmac-sha256 --secret \"$CTCT_CLIENT_SECRET\" --file body.json\n";

typedef struct opts {
    const char *config;
    const char *scheme, *secret, *source, *file, *id, *timestamp;
    const char *header, *algorithm, *encoding, *prefix;
    const char *key, *kid; /* ctct-jws signing: private key file, key id */
    hookd_cli_args cli;
    hookd_send_args send; /* hookd send: its own options */
} opts;

/* ---------- configuration ---------- */

static hookd_config *load_config(const char *path, int *exit_code)
{
    char err[1024];
    int embedded = 0;
    hookd_config *cfg = hookd_config_find(path, &embedded, err, sizeof err);
    if (embedded)
        fprintf(stderr, "hookd: no hookd.yaml here or in /etc/hookd: using the embedded "
                        "default configuration\n");
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        *exit_code = EXIT_USAGE;
    }
    return cfg;
}

static hookd_runtime *build_runtime(const opts *o, int *exit_code)
{
    hookd_config *cfg = load_config(o->config, exit_code);
    if (!cfg)
        return NULL;
    hookd_log_setup(cfg->log_level, cfg->log_json);
    char err[1024];
    hookd_runtime *rt = hookd_runtime_build(cfg, err, sizeof err);
    if (!rt) {
        fprintf(stderr, "%s\n", err);
        *exit_code = EXIT_USAGE;
    }
    return rt;
}

/* ---------- run ---------- */

static int cmd_run(const opts *o)
{
    int code = 0;
    hookd_runtime *rt = build_runtime(o, &code);
    return rt ? hookd_daemon_run(rt, o->config) : code;
}

/* ---------- events, dead, replay ---------- */

static int cmd_spool(const opts *o, const char *cmd, char **pos, size_t npos)
{
    int code = 0;
    hookd_config *cfg = load_config(o->config, &code);
    if (!cfg)
        return code;
    hookd_cli_args a = o->cli;
    a.spool_path = cfg->spool_path;
    a.ids = pos;
    a.nids = npos;
    if (strcmp(cmd, "events") == 0 && npos > 0 && strcmp(pos[0], "show") == 0) {
        a.ids = pos + 1;
        a.nids = npos - 1;
        if (a.nids != 1) {
            fprintf(stderr, "hookd: events show takes one event id\n");
            code = EXIT_USAGE;
        } else {
            code = hookd_cli_show(&a, stdout);
        }
    } else if (strcmp(cmd, "replay") == 0) {
        code = hookd_cli_replay(&a, stdout);
    } else if (npos > 0) {
        fprintf(stderr, "hookd: unexpected argument \"%s\"\n", pos[0]);
        code = EXIT_USAGE;
    } else {
        code = strcmp(cmd, "dead") == 0 ? hookd_cli_dead(&a, stdout) : hookd_cli_events(&a, stdout);
    }
    hookd_config_free(cfg);
    return code;
}

/* ---------- ctct ---------- */

static int cmd_ctct(const opts *o, char **pos, size_t npos)
{
    int code = 0;
    hookd_config *cfg = load_config(o->config, &code);
    if (!cfg)
        return code;
    code = hookd_ctct_cli(cfg, pos, npos, o->cli.json, stdout);
    hookd_config_free(cfg);
    return code;
}

/* ---------- check ---------- */

static void print_list(const char *label, char **items, size_t n)
{
    printf("%s", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", items[i]);
    printf("\n");
}

/* A key server that does not answer is a warning, not an error: the
 * daemon keeps trying, and a kept set may still verify. */
static void check_keysets(const hookd_source_cfg *s)
{
    for (size_t v = 0; v < s->nverify; v++) {
        hookd_keyset *ks = s->verify[v].keys;
        if (s->verify[v].scheme != HOOKD_SCHEME_JWS || !ks)
            continue;
        char why[256];
        if (hookd_keyset_read_now(ks, why, sizeof why) == 0)
            printf("    key set: %zu key%s read from %s\n", hookd_keyset_nkeys(ks),
                   hookd_keyset_nkeys(ks) == 1 ? "" : "s", hookd_keyset_origin(ks));
        else
            printf("    warning: key set not read from %s: %s%s\n", hookd_keyset_origin(ks), why,
                   hookd_keyset_nkeys(ks) ? " (the kept copy verifies meanwhile)"
                                          : " (notifications get 503 until it is read)");
    }
}

static int cmd_check(const opts *o)
{
    int code = 0;
    hookd_runtime *rt = build_runtime(o, &code);
    if (!rt)
        return code;
    const hookd_config *c = rt->cfg;
    /* The pair as `run` loads it: a certificate and key that do not load
     * or do not match stop the start, so they fail the check too. */
    char tls[512] = "off (plain HTTP)";
    if (c->tls_cert) {
        char err[512];
        hookd_tls_cert_info info;
        SSL_CTX *ctx = hookd_tls_ctx_new(c->tls_cert, c->tls_key, err, sizeof err);
        if (!ctx || hookd_tls_ctx_cert_info(ctx, &info) != 0) {
            fprintf(stderr, "%s: %s\n", c->file,
                    ctx ? "server.tls.cert: cannot read its expiry date" : err);
            SSL_CTX_free(ctx);
            hookd_runtime_free(rt);
            return EXIT_USAGE;
        }
        SSL_CTX_free(ctx);
        memcpy(tls, "on, ", 5);
        hookd_tls_cert_describe(&info, (int64_t)time(NULL), tls + 4, sizeof tls - 4);
    }
    printf("configuration %s is valid\n", c->file);
    print_list("listen: ", c->listen, c->nlisten);
    printf("tls: %s\n", tls);
    printf("limits: max_body %zu B, max_header %zu B, max_connections %d\n", c->max_body,
           c->max_header, c->max_connections);
    printf("sources:\n");
    for (size_t i = 0; i < c->nsources; i++) {
        const hookd_source_cfg *s = &c->sources[i];
        printf("  %s  POST %s  verify", s->name, s->path);
        for (size_t v = 0; v < s->nverify; v++) {
            const hookd_verify_cfg *vc = &s->verify[v];
            printf("%s %s", v ? " +" : "", hookd_scheme_name(vc->scheme));
            if (vc->scheme == HOOKD_SCHEME_JWS)
                printf(" (key set %s)", hookd_keyset_origin(vc->keys));
            else if (vc->scheme != HOOKD_SCHEME_NONE)
                printf(" (%zu secret%s)", vc->nsecrets, vc->nsecrets == 1 ? "" : "s");
        }
        printf("%s  type %s%s\n", s->basic_user ? "  basic auth" : "",
               s->event_type_header ? "header:" : "",
               s->event_type_header ? s->event_type_header : s->event_type);
        check_keysets(s);
    }
    printf("plugin instances:\n");
    for (size_t i = 0; i < rt->ninstances; i++) {
        const hookd_instance *in = &rt->instances[i];
        printf("  %s  %s %s  concurrency %d  timeout %lld ms  retry %d\n", in->cfg->name,
               in->plugin->name, in->plugin->version ? in->plugin->version : "",
               in->cfg->concurrency, (long long)in->cfg->timeout_ms, in->cfg->retry_attempts);
    }
    printf("routes:\n");
    for (size_t i = 0; i < c->nroutes; i++) {
        const hookd_route_cfg *r = &c->routes[i];
        printf("  ");
        for (size_t m = 0; m < r->nmatch; m++)
            printf("%s%s", m ? ", " : "", r->match[m]);
        if (r->source)
            printf(" from %s", r->source);
        printf(" ->");
        for (size_t t = 0; t < r->nto; t++)
            printf(" %s", c->plugins[r->to[t]].name);
        printf("\n");
    }
    hookd_ctct_describe(&c->ctct, stdout);
    hookd_runtime_free(rt);
    return 0;
}

/* ---------- sign ---------- */

static int cmd_sign(const opts *o)
{
    hookd_verify_cfg v = {0};
    char *secrets[1];
    hookd_config *cfg = NULL;
    if (o->source) {
        int code = 0;
        cfg = load_config(o->config, &code);
        if (!cfg)
            return code;
        for (size_t i = 0; i < cfg->nsources; i++)
            if (strcmp(cfg->sources[i].name, o->source) == 0)
                v = cfg->sources[i].verify[0];
        if (!v.nsecrets && !(v.scheme == HOOKD_SCHEME_JWS && o->key)) {
            fprintf(stderr, "hookd sign: no source \"%s\" with a secret in %s%s\n", o->source,
                    cfg->file, v.scheme == HOOKD_SCHEME_JWS ? " (ctct-jws: give --key)" : "");
            hookd_config_free(cfg);
            return EXIT_USAGE;
        }
    } else {
        int s = o->scheme ? hookd_scheme_from_name(o->scheme) : -1;
        if (!o->scheme || (!o->secret && s != HOOKD_SCHEME_JWS) ||
            (s == HOOKD_SCHEME_JWS && !o->key)) {
            fprintf(stderr, "hookd sign: give --scheme and --secret (--scheme ctct-jws --key "
                            "PRIVATE.pem), or --source NAME\n");
            return EXIT_USAGE;
        }
        if (s < 0 || s == HOOKD_SCHEME_NONE) {
            fprintf(stderr, "hookd sign: unknown scheme \"%s\"\n", o->scheme);
            return EXIT_USAGE;
        }
        v.scheme = (hookd_scheme)s;
        secrets[0] = (char *)o->secret;
        v.secrets = secrets;
        v.nsecrets = 1;
        char why[160];
        if (v.scheme == HOOKD_SCHEME_HMAC &&
            hookd_hmac_settings(&v, o->header, o->algorithm, o->encoding, o->prefix, why,
                                sizeof why) != 0) {
            fprintf(stderr, "hookd sign: %s\n", why);
            return EXIT_USAGE;
        }
    }
    if ((o->key || o->kid) && v.scheme != HOOKD_SCHEME_JWS) {
        fprintf(stderr, "hookd sign: --key and --kid go with scheme ctct-jws\n");
        hookd_config_free(cfg);
        return EXIT_USAGE;
    }
    size_t len = 0;
    char *body = hookd_read_input(o->file, &len);
    if (!body) {
        fprintf(stderr, "hookd sign: cannot read %s: %s\n", o->file ? o->file : "stdin",
                strerror(errno));
        hookd_config_free(cfg);
        return EXIT_RUNTIME;
    }
    char id[HOOKD_ID_LEN + 1];
    if (o->id)
        snprintf(id, sizeof id, "%s", o->id);
    else {
        hookd_ulid_new(id, hookd_now_ms());
    }
    int64_t ts = o->timestamp ? strtoll(o->timestamp, NULL, 10) : (int64_t)time(NULL);
    char out[4096], why[256] = "cannot sign with this scheme and secret";
    int n = v.scheme == HOOKD_SCHEME_JWS
                ? hookd_sign_jws_lines(o->key, o->kid, ts, body, len, out, sizeof out, why,
                                       sizeof why)
                : hookd_sign(&v, body, len, o->id ? o->id : id, ts, out, sizeof out);
    free(body);
    hookd_config_free(cfg);
    if (n < 0) {
        fprintf(stderr, "hookd sign: %s\n", why);
        return EXIT_USAGE;
    }
    fputs(out, stdout);
    return 0;
}

/* ---------- send ---------- */

static int cmd_send(const opts *o, char **pos, size_t npos)
{
    if (npos != 1) {
        fprintf(stderr, npos ? "hookd send: unexpected argument \"%s\"\n"
                             : "hookd send: give the receiver's URL%s\n",
                npos ? pos[1] : "");
        return EXIT_USAGE;
    }
    hookd_send_args a = o->send;
    a.url = pos[0];
    a.scheme = o->scheme;
    a.secret = o->secret;
    a.key = o->key;
    a.kid = o->kid;
    a.file = o->file;
    a.id = o->id;
    a.timestamp = o->timestamp;
    a.algorithm = o->algorithm;
    a.encoding = o->encoding;
    a.prefix = o->prefix;
    a.json = o->cli.json;
    hookd_config *cfg = NULL;
    if (o->source) {
        int code = 0;
        cfg = load_config(o->config, &code);
        if (!cfg)
            return code;
        for (size_t i = 0; i < cfg->nsources; i++)
            if (strcmp(cfg->sources[i].name, o->source) == 0)
                a.source = &cfg->sources[i];
        if (!a.source) {
            fprintf(stderr, "hookd send: no source \"%s\" in %s\n", o->source, cfg->file);
            hookd_config_free(cfg);
            return EXIT_USAGE;
        }
    }
    int code = hookd_send_cli(&a, stdout);
    hookd_config_free(cfg);
    return code;
}

/* ---------- entry ---------- */

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'},  {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},       {"scheme", required_argument, 0, 1},
        {"secret", required_argument, 0, 2},    {"source", required_argument, 0, 3},
        {"file", required_argument, 0, 4},      {"id", required_argument, 0, 5},
        {"timestamp", required_argument, 0, 6}, {"header", required_argument, 0, 7},
        {"algorithm", required_argument, 0, 8}, {"encoding", required_argument, 0, 9},
        {"prefix", required_argument, 0, 10},   {"type", required_argument, 0, 11},
        {"since", required_argument, 0, 12},    {"limit", required_argument, 0, 13},
        {"json", no_argument, 0, 14},           {"dead", no_argument, 0, 15},
        {"plugin", required_argument, 0, 16},
        {"user", required_argument, 0, 40},     {"password", required_argument, 0, 41},
        {"topic", required_argument, 0, 42},    {"account", required_argument, 0, 43},
        {"insecure", no_argument, 0, 44},       {"ca-file", required_argument, 0, 45},
        {"timeout", required_argument, 0, 46},  {"verbose", no_argument, 0, 47},
        {"key", required_argument, 0, 48},      {"kid", required_argument, 0, 49},
          {0, 0, 0, 0}};
    opts o = {0};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': o.config = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("hookd %s\n", HOOKD_VERSION_STRING); return 0;
        case 1: o.scheme = optarg; break;
        case 2: o.secret = optarg; break;
        case 3: o.source = optarg; break;
        case 4: o.file = optarg; break;
        case 5: o.id = optarg; break;
        case 6: o.timestamp = optarg; break;
        case 7:
            o.header = optarg;
            if (o.send.nheaders == HOOKD_SEND_MAX_HEADERS) {
                fprintf(stderr, "hookd: at most %d --header options\n", HOOKD_SEND_MAX_HEADERS);
                return EXIT_USAGE;
            }
            o.send.headers[o.send.nheaders++] = optarg;
            break;
        case 8: o.algorithm = optarg; break;
        case 9: o.encoding = optarg; break;
        case 10: o.prefix = optarg; break;
        case 11: o.cli.type = optarg; break;
        case 12: o.cli.since = optarg; break;
        case 13: {
            char *end;
            o.cli.limit = strtol(optarg, &end, 10);
            if (*end || o.cli.limit <= 0) {
                fprintf(stderr, "hookd: --limit wants a positive number\n");
                return EXIT_USAGE;
            }
            break;
        }
        case 14: o.cli.json = 1; break;
        case 15: o.cli.dead = 1; break;
        case 16: o.cli.plugin = optarg; break;
        case 40: o.send.user = optarg; break;
        case 41: o.send.password = optarg; break;
        case 42: o.send.topic = optarg; break;
        case 43: o.send.account = optarg; break;
        case 44: o.send.insecure = 1; break;
        case 45: o.send.ca_file = optarg; break;
        case 46: o.send.timeout = optarg; break;
        case 47: o.send.verbose = 1; break;
        case 48: o.key = optarg; break;
        case 49: o.kid = optarg; break;
        default: fputs(usage_text, stderr); return EXIT_USAGE;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : "run";
    if (strcmp(cmd, "events") == 0 || strcmp(cmd, "dead") == 0 || strcmp(cmd, "replay") == 0)
        return cmd_spool(&o, cmd, argv + optind + 1, (size_t)(argc - optind - 1));
    if (strcmp(cmd, "ctct") == 0)
        return cmd_ctct(&o, argv + optind + 1, (size_t)(argc - optind - 1));
    if (strcmp(cmd, "send") == 0)
        return cmd_send(&o, argv + optind + 1, (size_t)(argc - optind - 1));
    if (optind + 1 < argc) {
        fprintf(stderr, "hookd: unexpected argument \"%s\"\n", argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(&o);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(&o);
    if (strcmp(cmd, "sign") == 0)
        return cmd_sign(&o);
    if (strcmp(cmd, "version") == 0) {
        printf("hookd %s (plugin ABI %d.%d)\n", HOOKD_VERSION_STRING, HOOKD_ABI_MAJOR,
               HOOKD_ABI_MINOR);
        return 0;
    }
    fprintf(stderr, "hookd: unknown command \"%s\"\n%s", cmd, usage_text);
    return EXIT_USAGE;
}

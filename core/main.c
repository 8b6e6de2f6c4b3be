/* main: the command table (docs/DESIGN.md §3): each command with its own options and
 * its lines of `hookd --help`. Parsing, help and exit codes: cli/cli.c; each
 * command: its cli/ file. -c FILE and -h are every command's. */
#include "cli/cli.h"
#include "cli/copy_cli.h"

#define SCHEMES "ctct-jws | ctct-hmac-sha256 | github | stripe | standard-webhooks\n| hmac"

static const hookd_cli_opt run_opts[] = {
    {"version", 'V', NULL, "print the version and exit"},
    {0},
};

static const hookd_cli_opt sign_opts[] = {
    {"scheme", 0, "S", SCHEMES},
    {"secret", 0, "K", "the shared secret (or take both from --source NAME of -c FILE)"},
    {"source", 0, "NAME", "use the scheme and first secret of this configured source"},
    {"key", 0, "PRIVATE.pem", "ctct-jws: the signing key (RSA: RS256, EC P-256: ES256)"},
    {"kid", 0, "K", "ctct-jws: the key id to name in the header (default: none)"},
    {"file", 0, "BODY", "the body to sign (default: standard input)"},
    {"id", 0, "ID", "message id (standard-webhooks; default: a new id)"},
    {"timestamp", 0, "T", "Unix seconds (ctct-jws, stripe, standard-webhooks; default: now)"},
    {"header", 0, "H", "hmac: the header (default X-Hookd-Signature)"},
    {"algorithm", 0, "A", "hmac: sha256 (default) or sha512"},
    {"encoding", 0, "E", "hmac: hex (default) or base64"},
    {"prefix", 0, "P", "hmac: text before the MAC (default: none)"},
    {0},
};

static const hookd_cli_opt send_opts[] = {
    {"scheme", 0, "S", SCHEMES " | none (default: the source's)"},
    {"secret", 0, "K", "the shared secret (default: the source's)"},
    {"source", 0, "NAME", "a source of -c FILE: its scheme, secret and Basic credentials"},
    {"key", 0, "PRIVATE.pem", "ctct-jws: the signing key (v3 sample body)"},
    {"kid", 0, "K", "ctct-jws: the key id to name in the header"},
    {"user", 0, "U", "Basic credentials (default: the source's)"},
    {"password", 0, "P", "with --user"},
    {"file", 0, "BODY", "the body (- for standard input), or"},
    {"topic", 0, "T",
     "a Constant Contact v2 sample: tier.increase (default),\ntier.decrease, account.cancel, "
     "account.disable (v3 with ctct-jws)"},
    {"account", 0, "ID", "the sample's account id"},
    {"header", 0, "'Name: value'", "an extra request header (repeatable)"},
    {"insecure", 0, NULL, "no TLS verification (https)"},
    {"ca-file", 0, "PEM", "a CA bundle to verify the receiver with (https)"},
    {"timeout", 0, "DURATION", "default 10s"},
    {"id", 0, "ID", "message id (standard-webhooks; default: a new id)"},
    {"timestamp", 0, "T", "Unix seconds (default: now)"},
    {"algorithm", 0, "A", "hmac: sha256 (default) or sha512"},
    {"encoding", 0, "E", "hmac: hex (default) or base64"},
    {"prefix", 0, "P", "hmac: text before the MAC (default: none)"},
    {"json", 0, NULL, "{\"status\",\"headers\",\"body\",\"ms\"}"},
    {"verbose", 0, NULL, "the request headers on stderr"},
    {0},
};

static const hookd_cli_opt events_opts[] = {
    {"source", 0, "NAME", "only this source's events"},
    {"type", 0, "GLOB", "only events whose type matches (* and ? wildcards)"},
    {"status", 0, "S", "pending (some delivery), dead (some), delivered (all)"},
    {"since", 0, "DURATION", "only events received within it, e.g. 1h"},
    {"limit", 0, "N", "at most N rows (default 50)"},
    {"json", 0, NULL, "machine-readable output"},
    {0},
};

static const hookd_cli_opt dead_opts[] = {
    {"plugin", 0, "NAME", "only this plugin instance's deliveries"},
    {"source", 0, "NAME", "only this source's events"},
    {"type", 0, "GLOB", "only events whose type matches (* and ? wildcards)"},
    {"limit", 0, "N", "at most N rows (default 50)"},
    {"json", 0, NULL, "machine-readable output"},
    {0},
};

static const hookd_cli_opt replay_opts[] = {
    {"dead", 0, NULL, "every dead letter"},
    {"plugin", 0, "NAME", "with --dead: only this plugin instance's"},
    {"source", 0, "NAME", "with --dead: only this source's events"},
    {"type", 0, "GLOB", "with --dead: only events whose type matches"},
    {"json", 0, NULL, "machine-readable output"},
    {0},
};

static const hookd_cli_opt spool_opts[] = {
    {"to", 0, "postgres:CONNINFO",
     "the cluster's PostgreSQL: a libpq string or URI; empty after\n"
     "postgres: takes it from PGHOST, PGUSER, PGPASSWORD..."},
    {"spool", 0, "PATH", "the SQLite spool to copy (default: spool.path of -c FILE)"},
    {"batch", 0, "N", "events per transaction (default 500)"},
    {"json", 0, NULL, "machine-readable summary"},
    {0},
};

static const hookd_cli_opt ctct_opts[] = {
    {"json", 0, NULL, "machine-readable output"},
    {0},
};

static const hookd_cli_opt check_opts[] = {
    {"keys", 0, NULL, "also each plugin instance's configuration keys: type, default, what"},
    {0},
};

static const hookd_cli_cmd commands[] = {
    {"run", hookd_cmd_run, run_opts, 0,
     "  run                 run the daemon (the default: hookd -c FILE is hookd run -c FILE)\n"},
    {"check", hookd_cmd_check, check_opts, 0,
     "  check               load the configuration and every plugin, print what would run\n"},
    {"sign", hookd_cmd_sign, sign_opts, 0,
     "  sign                print the header(s) a sender would add to a body\n"},
    {"send", hookd_cmd_send, send_opts, -1,
     "  send URL            post a signed test notification to a receiver, print the answer\n"
     "                      (exit 0 on 2xx)\n"},
    {"events", hookd_cmd_events, events_opts, -1,
     "  events              list stored events, newest first\n"
     "  events show ID      one event: its deliveries, each attempt, times and reasons\n"},
    {"dead", hookd_cmd_dead, dead_opts, 0,
     "  dead                list dead-lettered deliveries\n"},
    {"replay", hookd_cmd_replay, replay_opts, -1,
     "  replay ID...        deliver these events again (every routed instance)\n"
     "  replay --dead       deliver every dead letter again (--plugin NAME: only its)\n"},
    {"spool", hookd_cmd_spool, spool_opts, -1,
     "  spool copy --to postgres:CONNINFO\n"
     "                      copy this node's SQLite spool into a cluster's PostgreSQL\n"
     "                      spool: events, deliveries with their state (pending ones\n"
     "                      unclaimed, for any node), attempts, dedup keys; a second\n"
     "                      run copies nothing twice. It reads while hookd runs; stop\n"
     "                      hookd first for a consistent copy of in-flight rows\n"},
    {"ctct", hookd_cmd_ctct, ctct_opts, -1,
     "  ctct topics         Constant Contact partner webhook topics and subscriptions\n"
     "  ctct subscribe TOPIC URL   subscribe a topic (1-4 or its event type) to an https URL\n"
     "  ctct unsubscribe TOPIC     end a topic's subscription\n"
     "  ctct test TOPIC     ask Constant Contact to send a sample notification\n"
     "                      (the ctct: block of -c FILE gives the API and credentials)\n"},
    {"version", hookd_cmd_version, NULL, 0,
     "  version             print the version and the plugin ABI\n"},
};

int main(int argc, char **argv)
{
    return hookd_cli_main(commands, sizeof commands / sizeof commands[0], argc, argv);
}

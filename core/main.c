/* main: the command line (DESIGN §3). Exit codes: 0 ok, 1 runtime failure,
 * 2 usage or configuration error. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <hookd/version.h>

#include "admin.h"
#include "config.h"
#include "ctct_cli.h"
#include "enrich.h"
#include "dispatch.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "receive.h"
#include "runtime.h"
#include "send_cli.h"
#include "server.h"
#include "spool.h"
#include "spool_cli.h"
#include "verify.h"

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
    "  --scheme S          ctct-hmac-sha256 | github | stripe | standard-webhooks | hmac\n"
    "  --secret K          the shared secret (or take both from --source NAME of -c FILE)\n"
    "  --source NAME       use the scheme and first secret of this configured source\n"
    "  --file BODY         the body to sign (default: standard input)\n"
    "  --id ID             message id (standard-webhooks; default: a new id)\n"
    "  --timestamp T       Unix seconds (stripe, standard-webhooks; default: now)\n"
    "  --header H, --algorithm sha256|sha512, --encoding hex|base64, --prefix P\n"
    "                      for the generic hmac scheme\n"
    "\n"
    "send URL: post a signed test notification and print the answer (exit 0 on 2xx)\n"
    "  --scheme S --secret K, or --source NAME of -c FILE (scheme, secret, Basic)\n"
    "  --user U --password P   Basic credentials (default: the source's)\n"
    "  --file BODY         the body (- for standard input), or\n"
    "  --topic T           a Constant Contact v2 sample: tier.increase (default),\n"
    "                      tier.decrease, account.cancel, account.disable\n"
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
    hookd_cli_args cli;
    hookd_send_args send; /* hookd send: its own options */
} opts;

/* ---------- configuration ---------- */

/* -c FILE, else ./hookd.yaml, else /etc/hookd/hookd.yaml, else the embedded
 * default (*embedded set). NULL with the reason in err. */
static hookd_config *find_config(const char *path, int *embedded, char *err, size_t errlen)
{
    struct stat st;
    *embedded = 0;
    if (path)
        return hookd_config_load(path, err, errlen);
    if (stat("hookd.yaml", &st) == 0)
        return hookd_config_load("hookd.yaml", err, errlen);
    if (stat("/etc/hookd/hookd.yaml", &st) == 0)
        return hookd_config_load("/etc/hookd/hookd.yaml", err, errlen);
    *embedded = 1;
    return hookd_config_parse("(embedded default)", hookd_default_config,
                              strlen(hookd_default_config), err, errlen);
}

static hookd_config *load_config(const char *path, int *exit_code)
{
    char err[1024];
    int embedded = 0;
    hookd_config *cfg = find_config(path, &embedded, err, sizeof err);
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

typedef struct daemon_state {
    uv_loop_t *loop;
    const opts *o;
    hookd_runtime *rt;        /* the current configuration; the daemon's reference */
    hookd_receiver *recv;
    hookd_server *server;
    hookd_admin *admin;
    hookd_spool *spool;
    hookd_dispatch *disp;
    int64_t drain_ms;         /* the longest of every configuration run so far */
    uv_signal_t sigterm, sigint, sighup;
    int stopping;
    /* Runtimes whose last reference is gone (a worker may drop it): freed on
     * the loop thread, where plugins' destroy() must run. */
    uv_async_t reap;
    pthread_mutex_t reap_lock;
    hookd_runtime *dead;      /* under reap_lock */
    int reap_closed;          /* under reap_lock: after that main frees them */
} daemon_state;

/* Any thread: the last reference to rt is gone. */
static void on_last_ref(void *ud, hookd_runtime *rt)
{
    daemon_state *d = ud;
    pthread_mutex_lock(&d->reap_lock);
    rt->next = d->dead;
    d->dead = rt;
    if (!d->reap_closed)
        uv_async_send(&d->reap);
    pthread_mutex_unlock(&d->reap_lock);
}

static void free_dead(daemon_state *d)
{
    pthread_mutex_lock(&d->reap_lock);
    hookd_runtime *rt = d->dead;
    d->dead = NULL;
    pthread_mutex_unlock(&d->reap_lock);
    while (rt) {
        hookd_runtime *nx = rt->next;
        hookd_log(HOOKD_LOG_DEBUG, "configuration of %s released: its last delivery ended",
                  rt->cfg->file);
        hookd_runtime_free(rt);
        rt = nx;
    }
}

static void on_reap(uv_async_t *h) { free_dead(h->data); }

static void on_server_stopped(void *arg)
{
    daemon_state *d = arg;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
    pthread_mutex_lock(&d->reap_lock);
    d->reap_closed = 1;
    pthread_mutex_unlock(&d->reap_lock);
    uv_close((uv_handle_t *)&d->reap, NULL);
    hookd_spool_detach(d->spool); /* every request is answered: no append is left */
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_state *d = h->data;
    if (d->stopping)
        return;
    d->stopping = 1;
    hookd_notify_stopping();
    hookd_log(HOOKD_LOG_INFO, "%s: stopping: no new connections, finishing requests in flight",
              strsignal(signum));
    hookd_admin_stop(d->admin); /* first: /readyz must not answer 200 from here on */
    hookd_server_stop(d->server, on_server_stopped, d);
}

/* How long running deliveries may take to end: the longest timeout, and a
 * little more for a plugin to notice its deadline. */
static int64_t drain_ms(const hookd_config *cfg)
{
    int64_t ms = 0;
    for (size_t i = 0; i < cfg->nplugins; i++)
        if (cfg->plugins[i].timeout_ms > ms)
            ms = cfg->plugins[i].timeout_ms;
    return ms + 5000;
}

/* ---------- reload (SIGHUP) ---------- */

static int str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static void swap_str(char **a, char **b)
{
    char *t = *a;
    *a = *b;
    *b = t;
}

static void note(char *list, size_t cap, const char *what)
{
    size_t n = strlen(list);
    snprintf(list + n, cap - n, "%s%s", n ? ", " : "", what);
}

/* What only a restart can change: the new configuration takes the running
 * values (swapped, so each configuration still frees what it holds; nothing
 * reads these of the old one any more). Names what differed into `changed`. */
static void keep_restart_only(hookd_config *old, hookd_config *nw, char *changed, size_t cap)
{
    changed[0] = '\0';
    int listen = old->nlisten != nw->nlisten;
    for (size_t i = 0; !listen && i < old->nlisten; i++)
        listen = strcmp(old->listen[i], nw->listen[i]) != 0;
    if (listen) {
        note(changed, cap, "server.listen");
        char **l = old->listen;
        size_t n = old->nlisten;
        old->listen = nw->listen;
        old->nlisten = nw->nlisten;
        nw->listen = l;
        nw->nlisten = n;
    }
    if (str_differs(old->tls_cert, nw->tls_cert) || str_differs(old->tls_key, nw->tls_key)) {
        note(changed, cap, "server.tls");
        swap_str(&old->tls_cert, &nw->tls_cert);
        swap_str(&old->tls_key, &nw->tls_key);
    }
    if (str_differs(old->admin_listen, nw->admin_listen)) {
        note(changed, cap, "admin.listen");
        swap_str(&old->admin_listen, &nw->admin_listen);
    }
    if (str_differs(old->spool_path, nw->spool_path)) {
        note(changed, cap, "spool.path");
        swap_str(&old->spool_path, &nw->spool_path);
    }
    if (old->spool_sync_full != nw->spool_sync_full) {
        note(changed, cap, "spool.sync");
        nw->spool_sync_full = old->spool_sync_full;
    }
    if (old->workers != nw->workers) {
        note(changed, cap, "dispatch.workers");
        nw->workers = old->workers;
    }
    const hookd_ctct_cfg *a = &old->ctct, *b = &nw->ctct;
    if (a->present != b->present || a->api != b->api || a->timeout_ms != b->timeout_ms ||
        str_differs(a->base_url, b->base_url) || str_differs(a->api_key, b->api_key) ||
        str_differs(a->username, b->username) || str_differs(a->password, b->password) ||
        str_differs(a->client_id, b->client_id) ||
        str_differs(a->client_secret, b->client_secret) ||
        str_differs(a->token_url, b->token_url))
        note(changed, cap, "ctct"); /* the client keeps its own copy */
}

static void reload_done(daemon_state *d, int ok)
{
    hookd_metrics_reloaded(ok);
    char status[160];
    const hookd_config *c = d->rt->cfg;
    snprintf(status, sizeof status, "ready: %zu sources, %zu plugin instances, %zu routes",
             c->nsources, c->nplugins, c->nroutes);
    hookd_notify_ready(status);
}

/* Loop thread. The new runtime is built whole beside the running one (its
 * plugins initialised); only then does it replace it. The old one lives on
 * until its last queued or running delivery ends (each job holds a
 * reference), then the loop destroys its instances and closes its plugins. */
static void reload(daemon_state *d)
{
    hookd_notify_reloading();
    hookd_log(HOOKD_LOG_INFO, "SIGHUP: reloading the configuration");
    char err[1024];
    int embedded = 0;
    hookd_config *cfg = find_config(d->o->config, &embedded, err, sizeof err);
    hookd_runtime *rt = cfg ? hookd_runtime_build(cfg, err, sizeof err) : NULL;
    if (!rt) {
        hookd_log(HOOKD_LOG_ERROR, "reload failed: %s; keeping the running configuration", err);
        reload_done(d, 0);
        return;
    }
    cfg = rt->cfg;
    char changed[256];
    keep_restart_only(d->rt->cfg, cfg, changed, sizeof changed);
    if (changed[0])
        hookd_log(HOOKD_LOG_WARN, "reload: %s changed: that needs a restart; keeping the "
                                  "running value (the rest is applied)", changed);
    rt->last = on_last_ref;
    rt->last_ud = d;
    hookd_runtime *old = d->rt;
    d->rt = rt;
    /* Everything that reads the configuration per request or per event. */
    d->recv->rt = rt;
    d->recv->queue_max = cfg->queue_max;
    hookd_server_set_config(d->server, cfg);
    hookd_admin_set_runtime(d->admin, rt);
    hookd_spool_set_runtime(d->spool, rt);
    hookd_metrics_reload(cfg);
    hookd_log_setup(cfg->log_level, cfg->log_json);
    if (drain_ms(cfg) > d->drain_ms)
        d->drain_ms = drain_ms(cfg);
    hookd_runtime_unref(old); /* freed now, or after its last delivery */
    hookd_log(HOOKD_LOG_INFO, "reloaded %s: %zu sources, %zu plugin instances, %zu routes",
              cfg->file, cfg->nsources, cfg->nplugins, cfg->nroutes);
    reload_done(d, 1);
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    daemon_state *d = h->data;
    if (!d->stopping)
        reload(d);
}

/* The ctct client keeps a pointer to its configuration: a copy of its own,
 * since a reload frees the configuration it started with. */
static void ctct_cfg_free(hookd_ctct_cfg *c)
{
    char **f[] = {&c->base_url, &c->api_key, &c->username, &c->password,
                  &c->client_id, &c->client_secret, &c->token_url};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (*f[i])
            explicit_bzero(*f[i], strlen(*f[i]));
        free(*f[i]);
        *f[i] = NULL;
    }
}

static int ctct_cfg_copy(hookd_ctct_cfg *to, const hookd_ctct_cfg *from)
{
    *to = *from;
    char **f[] = {&to->base_url, &to->api_key, &to->username, &to->password,
                  &to->client_id, &to->client_secret, &to->token_url};
    int bad = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (*f[i] && !(*f[i] = strdup(*f[i])))
            bad = 1;
    return bad ? -1 : 0;
}

static int cmd_run(const opts *o)
{
    int code = 0;
    hookd_runtime *rt = build_runtime(o, &code);
    if (!rt)
        return code;
    hookd_metrics_init(rt->cfg);
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit must fail a write (the spool answers 503), not kill us. */
    signal(SIGXFSZ, SIG_IGN);
    /* Each connection is a descriptor: allow as many as the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[512];
    daemon_state d = {.loop = &loop, .o = o, .rt = rt, .drain_ms = drain_ms(rt->cfg)};
    hookd_ctct_cfg ctct_cfg;
    if (ctct_cfg_copy(&ctct_cfg, &rt->cfg->ctct) != 0) {
        fprintf(stderr, "hookd: out of memory\n");
        ctct_cfg_free(&ctct_cfg);
        hookd_runtime_free(rt);
        return EXIT_RUNTIME;
    }
    hookd_dispatch *disp = hookd_dispatch_new(rt->cfg->workers);
    if (!disp) {
        fprintf(stderr, "hookd: cannot start the worker threads\n");
        ctct_cfg_free(&ctct_cfg);
        hookd_runtime_free(rt);
        return EXIT_RUNTIME;
    }
    d.disp = disp;
    /* Sources with `enrich: ctct-plan`: their events get the plan first. Set
     * whatever the sources say, since a reload may add one (events of the
     * others never reach the enricher). */
    hookd_ctct *ctct = hookd_ctct_new(&ctct_cfg);
    hookd_enricher *enricher = hookd_enricher_new(ctct, NULL);
    if (enricher)
        hookd_dispatch_set_enricher(disp, hookd_enrich_ctct, enricher);
    d.spool = hookd_spool_open(&loop, rt, disp, err, sizeof err);
    if (d.spool && enricher)
        hookd_enricher_set_spool(enricher, d.spool);
    if (!d.spool) {
        fprintf(stderr, "hookd: %s\n", err);
        hookd_dispatch_free(disp);
        hookd_enricher_free(enricher);
        hookd_ctct_free(ctct);
        ctct_cfg_free(&ctct_cfg);
        hookd_runtime_free(rt);
        uv_loop_close(&loop);
        return EXIT_RUNTIME;
    }
    hookd_receiver recv = {
        .rt = rt, .dispatch = disp, .spool = d.spool, .queue_max = rt->cfg->queue_max};
    d.recv = &recv;
    d.server = hookd_server_new(&loop, rt->cfg, hookd_receive, &recv, err, sizeof err);
    if (!d.server) {
        fprintf(stderr, "%s: %s\n", rt->cfg->file, err);
        hookd_spool_detach(d.spool);
        uv_run(&loop, UV_RUN_DEFAULT);
        hookd_dispatch_stop(disp, drain_ms(rt->cfg));
        hookd_spool_close(d.spool);
        hookd_dispatch_free(disp);
        hookd_enricher_free(enricher);
        hookd_ctct_free(ctct);
        ctct_cfg_free(&ctct_cfg);
        hookd_runtime_free(rt);
        uv_loop_close(&loop);
        return EXIT_RUNTIME;
    }
    if (rt->cfg->admin_listen) {
        hookd_admin_deps deps = {.rt = rt, .spool = d.spool, .dispatch = disp, .server = d.server};
        d.admin = hookd_admin_new(&loop, &deps, err, sizeof err);
        if (!d.admin) {
            fprintf(stderr, "%s: %s\n", rt->cfg->file, err);
            hookd_server_stop(d.server, NULL, NULL);
            hookd_spool_detach(d.spool);
            uv_run(&loop, UV_RUN_DEFAULT);
            hookd_server_free(d.server);
            hookd_dispatch_stop(disp, drain_ms(rt->cfg));
            hookd_spool_close(d.spool);
            hookd_dispatch_free(disp);
            hookd_enricher_free(enricher);
            hookd_ctct_free(ctct);
            ctct_cfg_free(&ctct_cfg);
            hookd_metrics_free();
            hookd_runtime_free(rt);
            uv_loop_close(&loop);
            return EXIT_RUNTIME;
        }
    }
    uv_signal_init(&loop, &d.sigterm);
    uv_signal_init(&loop, &d.sigint);
    uv_signal_init(&loop, &d.sighup);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sighup, on_sighup, SIGHUP);
    pthread_mutex_init(&d.reap_lock, NULL);
    uv_async_init(&loop, &d.reap, on_reap);
    d.reap.data = &d;
    rt->last = on_last_ref; /* from here on every runtime is freed through d.dead */
    rt->last_ud = &d;
    hookd_log(HOOKD_LOG_INFO, "hookd %s ready: %zu sources, %zu plugin instances, %zu routes",
              HOOKD_VERSION_STRING, rt->cfg->nsources, rt->cfg->nplugins, rt->cfg->nroutes);
    {
        char status[160];
        snprintf(status, sizeof status, "ready: %zu sources, %zu plugin instances, %zu routes",
                 rt->cfg->nsources, rt->cfg->nplugins, rt->cfg->nroutes);
        hookd_notify_ready(status);
    }

    uv_run(&loop, UV_RUN_DEFAULT);

    /* Running deliveries end; queued ones stay pending in the spool for the
     * next start. Their outcomes are written before the spool closes. */
    int clean = hookd_dispatch_stop(disp, d.drain_ms) == 0;
    hookd_spool_close(d.spool);
    hookd_server_free(d.server);
    hookd_admin_free(d.admin);
    if (!clean) {
        /* A plugin ignores its deadline: it cannot be unloaded under it. */
        hookd_log(HOOKD_LOG_WARN, "stopped with a delivery still running past its timeout; "
                                  "it stays pending and runs again at the next start");
        _exit(0);
    }
    hookd_dispatch_free(disp);  /* queued jobs drop their references */
    hookd_enricher_free(enricher);
    hookd_ctct_free(ctct);
    ctct_cfg_free(&ctct_cfg);
    hookd_metrics_free();
    hookd_runtime_unref(d.rt);
    free_dead(&d);              /* every runtime, on this (the main) thread */
    pthread_mutex_destroy(&d.reap_lock);
    uv_loop_close(&loop);
    hookd_log(HOOKD_LOG_INFO, "stopped");
    return 0;
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

static int cmd_check(const opts *o)
{
    int code = 0;
    hookd_runtime *rt = build_runtime(o, &code);
    if (!rt)
        return code;
    const hookd_config *c = rt->cfg;
    printf("configuration %s is valid\n", c->file);
    print_list("listen: ", c->listen, c->nlisten);
    printf("tls: %s\n", c->tls_cert ? "on" : "off (plain HTTP)");
    printf("limits: max_body %zu B, max_header %zu B, max_connections %d\n", c->max_body,
           c->max_header, c->max_connections);
    printf("sources:\n");
    for (size_t i = 0; i < c->nsources; i++) {
        const hookd_source_cfg *s = &c->sources[i];
        printf("  %s  POST %s  verify %s (%zu secret%s)%s  type %s%s\n", s->name, s->path,
               hookd_scheme_name(s->verify.scheme), s->verify.nsecrets,
               s->verify.nsecrets == 1 ? "" : "s", s->basic_user ? "  basic auth" : "",
               s->event_type_header ? "header:" : "",
               s->event_type_header ? s->event_type_header : s->event_type);
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

static char *read_all(const char *path, size_t *len)
{
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= 64u << 20) { /* bounded like max_body */
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (path)
        fclose(f);
    *len = n;
    return buf;
}

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
                v = cfg->sources[i].verify;
        if (!v.nsecrets) {
            fprintf(stderr, "hookd sign: no source \"%s\" with a secret in %s\n", o->source,
                    cfg->file);
            hookd_config_free(cfg);
            return EXIT_USAGE;
        }
    } else {
        if (!o->scheme || !o->secret) {
            fprintf(stderr, "hookd sign: give --scheme and --secret, or --source NAME\n");
            return EXIT_USAGE;
        }
        int s = hookd_scheme_from_name(o->scheme);
        if (s < 0 || s == HOOKD_SCHEME_NONE) {
            fprintf(stderr, "hookd sign: unknown scheme \"%s\"\n", o->scheme);
            return EXIT_USAGE;
        }
        v.scheme = (hookd_scheme)s;
        secrets[0] = (char *)o->secret;
        v.secrets = secrets;
        v.nsecrets = 1;
        v.header = (char *)(o->header ? o->header : "X-Signature");
        v.prefix = (char *)o->prefix;
        v.algorithm = o->algorithm && strcmp(o->algorithm, "sha512") == 0 ? HOOKD_ALG_SHA512
                                                                           : HOOKD_ALG_SHA256;
        v.encoding = o->encoding && strcmp(o->encoding, "base64") == 0 ? HOOKD_ENC_BASE64
                                                                        : HOOKD_ENC_HEX;
    }
    size_t len = 0;
    char *body = read_all(o->file, &len);
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
    char out[4096];
    int n = hookd_sign(&v, body, len, o->id ? o->id : id, ts, out, sizeof out);
    free(body);
    hookd_config_free(cfg);
    if (n < 0) {
        fprintf(stderr, "hookd sign: cannot sign with this scheme and secret\n");
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

/* daemon: `hookd run` — the loop, the spool, the workers, the listeners,
 * signals, and the SIGHUP reload that swaps a whole new runtime in. */
#include "daemon.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <hookd/version.h>

#include "net/admin.h"
#include "ctct/ctct.h"
#include "deliver/dispatch.h"
#include "ingest/enrich.h"
#include "base/log.h"
#include "base/metrics.h"
#include "notify.h"
#include "ingest/receive.h"
#include "net/server.h"
#include "spool/spool.h"
#include "net/tls.h"

typedef struct daemon_state {
    uv_loop_t *loop;
    const char *config_path;  /* -c, or NULL: searched again on reload */
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
    /* SIGHUP builds the new runtime on a thread of its own: a plugin's init
     * may block (a database that does not answer), the loop never does. */
    uv_async_t built;
    pthread_t builder;
    int building;             /* loop only: a build runs */
    int build_again;          /* loop only: SIGHUP came during a build */
    int server_stopped;       /* loop only: on_server_stopped has run */
    hookd_runtime *new_rt;    /* the builder's result, read once it has ended */
    char build_err[1024];
    /* A renewed certificate is read by the builder too (new handshakes use
     * it, open connections keep theirs); TLS on or off needs a restart. */
    int tls;                  /* set at start: the webhook listeners use TLS */
    SSL_CTX *new_tls;         /* the builder's, or NULL with tls_err */
    hookd_tls_cert_info new_tls_info;
    char tls_err[512];
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
    d->server_stopped = 1;
    if (!d->building) /* else on_built closes it, once the builder has ended */
        uv_close((uv_handle_t *)&d->built, NULL);
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
static void keep_restart_only(hookd_config *old, hookd_config *nw, int tls_loaded,
                              char *changed, size_t cap)
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
    /* TLS on or off needs a restart; other paths are read like the running
     * ones, and kept (with their pair) when the new pair did not load. */
    int onoff = (old->tls_cert == NULL) != (nw->tls_cert == NULL);
    if (onoff || (!tls_loaded && (str_differs(old->tls_cert, nw->tls_cert) ||
                                  str_differs(old->tls_key, nw->tls_key)))) {
        if (onoff)
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
    if (hookd_ctct_cfg_differs(&old->ctct, &nw->ctct))
        note(changed, cap, "ctct"); /* the client keeps its own copy */
}

/* The certificate new handshakes use: the gauge and the log follow it. */
static void tls_in_use(const hookd_tls_cert_info *info, const char *prefix)
{
    char desc[400];
    int64_t now = (int64_t)time(NULL);
    hookd_tls_cert_describe(info, now, desc, sizeof desc);
    hookd_metrics_tls_cert_expiry(info->not_after);
    hookd_log(info->not_after <= now ? HOOKD_LOG_WARN : HOOKD_LOG_INFO, "%sTLS %s", prefix, desc);
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
 * plugins initialised, on the builder thread); only then does it replace it.
 * The old one lives on until its last queued or running delivery ends (each
 * job holds a reference), then the loop destroys its instances and closes
 * its plugins. */
static void apply(daemon_state *d, hookd_runtime *rt)
{
    hookd_config *cfg = rt->cfg;
    int tls_loaded = d->new_tls != NULL;
    if (d->new_tls) {
        SSL_CTX_free(hookd_server_swap_tls(d->server, d->new_tls));
        d->new_tls = NULL;
        tls_in_use(&d->new_tls_info, "reload: ");
    } else if (d->tls_err[0]) {
        hookd_log(HOOKD_LOG_WARN, "reload: %s; keeping the running certificate", d->tls_err);
    }
    char changed[256];
    keep_restart_only(d->rt->cfg, cfg, tls_loaded, changed, sizeof changed);
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
    hookd_config_metrics(cfg, 1);
    hookd_log_setup(cfg->log_level, cfg->log_json);
    if (drain_ms(cfg) > d->drain_ms)
        d->drain_ms = drain_ms(cfg);
    hookd_runtime_unref(old); /* freed now, or after its last delivery */
    hookd_log(HOOKD_LOG_INFO, "reloaded %s: %zu sources, %zu plugin instances, %zu routes",
              cfg->file, cfg->nsources, cfg->nplugins, cfg->nroutes);
    reload_done(d, 1);
}

/* The builder thread: reads the file and initialises every plugin. It
 * touches nothing of the running runtime. */
static void *build(void *arg)
{
    daemon_state *d = arg;
    int embedded = 0;
    hookd_config *cfg = hookd_config_find(d->config_path, &embedded, d->build_err,
                                          sizeof d->build_err);
    d->new_rt = cfg ? hookd_runtime_build(cfg, d->build_err, sizeof d->build_err) : NULL;
    if (d->new_rt && d->tls && d->new_rt->cfg->tls_cert) {
        const hookd_config *c = d->new_rt->cfg;
        d->new_tls = hookd_tls_ctx_new(c->tls_cert, c->tls_key, d->tls_err, sizeof d->tls_err);
        if (d->new_tls && hookd_tls_ctx_cert_info(d->new_tls, &d->new_tls_info) != 0) {
            snprintf(d->tls_err, sizeof d->tls_err, "server.tls.cert: %s: cannot read its "
                     "expiry date", c->tls_cert);
            SSL_CTX_free(d->new_tls);
            d->new_tls = NULL;
        }
    }
    if (d->new_rt && hookd_runtime_start(d->new_rt) < 0)
        hookd_log(HOOKD_LOG_WARN, "reload: cannot start a key set thread: key sets are not "
                                  "read again until the next reload");
    uv_async_send(&d->built);
    return NULL;
}

static void start_build(daemon_state *d)
{
    hookd_notify_reloading();
    hookd_log(HOOKD_LOG_INFO, "SIGHUP: reloading the configuration");
    d->new_rt = NULL;
    d->build_err[0] = '\0';
    d->new_tls = NULL;
    d->tls_err[0] = '\0';
    if (pthread_create(&d->builder, NULL, build, d) != 0) {
        hookd_log(HOOKD_LOG_ERROR, "reload failed: cannot start a thread; keeping the "
                                   "running configuration");
        reload_done(d, 0);
        return;
    }
    pthread_setname_np(d->builder, "hookd-reload");
    d->building = 1;
}

static void on_built(uv_async_t *h)
{
    daemon_state *d = h->data;
    if (!d->building)
        return;
    pthread_join(d->builder, NULL);
    d->building = 0;
    hookd_runtime *rt = d->new_rt;
    d->new_rt = NULL;
    if (d->stopping || !rt) { /* not applied: the certificate goes with the rest */
        SSL_CTX_free(d->new_tls);
        d->new_tls = NULL;
    }
    if (d->stopping) { /* too late to apply: the server has stopped, or is stopping */
        hookd_runtime_free(rt);
        if (d->server_stopped)
            uv_close((uv_handle_t *)&d->built, NULL);
        return;
    }
    if (rt) {
        apply(d, rt);
    } else {
        hookd_log(HOOKD_LOG_ERROR, "reload failed: %s; keeping the running configuration",
                  d->build_err);
        reload_done(d, 0);
    }
    if (d->build_again) { /* the file may have changed again since this build read it */
        d->build_again = 0;
        start_build(d);
    }
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    daemon_state *d = h->data;
    if (d->stopping)
        return;
    if (d->building)
        d->build_again = 1;
    else
        start_build(d);
}

int hookd_daemon_run(hookd_runtime *rt, const char *config_path)
{
    hookd_config_metrics(rt->cfg, 0);
    if (hookd_runtime_start(rt) < 0) {
        fprintf(stderr, "hookd: cannot start the key set threads\n");
        hookd_metrics_free();
        hookd_runtime_free(rt);
        return HOOKD_EXIT_RUNTIME;
    }
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit must fail a write (the spool answers 503), not kill us. */
    signal(SIGXFSZ, SIG_IGN);
    /* Each connection is a descriptor: allow as many as the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Each connection is a descriptor, and the spool, plugins and listeners
     * take some: past the limit accepts fail (EMFILE) before max_connections. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)rt->cfg->max_connections + 64 > rl.rlim_cur)
        hookd_log(HOOKD_LOG_WARN, "server.max_connections %d exceeds the open files limit "
                  "(RLIMIT_NOFILE %llu, less what hookd itself holds): raise LimitNOFILE or "
                  "lower max_connections", rt->cfg->max_connections,
                  (unsigned long long)rl.rlim_cur);

    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[512];
    daemon_state d = {.loop = &loop, .config_path = config_path, .rt = rt, .drain_ms = drain_ms(rt->cfg)};
    hookd_ctct_cfg ctct_cfg;
    if (hookd_ctct_cfg_copy(&ctct_cfg, &rt->cfg->ctct) != 0) {
        fprintf(stderr, "hookd: out of memory\n");
        hookd_ctct_cfg_clear(&ctct_cfg);
        hookd_runtime_free(rt);
        return HOOKD_EXIT_RUNTIME;
    }
    hookd_dispatch *disp = hookd_dispatch_new(rt->cfg->workers);
    if (!disp) {
        fprintf(stderr, "hookd: cannot start the worker threads\n");
        hookd_ctct_cfg_clear(&ctct_cfg);
        hookd_runtime_free(rt);
        return HOOKD_EXIT_RUNTIME;
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
        hookd_ctct_cfg_clear(&ctct_cfg);
        hookd_runtime_free(rt);
        uv_loop_close(&loop);
        return HOOKD_EXIT_RUNTIME;
    }
    hookd_receiver recv = {
        .rt = rt, .dispatch = disp, .spool = d.spool, .queue_max = rt->cfg->queue_max};
    d.recv = &recv;
    d.server = hookd_server_new(&loop, rt->cfg, hookd_receive, &recv, err, sizeof err);
    if (d.server)
        hookd_server_set_head_check(d.server, hookd_receive_head);
    if (d.server && rt->cfg->tls_cert) {
        /* The file the server just loaded; only the gauge and log use it. */
        hookd_tls_cert_info info;
        d.tls = 1;
        if (hookd_tls_file_cert_info(rt->cfg->tls_cert, &info) == 0)
            tls_in_use(&info, "");
    }
    if (!d.server) {
        fprintf(stderr, "%s: %s\n", rt->cfg->file, err);
        hookd_spool_detach(d.spool);
        uv_run(&loop, UV_RUN_DEFAULT);
        hookd_dispatch_stop(disp, drain_ms(rt->cfg));
        hookd_spool_close(d.spool);
        hookd_dispatch_free(disp);
        hookd_enricher_free(enricher);
        hookd_ctct_free(ctct);
        hookd_ctct_cfg_clear(&ctct_cfg);
        hookd_runtime_free(rt);
        uv_loop_close(&loop);
        return HOOKD_EXIT_RUNTIME;
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
            hookd_ctct_cfg_clear(&ctct_cfg);
            hookd_metrics_free();
            hookd_runtime_free(rt);
            uv_loop_close(&loop);
            return HOOKD_EXIT_RUNTIME;
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
    uv_async_init(&loop, &d.built, on_built);
    d.built.data = &d;
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
    hookd_ctct_cfg_clear(&ctct_cfg);
    hookd_metrics_free();
    hookd_runtime_unref(d.rt);
    free_dead(&d);              /* every runtime, on this (the main) thread */
    pthread_mutex_destroy(&d.reap_lock);
    uv_loop_close(&loop);
    hookd_log(HOOKD_LOG_INFO, "stopped");
    return 0;
}


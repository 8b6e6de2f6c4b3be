/* daemon: `hookd run` — the loop, the spool, the workers, the listeners,
 * signals and the drain. The SIGHUP reload is in reload.c. */
#include "daemon.h"
#include "daemon_priv.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <hookd/version.h>

#include "base/log.h"
#include "base/metrics.h"
#include "notify.h"

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
    pthread_mutex_lock(&d->reap_lock);
    d->reap_closed = 1;
    pthread_mutex_unlock(&d->reap_lock);
    uv_close((uv_handle_t *)&d->reap, NULL);
    hookd_daemon_reload_close(d);
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

/* Signals that must not kill us, and as many descriptors as allowed. */
static void process_limits(const hookd_config *cfg)
{
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
        (rlim_t)cfg->max_connections + 64 > rl.rlim_cur)
        hookd_log(HOOKD_LOG_WARN, "server.max_connections %d exceeds the open files limit "
                  "(RLIMIT_NOFILE %llu, less what hookd itself holds): raise LimitNOFILE or "
                  "lower max_connections", cfg->max_connections,
                  (unsigned long long)rl.rlim_cur);
}

/* The loop, the workers, the Constant Contact client and the spool. -1
 * after saying why on stderr. */
static int open_core(daemon_state *d)
{
    char err[512];
    const hookd_config *cfg = d->rt->cfg;
    uv_loop_init(&d->loop);
    d->loop_open = 1;
    if (hookd_ctct_cfg_copy(&d->ctct_cfg, &cfg->ctct) != 0) {
        fprintf(stderr, "hookd: out of memory\n");
        return -1;
    }
    if (!(d->disp = hookd_dispatch_new(cfg->workers))) {
        fprintf(stderr, "hookd: cannot start the worker threads\n");
        return -1;
    }
    /* Sources with `enrich: ctct-plan`: their events get the plan first. Set
     * whatever the sources say, since a reload may add one (events of the
     * others never reach the enricher). */
    d->ctct = hookd_ctct_new(&d->ctct_cfg);
    d->enricher = hookd_enricher_new(d->ctct, NULL);
    if (d->enricher)
        hookd_dispatch_set_enricher(d->disp, hookd_enrich_ctct, d->enricher);
    if (!(d->spool = hookd_spool_open(&d->loop, d->rt, d->disp, err, sizeof err))) {
        fprintf(stderr, "hookd: %s\n", err);
        return -1;
    }
    if (d->enricher)
        hookd_enricher_set_spool(d->enricher, d->spool);
    return 0;
}

/* The webhook listeners and the admin one. -1 after saying why on stderr. */
static int open_listeners(daemon_state *d)
{
    char err[512];
    hookd_runtime *rt = d->rt;
    d->recv = (hookd_receiver){
        .rt = rt, .dispatch = d->disp, .spool = d->spool, .queue_max = rt->cfg->queue_max};
    d->server = hookd_server_new(&d->loop, rt->cfg, hookd_receive, &d->recv, err, sizeof err);
    if (!d->server) {
        fprintf(stderr, "%s: %s\n", rt->cfg->file, err);
        return -1;
    }
    hookd_server_set_head_check(d->server, hookd_receive_head);
    if (rt->cfg->tls_cert) {
        /* The file the server just loaded; only the gauge and log use it. */
        hookd_tls_cert_info info;
        d->tls = 1;
        if (hookd_tls_file_cert_info(rt->cfg->tls_cert, &info) == 0)
            hookd_daemon_tls_in_use(&info, "");
    }
    if (rt->cfg->admin_listen) {
        hookd_admin_deps deps = {
            .rt = rt, .spool = d->spool, .dispatch = d->disp, .server = d->server};
        if (!(d->admin = hookd_admin_new(&d->loop, &deps, err, sizeof err))) {
            fprintf(stderr, "%s: %s\n", rt->cfg->file, err);
            return -1;
        }
    }
    return 0;
}

/* SIGTERM and SIGINT stop, SIGHUP reloads; from here on every runtime is
 * freed through d->dead. */
static void watch(daemon_state *d)
{
    uv_signal_init(&d->loop, &d->sigterm);
    uv_signal_init(&d->loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    pthread_mutex_init(&d->reap_lock, NULL);
    uv_async_init(&d->loop, &d->reap, on_reap);
    d->reap.data = d;
    hookd_daemon_reload_watch(d);
    d->rt->last = on_last_ref; /* a reload hands it on to each new runtime */
    d->rt->last_ud = d;
    d->watching = 1;
}

/* The one way out, for a clean stop (rc 0) and for a start that failed
 * half-way (rc -1) (whatever is open is closed, in reverse order). Returns rc. */
static int teardown(daemon_state *d, int rc)
{
    if (rc != 0 && d->spool) {
        /* The loop has not run: let the listeners and the spool close. */
        if (d->server)
            hookd_server_stop(d->server, NULL, NULL);
        hookd_spool_detach(d->spool);
        uv_run(&d->loop, UV_RUN_DEFAULT);
    }
    /* Running deliveries end; queued ones stay pending in the spool for the
     * next start. Their outcomes are written before the spool closes. */
    int clean = !d->disp || hookd_dispatch_stop(d->disp, d->drain_ms) == 0;
    hookd_spool_close(d->spool);
    hookd_server_free(d->server);
    hookd_admin_free(d->admin);
    if (!clean) {
        /* A plugin ignores its deadline: it cannot be unloaded under it. */
        hookd_log(HOOKD_LOG_WARN, "stopped with a delivery still running past its timeout; "
                                  "it stays pending and runs again at the next start");
        _exit(rc == 0 ? 0 : 1); /* no way back to main(): its status for a failed start */
    }
    hookd_dispatch_free(d->disp);  /* queued jobs drop their references */
    hookd_enricher_free(d->enricher);
    hookd_ctct_free(d->ctct);
    hookd_ctct_cfg_clear(&d->ctct_cfg);
    hookd_metrics_free();
    if (d->watching) {
        hookd_runtime_unref(d->rt);
        free_dead(d);              /* every runtime, on this (the main) thread */
        pthread_mutex_destroy(&d->reap_lock);
    } else {
        hookd_runtime_free(d->rt);
    }
    if (d->loop_open)
        uv_loop_close(&d->loop);
    if (rc == 0)
        hookd_log(HOOKD_LOG_INFO, "stopped");
    return rc;
}

int hookd_daemon_run(hookd_runtime *rt, const char *config_path)
{
    daemon_state d = {
        .config_path = config_path, .rt = rt, .drain_ms = hookd_daemon_drain_ms(rt->cfg)};
    hookd_config_metrics(rt->cfg, 0);
    if (hookd_runtime_start(rt) < 0) {
        fprintf(stderr, "hookd: cannot start the key set threads\n");
        return teardown(&d, -1);
    }
    process_limits(rt->cfg);
    if (open_core(&d) < 0 || open_listeners(&d) < 0)
        return teardown(&d, -1);
    watch(&d);
    hookd_log(HOOKD_LOG_INFO, "hookd %s ready: %zu sources, %zu plugin instances, %zu routes",
              HOOKD_VERSION_STRING, rt->cfg->nsources, rt->cfg->nplugins, rt->cfg->nroutes);
    hookd_daemon_notify_ready(rt->cfg);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    return teardown(&d, 0);
}

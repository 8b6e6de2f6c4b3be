/* daemon: the SIGHUP reload. A builder thread reads the file again and
 * initialises a whole new runtime beside the running one; the loop then
 * swaps it in, keeping what only a restart can change. */
#include "daemon_priv.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/metrics.h"
#include "notify.h"

/* What every configuration sets, the first (daemon.c) and each reloaded one. */

/* The longest timeout, and a little more for a plugin to notice its
 * deadline. */
int64_t hookd_daemon_drain_ms(const hookd_config *cfg)
{
    int64_t ms = 0;
    for (size_t i = 0; i < cfg->nplugins; i++)
        if (cfg->plugins[i].timeout_ms > ms)
            ms = cfg->plugins[i].timeout_ms;
    return ms + 5000;
}

void hookd_daemon_tls_in_use(const hookd_tls_cert_info *info, const char *prefix)
{
    char desc[400];
    int64_t now = (int64_t)time(NULL);
    hookd_tls_cert_describe(info, now, desc, sizeof desc);
    hookd_metrics_tls_cert_expiry(info->not_after);
    hookd_log(info->not_after <= now ? HOOKD_LOG_WARN : HOOKD_LOG_INFO, "%sTLS %s", prefix, desc);
}

void hookd_daemon_notify_ready(const hookd_config *c)
{
    char status[160];
    snprintf(status, sizeof status, "ready: %zu sources, %zu plugin instances, %zu routes",
             c->nsources, c->nplugins, c->nroutes);
    hookd_notify_ready(status);
}

/* ---------- SIGHUP ---------- */

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
    /* The console read these at start: say so rather than seem to apply
     * a new token. */
    if (str_differs(old->admin_token, nw->admin_token)) {
        note(changed, cap, "admin.token");
        swap_str(&old->admin_token, &nw->admin_token);
    }
    if (old->admin_console != nw->admin_console) {
        note(changed, cap, "admin.console");
        nw->admin_console = old->admin_console;
    }
    if (str_differs(old->admin_console_dir, nw->admin_console_dir)) {
        note(changed, cap, "admin.console_dir");
        swap_str(&old->admin_console_dir, &nw->admin_console_dir);
    }
    if (str_differs(old->spool_path, nw->spool_path)) {
        note(changed, cap, "spool.path");
        swap_str(&old->spool_path, &nw->spool_path);
    }
    if (old->spool_sync_full != nw->spool_sync_full) {
        note(changed, cap, "spool.sync");
        nw->spool_sync_full = old->spool_sync_full;
    }
    /* The spool's store and this node's place in a cluster are opened once. */
    if (strcmp(old->spool_driver, nw->spool_driver) != 0) {
        note(changed, cap, "spool.driver");
        nw->spool_driver = old->spool_driver;
    }
    if (str_differs(old->spool_conninfo, nw->spool_conninfo)) {
        note(changed, cap, "spool.conninfo");
        swap_str(&old->spool_conninfo, &nw->spool_conninfo);
    }
    if (str_differs(old->spool_node, nw->spool_node)) {
        note(changed, cap, "spool.node");
        swap_str(&old->spool_node, &nw->spool_node);
    }
    if (old->spool_lease_ms != nw->spool_lease_ms) {
        note(changed, cap, "spool.lease");
        nw->spool_lease_ms = old->spool_lease_ms;
    }
    if (old->spool_pool != nw->spool_pool) {
        note(changed, cap, "spool.pool");
        nw->spool_pool = old->spool_pool;
    }
    if (old->workers != nw->workers) {
        note(changed, cap, "dispatch.workers");
        nw->workers = old->workers;
    }
    if (hookd_ctct_cfg_differs(&old->ctct, &nw->ctct))
        note(changed, cap, "ctct"); /* the client keeps its own copy */
}

static void reload_done(daemon_state *d, int ok)
{
    hookd_metrics_reloaded(ok);
    hookd_daemon_notify_ready(d->rt->cfg);
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
        hookd_daemon_tls_in_use(&d->new_tls_info, "reload: ");
    } else if (d->tls_err[0]) {
        hookd_log(HOOKD_LOG_WARN, "reload: %s; keeping the running certificate", d->tls_err);
    }
    char changed[256];
    keep_restart_only(d->rt->cfg, cfg, tls_loaded, changed, sizeof changed);
    if (changed[0])
        hookd_log(HOOKD_LOG_WARN, "reload: %s changed: that needs a restart; keeping the "
                                  "running value (the rest is applied)", changed);
    hookd_runtime *old = d->rt;
    rt->last = old->last; /* released like the first: on the loop thread */
    rt->last_ud = old->last_ud;
    d->rt = rt;
    /* Everything that reads the configuration per request or per event. */
    d->recv.rt = rt;
    d->recv.queue_max = cfg->queue_max;
    hookd_server_set_config(d->server, cfg);
    hookd_admin_set_runtime(d->admin, rt);
    hookd_spool_set_runtime(d->spool, rt);
    hookd_config_metrics(cfg, 1);
    hookd_log_setup(cfg->log_level, cfg->log_json);
    if (hookd_daemon_drain_ms(cfg) > d->drain_ms)
        d->drain_ms = hookd_daemon_drain_ms(cfg);
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

void hookd_daemon_reload_watch(daemon_state *d)
{
    uv_signal_init(&d->loop, &d->sighup);
    d->sighup.data = d;
    uv_signal_start(&d->sighup, on_sighup, SIGHUP);
    uv_async_init(&d->loop, &d->built, on_built);
    d->built.data = d;
}

void hookd_daemon_reload_close(daemon_state *d)
{
    uv_close((uv_handle_t *)&d->sighup, NULL);
    d->server_stopped = 1;
    if (!d->building) /* else on_built closes it, once the builder has ended */
        uv_close((uv_handle_t *)&d->built, NULL);
}

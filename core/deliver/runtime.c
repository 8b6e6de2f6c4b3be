/* runtime: plugin instances, their core-service tables, and routing. */
#include "runtime.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "verify/jwks_fetch.h"
#include "base/log.h"
#include "template.h"
#include "verify/verify.h"

static void api_log(const hookd_api *api, int level, const char *fmt, ...)
{
    hookd_logctx ctx = {.plugin = api->instance_name};
    va_list ap;
    va_start(ap, fmt);
    hookd_vlogx(level, &ctx, fmt, ap);
    va_end(ap);
}

static hookd_template *api_template_compile(const hookd_api *api, const char *src,
                                            char *err, size_t errlen)
{
    (void)api;
    return hookd_template_compile(src, err, errlen);
}

static void api_free(void *p) { free(p); }


static void fill_api(hookd_api *api, hookd_instance *in)
{
    memset(api, 0, sizeof *api);
    api->struct_size = sizeof *api;
    api->host = in;
    api->instance_name = in->cfg->name;
    api->log = api_log;
    api->monotonic_ms = hookd_monotonic_ms;
    api->header = hookd_event_header;
    api->template_compile = api_template_compile;
    api->template_render = hookd_template_render;
    api->template_free = hookd_template_free;
    api->free = api_free;
    api->event_json = hookd_event_json;
    api->sign = hookd_sign_named;
}

/* Each ctct-jws scheme's key set holder: what a file or the kept copy
 * holds is read now; the network is read by hookd_runtime_start's threads. */
static int build_keysets(hookd_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nsources; i++) {
        hookd_source_cfg *s = &cfg->sources[i];
        for (size_t v = 0; v < s->nverify; v++) {
            hookd_verify_cfg *vc = &s->verify[v];
            if (vc->scheme != HOOKD_SCHEME_JWS)
                continue;
            /* Beside the spool: the state directory that survives restarts. */
            size_t n = strlen(cfg->spool_path) + strlen(s->name) + 16;
            char *keep = malloc(n), why[384] = "";
            if (!keep) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            snprintf(keep, n, "%s.%s.jwks.json", cfg->spool_path, s->name);
            hookd_keyset_opts o = {
                .source = s->name, .source_index = (int)i, .url = vc->jwks_url,
                .file = vc->jwks_file, .ca_file = vc->ca_file, .keep_path = keep,
                .refresh_ms = vc->refresh_ms,
            };
            vc->keys = hookd_keyset_new(&o, why, sizeof why);
            free(keep);
            if (!vc->keys) {
                snprintf(err, errlen, "%s:%d:%d: sources[%zu].verify%s: %s", cfg->file,
                         vc->mark.line, vc->mark.col, i, vc->jwks_file ? ".jwks_file" : "",
                         why);
                return -1;
            }
        }
    }
    return 0;
}

static void free_keysets(hookd_config *cfg)
{
    for (size_t i = 0; cfg && i < cfg->nsources; i++)
        for (size_t v = 0; v < cfg->sources[i].nverify; v++) {
            hookd_keyset_free(cfg->sources[i].verify[v].keys);
            cfg->sources[i].verify[v].keys = NULL;
        }
}

int hookd_runtime_start(hookd_runtime *rt)
{
    for (size_t i = 0; i < rt->cfg->nsources; i++)
        for (size_t v = 0; v < rt->cfg->sources[i].nverify; v++) {
            hookd_keyset *ks = rt->cfg->sources[i].verify[v].keys;
            int rc = ks ? hookd_keyset_start(ks) : 0;
            if (rc < 0)
                return rc;
        }
    return 0;
}

hookd_runtime *hookd_runtime_build(hookd_config *cfg, char *err, size_t errlen)
{
    hookd_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        hookd_config_free(cfg);
        return NULL;
    }
    rt->cfg = cfg;
    atomic_init(&rt->refs, 1);
    rt->loader = hookd_loader_new(cfg->plugin_dir);
    rt->instances = calloc(cfg->nplugins ? cfg->nplugins : 1, sizeof *rt->instances);
    if (!rt->loader || !rt->instances) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    rt->ninstances = cfg->nplugins;
    if (build_keysets(cfg, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const hookd_plugin_cfg *pc = &cfg->plugins[i];
        hookd_instance *in = &rt->instances[i];
        in->rt = rt;
        in->cfg = pc;
        char why[512] = "";
        in->plugin = hookd_loader_open(rt->loader, pc->use, why, sizeof why);
        if (!in->plugin) {
            snprintf(err, errlen, "%s:%d:%d: plugins[%zu].use: %s", cfg->file,
                     pc->mark.line, pc->mark.col, i, why);
            goto fail;
        }
        fill_api(&in->api, in);
        why[0] = '\0';
        int rc = in->plugin->init(&in->api, pc->config, &in->inst, why, sizeof why);
        if (rc != 0) {
            snprintf(err, errlen, "%s:%d:%d: plugins[%zu].config: %s: %s", cfg->file,
                     pc->config_mark.line, pc->config_mark.col, i, pc->name,
                     why[0] ? why : "init failed");
            goto fail;
        }
        in->initialised = 1;
    }
    return rt;
fail:
    hookd_runtime_free(rt);
    return NULL;
}

void hookd_runtime_free(hookd_runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->ninstances; i++) {
        hookd_instance *in = &rt->instances[i];
        if (in->initialised)
            in->plugin->destroy(in->inst);
    }
    free(rt->instances);
    hookd_loader_free(rt->loader);
    free_keysets(rt->cfg);
    hookd_config_free(rt->cfg);
    free(rt);
}

hookd_runtime *hookd_runtime_ref(hookd_runtime *rt)
{
    if (rt)
        atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
    return rt;
}

void hookd_runtime_unref(hookd_runtime *rt)
{
    if (!rt || atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (rt->last)
        rt->last(rt->last_ud, rt);
    else
        hookd_runtime_free(rt);
}

const hookd_source_cfg *hookd_runtime_source(const hookd_runtime *rt,
                                             const char *path, size_t len)
{
    for (size_t i = 0; i < rt->cfg->nsources; i++) {
        const hookd_source_cfg *s = &rt->cfg->sources[i];
        if (strlen(s->path) == len && memcmp(s->path, path, len) == 0)
            return s;
    }
    return NULL;
}

size_t hookd_runtime_route(const hookd_runtime *rt, const char *source,
                           const char *type, hookd_instance **out)
{
    const hookd_config *cfg = rt->cfg;
    size_t n = 0;
    /* A small bitmap keeps "each instance once, however many routes name it". */
    unsigned char seen[(cfg->nplugins + 7) / 8 + 1];
    memset(seen, 0, sizeof seen);
    for (size_t r = 0; r < cfg->nroutes; r++) {
        const hookd_route_cfg *rc = &cfg->routes[r];
        if (rc->source && strcmp(rc->source, source) != 0)
            continue;
        int hit = 0;
        for (size_t m = 0; m < rc->nmatch && !hit; m++)
            hit = fnmatch(rc->match[m], type, 0) == 0;
        if (!hit)
            continue;
        for (size_t t = 0; t < rc->nto; t++) {
            size_t k = rc->to[t];
            if (seen[k / 8] & (1u << (k % 8)))
                continue;
            seen[k / 8] |= (unsigned char)(1u << (k % 8));
            out[n++] = &rt->instances[k];
        }
    }
    return n;
}

hookd_instance *hookd_runtime_instance(const hookd_runtime *rt, const char *name)
{
    for (size_t i = 0; i < rt->ninstances; i++)
        if (strcmp(rt->instances[i].cfg->name, name) == 0)
            return &rt->instances[i];
    return NULL;
}

void hookd_runtime_restore_enrichment(const hookd_runtime *rt, hookd_ev *ev, const char *json,
                                      size_t len)
{
    json_t *e = json ? json_loadb(json, len, 0, NULL) : NULL;
    if (e) {
        hookd_ev_set_enrichment(ev, e);
        return;
    }
    const hookd_source_cfg *src = hookd_config_source(rt->cfg, ev->source);
    if (src && src->enrich)
        atomic_store(&ev->enrich, HOOKD_ENRICH_NEEDED);
}

/* check_cli: `hookd check`: the configuration loaded as `run` would load it
 * (every plugin instance initialised, the TLS pair read), then what would
 * run printed: listeners, sources and their schemes, instances, routes. */
#include "cli.h"
#include "deliver/plugin_keys.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctct_cli.h"
#include "net/tls.h"
#include "spool/spool_pg_schema.h"
#include "verify/jwks_fetch.h"
#include "verify/verify.h"

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

int hookd_cmd_check(const hookd_cmdline *cl)
{
    int code = HOOKD_EXIT_OK;
    hookd_runtime *rt = hookd_cli_runtime(cl, &code);
    if (!rt)
        return code;
    const hookd_config *c = rt->cfg;
    int keys = hookd_cli_get(cl, "keys") != NULL;
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
            return HOOKD_EXIT_USAGE;
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
    if (strcmp(c->spool_driver, "postgres") == 0) {
        /* Unreachable now is a warning (the daemon waits and retries); a
         * schema newer than this hookd would stop it at start. */
        char line[512];
        int v = hookd_pg_probe(c->spool_conninfo, line, sizeof line);
        printf("spool: postgres, node %s, lease %lld ms: %s%s\n", c->spool_node,
               (long long)c->spool_lease_ms, v < 0 ? "warning: " : "", line);
        if (v > HOOKD_PG_SCHEMA) {
            fprintf(stderr, "%s: spool: the database has schema %d; this hookd knows %d\n",
                    c->file, v, HOOKD_PG_SCHEMA);
            hookd_runtime_free(rt);
            return HOOKD_EXIT_USAGE;
        }
    } else {
        printf("spool: sqlite %s\n", c->spool_path);
    }
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
        /* From the plugin's own table, so this cannot drift from what it reads. */
        if (keys)
            hookd_plugin_keys_print(stdout, in->plugin, "    ");
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
    return HOOKD_EXIT_OK;
}

/* Configuration, the `plugins:` instances (their retry policy, timeout,
 * concurrency and opaque `config:` block) and the `routes:` that send event
 * types to them (docs/DESIGN.md §4). Part of the loader in config.c. */
#include "config_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const plugin_keys[] = {
    "name", "use", "config", "concurrency", "timeout", "retry", NULL};
static const char *const retry_keys[] = {"attempts", "backoff", "max_backoff",
                                         NULL};

static int load_plugin(hookd_cy *cy, hookd_plugin_cfg *pc, yaml_node_t *n)
{
    int64_t v;
    int r;
    pc->mark = pc->config_mark = hookd_cy_mark(n);
    if (hookd_cy_check_map(cy, n, plugin_keys) < 0)
        return -1;
    if (hookd_cy_req_str(cy, n, "name", &pc->name) < 0)
        return -1;
    if (!hookd_cy_valid_name(pc->name))
        return hookd_cy_fail_key(
            cy, n, "name",
            "invalid name \"%s\" (letters, digits, '.', '_', '-')", pc->name);
    if (hookd_cy_req_str(cy, n, "use", &pc->use) < 0)
        return -1;
    size_t ul = strlen(pc->use);
    if (!(ul > 3 && !strcmp(pc->use + ul - 3, ".so")) && !hookd_cy_valid_name(pc->use))
        return hookd_cy_fail_key(
            cy, n, "use",
            "expected a plugin name or a path ending in .so, got "
            "\"%s\"",
            pc->use);

    yaml_node_t *c = hookd_cy_get(cy, n, "config");
    if (c) {
        size_t old = hookd_cy_push_key(cy, "config");
        pc->config_mark = hookd_cy_mark(c);
        if (hookd_cy_is_null(c))
            pc->config = json_object();
        else if (c->type != YAML_MAPPING_NODE)
            return hookd_cy_fail(cy, c, "expected a mapping");
        else if (!(pc->config = hookd_cy_json(cy, c, 0)))
            return -1;
        hookd_cy_pop(cy, old);
    } else {
        pc->config = json_object();
    }
    if (!pc->config)
        return hookd_cy_fail(cy, n, "out of memory");

    if ((r = hookd_cy_int(cy, n, "concurrency", &v, 1, 1024)) < 0)
        return -1;
    if (r)
        pc->concurrency = (int)v;
    if (hookd_cy_duration(cy, n, "timeout", &pc->timeout_ms, 1, HOOKD_CY_DAY_MS) < 0)
        return -1;

    yaml_node_t *rt;
    if (hookd_cy_map(cy, n, "retry", retry_keys, &rt) < 0)
        return -1;
    if (rt) {
        size_t old = hookd_cy_push_key(cy, "retry");
        if ((r = hookd_cy_int(cy, rt, "attempts", &v, 1, 1000)) < 0)
            return -1;
        if (r)
            pc->retry_attempts = (int)v;
        if (hookd_cy_duration(cy, rt, "backoff", &pc->retry_backoff_ms, 1,
                              30 * HOOKD_CY_DAY_MS) < 0 ||
            (r = hookd_cy_duration(cy, rt, "max_backoff",
                                   &pc->retry_max_backoff_ms, 1, 30 * HOOKD_CY_DAY_MS)) <
                0)
            return -1;
        if (pc->retry_max_backoff_ms < pc->retry_backoff_ms) {
            if (r)
                return hookd_cy_fail_key(cy, rt, "max_backoff",
                                         "is less than backoff");
            pc->retry_max_backoff_ms = pc->retry_backoff_ms;
        }
        hookd_cy_pop(cy, old);
    }
    return 0;
}

int hookd_cy_load_plugins(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root)
{
    yaml_node_t *l;
    size_t n;
    int r = hookd_cy_list(cy, root, "plugins", &l, &n);
    if (r <= 0 || n == 0)
        return r;
    if (!(cfg->plugins = calloc(n, sizeof *cfg->plugins)))
        return hookd_cy_fail(cy, l, "out of memory");
    cfg->nplugins = n;
    for (size_t i = 0; i < n; i++) {
        hookd_plugin_cfg *pc = &cfg->plugins[i];
        pc->concurrency = 4;
        pc->timeout_ms = 10000;
        pc->retry_attempts = 10;
        pc->retry_backoff_ms = 1000;
        pc->retry_max_backoff_ms = 600000;
    }
    for (size_t i = 0; i < n; i++) {
        size_t old = hookd_cy_push_key(cy, "plugins");
        hookd_cy_push_index(cy, i);
        if (load_plugin(cy, &cfg->plugins[i], hookd_cy_item(cy, l, i)) < 0)
            return -1;
        hookd_cy_pop(cy, old);
    }
    for (size_t j = 1; j < n; j++)
        for (size_t i = 0; i < j; i++)
            if (!strcmp(cfg->plugins[i].name, cfg->plugins[j].name))
                return hookd_cy_fail_dup(cy, l, "plugins", i, j, "name",
                                "plugin instance name", cfg->plugins[j].name);
    return 0;
}

/* ---- routes -------------------------------------------------------------- */

static const char *const route_keys[] = {"match", "source", "to", NULL};

static int load_route(hookd_cy *cy, const hookd_config *cfg,
                      hookd_route_cfg *rc, yaml_node_t *n)
{
    char **to = NULL;
    size_t nto = 0;
    yaml_node_t **nodes = NULL;
    int r;
    rc->mark = hookd_cy_mark(n);
    if (hookd_cy_check_map(cy, n, route_keys) < 0)
        return -1;
    if ((r = hookd_cy_strlist(cy, n, "match", &rc->match, &rc->nmatch, NULL)) <=
        0)
        return r < 0 ? -1
                     : hookd_cy_fail(cy, n, "missing required key \"match\"");
    if (hookd_cy_str(cy, n, "source", &rc->source, 0) < 0)
        return -1;
    if (rc->source && !hookd_config_source(cfg, rc->source))
        return hookd_cy_fail_key(cy, n, "source", "unknown source \"%s\"", rc->source);
    if ((r = hookd_cy_strlist(cy, n, "to", &to, &nto, &nodes)) <= 0)
        return r < 0 ? -1 : hookd_cy_fail(cy, n, "missing required key \"to\"");
    r = 0;
    if (!(rc->to = calloc(nto, sizeof *rc->to)))
        r = hookd_cy_fail(cy, n, "out of memory");
    for (size_t k = 0; r == 0 && k < nto; k++) {
        size_t i, d;
        for (i = 0; i < cfg->nplugins; i++)
            if (!strcmp(cfg->plugins[i].name, to[k]))
                break;
        if (i == cfg->nplugins) {
            hookd_cy_push_key(cy, "to");
            r = hookd_cy_fail(cy, nodes[k], "unknown plugin instance \"%s\"",
                              to[k]);
            break;
        }
        for (d = 0; d < rc->nto && rc->to[d] != i; d++)
            ;
        if (d == rc->nto) /* an instance named twice gets the event once */
            rc->to[rc->nto++] = i;
    }
    for (size_t k = 0; k < nto; k++)
        free(to[k]);
    free(to);
    free(nodes);
    return r;
}

int hookd_cy_load_routes(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root)
{
    yaml_node_t *l;
    size_t n;
    int r = hookd_cy_list(cy, root, "routes", &l, &n);
    if (r <= 0 || n == 0)
        return r;
    if (!(cfg->routes = calloc(n, sizeof *cfg->routes)))
        return hookd_cy_fail(cy, l, "out of memory");
    cfg->nroutes = n;
    for (size_t i = 0; i < n; i++) {
        size_t old = hookd_cy_push_key(cy, "routes");
        hookd_cy_push_index(cy, i);
        if (load_route(cy, cfg, &cfg->routes[i], hookd_cy_item(cy, l, i)) < 0)
            return -1;
        hookd_cy_pop(cy, old);
    }
    return 0;
}

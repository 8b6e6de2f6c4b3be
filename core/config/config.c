/* Configuration: the YAML file of docs/DESIGN.md §4, loaded with libyaml's document
 * API so every value keeps its line and column for error messages. The
 * generic node helpers are in config_yaml.c, the sources in config_sources.c,
 * the plugins and routes in config_routes.c. */
#include "config.h"
#include "config_yaml.h"
#include "base/hostport.h"
#include "common/units.h"
#include "ctct/ctct.h"

#include <hookd/plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (4 * 1024 * 1024)
#define MAX_SIZE_T                                                             \
    ((uint64_t)SIZE_MAX < (uint64_t)INT64_MAX ? (int64_t)SIZE_MAX : INT64_MAX)

#ifndef HOOKD_DEFAULT_PLUGIN_DIR
#define HOOKD_DEFAULT_PLUGIN_DIR "./build/plugins"
#endif

/* The default plugin_dir: the build tree's plugins while it exists (the
 * tests and `make run` rely on it), else where `cmake --install` put them. */
static const char *default_plugin_dir(void)
{
#ifdef HOOKD_INSTALL_PLUGIN_DIR
    struct stat st;
    if (stat(HOOKD_DEFAULT_PLUGIN_DIR, &st) != 0 || !S_ISDIR(st.st_mode))
        return HOOKD_INSTALL_PLUGIN_DIR;
#endif
    return HOOKD_DEFAULT_PLUGIN_DIR;
}

/* ---- small checks -------------------------------------------------------- */

/* "host:port" or "[v6]:port", port 0..65535: the grammar the listeners
 * parse (base/hostport). */
static int valid_listen(const char *s) { return hookd_hostport_parse(s, NULL, 0, NULL) == 0; }

/* ---- server, admin, spool, log, dispatch --------------------------------- */

static int load_listen(hookd_cy *cy, yaml_node_t *map, const char *key,
                       char ***list, size_t *n)
{
    yaml_node_t **nodes = NULL;
    int r = hookd_cy_strlist(cy, map, key, list, n, &nodes);
    if (r <= 0)
        return r;
    yaml_node_t *v = hookd_cy_get(cy, map, key);
    for (size_t i = 0; i < *n; i++) {
        if (!valid_listen((*list)[i])) {
            hookd_cy_push_key(cy, key);
            if (v->type == YAML_SEQUENCE_NODE)
                hookd_cy_push_index(cy, i);
            hookd_cy_fail(cy, nodes[i],
                          "expected host:port (like 127.0.0.1:8080 or "
                          "[::1]:8080), got \"%s\"",
                          (*list)[i]);
            free(nodes);
            return -1;
        }
    }
    free(nodes);
    return 1;
}

static const char *const server_keys[] = {
    "listen",          "tls",      "max_body", "max_body_memory", "max_header",
    "max_connections", "timeouts", NULL};
static const char *const tls_keys[] = {"cert", "key", NULL};
static const char *const timeout_keys[] = {"header", "body", "idle", NULL};

static int load_server(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root)
{
    yaml_node_t *srv, *tls, *to;
    int64_t v;
    int r = hookd_cy_map(cy, root, "server", server_keys, &srv);
    if (r <= 0)
        return r;
    size_t old = hookd_cy_push_key(cy, "server");
    if (load_listen(cy, srv, "listen", &cfg->listen, &cfg->nlisten) < 0)
        return -1;
    if (hookd_cy_map(cy, srv, "tls", tls_keys, &tls) < 0)
        return -1;
    if (tls) {
        size_t o2 = hookd_cy_push_key(cy, "tls");
        if (hookd_cy_str(cy, tls, "cert", &cfg->tls_cert, 0) < 0 ||
            hookd_cy_str(cy, tls, "key", &cfg->tls_key, 0) < 0)
            return -1;
        if (!cfg->tls_cert != !cfg->tls_key || !cfg->tls_cert)
            return hookd_cy_fail(cy, tls, "cert and key go together");
        hookd_cy_pop(cy, o2);
    }
    if ((r = hookd_cy_size(cy, srv, "max_body", &v, 1, MAX_SIZE_T)) < 0)
        return -1;
    if (r)
        cfg->max_body = (size_t)v;
    if ((r = hookd_cy_size(cy, srv, "max_body_memory", &v, 1, MAX_SIZE_T)) < 0)
        return -1;
    if (r)
        cfg->max_body_memory = (size_t)v;
    else if (cfg->max_body_memory < cfg->max_body)
        cfg->max_body_memory = cfg->max_body; /* the default never stops a max_body */
    if (cfg->max_body_memory < cfg->max_body)
        return hookd_cy_fail_key(cy, srv, "max_body_memory",
                                 "max_body_memory (%zu B) is less than max_body (%zu B): no "
                                 "body could be read",
                                 cfg->max_body_memory, cfg->max_body);
    if ((r = hookd_cy_size(cy, srv, "max_header", &v, 1, 64LL << 20)) < 0)
        return -1;
    if (r)
        cfg->max_header = (size_t)v;
    if ((r = hookd_cy_int(cy, srv, "max_connections", &v, 1, 1000000)) < 0)
        return -1;
    if (r)
        cfg->max_connections = (int)v;
    if (hookd_cy_map(cy, srv, "timeouts", timeout_keys, &to) < 0)
        return -1;
    if (to) {
        size_t o2 = hookd_cy_push_key(cy, "timeouts");
        if (hookd_cy_duration(cy, to, "header", &cfg->header_timeout_ms, 1,
                              HOOKD_CY_DAY_MS) < 0 ||
            hookd_cy_duration(cy, to, "body", &cfg->body_timeout_ms, 1,
                              HOOKD_CY_DAY_MS) < 0 ||
            hookd_cy_duration(cy, to, "idle", &cfg->idle_timeout_ms, 1,
                              HOOKD_CY_DAY_MS) < 0)
            return -1;
        hookd_cy_pop(cy, o2);
    }
    hookd_cy_pop(cy, old);
    return 0;
}

static const char *const admin_keys[] = {"listen", "token", "console", "console_dir", NULL};
static const char *const spool_keys[] = {"driver", "path", "sync", "retention", "conninfo",
                                         "node", "lease", "pool", NULL};
static const char *const log_keys[] = {"level", "format", NULL};
static const char *const dispatch_keys[] = {"workers", "queue", NULL};

/* The keys of spool.driver: postgres (docs/DESIGN.md §11). The conninfo
 * holds a password: no message here repeats it. */
static int load_spool_pg(hookd_cy *cy, hookd_config *cfg, yaml_node_t *m)
{
    int pg = strcmp(cfg->spool_driver, "postgres") == 0;
    int64_t v;
    int r;
    if ((r = hookd_cy_str(cy, m, "conninfo", &cfg->spool_conninfo, 0)) < 0)
        return -1;
    if (r && !pg)
        return hookd_cy_fail_key(cy, m, "conninfo",
                                 "only with driver: postgres (this spool is SQLite)");
    if (!r && pg)
        return hookd_cy_fail(cy, m, "missing required key \"conninfo\" (driver: postgres)");
    if ((r = hookd_cy_str(cy, m, "node", &cfg->spool_node, 0)) < 0)
        return -1;
    if (r && !hookd_cy_valid_name(cfg->spool_node))
        return hookd_cy_fail_key(cy, m, "node", "expected a name (letters, digits, _ . -), "
                                 "got \"%s\"", cfg->spool_node);
    if (hookd_cy_duration(cy, m, "lease", &cfg->spool_lease_ms, 1000, 3600 * 1000) < 0)
        return -1;
    /* At least 2: the PostgreSQL driver commits on one connection and
     * claims and LISTENs on another (core/spool/spool_pg.h). */
    if ((r = hookd_cy_int(cy, m, "pool", &v, 2, 64)) < 0)
        return -1;
    if (r)
        cfg->spool_pool = (int)v;
    if (pg && !cfg->spool_node) {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            snprintf(host, sizeof host, "hookd");
        if (hookd_cy_set_str(&cfg->spool_node, host) < 0)
            return hookd_cy_fail(cy, m, "out of memory");
    }
    return 0;
}

/* admin.token, admin.console, admin.console_dir (docs/DESIGN.md §12). The
 * token is a secret: no message repeats it. */
static int load_admin_console(hookd_cy *cy, hookd_config *cfg, yaml_node_t *m)
{
    static const char *const bools[] = {"false", "true", NULL};
    int r, e;
    if (hookd_cy_str(cy, m, "token", &cfg->admin_token, HOOKD_CY_EMPTY_OK) < 0)
        return -1;
    if (cfg->admin_token && !cfg->admin_token[0]) {
        free(cfg->admin_token); /* "${HOOKD_ADMIN_TOKEN:-}": none, the loopback rule holds */
        cfg->admin_token = NULL;
    }
    if (cfg->admin_token && strlen(cfg->admin_token) < HOOKD_ADMIN_TOKEN_MIN)
        return hookd_cy_fail_key(cy, m, "token", "too short: at least %d characters",
                                 HOOKD_ADMIN_TOKEN_MIN);
    for (const char *t = cfg->admin_token; t && *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
            return hookd_cy_fail_key(cy, m, "token", "only visible ASCII characters, no "
                                     "spaces (it travels in an Authorization header)");
    if ((r = hookd_cy_enum(cy, m, "console", bools, &e)) < 0)
        return -1;
    if (r)
        cfg->admin_console = e;
    if (hookd_cy_str(cy, m, "console_dir", &cfg->admin_console_dir, 0) < 0)
        return -1;
    return 0;
}

static int load_misc(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root)
{
    yaml_node_t *m;
    int64_t v;
    int r, e;

    if (hookd_cy_map(cy, root, "admin", admin_keys, &m) < 0)
        return -1;
    if (m) {
        size_t old = hookd_cy_push_key(cy, "admin");
        if (hookd_cy_str(cy, m, "listen", &cfg->admin_listen, 0) < 0)
            return -1;
        if (!cfg->admin_listen)
            return hookd_cy_fail(cy, m, "missing required key \"listen\"");
        if (!valid_listen(cfg->admin_listen))
            return hookd_cy_fail_key(
                cy, m, "listen",
                "expected host:port (like 127.0.0.1:9090), got "
                "\"%s\"",
                cfg->admin_listen);
        if (load_admin_console(cy, cfg, m) < 0)
            return -1;
        hookd_cy_pop(cy, old);
    }

    if (hookd_cy_map(cy, root, "spool", spool_keys, &m) < 0)
        return -1;
    if (m) {
        static const char *const syncs[] = {"normal", "full", NULL};
        static const char *const drivers[] = {"sqlite", "postgres", NULL};
        size_t old = hookd_cy_push_key(cy, "spool");
        if ((r = hookd_cy_enum(cy, m, "driver", drivers, &e)) < 0)
            return -1;
        if (r)
            cfg->spool_driver = drivers[e];
        if (hookd_cy_str(cy, m, "path", &cfg->spool_path, 0) < 0)
            return -1;
        if ((r = hookd_cy_enum(cy, m, "sync", syncs, &e)) < 0)
            return -1;
        if (r)
            cfg->spool_sync_full = e;
        if (hookd_cy_duration(cy, m, "retention", &cfg->spool_retention_ms, 1,
                              3650 * HOOKD_CY_DAY_MS) < 0)
            return -1;
        if (load_spool_pg(cy, cfg, m) < 0)
            return -1;
        hookd_cy_pop(cy, old);
    }

    if (hookd_cy_map(cy, root, "log", log_keys, &m) < 0)
        return -1;
    if (m) {
        static const char *const levels[] = {"debug", "info", "warn", "error",
                                             NULL};
        static const int level_vals[] = {HOOKD_LOG_DEBUG, HOOKD_LOG_INFO,
                                         HOOKD_LOG_WARN, HOOKD_LOG_ERROR};
        static const char *const formats[] = {"text", "json", NULL};
        size_t old = hookd_cy_push_key(cy, "log");
        if ((r = hookd_cy_enum(cy, m, "level", levels, &e)) < 0)
            return -1;
        if (r)
            cfg->log_level = level_vals[e];
        if ((r = hookd_cy_enum(cy, m, "format", formats, &e)) < 0)
            return -1;
        if (r)
            cfg->log_json = e;
        hookd_cy_pop(cy, old);
    }

    if (hookd_cy_str(cy, root, "plugin_dir", &cfg->plugin_dir, 0) < 0)
        return -1;

    if (hookd_cy_map(cy, root, "dispatch", dispatch_keys, &m) < 0)
        return -1;
    if (m) {
        size_t old = hookd_cy_push_key(cy, "dispatch");
        if ((r = hookd_cy_int(cy, m, "workers", &v, 1, 256)) < 0)
            return -1;
        if (r)
            cfg->workers = (int)v;
        if ((r = hookd_cy_int(cy, m, "queue", &v, 1, 1000000)) < 0)
            return -1;
        if (r)
            cfg->queue_max = (size_t)v;
        hookd_cy_pop(cy, old);
    }
    return 0;
}


/* ---- ctct: the Constant Contact API ------------------------------------- */

static const char *const ctct_keys[] = {
    "api",       "base_url",      "api_key",   "username", "password",
    "client_id", "client_secret", "token_url", "timeout",  NULL};

/* A credential (it goes into a header or a URL): required for this api,
 * refused for the other one, never echoed. */
static int ctct_cred(hookd_cy *cy, yaml_node_t *n, const char *key, char **out,
                     int api, int wanted_api, int basic_user)
{
    if (wanted_api && api != wanted_api) {
        if (hookd_cy_get(cy, n, key))
            return hookd_cy_fail_key(cy, n, key, "only used with api: v%d",
                                     wanted_api);
        return 0;
    }
    int r = hookd_cy_str(cy, n, key, out, 0);
    if (r < 0)
        return -1;
    if (r == 0)
        return hookd_cy_fail(cy, n, "missing required key \"%s\" (api: v%d)",
                             key, api);
    for (const char *p = *out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return hookd_cy_fail_key(cy, n, key,
                                     "must not contain control characters");
    if (basic_user && strchr(*out, ':'))
        return hookd_cy_fail_key(cy, n, key, "must not contain ':'");
    return 0;
}

static int load_ctct(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root)
{
    static const char *const apis[] = {"v2", "v3", NULL};
    hookd_ctct_cfg *cc = &cfg->ctct;
    yaml_node_t *n;
    char why[256], *s = NULL;
    int e, r;
    if (hookd_cy_map(cy, root, "ctct", ctct_keys, &n) < 0)
        return -1;
    if (!n)
        return 0;
    size_t old = hookd_cy_push_key(cy, "ctct");
    cc->present = 1;
    cc->mark = hookd_cy_mark(n);
    cc->api = 2;
    cc->timeout_ms = 10000;
    if ((r = hookd_cy_enum(cy, n, "api", apis, &e)) < 0)
        return -1;
    if (r)
        cc->api = e ? 3 : 2;
    if (ctct_cred(cy, n, "api_key", &cc->api_key, cc->api, 0, 0) < 0 ||
        ctct_cred(cy, n, "username", &cc->username, cc->api, 2, 1) < 0 ||
        ctct_cred(cy, n, "password", &cc->password, cc->api, 2, 0) < 0 ||
        ctct_cred(cy, n, "client_id", &cc->client_id, cc->api, 3, 1) < 0 ||
        ctct_cred(cy, n, "client_secret", &cc->client_secret, cc->api, 3, 0) < 0)
        return -1;
    if ((r = hookd_cy_str(cy, n, "base_url", &s, 0)) < 0)
        return -1;
    if (r) {
        r = hookd_ctct_base_check(s, &cc->base_url, why, sizeof why);
        if (r < 0)
            hookd_cy_fail_key(cy, n, "base_url",
                              "%s: expected http(s)://host[:port] with no path, "
                              "got \"%s\"", why, s);
        free(s);
        if (r < 0)
            return -1;
    } else if (hookd_cy_set_str(&cc->base_url, cc->api == 3 ? HOOKD_CTCT_V3_BASE
                                                   : HOOKD_CTCT_V2_BASE) < 0) {
        return hookd_cy_fail(cy, n, "out of memory");
    }
    if (cc->api == 2 && hookd_cy_get(cy, n, "token_url"))
        return hookd_cy_fail_key(cy, n, "token_url", "only used with api: v3");
    if ((r = hookd_cy_str(cy, n, "token_url", &cc->token_url, 0)) < 0)
        return -1;
    if (r && hookd_ctct_token_url_check(cc->token_url, why, sizeof why) < 0)
        return hookd_cy_fail_key(cy, n, "token_url", "%s, got \"%s\"", why,
                                 cc->token_url);
    if (!r && cc->api == 3 && hookd_cy_set_str(&cc->token_url, HOOKD_CTCT_TOKEN_URL) < 0)
        return hookd_cy_fail(cy, n, "out of memory");
    if (hookd_cy_duration(cy, n, "timeout", &cc->timeout_ms, 1, 3600000) < 0)
        return -1;
    hookd_cy_pop(cy, old);
    return 0;
}

/* enrich: ctct-plan needs the API's credentials. */
static int check_enrich(hookd_cy *cy, const hookd_config *cfg, yaml_node_t *root)
{
    for (size_t i = 0; i < cfg->nsources && !cfg->ctct.present; i++) {
        if (!cfg->sources[i].enrich)
            continue;
        yaml_node_t *l = hookd_cy_get(cy, root, "sources");
        hookd_cy_push_key(cy, "sources");
        hookd_cy_push_index(cy, i);
        return hookd_cy_fail_key(
            cy, hookd_cy_item(cy, l, i), "enrich",
            "source \"%s\" enriches with ctct-plan but there is no ctct: block "
            "(api, api_key and the partner credentials)",
            cfg->sources[i].name);
    }
    return 0;
}

/* ---- entry points -------------------------------------------------------- */

static const char *const top_keys[] = {
    "server",   "admin",   "spool",   "log",    "plugin_dir",
    "dispatch", "sources", "plugins", "routes", "ctct",    NULL};

static hookd_config *new_config(const char *name)
{
    hookd_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->max_body = 1 << 20;
    cfg->max_body_memory = (size_t)64 << 20;
    cfg->max_header = 16 << 10;
    cfg->max_connections = 10000;
    cfg->header_timeout_ms = 10000;
    cfg->body_timeout_ms = 30000;
    cfg->idle_timeout_ms = 60000;
    cfg->spool_driver = "sqlite";
    cfg->admin_console = 1;
    cfg->spool_sync_full = 1;
    cfg->spool_retention_ms = 7 * HOOKD_CY_DAY_MS;
    cfg->spool_lease_ms = 30000;
    cfg->spool_pool = 8;
    cfg->log_level = HOOKD_LOG_INFO;
    cfg->log_json = 1;
    cfg->workers = 4;
    cfg->queue_max = 10000;
    if (!(cfg->file = strdup(name)) ||
        !(cfg->spool_path = strdup("hookd-spool.db")) ||
        !(cfg->plugin_dir = strdup(default_plugin_dir()))) {
        hookd_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static int load_all(hookd_cy *cy, hookd_config *cfg, yaml_node_t *root)
{
    if (!root)
        return hookd_cy_fail(cy, NULL,
                             "the configuration is empty; expected "
                             "a mapping at the top level");
    if (root->type != YAML_MAPPING_NODE)
        return hookd_cy_fail(cy, root, "expected a mapping at the top level");
    if (hookd_cy_check_map(cy, root, top_keys) < 0 ||
        load_server(cy, cfg, root) < 0 || load_misc(cy, cfg, root) < 0 ||
        hookd_cy_load_sources(cy, cfg, root) < 0 || hookd_cy_load_plugins(cy, cfg, root) < 0 ||
        hookd_cy_load_routes(cy, cfg, root) < 0 || load_ctct(cy, cfg, root) < 0 ||
        check_enrich(cy, cfg, root) < 0)
        return -1;
    if (!cfg->listen) {
        if (!(cfg->listen = calloc(1, sizeof *cfg->listen)) ||
            !(cfg->listen[0] = strdup("127.0.0.1:8080")))
            return hookd_cy_fail(cy, root, "out of memory");
        cfg->nlisten = 1;
    }
    return 0;
}

hookd_config *hookd_config_parse(const char *name, const char *text, size_t len,
                                 char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    hookd_config *cfg = NULL;
    if (!name)
        name = "<config>";
    if (err && errlen)
        err[0] = '\0';
    if (!text)
        text = "", len = 0;
    if (len > MAX_FILE) {
        hookd_cy_set_err(err, errlen, "%s: larger than %d MiB", name,
                         MAX_FILE >> 20);
        return NULL;
    }
    if (!yaml_parser_initialize(&parser)) {
        hookd_cy_set_err(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        hookd_cy_syntax_error(&parser, name, text, len, err, errlen);
        yaml_parser_delete(&parser);
        return NULL;
    }
    hookd_cy cy = {.doc = &doc,
                   .file = name,
                   .err = err,
                   .errlen = errlen,
                   .total_left = HOOKD_CY_MAX_TOTAL,
                   .nodes_left = HOOKD_CY_MAX_NODES};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) { /* a second document is refused, not ignored */
        if (!yaml_parser_load(&parser, &extra)) {
            hookd_cy_syntax_error(&parser, name, text, len, err, errlen);
            goto out;
        }
        yaml_node_t *r2 = yaml_document_get_root_node(&extra);
        if (r2)
            hookd_cy_fail(&cy, r2, "only one YAML document is allowed");
        yaml_document_delete(&extra);
        if (r2)
            goto out;
    }
    if (!(cfg = new_config(name))) {
        hookd_cy_set_err(err, errlen, "%s: out of memory", name);
        goto out;
    }
    if (load_all(&cy, cfg, root) < 0) {
        hookd_config_free(cfg);
        cfg = NULL;
    }
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return cfg;
}

hookd_config *hookd_config_load(const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        hookd_cy_set_err(err, errlen, "%s: cannot open: %s", path,
                         strerror(errno));
        return NULL;
    }
    char *text = malloc(MAX_FILE + 1);
    size_t len = 0, got;
    if (!text) {
        fclose(f);
        hookd_cy_set_err(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    while (len <= MAX_FILE &&
           (got = fread(text + len, 1, MAX_FILE + 1 - len, f)) > 0)
        len += got;
    int bad = ferror(f), e = errno;
    fclose(f);
    hookd_config *cfg = NULL;
    if (bad)
        hookd_cy_set_err(err, errlen, "%s: cannot read: %s", path, strerror(e));
    else if (len > MAX_FILE)
        hookd_cy_set_err(err, errlen, "%s: larger than %d MiB", path,
                         MAX_FILE >> 20);
    else
        cfg = hookd_config_parse(path, text, len, err, errlen);
    free(text);
    return cfg;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void hookd_config_free(hookd_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->file);
    free_strv(cfg->listen, cfg->nlisten);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->admin_listen);
    free(cfg->admin_token);
    free(cfg->admin_console_dir);
    free(cfg->spool_path);
    free(cfg->spool_conninfo);
    free(cfg->spool_node);
    free(cfg->plugin_dir);
    for (size_t i = 0; cfg->sources && i < cfg->nsources; i++) {
        hookd_source_cfg *s = &cfg->sources[i];
        free(s->name);
        free(s->path);
        free(s->basic_user);
        free(s->basic_pass);
        for (size_t v = 0; v < s->nverify; v++) {
            hookd_verify_cfg *vc = &s->verify[v];
            free_strv(vc->secrets, vc->nsecrets);
            free(vc->header);
            free(vc->prefix);
            free(vc->jwks_url);
            free(vc->jwks_file);
            free(vc->ca_file);
        }
        free(s->event_type);
        free(s->event_type_header);
        free(s->dedup_arg);
        free(s->enrich);
    }
    free(cfg->sources);
    for (size_t i = 0; cfg->plugins && i < cfg->nplugins; i++) {
        free(cfg->plugins[i].name);
        free(cfg->plugins[i].use);
        json_decref(cfg->plugins[i].config);
    }
    free(cfg->plugins);
    for (size_t i = 0; cfg->routes && i < cfg->nroutes; i++) {
        free_strv(cfg->routes[i].match, cfg->routes[i].nmatch);
        free(cfg->routes[i].source);
        free(cfg->routes[i].to);
    }
    free(cfg->routes);
    hookd_ctct_cfg_clear(&cfg->ctct);
    free(cfg);
}


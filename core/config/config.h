/* Configuration: the YAML file of docs/DESIGN.md §4, loaded with libyaml. */
#ifndef HOOKD_CONFIG_H
#define HOOKD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ctct/ctct_config.h"


typedef enum {
    HOOKD_SCHEME_NONE = 0,
    HOOKD_SCHEME_CTCT,      /* ctct-hmac-sha256 */
    HOOKD_SCHEME_GITHUB,    /* github */
    HOOKD_SCHEME_STRIPE,    /* stripe */
    HOOKD_SCHEME_STDWH,     /* standard-webhooks */
    HOOKD_SCHEME_HMAC,      /* hmac (generic) */
    HOOKD_SCHEME_JWS        /* ctct-jws: Constant Contact v3 (docs/DESIGN.md §10) */
} hookd_scheme;

struct hookd_keyset; /* jwks_fetch.h: the key set a ctct-jws scheme verifies with */

typedef enum { HOOKD_ALG_SHA256 = 0, HOOKD_ALG_SHA512 } hookd_alg;
typedef enum { HOOKD_ENC_HEX = 0, HOOKD_ENC_BASE64 } hookd_enc;

typedef struct hookd_verify_cfg {
    hookd_scheme scheme;
    char **secrets;         /* one or more (rotation); none for scheme none */
    size_t nsecrets;
    int64_t tolerance_ms;   /* stripe, standard-webhooks, ctct-jws (hmac has no timestamp) */
    /* generic hmac only: */
    char *header;           /* header carrying the MAC (required for hmac) */
    hookd_alg algorithm;    /* sha256 (default) or sha512 */
    hookd_enc encoding;     /* hex (default) or base64 */
    char *prefix;           /* e.g. "sha256="; may be NULL */
    /* ctct-jws only: */
    char *jwks_url;         /* default the Constant Contact one; NULL when jwks_file */
    char *jwks_file;        /* a local key set instead of jwks_url */
    char *ca_file;          /* trust for jwks_url; NULL: the system's CAs */
    int64_t refresh_ms;     /* how often the key set is read again; default 1 h */
    struct hookd_keyset *keys; /* made by the runtime, not the loader; NULL in a bare config */
    hookd_mark mark;        /* of this verify entry */
} hookd_verify_cfg;

#define HOOKD_CTCT_JWKS_URL "https://developer.constantcontact.com/.well-known/jwks.json"
#define HOOKD_MAX_VERIFY 4  /* schemes on one source (a migration lists two) */

typedef enum {
    HOOKD_DEDUP_NONE = 0,
    HOOKD_DEDUP_BODY,
    HOOKD_DEDUP_HEADER,
    HOOKD_DEDUP_POINTER
} hookd_dedup_kind;

typedef struct hookd_source_cfg {
    char *name;
    char *path;             /* exact request path, starts with '/' */
    char *basic_user;       /* NULL when no auth.basic */
    char *basic_pass;
    hookd_verify_cfg verify[HOOKD_MAX_VERIFY]; /* verify: one map, or a list */
    size_t nverify;         /* at least 1 */
    char *event_type;       /* a JSON pointer "/event_type", or NULL ... */
    char *event_type_header;/* ... or the header name of "header:X-GitHub-Event" */
    hookd_dedup_kind dedup;
    char *dedup_arg;        /* header name or JSON pointer */
    int64_t dedup_window_ms;
    char *enrich;           /* e.g. "ctct-plan"; NULL when off */
    hookd_mark mark;
} hookd_source_cfg;

typedef struct hookd_plugin_cfg {
    char *name;             /* instance name */
    char *use;              /* plugin name or path ending in .so */
    json_t *config;         /* the config: block as JSON (object; empty if absent) */
    int concurrency;        /* default 4 */
    int64_t timeout_ms;     /* default 10 s */
    int retry_attempts;     /* default 10 */
    int64_t retry_backoff_ms;     /* default 1 s */
    int64_t retry_max_backoff_ms; /* default 10 min */
    hookd_mark mark;        /* of the list item */
    hookd_mark config_mark; /* of the config: value (or the item) */
} hookd_plugin_cfg;

typedef struct hookd_route_cfg {
    char **match;           /* event type globs ("*", "tier.*") */
    size_t nmatch;
    char *source;           /* NULL: any source */
    size_t *to;             /* indices into plugins[] */
    size_t nto;
    hookd_mark mark;
} hookd_route_cfg;

#define HOOKD_ADMIN_TOKEN_MIN 16 /* characters of admin.token */

typedef struct hookd_config {
    char *file;             /* path as given, used in messages */

    /* server */
    char **listen;          /* "host:port", "[::1]:port" */
    size_t nlisten;
    char *tls_cert;         /* both NULL: plain HTTP */
    char *tls_key;
    size_t max_body;        /* default 1 MiB */
    size_t max_body_memory; /* bodies in flight, all connections together; default 64 MiB */
    size_t max_header;      /* default 16 KiB */
    int max_connections;    /* default 10000 */
    int64_t header_timeout_ms; /* default 10 s */
    int64_t body_timeout_ms;   /* default 30 s */
    int64_t idle_timeout_ms;   /* default 60 s */

    char *admin_listen;     /* NULL: no admin listener */
    char *admin_token;      /* the console API's bearer token; NULL: none. Never logged */
    int admin_console;      /* admin.console: serve the console and its API (1, default) */
    char *admin_console_dir;/* serve the console's files from here (development); NULL: embedded */

    const char *spool_driver; /* spool.driver: "sqlite" (default); a literal, never freed */
    char *spool_path;       /* default "hookd-spool.db" */
    int spool_sync_full;    /* sync: full (1, default) | normal (0) */
    int64_t spool_retention_ms; /* default 7 d */
    /* driver postgres only (docs/DESIGN.md §11) */
    char *spool_conninfo;   /* required with postgres; holds a password: never logged */
    char *spool_node;       /* this node's name; default the host name */
    int64_t spool_lease_ms; /* default 30 s */
    int spool_pool;         /* most connections this node opens; default 8 */

    int log_level;          /* HOOKD_LOG_*; default info */
    int log_json;           /* format: json (1, default) | text (0) */

    char *plugin_dir;       /* default "./build/plugins" */

    int workers;            /* dispatch.workers: threads calling deliver(); default 4 */
    size_t queue_max;       /* dispatch.queue: deliveries waiting; default 10000 */

    hookd_source_cfg *sources;
    size_t nsources;
    hookd_plugin_cfg *plugins;
    size_t nplugins;
    hookd_route_cfg *routes;
    size_t nroutes;

    hookd_ctct_cfg ctct;    /* ctct.present 0: no ctct: block */
} hookd_config;

/* Load and validate a file. On error returns NULL and writes one line
 * "file:line:col: path: what is wrong" into err. */
hookd_config *hookd_config_load(const char *path, char *err, size_t errlen);

/* The same from a string in memory (`name` is used in messages). */
hookd_config *hookd_config_parse(const char *name, const char *text, size_t len,
                                 char *err, size_t errlen);

void hookd_config_free(hookd_config *cfg);

/* -c FILE, else ./hookd.yaml, else /etc/hookd/hookd.yaml, else the embedded
 * default (*embedded set). NULL with the reason in err. */
hookd_config *hookd_config_find(const char *path, int *embedded, char *err, size_t errlen);

/* The source named `name`, or NULL. */
const hookd_source_cfg *hookd_config_source(const hookd_config *cfg, const char *name);

/* Counts by this configuration's sources and instances from now on:
 * hookd_metrics_init (reload 0) or hookd_metrics_reload (1). 0 or -1. */
int hookd_config_metrics(const hookd_config *cfg, int reload);

/* The embedded default configuration used when no file exists: plain HTTP
 * on 127.0.0.1:8080, the admin listener and console on 127.0.0.1:9090, a
 * Constant Contact source, the file plugin. */
extern const char hookd_default_config[];

#endif

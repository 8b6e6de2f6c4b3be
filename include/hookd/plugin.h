/* hookd plugin ABI.
 *
 * A plugin is a shared object exporting exactly one symbol:
 *
 *     const hookd_plugin *hookd_plugin_entry(void);
 *
 * It uses no symbol of the daemon: every core service reaches it through the
 * hookd_api table handed to init(). Build it with -fvisibility=hidden and
 * -Wl,-z,defs against this header and jansson alone
 * (pkg-config --cflags --libs hookd-plugin).
 *
 * Minimal plugin:
 *
 *     static const hookd_plugin desc = {
 *         HOOKD_PLUGIN_HEADER,
 *         .name = "hello", .version = "1.0",
 *         .init = my_init, .deliver = my_deliver, .destroy = my_destroy,
 *     };
 *     HOOKD_EXPORT const hookd_plugin *hookd_plugin_entry(void) { return &desc; }
 */
#ifndef HOOKD_PLUGIN_H
#define HOOKD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HOOKD_EXPORT __attribute__((visibility("default")))

#define HOOKD_STR_(x) #x
#define HOOKD_STR(x) HOOKD_STR_(x)

/* What a plugin and the daemon must agree on beyond the ABI numbers: pointer
 * width and the jansson major version whose json_t they share. */
#define HOOKD_BUILD_SIGNATURE                                                  \
    "hookd-abi:" HOOKD_STR(HOOKD_ABI_MAJOR) ";ptr:" HOOKD_STR(                 \
        __SIZEOF_POINTER__) ";jansson:" HOOKD_STR(JANSSON_MAJOR_VERSION)

/* Must open every hookd_plugin initialiser. */
#define HOOKD_PLUGIN_HEADER                                                    \
    .abi_major = HOOKD_ABI_MAJOR, .abi_minor = HOOKD_ABI_MINOR,                \
    .struct_size = (uint32_t)sizeof(hookd_plugin),                             \
    .signature = HOOKD_BUILD_SIGNATURE

/* deliver() results. */
enum {
    HOOKD_OK = 0,    /* done; never delivered again */
    HOOKD_RETRY = 1, /* temporary failure; tried again after a back-off */
    HOOKD_FAIL = 2   /* permanent failure; dead-lettered */
};

/* init() result codes (negative, libuv style). */
#define HOOKD_EINVAL (-22)
#define HOOKD_ENOMEM (-12)
#define HOOKD_EIO (-5)

enum { HOOKD_LOG_DEBUG = 0, HOOKD_LOG_INFO, HOOKD_LOG_WARN, HOOKD_LOG_ERROR };

/* How a template's values are escaped when rendered. */
enum {
    HOOKD_ESC_PLAIN = 0,  /* as is */
    HOOKD_ESC_JSON = 1,   /* inside a JSON string (no surrounding quotes) */
    HOOKD_ESC_URL = 2,    /* a URL component (percent-encoded) */
    HOOKD_ESC_HEADER = 3  /* a header value: CR, LF and NUL never pass */
};

#define HOOKD_REASON_MAX 256

typedef struct hookd_header {
    const char *name;  /* lower case */
    const char *value;
} hookd_header;

/* The event handed to deliver(). Read-only; valid during the call only. */
typedef struct hookd_event {
    const char *id;          /* ULID, 26 characters, time-ordered */
    const char *source;      /* the source's configured name */
    const char *type;        /* event type, e.g. "tier.increase" */
    int64_t received_at_ms;  /* Unix time, milliseconds */
    uint32_t attempt;        /* 1 for the first delivery */
    const char *body;        /* raw body bytes, NUL-terminated for convenience */
    size_t body_len;
    const json_t *json;      /* the parsed body */
    const hookd_header *headers; /* request headers kept with the event */
    size_t nheaders;
    const json_t *enrichment;    /* e.g. {"ctct":{"account_id":..,"plan":{..}}}; may be NULL */
    int64_t deadline_ms;     /* monotonic clock (api->monotonic_ms) */
} hookd_event;

/* Filled by deliver() to explain itself. */
typedef struct hookd_status {
    int64_t retry_after_ms;  /* with HOOKD_RETRY: wanted delay, or -1 for the policy's */
    char reason[HOOKD_REASON_MAX]; /* one line; empty if nothing to say */
} hookd_status;

typedef struct hookd_template hookd_template;
typedef struct hookd_api hookd_api;

/* Core services. One table per plugin instance: `host` identifies the
 * instance to the core (log lines carry the instance name). */
struct hookd_api {
    uint32_t struct_size;   /* sizeof(hookd_api) of the daemon */
    void *host;             /* opaque to the plugin */
    const char *instance_name;

    void (*log)(const hookd_api *api, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    int64_t (*monotonic_ms)(void);

    /* Case-insensitive look-up of a kept request header; NULL if absent. */
    const char *(*header)(const hookd_event *ev, const char *name);

    /* Templates: "{{type}}", "{{id}}", "{{source}}", "{{received_at}}",
     * "{{json./pointer}}", "{{header.Name}}", "{{ctct.account_id}}". Compile
     * once in init() (an unknown name fails there), render per event. */
    hookd_template *(*template_compile)(const hookd_api *api, const char *src,
                                        char *err, size_t errlen);
    /* Returns a malloc'd string (free with api->free) or NULL on no memory. */
    char *(*template_render)(const hookd_template *t, const hookd_event *ev,
                             int escape);
    void (*template_free)(hookd_template *t);
    void (*free)(void *p);

    /* The event as one JSON object: {"id","source","type","received_at",
     * "attempt","body"} with body the parsed JSON, plus "enrichment" when the
     * event has one. A new reference. */
    json_t *(*event_json)(const hookd_event *ev);

    /* ABI 1.1: check HOOKD_API_HAS(api, sign) before use.
     * Signs an outgoing body the way a sender of `scheme` does, so the
     * receiver can verify hookd: "standard-webhooks" (secret "whsec_" +
     * base64; signs id.ts.body), "github", "ctct-hmac-sha256", "stripe"
     * (signs ts.body) or "hmac" (X-Hookd-Signature: <hex>). `id` is
     * the message id, `ts` Unix seconds. Writes header lines "Name: value\n"
     * into out (NUL-terminated); returns their length, or HOOKD_EINVAL for
     * an unknown scheme, a bad secret or an `out` too small. */
    int (*sign)(const char *scheme, const char *secret, const char *body,
                size_t body_len, const char *id, int64_t ts, char *out,
                size_t outlen);
};

/* True if the daemon's table is long enough to hold member m. */
#define HOOKD_API_HAS(api, m)                                                  \
    ((api)->struct_size >= offsetof(hookd_api, m) + sizeof((api)->m))

/* ABI 1.2: a plugin's configuration keys, one row each, so `hookd check` can
 * list them. The in-tree plugins read their config: block with the same
 * table; the core reads name, type, flags, default_text, description and
 * choices only. A table ends with a row whose name is NULL. */
enum {
    HOOKD_CONFIG_STRING = 0, /* a non-empty string without NUL bytes */
    HOOKD_CONFIG_BOOL,       /* true or false */
    HOOKD_CONFIG_INT,        /* a JSON integer */
    HOOKD_CONFIG_DURATION,   /* digits and a unit: "500ms", "10s", "1m", "1h", "1d" */
    HOOKD_CONFIG_SIZE,       /* "64KiB", "1MiB"; a bare number is bytes */
    HOOKD_CONFIG_FILE,       /* a path that must exist (readable, or a directory) */
    HOOKD_CONFIG_TEMPLATE,   /* a string the plugin compiles with template_compile */
    HOOKD_CONFIG_LIST,       /* a list of strings */
    HOOKD_CONFIG_ENUM,       /* one of `choices` */
    HOOKD_CONFIG_MAP,        /* an object whose values are strings */
    HOOKD_CONFIG_JSON        /* any value: the plugin reads it itself */
};

/* hookd_config_key.flags */
#define HOOKD_CONFIG_REQUIRED 0x1u  /* no default: the key must be given */
#define HOOKD_CONFIG_SECRET 0x2u    /* never echoed, wiped when freed */
#define HOOKD_CONFIG_DIR 0x4u       /* FILE: a directory rather than a readable file */
#define HOOKD_CONFIG_NONEMPTY 0x8u  /* LIST: at least one element */

typedef struct hookd_config_key {
    const char *name;
    int type;                   /* HOOKD_CONFIG_* */
    unsigned flags;             /* HOOKD_CONFIG_REQUIRED, ... */
    const char *default_text;   /* as written in a configuration; NULL: none */
    const char *description;    /* one line */
    const char *const *choices; /* ENUM: NULL-terminated */
    /* For the plugin's own reader; the core ignores them. */
    size_t offset;              /* where the value goes in the plugin's settings */
    int64_t min, max;           /* INT, DURATION, SIZE: bounds, both 0 for none */
} hookd_config_key;

typedef struct hookd_plugin {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t struct_size;
    const char *signature;

    const char *name;     /* unique among loaded plugins */
    const char *version;

    /* The thread that builds the configuration: the main thread at start,
     * a thread of its own on a SIGHUP reload (so an init that blocks, say on
     * a database that does not answer, holds no request); never a worker,
     * never the event loop, one init at a time. `config` is the instance's
     * config: block (an object, read-only, may be empty). Return 0 and set
     * *instance, or a negative HOOKD_E* code with a one-line message in err. */
    int (*init)(const hookd_api *api, const json_t *config, void **instance,
                char *err, size_t errlen);
    /* A worker thread; may block until ev->deadline_ms. Called concurrently
     * for one instance up to its configured concurrency. */
    int (*deliver)(void *instance, const hookd_event *ev, hookd_status *st);
    /* Main thread, after every delivery of the instance has ended. */
    void (*destroy)(void *instance);

    /* ABI 1.2: check HOOKD_PLUGIN_HAS(p, config_keys) before use. The keys
     * of the config: block, or NULL. */
    const hookd_config_key *config_keys;
} hookd_plugin;

/* True if the plugin's descriptor is long enough to hold member m. */
#define HOOKD_PLUGIN_HAS(p, m)                                                 \
    ((p)->struct_size >= offsetof(hookd_plugin, m) + sizeof((p)->m))

/* The descriptor of ABI 1.0 and 1.1, the least a loader accepts. */
#define HOOKD_PLUGIN_SIZE_1_0 offsetof(hookd_plugin, config_keys)

typedef const hookd_plugin *(*hookd_plugin_entry_fn)(void);
#define HOOKD_PLUGIN_ENTRY "hookd_plugin_entry"

#ifdef __cplusplus
}
#endif
#endif

/* runtime: a configuration brought to life — plugins loaded, instances
 * initialised, routes resolved. Built whole before it is used, so a bad
 * configuration never replaces a running one. */
#ifndef HOOKD_RUNTIME_H
#define HOOKD_RUNTIME_H

#include <stdatomic.h>
#include <hookd/plugin.h>

#include "config/config.h"
#include "loader.h"

struct hookd_runtime;
struct hookd_ev; /* event.h */

typedef struct hookd_instance {
    struct hookd_runtime *rt; /* the runtime it belongs to (NULL in some tests) */
    const hookd_plugin_cfg *cfg;
    const hookd_plugin *plugin;
    void *inst;               /* what init() gave */
    int initialised;
    hookd_api api;            /* the table handed to this instance */
} hookd_instance;

typedef struct hookd_runtime {
    hookd_config *cfg;        /* owned */
    hookd_loader *loader;
    hookd_instance *instances; /* one per cfg->plugins[i] */
    size_t ninstances;
    /* References: the builder's (the daemon's "current" one), each queued or
     * running job of an instance, each append on its way to the spool, the
     * spool's. A reload drops the daemon's; the last unref calls `last` (any
     * thread) when set, else frees the runtime there and then. */
    atomic_int refs;
    void (*last)(void *ud, struct hookd_runtime *rt);
    void *last_ud;
    struct hookd_runtime *next; /* the daemon's list of retired runtimes */
} hookd_runtime;

/* Takes ownership of cfg (freed on failure too). On failure returns NULL
 * with "file:line:col: path: what is wrong" in err. */
hookd_runtime *hookd_runtime_build(hookd_config *cfg, char *err, size_t errlen);
/* Starts what a running daemon needs beyond the build (the key set
 * threads of ctct-jws sources); not called by hookd check. 0 or -errno. */
int hookd_runtime_start(hookd_runtime *rt);
/* Destroys every instance (plugin destroy(), on the calling thread: the
 * main/loop thread per the ABI) and closes the plugins. Ignores refs. */
void hookd_runtime_free(hookd_runtime *rt);

/* Thread-safe. NULL is ignored. */
hookd_runtime *hookd_runtime_ref(hookd_runtime *rt);
void hookd_runtime_unref(hookd_runtime *rt);

const hookd_source_cfg *hookd_runtime_source(const hookd_runtime *rt,
                                             const char *path, size_t len);

/* The instance of that name, or NULL (a delivery of one no longer
 * configured). */
hookd_instance *hookd_runtime_instance(const hookd_runtime *rt, const char *name);

/* An event read back from a spool: its enrichment as kept (json, len; NULL
 * when none), or marked still to fetch when its source asks for one. */
void hookd_runtime_restore_enrichment(const hookd_runtime *rt, struct hookd_ev *ev,
                                      const char *json, size_t len);

/* The instances that the routes give an event: each at most once, in
 * configuration order. Returns the count (≤ rt->ninstances). */
size_t hookd_runtime_route(const hookd_runtime *rt, const char *source,
                           const char *type, hookd_instance **out);

#endif

/* metrics: counters for the admin listener's /metrics, in the Prometheus
 * text format 0.0.4. Every count is a relaxed C11 atomic in a fixed array
 * indexed by a small id (source, plugin instance, status, reason), so the hot
 * path takes no lock. Before hookd_metrics_init() (and after
 * hookd_metrics_free()) every call is a no-op. */
#ifndef HOOKD_METRICS_H
#define HOOKD_METRICS_H

#include <stddef.h>
#include <stdint.h>


/* Reasons for hookd_verify_failures_total. */
enum {
    HOOKD_MR_BASIC_AUTH = 0, /* Basic credentials missing or wrong */
    HOOKD_MR_MISSING,        /* signature header absent */
    HOOKD_MR_MALFORMED,      /* signature header unparsable */
    HOOKD_MR_MISMATCH,       /* no secret matches */
    HOOKD_MR_EXPIRED,        /* timestamp outside tolerance */
    HOOKD_MR_NO_KEYS,        /* ctct-jws: no key set read yet (answered 503) */
    HOOKD_MR_OTHER,
    HOOKD_MR_COUNT
};

/* The labels of one configuration: its sources and plugin instances.
 * config/ builds it from a configuration (hookd_config_metrics). */
typedef struct hookd_metrics_names {
    const char *const *sources;   /* nsources names */
    const unsigned char *jwks;    /* per source: 1 when it reads a key set (NULL: none) */
    size_t nsources;
    const char *const *instances; /* ninstances names */
    size_t ninstances;
    /* A delivery names its instance by a pointer into this array of
     * ninstances elements of instance_stride bytes (compared as an integer
     * only), or, from an older configuration, by name. */
    const void *instance_base;
    size_t instance_stride;
} hookd_metrics_names;

/* Sizes the per-source and per-instance arrays and copies the names: call
 * before any thread counts, free after they stopped. Returns 0 or -1 (out of
 * memory: metrics stay off). */
int hookd_metrics_init(const hookd_metrics_names *n);
/* Threads may still be counting: it waits out the calls in progress. */
void hookd_metrics_free(void);

/* A reload: the per-source and per-instance series follow cfg from now on;
 * counts carry over by name (a new name starts at 0, a removed one is no
 * longer shown), those still landing in the old series too. The old series
 * are freed once no thread can be counting into them (here, or at a later
 * reload or render). Loop thread; other threads may keep counting. Returns
 * 0 or -1 (out of memory: the old series stay). */
int hookd_metrics_reload(const hookd_metrics_names *n);
/* Tests: how many configurations' series are allocated (the current one
 * and those a reload retired that are not freed yet). */
size_t hookd_metrics_live_sets(void);
/* One SIGHUP reload: ok (1) or failed (0). */
void hookd_metrics_reloaded(int ok);

/* CLOCK_MONOTONIC in microseconds. */
int64_t hookd_metrics_now_us(void);

/* One answer of the webhook listener. src: index into the sources, or -1
 * when no source was found; duration_us < 0: not timed. */
void hookd_metrics_request(int src, int status, int64_t duration_us);
/* One refusal by the Basic or signature check (reason: HOOKD_MR_*). */
void hookd_metrics_verify_failure(int src, int reason);
/* One event stored (not a duplicate). */
void hookd_metrics_event_accepted(int src, const char *type);
/* The events stored since start, every source together (reloads included). */
uint64_t hookd_metrics_events_accepted(void);
/* One delivery attempt of an instance (see hookd_metrics_names: its element
 * of instance_base, and its name); result: HOOKD_OK, HOOKD_RETRY or HOOKD_FAIL. */
void hookd_metrics_delivery(const void *instance, const char *name, int result,
                            int64_t duration_us);
void hookd_metrics_dead_letter(void);
/* One result the PostgreSQL spool did not write: the node's lease on the
 * delivery had passed (docs/DESIGN.md §11). */
void hookd_metrics_lease_lost(void);
/* n claims whose lease had passed, released to the pool by this node. */
void hookd_metrics_leases_expired(uint64_t n);
/* One read of a ctct-jws source's key set: ok (with its key count) or not. */
void hookd_metrics_jwks_read(const char *source, int ok, size_t nkeys);
/* The key count of a set in use that no read counted (the kept copy). */
void hookd_metrics_jwks_keys(const char *source, size_t nkeys);
void hookd_metrics_tls_handshake_failure(void);
/* The webhook listener's certificate in use: its notAfter (Unix seconds),
 * exported as hookd_tls_cert_expiry_seconds (not shown until set). */
void hookd_metrics_tls_cert_expiry(int64_t not_after);

/* Values read at scrape time. */
typedef struct hookd_metrics_gauges {
    uint64_t deliveries_pending;
    uint64_t connections_open;
    uint64_t spool_bytes;
} hookd_metrics_gauges;

/* The whole exposition, malloc'd (NUL-terminated, *len bytes); NULL when out
 * of memory or not initialised. The thread that reloads (the loop). */
char *hookd_metrics_render(const hookd_metrics_gauges *g, size_t *len);

/* Appends v to out as an escaped label value (\\, \", \n); returns the bytes
 * written, or would write (snprintf-like; out may be NULL when cap is 0). */
size_t hookd_metrics_escape(char *out, size_t cap, const char *v);

#endif

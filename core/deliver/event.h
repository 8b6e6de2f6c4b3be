/* Events: what a request becomes once it is verified; shared by every
 * delivery of it, so reference-counted. */
#ifndef HOOKD_EVENT_H
#define HOOKD_EVENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <hookd/plugin.h>

#include "base/clock.h" /* most users of events read the clocks */

#define HOOKD_ID_LEN 26

typedef struct hookd_ev {
    atomic_int refs;
    hookd_event pub;        /* attempt and deadline_ms are set per delivery */
    char id[HOOKD_ID_LEN + 1];
    char *source;
    char *type;
    char *body;             /* NUL-terminated copy */
    json_t *json;
    hookd_header *headers;
    char *hstore;           /* the header strings: "name\0value\0" pairs */
    size_t hsize;           /* bytes in hstore */
    json_t *enrichment;     /* set once, before the first delivery reads it */
    atomic_int enrich;      /* HOOKD_ENRICH_*: whether the source wants it and where it stands */
} hookd_ev;

/* Enrichment of an event (docs/DESIGN.md §8): not wanted, wanted and not fetched
 * yet, being fetched by one worker, or settled (a plan, or a failure noted
 * in the enrichment object; either way deliveries run). */
enum { HOOKD_ENRICH_OFF = 0, HOOKD_ENRICH_NEEDED, HOOKD_ENRICH_FETCHING, HOOKD_ENRICH_DONE };

/* Sets the enrichment (takes the reference) and marks it settled. */
void hookd_ev_set_enrichment(hookd_ev *ev, json_t *enrichment);

/* A new id: a ULID (48-bit ms time, 80 random bits, Crockford base32),
 * strictly increasing within this process. */
void hookd_ulid_new(char out[HOOKD_ID_LEN + 1], int64_t unix_ms);

/* Takes ownership of json. Copies body, strings and the headers
 * (names[i], values[i]). Returns NULL on no memory. */
hookd_ev *hookd_ev_new(const char *source, const char *type, int64_t received_ms,
                       const char *body, size_t body_len, json_t *json,
                       const char *const *names, const char *const *values,
                       size_t nheaders);
/* An event read back from the spool: the same id, headers from a hstore
 * blob. NULL on no memory or a body that is no longer JSON. */
#define HOOKD_EV_MAX_HEADERS 100
hookd_ev *hookd_ev_restore(const char *id, const char *source, const char *type,
                           int64_t received_ms, const char *body, size_t body_len,
                           const char *hblob, size_t hblob_len);
hookd_ev *hookd_ev_ref(hookd_ev *ev);
void hookd_ev_unref(hookd_ev *ev);

#endif

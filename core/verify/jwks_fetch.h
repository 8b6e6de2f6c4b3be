/* jwks_fetch: the key set of a ctct-jws source (docs/DESIGN.md §10), kept current
 * by a thread of its own: read at start and every `refresh`, early (at most
 * once a minute) when a notification names a kid the set lacks; the last
 * good set is kept on disk beside the spool so that a restart without
 * network still verifies. The request path only takes a reference to the
 * current set: one uncontended lock, no I/O. */
#ifndef HOOKD_JWKS_FETCH_H
#define HOOKD_JWKS_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "jws.h"

typedef struct hookd_keyset hookd_keyset;

typedef struct hookd_keyset_opts {
    const char *source;    /* the source's name, for logs and metrics */
    int source_index;      /* for metrics; -1 when none */
    const char *url;       /* jwks_url, or NULL ... */
    const char *file;      /* ... jwks_file */
    const char *ca_file;   /* NULL: the system's CAs */
    const char *keep_path; /* where the last good set from url is kept; NULL: not kept */
    int64_t refresh_ms;
    int64_t timeout_ms;    /* one read; 0: 10 s */
} hookd_keyset_opts;

/* Makes the holder and reads what is at hand without the network: the
 * file (jwks_file; an unreadable or malformed file is an error), or the
 * kept copy of a URL's set (a missing or bad copy is not). No thread yet.
 * NULL with one line in err on failure. */
hookd_keyset *hookd_keyset_new(const hookd_keyset_opts *o, char *err, size_t errlen);

/* Starts the thread that keeps the set current (its first read at once).
 * 0 or a negative errno. */
int hookd_keyset_start(hookd_keyset *ks);

/* Reads the set once, now, on the calling thread (hookd check). 0 when a
 * set was read, -1 with why in err. */
int hookd_keyset_read_now(hookd_keyset *ks, char *err, size_t errlen);

/* The current set with a reference the caller drops (hookd_jwks_unref),
 * or NULL while no set was ever read. Any thread. */
hookd_jwks *hookd_keyset_get(hookd_keyset *ks);

/* A notification named a kid the set lacks: read again soon, unless an
 * early read was asked for less than a minute ago. Any thread; no I/O. */
void hookd_keyset_unknown_kid(hookd_keyset *ks);

/* Where the set comes from ("https://…" or a file path) and how many keys
 * the current one holds (0 when none was read). */
const char *hookd_keyset_origin(const hookd_keyset *ks);
size_t hookd_keyset_nkeys(hookd_keyset *ks);

/* Stops the thread (an exchange under way is cut short) and frees. */
void hookd_keyset_free(hookd_keyset *ks);

#endif

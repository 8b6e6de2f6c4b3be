/* refusals: the last refused requests this process saw (docs/DESIGN.md §12,
 * GET /api/v1/refusals), a bounded ring, and the count of refusals by failed
 * check since start (GET /api/v1/stats). Every path that refuses a request
 * adds one (the webhook listener's own refusals, and the checks of ingest);
 * the admin console reads them. Thread-safe (one mutex, held for a copy).
 * What is added must never hold a secret or an expected MAC: callers pass
 * the one-line reasons their log lines already give. */
#ifndef HOOKD_REFUSALS_H
#define HOOKD_REFUSALS_H

#include <stddef.h>
#include <stdint.h>

#define HOOKD_REFUSALS_KEEP 200  /* entries kept; the oldest is dropped */
#define HOOKD_REFUSALS_CHECKS 24 /* distinct check words counted */

typedef struct hookd_refusal {
    int64_t at_ms;      /* Unix milliseconds */
    char source[64];    /* "" when no source was found */
    char peer[64];      /* "ip:port" or "" */
    int status;
    char check[16];     /* a short word: "auth", "signature", "size", ... */
    char reason[200];   /* one line, cut to fit */
} hookd_refusal;

/* Adds one refusal (now) and counts it under its check. source, peer may be
 * NULL; check NULL counts as "other". */
void hookd_refusal_add(const char *source, const char *peer, int status, const char *check,
                       const char *reason);

/* Copies up to max refusals into out, newest first; returns how many. */
size_t hookd_refusals_recent(hookd_refusal *out, size_t max);

/* The counts since start by check: fills up to max (names point at storage
 * that lives as long as the process), returns how many. */
typedef struct hookd_refusal_count {
    const char *check;
    uint64_t n;
} hookd_refusal_count;
size_t hookd_refusals_counts(hookd_refusal_count *out, size_t max);

/* Tests: forget everything. */
void hookd_refusals_reset(void);

#endif

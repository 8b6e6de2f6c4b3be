/* refusals: a fixed ring under a mutex (see refusals.h). Refusals are rare
 * next to accepted requests and each holds the lock for a short copy. */
#include "refusals.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static hookd_refusal ring[HOOKD_REFUSALS_KEEP];
static size_t head;  /* the next slot written */
static size_t count; /* slots filled, up to HOOKD_REFUSALS_KEEP */
static char check_names[HOOKD_REFUSALS_CHECKS][16];
static uint64_t check_n[HOOKD_REFUSALS_CHECKS];
static size_t nchecks;

/* Copies src into dst (cap bytes), cut, with control bytes as spaces so an
 * entry stays one line whatever a sender put in the reason. */
static void put(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++)
        dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
    dst[i] = '\0';
}

/* Under the lock. Past the table, a check counts as "other" (which then
 * holds the last slot), so names never change once written. */
static void count_check(const char *check)
{
    size_t i = 0;
    while (i < nchecks && strcmp(check_names[i], check) != 0)
        i++;
    if (i == nchecks && nchecks >= HOOKD_REFUSALS_CHECKS - 1) {
        check = "other";
        for (i = 0; i < nchecks && strcmp(check_names[i], check) != 0;)
            i++;
    }
    if (i == nchecks) {
        put(check_names[i], sizeof check_names[i], check);
        nchecks++;
    }
    check_n[i]++;
}

void hookd_refusal_add(const char *source, const char *peer, int status, const char *check,
                       const char *reason)
{
    hookd_refusal e;
    e.at_ms = hookd_now_ms();
    put(e.source, sizeof e.source, source);
    put(e.peer, sizeof e.peer, peer);
    e.status = status;
    put(e.check, sizeof e.check, check && *check ? check : "other");
    put(e.reason, sizeof e.reason, reason);
    pthread_mutex_lock(&lock);
    ring[head] = e;
    head = (head + 1) % HOOKD_REFUSALS_KEEP;
    if (count < HOOKD_REFUSALS_KEEP)
        count++;
    count_check(e.check);
    pthread_mutex_unlock(&lock);
}

size_t hookd_refusals_recent(hookd_refusal *out, size_t max)
{
    pthread_mutex_lock(&lock);
    size_t n = count < max ? count : max;
    for (size_t i = 0; i < n; i++)
        out[i] = ring[(head + HOOKD_REFUSALS_KEEP - 1 - i) % HOOKD_REFUSALS_KEEP];
    pthread_mutex_unlock(&lock);
    return n;
}

size_t hookd_refusals_counts(hookd_refusal_count *out, size_t max)
{
    pthread_mutex_lock(&lock);
    size_t n = nchecks < max ? nchecks : max;
    for (size_t i = 0; i < n; i++) {
        out[i].check = check_names[i]; /* a slot's name never changes once set */
        out[i].n = check_n[i];
    }
    pthread_mutex_unlock(&lock);
    return n;
}

void hookd_refusals_reset(void)
{
    pthread_mutex_lock(&lock);
    head = count = nchecks = 0;
    memset(check_n, 0, sizeof check_n);
    memset(check_names, 0, sizeof check_names);
    pthread_mutex_unlock(&lock);
}

/* curl_pool: libcurl easy handles kept between requests, so that their
 * connections (and DNS and TLS session caches) are reused without a handle
 * ever being used by two threads at once. Shared by the core's Constant
 * Contact client and the forward plugin (each compiles its own copy). */
#ifndef HOOKD_COMMON_CURL_POOL_H
#define HOOKD_COMMON_CURL_POOL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

typedef struct hookd_curl_pool {
    pthread_mutex_t lock; /* the fields below */
    CURL **idle;
    size_t nidle, cap;
    size_t max_idle;      /* handles kept at most; 0: no bound */
} hookd_curl_pool;

void hookd_curl_pool_init(hookd_curl_pool *p, size_t max_idle);

/* Closes the idle handles (and their connections). No handle may be out. */
void hookd_curl_pool_destroy(hookd_curl_pool *p);

/* An idle handle, or a new one; NULL if out of memory. */
CURL *hookd_curl_pool_take(hookd_curl_pool *p);

/* Back into the pool, reset: its options (and credentials) go, its
 * connections stay. Closed instead when the pool is full or out of memory. */
void hookd_curl_pool_give(hookd_curl_pool *p, CURL *h);

#endif

/* curl_pool: see curl_pool.h. */
#include "curl_pool.h"

#include <stdlib.h>

void hookd_curl_pool_init(hookd_curl_pool *p, size_t max_idle)
{
    pthread_mutex_init(&p->lock, NULL);
    p->idle = NULL;
    p->nidle = p->cap = 0;
    p->max_idle = max_idle;
}

void hookd_curl_pool_destroy(hookd_curl_pool *p)
{
    for (size_t i = 0; i < p->nidle; i++)
        curl_easy_cleanup(p->idle[i]);
    free(p->idle);
    p->idle = NULL;
    p->nidle = p->cap = 0;
    pthread_mutex_destroy(&p->lock);
}

CURL *hookd_curl_pool_take(hookd_curl_pool *p)
{
    CURL *h = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->nidle > 0)
        h = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->lock);
    return h ? h : curl_easy_init();
}

void hookd_curl_pool_give(hookd_curl_pool *p, CURL *h)
{
    if (!h)
        return;
    curl_easy_reset(h);
    pthread_mutex_lock(&p->lock);
    if (p->max_idle && p->nidle >= p->max_idle)
        goto close;
    if (p->nidle == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4;
        CURL **n = realloc(p->idle, nc * sizeof *n);
        if (!n)
            goto close;
        p->idle = n;
        p->cap = nc;
    }
    p->idle[p->nidle++] = h;
    pthread_mutex_unlock(&p->lock);
    return;
close:
    pthread_mutex_unlock(&p->lock);
    curl_easy_cleanup(h);
}

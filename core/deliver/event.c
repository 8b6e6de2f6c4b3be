/* event: ids and the shared, reference-counted event. */
#include "event.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t ulid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t ulid_last_ms = -1;
static unsigned char ulid_last_rand[10];

void hookd_ulid_new(char out[HOOKD_ID_LEN + 1], int64_t unix_ms)
{
    unsigned char b[16];
    pthread_mutex_lock(&ulid_lock);
    if (unix_ms <= ulid_last_ms) {
        /* Same (or an earlier) millisecond: keep the order by counting up
         * from the last random part instead of drawing a new one. */
        unix_ms = ulid_last_ms;
        for (int i = 9; i >= 0 && ++ulid_last_rand[i] == 0; i--)
            ;
    } else {
        if (RAND_bytes(ulid_last_rand, sizeof ulid_last_rand) != 1) {
            /* The CSPRNG failing is not a reason to refuse an event: the
             * time and a counter still give unique ids in this process. */
            memset(ulid_last_rand, 0, sizeof ulid_last_rand);
        }
        ulid_last_ms = unix_ms;
    }
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)((uint64_t)unix_ms >> (40 - 8 * i));
    memcpy(b + 6, ulid_last_rand, 10);
    pthread_mutex_unlock(&ulid_lock);

    /* 128 bits -> 26 base32 digits, most significant first (2 leading pad bits). */
    int bit = -2;
    for (int i = 0; i < HOOKD_ID_LEN; i++, bit += 5) {
        unsigned v = 0;
        for (int k = 0; k < 5; k++) {
            int p = bit + k;
            v <<= 1;
            if (p >= 0)
                v |= (b[p / 8] >> (7 - p % 8)) & 1u;
        }
        out[i] = crockford[v];
    }
    out[HOOKD_ID_LEN] = '\0';
}

static hookd_ev *ev_build(const char *id, const char *source, const char *type,
                          int64_t received_ms, const char *body, size_t body_len, json_t *json,
                          const char *const *names, const char *const *values,
                          size_t nheaders)
{
    hookd_ev *ev = calloc(1, sizeof *ev);
    if (!ev)
        goto fail;
    atomic_init(&ev->refs, 1);
    atomic_init(&ev->enrich, HOOKD_ENRICH_OFF);
    ev->json = json;
    json = NULL;
    size_t hsize = 0;
    for (size_t i = 0; i < nheaders; i++)
        hsize += strlen(names[i]) + strlen(values[i]) + 2;
    ev->source = strdup(source);
    ev->type = strdup(type);
    ev->body = malloc(body_len + 1);
    ev->headers = calloc(nheaders ? nheaders : 1, sizeof *ev->headers);
    ev->hstore = malloc(hsize ? hsize : 1);
    if (!ev->source || !ev->type || !ev->body || !ev->headers || !ev->hstore)
        goto fail;
    if (body_len)
        memcpy(ev->body, body, body_len);
    ev->body[body_len] = '\0';
    char *p = ev->hstore;
    for (size_t i = 0; i < nheaders; i++) {
        size_t n = strlen(names[i]) + 1, v = strlen(values[i]) + 1;
        memcpy(p, names[i], n);
        ev->headers[i].name = p;
        p += n;
        memcpy(p, values[i], v);
        ev->headers[i].value = p;
        p += v;
    }
    ev->hsize = hsize;
    if (id)
        snprintf(ev->id, sizeof ev->id, "%s", id);
    else
        hookd_ulid_new(ev->id, received_ms);

    hookd_event *e = &ev->pub;
    e->id = ev->id;
    e->source = ev->source;
    e->type = ev->type;
    e->received_at_ms = received_ms;
    e->attempt = 1;
    e->body = ev->body;
    e->body_len = body_len;
    e->json = ev->json;
    e->headers = ev->headers;
    e->nheaders = nheaders;
    return ev;
fail:
    json_decref(json);
    hookd_ev_unref(ev);
    return NULL;
}

hookd_ev *hookd_ev_new(const char *source, const char *type, int64_t received_ms,
                       const char *body, size_t body_len, json_t *json,
                       const char *const *names, const char *const *values,
                       size_t nheaders)
{
    return ev_build(NULL, source, type, received_ms, body, body_len, json, names, values,
                    nheaders);
}

hookd_ev *hookd_ev_restore(const char *id, const char *source, const char *type,
                           int64_t received_ms, const char *body, size_t body_len,
                           const char *hblob, size_t hblob_len)
{
    const char *names[HOOKD_EV_MAX_HEADERS], *values[HOOKD_EV_MAX_HEADERS];
    size_t n = 0;
    const char *p = hblob, *end = hblob + hblob_len;
    /* The blob is ours, but a damaged file must not walk us off its end. */
    while (p < end && n < HOOKD_EV_MAX_HEADERS) {
        const char *nz = memchr(p, '\0', (size_t)(end - p));
        if (!nz)
            break;
        const char *v = nz + 1;
        const char *vz = v < end ? memchr(v, '\0', (size_t)(end - v)) : NULL;
        if (!vz)
            break;
        names[n] = p;
        values[n++] = v;
        p = vz + 1;
    }
    json_t *json = json_loadb(body, body_len, 0, NULL);
    if (!json)
        return NULL;
    return ev_build(id, source, type, received_ms, body, body_len, json, names, values, n);
}

void hookd_ev_set_enrichment(hookd_ev *ev, json_t *enrichment)
{
    json_decref(ev->enrichment);
    ev->enrichment = enrichment;
    ev->pub.enrichment = enrichment;
    atomic_store(&ev->enrich, HOOKD_ENRICH_DONE);
}

hookd_ev *hookd_ev_ref(hookd_ev *ev)
{
    atomic_fetch_add_explicit(&ev->refs, 1, memory_order_relaxed);
    return ev;
}

void hookd_ev_unref(hookd_ev *ev)
{
    if (!ev || atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(ev->source);
    free(ev->type);
    free(ev->body);
    free(ev->headers);
    free(ev->hstore);
    json_decref(ev->json);
    json_decref(ev->enrichment);
    free(ev);
}

/* ctct_priv: private to the ctct module, whose files are ctct.c (the client),
 * ctct_url.c (URL rules, topic names) and ctct_subs.c (subscription calls):
 * the client's state, the outcome of an API call, and the helpers more than one of them uses. Not part of any other module's API. */
#ifndef HOOKD_CTCT_PRIV_H
#define HOOKD_CTCT_PRIV_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ctct.h"
#include "common/curl_answer.h"
#include "common/curl_pool.h"
#include "common/text.h" /* hookd_say */

#define HOOKD_CTCT_NTOPICS 4L /* topics 1..4: the table in ctct_url.c */

struct hookd_ctct {
    const hookd_ctct_cfg *cfg;
    char *key_query;          /* "api_key=" + the key, percent-encoded (v2) */
    hookd_curl_pool pool;     /* handles between requests */
    pthread_mutex_t tlock;    /* token, renew_at, gen */
    char *token;
    int64_t renew_at;         /* monotonic ms */
    unsigned long gen;        /* counts tokens obtained */
};

typedef struct hookd_ctct_outcome {
    int code;
    long status;
    int from_token;
    int64_t retry_after_ms;
    char why[512];
} hookd_ctct_outcome;


/* A reason fit for a log line: one line, no secret (of c's configuration,
 * nor token). */
void hookd_ctct_clean_reason(const hookd_ctct *c, char *why, const char *token);

/* 408, 429 and 5xx. */
int hookd_ctct_retryable(long status);

/* "what: HTTP 404: first bytes of the answer" */
void hookd_ctct_status_reason(const hookd_curl_answer *a, const char *what, char *why,
                              size_t whylen);

/* One call to the API with this version's credentials; for v3 a 401 renews
 * the token and tries once more. 0 when an answer came (a->status, any; its
 * body at most HOOKD_CTCT_MAX_ANSWER bytes); otherwise the code, with o
 * filled. Release a with hookd_curl_answer_clear. */
int hookd_ctct_api_call(hookd_ctct *c, const char *method, const char *url, const char *body,
                        int64_t deadline_ms, hookd_curl_answer *a, hookd_ctct_outcome *o);

/* The full URL of path under base_url, with ?api_key for v2; NULL if no
 * memory. It may carry the key: release it with hookd_ctct_free_url. */
char *hookd_ctct_api_url(const hookd_ctct *c, const char *path_or_url, int is_url);
void hookd_ctct_free_url(char *u);

#endif

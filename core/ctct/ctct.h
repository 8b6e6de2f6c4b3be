/* ctct: a client of the Constant Contact partner API (docs/DESIGN.md §8)
 * over libcurl: the plan of an account (enrichment, docs/DESIGN.md §8) and the partner
 * webhook subscriptions (`hookd ctct`), for API v2 (Basic auth with the
 * partner username and password, plus ?api_key=KEY) and v3 (x-api-key and a
 * partner token from the OAuth2 client-credentials endpoint, cached and
 * renewed). Thread-safe: one hookd_ctct serves every worker thread. Nothing
 * this module writes into a reason (`why`) ever contains a secret. */
#ifndef HOOKD_CTCT_H
#define HOOKD_CTCT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ctct_config.h"

typedef struct hookd_ctct hookd_ctct;

/* NULL if !cfg->present or no memory; keeps a pointer to cfg, which must
 * outlive the client. */
hookd_ctct *hookd_ctct_new(const hookd_ctct_cfg *cfg);
void hookd_ctct_free(hookd_ctct *c);

enum { HOOKD_CTCT_OK = 0, HOOKD_CTCT_RETRY = 1, HOOKD_CTCT_FAIL = 2 };

#define HOOKD_CTCT_MAX_ANSWER (256 * 1024) /* bytes of an answer body */
#define HOOKD_CTCT_MAX_CALLBACK 512        /* characters of a callback URL */

/* docs/DESIGN.md §8, checked before any credential is sent: https, host
 * api.constantcontact.com or api.cc.email (port absent or 443) -- or exactly
 * the configured base_url's scheme, host and port -- no userinfo, no query or
 * fragment, path /v2|v3/partner/accounts/{id}/plan with id
 * [A-Za-z0-9_-]{1,64}. cfg may be NULL (the real hosts only). 0 if allowed,
 * -1 with a one-line reason in why. */
int hookd_ctct_url_allowed(const hookd_ctct_cfg *cfg, const char *url, char *why,
                           size_t whylen);

/* GET the plan at the payload's url. v2: ?api_key=KEY and Basic auth; v3:
 * x-api-key and Authorization with the partner token (client credentials,
 * cached, renewed 60 s before expires_in runs out and once after a 401).
 * HOOKD_CTCT_OK with *plan a new reference (the answer, a JSON object);
 * HOOKD_CTCT_FAIL for a refused url (nothing sent), 404, another 4xx, or an
 * answer that is not a JSON object; HOOKD_CTCT_RETRY for 5xx, 408, 429,
 * timeouts and connection errors, with *retry_after_ms from Retry-After or -1.
 * deadline_ms is on hookd_monotonic_ms()'s clock (<= 0: none); every request
 * is bounded by it and by cfg->timeout_ms. why: one line, never a secret. */
int hookd_ctct_fetch_plan(hookd_ctct *c, const char *url, int64_t deadline_ms, json_t **plan,
                          int64_t *retry_after_ms, char *why, size_t whylen);

/* The {id} of ".../accounts/{id}" or ".../accounts/{id}/plan" (query and
 * fragment ignored), id being [A-Za-z0-9_-]{1,64}: copies it to out and
 * returns 0; -1 otherwise (or if it does not fit in outlen). */
#define HOOKD_CTCT_ID_MAX 64
int hookd_ctct_account_id(const char *url, char *out, size_t outlen);

/* ---- partner webhook subscriptions ----------------------------------------- */

/* The outcome of a subscription call. */
typedef struct hookd_ctct_result {
    int code;               /* HOOKD_CTCT_OK, _RETRY or _FAIL */
    long status;            /* HTTP status of the answer that decided; 0: none came */
    int from_token;         /* 1: that answer came from the token endpoint (v3) */
    json_t *json;           /* OK: the result (see each call); else the answer, if JSON */
    int64_t retry_after_ms; /* Retry-After of a 429 or 5xx, or -1 */
    char why[512];          /* one line, never a secret; "" when OK */
} hookd_ctct_result;

/* Releases r->json. */
void hookd_ctct_result_clear(hookd_ctct_result *r);

/* Topics 1..4 (docs/DESIGN.md §8): the event type ("tier.increase", ...) and name
 * ("Billing Tier Upgrade", ...) of an id, NULL for another id. */
const char *hookd_ctct_topic_event(long id);
const char *hookd_ctct_topic_name(long id);
/* "1".."4" or an event type -> 1..4; -1 for anything else. */
int hookd_ctct_topic_parse(const char *s);

/* Each call returns r->code. Results, normalised over v2 and v3, are rows
 * {"id": int, "event_type": str|null, "name": str|null, "subscribed": bool,
 *  "callback": str|null}.
 * topics: r->json an array of rows by id (v2: GET topics?subscription_status=ALL;
 *   v3: GET subscriptions, with the known topics that have none as
 *   unsubscribed rows).
 * subscribe: PUT the callback (https, at most 512 characters: anything else is
 *   refused with HOOKD_CTCT_FAIL before a request); r->json the row.
 * unsubscribe: DELETE; r->json the row (subscribed false).
 * test: POST .../test (v2) or .../tests (v3); r->json
 *   {"id", "event_type", "sent": true, "answer": the API's answer or null}. */
int hookd_ctct_topics(hookd_ctct *c, hookd_ctct_result *r);
int hookd_ctct_subscribe(hookd_ctct *c, int topic, const char *callback, hookd_ctct_result *r);
int hookd_ctct_unsubscribe(hookd_ctct *c, int topic, hookd_ctct_result *r);
int hookd_ctct_test(hookd_ctct *c, int topic, hookd_ctct_result *r);

/* A callback URL the subscription API accepts: https://host..., at most 512
 * characters, printable ASCII without spaces. 0 or -1 with why. */
int hookd_ctct_callback_ok(const char *url, char *why, size_t whylen);

/* For the configuration loader: an API base "http(s)://host[:port]" with no
 * path (a single trailing '/' is dropped), no userinfo, query or fragment.
 * *norm gets a malloc'd copy with the scheme and host in lower case. 0, or
 * -1 with why (and *norm NULL; also on no memory, with why "out of memory"). */
int hookd_ctct_base_check(const char *url, char **norm, char *why, size_t whylen);
/* A token endpoint URL: http(s)://host[:port][/path], no userinfo or fragment. */
int hookd_ctct_token_url_check(const char *url, char *why, size_t whylen);
/* A key set URL (verify.jwks_url): https, or http on 127.0.0.1, [::1] or
 * localhost; no userinfo, no fragment. 0 or -1 with why. */
int hookd_ctct_jwks_url_check(const char *url, char *why, size_t whylen);

#endif

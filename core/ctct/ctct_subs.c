/* ctct_subs: the partner webhook subscription calls of the ctct module
 * (`hookd ctct`): list the topics, subscribe, unsubscribe, test. Each is one
 * API call through the client (ctct.c), whose answer, v2 or v3, becomes the
 * same rows (ctct.h); apart from the client because the plan fetch on the
 * delivery path never needs them. */
#include "ctct_priv.h"
#include "common/http_answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- subscriptions ---------------------------------------------------------- */

void hookd_ctct_result_clear(hookd_ctct_result *r)
{
    if (!r)
        return;
    json_decref(r->json);
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
}

/* An id from a JSON integer or a string of digits; -1 otherwise. */
static long json_id(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 && json_integer_value(v) <= 1000000000
                   ? (long)json_integer_value(v)
                   : -1;
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
        return -1;
    return strtol(s, NULL, 10);
}

static const char *str_or_null(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s ? s : NULL;
}

static json_t *row_new(long id, const char *name, int subscribed, const char *callback)
{
    const char *ev = hookd_ctct_topic_event(id);
    if (!name)
        name = hookd_ctct_topic_name(id);
    return json_pack("{s:I, s:o, s:o, s:b, s:o}", "id", (json_int_t)id, "event_type",
                     ev ? json_string(ev) : json_null(), "name",
                     name ? json_string(name) : json_null(), "subscribed", subscribed,
                     "callback", callback ? json_string(callback) : json_null());
}

/* An API item (v2 topic or v3 subscription) as a row; NULL if it has no id. */
static json_t *row_from(const hookd_ctct *c, const json_t *it)
{
    if (c->cfg->api == 2) {
        long id = json_id(json_object_get(it, "id"));
        const char *cb = str_or_null(json_object_get(it, "callback_uri"));
        return id < 0 ? NULL
                      : row_new(id, str_or_null(json_object_get(it, "name")),
                                json_is_true(json_object_get(it, "is_subscribed")), cb);
    }
    long id = json_id(json_object_get(it, "topic_id"));
    const char *cb = str_or_null(json_object_get(it, "hook_uri"));
    return id < 0 ? NULL : row_new(id, str_or_null(json_object_get(it, "topic_name")), !!cb, cb);
}

static int row_cmp(const void *x, const void *y)
{
    json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "id"));
    json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, "id"));
    return a < b ? -1 : a > b;
}

/* Performs method on path; OK when 2xx, with the answer parsed into *ans
 * (NULL for an empty or non-JSON body). Fills r on every outcome. */
static int sub_call(hookd_ctct *c, const char *method, const char *path, const char *body,
                    hookd_ctct_result *r, json_t **ans)
{
    hookd_ctct_outcome o = {.retry_after_ms = -1};
    hookd_curl_answer a = {0};
    *ans = NULL;
    hookd_ctct_result_clear(r);
    char *url = hookd_ctct_api_url(c, path, 0);
    if (!url) {
        hookd_say(r->why, sizeof r->why, "out of memory");
        return r->code = HOOKD_CTCT_RETRY;
    }
    int rc = hookd_ctct_api_call(c, method, url, body, 0, &a, &o);
    hookd_ctct_free_url(url);
    r->status = o.status;
    r->from_token = o.from_token;
    if (rc != 0) {
        r->retry_after_ms = o.retry_after_ms;
        memcpy(r->why, o.why, sizeof r->why);
        hookd_curl_answer_clear(&a);
        return r->code = rc;
    }
    json_t *j = a.body && a.len ? json_loadb(a.body, a.len, JSON_DECODE_ANY, NULL) : NULL;
    if (a.status < 200 || a.status > 299) {
        hookd_ctct_status_reason(&a, NULL, r->why, sizeof r->why);
        hookd_ctct_clean_reason(c, r->why, NULL);
        r->json = j;
        r->code = hookd_ctct_retryable(a.status) ? HOOKD_CTCT_RETRY : HOOKD_CTCT_FAIL;
        if (r->code == HOOKD_CTCT_RETRY)
            r->retry_after_ms = hookd_retry_after_ms(a.retry_after);
        hookd_curl_answer_clear(&a);
        return r->code;
    }
    hookd_curl_answer_clear(&a);
    *ans = j;
    return r->code = HOOKD_CTCT_OK;
}

static int no_memory(hookd_ctct_result *r)
{
    json_decref(r->json);
    r->json = NULL;
    hookd_say(r->why, sizeof r->why, "out of memory");
    return r->code = HOOKD_CTCT_RETRY;
}

static int bad_answer(hookd_ctct_result *r, json_t *ans, const char *what)
{
    json_decref(r->json);
    r->json = ans;
    hookd_say(r->why, sizeof r->why, "unexpected answer (HTTP %ld): %s", r->status, what);
    return r->code = HOOKD_CTCT_FAIL;
}

int hookd_ctct_topics(hookd_ctct *c, hookd_ctct_result *r)
{
    json_t *ans, *it, *rows;
    size_t i;
    const char *path = c->cfg->api == 2 ? "/v2/webhooks/partner/topics?subscription_status=ALL"
                                        : "/v3/partner/webhooks/subscriptions";
    if (sub_call(c, "GET", path, NULL, r, &ans) != HOOKD_CTCT_OK)
        return r->code;
    if (!json_is_array(ans))
        return bad_answer(r, ans, "expected a JSON list");
    if (!(rows = json_array()))
        return json_decref(ans), no_memory(r);
    json_array_foreach(ans, i, it) {
        json_t *row = json_is_object(it) ? row_from(c, it) : NULL;
        if (row && json_array_append_new(rows, row) < 0) {
            json_decref(rows);
            json_decref(ans);
            return no_memory(r);
        }
    }
    json_decref(ans);
    /* v3 lists subscriptions only: the other known topics are unsubscribed. */
    for (long id = 1; c->cfg->api == 3 && id <= HOOKD_CTCT_NTOPICS; id++) {
        json_t *row;
        int seen = 0;
        json_array_foreach(rows, i, row)
            seen |= json_integer_value(json_object_get(row, "id")) == id;
        if (!seen && json_array_append_new(rows, row_new(id, NULL, 0, NULL)) < 0) {
            json_decref(rows);
            return no_memory(r);
        }
    }
    size_t n = json_array_size(rows);
    json_t **v = n ? calloc(n, sizeof *v) : NULL;
    if (n && !v) {
        json_decref(rows);
        return no_memory(r);
    }
    for (i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(rows, i));
    qsort(v, n, sizeof *v, row_cmp);
    json_array_clear(rows);
    for (i = 0; i < n; i++)
        json_array_append_new(rows, v[i]);
    free(v);
    r->json = rows;
    return r->code;
}

static int bad_topic(int topic, hookd_ctct_result *r)
{
    hookd_ctct_result_clear(r);
    hookd_say(r->why, sizeof r->why, "unknown topic %d (expected 1 to %ld)", topic,
                   HOOKD_CTCT_NTOPICS);
    return r->code = HOOKD_CTCT_FAIL;
}

int hookd_ctct_subscribe(hookd_ctct *c, int topic, const char *callback, hookd_ctct_result *r)
{
    char path[128];
    json_t *ans;
    if (!hookd_ctct_topic_event(topic))
        return bad_topic(topic, r);
    hookd_ctct_result_clear(r);
    if (hookd_ctct_callback_ok(callback, r->why, sizeof r->why) < 0)
        return r->code = HOOKD_CTCT_FAIL;
    json_t *req = c->cfg->api == 2 ? json_pack("{s:s, s:b}", "callback_uri", callback,
                                               "is_subscribed", 1)
                                   : json_pack("{s:s}", "hook_uri", callback);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return no_memory(r);
    snprintf(path, sizeof path, c->cfg->api == 2 ? "/v2/webhooks/partner/topics/%d"
                                                 : "/v3/partner/webhooks/subscriptions/%d",
             topic);
    int rc = sub_call(c, "PUT", path, body, r, &ans);
    free(body);
    if (rc != HOOKD_CTCT_OK)
        return rc;
    /* The answer echoes the subscription; what was sent stands in for
     * anything it leaves out. */
    json_t *row = json_is_object(ans) ? row_from(c, ans) : NULL;
    if (row && json_integer_value(json_object_get(row, "id")) != topic) {
        json_decref(row);
        row = NULL;
    }
    if (row && !json_is_string(json_object_get(row, "callback")))
        json_object_set_new(row, "callback", json_string(callback));
    if (row)
        json_object_set_new(row, "subscribed", json_true());
    json_decref(ans);
    if (!row && !(row = row_new(topic, NULL, 1, callback)))
        return no_memory(r);
    r->json = row;
    return r->code;
}

int hookd_ctct_unsubscribe(hookd_ctct *c, int topic, hookd_ctct_result *r)
{
    char path[128];
    json_t *ans;
    if (!hookd_ctct_topic_event(topic))
        return bad_topic(topic, r);
    snprintf(path, sizeof path, c->cfg->api == 2 ? "/v2/webhooks/partner/topics/%d"
                                                 : "/v3/partner/webhooks/subscriptions/%d",
             topic);
    if (sub_call(c, "DELETE", path, NULL, r, &ans) != HOOKD_CTCT_OK)
        return r->code;
    json_decref(ans);
    if (!(r->json = row_new(topic, NULL, 0, NULL)))
        return no_memory(r);
    return r->code;
}

int hookd_ctct_test(hookd_ctct *c, int topic, hookd_ctct_result *r)
{
    char path[128];
    json_t *ans;
    if (!hookd_ctct_topic_event(topic))
        return bad_topic(topic, r);
    snprintf(path, sizeof path,
             c->cfg->api == 2 ? "/v2/webhooks/partner/topics/%d/test"
                              : "/v3/partner/webhooks/subscriptions/%d/tests",
             topic);
    if (sub_call(c, "POST", path, NULL, r, &ans) != HOOKD_CTCT_OK)
        return r->code;
    r->json = json_pack("{s:I, s:s, s:b, s:o}", "id", (json_int_t)topic, "event_type",
                        hookd_ctct_topic_event(topic), "sent", 1, "answer",
                        ans ? ans : json_null());
    if (!r->json)
        return no_memory(r);
    return r->code;
}

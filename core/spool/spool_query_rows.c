/* spool_query_rows: the pieces both drivers of spool_query share (see
 * spool_query_impl.h): the error line, cursors, and the JSON rows, so that
 * SQLite and PostgreSQL answer with the same documents. */
#include "spool_query_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/clock.h"
#include "common/text.h"

int sq_fail(hookd_spool_q *q, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err, sizeof q->err, fmt, ap);
    va_end(ap);
    hookd_one_line(q->err);
    return code;
}

int sq_no_memory(hookd_spool_q *q)
{
    return sq_fail(q, -ENOMEM, "out of memory");
}

char *sq_cursor1(int64_t a)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, a);
    return strdup(buf);
}

char *sq_cursor2(int64_t a, int64_t b)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%" PRId64 ".%" PRId64, a, b);
    return strdup(buf);
}

int64_t sq_minutes_start(int64_t now)
{
    return now - now % 60000 - 59 * 60000;
}

json_t *sq_time(int64_t unix_ms)
{
    char buf[32];
    hookd_format_iso8601_ms(unix_ms, buf);
    return json_string(buf);
}

json_t *sq_time_or_null(const int64_t *unix_ms)
{
    return unix_ms ? sq_time(*unix_ms) : json_null();
}

json_t *sq_text(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

json_t *sq_event_row(const char *id, const char *source, const char *type, int64_t received,
                     int64_t pending, int64_t delivered, int64_t dead)
{
    const char *status = pending ? "pending" : dead ? "dead" : delivered ? "delivered" : "none";
    return json_pack("{s:o, s:o, s:o, s:o, s:s, s:{s:I, s:I, s:I}}", "id", sq_text(id),
                     "source", sq_text(source), "type", sq_text(type), "received_at",
                     sq_time(received), "status", status, "deliveries", "pending",
                     (json_int_t)pending, "delivered", (json_int_t)delivered, "dead",
                     (json_int_t)dead);
}

json_t *sq_dead_row(int64_t delivery, const char *event, const char *source, const char *type,
                    const char *plugin, int64_t attempts, const char *reason, int64_t at)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "delivery",
                     (json_int_t)delivery, "event", sq_text(event), "source", sq_text(source),
                     "type", sq_text(type), "plugin", sq_text(plugin), "attempts",
                     (json_int_t)attempts, "reason", sq_text(reason), "at", sq_time(at));
}

/* "name\0value\0" pairs into an object; a repeated name joins its values
 * with ", " (RFC 9110 5.3). A damaged blob stops at its last whole pair; a
 * name that is not UTF-8 is skipped, a value that is not is null. */
static json_t *headers_json(const char *p, size_t len)
{
    json_t *h = json_object();
    const char *end = p ? p + len : NULL;
    while (h && p && p < end) {
        const char *nz = memchr(p, '\0', (size_t)(end - p));
        const char *v = nz ? nz + 1 : end;
        const char *vz = v < end ? memchr(v, '\0', (size_t)(end - v)) : NULL;
        if (!vz)
            break;
        const char *old = json_string_value(json_object_get(h, p));
        json_t *val = old ? json_sprintf("%s, %s", old, v) : json_string(v);
        json_object_set_new(h, p, val ? val : json_null());
        p = vz + 1;
    }
    return h;
}

/* The body as text when it is UTF-8, else base64. */
static int body_json(json_t *doc, const void *body, size_t len)
{
    json_t *text = json_stringn(len ? body : "", len); /* SQLite: an empty blob is NULL */
    if (text)
        return json_object_set_new(doc, "body", text) ||
               json_object_set_new(doc, "body_base64", json_null());
    if (len > (size_t)INT32_MAX / 2)
        return json_object_set_new(doc, "body", json_null()) ||
               json_object_set_new(doc, "body_base64", json_null());
    char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (!b64)
        return -1;
    EVP_EncodeBlock((unsigned char *)b64, body, (int)len);
    int rc = json_object_set_new(doc, "body", json_null()) ||
             json_object_set_new(doc, "body_base64", json_string(b64));
    free(b64);
    return rc;
}

json_t *sq_event_doc(const char *id, const char *source, const char *type, int64_t received,
                     const void *headers, size_t headers_len, const void *body, size_t body_len,
                     const void *enrichment, size_t enrichment_len)
{
    json_t *enr = enrichment ? json_loadb(enrichment, enrichment_len, 0, NULL) : NULL;
    json_t *doc = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:[]}", "id", sq_text(id),
                            "source", sq_text(source), "type", sq_text(type), "received_at",
                            sq_time(received), "headers", headers_json(headers, headers_len),
                            "enrichment", enr ? enr : json_null(), "deliveries");
    if (doc && body_json(doc, body, body_len) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

json_t *sq_delivery(int64_t id, const char *plugin, const char *state, int64_t attempts,
                    int64_t next_at, int64_t updated_at, const char *reason)
{
    int pending = state && strcmp(state, "pending") == 0;
    return json_pack("{s:I, s:o, s:o, s:I, s:o, s:o, s:o, s:[]}", "id", (json_int_t)id,
                     "plugin", sq_text(plugin), "state", sq_text(state), "attempts",
                     (json_int_t)attempts, "next_at", pending ? sq_time(next_at) : json_null(),
                     "updated_at", sq_time(updated_at), "reason", sq_text(reason), "history");
}

json_t *sq_attempt(int64_t n, int64_t started_at, int64_t duration_ms, const char *result,
                   const char *reason, const int64_t *retry_at)
{
    return json_pack("{s:I, s:o, s:I, s:o, s:o, s:o}", "n", (json_int_t)n, "started_at",
                     sq_time(started_at), "duration_ms", (json_int_t)duration_ms, "result",
                     sq_text(result), "reason", sq_text(reason), "retry_at",
                     sq_time_or_null(retry_at));
}

json_t *sq_stats_doc(int64_t pending, int64_t retrying, int64_t dead, const int64_t *oldest,
                     int64_t start, const int64_t counts[60])
{
    json_t *c = json_array();
    for (int i = 0; c && i < 60; i++)
        if (json_array_append_new(c, json_integer(counts[i])) != 0) {
            json_decref(c);
            c = NULL;
        }
    if (!c)
        return NULL;
    return json_pack("{s:I, s:I, s:I, s:o, s:{}, s:{s:o, s:o}}", "pending", (json_int_t)pending,
                     "retrying", (json_int_t)retrying, "dead", (json_int_t)dead,
                     "oldest_pending_at", sq_time_or_null(oldest), "plugins", "per_minute",
                     "start", sq_time(start), "counts", c);
}

int sq_stats_plugin(json_t *doc, const char *name, const char *key, int64_t v)
{
    json_t *plugins = json_object_get(doc, "plugins");
    json_t *p = json_object_get(plugins, name);
    if (!p) {
        p = json_pack("{s:i, s:i, s:i, s:i, s:i}", "delivered", 0, "pending", 0, "dead", 0,
                      "ok_1h", 0, "failed_1h", 0);
        if (!p || json_object_set_new(plugins, name, p) != 0)
            return -1;
    }
    return json_object_set_new(p, key, json_integer(v));
}

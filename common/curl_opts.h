/* curl_opts: the libcurl options every outbound HTTP(S) request of hookd
 * shares (the Constant Contact client, `hookd send`, the key set reader, the
 * forward plugin), so a safety default (https/http only, no redirects unless
 * asked for, TLS verified) is written once. */
#ifndef HOOKD_CURL_OPTS_H
#define HOOKD_CURL_OPTS_H

#include <curl/curl.h>
#include <stddef.h>

#include "curl_answer.h"

typedef struct hookd_curl_opts {
    const char *url;
    const char *method;           /* NULL: GET */
    const char *body;             /* sent unless GET; NULL: none for DELETE, else empty */
    size_t body_len;              /* not copied: body lives until the perform returns */
    long timeout_ms;              /* the whole exchange (0: none) */
    long connect_timeout_ms;      /* 0: timeout_ms */
    int insecure;                 /* skip TLS verification (only when asked for) */
    const char *ca_file;          /* NULL: the system's CAs */
    int follow;                   /* follow redirects, up to max_redirs; a POST stays a POST */
    long max_redirs;
    int path_as_is;               /* send the path as given: no dot-segment removal */
    const char *user_agent;
    struct curl_slist *headers;
    hookd_curl_answer *answer;    /* collects the answer and curl's error text */
    const char *user, *pass;      /* Basic credentials, or NULL */
} hookd_curl_opts;

/* Sets them on h; the first failure's code (CURLE_OK when all are set). */
CURLcode hookd_curl_setup(CURL *h, const hookd_curl_opts *o);

/* curl_easy_perform, with the answer's status read after it (0 if none). */
CURLcode hookd_curl_perform(CURL *h, hookd_curl_answer *a);

#endif

/* curl_opts: the libcurl options every outbound HTTP(S) request of the core
 * shares (the Constant Contact client, `hookd send`), so a safety default
 * (https/http only, no redirects, TLS verified) is written once. */
#ifndef HOOKD_CURL_OPTS_H
#define HOOKD_CURL_OPTS_H

#include <curl/curl.h>

typedef struct hookd_curl_opts {
    const char *url;
    long timeout_ms;              /* for the connection and for the whole exchange */
    int insecure;                 /* skip TLS verification (only when asked for) */
    const char *ca_file;          /* NULL: the system's CAs */
    const char *user_agent;
    struct curl_slist *headers;
    char *errbuf;                 /* CURL_ERROR_SIZE bytes */
    curl_write_callback on_body, on_header;
    void *ud;                     /* for both callbacks */
    const char *user, *pass;      /* Basic credentials, or NULL */
} hookd_curl_opts;

/* Sets them on h; the first failure's code (CURLE_OK when all are set). */
CURLcode hookd_curl_setup(CURL *h, const hookd_curl_opts *o);

#endif
